"""Creation functions (seeded by mg.manual_seed) and the ops without a gradient
(argmax argmin any all argsort isnan isinf isfinite isclose logical_not one_hot),
against PyTorch; plus their argument errors."""
import numpy as np
import pytest

import minigrad as mg
from helpers import torch

A = np.array([[1.5, -2.0, np.nan, 0.0], [np.inf, 3.0, -np.inf, 3.0]])
B = np.random.default_rng(2).standard_normal((3, 5))


@pytest.mark.parametrize("ours, theirs", [
    (lambda: mg.zeros(2, 3), lambda t: t.zeros(2, 3)),
    (lambda: mg.ones((4,)), lambda t: t.ones((4,))),
    (lambda: mg.full((2, 2), 1.5), lambda t: t.full((2, 2), 1.5)),
    (lambda: mg.full((3,), 7), lambda t: t.full((3,), 7)),
    (lambda: mg.eye(3), lambda t: t.eye(3)),
    (lambda: mg.eye(2, 4, dtype=np.float64), lambda t: t.eye(2, 4, dtype=t.float64)),
    (lambda: mg.arange(5), lambda t: t.arange(5)),
    (lambda: mg.arange(1.0, 2.0, 0.25), lambda t: t.arange(1.0, 2.0, 0.25)),
    (lambda: mg.arange(10, 0, -3), lambda t: t.arange(10, 0, -3)),
    (lambda: mg.linspace(-1, 1, 5), lambda t: t.linspace(-1, 1, 5)),
    (lambda: mg.zeros_like(mg.tensor(B)), lambda t: t.zeros_like(t.tensor(B, dtype=t.float32))),
    (lambda: mg.ones_like(mg.tensor([1, 2])), lambda t: t.ones_like(t.tensor([1, 2]))),
    (lambda: mg.full_like(mg.tensor(B, dtype=np.float64), 2.0),
     lambda t: t.full_like(t.tensor(B), 2.0)),
], ids=["zeros", "ones", "full_float", "full_int", "eye", "eye_rect64", "arange_int",
        "arange_float", "arange_neg", "linspace", "zeros_like", "ones_like_int",
        "full_like64"])
def test_creation_matches_torch(ours, theirs):
    t = torch()
    got, want = ours(), theirs(t)
    assert got.shape == tuple(want.shape)
    assert got.dtype == np.dtype(str(want.dtype).replace("torch.", ""))
    np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-6)


def test_creation_empty_and_requires_grad():
    e = mg.empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == np.float32
    assert mg.zeros(2, requires_grad=True).requires_grad
    assert mg.empty_like(mg.tensor(B)).shape == B.shape


@pytest.mark.parametrize("draw", [
    lambda: mg.rand(3, 4), lambda: mg.randn((2, 5), dtype=np.float64),
    lambda: mg.randint(0, 10, (6,)), lambda: mg.randint(5, size=(2, 2)),
    lambda: mg.rand_like(mg.zeros(3)), lambda: mg.randn_like(mg.tensor([1, 2]))],
    ids=["rand", "randn64", "randint", "randint_high_only", "rand_like", "randn_like_int"])
def test_creation_random_repeats_after_manual_seed(draw):
    mg.manual_seed(42)
    a = draw()
    mg.manual_seed(42)
    b = draw()
    np.testing.assert_array_equal(a.data, b.data)
    mg.manual_seed(43)
    assert not np.array_equal(draw().data, a.data) or a.size <= 1


def test_creation_random_distributions():
    mg.manual_seed(0)
    u, n = mg.rand(20000), mg.randn(20000)
    r = mg.randint(3, 7, (20000,))
    assert u.dtype == np.float32 and 0 <= u.data.min() and u.data.max() < 1
    assert abs(n.data.mean()) < 0.03 and abs(n.data.std() - 1) < 0.03
    assert r.dtype == np.int64 and set(np.unique(r.data)) == {3, 4, 5, 6}
    assert mg.randn_like(mg.tensor([1, 2])).dtype == np.float32


