"""Numba GEMM: c += op(a) @ op(b), blocked for the caches; the twin of csrc/gemm.c.

``gemm_accumulate`` is the single-thread building block (the convolutions call it
too); ``matmul`` is the kernel of the interface, split over threads by rows of c.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_matmul
from .jit import fma_jit, jit, parallel_jit
from .threads import get_num_threads

# A KC x NC block of op(b) (at most 256 x 512 floats, 512 KB in float32) stays in L2
# while the rows of a stream through it, and the few rows of c being updated stay in
# L1. Sizes are split evenly (300 = 2 x 150, not 256 + 44).
KC, NC = 256, 512


@jit
def _a_value(a, trans_a, i, k, k_stop, zero):
    """op(a)[i, k], or a zero of c's dtype at k >= k_stop (a float64 literal 0.0 would
    promote the whole float32 update to float64)."""
    if k >= k_stop:
        return zero[0]
    return a[k, i] if trans_a else a[i, k]


@jit
def _a_four(a, trans_a, i, k, k_stop, zero):
    """op(a)[i, k:k+4], zero-padded at k_stop."""
    if k + 3 < k_stop:  # every step but the last of a block
        if trans_a:
            return a[k, i], a[k + 1, i], a[k + 2, i], a[k + 3, i]
        return a[i, k], a[i, k + 1], a[i, k + 2], a[i, k + 3]
    return (_a_value(a, trans_a, i, k, k_stop, zero),
            _a_value(a, trans_a, i, k + 1, k_stop, zero),
            _a_value(a, trans_a, i, k + 2, k_stop, zero),
            _a_value(a, trans_a, i, k + 3, k_stop, zero))


@fma_jit
def _update_rows(a, trans_a, rows, k0, b_block, c_block, zero, spare):
    """c_block[i] += op(a)[i, k0:k0+KB] @ b_block for i in range(*rows), b_block
    (KB, NB). Four rows of c and four k per step share every load of b, and the inner
    loop runs over contiguous j, so LLVM vectorizes it (no reduction there). One loop
    body serves every case, which keeps compile time down: past the last k the row of
    b is `zero` with weight 0, and missing last rows write to `spare`."""
    first, stop = rows
    kb, nb = b_block.shape
    k_stop = k0 + kb
    for i in range(first, stop, 4):
        r1, r2, r3 = min(i + 1, stop - 1), min(i + 2, stop - 1), min(i + 3, stop - 1)
        c0 = c_block[i]
        c1 = c_block[r1] if i + 1 < stop else spare[0, :nb]
        c2 = c_block[r2] if i + 2 < stop else spare[1, :nb]
        c3 = c_block[r3] if i + 3 < stop else spare[2, :nb]
        for k in range(0, kb, 4):
            b0 = b_block[k]
            b1 = b_block[k + 1] if k + 1 < kb else zero[:nb]
            b2 = b_block[k + 2] if k + 2 < kb else zero[:nb]
            b3 = b_block[k + 3] if k + 3 < kb else zero[:nb]
            p0, p1, p2, p3 = _a_four(a, trans_a, i, k0 + k, k_stop, zero)
            q0, q1, q2, q3 = _a_four(a, trans_a, r1, k0 + k, k_stop, zero)
            s0, s1, s2, s3 = _a_four(a, trans_a, r2, k0 + k, k_stop, zero)
            t0, t1, t2, t3 = _a_four(a, trans_a, r3, k0 + k, k_stop, zero)
            for j in range(nb):
                x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
                c0[j] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                c1[j] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
                c2[j] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3
                c3[j] += t0 * x0 + t1 * x1 + t2 * x2 + t3 * x3


@jit
def _pack_transposed(b, k0, j0, panel):
    """panel[k, j] = b[j0 + j, k0 + k] over the panel's shape: a block of a transposed
    b made row-readable."""
    for k in range(panel.shape[0]):
        for j in range(panel.shape[1]):
            panel[k, j] = b[j0 + j, k0 + k]


@jit
def _even_block(size, limit):
    """The block length that splits `size` into equal parts of at most `limit`."""
    if size == 0:
        return 1
    parts = -(-size // limit)
    return -(-size // parts)


@jit
def gemm_accumulate(a, trans_a, b, trans_b, c, row_start, row_stop):
    """c[row_start:row_stop] += op(a)[row_start:row_stop] @ op(b) on one thread, in
    KC x NC blocks of op(b); a transposed b is packed block by block into a private
    panel. a: (M, K) or (K, M); b: (K, N) or (N, K); c: (M, N), all of one dtype."""
    n, depth = c.shape[1], (b.shape[1] if trans_b else b.shape[0])
    if n == 0 or row_stop <= row_start:
        return
    nb, kb = _even_block(n, NC), _even_block(depth, KC)
    panel = np.empty((kb if trans_b else 0, nb), dtype=c.dtype)
    zero, spare = np.zeros(nb, dtype=c.dtype), np.empty((3, nb), dtype=c.dtype)
    for j0 in range(0, n, nb):
        j1 = min(n, j0 + nb)
        for k0 in range(0, depth, kb):
            k1 = min(depth, k0 + kb)
            if trans_b:
                block = panel[:k1 - k0, :j1 - j0]
                _pack_transposed(b, k0, j0, block)
            else:
                block = b[k0:k1, j0:j1]
            _update_rows(a, trans_a, (row_start, row_stop), k0, block, c[:, j0:j1], zero,
                         spare)


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
        # Enough tasks for every thread, in multiples of the four-row update.
        split = -(-get_num_threads() // batch)
        rows = 4 * -(-m // (4 * split))
        _matmul_impl(a3, b3, bool(trans_a), bool(trans_b), rows, c)
    return c[0] if a.ndim == 2 and b.ndim == 2 else c
