"""Winograd filter gradient, conv2d_winograd_backward_weight (F(2x2) and F(4x4), 3x3):
every backend against the numpy reference's direct dw in float64 (odd sizes, padding 0,
1, 2, batch 1, float32 within 1e-4 of dw's scale, float64), tile blocks across and
inside images, threads, errors, float32 error next to PyTorch's; and through F.conv2d,
conv_algorithm("winograd") and ("gemm") giving the same y and gradients on every
backend, non-contiguous inputs included."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.backend import numpy_ref as ref

from helpers import to_torch, torch
from test_kernels_winograd import BACKENDS, BOUND, DTYPES, GEOMETRIES, TILES, direct

CHANNELS = [(1, 1), (3, 5), (32, 16)]


def direct_dw(x, dy, padding):
    """dw by the numpy reference's direct conv backward, in float64."""
    w = np.zeros((dy.shape[1], x.shape[1], 3, 3))
    return ref.conv2d_backward(x.astype(np.float64), w, dy.astype(np.float64), (1, 1),
                               padding, need_dx=False, need_dw=True, need_db=False)[1]


def dw_error(dw, expected):
    return float(np.abs(dw - expected).max()) / max(float(np.abs(expected).max()), 1e-30)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("channels", CHANNELS, ids=lambda c: f"c{c[0]}to{c[1]}")
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g[0]}x{g[1]}-p{g[2]}")
def test_winograd_dw_matches_direct(kern, rng, dtype, channels, geometry, tile):
    (c, f), (h, w, pad) = channels, geometry
    x = rng.standard_normal((1, c, h, w)).astype(dtype)
    dy = rng.standard_normal((1, f, h + 2 * pad - 2, w + 2 * pad - 2)).astype(dtype)
    dw = kern.conv2d_winograd_backward_weight(x, dy, (pad, pad), tile=tile)
    assert dw.dtype == dtype and dw.shape == (f, c, 3, 3)
    err = dw_error(dw, direct_dw(x, dy, (pad, pad)))
    assert err <= BOUND[dtype], f"{kern.name} {geometry} F({tile}, 3): {err:.3g}"


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("shape, padding", [
    ((300, 17, 7, 9, 33), (1, 0)),      # blocks span images, the last one partial
    ((2, 200, 41, 37, 8), (0, 2)),      # blocks start and end inside an image
], ids=["across-images", "inside-images"])
def test_winograd_dw_sums_every_block(kern, rng, tile, shape, padding):
    n, c, h, w, f = shape
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    dy = rng.standard_normal((n, f, h + 2 * padding[0] - 2, w + 2 * padding[1] - 2))
    dw = kern.conv2d_winograd_backward_weight(x, dy.astype(np.float32), padding, tile=tile)
    assert dw_error(dw, direct_dw(x, dy, padding)) <= BOUND[np.float32], kern.name


@pytest.mark.parametrize("backend", ["c", "numba"])
@pytest.mark.parametrize("tile", TILES)
def test_winograd_dw_threads(rng, backend, tile):
    """Each thread sums its own blocks, then the partial sums are added in thread order
    (C and Numba alike): a thread count gives the same bits every time, and 1 and 2
    threads agree to rounding."""
    if backend not in BACKENDS:
        pytest.skip(f"the {backend} backend is not available")
    with mg.backend.use(backend):
        kern = mg.backend.current()
    x = rng.standard_normal((40, 4, 27, 29)).astype(np.float32)
    dy = rng.standard_normal((40, 8, 27, 29)).astype(np.float32)
    before = kern.get_num_threads()
    runs = {}
    try:
        for nt in (1, 2, 2):
            kern.set_num_threads(nt)
            runs.setdefault(nt, []).append(
                kern.conv2d_winograd_backward_weight(x, dy, (1, 1), tile=tile))
    finally:
        kern.set_num_threads(before)
    np.testing.assert_array_equal(runs[2][0], runs[2][1])
    expected = direct_dw(x, dy, (1, 1))
    for nt, (dw, *_) in runs.items():
        assert dw_error(dw, expected) <= BOUND[np.float32], nt


def test_winograd_empty_batch_or_channels(kern):
    """N = 0: an empty y and a zero dw; C = 0: y is the bias alone, dw empty."""
    for xs, dys in (((0, 3, 5, 5), (0, 4, 5, 5)), ((2, 0, 5, 5), (2, 4, 5, 5))):
        x, dy = np.ones(xs), np.ones(dys)
        b = np.arange(4.0)
        y = kern.conv2d_winograd_forward(x, np.ones((4, xs[1], 3, 3)), b, (1, 1))
        np.testing.assert_array_equal(y, np.broadcast_to(b.reshape(1, 4, 1, 1), dys))
        dw = kern.conv2d_winograd_backward_weight(x, dy, (1, 1))
        np.testing.assert_array_equal(dw, np.zeros((4, xs[1], 3, 3)))


