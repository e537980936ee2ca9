"""PyTorch's in-place initializers and Module.apply, against torch.nn.init: the same
gains, bounds and standard deviations (statistically) and the same visiting order."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import init
from tests.helpers import torch

SHAPES = [(300, 200), (64, 32, 3, 3)]


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",),
                                  ("relu",), ("selu",), ("leaky_relu",),
                                  ("leaky_relu", 0.2)], ids=str)
def test_init_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch().nn.init.calculate_gain(*args))


CASES = {  # id: (initializer, keyword arguments)
    "uniform": ("uniform_", dict(a=-0.3, b=0.7)),
    "normal": ("normal_", dict(mean=0.5, std=0.2)),
    "xavier_uniform": ("xavier_uniform_", dict()),
    "xavier_normal_gain": ("xavier_normal_", dict(gain=2.0)),
    "kaiming_uniform": ("kaiming_uniform_", dict()),
    "kaiming_uniform_relu_fan_out": ("kaiming_uniform_", dict(mode="fan_out",
                                                              nonlinearity="relu")),
    "kaiming_normal_slope": ("kaiming_normal_", dict(a=0.1)),
    "kaiming_normal_tanh": ("kaiming_normal_", dict(nonlinearity="tanh")),
    "orthogonal_gain": ("orthogonal_", dict(gain=1.5)),
}


@pytest.mark.parametrize("shape", SHAPES, ids=["linear", "conv"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_init_inplace_matches_torch_statistics(case, shape):
    T = torch()
    name, kwargs = CASES[case]
    mg.manual_seed(0)
    T.manual_seed(0)
    p = nn.Parameter(np.zeros(shape, dtype=np.float32))
    out = getattr(init, name)(p, **kwargs)
    ref = getattr(T.nn.init, name)(T.zeros(shape), **kwargs).numpy()
    mine = p.data
    assert out is p and mine.dtype == np.float32
    np.testing.assert_allclose(mine.mean(), ref.mean(), atol=0.02 * ref.std() + 1e-3)
    np.testing.assert_allclose(mine.std(), ref.std(), rtol=0.03)
    if "uniform" in name:  # the same support: both fill up to the bound
        np.testing.assert_allclose([mine.min(), mine.max()], [ref.min(), ref.max()],
                                   rtol=0.02, atol=1e-3)


def test_init_orthogonal_gives_orthonormal_rows_times_gain():
    w = np.empty((20, 50))
    init.orthogonal_(w, gain=2.0)
    np.testing.assert_allclose(w @ w.T, 4.0 * np.eye(20), atol=1e-10)


def test_init_constants_and_seeded_repeatability():
    t = mg.Tensor(np.empty((3, 4), dtype=np.float32))
    assert np.all(init.ones_(t).data == 1) and np.all(init.zeros_(t).data == 0)
    assert np.all(init.constant_(t, 0.25).data == 0.25)
    mg.manual_seed(3)
    a = init.kaiming_normal_(np.empty((5, 6))).copy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(init.kaiming_normal_(np.empty((5, 6))), a)
    g = np.random.default_rng(9)
    b = init.xavier_uniform_(np.empty((5, 6)), generator=g)
    np.testing.assert_array_equal(
        init.xavier_uniform_(np.empty((5, 6)), generator=np.random.default_rng(9)), b)


def test_init_inplace_errors_name_the_initializer():
    with pytest.raises(ValueError, match=r"xavier_uniform_: fan in and fan out need a "
                                         r"tensor of 2 or more dimensions, got shape \(5,\)"):
        init.xavier_uniform_(np.empty(5))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or "
                                         "'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(np.empty((2, 2)), mode="fan_avg")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(TypeError, match="normal_: expected a float Tensor or ndarray"):
        init.normal_(np.zeros(3, dtype=np.int64))


def test_module_apply_visits_children_first_then_self_as_torch():
    T = torch()
    mine, theirs = [], []
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    ref = T.nn.Sequential(T.nn.Linear(2, 3), T.nn.Sequential(T.nn.ReLU(), T.nn.Linear(3, 1)))
    assert model.apply(lambda m: mine.append(type(m).__name__)) is model
    ref.apply(lambda m: theirs.append(type(m).__name__))
    assert mine == theirs


def test_module_apply_with_the_pytorch_init_idiom():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            init.xavier_uniform_(m.weight, gain=init.calculate_gain("relu"))
            init.constant_(m.bias, 0.01)

    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 10))
    model.apply(init_weights)
    bound = math.sqrt(2) * math.sqrt(6 / 700)
    w = model[0].weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.all(model[2].bias.data == np.float32(0.01))
