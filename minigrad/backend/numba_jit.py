"""The Numba backend: twins of the numpy reference kernels, written as plain Python
loops and jitted lazily (compiled on first use, cached on disk). Contracts in
``interface.py``; each public wrapper checks its arguments with ``_check`` exactly as
the reference does, makes operands contiguous, allocates outputs and calls the
jitted ``_<op>_impl``. With ``NUMBA_DISABLE_JIT=1`` the same loops run as Python.

Floating point: fastmath stays off, so results are IEEE-exact loop by loop (NaN
propagates, no reassociation). Sums for statistics accumulate in float64.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._check import (_pair, check_batchnorm, check_conv2d, check_float, check_matmul,
                     check_pool, conv_out_shape, pool_out_shape)

_jit = numba.njit(cache=True, fastmath=False)
_pjit = numba.njit(cache=True, fastmath=False, parallel=True)

# GEMM blocking: a KC x NC panel of op(b) (256 x 256 floats = 256 KB in float32)
# stays in the 512 KB L2 while every row of a streams through it; a row of c of NC
# entries stays in L1.
_KC, _NC = 256, 256


def set_num_threads(n: int) -> None:
    """Threads of the parallel kernels, clamped to the pool Numba started with."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    return numba.get_num_threads()


# --------------------------------------------------------------------------- GEMM

@_jit
def _rows_update(a, ta, i0, i1, k0, kc, b, bk, bj, nc, c, cj):
    """c[i, cj:cj+nc] += sum_k op(a)[i, k0+k] * b[bk+k, bj:bj+nc] for i in [i0, i1),
    k in [0, kc). Two rows of c and four k at a time share every load of b, and the
    inner loop runs over contiguous j so LLVM vectorizes it (no reduction there)."""
    i = i0
    while i < i1:
        two = i + 1 < i1
        i2 = i + 1 if two else i
        c0 = c[i, cj:cj + nc]
        c1 = c[i2, cj:cj + nc]
        k = 0
        while k + 4 <= kc:
            b0 = b[bk + k, bj:bj + nc]
            b1 = b[bk + k + 1, bj:bj + nc]
            b2 = b[bk + k + 2, bj:bj + nc]
            b3 = b[bk + k + 3, bj:bj + nc]
            ka = k0 + k
            if ta:
                p0, p1, p2, p3 = a[ka, i], a[ka + 1, i], a[ka + 2, i], a[ka + 3, i]
                q0, q1, q2, q3 = a[ka, i2], a[ka + 1, i2], a[ka + 2, i2], a[ka + 3, i2]
            else:
                p0, p1, p2, p3 = a[i, ka], a[i, ka + 1], a[i, ka + 2], a[i, ka + 3]
                q0, q1, q2, q3 = a[i2, ka], a[i2, ka + 1], a[i2, ka + 2], a[i2, ka + 3]
            if two:
                for j in range(nc):
                    x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
                    c0[j] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
                    c1[j] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
            else:
                for j in range(nc):
                    c0[j] += p0 * b0[j] + p1 * b1[j] + p2 * b2[j] + p3 * b3[j]
            k += 4
        while k < kc:  # the k remainder, one row of b at a time
            br = b[bk + k, bj:bj + nc]
            ka = k0 + k
            p0 = a[ka, i] if ta else a[i, ka]
            q0 = a[ka, i2] if ta else a[i2, ka]
            for j in range(nc):
                c0[j] += p0 * br[j]
                if two:
                    c1[j] += q0 * br[j]
            k += 1
        i += 2


@_jit
def _pack(b, tb, k0, kc, j0, nc, out):
    """out[:kc, :nc] = op(b)[k0:k0+kc, j0:j0+nc], so a transposed b is read row-wise."""
    for k in range(kc):
        for j in range(nc):
            out[k, j] = b[j0 + j, k0 + k] if tb else b[k0 + k, j0 + j]


@_jit
def _gemm_serial(a, ta, b, c):
    """c += op(a) @ b for a contiguous, untransposed b (K, N); one thread."""
    m, n, kdim = c.shape[0], c.shape[1], b.shape[0]
    for j0 in range(0, n, _NC):
        nc = min(_NC, n - j0)
        for k0 in range(0, kdim, _KC):
            _rows_update(a, ta, 0, m, k0, min(_KC, kdim - k0), b, k0, j0, nc, c, j0)


