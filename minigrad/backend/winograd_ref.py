"""Winograd F(m x m, 3x3) convolution in numpy, m = 2 or 4: the reference the C and
Numba twins are tested against, and the transform matrices (the one place they are
written in Python).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). With
a = m + 2, the output is cut into m x m tiles; tile (i, j) reads the a x a input patch
d at rows m*i - ph .. + a - 1 and columns m*j - pw .. + a - 1 (zeros outside x).
With g a 3x3 filter:
    U = G g G^T,  V = B^T d B,  M = sum over channels of U * V (elementwise),
    Y = A^T M A  (the tile's m x m outputs; those past OH or OW are dropped).
The filter gradient is the transpose of that linear map in g: with Z = A dY A^T (dY
the tile's m x m upstream gradient, zero past OH or OW),
    dw = G^T (sum over tiles and images of Z * V) G.
Float32 error against the direct method in float64: csrc/winograd.c's header.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._check import check_conv2d_winograd, check_conv2d_winograd_backward_weight

# (B^T, G, A^T) per tile side m. F(2, 3) interpolates at 0, 1, -1 and infinity: entries
# 0, +-1, +-1/2, exact scalings. F(4, 3) at 0, +-1, +-2 and infinity: entries up to 8
# and down to 1/24, so its float32 roundings are a few times larger (still ~1e-6 of
# the output's scale).
MATRICES = {
    2: (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64),
        np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)),
    4: (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
                 np.float64),
        np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], np.float64)),
}
TILES = tuple(MATRICES)
DEFAULT_TILE = 4   # the kernels' default; ops choose per layer (backend/algorithm.py)


def tile_grid(h: int, w: int, ph: int, pw: int, tile: int = DEFAULT_TILE):
    """(OH, OW, tile rows, tile columns) of a 3x3 stride-1 conv of an h x w input."""
    oh, ow = h + 2 * ph - 2, w + 2 * pw - 2
    return oh, ow, -(-oh // tile), -(-ow // tile)


def _patches(x, ph, pw, tile):
    """(N, C, TH, TW, a, a) read-only view of the zero-padded x: every tile's patch."""
    n, c, h, wd = x.shape
    _, _, th, tw = tile_grid(h, wd, ph, pw, tile)
    xp = np.zeros((n, c, tile * th + 2, tile * tw + 2), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x  # tile * th + 2 >= OH + 2 = H + 2*ph
    s = xp.strides
    return as_strided(xp, (n, c, th, tw, tile + 2, tile + 2),
                      (s[0], s[1], tile * s[2], tile * s[3], s[2], s[3]), writeable=False)


def conv2d_winograd_forward(x, w, b, padding, relu=False, tile=DEFAULT_TILE):
    """y (N, F, OH, OW) = conv2d(x (N, C, H, W), w (F, C, 3, 3)) + b (F,) at stride 1,
    then max(y, 0) when relu, by Winograd F(tile x tile, 3x3), tile 2 or 4. Raises
    ValueError for shapes (a kernel other than 3x3 included) or tiles, TypeError for
    dtypes."""
    ph, pw = check_conv2d_winograd(x, w, b, padding, tile)
    n, _, h, wd = x.shape
    oh, ow, th, tw = tile_grid(h, wd, ph, pw, tile)
    bt, g, at = (m.astype(x.dtype) for m in MATRICES[tile])
    v = np.einsum("ik,nctukl,jl->nctuij", bt, _patches(x, ph, pw, tile), bt, optimize=True)
    u = np.einsum("ik,fckl,jl->fcij", g, w, g, optimize=True)
    m = np.einsum("fcij,nctuij->nftuij", u, v, optimize=True)
    tiles = np.einsum("ai,nftuij,bj->nftuab", at, m, at, optimize=True)
    y = tiles.transpose(0, 1, 2, 4, 3, 5).reshape(n, w.shape[0], tile * th, tile * tw)
    y = y[:, :, :oh, :ow]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    if relu:
        y = np.maximum(y, 0)
    return np.ascontiguousarray(y, dtype=x.dtype)


def conv2d_winograd_backward_weight(x, dy, padding, tile=DEFAULT_TILE):
    """dw (F, C, 3, 3) of the 3x3 stride-1 conv of x (N, C, H, W) for upstream dy
    (N, F, OH, OW), by Winograd F(tile x tile, 3x3). Raises as the forward."""
    ph, pw = check_conv2d_winograd_backward_weight(x, dy, padding, tile)
    n, f, oh, ow = dy.shape
    _, _, th, tw = tile_grid(x.shape[2], x.shape[3], ph, pw, tile)
    bt, g, at = (m.astype(x.dtype) for m in MATRICES[tile])
    v = np.einsum("ik,nctukl,jl->nctuij", bt, _patches(x, ph, pw, tile), bt, optimize=True)
    dyp = np.zeros((n, f, tile * th, tile * tw), dtype=dy.dtype)
    dyp[:, :, :oh, :ow] = dy
    dyt = dyp.reshape(n, f, th, tile, tw, tile).transpose(0, 1, 2, 4, 3, 5)
    z = np.einsum("ai,nftuab,bj->nftuij", at, dyt, at, optimize=True)
    du = np.einsum("nftuij,nctuij->fcij", z, v, optimize=True)
    return np.ascontiguousarray(np.einsum("ip,fcij,jq->fcpq", g, du, g, optimize=True))
