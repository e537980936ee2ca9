"""Losses beyond integer labels: ignore_index, probability (soft) targets, nll pairs,
Keras's probability losses by their formula, to_categorical, and the one loss registry
that fit, evaluate, lr_finder and the CLI share."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from helpers import assert_close, to_torch, torch

REDUCTIONS = ["mean", "sum", "none"]


def _grad_pair(ours, theirs, z, *rest):
    """Value and logits gradient of our loss and torch's, float64, same upstream dy."""
    t = torch()
    zm = mg.Tensor(z, dtype=np.float64, requires_grad=True)
    v = ours(zm, *rest)
    dy = np.random.default_rng(3).standard_normal(v.shape)
    v.backward(dy)
    zt = to_torch(z, requires_grad=True)
    vt = theirs(zt, *[to_torch(r) for r in rest])
    vt.backward(t.tensor(dy))
    assert_close(v, vt, rtol=1e-10, atol=1e-12)
    assert_close(zm.grad, zt.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_ignore_index_matches_torch(reduction, weighted, smoothing):
    t = torch()
    rng = np.random.default_rng(0)
    z = rng.standard_normal((8, 5)) * 2
    y = rng.integers(0, 5, 8)
    y[[1, 4]] = -100
    w = rng.uniform(0.3, 2.0, 5) if weighted else None
    _grad_pair(lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction,
                                            label_smoothing=smoothing),
               lambda a, b: t.nn.functional.cross_entropy(
                   a, b, weight=None if w is None else t.tensor(w), reduction=reduction,
                   label_smoothing=smoothing), z, y)


def test_cross_entropy_custom_ignore_index_and_spatial_matches_torch():
    t = torch()
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2, 4, 3, 3))
    y = rng.integers(0, 4, (2, 3, 3))
    y[0, 1, :] = 7
    _grad_pair(lambda a, b: F.cross_entropy(a, b, ignore_index=7),
               lambda a, b: t.nn.functional.cross_entropy(a, b, ignore_index=7), z, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_match_torch(reduction, weighted, smoothing):
    t = torch()
    rng = np.random.default_rng(2)
    z = rng.standard_normal((6, 4)) * 2
    q = rng.dirichlet(np.ones(4), 6)
    w = rng.uniform(0.3, 2.0, 4) if weighted else None
    _grad_pair(lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction,
                                            label_smoothing=smoothing),
               lambda a, b: t.nn.functional.cross_entropy(
                   a, b, weight=None if w is None else t.tensor(w), reduction=reduction,
                   label_smoothing=smoothing), z, q)


def test_cross_entropy_probability_targets_spatial_match_torch():
    t = torch()
    rng = np.random.default_rng(3)
    z = rng.standard_normal((2, 3, 2, 2))
    q = rng.dirichlet(np.ones(3), (2, 2, 2)).transpose(0, 3, 1, 2).copy()
    for reduction in REDUCTIONS:
        _grad_pair(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                   lambda a, b: t.nn.functional.cross_entropy(a, b, reduction=reduction),
                   z, q)


def test_cross_entropy_one_hot_equals_labels():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    hard = F.cross_entropy(z, y).item()
    soft = F.cross_entropy(z, mg.data.to_categorical(y, 3)).item()
    assert soft == pytest.approx(hard, rel=1e-6)


def test_cross_entropy_probability_targets_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"probability targets must have the logits' shape"):
        F.cross_entropy(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_ignore_index_and_weight_match_torch(reduction):
    t = torch()
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(4), 7))
    y = rng.integers(0, 4, 7)
    y[2] = -100
    w = rng.uniform(0.5, 2.0, 4)
    _grad_pair(lambda a, b: F.nll_loss(a, b, weight=w, reduction=reduction),
               lambda a, b: t.nn.functional.nll_loss(a, b, weight=t.tensor(w),
                                                     reduction=reduction), lp, y)


