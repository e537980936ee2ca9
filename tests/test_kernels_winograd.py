"""Winograd F(2x2, 3x3) and F(4x4, 3x3) conv2d forward: every backend's
conv2d_winograd_forward against the numpy reference's direct conv (odd sizes, padding
0, 1, 2, batch 1, C 1/3/32, float32 within 1e-4 of the output's scale as
csrc/winograd.c states, float64), the fused bias + ReLU, NaN, errors; conv_algorithm
(per thread, context manager, the "auto" rule); and through F.conv2d: gradcheck in
float64 and PyTorch parity of the forward and every gradient with y, dx and dw by
Winograd. The filter gradient kernel itself: tests/test_kernels_winograd_dw.py."""
import io
import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.backend import numpy_ref as ref
from minigrad.backend.algorithm import choose_conv_algorithm
from minigrad.diagnostics import explain_backward

from helpers import assert_close, to_torch, torch

BACKENDS = mg.backend.available()
DTYPES = {"f32": np.float32, "f64": np.float64}
# float32: the bound stated in csrc/winograd.c; float64: rounding of the same sums.
BOUND = {np.float32: 1e-4, np.float64: 1e-12}
SIZES = [(1, 1), (2, 3), (3, 3), (5, 7), (7, 5), (28, 28)]
# (H, W, padding) where the 3x3 kernel fits the padded input
GEOMETRIES = [(h, w, p) for h, w in SIZES for p in (0, 1, 2) if min(h, w) + 2 * p >= 3]
CHANNELS = [(1, 1), (3, 5), (32, 32)]
TILES = (2, 4)


def direct(x, w, b, padding, relu=False):
    """The direct conv (numpy reference, in float64), then ReLU."""
    y = ref.conv2d_forward(x.astype(np.float64), w.astype(np.float64),
                           None if b is None else b.astype(np.float64), (1, 1), padding)
    return np.maximum(y, 0) if relu else y


