"""Numba Winograd F(2x2, 3x3) conv2d forward: the twin of csrc/winograd.c (contract,
algorithm, layouts and edge handling there; matrices in backend/winograd_ref.py).

Tiles are numbered over all images and processed in blocks of `tb` (the C kernel's
rule: V and M of a block about 2 MB), one block per prange task:
    input transform (channel, tile) -> v (16, C, nb);
    16 GEMMs m[e] = u[e] (F x C) @ v[e] on the Numba GEMM (gemm.gemm_accumulate);
    output transform (filter, tile) from m (16, F, nb), bias, ReLU, bounds-checked.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_conv2d_winograd
from ..winograd_ref import tile_grid
from .gemm import gemm_accumulate
from .jit import jit, parallel_jit

BLOCK_BYTES, MAX_TB = 2 << 20, 512   # as WINO_BLOCK_BYTES and WINO_MAX_TB in winograd.c


@jit
def _filter_transform(w, u):
    """u[e, f, c] = (G g G^T)[e] for g = w[f, c], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]."""
    for f in range(w.shape[0]):
        for c in range(w.shape[1]):
            g = w[f, c]
            t = np.empty((4, 3), dtype=w.dtype)
            for j in range(3):
                t[0, j] = g[0, j]
                t[1, j] = 0.5 * (g[0, j] + g[1, j] + g[2, j])
                t[2, j] = 0.5 * (g[0, j] - g[1, j] + g[2, j])
                t[3, j] = g[2, j]
            for i in range(4):
                u[4 * i, f, c] = t[i, 0]
                u[4 * i + 1, f, c] = 0.5 * (t[i, 0] + t[i, 1] + t[i, 2])
                u[4 * i + 2, f, c] = 0.5 * (t[i, 0] - t[i, 1] + t[i, 2])
                u[4 * i + 3, f, c] = t[i, 2]


@jit
def _input_transform(x, pad, grid, t0, v):
    """v[e, c, t] = (B^T d B)[e] for the patch d of tile t0 + t (zeros outside x);
    B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. Channel outer, tile inner: each of
    the 16 rows v[e, c] is written in order."""
    h, w = x.shape[2], x.shape[3]
    th, tw = grid
    p = np.empty((4, 4), dtype=x.dtype)
    s = np.empty((4, 4), dtype=x.dtype)
    for c in range(x.shape[1]):
        for t in range(v.shape[2]):
            g = t0 + t
            img, rem = g // (th * tw), g % (th * tw)
            r0, c0 = 2 * (rem // tw) - pad[0], 2 * (rem % tw) - pad[1]
            for i in range(4):
                for j in range(4):
                    r, q = r0 + i, c0 + j
                    p[i, j] = x[img, c, r, q] if 0 <= r < h and 0 <= q < w else 0.0
            for j in range(4):      # s = B^T p
                s[0, j] = p[0, j] - p[2, j]
                s[1, j] = p[1, j] + p[2, j]
                s[2, j] = p[2, j] - p[1, j]
                s[3, j] = p[1, j] - p[3, j]
            for i in range(4):      # (B^T p) B
                v[4 * i, c, t] = s[i, 0] - s[i, 2]
                v[4 * i + 1, c, t] = s[i, 1] + s[i, 2]
                v[4 * i + 2, c, t] = s[i, 2] - s[i, 1]
                v[4 * i + 3, c, t] = s[i, 1] - s[i, 3]


@jit
def _output_transform(m, bias, relu, grid, t0, y):
    """y's 2x2 outputs of tile t0 + t: A^T m A + bias (then ReLU), A^T = [1 1 1 0;
    0 1 -1 -1]; outputs past OH or OW are dropped. NaN is kept by the ReLU."""
    oh, ow = y.shape[2], y.shape[3]
    th, tw = grid
    s = np.empty((2, 4), dtype=m.dtype)
    o = np.empty((2, 2), dtype=m.dtype)
    for f in range(m.shape[1]):
        for t in range(m.shape[2]):
            g = t0 + t
            img, rem = g // (th * tw), g % (th * tw)
            r0, c0 = 2 * (rem // tw), 2 * (rem % tw)
            for j in range(4):      # s = A^T m
                s[0, j] = m[j, f, t] + m[4 + j, f, t] + m[8 + j, f, t]
                s[1, j] = m[4 + j, f, t] - m[8 + j, f, t] - m[12 + j, f, t]
            for i in range(2):      # (A^T m) A + b
                o[i, 0] = s[i, 0] + s[i, 1] + s[i, 2] + bias[f]
                o[i, 1] = s[i, 1] - s[i, 2] - s[i, 3] + bias[f]
            for i in range(min(2, oh - r0)):
                for j in range(min(2, ow - c0)):
                    val = o[i, j]
                    y[img, f, r0 + i, c0 + j] = 0.0 if relu and val <= 0 else val


@parallel_jit
def _winograd_impl(x, u, bias, relu, pad, grid, tb, tiles, y):
    """y = Winograd conv of x; one prange task per block of tb tiles."""
    c, f = x.shape[1], u.shape[1]
    blocks = (tiles + tb - 1) // tb
    for k in prange(blocks):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        v = np.empty((16, c, nb), dtype=x.dtype)
        m = np.zeros((16, f, nb), dtype=x.dtype)
        _input_transform(x, pad, grid, t0, v)
        for e in range(16):
            gemm_accumulate(u[e], False, v[e], False, m[e], 0, f)
        _output_transform(m, bias, relu, grid, t0, y)


def block_tiles(c: int, f: int) -> int:
    """Tiles per block: V and M of a block (16 * (C + F) * tb floats) about
    BLOCK_BYTES, a multiple of 16 in [16, MAX_TB] (winograd.c's rule)."""
    return int(min(MAX_TB, max(16, BLOCK_BYTES // (16 * (c + f) * 4) // 16 * 16)))


def conv2d_winograd_forward(x, w, b, padding, relu=False):
    """y (N, F, OH, OW) = conv of x (N, C, H, W) with w (F, C, 3, 3) plus b (F,) at
    stride 1 by Winograd F(2x2, 3x3), then ReLU when relu. Raises ValueError for shapes
    (a kernel other than 3x3 included), TypeError for dtypes."""
    ph, pw = check_conv2d_winograd(x, w, b, padding)
    n, c, h, wd = x.shape
    f = w.shape[0]
    oh, ow, th, tw = tile_grid(h, wd, ph, pw)
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    if y.size == 0:
        return y
    if c == 0:   # an empty sum: the bias (then ReLU) alone
        y[...] = 0 if b is None else b.reshape(1, -1, 1, 1)
        return np.maximum(y, 0) if relu else y
    u = np.empty((16, f, c), dtype=x.dtype)
    _filter_transform(np.ascontiguousarray(w), u)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    tiles, tb = n * th * tw, block_tiles(c, f)
    _winograd_impl(np.ascontiguousarray(x), u, bias, bool(relu), (ph, pw), (th, tw), tb,
                   tiles, y)
    return y
