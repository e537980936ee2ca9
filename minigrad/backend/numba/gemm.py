"""Numba GEMM: c += op(a) @ op(b), packed and blocked for the caches; the twin of
csrc/gemm.c, with its loop nest and packed layouts.

Operands are given as (src, offsets, trans): row r of the matrix starts at
src[offsets[r]] (src flat), and trans reads it transposed:
    op(a)[i, k] = src[offsets[i] + k], or src[offsets[k] + i] when trans.
A dense matrix has offsets = arange(rows) * columns (``dense``); a convolution's
im2col matrix is the zero-padded image with one offset per kernel tap, so the
convolutions multiply by it without writing it out (the implicit GEMM of
csrc/conv2d_impl.h).

Loop nest of ``gemm_operands`` (one thread, rows [row_start, row_stop) of c):
    j0: NC columns of c
      k0: KC of the reduction; the KC x NC block of op(b) packed once into NR-column
          panels (p-major inside a panel: NR contiguous values per step)
        i0: MC rows; their KC values of op(a) packed into MR-row panels (MR values
            per step), the block staying in L2
          jr, ir: one MR x NR tile per ``microkernel.tile_product`` call, its sum
                  over the k block then added to c.
Packing makes every operand contiguous whatever its transpose flag and pads the
panels with zeros (0 * 0 adds nothing, even next to an inf), so the micro-kernel never
branches; a tile past the edge of c is computed whole and only its valid part added.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_matmul
from .jit import jit, parallel_jit
from .microkernel import MR, panel_width, tile_product
from .threads import get_num_threads

KC, NC = 256, 4096                 # MG_GEMM_KC_F32 / _F64, MG_GEMM_NC of mg_internal.h
MC_F32, MC_F64 = 768, 256          # MG_GEMM_MC_*: the packed A block in L2


@jit
def dense(a, trans):
    """The operand (src, offsets, trans) of a C-contiguous matrix a, read as a.T when
    trans."""
    return a.reshape(a.size), np.arange(a.shape[0]) * a.shape[1], trans


@jit
def pack_a(a, rows, k_range, out):
    """MR-row panels of op(a)[r0:r1, k0:k1], rows = (r0, r1), k_range = (k0, k1):
    out[panel*kc*MR + p*MR + i] = op(a)[r0 + panel*MR + i, k0 + p], zero past r1."""
    src, offsets, trans = a
    (r0, r1), (k0, k1) = rows, k_range
    kc = k1 - k0
    for i0 in range(0, r1 - r0, MR):
        panel = out[i0 * kc:(i0 + MR) * kc]
        mr = min(MR, r1 - r0 - i0)
        if mr < MR:
            panel[:] = 0
        if trans:  # the rows' values of one k are contiguous in src
            for p in range(kc):
                start = offsets[k0 + p] + r0 + i0
                for i in range(mr):
                    panel[p * MR + i] = src[start + i]
        else:
            for i in range(mr):
                start = offsets[r0 + i0 + i] + k0
                for p in range(kc):
                    panel[p * MR + i] = src[start + p]


@jit
def _pack_b(b, k_range, j_range, nr, out):
    """NR-column panels of op(b)[k0:k1, j0:j1]: out[panel*kc*NR + p*NR + j] =
    op(b)[k0 + p, j0 + panel*NR + j], zero past j1."""
    src, offsets, trans = b
    (k0, k1), (j0, j1) = k_range, j_range
    kc = k1 - k0
    starts = np.empty(nr, dtype=np.int64)
    for js in range(0, j1 - j0, nr):
        panel = out[js * kc:(js + nr) * kc]
        width = min(nr, j1 - j0 - js)
        if width < nr:
            panel[:] = 0
        if trans:  # column j of op(b) is contiguous in src: read the panel's columns
            # side by side, write its rows whole (1.5x faster than column by column)
            for j in range(width):
                starts[j] = offsets[j0 + js + j] + k0
            for p in range(kc):
                dst = panel[p * nr:p * nr + width]
                for j in range(width):
                    dst[j] = src[starts[j] + p]
        else:  # slices: LLVM then vectorizes the copy (1.5x faster than indexing src)
            for p in range(kc):
                start = offsets[k0 + p] + j0 + js
                row, dst = src[start:start + width], panel[p * nr:p * nr + width]
                for j in range(width):
                    dst[j] = row[j]


@jit
def macro_kernel(kc, a_pack, b_pack, c, rows, cols, tile, accumulate):
    """c[r0:r1, j0:j1] (+)= the packed blocks' product (rows = (r0, r1), cols = (j0,
    j1)), added when accumulate, else written; tile by tile: a whole tile straight
    into c, a tile past its edge into `tile` (MR x NR) first, then its valid part.
    a_pack: MR-row panels (pack_a's layout), b_pack: NR-column panels (_pack_b's);
    c C-contiguous."""
    nr, ldc = panel_width(c), c.shape[1]
    flat = c.reshape(c.size)
    for js in range(cols[0], cols[1], nr):
        b_panel = b_pack[(js - cols[0]) * kc:(js - cols[0] + nr) * kc]
        width = min(nr, cols[1] - js)
        for i0 in range(rows[0], rows[1], MR):
            a_panel = a_pack[(i0 - rows[0]) * kc:(i0 - rows[0] + MR) * kc]
            height = min(MR, rows[1] - i0)
            if height == MR and width == nr:
                tile_product(kc, a_panel, b_panel, flat, i0 * ldc + js, ldc, accumulate)
                continue
            tile_product(kc, a_panel, b_panel, tile, 0, nr, False)
            for i in range(height):
                dst, src = c[i0 + i, js:js + width], tile[i * nr:i * nr + width]
                for j in range(width):
                    dst[j] = dst[j] + src[j] if accumulate else src[j]


@jit
def aligned_empty(size, like):
    """np.empty(size) of like's dtype starting on a 64-byte boundary (Numba aligns to
    32): a vector load of a packed panel then never splits a cache line."""
    buffer = np.empty(size + 64 // like.itemsize, dtype=like.dtype)
    skip = (-buffer.ctypes.data % 64) // buffer.itemsize
    return buffer[skip:skip + size]


@jit
def _round_up(size, step):
    return -(-size // step) * step


@jit
def _even_block(size, limit):
    """The block length that splits `size` into equal parts of at most `limit`."""
    if size == 0:
        return 1
    parts = -(-size // limit)
    return -(-size // parts)


@jit
def gemm_accumulate(a, trans_a, b, trans_b, c, row_start, row_stop):
    """c[row_start:row_stop] += op(a)[row_start:row_stop] @ op(b) on one thread.
    a: (M, K) or (K, M); b: (K, N) or (N, K), both C-contiguous; c: (M, N), all of
    one dtype."""
    depth = b.shape[1] if trans_b else b.shape[0]
    gemm_operands(dense(a, trans_a), dense(b, trans_b), depth, c, row_start, row_stop)


@jit
def gemm_operands(a, b, depth, c, row_start, row_stop):
    """c[row_start:row_stop] += op(a)[row_start:row_stop] @ op(b) on one thread, a and
    b operands (src, offsets, trans) with `depth` columns / rows; c: (M, N),
    C-contiguous."""
    n, nr = c.shape[1], panel_width(c)
    if n == 0 or depth == 0 or row_stop <= row_start:
        return
    # Blocks split each dimension evenly, and the buffers fit the problem: a small
    # product does not pay for (or page-fault through) the largest blocks.
    nb, kb = _even_block(n, NC), _even_block(depth, KC)
    mb = _even_block(row_stop - row_start, MC_F32 if c.itemsize == 4 else MC_F64)
    b_pack = aligned_empty(kb * _round_up(nb, nr), c)
    a_pack = aligned_empty(kb * _round_up(mb, MR), c)
    tile = aligned_empty(MR * nr, c)
    for j0 in range(0, n, nb):
        j1 = min(n, j0 + nb)
        for k0 in range(0, depth, kb):
            k1 = min(depth, k0 + kb)
            _pack_b(b, (k0, k1), (j0, j1), nr, b_pack)
            for i0 in range(row_start, row_stop, mb):
                i1 = min(row_stop, i0 + mb)
                pack_a(a, (i0, i1), (k0, k1), a_pack)
                macro_kernel(k1 - k0, a_pack, b_pack, c, (i0, i1), (j0, j1), tile, True)


@parallel_jit
def _matmul_impl(a, b, trans_a, trans_b, rows_per_task, c):
    """c[e] += op(a[e]) @ op(b[e]) (an operand with one entry is shared), as tasks of
    `rows_per_task` rows of one batch entry; the prange body is one call, which keeps
    the parallel compile short."""
    tasks_per_entry = (c.shape[1] + rows_per_task - 1) // rows_per_task
    for task in prange(c.shape[0] * tasks_per_entry):
        entry = task // tasks_per_entry
        first = (task % tasks_per_entry) * rows_per_task
        gemm_accumulate(a[min(entry, a.shape[0] - 1)], trans_a,
                        b[min(entry, b.shape[0] - 1)], trans_b, c[entry], first,
                        min(c.shape[1], first + rows_per_task))


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b); a (M, K) or (K, M) with trans_a, b (K, N) or (N, K) with
    trans_b, or 3-d batched; returns c (M, N) or (B, M, N), float32/float64.

    Raises TypeError for other dtypes, ValueError for shapes that do not multiply."""
    m, n, _ = check_matmul(a, b, trans_a, trans_b)
    a3 = np.ascontiguousarray(a if a.ndim == 3 else a[None])
    b3 = np.ascontiguousarray(b if b.ndim == 3 else b[None])
    # The 3-d operand's batch, even when it is 0 (a 2-d operand is shared).
    batch = a.shape[0] if a.ndim == 3 else (b.shape[0] if b.ndim == 3 else 1)
    c = np.zeros((batch, m, n), dtype=a.dtype)
    if batch and m and n:
        # Enough tasks for every thread, in multiples of the micro-tile's rows.
        split = -(-get_num_threads() // batch)
        rows = MR * -(-m // (MR * split))
        _matmul_impl(a3, b3, bool(trans_a), bool(trans_b), rows, c)
    return c[0] if a.ndim == 2 and b.ndim == 2 else c
