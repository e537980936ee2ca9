"""Gradient clipping: clip_grad_norm_ / clip_grad_value_ against PyTorch, non-finite
gradients, and the optimizers' Keras-style clipnorm / clipvalue."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from tests.helpers import torch
from tests.test_optim import assert_trajectories_close, run_mg, run_torch


def _params_with_grads(grads, dtype=np.float32):
    ps = []
    for g in grads:
        p = mg.Tensor(np.zeros(np.shape(g)), requires_grad=True, dtype=dtype)
        if g is not None:
            p.grad = mg.Tensor(np.asarray(g), dtype=dtype)
        ps.append(p)
    return ps


def _torch_params(grads):
    T = torch()
    ps = []
    for g in grads:
        p = T.zeros(np.shape(g), requires_grad=True)
        p.grad = T.tensor(np.asarray(g, np.float32))
        ps.append(p)
    return ps


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3], ids=["clips", "clips_less", "no_clip"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf], ids=["l2", "l1", "l3", "inf"])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, rng):
    T = torch()
    grads = [rng.normal(size=s).astype(np.float32) for s in [(4, 5), (5,), (3, 2, 2)]]
    mine, theirs = _params_with_grads(grads), _torch_params(grads)
    total = optim.clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    ref = T.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert type(total) is float
    np.testing.assert_allclose(total, ref.item(), rtol=1e-6)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_scaling_rule():
    (p,) = _params_with_grads([[3.0, 4.0]])
    assert optim.clip_grad_norm_([p], 1.0) == 5.0
    np.testing.assert_allclose(p.grad.data, np.array([3, 4]) / (5 + 1e-6), rtol=1e-7)
    (q,) = _params_with_grads([[0.3, 0.4]])
    optim.clip_grad_norm_(q, 1.0)  # a single Tensor is accepted; norm 0.5 < 1: unchanged
    np.testing.assert_array_equal(q.grad.data, np.float32([0.3, 0.4]))


def test_clip_grad_norm_is_global_and_skips_missing_grads():
    ps = _params_with_grads([[3.0], [4.0], None])
    total = optim.clip_grad_norm_(ps, 2.5)
    assert total == 5.0 and ps[2].grad is None
    np.testing.assert_allclose([ps[0].grad.item(), ps[1].grad.item()], [1.5, 2.0], rtol=1e-6)
    assert optim.clip_grad_norm_(_params_with_grads([None]), 1.0) == 0.0


@pytest.mark.parametrize("bad,expected", [(math.inf, math.inf), (math.nan, math.nan)],
                         ids=["inf", "nan"])
def test_clip_grad_norm_nonfinite_is_reported_and_grads_left_alone(bad, expected):
    ps = _params_with_grads([[1.0, bad], [2.0]])
    total = optim.clip_grad_norm_(ps, 1.0)
    assert (math.isnan(total) if math.isnan(expected) else total == expected)
    np.testing.assert_array_equal(ps[1].grad.data, np.float32([2.0]))  # not scaled
    with pytest.raises(RuntimeError, match=rf"clip_grad_norm_: the total norm of order "
                                           rf"2.0 of the gradients is {expected}"):
        optim.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_float64_does_not_overflow():
    (p,) = _params_with_grads([[3e30, 4e30]])
    assert optim.clip_grad_norm_([p], 1.0) == pytest.approx(5e30)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)


def test_clip_grad_value_matches_torch(rng):
    T = torch()
    grads = [rng.normal(scale=2, size=s).astype(np.float32) for s in [(4, 5), (7,)]]
    mine, theirs = _params_with_grads(grads), _torch_params(grads)
    assert optim.clip_grad_value_(mine, 0.7) is None
    T.nn.utils.clip_grad_value_(theirs, 0.7, foreach=False)
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a.grad.data, b.grad.numpy())


def test_clip_grad_value_keeps_nan_visible():
    (p,) = _params_with_grads([[5.0, math.nan, -5.0]])
    optim.clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.data, np.float32([1.0, math.nan, -1.0]))


@pytest.mark.parametrize("call,message", [
    (lambda ps: optim.clip_grad_norm_(ps, -1.0), r"clip_grad_norm_: max_norm must be a "
                                                 r"number >= 0, got -1\.0"),
    (lambda ps: optim.clip_grad_norm_(ps, math.nan), r"max_norm .* got nan"),
    (lambda ps: optim.clip_grad_norm_(ps, 1.0, norm_type=0), r"norm_type must be a number "
                                                             r"> 0, got 0"),
    (lambda ps: optim.clip_grad_value_(ps, -0.5), r"clip_grad_value_: clip_value must be "
                                                  r"a number >= 0, got -0\.5"),
    (lambda ps: optim.clip_grad_value_(ps, "1"), r"clip_value .* got '1'"),
], ids=["negative_max_norm", "nan_max_norm", "zero_norm_type", "negative_clip", "str_clip"])
def test_clip_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(_params_with_grads([[1.0]]))


def test_clip_non_tensor_parameter_is_a_type_error():
    with pytest.raises(TypeError, match=r"clip_grad_norm_: parameter 1 is a ndarray"):
        optim.clip_grad_norm_([mg.Tensor([1.0]), np.ones(1)], 1.0)
    with pytest.raises(TypeError, match=r"clip_grad_value_: params must be a Tensor or an "
                                        r"iterable of Tensors, got int"):
        optim.clip_grad_value_(3, 1.0)


# ----- Keras-style clipping inside the optimizers ---------------------------------------
def _one_step(grads, **kwargs):
    """SGD with lr=1 from zero weights: the update is minus the processed gradient."""
    ps = _params_with_grads(grads)
    optim.SGD(ps, lr=1.0, **kwargs).step()
    return [-p.data for p in ps]


def test_clipvalue_clips_elementwise():
    (d,) = _one_step([[3.0, -0.5, -7.0]], clipvalue=1.0)
    np.testing.assert_array_equal(d, np.float32([1.0, -0.5, -1.0]))


def test_clipnorm_clips_each_tensor_by_its_own_norm():
    big, small = _one_step([[3.0, 4.0], [0.3, 0.4]], clipnorm=1.0)
    np.testing.assert_allclose(big, [0.6, 0.8], rtol=1e-6)  # norm 5 -> 1
    np.testing.assert_array_equal(small, np.float32([0.3, 0.4]))  # norm 0.5: untouched


def test_clipping_comes_before_weight_decay():
    p = mg.Tensor([2.0], requires_grad=True)
    p.grad = mg.Tensor([10.0])
    optim.SGD([p], lr=1.0, weight_decay=0.5, clipvalue=1.0).step()
    # clip(10) + 0.5 * 2 = 2 -> 2 - 2 = 0 (decay first would give clip(11) = 1 -> 1)
    assert p.item() == 0.0
    np.testing.assert_array_equal(p.grad.data, np.float32([10.0]))  # grad itself kept


@pytest.mark.parametrize("cls,name,kwargs,clip", [
    (optim.Adam, "Adam", dict(lr=1e-2, weight_decay=0.1), dict(clipnorm=0.05)),
    (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.05), dict(clipvalue=0.02)),
    (optim.RMSprop, "RMSprop", dict(lr=1e-2, centered=True), dict(clipnorm=0.05)),
    (optim.Adagrad, "Adagrad", dict(lr=0.1, weight_decay=0.1), dict(clipvalue=0.02)),
], ids=["adam_clipnorm", "sgd_clipvalue", "rmsprop_clipnorm", "adagrad_clipvalue"])
def test_optimizer_clipping_matches_torch_with_keras_clipping_applied_by_hand(
        cls, name, kwargs, clip):
    def keras_clip(params):
        for p in params:
            if "clipvalue" in clip:
                p.grad.clamp_(-clip["clipvalue"], clip["clipvalue"])
            elif (norm := p.grad.norm().item()) > clip["clipnorm"]:
                p.grad.mul_(clip["clipnorm"] / norm)

    mine = run_mg(cls, dict(kwargs, **clip))
    assert not np.allclose(mine[-1][0], run_mg(cls, kwargs)[-1][0]), "clipping did nothing"
    assert_trajectories_close(mine, run_torch(name, kwargs, before_step=keras_clip))