def test_nll_of_log_softmax_pair_matches_torch_modules():
    t = torch()
    rng = np.random.default_rng(6)
    z = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    _grad_pair(lambda a, b: nn.NLLLoss()(nn.LogSoftmax()(a), b),
               lambda a, b: t.nn.NLLLoss()(t.nn.LogSoftmax(dim=1)(a), b), z, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignore_index_and_soft_targets_pass_gradcheck(reduction):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((5, 4))
    y = np.array([0, -100, 3, 1, 2])
    q = rng.dirichlet(np.ones(4), 5)
    w = rng.uniform(0.5, 2, 4)
    with mg.backend.use("numpy"):
        assert mg.gradcheck(lambda a: F.cross_entropy(a, y, weight=w, reduction=reduction,
                                                      label_smoothing=0.1), [z])
        assert mg.gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction,
                                                         label_smoothing=0.1),
                            [mg.Tensor(z, dtype=np.float64, requires_grad=True),
                             mg.Tensor(q, dtype=np.float64, requires_grad=True)])
        assert mg.gradcheck(lambda a: F.nll_loss(a, y, weight=w, reduction=reduction), [z])


# ----- Keras's losses on probabilities, checked by Keras's formula --------------------
def _keras_cce(y_true, y_pred, eps=1e-7):
    p = y_pred / y_pred.sum(-1, keepdims=True)
    return -(y_true * np.log(np.clip(p, eps, 1 - eps))).sum(-1)


def test_categorical_crossentropy_matches_keras_formula():
    rng = np.random.default_rng(8)
    probs = rng.dirichlet(np.ones(4), 6)
    probs[0] = [1.0, 0.0, 0.0, 0.0]  # clipped: finite loss
    y = mg.data.to_categorical(rng.integers(0, 4, 6), 4).astype(np.float64)
    per = nn.categorical_crossentropy(y, mg.tensor(probs, dtype=np.float64),
                                      reduction="none")
    assert_close(per, _keras_cce(y, probs), rtol=1e-12)
    mean = nn.categorical_crossentropy(y, probs.astype(np.float32))
    assert mean.item() == pytest.approx(_keras_cce(y, probs).mean(), rel=1e-5)
    smooth = nn.categorical_crossentropy(y, mg.tensor(probs, dtype=np.float64),
                                         label_smoothing=0.1)
    assert smooth.item() == pytest.approx(_keras_cce(y * 0.9 + 0.025, probs).mean(), rel=1e-12)


def test_categorical_crossentropy_from_logits_equals_cross_entropy():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((5, 3))
    y = rng.integers(0, 3, 5)
    a = nn.categorical_crossentropy(mg.data.to_categorical(y, 3, np.float64),
                                    mg.tensor(z, dtype=np.float64), from_logits=True)
    assert a.item() == pytest.approx(F.cross_entropy(mg.tensor(z, dtype=np.float64),
                                                     y).item(), rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        nn.categorical_crossentropy(y, z)


def test_sparse_categorical_crossentropy_matches_keras_formula():
    rng = np.random.default_rng(10)
    probs = rng.dirichlet(np.ones(5), 7)
    y = rng.integers(0, 5, 7)
    want = _keras_cce(mg.data.to_categorical(y, 5, np.float64), probs)
    got = nn.sparse_categorical_crossentropy(y, mg.tensor(probs, dtype=np.float64),
                                             reduction="none")
    assert_close(got, want, rtol=1e-12)
    z = np.log(probs)  # logits whose softmax is probs
    logits = nn.sparse_categorical_crossentropy(y[:, None], mg.tensor(z, dtype=np.float64),
                                                from_logits=True)
    assert logits.item() == pytest.approx(want.mean(), rel=1e-10)


def test_binary_crossentropy_matches_keras_formula():
    rng = np.random.default_rng(11)
    p = rng.uniform(0, 1, (6, 3))
    p[0, 0] = 1.0
    y = rng.integers(0, 2, (6, 3)).astype(np.float64)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    want = -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(-1)
    got = nn.binary_crossentropy(y, mg.tensor(p, dtype=np.float64), reduction="none")
    assert_close(got, want, rtol=1e-12)
    z = rng.standard_normal((6, 3))
    s = 1 / (1 + np.exp(-z))
    from_logits = nn.binary_crossentropy(y, mg.tensor(z, dtype=np.float64), from_logits=True)
    assert from_logits.item() == pytest.approx(
        (-(y * np.log(s) + (1 - y) * np.log(1 - s))).mean(), rel=1e-10)


def test_keras_losses_pass_gradcheck():
    rng = np.random.default_rng(12)
    probs = rng.dirichlet(np.ones(4), 5) * 0.8 + 0.05
    y = rng.integers(0, 4, 5)
    oh = mg.data.to_categorical(y, 4, np.float64)
    with mg.backend.use("numpy"):
        assert mg.gradcheck(lambda p: nn.categorical_crossentropy(oh, p), [probs])
        assert mg.gradcheck(lambda p: nn.sparse_categorical_crossentropy(y, p), [probs])
        assert mg.gradcheck(lambda p: nn.binary_crossentropy(oh, p), [probs])


# ----- to_categorical ---------------------------------------------------------------
def test_to_categorical_like_keras():
    y = np.array([[2], [0], [1]])
    oh = mg.data.to_categorical(y, 4)
    assert oh.dtype == np.float32 and oh.shape == (3, 4)
    np.testing.assert_array_equal(oh.argmax(1), [2, 0, 1])
    assert mg.data.to_categorical([1, 3]).shape == (2, 4)  # num_classes = max + 1
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        mg.data.to_categorical([0, 2], 2)
    with pytest.raises(TypeError, match="labels must be integers"):
        mg.data.to_categorical([0.5, 1.0], 2)


# ----- the one registry ---------------------------------------------------------------
def test_loss_registry_names_resolve_to_functions():
    assert nn.get_loss("mse").fn is F.mse_loss
    assert nn.get_loss("mean_squared_error") is nn.get_loss("mse")
    assert nn.get_loss("mae").fn is F.l1_loss
    assert nn.get_loss("nll_loss").fn is F.nll_loss
    assert nn.get_loss("binary_cross_entropy").fn is F.binary_cross_entropy_with_logits
    for name in ("huber", "categorical_crossentropy", "sparse_categorical_crossentropy",
                 "binary_crossentropy", "cross_entropy", "l1"):
        assert name in nn.loss_names()
    with pytest.raises(ValueError, match=r"fit: unknown loss 'hubber'; choose one of"):
        nn.get_loss("hubber", "fit")


def _regression_data():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))


