"""The default differences docs/from_keras.md and docs/from_pytorch.md state, checked
by Keras's and PyTorch's formulas, so the pages cannot drift from the code."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_coming_from_keras_batchnorm_momentum_is_one_minus_keras():
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    bn = nn.BatchNorm1d(3, eps=1e-3, momentum=0.01)  # Keras BatchNormalization()
    bn(mg.tensor(x))
    keras_moving_mean = 0.99 * np.zeros(3) + (1 - 0.99) * x.mean(0)
    np.testing.assert_allclose(bn.running_mean.data, keras_moving_mean, rtol=1e-5)
    unbiased = 0.99 * 1.0 + 0.01 * x.var(0, ddof=1)  # PyTorch's rule, stated on the page
    np.testing.assert_allclose(bn.running_var.data, unbiased, rtol=1e-5)


def test_coming_from_keras_leaky_relu_slope():
    x = mg.tensor([-2.0, 3.0])
    assert nn.LeakyReLU()(x).data.tolist() == pytest.approx([-0.02, 3.0])  # PyTorch 0.01
    assert nn.LeakyReLU(0.3)(x).data.tolist() == pytest.approx([-0.6, 3.0])  # Keras 0.3


def test_coming_from_keras_l2_has_no_half():
    w = mg.tensor(np.array([[1.0, -2.0], [0.5, 3.0]]))
    assert mg.nn.regularizers.L2(0.01)(w).item() == pytest.approx(0.01 * 14.25)


def test_coming_from_keras_he_normal_is_untruncated_variance_scaling_truncates():
    shape = (400, 500)
    std = np.sqrt(2.0 / 500)
    mg.manual_seed(0)
    ours = mg.nn.init.he_normal(shape)
    keras = mg.nn.init.VarianceScaling(2.0, "fan_in", "truncated_normal")(shape)
    assert np.abs(ours).max() > 3 * std  # untruncated tails
    assert np.abs(keras).max() <= 2 * std / 0.87962566103423978 + 1e-9  # cut at 2 sd
    assert keras.std() == pytest.approx(std, rel=0.02)


def test_coming_from_keras_dense_kernel_is_the_transposed_weight():
    lin = nn.Linear(4, 3)
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    kernel, bias = lin.get_weights()[0].T, lin.get_weights()[1]  # Keras Dense layout
    np.testing.assert_allclose(lin(mg.tensor(x)).data, x @ kernel + bias, rtol=1e-5)
    conv = nn.Conv2d(2, 3, 3)
    k = conv.weight.data.transpose(2, 3, 1, 0)  # Keras (KH, KW, C_in, C_out)
    np.testing.assert_array_equal(k.transpose(3, 2, 0, 1), conv.weight.data)


def test_coming_from_pytorch_float64_arrays_become_float32_unless_asked():
    a = np.zeros(3)
    assert mg.tensor(a).dtype == np.float32
    assert mg.tensor(a, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="float32.*float64|float64.*float32"):
        mg.tensor(a) + mg.tensor(a, dtype=np.float64)


def test_coming_from_pytorch_reduction_and_transpose_replacements_match_torch():
    th = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((3, 4))
    x, t = mg.tensor(a, dtype=np.float64), th.tensor(a)
    values, indices = t.max(dim=1)
    np.testing.assert_allclose(x.max(dim=1).data, values.numpy())  # values only
    np.testing.assert_array_equal(x.argmax(dim=1).data, indices.numpy())
    np.testing.assert_allclose(x.var(dim=1, ddof=1).data, t.var(dim=1).numpy())
    np.testing.assert_allclose(x.var(dim=1).data, t.var(dim=1, unbiased=False).numpy())
    np.testing.assert_array_equal(x.swapaxes(0, 1).data, t.transpose(0, 1).numpy())
    np.testing.assert_array_equal(x.transpose(0, 1).data, a)  # numpy: the identity
    with pytest.raises(ValueError, match="ellipsis is not supported"):
        mg.einsum("...ij,...jk->...ik", x, x.T)
