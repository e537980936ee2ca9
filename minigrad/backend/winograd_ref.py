"""Winograd F(2x2, 3x3) convolution in numpy: the reference the C and Numba twins are
tested against, and the transform matrices they share.

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). The output
is cut into 2x2 tiles; tile (i, j) reads the 4x4 input patch d at rows 2i - ph .. +3
and columns 2j - pw .. +3 (zeros outside x). With g a 3x3 filter:
    U = G g G^T,  V = B^T d B,  M = sum over channels of U * V (elementwise),
    Y = A^T M A  (the tile's 2x2 outputs; those past OH or OW are dropped).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._check import check_conv2d_winograd

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def tile_grid(h: int, w: int, ph: int, pw: int) -> tuple[int, int, int, int]:
    """(OH, OW, tile rows, tile columns) of a 3x3 stride-1 conv of an h x w input."""
    oh, ow = h + 2 * ph - 2, w + 2 * pw - 2
    return oh, ow, (oh + 1) // 2, (ow + 1) // 2


def conv2d_winograd_forward(x, w, b, padding, relu=False):
    """y (N, F, OH, OW) = conv2d(x (N, C, H, W), w (F, C, 3, 3)) + b (F,) at stride 1,
    then max(y, 0) when relu, by Winograd F(2x2, 3x3). Raises ValueError for shapes
    (a kernel other than 3x3 included), TypeError for dtypes."""
    ph, pw = check_conv2d_winograd(x, w, b, padding)
    n, c, h, wd = x.shape
    oh, ow, th, tw = tile_grid(h, wd, ph, pw)
    xp = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + wd] = x  # 2*th + 2 >= OH + 2 = H + 2*ph
    s = xp.strides
    patches = as_strided(xp, (n, c, th, tw, 4, 4), (s[0], s[1], 2 * s[2], 2 * s[3], s[2], s[3]),
                         writeable=False)
    bt, g, at = (m.astype(x.dtype) for m in (BT, G, AT))
    v = np.einsum("ik,nctukl,jl->nctuij", bt, patches, bt, optimize=True)
    u = np.einsum("ik,fckl,jl->fcij", g, w, g, optimize=True)
    m = np.einsum("fcij,nctuij->nftuij", u, v, optimize=True)
    tiles = np.einsum("ai,nftuij,bj->nftuab", at, m, at, optimize=True)
    y = tiles.transpose(0, 1, 2, 4, 3, 5).reshape(n, -1, 2 * th, 2 * tw)[:, :, :oh, :ow]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    if relu:
        y = np.maximum(y, 0)
    return np.ascontiguousarray(y, dtype=x.dtype)
