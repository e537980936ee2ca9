"""Numba Winograd F(m x m, 3x3) conv2d, m = 2 or 4: the forward and dw, twins of
csrc/winograd.c (contract, algorithm, layouts and edge handling there; the matrices
are backend/winograd_ref.py's MATRICES, passed in as arrays).

Tiles are numbered over all images and processed in blocks of `tb` (the C kernel's
rule: V and M of a block about 1 MB), one block per prange task:
    input transform (channel, tile) -> v (a*a, C, nb);
    forward: a*a GEMMs m[e] = u[e] (F x C) @ v[e] on the Numba GEMM (gemm_accumulate);
      output transform (filter, tile) from m (a*a, F, nb), bias, ReLU, bounds-checked;
    dw: dy transform (filter, tile) -> z (a*a, F, nb); a*a GEMMs du[block, e] =
      z[e] @ v[e]^T; the blocks' partial sums are added in block order afterwards.
The transforms are small dense matrix products (zeros multiplied too): simpler than
C's spelled-out sums, and the GEMMs dominate at the channel counts "auto" picks.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_conv2d_winograd, check_conv2d_winograd_backward_weight
from ..winograd_ref import DEFAULT_TILE, MATRICES, tile_grid
from .gemm import gemm_accumulate
from .jit import jit, parallel_jit

BLOCK_BYTES, MAX_TB, TB_STEP = 1 << 20, 512, 32   # WINO_BLOCK_BYTES ... in winograd.c


@jit
def _sandwich(left, p, right_t, out):
    """out = left @ p @ right_t.T for small dense matrices (one tile), summed in
    float64 (the products are a few terms each)."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            acc = 0.0
            for k in range(p.shape[0]):
                row = 0.0
                for q in range(p.shape[1]):
                    row += p[k, q] * right_t[j, q]
                acc += left[i, k] * row
            out[i, j] = acc


