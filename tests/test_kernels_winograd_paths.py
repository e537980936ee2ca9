"""The float32 fast paths of the Winograd kernels (csrc/winograd*.{c,h}) against the
numpy reference's direct conv in float64: patches gathered 8 tiles at a time, outputs
stored and dy tiles loaded 4 at a time (with the tails that fall back to scalar code),
padded rows copied 8 floats wide, V written in the GEMM's packed-B layout, more filters
than one row block of the GEMM; y, dx (the forward on dy, as ops/conv.py runs it) and dw,
float64 alongside, NaN through the vector output path."""
import numpy as np
import pytest

from minigrad.ops.conv import winograd_dx
from minigrad.backend import numpy_ref as ref

from test_kernels_winograd import BOUND, DTYPES, TILES, assert_within_bound, direct
from test_kernels_winograd_dw import direct_dw, dw_error


def direct_dx(w, dy, x_shape, padding):
    """dx by the numpy reference's direct conv backward, in float64."""
    x = np.zeros(x_shape)
    return ref.conv2d_backward(x, w.astype(np.float64), dy.astype(np.float64), (1, 1),
                               padding, need_dx=True, need_dw=False, need_db=False)[0]


# (N, C, H, W, F): widths below 8, exactly 8, and past it by 1 to 7 (the overlapping
# last copy of a padded row); tile counts that leave tails of 1-7 tiles for the 8-wide
# gather and of 1-3 for the 4-wide stores and loads, in one block or across several
SHAPES = [(3, 6, 5, 5, 7), (2, 5, 8, 8, 9), (3, 4, 9, 17, 33), (1, 3, 23, 11, 5),
          (7, 6, 14, 14, 12), (130, 3, 6, 7, 4)]


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("padding", [(0, 0), (1, 1), (2, 1)], ids=["p0", "p1", "p21"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_winograd_y_dx_dw_on_tails_and_edges(kern, rng, shape, padding, dtype, tile):
    n, c, h, w, f = shape
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    y = kern.conv2d_winograd_forward(x, wt, b, padding, tile=tile)
    assert_within_bound(y, direct(x, wt, b, padding), dtype, f"{kern.name} y")
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = winograd_dx(kern, wt, dy, padding, tile=tile)
    assert_within_bound(dx, direct_dx(wt, dy, x.shape, padding), dtype, f"{kern.name} dx")
    dw = kern.conv2d_winograd_backward_weight(x, dy, padding, tile=tile)
    err = dw_error(dw, direct_dw(x, dy, padding))
    assert err <= BOUND[dtype], f"{kern.name} dw: {err:.3g}"


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_winograd_filters_past_one_gemm_row_block(kern, rng, dtype, tile):
    # 800 filters: more than the GEMM's MC rows (768 float, 256 double), so the
    # products over packed weights and packed V walk A in several row blocks
    x = rng.standard_normal((2, 5, 9, 10)).astype(dtype)
    w = rng.standard_normal((800, 5, 3, 3)).astype(dtype)
    y = kern.conv2d_winograd_forward(x, w, None, (1, 1), relu=True, tile=tile)
    assert_within_bound(y, direct(x, w, None, (1, 1), relu=True), dtype, kern.name)


@pytest.mark.parametrize("tile", TILES)
def test_winograd_f32_nan_kept_by_bias_and_relu(kern, rng, tile):
    x = rng.standard_normal((3, 2, 14, 14)).astype(np.float32)
    x[1, 1, 7, 2] = np.nan
    w = rng.standard_normal((5, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    y = kern.conv2d_winograd_forward(x, w, b, (1, 1), relu=True, tile=tile)
    assert np.isnan(y[1, :, 6:9, 1:4]).all(), kern.name
    assert not np.isnan(y[0]).any() and not np.isnan(y[2]).any(), kern.name
    finite = y[~np.isnan(y)]
    assert (finite >= 0).all(), kern.name
