"""The direct conv2d kernels (stride 1, at most 32 taps: a first layer on 1-3 channel
images; csrc/conv2d_direct_impl.h and its twins), on every backend against the numpy
reference and PyTorch: filter counts around the pass width (4 filters per forward pass,
2 per dW pass, so odd and non-multiple counts), rows shorter and longer than a register
block (32), padded rows not a multiple of the dW lane width (16), the 3x3 one-channel
case the kernels specialise and other tap counts, batch 1, float64."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import numpy_ref as ref

BACKENDS = [b for b in mg.backend.available() if b != "numpy"]
R = np.random.default_rng(11)

CASES = [  # x shape, w shape, padding
    ((2, 1, 28, 28), (32, 1, 3, 3), (1, 1)),   # the MNIST first layer (9 taps, specialised)
    ((1, 1, 9, 7), (5, 1, 3, 3), (1, 1)),      # 5 filters: a full pass and a single one
    ((3, 1, 6, 40), (3, 1, 3, 3), (0, 0)),     # rows of 38 outputs: a full block and 6
    ((1, 1, 11, 33), (6, 1, 3, 3), (2, 2)),    # padding 2: 35 outputs, 37-wide rows
    ((2, 2, 7, 8), (7, 2, 3, 3), (1, 1)),      # 18 taps, the general loop
    ((1, 3, 5, 17), (2, 3, 3, 3), (1, 1)),     # 27 taps
    ((2, 1, 8, 8), (9, 1, 5, 5), (2, 2)),      # 25 taps of a 5x5
    ((1, 1, 6, 5), (3, 1, 1, 3), (0, 1)),      # 3 taps in a row, uneven padding
]


def close(actual, expected, dtype, terms):
    """Within float rounding for sums of `terms` products, relative to the largest
    expected magnitude."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    tol = 16 * np.finfo(dtype).eps * np.sqrt(terms)
    scale = max(float(np.max(np.abs(expected))), 1.0)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x{}w{}p{}".format(*c))
def test_direct_conv_matches_reference(backend, dtype, case):
    xs, ws, padding = case
    x = R.standard_normal(xs).astype(dtype)
    w, b = R.standard_normal(ws).astype(dtype), R.standard_normal(ws[0]).astype(dtype)
    with mg.backend.use(backend):
        kern = mg.backend.current()
        y = ref.conv2d_forward(x, w, b, (1, 1), padding)
        close(kern.conv2d_forward(x, w, b, (1, 1), padding), y, dtype, w[0].size)
        dy = R.standard_normal(y.shape).astype(dtype)
        got = kern.conv2d_backward(x, w, dy, (1, 1), padding)
        want = ref.conv2d_backward(x, w, dy, (1, 1), padding)
        pixels = xs[0] * y.shape[2] * y.shape[3]
        for name, g, e, terms in zip(("dx", "dw", "db"), got, want,
                                     (ws[0] * ws[2] * ws[3], pixels, pixels)):
            assert g is not None, name
            close(g, e, dtype, terms)
        # dw and db alone (a first layer needs no dx): the path that skips dx
        _, dw, db = kern.conv2d_backward(x, w, dy, (1, 1), padding, need_dx=False)
        close(dw, want[1], dtype, pixels)
        close(db, want[2], dtype, pixels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_direct_conv_matches_torch_in_float64(backend):
    torch = pytest.importorskip("torch")
    x = R.standard_normal((3, 1, 13, 10))
    w, b = R.standard_normal((5, 1, 3, 3)), R.standard_normal(5)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
    ty.backward(torch.ones_like(ty) * 0.5 + ty.detach())
    with mg.backend.use(backend):
        mx, mw, mb = (mg.tensor(a, requires_grad=True, dtype=np.float64)
                      for a in (x, w, b))
        my = mg.nn.functional.conv2d(mx, mw, mb, padding=1)
        my.backward(mg.tensor(0.5 + my.detach().numpy(), dtype=np.float64))
    np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-10)
