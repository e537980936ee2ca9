"""Numba GEMM: c += op(a) @ op(b), packed and blocked for the caches; the twin of
csrc/gemm.c.

Operands are given as (src, offsets, trans): row r of the matrix starts at
src[offsets[r]] (src flat), and trans reads it transposed:
    op(a)[i, k] = src[offsets[i] + k], or src[offsets[k] + i] when trans.
A dense matrix has offsets = arange(rows) * columns (``dense``); a convolution's
im2col matrix is the zero-padded image with one offset per kernel tap, so the
convolutions multiply by it without writing it out (the implicit GEMM of
csrc/conv2d_impl.h).

Loop nest of ``gemm_operands`` (one thread, rows [row_start, row_stop) of c):
    j0: NC columns of c
      k0: KC of the reduction; the KC x NC block of op(b) packed once into b_pack
        i: MR rows of c; their KC values of op(a) packed into a_pack, then the
           micro-kernel adds a_pack @ b_pack to those rows.
Packing makes every operand contiguous whatever its transpose flag, pads the
reduction to a multiple of K_STEP and the columns to a multiple of ROW_ALIGN with zeros
on both sides (0 * 0 adds nothing, even next to an inf), so the micro-kernel never
branches and never runs a scalar remainder loop.

Why the micro-kernel reads the way it does: Numba leaves LLVM's SLP vectorizer off, so
accumulators in scalars stay scalar, and a loop of constant trip count (a 16-wide
register tile) is unrolled into scalars before the loop vectorizer sees it. What
vectorizes is a loop over the columns of a row. Numba does not tell LLVM that two
array arguments never overlap, and with a dozen rows to check LLVM gives up
vectorizing; the accumulator rows are therefore a fresh local array (its allocation
is known not to alias anything), updated by a loop over contiguous columns that LLVM
turns into FMA vectors (vfmadd...ps on zmm with jit.wide_vectors, 64-byte aligned
rows; checked with inspect_asm in tests/test_numba_gemm.py). Each step keeps MR x
K_STEP = 16 broadcasts of a in registers (6 x 4 spilled 14 of them: 1.2-1.4x slower)
and reads K_STEP vectors of b: 16 FMAs per 4 loads of b and 4 loads and stores of the
accumulators.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_matmul
from .jit import fma_jit, jit, parallel_jit, wide_vectors
from .threads import get_num_threads

MR, K_STEP = 4, 4     # micro-tile: 4 rows of c, 4 steps of the reduction per pass
KC, NC = 256, 512     # cache blocks: KC x NC of op(b) (512 KB in float32) in L2
ROW_ALIGN = 16        # packed rows padded to 16 values: whole 64-byte lines, one zmm


@jit
def dense(a, trans):
    """The operand (src, offsets, trans) of a C-contiguous matrix a, read as a.T when
    trans."""
    return a.reshape(a.size), np.arange(a.shape[0]) * a.shape[1], trans


@jit
def _pack_a(a, rows, k_range, a_pack):
    """a_pack[r, k] = op(a)[r0 + r, k0 + k] for r0 + r in rows = (r0, r1) and k0 + k
    in k_range = (k0, k1), else 0; a_pack is (MR, KP), KP >= k1 - k0."""
    src, offsets, trans = a
    (r0, r1), (k0, k1) = rows, k_range
    a_pack[:] = 0
    rows_here = min(MR, r1 - r0)
    if trans:  # the rows' values of one k are contiguous in src
        for k in range(k1 - k0):
            start = offsets[k0 + k] + r0
            for r in range(rows_here):
                a_pack[r, k] = src[start + r]
    else:
        for r in range(rows_here):
            start = offsets[r0 + r] + k0
            for k in range(k1 - k0):
                a_pack[r, k] = src[start + k]


@jit
def _pack_b(b, k_range, j_range, b_pack):
    """b_pack[k, j] = op(b)[k0 + k, j0 + j] for k0 + k in k_range = (k0, k1) and
    j0 + j in j_range = (j0, j1), else 0 (rows past k1 - k0, columns past j1 - j0);
    b_pack is (KP, NB), KP >= k1 - k0, NB >= j1 - j0."""
    src, offsets, trans = b
    (k0, k1), (j0, j1) = k_range, j_range
    valid, width = k1 - k0, j1 - j0
    b_pack[valid:] = 0
    b_pack[:valid, width:] = 0
    if trans:  # 16 rows of src at a time, so that both sides stream
        for js in range(0, width, 16):
            group = offsets[j0 + js:j0 + min(width, js + 16)] + k0
            for k in range(valid):
                row = b_pack[k]
                for j in range(group.shape[0]):
                    row[js + j] = src[group[j] + k]
    else:
        for k in range(valid):
            start = offsets[k0 + k] + j0
            row = b_pack[k]
            for j in range(width):
                row[j] = src[start + j]


@jit
def _four(row, k):
    """row[k:k+4] as a tuple of scalars (they stay in registers)."""
    return row[k], row[k + 1], row[k + 2], row[k + 3]


@fma_jit
def _micro_kernel(a_pack, b_pack, c_rows):
    """c_rows (R <= MR, W) += (a_pack (MR, KP) @ b_pack (KP, NB))[:R, :W], W <= NB;
    NB a multiple of ROW_ALIGN, b_pack 64-byte aligned."""
    wide_vectors()
    depth, width = b_pack.shape
    acc = aligned_empty(MR * width, c_rows).reshape(MR, width)
    acc[:] = 0
    acc0, acc1, acc2, acc3 = acc[0], acc[1], acc[2], acc[3]
    for k in range(0, depth, K_STEP):
        a00, a01, a02, a03 = _four(a_pack[0], k)
        a10, a11, a12, a13 = _four(a_pack[1], k)
        a20, a21, a22, a23 = _four(a_pack[2], k)
        a30, a31, a32, a33 = _four(a_pack[3], k)
        b0, b1, b2, b3 = b_pack[k], b_pack[k + 1], b_pack[k + 2], b_pack[k + 3]
        for j in range(width):  # left to right: each row a chain of 4 FMAs
            x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
            acc0[j] = acc0[j] + a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3
            acc1[j] = acc1[j] + a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3
            acc2[j] = acc2[j] + a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3
            acc3[j] = acc3[j] + a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3
    for r in range(c_rows.shape[0]):
        for j in range(c_rows.shape[1]):
            c_rows[r, j] += acc[r, j]


@jit
def aligned_empty(size, like):
    """np.empty(size) of like's dtype starting on a 64-byte boundary (Numba aligns to
    32): rows of a multiple of ROW_ALIGN values then never split a cache line in a
    zmm load or store."""
    buffer = np.empty(size + ROW_ALIGN, dtype=like.dtype)
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
    b operands (src, offsets, trans) with `depth` columns / rows; c: (M, N)."""
    n = c.shape[1]
    if n == 0 or depth == 0 or row_stop <= row_start:
        return
    nb, kb = _even_block(n, NC), _even_block(depth, KC)
    kp_max = _round_up(kb, K_STEP)
    b_buffer = aligned_empty(kp_max * _round_up(nb, ROW_ALIGN), c)
    a_buffer = np.empty(MR * kp_max, dtype=c.dtype)
    for j0 in range(0, n, nb):
        width = min(nb, n - j0)
        padded = _round_up(width, ROW_ALIGN)
        for k0 in range(0, depth, kb):
            k_range = (k0, min(depth, k0 + kb))
            kp = _round_up(k_range[1] - k0, K_STEP)
            b_pack = b_buffer[:kp * padded].reshape(kp, padded)
            a_pack = a_buffer[:MR * kp].reshape(MR, kp)
            _pack_b(b, k_range, (j0, j0 + width), b_pack)
            for i in range(row_start, row_stop, MR):
                _pack_a(a, (i, row_stop), k_range, a_pack)
                _micro_kernel(a_pack, b_pack, c[i:min(i + MR, row_stop), j0:j0 + width])


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
