"""The Numba backend: twins of the numpy reference kernels, written as plain Python
loops and jitted lazily (compiled on first use, cached on disk). Contracts in
``interface.py``; each public wrapper checks its arguments with ``_check`` exactly as
the reference does, makes operands contiguous, allocates outputs and calls the
jitted ``_<op>_impl``. With ``NUMBA_DISABLE_JIT=1`` the same loops run as Python.

Floating point: fastmath stays off (NaN propagates, no reassociation), except that
the GEMM's update may contract a * b + c into one fused multiply-add, as the C kernels
do. Sums for statistics accumulate in float64.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import prange

from ._check import (_pair, check_batchnorm, check_bias_relu, check_conv2d, check_float,
                     check_matmul, check_pool, conv_out_shape, pool_out_shape)

_jit = numba.njit(cache=True, fastmath=False)
_pjit = numba.njit(cache=True, fastmath=False, parallel=True)
# The GEMM update alone may contract a * b + c into one FMA (as the C kernels do):
# twice the multiply-adds per cycle, one rounding instead of two.
_jit_fma = numba.njit(cache=True, fastmath={"contract"})

# GEMM blocking: a KC x NC block of op(b) (at most 256 x 512 floats, 512 KB in
# float32) stays in L2 while the rows of a stream through it, and the few rows of c
# being updated stay in L1. Sizes are split evenly (300 = 2 x 150, not 256 + 44).
_KC, _NC = 256, 512


def set_num_threads(n: int) -> None:
    """Threads of the parallel kernels, clamped to the pool Numba started with."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    return numba.get_num_threads()


# The documented default is OMP_NUM_THREADS when set, else every core; Numba by
# itself reads only NUMBA_NUM_THREADS, so honour OMP_NUM_THREADS here.
_omp = os.environ.get("OMP_NUM_THREADS", "").strip()
if _omp.isdigit() and int(_omp) > 0:
    set_num_threads(int(_omp))


# --------------------------------------------------------------------------- GEMM

@_jit
def _a1(a, ta, i, k, kc, k0, zero):
    """op(a)[i, k0 + k], or a zero of c's dtype past the end of the k block (a float64
    literal 0.0 would promote the whole float32 update to float64)."""
    if k >= kc:
        return zero[0]
    return a[k0 + k, i] if ta else a[i, k0 + k]


@_jit
def _a4(a, ta, i, k, kc, k0, zero):
    """op(a)[i, k0+k : k0+k+4], zero-padded past the end of the k block."""
    if k + 3 < kc:  # every step but the last of a block
        if ta:
            return a[k0 + k, i], a[k0 + k + 1, i], a[k0 + k + 2, i], a[k0 + k + 3, i]
        return a[i, k0 + k], a[i, k0 + k + 1], a[i, k0 + k + 2], a[i, k0 + k + 3]
    return (_a1(a, ta, i, k, kc, k0, zero), _a1(a, ta, i, k + 1, kc, k0, zero),
            _a1(a, ta, i, k + 2, kc, k0, zero), _a1(a, ta, i, k + 3, kc, k0, zero))


@_jit_fma
def _rows_update(a, ta, i0, i1, k0, kc, b, bk, bj, nc, c, cj, zero, spare):
    """c[i, cj:cj+nc] += sum_k op(a)[i, k0+k] * b[bk+k, bj:bj+nc] for i in [i0, i1),
    k in [0, kc). Four rows of c and four k per step share every load of b, and the
    inner loop runs over contiguous j, so LLVM vectorizes it (no reduction there).
    One loop body serves every case, which keeps compile time down: past the last k
    the row of b is `zero` with weight 0, and missing last rows write to `spare`."""
    for i in range(i0, i1, 4):
        r1, r2, r3 = min(i + 1, i1 - 1), min(i + 2, i1 - 1), min(i + 3, i1 - 1)
        c0 = c[i, cj:cj + nc]
        c1 = c[r1, cj:cj + nc] if i + 1 < i1 else spare[0, :nc]
        c2 = c[r2, cj:cj + nc] if i + 2 < i1 else spare[1, :nc]
        c3 = c[r3, cj:cj + nc] if i + 3 < i1 else spare[2, :nc]
        for k in range(0, kc, 4):
            b0 = b[bk + k, bj:bj + nc]
            b1 = b[bk + k + 1, bj:bj + nc] if k + 1 < kc else zero[:nc]
            b2 = b[bk + k + 2, bj:bj + nc] if k + 2 < kc else zero[:nc]
            b3 = b[bk + k + 3, bj:bj + nc] if k + 3 < kc else zero[:nc]
            p0, p1, p2, p3 = _a4(a, ta, i, k, kc, k0, zero)
            q0, q1, q2, q3 = _a4(a, ta, r1, k, kc, k0, zero)
            s0, s1, s2, s3 = _a4(a, ta, r2, k, kc, k0, zero)
            t0, t1, t2, t3 = _a4(a, ta, r3, k, kc, k0, zero)
            for j in range(nc):
                x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
                c0[j] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                c1[j] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
                c2[j] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3
                c3[j] += t0 * x0 + t1 * x1 + t2 * x2 + t3 * x3


