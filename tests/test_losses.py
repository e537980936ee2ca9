"""Losses: value and gradient vs PyTorch (float64) for every reduction, class weights,
label smoothing, pos_weight; stability at extreme logits; bad labels and shapes."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from helpers import assert_close, to_torch, torch

REDUCTIONS = ["mean", "sum", "none"]


def _replay(mg_fn, torch_fn, x, *rest):
    """Run both on float64 x (grad wanted) and return (mg value, mg grad, torch ones)."""
    t = torch()
    xm = mg.Tensor(x, dtype=np.float64, requires_grad=True)
    y = mg_fn(xm, *rest)
    dy = np.random.default_rng(9).standard_normal(y.shape)
    y.backward(dy)
    xt = to_torch(x, requires_grad=True)
    yt = torch_fn(xt, *[to_torch(r) if isinstance(r, np.ndarray) else r for r in rest])
    yt.backward(t.tensor(dy))
    return y, xm.grad, yt, xt.grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_torch(reduction, weighted, smoothing):
    t = torch()
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)) * 3
    y = rng.integers(0, 5, 7)
    w = rng.uniform(0.2, 2.0, 5) if weighted else None
    ours = lambda x, lab: F.cross_entropy(x, lab, weight=w, reduction=reduction,  # noqa: E731
                                          label_smoothing=smoothing)
    theirs = lambda x, lab: t.nn.functional.cross_entropy(  # noqa: E731
        x, lab, weight=None if w is None else t.tensor(w), reduction=reduction,
        label_smoothing=smoothing)
    v, g, vt, gt = _replay(ours, theirs, z, y)
    assert_close(v, vt, rtol=1e-10, atol=1e-12)
    assert_close(g, gt, rtol=1e-10, atol=1e-12)


def test_cross_entropy_accepts_int_tensor_targets_and_spatial_logits():
    t = torch()
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 4, 3, 3))
    y = rng.integers(0, 4, (2, 3, 3))
    for reduction in REDUCTIONS:
        v, g, vt, gt = _replay(lambda x, lab: F.cross_entropy(x, mg.Tensor(lab),
                                                              reduction=reduction),
                               lambda x, lab: t.nn.functional.cross_entropy(
                                   x, lab, reduction=reduction), z, y)
        assert_close(v, vt, rtol=1e-10)
        assert_close(g, gt, rtol=1e-10)


def test_cross_entropy_is_stable_at_extreme_logits():
    z = mg.Tensor([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]], requires_grad=True)
    loss = F.cross_entropy(z, np.array([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(z.grad.data).all()
    assert loss.item() == pytest.approx((2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2, rel=1e-5)


def test_cross_entropy_bad_labels_and_shapes():
    z = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\).*got labels from 0 to 4"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\).*from -1"):
        F.cross_entropy(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"expected targets of shape \(3,\).*got targets\(2,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="targets must be integer class labels"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(z, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.cross_entropy(z, np.array([0, 1, 2]), weight=np.ones(3))


def test_nll_of_log_softmax_equals_cross_entropy():
    rng = np.random.default_rng(2)
    z = mg.Tensor(rng.standard_normal((6, 4)), dtype=np.float64)
    y = rng.integers(0, 4, 6)
    w = np.array([1.0, 2.0, 0.5, 1.5])
    a = F.nll_loss(F.log_softmax(z), y, weight=w)
    b = F.cross_entropy(z, y, weight=w)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True], ids=["plain", "pos_weight"])
def test_bce_with_logits_matches_torch(reduction, pos_weight):
    t = torch()
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 3)) * 4
    z[0] = [60.0, -60.0, 0.0]
    y = rng.uniform(0, 1, (5, 3))
    y[0] = [0.0, 1.0, 0.5]
    pw = rng.uniform(0.5, 3.0, 3) if pos_weight else None
    v, g, vt, gt = _replay(
        lambda x, tg: F.binary_cross_entropy_with_logits(x, tg, pos_weight=pw,
                                                         reduction=reduction),
        lambda x, tg: t.nn.functional.binary_cross_entropy_with_logits(
            x, tg, pos_weight=None if pw is None else t.tensor(pw), reduction=reduction),
        z, y)
    assert_close(v, vt, rtol=1e-10, atol=1e-12)
    assert_close(g, gt, rtol=1e-10, atol=1e-12)


def test_bce_on_probabilities_matches_torch_and_clamps_logs():
    t = torch()
    p = np.array([[0.1, 0.9, 0.5], [0.3, 0.99, 0.01]])
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    v, g, vt, gt = _replay(F.binary_cross_entropy, t.nn.functional.binary_cross_entropy, p, y)
    assert_close(v, vt, rtol=1e-10)
    assert_close(g, gt, rtol=1e-10)
    edge = F.binary_cross_entropy(mg.Tensor([0.0, 1.0]), np.array([1.0, 0.0]))
    assert edge.item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="probs must lie in"):
        F.binary_cross_entropy(mg.Tensor([1.5]), np.array([1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "huber_delta"])
def test_regression_losses_match_torch(name, reduction):
    t = torch()
    tf = t.nn.functional
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 6)) * 2
    target = rng.standard_normal((4, 6))
    ours = {"mse_loss": lambda a, b: F.mse_loss(a, b, reduction),
            "l1_loss": lambda a, b: F.l1_loss(a, b, reduction),
            "huber_loss": lambda a, b: F.huber_loss(a, b, reduction),
            "huber_delta": lambda a, b: F.huber_loss(a, b, reduction, delta=0.5)}[name]
    theirs = {"mse_loss": lambda a, b: tf.mse_loss(a, b, reduction=reduction),
              "l1_loss": lambda a, b: tf.l1_loss(a, b, reduction=reduction),
              "huber_loss": lambda a, b: tf.huber_loss(a, b, reduction=reduction),
              "huber_delta": lambda a, b: tf.huber_loss(a, b, reduction=reduction,
                                                        delta=0.5)}[name]
    v, g, vt, gt = _replay(ours, theirs, x, target)
    assert_close(v, vt, rtol=1e-10, atol=1e-12)
    assert_close(g, gt, rtol=1e-10, atol=1e-12)


def test_regression_loss_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"mse_loss: input and target shapes differ, got "
                                         r"input\(4, 1\) and target\(4,\)"):
        F.mse_loss(np.zeros((4, 1), np.float32), np.zeros(4))


def test_loss_modules_equal_functions():
    rng = np.random.default_rng(5)
    z = mg.Tensor(rng.standard_normal((4, 3)))
    y = rng.integers(0, 3, 4)
    r = rng.standard_normal((4, 3)).astype(np.float32)
    w = np.array([1.0, 2.0, 3.0])
    pairs = [
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(z, y),
         F.cross_entropy(z, y, weight=w, label_smoothing=0.1)),
        (nn.NLLLoss()(F.log_softmax(z), y), F.nll_loss(F.log_softmax(z), y)),
        (nn.BCEWithLogitsLoss(reduction="sum")(z, r > 0), F.binary_cross_entropy_with_logits(
            z, r > 0, reduction="sum")),
        (nn.MSELoss()(z, r), F.mse_loss(z, r)), (nn.L1Loss()(z, r), F.l1_loss(z, r)),
        (nn.HuberLoss(delta=0.3)(z, r), F.huber_loss(z, r, delta=0.3)),
        (nn.BCELoss()(z.sigmoid(), r > 0), F.binary_cross_entropy(z.sigmoid(), r > 0)),
    ]
    for a, b in pairs:
        assert a.item() == pytest.approx(b.item(), rel=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_primitives_pass_gradcheck(reduction):
    rng = np.random.default_rng(6)
    z = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    w = rng.uniform(0.5, 2, 4)
    with mg.backend.use("numpy"):
        assert mg.gradcheck(lambda a: F.cross_entropy(a, y, weight=w, reduction=reduction,
                                                      label_smoothing=0.1), [z])
        targets = rng.uniform(0, 1, (5, 4))
        pw = rng.uniform(0.5, 2, 4)
        # logits and (soft) targets both get gradients
        assert mg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, pos_weight=pw, reduction=reduction),
            [mg.Tensor(z, dtype=np.float64, requires_grad=True),
             mg.Tensor(targets, dtype=np.float64, requires_grad=True)])
        probs = rng.uniform(0.05, 0.95, (5, 4))
        assert mg.gradcheck(lambda p: F.binary_cross_entropy(p, targets, reduction=reduction),
                            [probs])
