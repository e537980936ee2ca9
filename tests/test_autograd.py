"""Tape semantics, Tensor conventions and the errors of the core."""
import gc
import re
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import reachable


# ----- dtype and construction conventions ---------------------------------------------
def test_tensor_dtype_defaults():
    assert mg.tensor(1.5).dtype == np.float32
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(np.zeros(3)).dtype == np.float32            # float64 array -> float32
    assert mg.tensor(np.zeros(3), dtype=np.float64).dtype == np.float64
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32  # arrays keep it
    assert mg.tensor(np.zeros(3, np.uint8)).dtype == np.uint8
    assert mg.tensor(np.zeros(2), dtype="float64").dtype == np.float64


def test_tensor_from_matching_contiguous_array_shares_memory():
    a = np.zeros((2, 3), dtype=np.float32)
    t = mg.tensor(a)
    assert np.shares_memory(t.data, a)
    assert not np.shares_memory(mg.tensor(a, dtype=np.float64).data, a)


def test_tensor_basic_accessors():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4
    assert isinstance(t.numpy(), np.ndarray) and np.asarray(t) is t.data
    assert mg.tensor(3.0).item() == 3.0
    assert t.T.data.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert "tensor(" in repr(t)


def test_int_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only float tensors can require grad, got int64"):
        mg.tensor([1, 2], requires_grad=True)


def test_mixing_float32_and_float64_raises():
    a = mg.tensor([1.0])
    b = mg.tensor([1.0], dtype=np.float64)
    with pytest.raises(TypeError, match="cannot mix float32 and float64"):
        a + b


def test_scalars_and_int_tensors_adopt_float_dtype():
    a = mg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    assert (a * 2).dtype == np.float64
    assert (a + mg.tensor([1, 2])).dtype == np.float64
    assert (mg.tensor([1, 2]) * mg.tensor([0.5, 0.5])).dtype == np.float32
    assert (np.ones(2) + mg.tensor([1.0, 2.0])).dtype == np.float32


def test_comparisons_have_no_grad():
    a = mg.tensor([1.0, -1.0], requires_grad=True)
    mask = a > 0
    assert mask.dtype == bool and not mask.requires_grad


# ----- backward ------------------------------------------------------------------------
def test_grad_accumulates_over_backward_calls():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_tensor_used_twice_accumulates():
    x = mg.tensor(3.0, requires_grad=True)
    y = x * x * x + x
    y.backward()
    assert x.grad.item() == pytest.approx(28.0)


def test_backward_with_explicit_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.backward(mg.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, -2.0])


def test_backward_non_scalar_without_grad_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only for a scalar output, got shape \\(2,\\)"):
        (x * 2).backward()


def test_backward_grad_of_wrong_shape_raises():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="grad has shape \\(3,\\), expected .*\\(2,\\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_second_backward_raises_unless_retained():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_no_grad_records_nothing():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y._ctx is None
    assert z.requires_grad and z._ctx is not None
    assert mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = mg.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d._ctx is None


def test_tape_order_is_execution_order():
    x = mg.tensor([1.0], requires_grad=True)
    a = x * 2
    b = a.exp()
    c = b + a
    order = [type(fn).__name__ for fn in reachable(c)]
    assert order == ["Add", "Exp", "Mul"]


def test_graph_released_after_backward():
    x = mg.tensor(np.ones(1000), requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y)
    loss = y.sum()
    del y
    assert ref() is not None          # still held by the graph of loss
    loss.backward()
    gc.collect()
    assert ref() is None              # backward released the graph


def test_training_loop_does_not_grow_memory():
    w = mg.tensor(np.random.randn(64, 64), requires_grad=True)
    refs = []
    for _ in range(50):
        h = (mg.tensor(np.random.randn(8, 64)) @ w).tanh()
        refs.append(weakref.ref(h))
        h.mean().backward()
        w.grad = None
    gc.collect()
    assert sum(r() is not None for r in refs) <= 1


# ----- GradientTape --------------------------------------------------------------------
def test_gradient_tape_watch_constant():
    x = mg.tensor(3.0)
    with mg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x).item() == pytest.approx(6.0)
    assert x.grad is None