@_jit
def _pack(b, k0, kc, j0, nc, out):
    """out[:kc, :nc] = b.T[k0:k0+kc, j0:j0+nc]: a transposed b made row-readable."""
    for k in range(kc):
        for j in range(nc):
            out[k, j] = b[j0 + j, k0 + k]


@_jit
def _gemm_rows(a, ta, b, tb, c, i0, i1):
    """c[i0:i1] += op(a)[i0:i1] @ op(b) on one thread, in KC x NC blocks of op(b);
    a transposed b is packed block by block into a private panel."""
    n, kdim = c.shape[1], (b.shape[1] if tb else b.shape[0])
    if n == 0 or i1 <= i0:
        return
    nb = -(-n // -(-n // _NC))
    kb = -(-kdim // -(-kdim // _KC)) if kdim else 1
    panel = np.empty((kb if tb else 0, nb), dtype=c.dtype)
    zero, spare = np.zeros(nb, dtype=c.dtype), np.empty((3, nb), dtype=c.dtype)
    for j0 in range(0, n, nb):
        nc = min(nb, n - j0)
        for k0 in range(0, kdim, kb):
            kc = min(kb, kdim - k0)
            if tb:
                _pack(b, k0, kc, j0, nc, panel)
                _rows_update(a, ta, i0, i1, k0, kc, panel, 0, 0, nc, c, j0, zero, spare)
            else:
                _rows_update(a, ta, i0, i1, k0, kc, b, k0, j0, nc, c, j0, zero, spare)


@_pjit
def _matmul_impl(a, b, ta, tb, rows, c):
    """c[e] += op(a[e]) @ op(b[e]) (an operand with one entry is shared), as tasks of
    `rows` rows of one batch entry; the prange body is one call, which keeps the
    parallel compile short."""
    per = (c.shape[1] + rows - 1) // rows
    for t in prange(c.shape[0] * per):
        e, r = t // per, (t % per) * rows
        _gemm_rows(a[min(e, a.shape[0] - 1)], ta, b[min(e, b.shape[0] - 1)], tb, c[e], r,
                   min(c.shape[1], r + rows))


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b); a (M, K) or (K, M) with trans_a, b (K, N) or (N, K) with
    trans_b, or 3-d batched; returns c (M, N) or (B, M, N), float32/float64."""
    m, n, _ = check_matmul(a, b, trans_a, trans_b)
    a3 = np.ascontiguousarray(a if a.ndim == 3 else a[None])
    b3 = np.ascontiguousarray(b if b.ndim == 3 else b[None])
    # The 3-d operand's batch, even when it is 0 (a 2-d operand is shared).
    batch = a.shape[0] if a.ndim == 3 else (b.shape[0] if b.ndim == 3 else 1)
    c = np.zeros((batch, m, n), dtype=a.dtype)
    if batch and m and n:
        # Enough tasks for every thread, in multiples of the four-row update.
        split = -(-numba.get_num_threads() // batch)
        rows = 4 * -(-m // (4 * split))
        _matmul_impl(a3, b3, bool(trans_a), bool(trans_b), rows, c)
    return c[0] if a.ndim == 2 and b.ndim == 2 else c


# ------------------------------------------------------------------------- conv2d

@_jit
def _valid(j, pad, stride, size, n_out):
    """The outputs q in [lo, hi) whose tap q*stride + j - pad falls inside [0, size)."""
    lo = max(0, -(-(pad - j) // stride))
    hi = min(n_out, (size - 1 + pad - j) // stride + 1)
    return lo, max(lo, hi)


@_jit
def _im2col(x, n, g, cols):
    """cols[(c*KH + i)*KW + j, p*OW + q] = x[n, c, p*sh + i - ph, q*sw + j - pw], zero
    in the padding: the (C*KH*KW, OH*OW) operand of y[n] = w @ cols.
    g = (KH, KW, sh, sw, ph, pw, OH, OW). (Measured: one branchy loop beats slicing
    out the valid range here, rows being short.)"""
    kh, kw, sh, sw, ph, pw, oh, ow = g
    ch, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for c in range(ch):
        for i in range(kh):
            for j in range(kw):
                row = cols[(c * kh + i) * kw + j]
                for p in range(oh):
                    r = p * sh + i - ph
                    for q in range(ow):
                        s = q * sw + j - pw
                        inside = 0 <= r < h and 0 <= s < wd
                        row[p * ow + q] = x[n, c, r, s] if inside else 0.0


@_jit
def _im2row(x, n, g, rows):
    """rows = cols.T written directly, (OH*OW, C*KH*KW), so dw += dy[n] @ rows needs
    no transposed operand."""
    kh, kw, sh, sw, ph, pw, oh, ow = g
    ch, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for p in range(oh):
        for q in range(ow):
            row = rows[p * ow + q]
            for c in range(ch):
                for i in range(kh):
                    r = p * sh + i - ph
                    for j in range(kw):
                        s = q * sw + j - pw
                        inside = 0 <= r < h and 0 <= s < wd
                        row[(c * kh + i) * kw + j] = x[n, c, r, s] if inside else 0.0


@_jit
def _col2im(dcols, n, g, dx):
    """dx[n] += the columns scattered back to the pixels they were read from."""
    kh, kw, sh, sw, ph, pw, oh, ow = g
    ch, h, wd = dx.shape[1], dx.shape[2], dx.shape[3]
    for c in range(ch):
        for i in range(kh):
            p0, p1 = _valid(i, ph, sh, h, oh)
            for j in range(kw):
                q0, q1 = _valid(j, pw, sw, wd, ow)
                row = dcols[(c * kh + i) * kw + j]
                for p in range(p0, p1):
                    dst, src = dx[n, c, p * sh + i - ph], row[p * ow:(p + 1) * ow]
                    for q in range(q0, q1):
                        dst[q * sw + j - pw] += src[q]


@_jit
def _conv2d_forward_images(x, w2, b, has_b, g, n0, n1, y3):
    """y3[n] (F, OH*OW) = w2 (F, C*KH*KW) @ im2col(x[n]) (+ b) for n in [n0, n1)."""
    cols = np.empty((w2.shape[1], g[6] * g[7]), dtype=x.dtype)
    for n in range(n0, n1):
        _im2col(x, n, g, cols)
        _gemm_rows(w2, False, cols, False, y3[n], 0, w2.shape[0])
        if has_b:
            for f in range(y3.shape[1]):
                y3[n, f] += b[f]


@_jit
def _conv2d_backward_images(x, w2, dy3, g, need_dx, need_dw, n0, n1, dx, dw):
    """For n in [n0, n1): dw += dy[n] @ im2row(x[n]); dx[n] = col2im(w2.T @ dy[n])."""
    ckk, npix = w2.shape[1], g[6] * g[7]
    rows = np.empty((npix if need_dw else 0, ckk), dtype=x.dtype)
    dcols = np.empty((ckk if need_dx else 0, npix), dtype=x.dtype)
    for n in range(n0, n1):
        if need_dw:
            _im2row(x, n, g, rows)
            _gemm_rows(dy3[n], False, rows, False, dw, 0, dw.shape[0])
        if need_dx:
            dcols[:] = 0.0
            _gemm_rows(w2, True, dy3[n], False, dcols, 0, ckk)
            _col2im(dcols, n, g, dx)


@_pjit
def _conv2d_forward_impl(x, w2, b, has_b, g, nt, y3):
    """Images split in nt chunks, one per thread, each with its own column buffer."""
    for t in prange(nt):
        _conv2d_forward_images(x, w2, b, has_b, g, t * x.shape[0] // nt,
                               (t + 1) * x.shape[0] // nt, y3)


@_pjit
def _conv2d_backward_impl(x, w2, dy3, g, need_dx, need_dw, nt, dx, dw_part):
    """Each thread owns its images of dx and its slice dw_part[t], so nothing races."""
    for t in prange(nt):
        _conv2d_backward_images(x, w2, dy3, g, need_dx, need_dw, t * x.shape[0] // nt,
                                (t + 1) * x.shape[0] // nt, dx, dw_part[t])


@_jit
def _plane_sum(a2):
    """Sum of a 2-d block in float64, by columns first (a vectorizable loop)."""
    acc = np.zeros(a2.shape[1], dtype=np.float64)
    for n in range(a2.shape[0]):
        for p in range(a2.shape[1]):
            acc[p] += a2[n, p]
    return acc.sum()


@_pjit
def _channel_sum_impl(dy3, out):
    """out[f] = sum of dy3[:, f, :]."""
    for f in prange(dy3.shape[1]):
        out[f] = _plane_sum(dy3[:, f, :])


def _threads_for(n: int) -> int:
    return max(1, min(numba.get_num_threads(), n))


def _conv_setup(x, w, stride, padding):
    """Contiguous x, w viewed as (F, C*KH*KW), and the geometry tuple g of the kernels."""
    sh, sw = _pair("conv2d", "stride", stride)
    ph, pw = _pair("conv2d", "padding", padding)
    oh, ow = conv_out_shape(x.shape, w.shape, (sh, sw), (ph, pw))
    w2 = np.ascontiguousarray(w).reshape(w.shape[0], w.shape[1] * w.shape[2] * w.shape[3])
    return np.ascontiguousarray(x), w2, (w.shape[2], w.shape[3], sh, sw, ph, pw, oh, ow)


def conv2d_forward(x, w, b, stride, padding):
    """x (N, C, H, W), w (F, C, KH, KW), b (F,) or None -> y (N, F, OH, OW)."""
    check_conv2d(x, w, b, stride, padding)
    x, w2, g = _conv_setup(x, w, stride, padding)
    n, f, npix = x.shape[0], w2.shape[0], g[6] * g[7]
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    y3 = np.zeros((n, f, npix), dtype=x.dtype)
    if n and f and npix:
        _conv2d_forward_impl(x, w2, bias, b is not None, g, _threads_for(n), y3)
    return y3.reshape(n, f, g[6], g[7])


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                    need_db=True):
    """Gradients (dx, dw, db) of conv2d_forward for upstream dy (N, F, OH, OW); each
    is None when its need_ flag is False."""
    check_conv2d(x, w, None, stride, padding)
    check_float("conv2d_backward", x=x, w=w, dy=dy)
    x, w2, g = _conv_setup(x, w, stride, padding)
    n, f, npix = x.shape[0], w2.shape[0], g[6] * g[7]
    if dy.shape != (n, f, g[6], g[7]):
        raise ValueError(f"conv2d_backward: dy{dy.shape} does not match the output "
                         f"shape {(n, f, g[6], g[7])} of x{x.shape}, w{w.shape}")
    dy3 = np.ascontiguousarray(dy, dtype=x.dtype).reshape(n, f, npix)
    nt = _threads_for(n)
    dx = np.zeros(x.shape if need_dx else (0, 0, 0, 0), dtype=x.dtype)
    dw_part = np.zeros((nt, f, w2.shape[1]) if need_dw else (nt, 0, 0), dtype=x.dtype)
    if (need_dx or need_dw) and n and f and npix and w2.shape[1]:
        _conv2d_backward_impl(x, w2, dy3, g, bool(need_dx), bool(need_dw), nt, dx, dw_part)
    db = np.zeros(f, dtype=x.dtype) if need_db else None
    if need_db and n:
        _channel_sum_impl(dy3, db)
    dw = dw_part.sum(axis=0).reshape(w.shape) if need_dw else None
    return (dx if need_dx else None), dw, db


# ------------------------------------------------------------------------ pooling

@_jit
def _maxpool2d_plane(x2, kh, kw, sh, sw, y2, arg2):
    """One (n, c) plane: the first maximum of each window and its flat index h*W + w;
    a NaN wins at once (it propagates, as in PyTorch)."""
    wd = x2.shape[1]
    for p in range(y2.shape[0]):
        for q in range(y2.shape[1]):
            h0, w0 = p * sh, q * sw
            best, where = x2[h0, w0], h0 * wd + w0
            if not np.isnan(best):
                for t in range(1, kh * kw):
                    r, s = h0 + t // kw, w0 + t % kw
                    v = x2[r, s]
                    if np.isnan(v) or v > best:
                        best, where = v, r * wd + s
                        if np.isnan(v):
                            break
            y2[p, q] = best
            arg2[p, q] = where


@_jit
def _maxpool2d_plane_backward(dy1, arg1, dx1):
    """dx1[argmax] += dy1: a window's gradient goes to its chosen input."""
    for o in range(dy1.shape[0]):
        dx1[arg1[o]] += dy1[o]


@_jit
def _avgpool2d_plane(x2, kh, kw, sh, sw, y2):
    for p in range(y2.shape[0]):
        for q in range(y2.shape[1]):
            acc = 0.0
            for i in range(kh):
                for j in range(kw):
                    acc += x2[p * sh + i, q * sw + j]
            y2[p, q] = acc / (kh * kw)


@_jit
def _avgpool2d_plane_backward(dy2, kh, kw, sh, sw, dx2):
    """Each input of a window receives dy / (KH*KW), summed where windows overlap."""
    for p in range(dy2.shape[0]):
        for q in range(dy2.shape[1]):
            share = dy2[p, q] / (kh * kw)
            for i in range(kh):
                for j in range(kw):
                    dx2[p * sh + i, q * sw + j] += share


# One plane per task: the prange bodies are single calls (a short parallel compile).
@_pjit
def _maxpool2d_forward_impl(x3, kh, kw, sh, sw, y3, arg3):
    for pl in prange(x3.shape[0]):
        _maxpool2d_plane(x3[pl], kh, kw, sh, sw, y3[pl], arg3[pl])


@_pjit
def _maxpool2d_backward_impl(dy2, arg2, dx2):
    for pl in prange(dy2.shape[0]):
        _maxpool2d_plane_backward(dy2[pl], arg2[pl], dx2[pl])


@_pjit
def _avgpool2d_forward_impl(x3, kh, kw, sh, sw, y3):
    for pl in prange(x3.shape[0]):
        _avgpool2d_plane(x3[pl], kh, kw, sh, sw, y3[pl])


@_pjit
def _avgpool2d_backward_impl(dy3, kh, kw, sh, sw, dx3):
    for pl in prange(dy3.shape[0]):
        _avgpool2d_plane_backward(dy3[pl], kh, kw, sh, sw, dx3[pl])


def maxpool2d_forward(x, kernel, stride):
    """x (N, C, H, W) -> (y (N, C, OH, OW), argmax int64 of y's shape)."""
    check_pool("maxpool2d", x, kernel, stride)
    (kh, kw), (sh, sw) = _pair("maxpool2d", "kernel_size", kernel), _pair(
        "maxpool2d", "stride", stride)
    n, c, h, w = x.shape
    oh, ow = pool_out_shape(x.shape, (kh, kw), (sh, sw))
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    arg = np.empty((n * c, oh, ow), dtype=np.int64)
    _maxpool2d_forward_impl(np.ascontiguousarray(x).reshape(n * c, h, w), kh, kw, sh, sw,
                            y, arg)
    return y.reshape(n, c, oh, ow), arg.reshape(n, c, oh, ow)


def maxpool2d_backward(dy, argmax, x_shape):
    """dy, argmax (N, C, OH, OW) -> dx of x_shape with dy accumulated at argmax."""
    check_float("maxpool2d_backward", dy=dy)
    if dy.shape != argmax.shape:
        raise ValueError(f"maxpool2d_backward: dy{dy.shape} and argmax{argmax.shape} "
                         "differ")
    n, c, h, w = _shape4("maxpool2d_backward", x_shape, dy)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"maxpool2d_backward: argmax must be an integer array, got "
                        f"{argmax.dtype}")
    planes, outs = n * c, dy.shape[2] * dy.shape[3]
    arg2 = np.ascontiguousarray(argmax, dtype=np.int64).reshape(planes, outs)
    # An index outside its plane would write outside dx: refuse it before the kernel.
    if arg2.size and (arg2.min() < 0 or arg2.max() >= h * w):
        raise ValueError(f"maxpool2d_backward: argmax values must lie in [0, {h * w}) "
                         f"for x_shape {tuple(x_shape)}, got [{arg2.min()}, {arg2.max()}]")
    dx = np.zeros((n * c, h * w), dtype=dy.dtype)
    _maxpool2d_backward_impl(np.ascontiguousarray(dy).reshape(planes, outs), arg2, dx)
    return dx.reshape(n, c, h, w)


