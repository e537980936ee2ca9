"""Initializers: sample statistics and bounds vs their formulas on large tensors, fans
from PyTorch's layout, seeding, lookup by name."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import init

CONV = (64, 32, 3, 3)  # fan_in 288, fan_out 576
DENSE = (400, 600)     # fan_in 600, fan_out 400
# variance of a unit normal truncated to [-2, 2] (= init.TRUNCATED_STD ** 2)
TRUNCATED_VAR = 1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2))


def test_fans_follow_pytorch_layout_with_receptive_field():
    assert init.compute_fans(CONV) == (288, 576)
    assert init.compute_fans(DENSE) == (600, 400)
    assert init.compute_fans((7,)) == (7, 7)


def _stats(w):
    return float(w.mean()), float(w.var()), float(np.abs(w).max())


VARIANCE_CASES = [
    ("glorot_normal", DENSE, 2 / (600 + 400), None),
    ("glorot_normal", CONV, 2 / (288 + 576), None),
    ("he_normal", CONV, 2 / 288, None),
    ("lecun_normal", DENSE, 1 / 600, None),
    ("glorot_uniform", CONV, 2 / (288 + 576), math.sqrt(6 / (288 + 576))),
    ("he_uniform", DENSE, 2 / 600, math.sqrt(6 / 600)),
    ("lecun_uniform", CONV, 1 / 288, math.sqrt(3 / 288)),
    ("normal", DENSE, 0.05 ** 2, None),
    ("uniform", DENSE, 0.1 ** 2 / 12, 0.05),
    # Keras' TruncatedNormal: cut at 2 stddev without correction
    ("truncated_normal", DENSE, 0.05 ** 2 * TRUNCATED_VAR, 0.1),
]


@pytest.mark.parametrize("name,shape,var,bound", VARIANCE_CASES,
                         ids=[f"{c[0]}-{len(c[1])}d" for c in VARIANCE_CASES])
def test_initializer_variance_and_bounds(name, shape, var, bound):
    w = init.get(name)(shape)
    assert w.shape == shape and w.dtype == np.float32
    mean, v, top = _stats(w.astype(np.float64))
    assert abs(mean) < 4 * math.sqrt(var / w.size)
    assert v == pytest.approx(var, rel=0.02)
    if bound is not None:
        assert top <= bound * (1 + 1e-6)
        assert top > 0.98 * bound  # uniform fills its range / truncation is at the bound


@pytest.mark.parametrize("mode,n", [("fan_in", 288), ("fan_out", 576), ("fan_avg", 432)])
@pytest.mark.parametrize("dist", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_modes_and_distributions(mode, n, dist):
    w = init.VarianceScaling(3.0, mode, dist)(CONV, dtype=np.float64)
    assert w.dtype == np.float64
    assert w.var() == pytest.approx(3.0 / n, rel=0.03)
    if dist == "truncated_normal":  # cut at 2 stddev of the corrected normal
        assert np.abs(w).max() <= 2 * math.sqrt(3.0 / n) / init.TRUNCATED_STD + 1e-12
    if dist == "uniform":
        assert np.abs(w).max() <= math.sqrt(9.0 / n)


def test_constant_zeros_ones():
    np.testing.assert_array_equal(init.constant(0.5)((2, 3)), np.full((2, 3), 0.5))
    assert init.zeros((3,)).sum() == 0 and init.ones((2, 2)).sum() == 4


def test_orthogonal_rows_or_columns_are_orthonormal():
    w = init.orthogonal((20, 50), dtype=np.float64)
    np.testing.assert_allclose(w @ w.T, np.eye(20), atol=1e-10)
    w = init.Orthogonal(gain=2.0)((30, 4, 2, 2), dtype=np.float64).reshape(30, -1)
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(16), atol=1e-10)


def test_initializers_are_repeatable_under_manual_seed_and_rng():
    mg.manual_seed(11)
    a = init.he_normal((50, 20))
    mg.manual_seed(11)
    b = init.he_normal((50, 20))
    np.testing.assert_array_equal(a, b)
    c = init.glorot_uniform((5, 5), rng=np.random.default_rng(3))
    d = init.glorot_uniform((5, 5), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(c, d)
    mg.manual_seed(11)
    l1 = nn.Linear(20, 50, weight_init="he_normal")
    np.testing.assert_array_equal(l1.weight.data, a)


def test_layers_default_to_glorot_uniform_and_zero_bias():
    conv = nn.Conv2d(32, 64, 3)
    limit = math.sqrt(6 / (288 + 576))
    assert np.abs(conv.weight.data).max() <= limit and conv.weight.data.std() > limit / 2
    assert not conv.bias.data.any()
    lin = nn.Linear(3, 2, weight_init=init.constant(0.1), bias_init="ones")
    np.testing.assert_array_equal(lin.weight.data, np.float32(0.1))
    np.testing.assert_array_equal(lin.bias.data, 1.0)


def test_init_get_rejects_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match="unknown initializer 'he_norm'"):
        init.get("he_norm")
    with pytest.raises(ValueError, match="mode must be one of"):
        init.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="distribution must be one of"):
        init.VarianceScaling(distribution="normal_ish")
    with pytest.raises(ValueError, match="scale must be > 0, got -1"):
        init.VarianceScaling(-1)
    assert init.get(init.he_uniform) is init.he_uniform
