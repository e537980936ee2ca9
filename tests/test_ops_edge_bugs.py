"""Regression tests for issue 17's gradient bugs at the edges, against PyTorch."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch


def _grads(fn, tfn, *arrays):
    th = torch()
    xs = [mg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    ts = [th.tensor(a, dtype=th.float64, requires_grad=True) for a in arrays]
    y, ty = fn(*xs), tfn(*ts)
    assert_close(y, ty, rtol=1e-12, atol=0)
    y.sum().backward()
    ty.sum().backward()
    return [x.grad.data for x in xs], [t.grad.numpy() for t in ts]


def test_pow_zero_exponent_at_zero_base_has_zero_grad():
    got, want = _grads(lambda x: x ** 0.0, lambda x: x ** 0.0, np.array([0.0, 2.0]))
    assert_close(got[0], want[0], rtol=0, atol=0)
    assert np.isfinite(got[0]).all()


@pytest.mark.parametrize("p", [-0.3, 0.0, 0.7, 2.0], ids=lambda p: f"p{p}")
def test_pow_exponent_grad_at_zero_base_matches_torch(p):
    got, want = _grads(lambda x, y: x ** y, lambda x, y: x ** y,
                       np.array([0.0, 0.5, 2.0]), np.full(3, p))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)  # -inf at base 0 for p < 0, as PyTorch


TORCH_REDUCE = {"max": lambda t, d: t.amax(dim=d), "min": lambda t, d: t.amin(dim=d),
                "var": lambda t, d: t.var(dim=d, correction=0)}


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var", "prod", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1])
def test_reduce_axis_on_0d_tensor_returns_it(op, axis):
    tfn = TORCH_REDUCE.get(op, lambda t, d: getattr(t, op)(dim=d))
    got, want = _grads(lambda x: getattr(x, op)(axis=axis), lambda t: tfn(t, axis),
                       np.array(1.5))
    assert_close(got[0], want[0])


def test_reduce_axis_1_on_0d_tensor_raises():
    with pytest.raises(ValueError, match="sum: axis 1 is out of range"):
        mg.tensor(1.0).sum(axis=1)


@pytest.mark.parametrize("shape, axis, ddof", [((3, 1), 1, 1), ((0, 3), 0, 0),
                                               ((2,), 0, 2), ((2,), 0, 3)],
                         ids=["size1_ddof1", "empty_ddof0", "n_eq_ddof", "n_lt_ddof"])
def test_var_degenerate_ddof_gives_nan_like_torch(shape, axis, ddof):
    th = torch()
    a = np.random.default_rng(0).standard_normal(shape)
    x = mg.tensor(a, dtype=np.float64, requires_grad=True)
    t = th.tensor(a, requires_grad=True)
    y = x.var(axis=axis, ddof=ddof)
    with pytest.warns(UserWarning):
        ty = t.var(dim=axis, correction=ddof)
    assert_close(y, ty, rtol=1e-12, atol=0)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_clip_without_bounds_raises():
    with pytest.raises(ValueError, match="clip: at least one of low"):
        mg.tensor([1.0]).clip()
    with pytest.raises(ValueError, match="clip"):
        mg.clip(mg.tensor([1.0]), None, None)
