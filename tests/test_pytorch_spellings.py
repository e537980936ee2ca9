"""Issue 20 item 4: PyTorch spellings are aliases with the same semantics, and the
numpy spellings keep working."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch

A = np.random.default_rng(3).standard_normal((3, 4))


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "var", "std", "prod",
                                "logsumexp", "argmax", "argmin", "any", "all", "norm"])
def test_spellings_dim_keepdim_equal_axis_keepdims(op):
    x = mg.tensor(A)
    fn = getattr(x, op)
    assert_close(fn(dim=1, keepdim=True), fn(axis=1, keepdims=True).data)
    assert_close(getattr(mg, op)(x, dim=0), fn(axis=0).data)


def test_spellings_dim_and_axis_together_raise():
    with pytest.raises(ValueError, match="sum: give axis= or dim=, not both"):
        mg.tensor(A).sum(axis=0, dim=0)


def test_spellings_softmax_dim_matches_torch():
    th = torch()
    x, t = mg.tensor(A), th.tensor(A)
    F, tF = mg.nn.functional, th.nn.functional
    assert_close(F.log_softmax(x, dim=1), tF.log_softmax(t, dim=1))
    assert_close(F.softmax(x, dim=0), tF.softmax(t, dim=0))
    assert_close(mg.nn.LogSoftmax(dim=0)(x), th.nn.LogSoftmax(dim=0)(t))
    assert mg.nn.Softmax(dim=1).axis == 1
    with pytest.raises(ValueError, match="log_softmax: give axis= or dim=, not both"):
        F.log_softmax(x, axis=1, dim=1)


def test_spellings_clamp_min_max_keywords_match_torch():
    th = torch()
    x, t = mg.tensor(A), th.tensor(A)
    assert_close(x.clamp(min=-0.5), t.clamp(min=-0.5))
    assert_close(x.clamp(max=0.3), t.clamp(max=0.3))
    assert_close(mg.clamp(x, min=-0.5, max=0.3), th.clamp(t, min=-0.5, max=0.3))
    assert_close(x.clamp(-0.5, 0.3), x.clip(-0.5, 0.3).data)


def test_spellings_cat_mm_match_concat_matmul():
    x, y = mg.tensor(A), mg.tensor(A.T)
    assert_close(mg.cat([x, x], dim=1), mg.concat([x, x], axis=1).data)
    assert_close(mg.mm(x, y), (x @ y).data)
    with pytest.raises(ValueError, match="mm: needs two 2-d tensors"):
        mg.mm(x, mg.tensor(np.ones(4)))


def test_spellings_tensor_methods_match_torch():
    th = torch()
    x, t = mg.tensor(A), th.tensor(A, dtype=th.float32)
    y = mg.tensor(A[::-1].copy())
    u = th.tensor(A[::-1].copy(), dtype=th.float32)
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        np.testing.assert_array_equal(getattr(x, name)(y).data, getattr(t, name)(u).numpy())
    assert_close(x.abs().pow(1.5), t.abs().pow(1.5))
    assert_close(x.abs().log1p(), t.abs().log1p())
    assert_close(x.norm(), t.norm())
    assert_close(x.norm(dim=1), t.norm(dim=1))
    assert_close(x.norm(p=1, dim=0), t.norm(p=1, dim=0))
    np.testing.assert_array_equal(x.argmax(dim=1, keepdim=True).data,
                                  t.argmax(dim=1, keepdim=True).numpy())
    assert x.view(4, 3).shape == tuple(t.view(4, 3).shape)
    assert x.view_as(mg.tensor(np.ones((2, 6)))).shape == (2, 6)


def test_spellings_size_is_shape_call_and_count():
    x = mg.tensor(np.ones((2, 3, 4)))
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.size == 24 and x.numel() == 24 and mg.numel(x) == 24
    assert x.size + 1 == 25 and np.zeros(x.size).shape == (24,)
    with pytest.raises(IndexError, match="size: dim 3 is out of range"):
        x.size(3)


def test_spellings_float_double_clone_keep_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and x.float() is x
    c = x.clone()
    assert c.data is not x.data
    (y * 3).sum().backward()
    (c * 2).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, np.array([5.0, 5.0]))


def test_spellings_int_tensor_float_converts():
    t = mg.tensor([1, 2]).float()
    assert t.dtype == np.float32 and t.tolist() == [1.0, 2.0]