@pytest.mark.parametrize("call, match", [
    (lambda: mg.zeros(-1), "non-negative"), (lambda: mg.arange(0, 5, 0), "step"),
    (lambda: mg.linspace(0, 1, -2), "steps"), (lambda: mg.randint(3, 3, (2,)), "low < high"),
    (lambda: mg.one_hot(mg.tensor([0, 3]), 3), r"labels must be in \[0, 3\)"),
    (lambda: mg.pad(mg.zeros(2, 2), (1,)), "pairs"),
    (lambda: mg.pad(mg.zeros(2, 2), (2, 2), mode="reflect"), "reflect padding"),
    (lambda: mg.pad(mg.zeros(2, 2), (1, 1), mode="wrap"), "mode must be one of"),
    (lambda: mg.gather(mg.zeros(2, 3), 1, mg.tensor([[0, 3]])), r"index values"),
    (lambda: mg.gather(mg.zeros(2, 3), 1, mg.tensor([0, 1])), "must have x's 2 dims"),
    (lambda: mg.zeros(2, 3).split([1, 1], dim=1), "do not sum to 3"),
    (lambda: mg.zeros(2, 3).topk(4), r"k must be in \[0, 3\]"),
    (lambda: mg.zeros(3).tril(), "at least 2 dims"),
    (lambda: mg.einsum("ij,jk->ik", mg.zeros(2, 3), mg.zeros(4, 2)), "letter 'j'"),
    (lambda: mg.einsum("i...,i->i", mg.zeros(2, 3), mg.zeros(2)), "ellipsis"),
    (lambda: mg.einsum("ij->ij", mg.zeros(2)), "need 2 dims"),
    (lambda: mg.zeros(2).cumsum(dim=None), "one int axis"),
    (lambda: mg.zeros(2, 3).repeat(2), "at least 2 sizes"),
])
def test_creation_and_ops_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_one_hot_rejects_float_labels():
    with pytest.raises(TypeError, match="one_hot: labels must be integers"):
        mg.one_hot(mg.tensor([0.0, 1.0]))


@pytest.mark.parametrize("name, args", [
    ("argmax", {}), ("argmax", {"dim": 1}), ("argmin", {"dim": 0, "keepdim": True}),
    ("any", {"dim": 1}), ("all", {}), ("argsort", {"dim": 1}),
    ("argsort", {"dim": 0, "descending": True})])
def test_queries_match_torch(name, args):
    t = torch()
    x = B > 0 if name in ("any", "all") else B
    got = getattr(mg.tensor(x), name)(**args)
    want = getattr(t.tensor(x), name)(**args)
    np.testing.assert_array_equal(got.data, want.numpy())


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "logical_not"])
def test_elementwise_tests_match_torch(name):
    t = torch()
    np.testing.assert_array_equal(getattr(mg, name)(mg.tensor(A)).data,
                                  getattr(t, name)(t.tensor(A)).numpy())


def test_isclose_and_one_hot_match_torch():
    t = torch()
    a, b = np.array([1.0, 1.0 + 1e-7, np.nan, 2.0]), np.array([1.0, 1.0, np.nan, 2.1])
    for nan in (False, True):
        np.testing.assert_array_equal(
            mg.isclose(mg.tensor(a, dtype=np.float64), mg.tensor(b, dtype=np.float64),
                       equal_nan=nan).data,
            t.isclose(t.tensor(a), t.tensor(b), equal_nan=nan).numpy())
    labels = np.array([[2, 0], [1, 4]])
    np.testing.assert_array_equal(
        mg.one_hot(mg.tensor(labels)).data,
        t.nn.functional.one_hot(t.tensor(labels)).numpy())
    assert mg.one_hot(mg.tensor([1]), num_classes=3).shape == (1, 3)