@pytest.mark.parametrize("name", ["huber", "l1", "mae", "mean_squared_error"])
def test_fit_and_lr_finder_accept_the_same_loss_names(name):
    mg.manual_seed(0)
    x, y = _regression_data()
    model = nn.Linear(3, 1)
    opt = mg.optim.SGD(model.parameters(), lr=0.05)
    hist = mg.train.fit(model, x, y, loss=name, optimizer=opt, epochs=2, verbose=0,
                        metrics=())
    assert hist.history["loss"][1] < hist.history["loss"][0]
    res = mg.diagnostics.lr_finder(nn.Linear(3, 1), x, y, name,
                                   lambda p, lr: mg.optim.SGD(p, lr=lr), steps=5)
    assert len(res.lrs) == 5


def test_fit_with_one_hot_targets_records_accuracy():
    mg.manual_seed(1)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    y = mg.data.to_categorical(labels, 3)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax())
    opt = mg.optim.Adam(model.parameters(), lr=0.02)
    hist = mg.train.fit(model, x, y, loss="categorical_crossentropy", optimizer=opt,
                        epochs=8, verbose=0, validation_data=(x, y))
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.6
    assert "val_accuracy" in hist.history
    logs = mg.train.evaluate(model, x, y, loss="categorical_crossentropy")
    probs = mg.train.predict(model, x)
    assert logs["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    # PyTorch's soft targets on logits also keep accuracy
    logit_model = nn.Sequential(nn.Linear(4, 3))
    logs = mg.train.evaluate(logit_model, x, y, loss="cross_entropy")
    assert "accuracy" in logs


def test_fit_rejects_labels_for_categorical_crossentropy():
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax())
    x = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="to_categorical"):
        mg.train.evaluate(model, x, np.array([0, 1, 2, 0]), loss="categorical_crossentropy")


def test_fit_warns_when_softmax_output_meets_cross_entropy_on_logits():
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax())
    x = np.random.default_rng(15).standard_normal((8, 4)).astype(np.float32)
    y = np.arange(8) % 3
    with pytest.warns(UserWarning, match="softmax is applied twice"):
        mg.train.evaluate(model, x, y, loss="cross_entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.train.evaluate(model, x, y, loss="sparse_categorical_crossentropy")
        mg.train.evaluate(nn.Linear(4, 3), x, y, loss="cross_entropy")


def test_fit_binary_crossentropy_on_probabilities_thresholds_at_half():
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)
    model[0].weight.data[...] = [[5.0, 0.0]]
    model[0].bias.data[...] = 0.0
    logs = mg.train.evaluate(model, x, np.array([1.0, 0.0]), loss="binary_crossentropy")
    assert logs["accuracy"] == 1.0