def avgpool2d_forward(x, kernel, stride):
    """x (N, C, H, W) -> y (N, C, OH, OW), the mean of each window."""
    check_pool("avgpool2d", x, kernel, stride)
    (kh, kw), (sh, sw) = _pair("avgpool2d", "kernel_size", kernel), _pair(
        "avgpool2d", "stride", stride)
    n, c, h, w = x.shape
    oh, ow = pool_out_shape(x.shape, (kh, kw), (sh, sw))
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    _avgpool2d_forward_impl(np.ascontiguousarray(x).reshape(n * c, h, w), kh, kw, sh, sw, y)
    return y.reshape(n, c, oh, ow)


def avgpool2d_backward(dy, x_shape, kernel, stride):
    """dy (N, C, OH, OW) -> dx of x_shape."""
    check_float("avgpool2d_backward", dy=dy)
    n, c, h, w = _shape4("avgpool2d_backward", x_shape, dy)
    (kh, kw), (sh, sw) = _pair("avgpool2d", "kernel_size", kernel), _pair(
        "avgpool2d", "stride", stride)
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or kh > h or kw > w:
        raise ValueError(f"avgpool2d_backward: kernel_size {kernel} / stride {stride} "
                         f"do not fit x_shape {tuple(x_shape)}")
    oh, ow = pool_out_shape((n, c, h, w), (kh, kw), (sh, sw))
    if dy.shape != (n, c, oh, ow):
        raise ValueError(f"avgpool2d_backward: dy{dy.shape} does not match the output "
                         f"shape {(n, c, oh, ow)} of x_shape {tuple(x_shape)}")
    dx = np.zeros((n * c, h, w), dtype=dy.dtype)
    _avgpool2d_backward_impl(np.ascontiguousarray(dy).reshape(n * c, oh, ow), kh, kw, sh,
                             sw, dx)
    return dx.reshape(n, c, h, w)


