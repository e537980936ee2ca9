"""Numba Winograd F(m x m, 3x3) conv2d, m = 2 or 4: the forward and dw, twins of
csrc/winograd.c (contract, algorithm, layouts and edge handling there; the matrices
are backend/winograd_ref.py's MATRICES: G passed in, B^T and A^T spelled out below).

Tiles are numbered over all images and processed in blocks of `tb` (the C kernel's
rule: V and M of a block about 1 MB), one block per prange task:
    input transform (channel, tile) -> v (a*a, C, nb);
    forward: a*a GEMMs m[e] = u[e] (F x C) @ v[e] on the Numba GEMM (gemm_accumulate);
      output transform (filter, tile) from m (a*a, F, nb), bias, ReLU, bounds-checked;
    dw: dy transform (filter, tile) -> z (a*a, F, nb); a*a GEMMs du[block, e] =
      z[e] @ v[e]^T; the blocks' partial sums are added in block order afterwards.
The tile transforms run as C's do: 1-d transforms over streams of the block's tiles,
a column pass then a row pass.
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
    """out = left @ p @ right_t.T for small dense matrices (one filter), as two
    products summed in float64 (a few terms each)."""
    s = np.empty((left.shape[0], p.shape[1]))
    for i in range(left.shape[0]):
        for q in range(p.shape[1]):
            acc = 0.0
            for k in range(p.shape[0]):
                acc += left[i, k] * p[k, q]
            s[i, q] = acc
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            acc = 0.0
            for q in range(s.shape[1]):
                acc += s[i, q] * right_t[j, q]
            out[i, j] = acc


# The tile transforms, hot, spell out the rows of B^T and A^T (winograd_ref.MATRICES)
# as sums, as csrc/winograd_impl.h does: one 1-d transform per column, then per row.

@jit
def _bt4(x0, x1, x2, x3):
    return x0 - x2, x1 + x2, x2 - x1, x1 - x3


@jit
def _bt6(x0, x1, x2, x3, x4, x5):
    return (4 * x0 - 5 * x2 + x4, (x3 + x4) - 4 * (x1 + x2), (x4 - x3) + 4 * (x1 - x2),
            (x4 - x2) + 2 * (x3 - x1), (x4 - x2) - 2 * (x3 - x1), 4 * x1 - 5 * x3 + x5)


@jit
def _at4(x0, x1, x2, x3):
    return x0 + x1 + x2, x1 - x2 - x3


@jit
def _at6(x0, x1, x2, x3, x4, x5):
    p12, m12, p34, m34 = x1 + x2, x1 - x2, x3 + x4, x3 - x4
    return x0 + p12 + p34, m12 + 2 * m34, p12 + 4 * p34, m12 + 8 * m34 + x5


@jit
def _a2(y0, y1):
    return y0, y0 + y1, y0 - y1, -y1


@jit
def _a4(y0, y1, y2, y3):
    e, o, e4, o8 = y0 + y2, y1 + y3, y0 + 4 * y2, 2 * y1 + 8 * y3
    return y0, e + o, e - o, e4 + o8, e4 - o8, y3


@jit
def _bt_streams(a, src, s0, ss, dst, d0, ds, nb):
    """dst[d0 + i*ds, t] = sum_k B^T[i, k] src[s0 + k*ss, t] for the nb tiles t."""
    if a == 4:
        for t in range(nb):
            r0, r1, r2, r3 = _bt4(src[s0, t], src[s0 + ss, t], src[s0 + 2 * ss, t],
                                  src[s0 + 3 * ss, t])
            dst[d0, t], dst[d0 + ds, t], dst[d0 + 2 * ds, t], dst[d0 + 3 * ds, t] = r0, r1, r2, r3
    else:
        for t in range(nb):
            r0, r1, r2, r3, r4, r5 = _bt6(src[s0, t], src[s0 + ss, t], src[s0 + 2 * ss, t],
                                          src[s0 + 3 * ss, t], src[s0 + 4 * ss, t],
                                          src[s0 + 5 * ss, t])
            dst[d0, t], dst[d0 + ds, t], dst[d0 + 2 * ds, t] = r0, r1, r2
            dst[d0 + 3 * ds, t], dst[d0 + 4 * ds, t], dst[d0 + 5 * ds, t] = r3, r4, r5


@jit
def _at_streams(a, src, s0, ss, dst, d0, ds, nb):
    """dst[d0 + i*ds, t] = sum_k A^T[i, k] src[s0 + k*ss, t] (a -> m = a - 2)."""
    if a == 4:
        for t in range(nb):
            dst[d0, t], dst[d0 + ds, t] = _at4(src[s0, t], src[s0 + ss, t],
                                               src[s0 + 2 * ss, t], src[s0 + 3 * ss, t])
    else:
        for t in range(nb):
            r0, r1, r2, r3 = _at6(src[s0, t], src[s0 + ss, t], src[s0 + 2 * ss, t],
                                  src[s0 + 3 * ss, t], src[s0 + 4 * ss, t], src[s0 + 5 * ss, t])
            dst[d0, t], dst[d0 + ds, t], dst[d0 + 2 * ds, t], dst[d0 + 3 * ds, t] = r0, r1, r2, r3


@jit
def _a_streams(a, src, s0, ss, dst, d0, ds, nb):
    """dst[d0 + i*ds, t] = sum_k A[i, k] src[s0 + k*ss, t] (m = a - 2 -> a)."""
    if a == 4:
        for t in range(nb):
            r0, r1, r2, r3 = _a2(src[s0, t], src[s0 + ss, t])
            dst[d0, t], dst[d0 + ds, t], dst[d0 + 2 * ds, t], dst[d0 + 3 * ds, t] = r0, r1, r2, r3
    else:
        for t in range(nb):
            r0, r1, r2, r3, r4, r5 = _a4(src[s0, t], src[s0 + ss, t], src[s0 + 2 * ss, t],
                                         src[s0 + 3 * ss, t])
            dst[d0, t], dst[d0 + ds, t], dst[d0 + 2 * ds, t] = r0, r1, r2
            dst[d0 + 3 * ds, t], dst[d0 + 4 * ds, t], dst[d0 + 5 * ds, t] = r3, r4, r5


@jit
def _tile_positions(t0, nb, grid, m):
    """Image, first output row and column of tiles t0 .. t0 + nb - 1."""
    th, tw = grid
    img, row, col = np.empty(nb, np.int64), np.empty(nb, np.int64), np.empty(nb, np.int64)
    for t in range(nb):
        g = t0 + t
        img[t], rem = g // (th * tw), g % (th * tw)
        row[t], col[t] = m * (rem // tw), m * (rem % tw)
    return img, row, col


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
def _input_transform(x, a, pad, grid, t0, v):
    """v[e, c, t] = (B^T d B)[e] for the a x a patch d of tile t0 + t (zeros outside
    x): per channel, the patches are gathered into a*a streams over the tiles, then a
    column pass and a row pass of 1-d transforms, as csrc/winograd_impl.h."""
    h, w = x.shape[2], x.shape[3]
    nb = v.shape[2]
    img, row, col = _tile_positions(t0, nb, grid, a - 2)
    p = np.empty((a * a, nb), dtype=x.dtype)
    s = np.empty((a * a, nb), dtype=x.dtype)
    for c in range(x.shape[1]):
        for t in range(nb):
            n, r0, c0 = img[t], row[t] - pad[0], col[t] - pad[1]
            if r0 >= 0 and c0 >= 0 and r0 + a <= h and c0 + a <= w:
                for i in range(a):
                    for j in range(a):
                        p[i * a + j, t] = x[n, c, r0 + i, c0 + j]
            else:
                for i in range(a):
                    for j in range(a):
                        r, q = r0 + i, c0 + j
                        p[i * a + j, t] = x[n, c, r, q] if 0 <= r < h and 0 <= q < w else 0.0
        for j in range(a):
            _bt_streams(a, p, j, a, s, j, a, nb)
        vc = v[:, c, :]
        for i in range(a):
            _bt_streams(a, s, i * a, 1, vc, i * a, 1, nb)


@jit
def _output_transform(mm, a, bias, relu, grid, t0, y):
    """y's m x m outputs of tile t0 + t: A^T M A + bias (then ReLU); outputs past OH
    or OW are dropped. NaN is kept by the ReLU."""
    oh, ow = y.shape[2], y.shape[3]
    m, nb = a - 2, mm.shape[2]
    img, row, col = _tile_positions(t0, nb, grid, m)
    s = np.empty((m * a, nb), dtype=mm.dtype)
    o = np.empty((m * m, nb), dtype=mm.dtype)
    for f in range(mm.shape[1]):
        mf = mm[:, f, :]
        for j in range(a):
            _at_streams(a, mf, j, a, s, j, a, nb)
        for i in range(m):
            _at_streams(a, s, i * a, 1, o, i * m, 1, nb)
        for t in range(nb):
            n, r0, c0 = img[t], row[t], col[t]
            for i in range(min(m, oh - r0)):
                for j in range(min(m, ow - c0)):
                    val = o[i * m + j, t] + bias[f]
                    y[n, f, r0 + i, c0 + j] = 0.0 if relu and val <= 0 else val


@jit
def _dy_transform(dy, a, grid, t0, z):
    """z[e, f, t] = (A dY A^T)[e] for dY the m x m tile t0 + t of dy (zeros past OH or
    OW)."""
    oh, ow = dy.shape[2], dy.shape[3]
    m, nb = a - 2, z.shape[2]
    img, row, col = _tile_positions(t0, nb, grid, m)
    q = np.empty((m * m, nb), dtype=dy.dtype)
    s = np.empty((a * m, nb), dtype=dy.dtype)
    for f in range(dy.shape[1]):
        for t in range(nb):
            n, r0, c0 = img[t], row[t], col[t]
            for i in range(m):
                for j in range(m):
                    inside = r0 + i < oh and c0 + j < ow
                    q[i * m + j, t] = dy[n, f, r0 + i, c0 + j] if inside else 0.0
        for j in range(m):
            _a_streams(a, q, j, m, s, j, m, nb)
        zf = z[:, f, :]
        for i in range(a):
            _a_streams(a, s, i * m, 1, zf, i * a, 1, nb)


@parallel_jit
def _forward_impl(x, u, a, bias, relu, pad, grid, tb, tiles, y):
    """y = Winograd conv of x; one prange task per block of tb tiles."""
    c, f, aa = x.shape[1], u.shape[1], u.shape[0]
    blocks = (tiles + tb - 1) // tb
    for k in prange(blocks):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        v = np.empty((aa, c, nb), dtype=x.dtype)
        mm = np.zeros((aa, f, nb), dtype=x.dtype)
        _input_transform(x, a, pad, grid, t0, v)
        for e in range(aa):
            gemm_accumulate(u[e], False, v[e], False, mm[e], 0, f)
        _output_transform(mm, a, bias, relu, grid, t0, y)


@parallel_jit
def _dw_impl(x, dy, a, pad, grid, tb, tiles, du):
    """du[k] = sum over block k's tiles of Z @ V^T; one prange task per block."""
    c, f, aa = x.shape[1], dy.shape[1], du.shape[1]
    for k in prange(du.shape[0]):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        v = np.empty((aa, c, nb), dtype=x.dtype)
        z = np.empty((aa, f, nb), dtype=x.dtype)
        _input_transform(x, a, pad, grid, t0, v)
        _dy_transform(dy, a, grid, t0, z)
        for e in range(aa):
            gemm_accumulate(z[e], False, v[e], True, du[k, e], 0, f)


