"""The per-step shortcuts of the training path against the general code they skip:
Standardized on an input nothing records (one numpy pass instead of two ops), the
uint8 batch gather of ArraySource (np.take in the images' dtype, then one cast), and
the bias+ReLU wrappers' fast check of a Linear epilogue, each bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import numpy_ref
from minigrad.nn.standardized import Standardized
from minigrad.train.sources import ArraySource


def _op_path(model, x):
    return model.net((mg.tensor(x, dtype=x.dtype) - model.mean) * model.inv_std)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_standardized_without_recording_equals_the_ops(dtype):
    x = np.random.default_rng(0).integers(0, 256, (9, 1, 5, 5)).astype(dtype)
    model = Standardized(mg.nn.Flatten(), 72.94, 90.02)
    out = model(mg.tensor(x, dtype=dtype))
    assert out.dtype == dtype and out._ctx is None
    np.testing.assert_array_equal(out.data, _op_path(model, x).data)


def test_standardized_records_when_asked():
    """A gradient wanted for x, a watching tape or anomaly mode take the ops."""
    x = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    model = Standardized(mg.nn.Flatten(), 0.5, 2.0)
    xt = mg.tensor(x, requires_grad=True)
    model(xt).sum().backward()
    np.testing.assert_allclose(xt.grad.data, np.full_like(x, 0.5))
    xw = mg.tensor(x)
    with mg.GradientTape() as tape:
        tape.watch(xw)
        y = model(xw).sum()
    np.testing.assert_allclose(tape.gradient(y, xw).data, np.full_like(x, 0.5))
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="Sub"):
        model(mg.tensor(np.full((2, 3), np.nan, np.float32)))


@pytest.mark.parametrize("n,batch", [(10, 4), (7, 7), (5, 8)])
def test_uint8_batches_equal_fancy_indexing(n, batch):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (n, 1, 3, 3)).astype(np.uint8)
    y = rng.integers(0, 3, n)
    order = rng.permutation(n)
    src = ArraySource(x, y, batch, np.float32)
    for start, (xb, yb) in zip(range(0, n, batch), src.batches(order)):
        idx = order[start:start + batch]
        assert xb.dtype == np.float32
        np.testing.assert_array_equal(xb, x[idx].astype(np.float32))
        np.testing.assert_array_equal(yb, y[idx])


@pytest.mark.skipif("c" not in mg.backend.available(), reason="C extension not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bias_relu_linear_fast_path_matches_reference(dtype):
    from minigrad.backend import c
    rng = np.random.default_rng(3)
    z, b = rng.normal(size=(13, 7)).astype(dtype), rng.normal(size=7).astype(dtype)
    np.testing.assert_array_equal(c.bias_relu_forward(z.copy(), b),
                                  numpy_ref.bias_relu_forward(z.copy(), b))
    y = np.maximum(z, 0)
    dy = rng.normal(size=z.shape).astype(dtype)
    for got, want in zip(c.bias_relu_backward(dy, y), numpy_ref.bias_relu_backward(dy, y)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(ValueError, match="bias must have shape"):
        c.bias_relu_forward(z.copy(), b[:3])
    with pytest.raises(ValueError, match="differ"):
        c.bias_relu_backward(dy, y[:5])