def _shape4(op: str, x_shape, dy) -> tuple[int, int, int, int]:
    shape = tuple(int(v) for v in x_shape)
    if len(shape) != 4 or dy.ndim != 4 or shape[:2] != dy.shape[:2] or min(shape) < 0:
        raise ValueError(f"{op}: x_shape must be (N, C, H, W) matching dy{dy.shape}, got "
                         f"{tuple(x_shape)}")
    return shape  # type: ignore[return-value]


# --------------------------------------------------------------------- batch norm

@_jit
def _batchnorm_channel_stats(x2):
    """Mean and biased variance of x2 (N, L), one channel, in float64. Sums run over n
    into a row of L partial sums (a vectorizable loop), shifted by the first value so
    a large mean does not cancel the variance away."""
    shift = np.float64(x2[0, 0])
    s1 = np.zeros(x2.shape[1], dtype=np.float64)
    s2 = np.zeros(x2.shape[1], dtype=np.float64)
    for n in range(x2.shape[0]):
        for i in range(x2.shape[1]):
            d = np.float64(x2[n, i]) - shift
            s1[i] += d
            s2[i] += d * d
    m = s1.sum() / x2.size
    return shift + m, max(s2.sum() / x2.size - m * m, 0.0)


@_jit
def _batchnorm_channel_apply(x2, m, s, b, y2):
    """y = (x - mean) * scale + beta for one channel, scale = gamma * invstd."""
    for n in range(x2.shape[0]):
        for i in range(x2.shape[1]):
            y2[n, i] = (x2[n, i] - m) * s + b


