"""Function.fresh_grads: a leaf takes a fresh gradient as its .grad without a copy, and
never when something else may hold that array."""
import numpy as np

import minigrad as mg
from minigrad import autograd


def _linear(rng, relu=False):
    x = mg.tensor(rng.standard_normal((6, 5)).astype(np.float32))
    lin = mg.nn.Linear(5, 4, activation="relu" if relu else None)
    return x, lin


def _reference_grads(x, lin, relu):
    """dW, db of sum(activation(x W^T + b) * r) in float64 numpy."""
    w, b = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)
    z = x.data.astype(np.float64) @ w.T + b
    dz = np.ones_like(z) * (z > 0 if relu else 1.0)
    return dz.T @ x.data.astype(np.float64), dz.sum(axis=0)


def test_fresh_grads_linear_grads_match_reference_and_own_memory(rng):
    for relu in (False, True):
        x, lin = _linear(rng, relu)
        lin(x).sum().backward()
        dw, db = _reference_grads(x, lin, relu)
        np.testing.assert_allclose(lin.weight.grad.data, dw, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(lin.bias.grad.data, db, rtol=1e-5, atol=1e-5)
        g = lin.weight.grad.data
        assert g.flags.c_contiguous and g.flags.owndata  # taken, not a view of a copy
        assert not np.shares_memory(g, lin.bias.grad.data)


def test_fresh_grads_shared_weight_accumulates_without_aliasing(rng):
    x, lin = _linear(rng)
    (lin(x).sum() + lin(x * 2.0).sum()).backward()
    dw, db = _reference_grads(x, lin, False)
    np.testing.assert_allclose(lin.weight.grad.data, 3 * dw, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(lin.bias.grad.data, 2 * db, rtol=1e-5, atol=1e-5)


def test_fresh_grads_in_place_edit_of_one_grad_leaves_the_next_backward_alone(rng):
    x, lin = _linear(rng)
    lin(x).sum().backward()
    first = lin.weight.grad.data.copy()
    lin.weight.grad.data *= 0.0  # e.g. clipping in place
    lin.weight.grad = lin.bias.grad = None
    lin(x).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad.data, first)


def test_fresh_grads_not_taken_under_an_observer(rng):
    """explain_backward's observer keeps every gradient it is shown: the leaf must
    get its own copy."""
    x, lin = _linear(rng)
    loss = lin(x).sum()
    shown = []
    autograd.run_backward(autograd.reachable(loss), loss, np.ones((), np.float32),
                          observer=lambda fn, dy, grads: shown.extend(
                              g for g in grads if g is not None))
    dw = next(g for g in shown if g.shape == lin.weight.shape)
    np.testing.assert_array_equal(lin.weight.grad.data, dw)
    assert not np.shares_memory(lin.weight.grad.data, dw)


def test_fresh_grads_default_is_a_copy(rng):
    """An op that sends dy itself (Add) to a leaf: the leaf gets a copy, so editing
    one leaf's .grad in place does not change the other's."""
    a = mg.tensor(np.ones((3,), np.float32), requires_grad=True)
    b = mg.tensor(np.ones((3,), np.float32), requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 5.0
    np.testing.assert_array_equal(b.grad.data, np.ones(3, np.float32))


def test_fresh_grads_weight_grad_is_the_gemm_output(rng, monkeypatch):
    """The point of fresh_grads: dW goes from the GEMM to .grad with no copy."""
    kernels, outs = mg.backend.current(), []
    real = kernels.matmul
    monkeypatch.setattr(kernels, "matmul", lambda *a: outs.append(real(*a)) or outs[-1])
    x, lin = _linear(rng)
    lin(x).sum().backward()
    assert any(lin.weight.grad.data is o for o in outs)