@_pjit
def _matmul_impl(a, b, ta, tb, c):
    """c[i] += op(a[i]) @ op(b[i]) for each batch entry; a or b with one entry is
    shared. Blocks of op(b) are packed when b is transposed; rows run in parallel."""
    batch, m, n = c.shape
    kdim = b.shape[2] if tb else b.shape[1]
    panel = np.empty((_KC, _NC), dtype=c.dtype)
    for e in range(batch):
        ae = a[e if a.shape[0] > 1 else 0]
        be = b[e if b.shape[0] > 1 else 0]
        ce = c[e]
        for j0 in range(0, n, _NC):
            nc = min(_NC, n - j0)
            for k0 in range(0, kdim, _KC):
                kc = min(_KC, kdim - k0)
                src, bk, bj = be, k0, j0
                if tb:
                    _pack(be, tb, k0, kc, j0, nc, panel)
                    src, bk, bj = panel, 0, 0
                # Chunks of 8 rows: enough tasks to balance, few enough to stay cheap.
                for t in prange((m + 7) // 8):
                    _rows_update(ae, ta, 8 * t, min(m, 8 * t + 8), k0, kc, src, bk, bj,
                                 nc, ce, j0)


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b); a (M, K) or (K, M) with trans_a, b (K, N) or (N, K) with
    trans_b, or 3-d batched; returns c (M, N) or (B, M, N), float32/float64."""
    m, n, _ = check_matmul(a, b, trans_a, trans_b)
    a3 = np.ascontiguousarray(a if a.ndim == 3 else a[None])
    b3 = np.ascontiguousarray(b if b.ndim == 3 else b[None])
    batch = max(a3.shape[0], b3.shape[0])
    c = np.zeros((batch, m, n), dtype=a.dtype)
    if batch and m and n:
        _matmul_impl(a3, b3, bool(trans_a), bool(trans_b), c)
    return c[0] if a.ndim == 2 and b.ndim == 2 else c


# ------------------------------------------------------------------------- conv2d

@_jit
def _im2col(x, n, kh, kw, sh, sw, ph, pw, oh, ow, cols):
    """cols[(c*KH + i)*KW + j, p*OW + q] = x[n, c, p*sh + i - ph, q*sw + j - pw], zero
    where that falls in the padding: the (C*KH*KW, OH*OW) operand of y[n] = w @ cols."""
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
def _im2row(x, n, kh, kw, sh, sw, ph, pw, oh, ow, rows):
    """rows = cols.T, written directly: (OH*OW, C*KH*KW), so dw += dy[n] @ rows runs
    with contiguous rows and no transposed operand."""
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
def _col2im(dcols, n, kh, kw, sh, sw, ph, pw, oh, ow, dx):
    """dx[n] += the columns scattered back to the pixels they were read from."""
    ch, h, wd = dx.shape[1], dx.shape[2], dx.shape[3]
    for c in range(ch):
        for i in range(kh):
            for j in range(kw):
                row = dcols[(c * kh + i) * kw + j]
                for p in range(oh):
                    r = p * sh + i - ph
                    if 0 <= r < h:
                        for q in range(ow):
                            s = q * sw + j - pw
                            if 0 <= s < wd:
                                dx[n, c, r, s] += row[p * ow + q]


@_pjit
def _conv2d_forward_impl(x, w2, b, has_b, kh, kw, sh, sw, ph, pw, oh, ow, nt, y3):
    """y3[n] (F, OH*OW) = w2 (F, C*KH*KW) @ im2col(x[n]) (+ b); images split in nt
    chunks, one per thread, each with its own column buffer."""
    nimg = x.shape[0]
    for t in prange(nt):
        cols = np.empty((w2.shape[1], oh * ow), dtype=x.dtype)
        for n in range(t * nimg // nt, (t + 1) * nimg // nt):
            _im2col(x, n, kh, kw, sh, sw, ph, pw, oh, ow, cols)
            _gemm_serial(w2, False, cols, y3[n])
            if has_b:
                for f in range(y3.shape[1]):
                    y3[n, f] += b[f]


@_pjit
def _conv2d_backward_impl(x, w2, dy3, kh, kw, sh, sw, ph, pw, oh, ow, need_dx, need_dw,
                          nt, dx, dw_part):
    """Per image: dw_part[t] += dy[n] @ im2row(x[n]); dx[n] = col2im(w2.T @ dy[n]).
    Each thread owns its dw_part slice and its images of dx, so nothing races."""
    nimg, ckk, npix = x.shape[0], w2.shape[1], oh * ow
    for t in prange(nt):
        rows = np.empty((npix if need_dw else 0, ckk), dtype=x.dtype)
        dcols = np.empty((ckk if need_dx else 0, npix), dtype=x.dtype)
        for n in range(t * nimg // nt, (t + 1) * nimg // nt):
            if need_dw:
                _im2row(x, n, kh, kw, sh, sw, ph, pw, oh, ow, rows)
                _gemm_serial(dy3[n], False, rows, dw_part[t])
            if need_dx:
                dcols[:] = 0.0
                _gemm_serial(w2, True, dy3[n], dcols)
                _col2im(dcols, n, kh, kw, sh, sw, ph, pw, oh, ow, dx)


@_pjit
def _channel_sum_impl(dy3, out):
    """out[f] = sum of dy3[:, f, :], accumulated in float64."""
    for f in prange(dy3.shape[1]):
        acc = np.zeros(dy3.shape[2], dtype=np.float64)
        for n in range(dy3.shape[0]):
            row = dy3[n, f]
            for p in range(row.shape[0]):
                acc[p] += row[p]
        out[f] = acc.sum()


def _threads_for(n: int) -> int:
    return max(1, min(numba.get_num_threads(), n))


def conv2d_forward(x, w, b, stride, padding):
    """x (N, C, H, W), w (F, C, KH, KW), b (F,) or None -> y (N, F, OH, OW)."""
    check_conv2d(x, w, b, stride, padding)
    (sh, sw), (ph, pw) = _pair("conv2d", "stride", stride), _pair("conv2d", "padding",
                                                                  padding)
    n, f, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    oh, ow = conv_out_shape(x.shape, w.shape, (sh, sw), (ph, pw))
    x = np.ascontiguousarray(x)
    w2 = np.ascontiguousarray(w).reshape(f, -1)
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    y3 = np.zeros((n, f, oh * ow), dtype=x.dtype)
    if n and f and oh * ow:
        _conv2d_forward_impl(x, w2, bias, b is not None, kh, kw, sh, sw, ph, pw, oh, ow,
                             _threads_for(n), y3)
    return y3.reshape(n, f, oh, ow)


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                    need_db=True):
    """Gradients (dx, dw, db) of conv2d_forward for upstream dy (N, F, OH, OW); each
    is None when its need_ flag is False."""
    check_conv2d(x, w, None, stride, padding)
    check_float("conv2d_backward", dy=dy)
    (sh, sw), (ph, pw) = _pair("conv2d", "stride", stride), _pair("conv2d", "padding",
                                                                  padding)
    n, f, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    oh, ow = conv_out_shape(x.shape, w.shape, (sh, sw), (ph, pw))
    if dy.shape != (n, f, oh, ow):
        raise ValueError(f"conv2d_backward: dy{dy.shape} does not match the output "
                         f"shape {(n, f, oh, ow)} of x{x.shape}, w{w.shape}")
    x = np.ascontiguousarray(x)
    w2 = np.ascontiguousarray(w).reshape(f, -1)
    dy3 = np.ascontiguousarray(dy, dtype=x.dtype).reshape(n, f, oh * ow)
    nt = _threads_for(n)
    dx = np.zeros(x.shape if need_dx else (0, 0, 0, 0), dtype=x.dtype)
    dw_part = np.zeros((nt, f, w2.shape[1]) if need_dw else (0, 0, 0), dtype=x.dtype)
    if (need_dx or need_dw) and n and f and oh * ow:
        _conv2d_backward_impl(x, w2, dy3, kh, kw, sh, sw, ph, pw, oh, ow, bool(need_dx),
                              bool(need_dw), nt, dx, dw_part)
    db = None
    if need_db:
        db = np.zeros(f, dtype=x.dtype)
        if n:
            _channel_sum_impl(dy3, db)
    dw = dw_part.sum(axis=0).reshape(w.shape) if need_dw else None
    return (dx if need_dx else None), dw, db


# ------------------------------------------------------------------------ pooling

@_pjit
def _maxpool2d_forward_impl(x3, kh, kw, sh, sw, y3, arg3):
    """Per (n, c) plane: the first maximum of each window and its flat index h*W + w;
    a NaN wins at once (it propagates, as in PyTorch)."""
    wd = x3.shape[2]
    for pl in prange(x3.shape[0]):
        for p in range(y3.shape[1]):
            for q in range(y3.shape[2]):
                h0, w0 = p * sh, q * sw
                best, where = x3[pl, h0, w0], h0 * wd + w0
                if not np.isnan(best):
                    for t in range(1, kh * kw):
                        r, s = h0 + t // kw, w0 + t % kw
                        v = x3[pl, r, s]
                        if np.isnan(v) or v > best:
                            best, where = v, r * wd + s
                            if np.isnan(v):
                                break
                y3[pl, p, q] = best
                arg3[pl, p, q] = where


@_pjit
def _maxpool2d_backward_impl(dy2, arg2, dx2):
    """dx2[plane, argmax] += dy2: a window's gradient goes to its chosen input."""
    for pl in prange(dy2.shape[0]):
        for o in range(dy2.shape[1]):
            dx2[pl, arg2[pl, o]] += dy2[pl, o]