@_jit
def _batchnorm_channel_backward(dy2, x2, gamma, m, inv, training, dx2):
    """One channel: (dgamma, dbeta) = (sum dy * xhat, sum dy); dx through the batch
    statistics when training, else gamma * invstd * dy."""
    s1 = np.zeros(x2.shape[1], dtype=np.float64)
    s2 = np.zeros(x2.shape[1], dtype=np.float64)
    for n in range(x2.shape[0]):
        for i in range(x2.shape[1]):
            g = np.float64(dy2[n, i])
            s1[i] += g
            s2[i] += g * (np.float64(x2[n, i]) - m) * inv
    db, dg = s1.sum(), s2.sum()
    a, b = (db / x2.size, dg / x2.size) if training else (0.0, 0.0)
    scale = gamma * inv
    for n in range(x2.shape[0]):
        for i in range(x2.shape[1]):
            xhat = (np.float64(x2[n, i]) - m) * inv
            dx2[n, i] = scale * (np.float64(dy2[n, i]) - a - xhat * b)
    return dg, db


# One channel per task, each a single call. x3 is (N, C, L): L = H*W, or 1 for (N, C).
@_pjit
def _batchnorm_stats_impl(x3, mean, var):
    for c in prange(x3.shape[1]):
        mean[c], var[c] = _batchnorm_channel_stats(x3[:, c, :])