@jit
def _filter_transform(w, g, u):
    """u[e, f, c] = (G g G^T)[e] for g = w[f, c]."""
    a = g.shape[0]
    r = np.empty((a, a), dtype=np.float64)
    for f in range(w.shape[0]):
        for c in range(w.shape[1]):
            _sandwich(g, w[f, c].astype(np.float64), g, r)
            for e in range(a * a):
                u[e, f, c] = r[e // a, e % a]


@jit
def _input_transform(x, bt, pad, grid, t0, v):
    """v[e, c, t] = (B^T d B)[e] for the patch d of tile t0 + t (zeros outside x)."""
    h, w = x.shape[2], x.shape[3]
    th, tw = grid
    a = bt.shape[0]
    m = a - 2
    p = np.empty((a, a), dtype=x.dtype)
    r = np.empty((a, a), dtype=x.dtype)
    for c in range(x.shape[1]):
        for t in range(v.shape[2]):
            g = t0 + t
            img, rem = g // (th * tw), g % (th * tw)
            r0, c0 = m * (rem // tw) - pad[0], m * (rem % tw) - pad[1]
            for i in range(a):
                for j in range(a):
                    rr, q = r0 + i, c0 + j
                    p[i, j] = x[img, c, rr, q] if 0 <= rr < h and 0 <= q < w else 0.0
            _sandwich(bt, p, bt, r)
            for e in range(a * a):
                v[e, c, t] = r[e // a, e % a]


@jit
def _output_transform(mm, at, bias, relu, grid, t0, y):
    """y's m x m outputs of tile t0 + t: A^T M A + bias (then ReLU); outputs past OH
    or OW are dropped. NaN is kept by the ReLU."""
    oh, ow = y.shape[2], y.shape[3]
    th, tw = grid
    m, a = at.shape
    t_m = np.empty((a, a), dtype=mm.dtype)
    o = np.empty((m, m), dtype=mm.dtype)
    for f in range(mm.shape[1]):
        for t in range(mm.shape[2]):
            g = t0 + t
            img, rem = g // (th * tw), g % (th * tw)
            r0, c0 = m * (rem // tw), m * (rem % tw)
            for e in range(a * a):
                t_m[e // a, e % a] = mm[e, f, t]
            _sandwich(at, t_m, at, o)
            for i in range(min(m, oh - r0)):
                for j in range(min(m, ow - c0)):
                    val = o[i, j] + bias[f]
                    y[img, f, r0 + i, c0 + j] = 0.0 if relu and val <= 0 else val


@jit
def _dy_transform(dy, a_mat, grid, t0, z):
    """z[e, f, t] = (A dY A^T)[e] for dY the m x m tile t0 + t of dy (zeros past OH or
    OW); a_mat = A = (A^T)^T."""
    oh, ow = dy.shape[2], dy.shape[3]
    th, tw = grid
    a, m = a_mat.shape
    q = np.empty((m, m), dtype=dy.dtype)
    r = np.empty((a, a), dtype=dy.dtype)
    for f in range(dy.shape[1]):
        for t in range(z.shape[2]):
            g = t0 + t
            img, rem = g // (th * tw), g % (th * tw)
            r0, c0 = m * (rem // tw), m * (rem % tw)
            for i in range(m):
                for j in range(m):
                    inside = r0 + i < oh and c0 + j < ow
                    q[i, j] = dy[img, f, r0 + i, c0 + j] if inside else 0.0
            _sandwich(a_mat, q, a_mat, r)
            for e in range(a * a):
                z[e, f, t] = r[e // a, e % a]


@parallel_jit
def _forward_impl(x, u, bt, at, bias, relu, pad, grid, tb, tiles, y):
    """y = Winograd conv of x; one prange task per block of tb tiles."""
    c, f, aa = x.shape[1], u.shape[1], u.shape[0]
    blocks = (tiles + tb - 1) // tb
    for k in prange(blocks):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        v = np.empty((aa, c, nb), dtype=x.dtype)
        mm = np.zeros((aa, f, nb), dtype=x.dtype)
        _input_transform(x, bt, pad, grid, t0, v)
        for e in range(aa):
            gemm_accumulate(u[e], False, v[e], False, mm[e], 0, f)
        _output_transform(mm, at, bias, relu, grid, t0, y)


@parallel_jit
def _dw_impl(x, dy, bt, a_mat, pad, grid, tb, tiles, du):
    """du[k] = sum over block k's tiles of Z @ V^T; one prange task per block."""
    c, f, aa = x.shape[1], dy.shape[1], du.shape[1]
    for k in prange(du.shape[0]):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        v = np.empty((aa, c, nb), dtype=x.dtype)
        z = np.empty((aa, f, nb), dtype=x.dtype)
        _input_transform(x, bt, pad, grid, t0, v)
        _dy_transform(dy, a_mat, grid, t0, z)
        for e in range(aa):
            gemm_accumulate(z[e], False, v[e], True, du[k, e], 0, f)


def block_tiles(c: int, f: int, tile: int) -> int:
    """Tiles per block: V and M of a block (a*a * (C + F) * tb floats) about
    BLOCK_BYTES, a multiple of TB_STEP in [TB_STEP, MAX_TB] (winograd.c's rule)."""
    per_tile = (tile + 2) ** 2 * (c + f) * 4
    return int(min(MAX_TB, max(TB_STEP, BLOCK_BYTES // per_tile // TB_STEP * TB_STEP)))


def _matrices(tile, dtype):
    return tuple(np.ascontiguousarray(mat, dtype=dtype) for mat in MATRICES[tile])


def conv2d_winograd_forward(x, w, b, padding, relu=False, tile=DEFAULT_TILE):
    """y (N, F, OH, OW) = conv of x (N, C, H, W) with w (F, C, 3, 3) plus b (F,) at
    stride 1 by Winograd F(tile x tile, 3x3), then ReLU when relu. Raises ValueError
    for shapes (a kernel other than 3x3 included) or tiles, TypeError for dtypes."""
    ph, pw = check_conv2d_winograd(x, w, b, padding, tile)
    n, c, h, wd = x.shape
    f = w.shape[0]
    oh, ow, th, tw = tile_grid(h, wd, ph, pw, tile)
    y = np.empty((n, f, oh, ow), dtype=x.dtype)
    if y.size == 0:
        return y
    if c == 0:   # an empty sum: the bias (then ReLU) alone
        y[...] = 0 if b is None else b.reshape(1, -1, 1, 1)
        return np.maximum(y, 0) if relu else y
    bt, g, at = _matrices(tile, x.dtype)
    u = np.empty(((tile + 2) ** 2, f, c), dtype=x.dtype)
    _filter_transform(np.ascontiguousarray(w), g.astype(np.float64), u)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    _forward_impl(np.ascontiguousarray(x), u, bt, at, bias, bool(relu), (ph, pw), (th, tw),
                  block_tiles(c, f, tile), n * th * tw, y)
    return y


def conv2d_winograd_backward_weight(x, dy, padding, tile=DEFAULT_TILE):
    """dw (F, C, 3, 3) of the 3x3 stride-1 conv of x (N, C, H, W) for upstream dy
    (N, F, OH, OW), by Winograd F(tile x tile, 3x3). Raises as the forward."""
    ph, pw = check_conv2d_winograd_backward_weight(x, dy, padding, tile)
    n, c, h, wd = x.shape
    f = dy.shape[1]
    _, _, th, tw = tile_grid(h, wd, ph, pw, tile)
    if x.size == 0 or dy.size == 0:
        return np.zeros((f, c, 3, 3), dtype=x.dtype)
    bt, g, at = _matrices(tile, x.dtype)
    tiles, tb = n * th * tw, block_tiles(c, f, tile)
    du = np.zeros((-(-tiles // tb), (tile + 2) ** 2, f, c), dtype=x.dtype)
    _dw_impl(np.ascontiguousarray(x), np.ascontiguousarray(dy), bt,
             np.ascontiguousarray(at.T), (ph, pw), (th, tw), tb, tiles, du)
    total = du.sum(axis=0).astype(np.float64).reshape(tile + 2, tile + 2, f, c)
    g = g.astype(np.float64)
    return np.einsum("ip,ijfc,jq->fcpq", g, total, g).astype(x.dtype)