def assert_within_bound(y, expected, dtype, what=""):
    assert y.dtype == dtype and y.shape == expected.shape, what
    scale = max(float(np.abs(expected).max()), 1e-30)
    err = float(np.abs(y - expected).max()) / scale
    assert err <= BOUND[dtype], f"{what}: max error {err:.3g} of the output's scale"


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("channels", CHANNELS, ids=lambda c: f"c{c[0]}to{c[1]}")
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g[0]}x{g[1]}-p{g[2]}")
def test_winograd_matches_direct_conv(kern, rng, dtype, channels, geometry, tile):
    (c, f), (h, w, pad) = channels, geometry
    x = rng.standard_normal((1, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y = kern.conv2d_winograd_forward(x, wt, b, (pad, pad), tile=tile)
    assert_within_bound(y, direct(x, wt, b, (pad, pad)), dtype,
                        f"{kern.name} {geometry} F({tile}, 3)")


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_winograd_batches_tile_blocks_across_images(kern, rng, dtype, tile):
    # 300 images of 7x9: tile blocks span images and the last block is partial.
    x = rng.standard_normal((300, 17, 7, 9)).astype(dtype)
    w = rng.standard_normal((33, 17, 3, 3)).astype(dtype)
    y = kern.conv2d_winograd_forward(x, w, None, (1, 0), tile=tile)
    assert_within_bound(y, direct(x, w, None, (1, 0)), dtype, kern.name)


@pytest.mark.parametrize("tile", TILES)
def test_winograd_blocks_split_inside_images(kern, rng, tile):
    # 2 images of 61x67 (at most 496 tiles each) with 200 channels: blocks of 64 or
    # 128 tiles start and end inside an image, mid tile row, and the last tile row
    # and column are cut by OH and OW.
    x = rng.standard_normal((2, 200, 61, 67)).astype(np.float32)
    w = rng.standard_normal((8, 200, 3, 3)).astype(np.float32)
    y = kern.conv2d_winograd_forward(x, w, None, (0, 2), tile=tile)
    assert_within_bound(y, direct(x, w, None, (0, 2)), np.float32, kern.name)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_winograd_channels_past_one_gemm_k_block(kern, rng, dtype, tile):
    # C = 300 > the GEMM's KC (256): the C kernel cannot pack the transformed weights
    # once per call (csrc/winograd_impl.h) and lets each product pack them itself
    x = rng.standard_normal((2, 300, 6, 5)).astype(dtype)
    w = rng.standard_normal((5, 300, 3, 3)).astype(dtype)
    y = kern.conv2d_winograd_forward(x, w, None, (1, 1), tile=tile)
    assert_within_bound(y, direct(x, w, None, (1, 1)), dtype, kern.name)


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_winograd_fused_bias_relu(kern, rng, dtype, tile):
    x = rng.standard_normal((2, 3, 5, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y = kern.conv2d_winograd_forward(x, w, b, (1, 1), relu=True, tile=tile)
    assert (y >= 0).all()
    assert_within_bound(y, direct(x, w, b, (1, 1), relu=True), dtype, kern.name)


@pytest.mark.parametrize("tile", TILES)
def test_winograd_c_threads_agree(rng, tile):
    """Blocks of tiles are independent: 2 threads give the 1-thread result bit for bit."""
    if "c" not in BACKENDS:
        pytest.skip("the C extension is not built")
    from minigrad.backend import c as c_backend
    # 40 * 14 * 14 = 7840 tiles: 16 blocks of 512, the last one partial
    x = rng.standard_normal((40, 4, 27, 29)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    before = c_backend.get_num_threads()
    try:
        c_backend.set_num_threads(1)
        one = c_backend.conv2d_winograd_forward(x, w, None, (1, 1), tile=tile)
        c_backend.set_num_threads(2)
        two = c_backend.conv2d_winograd_forward(x, w, None, (1, 1), tile=tile)
    finally:
        c_backend.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_winograd_nan_propagates(kern, rng):
    x = rng.standard_normal((1, 2, 10, 10))
    x[0, 1, 7, 2] = np.nan
    w = rng.standard_normal((3, 2, 3, 3))
    for tile in TILES:
        for relu in (False, True):
            y = kern.conv2d_winograd_forward(x, w, None, (1, 1), relu=relu, tile=tile)
            # every output whose 3x3 window covers (7, 2) (the tiles' transforms spread
            # NaN to all their outputs, as any Winograd), and none of the first tile row
            assert np.isnan(y[0, :, 6:9, 1:4]).all(), kern.name
            assert not np.isnan(y[0, :, :tile, :]).any(), kern.name


def test_winograd_rejects_other_kernels(kern, rng):
    x = rng.standard_normal((1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"3x3 kernel, got w\(3, 2, 5, 5\)"):
        kern.conv2d_winograd_forward(x, rng.standard_normal((3, 2, 5, 5)), None, (1, 1))
    with pytest.raises(ValueError, match="padding >= 0"):
        kern.conv2d_winograd_forward(x, rng.standard_normal((3, 2, 3, 3)), None, (-1, 0))
    with pytest.raises(TypeError, match="float32 or float64"):
        kern.conv2d_winograd_forward(x.astype(np.int64), np.ones((3, 2, 3, 3), np.int64),
                                     None, (1, 1))
    with pytest.raises(ValueError, match="tile must be 2 or 4, got 3"):
        kern.conv2d_winograd_forward(x, rng.standard_normal((3, 2, 3, 3)), None, (1, 1),
                                     tile=3)


# --------------------------------------------------------------------- conv_algorithm

def test_conv_algorithm_context_manager_restores_and_is_per_thread():
    assert mg.backend.get_conv_algorithm() == "auto"
    seen = []
    with mg.backend.conv_algorithm("winograd"):
        assert mg.backend.get_conv_algorithm() == "winograd"
        thread = threading.Thread(target=lambda: seen.append(mg.backend.get_conv_algorithm()))
        thread.start()
        thread.join()
        with mg.backend.conv_algorithm("gemm"):
            assert mg.backend.get_conv_algorithm() == "gemm"
        assert mg.backend.get_conv_algorithm() == "winograd"
    assert mg.backend.get_conv_algorithm() == "auto"
    assert seen == ["auto"]


def test_conv_algorithm_plain_call_and_process_default():
    def in_thread():
        mg.backend.conv_algorithm("gemm")   # this thread's choice from now on
        seen.append(mg.backend.get_conv_algorithm())
    seen = []
    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == ["gemm"] and mg.backend.get_conv_algorithm() == "auto"
    mg.backend.set_conv_algorithm("winograd")
    try:
        assert mg.backend.get_conv_algorithm() == "winograd"
    finally:
        mg.backend.set_conv_algorithm("auto")


def test_conv_algorithm_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"conv_algorithm: algorithm must be one of .* "
                                         r"got 'fft'"):
        mg.backend.conv_algorithm("fft")
    with pytest.raises(ValueError, match="set_conv_algorithm"):
        mg.backend.set_conv_algorithm("direct")


def test_conv_algorithm_auto_rule():
    assert choose_conv_algorithm((64, 32, 3, 3), (1, 1), "c") == "winograd"
    assert choose_conv_algorithm((16, 16, 3, 3), (1, 1), "c") == "winograd"
    assert choose_conv_algorithm((16, 8, 3, 3), (1, 1), "c") == "gemm"
    assert choose_conv_algorithm((32, 1, 3, 3), (1, 1), "c") == "gemm"
    assert choose_conv_algorithm((64, 32, 3, 3), (1, 1), "numpy") == "gemm"
    assert choose_conv_algorithm((64, 32, 3, 3), (2, 2), "c") == "gemm"
    with mg.backend.conv_algorithm("winograd"):   # forced where it can run, only
        assert choose_conv_algorithm((32, 1, 3, 3), (1, 1), "numpy") == "winograd"
        assert choose_conv_algorithm((8, 4, 5, 5), (1, 1), "c") == "gemm"
    with mg.backend.conv_algorithm("gemm"):
        assert choose_conv_algorithm((64, 32, 3, 3), (1, 1), "c") == "gemm"


# ------------------------------------------------------------- through F.conv2d (ops)

GRAD_CASES = {  # name -> x shape, F, padding, activation
    "p0": ((1, 3, 5, 7), 4, 0, None),
    "p1_relu": ((2, 2, 5, 4), 3, 1, "relu"),
    "same": ((1, 3, 7, 5), 2, "same", None),
    "p2_relu": ((1, 2, 3, 3), 3, 2, "relu"),
    "p3_dx_by_gemm": ((1, 2, 2, 3), 2, 3, None),
}


def grad_inputs(case, dtype=np.float64):
    xs, f, _, _ = GRAD_CASES[case]
    r = np.random.default_rng(7)
    return [r.standard_normal(xs).astype(dtype),
            (r.standard_normal((f, xs[1], 3, 3)) / 3).astype(dtype),
            r.standard_normal(f).astype(dtype)]


def conv_fn(case):
    _, _, padding, activation = GRAD_CASES[case]
    return lambda x, w, b: F.conv2d(x, w, b, padding=padding, activation=activation)


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_winograd_conv2d_gradcheck(backend_name, case):
    with mg.backend.conv_algorithm("winograd"):
        assert mg.gradcheck(conv_fn(case), grad_inputs(case))


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_winograd_conv2d_matches_torch(backend_name, case, dtype):
    th = torch()
    _, _, padding, activation = GRAD_CASES[case]
    arrays = grad_inputs(case, dtype)
    leaves = [mg.Tensor(a, requires_grad=True, dtype=dtype) for a in arrays]
    with mg.backend.conv_algorithm("winograd"):
        y = conv_fn(case)(*leaves)
    assert y._ctx.ctx.algorithm == "winograd"
    upstream = np.random.default_rng(8).standard_normal(y.shape).astype(dtype)
    y.backward(mg.Tensor(upstream, dtype=dtype))
    tx, tw, tb = (to_torch(a.astype(np.float64), True) for a in arrays)
    ty = th.nn.functional.conv2d(tx, tw, tb, padding=padding)
    ty = th.relu(ty) if activation == "relu" else ty
    ty.backward(to_torch(upstream.astype(np.float64)))
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for mine, theirs, name in zip([y, *leaves], [ty, tx.grad, tw.grad, tb.grad],
                                  ["y", "dx", "dw", "db"]):
        assert_close(getattr(mine, "grad", None) if name != "y" else mine, theirs,
                     what=f"{case} {name}", **tol)


def test_explain_backward_names_the_algorithm():
    x = mg.Tensor(np.ones((1, 2, 4, 4)), requires_grad=True, dtype=np.float64)
    w = mg.Tensor(np.ones((2, 2, 3, 3)), requires_grad=True, dtype=np.float64)
    for algorithm in ("winograd", "gemm"):
        with mg.backend.conv_algorithm(algorithm):
            loss = F.conv2d(x, w, padding=1).sum()
        lines = explain_backward(loss, file=io.StringIO())
        assert any("Conv2d" in line and f"[ran: {algorithm}]" in line for line in lines)