@_pjit
def _batchnorm_apply_impl(x3, mean, scale, beta, y3):
    for c in prange(x3.shape[1]):
        _batchnorm_channel_apply(x3[:, c, :], mean[c], scale[c], beta[c], y3[:, c, :])


@_pjit
def _batchnorm_backward_impl(dy3, x3, gamma, mean, invstd, training, dx3, dgamma, dbeta):
    for c in prange(x3.shape[1]):
        dgamma[c], dbeta[c] = _batchnorm_channel_backward(
            dy3[:, c, :], x3[:, c, :], np.float64(gamma[c]), mean[c], invstd[c], training,
            dx3[:, c, :])


# (N, C) input: one serial pass along the rows, vectorized over C. Per-channel tasks
# would each read a strided column and allocate their partial sums (0.8 ms against
# 0.1 ms here for 128 x 300).
@_jit
def _batchnorm_rows_stats(x2, mean, var):
    n, c = x2.shape
    s1, s2 = np.zeros(c), np.zeros(c)
    shift = x2[0].astype(np.float64)
    for i in range(n):
        for j in range(c):
            d = np.float64(x2[i, j]) - shift[j]
            s1[j] += d
            s2[j] += d * d
    for j in range(c):
        m = s1[j] / n
        mean[j], var[j] = shift[j] + m, max(s2[j] / n - m * m, 0.0)


