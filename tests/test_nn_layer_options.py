"""Layer options PyTorch and Keras users bring: PyTorch's positional order with the
rest keyword-only, weight_init="pytorch" and set_default_init against torch's init
bounds, Module.mode, BN folding when BN follows the activation, and GELU's numpy erf."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.ops.unary import erf
from helpers import torch


# ----- positional order ------------------------------------------------------------------
def test_linear_positional_order_is_pytorch_and_rest_keyword_only():
    assert nn.Linear(4, 3, False).bias is None
    with pytest.raises(TypeError):
        nn.Linear(4, 3, True, "glorot_uniform")  # weight_init is keyword-only
    conv = nn.Conv2d(1, 2, 3, 2, 1)
    assert (conv.stride, conv.padding) == ((2, 2), (1, 1))
    assert nn.Conv2d(1, 2, 3, 1, 0, 1, 1, False).bias is None  # PyTorch's order
    with pytest.raises(ValueError, match="dilation must be >= 1, got False"):
        nn.Conv2d(1, 2, 3, 1, 0, False)  # bias comes after dilation/groups in PyTorch
    with pytest.raises(TypeError):
        nn.Conv2d(1, 2, 3, 1, 0, 1, 1, True, "glorot_uniform")  # weight_init keyword-only
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None


# ----- PyTorch's initialization -----------------------------------------------------------
@pytest.mark.parametrize("make_ours, make_torch, fan_in", [
    (lambda **k: nn.Linear(300, 100, **k), lambda t: t.nn.Linear(300, 100), 300),
    (lambda **k: nn.Conv2d(16, 32, 3, **k), lambda t: t.nn.Conv2d(16, 32, 3), 16 * 9),
], ids=["linear", "conv2d"])
def test_pytorch_init_matches_torch_bounds_and_spread(make_ours, make_torch, fan_in):
    t = torch()
    t.manual_seed(0)
    theirs = make_torch(t)
    ours = make_ours(weight_init="pytorch")
    bound = 1.0 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        w, tw = getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy()
        assert w.shape == tw.shape and w.dtype == np.float32
        # both U(-bound, bound): the same support, and the sample extremes reach it
        assert np.abs(w).max() <= bound and np.abs(tw).max() <= bound
        if w.size > 1000:  # the extremes reach the bound; std bound / sqrt(3)
            assert np.abs(w).max() > 0.99 * bound and np.abs(tw).max() > 0.99 * bound
            np.testing.assert_allclose([w.std(), tw.std()], bound / math.sqrt(3), rtol=0.05)


def test_pytorch_init_keeps_an_explicit_bias_init_and_keras_stays_default():
    layer = nn.Linear(50, 20, weight_init="pytorch", bias_init="zeros")
    assert np.abs(layer.weight.numpy()).max() <= 1 / math.sqrt(50)
    assert not layer.bias.numpy().any()
    keras = nn.Linear(50, 20)  # glorot_uniform: limit sqrt(6 / (50 + 20))
    assert np.abs(keras.weight.numpy()).max() > 1 / math.sqrt(50)
    assert not keras.bias.numpy().any()


def test_set_default_init_switches_layers_built_afterwards():
    try:
        nn.set_default_init("pytorch")
        layer = nn.Conv2d(3, 8, 5)
        bound = 1 / math.sqrt(3 * 25)
        assert np.abs(layer.bias.numpy()).max() <= bound and layer.bias.numpy().any()
        assert np.abs(layer.weight.numpy()).max() <= bound
    finally:
        nn.set_default_init("keras")
    assert not nn.Conv2d(3, 8, 5).bias.numpy().any()
    with pytest.raises(ValueError, match="set_default_init: scheme must be one of "
                                         r"\('keras', 'pytorch'\), got 'torch'"):
        nn.set_default_init("torch")


# ----- Module.mode ------------------------------------------------------------------------
def test_module_mode_sets_every_module_and_restores_mixed_flags():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.5))
    model[1].eval()  # a frozen BN in a training model
    with model.mode(training=False) as m:
        assert m is model and not any(x.training for x in model.modules())
    assert [x.training for x in model.modules()] == [True, True, False, True]
    with pytest.raises(RuntimeError, match="boom"):
        with model.mode(training=False):
            raise RuntimeError("boom")
    assert [x.training for x in model.modules()] == [True, True, False, True]


# ----- BN folding -------------------------------------------------------------------------
def _warm(model, x):
    model.train()
    for _ in range(3):
        model(x)
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.num_features)
            m.bias.data[...] = rng.standard_normal(m.num_features)
    return model.eval()


def test_fuse_batchnorm_folds_every_bn_of_the_bn_after_activation_model():
    # The lectures' model: BN after the input and after each activation
    # (Keras: Flatten, BN, Dense(300, relu), BN, Dense(100, relu), BN, Dense(10)).
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784, dtype=np.float64),
                          nn.Linear(784, 300, activation="relu", dtype=np.float64),
                          nn.BatchNorm1d(300, dtype=np.float64),
                          nn.Linear(300, 100, dtype=np.float64), nn.ReLU(),
                          nn.BatchNorm1d(100, dtype=np.float64),
                          nn.Linear(100, 10, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((64, 1, 28, 28))
    _warm(model, mg.tensor(x, dtype=np.float64))
    fused = nn.fuse_batchnorm(model)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in fused.modules()) == 0
    assert [type(m).__name__ for m in fused] == ["Flatten", "Identity", "Linear", "Identity",
                                                 "Linear", "ReLU", "Identity", "Linear"]
    xt = mg.tensor(x, dtype=np.float64)
    np.testing.assert_allclose(fused(xt).numpy(), model(xt).numpy(), rtol=1e-10, atol=1e-10)


def test_fuse_batchnorm_folds_bn2d_into_the_next_unpadded_conv_only():
    f64 = dict(dtype=np.float64)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, **f64), nn.ReLU(), nn.BatchNorm2d(3, **f64),
                          nn.Conv2d(3, 4, 3, stride=2, **f64), nn.ReLU(),
                          nn.BatchNorm2d(4, **f64), nn.Conv2d(4, 2, 3, padding=1, **f64))
    x = mg.tensor(np.random.default_rng(2).standard_normal((5, 2, 11, 11)), **f64)
    _warm(model, x)
    fused = nn.fuse_batchnorm(model)
    # padding would fill the normalised map with zeros, not with the BN's shift
    assert [type(m).__name__ for m in fused] == ["Conv2d", "ReLU", "Identity", "Conv2d",
                                                 "ReLU", "BatchNorm2d", "Conv2d"]
    np.testing.assert_allclose(fused(x).numpy(), model(x).numpy(), rtol=1e-10, atol=1e-10)


def test_fuse_batchnorm_keeps_bn1d_whose_input_may_be_3d():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert isinstance(nn.fuse_batchnorm(model)[2], nn.BatchNorm1d)


def test_fuse_batchnorm_does_not_fold_into_a_layer_with_an_activation():
    model = nn.Sequential(nn.Linear(3, 4, activation="relu"), nn.BatchNorm1d(4))
    x = np.random.default_rng(3).standard_normal((8, 3)).astype(np.float32)
    _warm(model, x)
    fused = nn.fuse_batchnorm(model)
    assert isinstance(fused[1], nn.BatchNorm1d)
    np.testing.assert_allclose(fused(x).numpy(), model(x).numpy(), rtol=1e-6)


# ----- GELU without Numba -----------------------------------------------------------------
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 2e-15), (np.float32, 2e-7)],
                         ids=["f64", "f32"])
def test_erf_matches_math_erf(dtype, rtol):
    x = np.concatenate([np.linspace(-8, 8, 4001), [0.0, 1.9999999, 2.0, 40.0, -1e30]])
    got = erf(x.astype(dtype))
    want = np.array([math.erf(v) for v in x.astype(dtype).astype(np.float64)])
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)
    assert np.isnan(erf(np.array([np.nan], dtype)))[0]


@pytest.mark.parametrize("backend", mg.backend.available())
def test_gelu_float32_matches_torch_on_every_backend(backend):
    t = torch()
    x = np.random.default_rng(4).standard_normal((64, 33)).astype(np.float32) * 4
    with mg.backend.use(backend):
        y = nn.GELU()(x).numpy()
    # torch's float32 GELU computes 1 + erf in float32, which cancels for x << 0 (a
    # relative error up to ~1e-4 near x = -3); ours equals torch's float64 GELU there.
    want = t.nn.functional.gelu(t.from_numpy(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(y, t.nn.functional.gelu(t.from_numpy(x)).numpy(),
                               rtol=1e-6, atol=1e-6)