def test_gradient_tape_sources_list_and_unconnected():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor(0.5, requires_grad=True)
    u = mg.tensor(1.0, requires_grad=True)
    with mg.GradientTape() as tape:
        y = (w * 3 + b).sum()
    gw, gb, gu = tape.gradient(y, [w, b, u])
    np.testing.assert_allclose(gw.data, [3.0, 3.0])
    assert gb.item() == pytest.approx(2.0)
    assert gu is None
    assert w.grad is None  # the tape does not touch .grad


def test_gradient_tape_non_persistent_second_call_raises():
    w = mg.tensor(1.0, requires_grad=True)
    with mg.GradientTape() as tape:
        y = w * w
    tape.gradient(y, w)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(y, w)


def test_gradient_tape_persistent():
    x = mg.tensor(2.0, requires_grad=True)
    with mg.GradientTape(persistent=True) as tape:
        y = x * x
        z = y * y
    assert tape.gradient(z, x).item() == pytest.approx(32.0)
    assert tape.gradient(y, x).item() == pytest.approx(4.0)
    assert tape.gradient(z, y).item() == pytest.approx(8.0)   # an intermediate source


def test_gradient_tape_records_only_inside():
    x = mg.tensor(2.0, requires_grad=True)
    y = x * 3                      # outside: not on the tape
    with mg.GradientTape() as tape:
        z = y * y
    assert len(tape.entries) == 1
    assert tape.gradient(z, y).item() == pytest.approx(12.0)


# ----- custom Function and gradcheck ---------------------------------------------------
class Cube(mg.Function):
    def forward(self, ctx, x):
        ctx.save(x)
        return x ** 3

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy * 3 * x ** 2


class WrongCube(Cube):
    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy * 2 * x ** 2


def test_custom_function_and_gradcheck():
    x = mg.tensor(np.random.randn(5), dtype=np.float64)
    assert mg.gradcheck(Cube.apply, [x])


def test_gradcheck_names_the_worst_element():
    x = mg.tensor([1.0, -2.0, 0.5], dtype=np.float64)
    with pytest.raises(mg.GradcheckError, match=r"input 0 .* element \(1,\)") as info:
        mg.gradcheck(WrongCube.apply, [x])
    # The worst element is the largest |x|; analytic is 2/3 of numeric there.
    analytic, numeric = (float(v) for v in
                         re.search(r"analytic (\S+) vs numeric (\S+)", str(info.value)).groups())
    assert analytic / numeric == pytest.approx(2 / 3, rel=1e-4)


def test_manual_seed_repeats_draws():
    from minigrad.random import get_rng
    mg.manual_seed(5)
    a = get_rng().standard_normal(3)
    mg.manual_seed(5)
    np.testing.assert_array_equal(a, get_rng().standard_normal(3))


# ----- errors of shapes -----------------------------------------------------------------
@pytest.mark.parametrize("fn, message", [
    (lambda: mg.tensor(np.ones((3, 4))) @ mg.tensor(np.ones((5, 2))),
     r"matmul: inner dimensions differ, got a\(3, 4\) @ b\(5, 2\)"),
    (lambda: mg.tensor(np.ones((2, 3))) + mg.tensor(np.ones((4,))), None),
    (lambda: mg.tensor(np.ones(6)).reshape(4, 2), r"reshape: cannot reshape x\(6,\)"),
    (lambda: mg.tensor(np.ones(2)).sum(axis=3), "sum: axis 3 is out of range"),
    (lambda: mg.concat([mg.tensor(np.ones((2, 3))), mg.tensor(np.ones((3, 3)))], axis=1),
     r"concat: cannot join shapes \(2, 3\), \(3, 3\) along axis 1"),
    (lambda: mg.tensor(np.ones((2, 2))).permute(0, 0), "permute: axes"),
])
def test_shape_errors_name_op_and_shapes(fn, message):
    with pytest.raises(ValueError, match=message):
        fn()


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2,3\) \(4,\)"):
        mg.tensor(np.ones((2, 3))) + mg.tensor(np.ones((4,)))


def test_backend_switch_and_errors():
    assert mg.backend.get_backend() in mg.backend.available()
    with mg.backend.use("numpy"):
        assert mg.backend.get_backend() == "numpy"
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        mg.backend.set_backend("cuda")