@_jit
def _batchnorm_rows_apply(x2, mean, scale, beta, y2):
    for i in range(x2.shape[0]):
        for j in range(x2.shape[1]):
            y2[i, j] = (x2[i, j] - mean[j]) * scale[j] + beta[j]


@_jit
def _batchnorm_rows_backward(dy2, x2, gamma, mean, invstd, training, dx2, dgamma, dbeta):
    n, c = x2.shape
    for i in range(n):
        for j in range(c):
            g = np.float64(dy2[i, j])
            dbeta[j] += g
            dgamma[j] += g * (np.float64(x2[i, j]) - mean[j]) * invstd[j]
    for i in range(n):
        for j in range(c):
            xhat = (np.float64(x2[i, j]) - mean[j]) * invstd[j]
            a, b = (dbeta[j] / n, dgamma[j] / n) if training else (0.0, 0.0)
            dx2[i, j] = gamma[j] * invstd[j] * (np.float64(dy2[i, j]) - a - xhat * b)


def _as3(x: np.ndarray) -> np.ndarray:
    """(N, C) or (N, C, H, W) as a contiguous (N, C, L) array."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], int(np.prod(x.shape[2:])))


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum,
                      eps):
    """x (N, C) or (N, C, H, W) -> (y, mean (C,), invstd (C,)); training updates
    running_mean / running_var in place (unbiased variance), see interface.py."""
    check_batchnorm(x, gamma, beta, running_mean, running_var)
    c = x.shape[1]
    if training:
        count = x.size // c
        if count < 2:
            raise ValueError(f"batchnorm: training needs more than one value per "
                             f"channel, got x{x.shape}")
        mean64, var64 = np.empty(c), np.empty(c)
        if x.ndim == 2:
            _batchnorm_rows_stats(np.ascontiguousarray(x), mean64, var64)
        else:
            _batchnorm_stats_impl(_as3(x), mean64, var64)
        # (C,) sized and possibly non-contiguous or another dtype: numpy updates in place.
        running_mean *= 1 - momentum
        running_mean += momentum * mean64
        running_var *= 1 - momentum
        running_var += momentum * var64 * (count / (count - 1))
        mean, var = mean64.astype(x.dtype), var64
    else:
        mean, var = np.asarray(running_mean, dtype=x.dtype).copy(), running_var
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    y = np.empty_like(x, order="C")
    scale = (invstd * gamma).astype(x.dtype)
    if x.ndim == 2:
        _batchnorm_rows_apply(np.ascontiguousarray(x), mean, scale,
                              np.ascontiguousarray(beta), y)
    else:
        _batchnorm_apply_impl(_as3(x), mean, scale, np.ascontiguousarray(beta), _as3(y))
    return y, mean, invstd


def batchnorm_backward(dy, x, gamma, mean, invstd, training):
    """Upstream dy of x's shape -> (dx, dgamma (C,), dbeta (C,))."""
    check_float("batchnorm_backward", dy=dy, x=x, gamma=gamma)
    c = x.shape[1] if x.ndim in (2, 4) else -1
    if x.ndim not in (2, 4) or dy.shape != x.shape or any(
            np.shape(a) != (c,) for a in (gamma, mean, invstd)):
        raise ValueError(f"batchnorm_backward: expects dy and x (N, C) or (N, C, H, W) of "
                         f"one shape and gamma, mean, invstd (C,), got dy{dy.shape}, "
                         f"x{x.shape}, gamma{np.shape(gamma)}, mean{np.shape(mean)}, "
                         f"invstd{np.shape(invstd)}")
    dx = np.empty_like(x, order="C")
    dgamma, dbeta = np.zeros(c), np.zeros(c)
    if x.size == 0:  # nothing to sum (and no count to divide by)
        return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
    args = (np.ascontiguousarray(gamma), np.ascontiguousarray(mean, dtype=np.float64),
            np.ascontiguousarray(invstd, dtype=np.float64), bool(training))
    if x.ndim == 2:
        _batchnorm_rows_backward(np.ascontiguousarray(dy), np.ascontiguousarray(x), *args,
                                 dx, dgamma, dbeta)
    else:
        _batchnorm_backward_impl(_as3(dy), _as3(x), *args, _as3(dx), dgamma, dbeta)
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)