def test_winograd_dw_rejects_bad_arguments(kern, rng):
    x = rng.standard_normal((2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"dy\(2, 4, 5, 6\) does not match"):
        kern.conv2d_winograd_backward_weight(x, rng.standard_normal((2, 4, 5, 6)), (1, 1))
    with pytest.raises(ValueError, match="tile must be 2 or 4"):
        kern.conv2d_winograd_backward_weight(x, rng.standard_normal((2, 4, 6, 6)), (1, 1),
                                             tile=6)
    with pytest.raises(ValueError, match="expects x"):
        kern.conv2d_winograd_backward_weight(x, rng.standard_normal((4, 6, 6)), (1, 1))


# F(4x4)'s float32 error is 10-40x PyTorch's (csrc/winograd.c's header), F(2x2)'s
# within a few times: how many times PyTorch's error each may reach.
NEAR_TORCH = {2: 10, 4: 50}


@pytest.mark.parametrize("tile", TILES)
def test_winograd_float32_error_near_torch(rng, tile):
    """Forward and dw against the float64 direct conv, next to PyTorch's float32 conv
    on the same data (the CNN's 32 -> 64 layer shape)."""
    th = torch()
    x = rng.standard_normal((16, 32, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) / 10).astype(np.float32)
    dy = rng.standard_normal((16, 64, 14, 14)).astype(np.float32)
    exact_y, exact_dw = direct(x, w, None, (1, 1)), direct_dw(x, dy, (1, 1))
    tx, tw = to_torch(x, True), to_torch(w, True)
    ty = th.nn.functional.conv2d(tx, tw, padding=1)
    ty.backward(to_torch(dy))
    theirs = dw_error(ty.detach().numpy(), exact_y), dw_error(tw.grad.numpy(), exact_dw)
    for name in BACKENDS:
        with mg.backend.use(name):
            k = mg.backend.current()
            ours = (dw_error(k.conv2d_winograd_forward(x, w, None, (1, 1), tile=tile), exact_y),
                    dw_error(k.conv2d_winograd_backward_weight(x, dy, (1, 1), tile=tile),
                             exact_dw))
        for what, mine, torch_err in zip(("y", "dw"), ours, theirs):
            assert mine <= max(NEAR_TORCH[tile] * torch_err, 1e-6), (name, what, mine, torch_err)


# ---------------------------------------------- through F.conv2d: both algorithms agree

OP_CASES = {  # name -> x shape, F, padding, activation
    "batch1_p0": ((1, 3, 9, 7), 4, 0, None),
    "odd_p1_relu": ((3, 16, 11, 5), 16, 1, "relu"),
    "same": ((2, 5, 6, 13), 3, "same", None),
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_conv_algorithms_agree(backend_name, case, dtype):
    """conv_algorithm("winograd") and ("gemm") give the same y, dx, dw and db, from a
    non-contiguous x (a transposed view)."""
    xs, f, padding, activation = OP_CASES[case]
    r = np.random.default_rng(5)
    x_t = r.standard_normal((xs[0], xs[1], xs[3], xs[2])).astype(dtype)
    arrays = [x_t.transpose(0, 1, 3, 2), (r.standard_normal((f, xs[1], 3, 3)) / 3).astype(dtype),
              r.standard_normal(f).astype(dtype)]
    upstream = None
    results = {}
    for algorithm in ("gemm", "winograd"):
        leaves = [mg.Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
        with mg.backend.conv_algorithm(algorithm):
            y = F.conv2d(*leaves, padding=padding, activation=activation)
        assert y._ctx.ctx.algorithm == algorithm
        if upstream is None:
            upstream = r.standard_normal(y.shape).astype(dtype)
        y.backward(mg.Tensor(upstream, dtype=dtype))
        results[algorithm] = [y.data] + [t.grad.data for t in leaves]
    for name, mine, theirs in zip(("y", "dx", "dw", "db"), results["winograd"], results["gemm"]):
        scale = max(float(np.abs(theirs).max()), 1e-30)
        err = float(np.abs(mine - theirs).max()) / scale
        assert err <= 2 * BOUND[dtype], f"{case} {name}: {err:.3g}"