@_pjit
def _avgpool2d_forward_impl(x3, kh, kw, sh, sw, y3):
    inv = 1.0 / (kh * kw)
    for pl in prange(x3.shape[0]):
        for p in range(y3.shape[1]):
            for q in range(y3.shape[2]):
                acc = 0.0
                for i in range(kh):
                    for j in range(kw):
                        acc += x3[pl, p * sh + i, q * sw + j]
                y3[pl, p, q] = acc * inv


@_pjit
def _avgpool2d_backward_impl(dy3, kh, kw, sh, sw, dx3):
    """Each input in a window receives dy / (KH*KW) (accumulated where windows overlap)."""
    for pl in prange(dy3.shape[0]):
        for p in range(dy3.shape[1]):
            for q in range(dy3.shape[2]):
                share = dy3[pl, p, q] / (kh * kw)
                for i in range(kh):
                    for j in range(kw):
                        dx3[pl, p * sh + i, q * sw + j] += share


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
    arg2 = np.ascontiguousarray(argmax, dtype=np.int64).reshape(n * c, -1)
    # An index outside its plane would write outside dx: refuse it before the kernel.
    if arg2.size and (arg2.min() < 0 or arg2.max() >= h * w):
        raise ValueError(f"maxpool2d_backward: argmax values must lie in [0, {h * w}) "
                         f"for x_shape {tuple(x_shape)}, got [{arg2.min()}, {arg2.max()}]")
    dx = np.zeros((n * c, h * w), dtype=dy.dtype)
    _maxpool2d_backward_impl(np.ascontiguousarray(dy).reshape(n * c, -1), arg2, dx)
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