# ----- fused bias + ReLU ---------------------------------------------------------------
# Written once as plain loops and jitted twice: below _PARALLEL_MIN elements (an MLP
# layer at batch 128) waking the thread team costs more than the pass itself.
_PARALLEL_MIN = 1 << 16


def _bias_relu_forward_loops(z3, b, has_b):
    for i in prange(z3.shape[0]):
        for c in range(z3.shape[1]):
            bias = b[c] if has_b else z3.dtype.type(0)
            for k in range(z3.shape[2]):
                v = z3[i, c, k] + bias
                z3[i, c, k] = 0 if v < 0 else v


def _bias_relu_backward_loops(dy3, y3, dz3, db64):
    for c in prange(dy3.shape[1]):
        total = 0.0
        for i in range(dy3.shape[0]):
            for k in range(dy3.shape[2]):
                g = dy3[i, c, k] * (y3[i, c, k] > 0)
                dz3[i, c, k] = g
                total += g
        db64[c] = total


@_jit
def _bias_relu_backward_rows(dy2, y2, dz2, db64):
    """(N, F) input: along the rows, so every access is contiguous."""
    for i in range(dy2.shape[0]):
        for c in range(dy2.shape[1]):
            g = dy2[i, c] * (y2[i, c] > 0)
            dz2[i, c] = g
            db64[c] += g


_bias_relu_forward_serial = _jit(_bias_relu_forward_loops)
_bias_relu_forward_parallel = _pjit(_bias_relu_forward_loops)
_bias_relu_backward_serial = _jit(_bias_relu_backward_loops)
_bias_relu_backward_parallel = _pjit(_bias_relu_backward_loops)


def bias_relu_forward(z, b):
    """z (N, F, ...) overwritten with relu(z + b[f]) and returned (b (F,) or None)."""
    n, f, s = check_bias_relu("bias_relu_forward", z, b, inplace=True)
    has_b = b is not None
    b = np.ascontiguousarray(b) if has_b else np.zeros(f, dtype=z.dtype)
    impl = _bias_relu_forward_parallel if z.size >= _PARALLEL_MIN else _bias_relu_forward_serial
    impl(z.reshape(n, f, s), b, has_b)
    return z


def bias_relu_backward(dy, y, need_db=True):
    """(dz, db): dz = dy * (y > 0), db (F,) its sum over all axes but 1 (or None)."""
    n, f, s = check_bias_relu("bias_relu_backward", dy, y=y)
    dz = np.empty(dy.shape, dtype=dy.dtype)
    db = np.zeros(f)
    dy, y = np.ascontiguousarray(dy), np.ascontiguousarray(y)
    if s == 1 and dy.size < _PARALLEL_MIN:
        _bias_relu_backward_rows(dy.reshape(n, f), y.reshape(n, f), dz.reshape(n, f), db)
    else:
        impl = (_bias_relu_backward_parallel if dy.size >= _PARALLEL_MIN
                else _bias_relu_backward_serial)
        impl(dy.reshape(n, f, s), y.reshape(n, f, s), dz.reshape(n, f, s), db)
    return dz, (db.astype(dy.dtype) if need_db else None)
