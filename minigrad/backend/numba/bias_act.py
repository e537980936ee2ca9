"""Numba bias + ReLU, the epilogue of a Linear or Conv2d layer with activation="relu"."""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_bias_relu
from .jit import jit, parallel_jit
from .threads import PARALLEL_MIN


# Written once as plain loops and jitted twice, serial and parallel: below
# PARALLEL_MIN elements waking the thread team costs more than the pass itself.
def _bias_relu_forward_loops(z3, b, has_bias):
    """z3 (N, F, S) overwritten with relu(z3 + b[f]); relu keeps NaN."""
    for i in prange(z3.shape[0]):
        for c in range(z3.shape[1]):
            bias = b[c] if has_bias else z3.dtype.type(0)
            for k in range(z3.shape[2]):
                v = z3[i, c, k] + bias
                z3[i, c, k] = 0 if v < 0 else v


def _bias_relu_backward_loops(dy3, y3, dz3, db64):
    """dz3 = dy3 * (y3 > 0), db64[f] its float64 sum over n and s."""
    for c in prange(dy3.shape[1]):
        total = 0.0
        for i in range(dy3.shape[0]):
            for k in range(dy3.shape[2]):
                g = dy3[i, c, k] * (y3[i, c, k] > 0)
                dz3[i, c, k] = g
                total += g
        db64[c] = total


@jit
def _bias_relu_forward_rows_impl(z2, b):
    """(N, F) input, b (F,): along the rows, so the inner loop is long and contiguous
    (the (N, F, 1) view of the general loops vectorizes nothing)."""
    for i in range(z2.shape[0]):
        row = z2[i]
        for c in range(z2.shape[1]):
            v = row[c] + b[c]
            row[c] = 0 if v < 0 else v


@jit
def _bias_relu_backward_rows_impl(dy2, y2, dz2, db64):
    """(N, F) input: along the rows, so every access is contiguous; the sums go to a
    fresh array (LLVM knows it aliases nothing, so the loop vectorizes)."""
    total = np.zeros(dy2.shape[1])
    for i in range(dy2.shape[0]):
        g_row, y_row, out = dy2[i], y2[i], dz2[i]
        for c in range(dy2.shape[1]):
            g = g_row[c] * (y_row[c] > 0)
            out[c] = g
            total[c] += g
    db64[:] = total


_bias_relu_forward_impl = jit(_bias_relu_forward_loops)
_bias_relu_forward_parallel_impl = parallel_jit(_bias_relu_forward_loops)
_bias_relu_backward_impl = jit(_bias_relu_backward_loops)
_bias_relu_backward_parallel_impl = parallel_jit(_bias_relu_backward_loops)


def bias_relu_forward(z, b):
    """z (N, F, ...) overwritten with relu(z + b[f]) and returned (b (F,) or None)."""
    n, f, s = check_bias_relu("bias_relu_forward", z, b, inplace=True)
    has_bias = b is not None
    b = np.ascontiguousarray(b) if has_bias else np.zeros(f, dtype=z.dtype)
    if s == 1 and z.size < PARALLEL_MIN:
        _bias_relu_forward_rows_impl(z.reshape(n, f), b)
        return z
    impl = (_bias_relu_forward_parallel_impl if z.size >= PARALLEL_MIN
            else _bias_relu_forward_impl)
    impl(z.reshape(n, f, s), b, has_bias)
    return z


def bias_relu_backward(dy, y, need_db=True):
    """(dz, db): dz = dy * (y > 0), db (F,) its sum over all axes but 1 (or None)."""
    n, f, s = check_bias_relu("bias_relu_backward", dy, y=y)
    dz = np.empty(dy.shape, dtype=dy.dtype)
    db = np.zeros(f)
    dy, y = np.ascontiguousarray(dy), np.ascontiguousarray(y)
    if s == 1 and dy.size < PARALLEL_MIN:
        _bias_relu_backward_rows_impl(dy.reshape(n, f), y.reshape(n, f), dz.reshape(n, f),
                                      db)
    else:
        impl = (_bias_relu_backward_parallel_impl if dy.size >= PARALLEL_MIN
                else _bias_relu_backward_impl)
        impl(dy.reshape(n, f, s), y.reshape(n, f, s), dz.reshape(n, f, s), db)
    return dz, (db.astype(dy.dtype) if need_db else None)
