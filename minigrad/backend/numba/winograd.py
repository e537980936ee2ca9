"""Numba Winograd F(m x m, 3x3) conv2d, m = 2 or 4: the forward and dw, twins of
csrc/winograd.c (contract, algorithm, layouts and edge handling there; the matrices
are backend/winograd_ref.py's MATRICES: G passed in, B^T and A^T spelled out in
winograd_transforms.py).

Tiles are numbered over all images and processed in blocks of `tb` (the C kernel's
rule: V and M of a block about 1 MB), in panels of NR tiles (the GEMM's panel width):
    forward (one prange task per block): the transformed weights U[e] (F x C) packed
      for the GEMM once per call; input transform (channel, panel) -> V[e] written as
      the GEMM's packed op(b); a*a products M[e] = U[e] @ V[e] by the GEMM's
      macro-kernel on the packed operands (no packing per product); output transform
      (filter, panel), bias, ReLU, bounds-checked;
    dw (one prange task per thread, blocks k, k + threads, ...): V[e]^T and the dy
      transform Z[e] (F x tiles) written packed; dU[e] += Z[e] @ V[e]^T into the
      thread's partial sums, added in thread order afterwards (so a given thread count
      always gives the same bits, as in C).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_conv2d_winograd, check_conv2d_winograd_backward_weight
from ..winograd_ref import DEFAULT_TILE, MATRICES, tile_grid
from .gemm import aligned_empty, dense, macro_kernel, pack_a
from .jit import jit, parallel_jit
from .microkernel import MR, panel_width
from .threads import threads_for
from .winograd_transforms import (dy_panels, filter_transform, input_panels, output_panels,
                                  tile_positions)

BLOCK_BYTES, MAX_TB, TB_STEP = 1 << 20, 512, 32   # WINO_BLOCK_BYTES ... in winograd.c


@jit
def _round_up(size, step):
    return -(-size // step) * step


@jit
def _packed_weights(u):
    """U[e] (F x C) as the GEMM's MR-row panels, F padded to a multiple of MR."""
    aa, f, c = u.shape
    up = aligned_empty(aa * _round_up(f, MR) * c, u).reshape(aa, _round_up(f, MR) * c)
    for e in range(aa):
        pack_a(dense(u[e], False), (0, f), (0, c), up[e])
    return up


@jit
def _forward_block(x, up, a, bias, relu, pad, grid, t0, nb, y):
    """y's outputs of tiles t0 .. t0 + nb - 1."""
    channels, aa, f = x.shape[1], a * a, y.shape[1]
    nr = panel_width(x)
    fp, cols = up.shape[1] // channels, _round_up(nb, nr)
    pos = tile_positions(t0, nb, grid, a - 2)
    v = aligned_empty(aa * cols * channels, x).reshape(aa, cols // nr, channels, nr)
    mm = np.empty((aa, fp, cols), dtype=x.dtype)
    tile = aligned_empty(MR * nr, x)
    input_panels(x, a, pad, pos, v, False)
    for e in range(aa):
        macro_kernel(channels, up[e], v[e].reshape(v[e].size), mm[e], (0, fp), (0, cols),
                     tile, False)
    output_panels(mm, a, bias, relu, pos, y)


@parallel_jit
def _forward_impl(x, up, a, bias, relu, pad, grid, tb, tiles, y):
    """y = Winograd conv of x; one prange task per block of tb tiles."""
    for k in prange((tiles + tb - 1) // tb):
        _forward_block(x, up, a, bias, relu, pad, grid, k * tb, min(tb, tiles - k * tb), y)


@jit
def _dw_blocks(x, dy, a, pad, grid, tb, tiles, first, step, du):
    """du (a*a, F padded, C padded) += Z @ V^T over blocks first, first + step, ..."""
    channels, filters, aa = x.shape[1], dy.shape[1], a * a
    nr = panel_width(x)
    fp, cp = du.shape[1], du.shape[2]
    tile = aligned_empty(MR * nr, x)
    for k in range(first, (tiles + tb - 1) // tb, step):
        t0 = k * tb
        nb = min(tb, tiles - t0)
        pos = tile_positions(t0, nb, grid, a - 2)
        depth = _round_up(nb, nr)
        v = np.zeros((aa, cp // nr, depth, nr), dtype=x.dtype)  # zero: channels past C
        z = np.zeros((aa, fp // MR, depth, MR), dtype=x.dtype)  # zero: filters past F
        input_panels(x, a, pad, pos, v, True)
        dy_panels(dy, a, pos, MR, z)
        for e in range(aa):
            macro_kernel(depth, z[e].reshape(z[e].size), v[e].reshape(v[e].size), du[e],
                         (0, fp), (0, cp), tile, True)


@parallel_jit
def _dw_impl(x, dy, a, pad, grid, tb, tiles, du):
    """du[k] = thread k's sum over its blocks."""
    threads = du.shape[0]
    for k in prange(threads):
        _dw_blocks(x, dy, a, pad, grid, tb, tiles, k, threads, du[k])


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
    u = np.empty(((tile + 2) ** 2, f, c), dtype=x.dtype)
    filter_transform(np.ascontiguousarray(w), MATRICES[tile][1], u)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    _forward_impl(np.ascontiguousarray(x), _packed_weights(u), tile + 2, bias, bool(relu),
                  (ph, pw), (th, tw), block_tiles(c, f, tile), n * th * tw, y)
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
    nr, fp = panel_width(x), -(-f // MR) * MR
    du = np.zeros((threads_for(-(-tiles // tb)), (tile + 2) ** 2, fp, -(-c // nr) * nr),
                  dtype=x.dtype)
    _dw_impl(np.ascontiguousarray(x), np.ascontiguousarray(dy), tile + 2, (ph, pw), (th, tw),
             tb, tiles, du)
    total = du[:, :, :f, :c].sum(axis=0).astype(np.float64).reshape(tile + 2, tile + 2, f, c)
    g = MATRICES[tile][1]
    return np.einsum("ip,ijfc,jq->fcpq", g, total, g).astype(x.dtype)