@_pjit
def _batchnorm_stats_impl(x3, mean, var):
    """Per channel of x3 (N, C, L): mean and biased variance in float64. Sums run over
    n into a row of L partial sums (a vectorizable loop), shifted by the channel's
    first value so a large mean does not cancel the variance away."""
    nb, nc, nl = x3.shape
    count = nb * nl
    for c in prange(nc):
        shift = np.float64(x3[0, c, 0])
        s1 = np.zeros(nl, dtype=np.float64)
        s2 = np.zeros(nl, dtype=np.float64)
        for n in range(nb):
            row = x3[n, c]
            for i in range(nl):
                d = np.float64(row[i]) - shift
                s1[i] += d
                s2[i] += d * d
        m = s1.sum() / count
        mean[c] = shift + m
        var[c] = max(s2.sum() / count - m * m, 0.0)


@_pjit
def _batchnorm_apply_impl(x3, mean, scale, beta, y3):
    """y = (x - mean) * scale + beta per channel, scale = gamma * invstd."""
    for c in prange(x3.shape[1]):
        m, s, b = mean[c], scale[c], beta[c]
        for n in range(x3.shape[0]):
            xr, yr = x3[n, c], y3[n, c]
            for i in range(xr.shape[0]):
                yr[i] = (xr[i] - m) * s + b


@_pjit
def _batchnorm_backward_impl(dy3, x3, gamma, mean, invstd, training, dx3, dgamma, dbeta):
    """dbeta = sum dy, dgamma = sum dy * xhat per channel; dx through the batch
    statistics when training, else scale * dy."""
    nb, nc, nl = x3.shape
    count = nb * nl
    for c in prange(nc):
        m, inv = np.float64(mean[c]), np.float64(invstd[c])
        s1 = np.zeros(nl, dtype=np.float64)
        s2 = np.zeros(nl, dtype=np.float64)
        for n in range(nb):
            xr, dr = x3[n, c], dy3[n, c]
            for i in range(nl):
                g = np.float64(dr[i])
                s1[i] += g
                s2[i] += g * (np.float64(xr[i]) - m) * inv
        db, dg = s1.sum(), s2.sum()
        dbeta[c], dgamma[c] = db, dg
        scale = np.float64(gamma[c]) * inv
        a, b = (db / count, dg / count) if training else (0.0, 0.0)
        for n in range(nb):
            xr, dr, out = x3[n, c], dy3[n, c], dx3[n, c]
            for i in range(nl):
                xhat = (np.float64(xr[i]) - m) * inv
                out[i] = scale * (np.float64(dr[i]) - a - xhat * b)


def _as3(x: np.ndarray) -> np.ndarray:
    """(N, C) or (N, C, H, W) as a contiguous (N, C, L) array."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


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
    dgamma, dbeta = np.empty(c), np.empty(c)
    _batchnorm_backward_impl(_as3(dy), _as3(x), np.ascontiguousarray(gamma),
                             np.ascontiguousarray(mean, dtype=np.float64),
                             np.ascontiguousarray(invstd, dtype=np.float64), bool(training),
                             _as3(dx), dgamma, dbeta)
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