def block_tiles(c: int, f: int, tile: int) -> int:
    """Tiles per block: V and M of a block (a*a * (C + F) * tb floats) about
    BLOCK_BYTES, a multiple of TB_STEP in [TB_STEP, MAX_TB] (winograd.c's rule)."""
    per_tile = (tile + 2) ** 2 * (c + f) * 4
    return int(min(MAX_TB, max(TB_STEP, BLOCK_BYTES // per_tile // TB_STEP * TB_STEP)))


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
    g = MATRICES[tile][1]
    u = np.empty(((tile + 2) ** 2, f, c), dtype=x.dtype)
    _filter_transform(np.ascontiguousarray(w), g, u)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    _forward_impl(np.ascontiguousarray(x), u, tile + 2, bias, bool(relu), (ph, pw), (th, tw),
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
    tiles, tb = n * th * tw, block_tiles(c, f, tile)
    du = np.zeros((-(-tiles // tb), (tile + 2) ** 2, f, c), dtype=x.dtype)
    _dw_impl(np.ascontiguousarray(x), np.ascontiguousarray(dy), tile + 2, (ph, pw), (th, tw),
             tb, tiles, du)
    total = du.sum(axis=0).astype(np.float64).reshape(tile + 2, tile + 2, f, c)
    g = MATRICES[tile][1]
    return np.einsum("ip,ijfc,jq->fcpq", g, total, g).astype(x.dtype)
