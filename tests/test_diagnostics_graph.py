"""to_dot / render and explain_backward on small graphs with known structure."""
import io
import os
import stat

import numpy as np
import pytest

import minigrad as mg
from minigrad.diagnostics import GraphReleasedError, explain_backward, render, to_dot, to_svg


def _graph():
    x = mg.Tensor(np.arange(12.0).reshape(4, 3) / 10, requires_grad=True)
    b = mg.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    x.name, b.name = "x", "b"
    loss = ((x * b + x).tanh()).sum()
    return x, b, loss


def test_to_dot_names_every_op_shape_and_leaf():
    x, b, loss = _graph()
    dot = to_dot(loss)
    assert dot.startswith('digraph "minigrad" {') and dot.rstrip().endswith("}")
    for op in ("Mul", "Add", "Tanh", "Sum"):
        assert dot.count(f'label="{op} #') == 1, op
    assert "x\\n(4, 3) float32\\nleaf, requires_grad" in dot
    assert "b\\n(3,) float32\\nleaf, requires_grad" in dot
    assert "() float32" in dot  # the scalar output
    # 4 op boxes, 2 leaves + 3 intermediates + 1 output; 6 input edges + 4 output edges
    assert dot.count("shape=box") == 4
    assert dot.count("shape=ellipse") == 6
    assert dot.count("->") == 10


def test_to_dot_marks_constants_and_float64():
    w = mg.Tensor(np.ones((2, 2)), requires_grad=True, dtype=np.float64)
    c = mg.Tensor(np.ones((2, 2)), dtype=np.float64)
    dot = to_dot((w @ c).sum())
    assert "const0\\n(2, 2) float64\\nconstant" in dot
    assert "leaf0\\n(2, 2) float64\\nleaf, requires_grad" in dot
    assert "MatMul #" in dot


def test_to_dot_after_backward_says_graph_was_released():
    _, _, loss = _graph()
    loss.backward()
    with pytest.raises(GraphReleasedError, match=r"Sum #\d+ was released.*retain_graph"):
        to_dot(loss)


def test_to_dot_after_retained_backward_still_works():
    _, _, loss = _graph()
    loss.backward(retain_graph=True)
    assert "Tanh #" in to_dot(loss)


def test_to_dot_rejects_non_tensor():
    with pytest.raises(TypeError, match="expected a minigrad Tensor"):
        to_dot(np.ones(3))


def test_render_without_dot_draws_svg_itself_and_names_graphviz_for_png(monkeypatch,
                                                                         tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot program
    _, _, loss = _graph()
    out = render(loss, tmp_path / "g.svg")
    assert out.read_text() == to_svg(loss)
    with pytest.raises(RuntimeError, match="apt install graphviz"):
        render(loss, tmp_path / "g.png")


def test_render_calls_dot_with_format(monkeypatch, tmp_path):
    # A stand-in dot that records its arguments and copies the DOT text to -o.
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _, _, loss = _graph()
    out = render(loss, tmp_path / "g.png")
    assert (tmp_path / "args").read_text().split()[0] == "-Tpng"
    assert out.read_text() == to_dot(loss)
    with pytest.raises(ValueError, match="format must be one of"):
        render(loss, tmp_path / "g.bmp")


def test_explain_backward_matches_backward_and_names_accumulation():
    x, b, loss = _graph()
    lines = explain_backward(loss, file=io.StringIO())
    text = "\n".join(lines)
    ops = [line.split()[1] for line in lines if line.startswith("#")]
    assert ops == ["Sum", "Tanh", "Add", "Mul"]  # the tape, newest first
    assert "rule: dx = dy * (1 - y^2)" in text
    assert "accumulate: x is used 2 times" in text
    assert "un-broadcast: input 1 (b) gets a gradient of shape (4, 3), summed over axes " \
           "(0,) to (3,)" in text
    assert "grad of x (4, 3)" in text and "(sum of 2 paths)" in text
    x2 = mg.Tensor(x.data, requires_grad=True)
    b2 = mg.Tensor(b.data, requires_grad=True)
    ((x2 * b2 + x2).tanh()).sum().backward()
    np.testing.assert_allclose(x.grad.data, x2.grad.data, rtol=1e-6)
    np.testing.assert_allclose(b.grad.data, b2.grad.data, rtol=1e-6)
    assert "Tanh #" in to_dot(loss)  # the graph is kept


def test_explain_backward_leading_axes_and_keepdims_broadcast():
    a = mg.Tensor(np.ones((2, 3, 4)), requires_grad=True)
    c = mg.Tensor(np.ones((3, 1)), requires_grad=True)
    lines = explain_backward((a * c).sum(), file=io.StringIO(), accumulate=False)
    assert any("summed over axes (0, 2) to (3, 1)" in line for line in lines)
    assert a.grad is None and c.grad is None  # accumulate=False writes nothing


def test_explain_backward_custom_function_rule_and_prints(capsys):
    class Cube(mg.Function):
        rule = "dx = 3 x^2 dy"

        def forward(self, ctx, x):
            ctx.save(x)
            return x ** 3

        def backward(self, ctx, dy):
            (x,) = ctx.saved
            return 3 * x * x * dy

    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    explain_backward(Cube.apply(x).sum())
    out = capsys.readouterr().out
    assert "Cube" in out and "rule: dx = 3 x^2 dy" in out
    np.testing.assert_allclose(x.grad.data, [3.0, 12.0])


def test_explain_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        explain_backward(mg.Tensor([1.0]).sum())
    x = mg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="only for a scalar"):
        explain_backward(x * 2, file=io.StringIO())
    with pytest.raises(ValueError, match="grad has shape"):
        explain_backward(x * 2, grad=np.ones(2), file=io.StringIO())
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="released"):
        explain_backward(y, file=io.StringIO())


def test_explain_backward_on_an_mlp_matches_backward_and_knows_every_rule():
    from minigrad import nn
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3, bias=False))
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    nn.functional.cross_entropy(model(x), y).backward()
    expected = {n: p.grad.data.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    lines = explain_backward(loss, file=io.StringIO(), model=model)
    assert any(line.startswith("grad of 0.weight (5, 4)") for line in lines)
    assert any(" Linear     out#" in line and "2.weight(3, 5)" in line for line in lines)
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, expected[n], rtol=1e-5, err_msg=n)
    steps = [line for line in lines if line.startswith("#")]
    assert all("custom backward" not in line for line in steps), steps
    assert sum(" Linear " in line for line in steps) == 2
    dot = to_dot(loss, model=model)
    assert dot.count('label="Linear #') == 2 and "0.weight\\n(5, 4) float32\\nleaf" in dot
    with pytest.raises(TypeError, match="model must be a Module"):
        to_dot(loss, model=[1])
