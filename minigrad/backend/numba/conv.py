"""Numba conv2d, one image per step, the images split over threads: at stride 1 the
implicit GEMM of ``conv_implicit`` (as csrc/conv2d_impl.h), otherwise im2col + GEMM."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import prange

from .._check import _pair, check_conv2d, check_conv2d_backward, conv_out_shape
from .conv_implicit import (DIRECT_TAPS, direct_conv_image, direct_dw_images,
                            flipped_weights, implicit_conv_image, implicit_dw_image, usable)
from .gemm import gemm_accumulate
from .jit import jit, parallel_jit
from .threads import threads_for

# Kernel size, stride, padding and output size of one convolution (numba passes a
# namedtuple to compiled code as a tuple with field names).
Geometry = namedtuple("Geometry", "kh kw sh sw ph pw oh ow implicit")


@jit
def _valid_outputs(tap, pad, stride, size, n_out):
    """The outputs q in [lo, hi) whose input q*stride + tap - pad falls in [0, size)."""
    lo = max(0, -(-(pad - tap) // stride))
    hi = min(n_out, (size - 1 + pad - tap) // stride + 1)
    return lo, max(lo, hi)


@jit
def _im2col(x, n, geo, cols):
    """cols[(c*KH + i)*KW + j, p*OW + q] = x[n, c, p*sh + i - ph, q*sw + j - pw], zero
    in the padding: the (C*KH*KW, OH*OW) operand of y[n] = w @ cols. (Measured: one
    branchy loop beats slicing out the valid range here, rows being short.)"""
    channels, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for c in range(channels):
        for i in range(geo.kh):
            for j in range(geo.kw):
                row = cols[(c * geo.kh + i) * geo.kw + j]
                for p in range(geo.oh):
                    r = p * geo.sh + i - geo.ph
                    for q in range(geo.ow):
                        s = q * geo.sw + j - geo.pw
                        inside = 0 <= r < h and 0 <= s < wd
                        row[p * geo.ow + q] = x[n, c, r, s] if inside else 0.0


@jit
def _im2row(x, n, geo, rows):
    """rows = cols.T written directly, (OH*OW, C*KH*KW), so dw += dy[n] @ rows needs
    no transposed operand."""
    channels, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for p in range(geo.oh):
        for q in range(geo.ow):
            row = rows[p * geo.ow + q]
            for c in range(channels):
                for i in range(geo.kh):
                    r = p * geo.sh + i - geo.ph
                    for j in range(geo.kw):
                        s = q * geo.sw + j - geo.pw
                        inside = 0 <= r < h and 0 <= s < wd
                        row[(c * geo.kh + i) * geo.kw + j] = x[n, c, r, s] if inside else 0.0


@jit
def _col2im(dcols, n, geo, dx):
    """dx[n] += the columns scattered back to the pixels they were read from."""
    channels, h, wd = dx.shape[1], dx.shape[2], dx.shape[3]
    for c in range(channels):
        for i in range(geo.kh):
            p0, p1 = _valid_outputs(i, geo.ph, geo.sh, h, geo.oh)
            for j in range(geo.kw):
                q0, q1 = _valid_outputs(j, geo.pw, geo.sw, wd, geo.ow)
                row = dcols[(c * geo.kh + i) * geo.kw + j]
                for p in range(p0, p1):
                    dst = dx[n, c, p * geo.sh + i - geo.ph]
                    src = row[p * geo.ow:(p + 1) * geo.ow]
                    for q in range(q0, q1):
                        dst[q * geo.sw + j - geo.pw] += src[q]


@jit
def _forward_images(x, w2, b, has_bias, geo, images, y3):
    """y3[n] (F, OH*OW) = w2 (F, C*KH*KW) @ im2col(x[n]) (+ b) for n in range(*images);
    y3 is written, not read (b holds zeros when has_bias is False)."""
    cols = np.empty((0 if geo.implicit else w2.shape[1], geo.oh * geo.ow), dtype=x.dtype)
    for n in range(images[0], images[1]):
        y = y3[n].reshape(y3.shape[1], geo.oh, geo.ow)
        if geo.implicit and w2.shape[1] <= DIRECT_TAPS:
            direct_conv_image(x, n, w2, b, (geo.kh, geo.kw), (geo.ph, geo.pw), y)
        elif geo.implicit:
            implicit_conv_image(x, n, w2, b, (geo.kh, geo.kw), (geo.ph, geo.pw), y)
        else:
            for f in range(y3.shape[1]):
                y3[n, f] = b[f] if has_bias else 0.0
            _im2col(x, n, geo, cols)
            gemm_accumulate(w2, False, cols, False, y3[n], 0, w2.shape[0])


@jit
def _backward_images_implicit(x, flipped, dy3, geo, need, images, dx, dw):
    """For n in range(*images): dw += dy[n] @ im2col(x[n]).T (dw (C*KH*KW, F),
    transposed, when it has fewer columns than rows) and dx[n] = the convolution of
    dy[n] with the flipped kernel."""
    need_dx, need_dw = need
    dy4 = dy3.reshape(dy3.shape[0], dy3.shape[1], geo.oh, geo.ow)
    kernel, transposed = (geo.kh, geo.kw), dw.shape[0] != dy3.shape[1]
    no_bias = np.zeros(flipped.shape[0], dtype=x.dtype)
    direct = x.shape[1] * geo.kh * geo.kw <= DIRECT_TAPS
    if need_dw and direct:  # few taps: as the forward, no GEMM (conv_implicit.py)
        direct_dw_images(x, dy4, images, kernel, (geo.ph, geo.pw), dw, transposed)
    for n in range(images[0], images[1]):
        if need_dw and not direct:
            implicit_dw_image(x, n, dy4, kernel, (geo.ph, geo.pw), dw, transposed)
        if need_dx:
            implicit_conv_image(dy4, n, flipped, no_bias, kernel,
                                (geo.kh - 1 - geo.ph, geo.kw - 1 - geo.pw), dx[n])


@jit
def _backward_images(x, w2, dy3, geo, need, images, dx, dw):
    """For n in range(*images): dw += dy[n] @ im2row(x[n]) and dx[n] = col2im(w2.T @
    dy[n]), each when need = (need_dx, need_dw) asks for it."""
    need_dx, need_dw = need
    patch, pixels = w2.shape[1], geo.oh * geo.ow
    rows = np.empty((pixels if need_dw else 0, patch), dtype=x.dtype)
    dcols = np.empty((patch if need_dx else 0, pixels), dtype=x.dtype)
    for n in range(images[0], images[1]):
        if need_dw:
            _im2row(x, n, geo, rows)
            gemm_accumulate(dy3[n], False, rows, False, dw, 0, dw.shape[0])
        if need_dx:
            dcols[:] = 0.0
            gemm_accumulate(w2, True, dy3[n], False, dcols, 0, patch)
            _col2im(dcols, n, geo, dx)


@parallel_jit
def _conv2d_forward_impl(x, w2, b, has_bias, geo, threads, y3):
    """The images split in `threads` chunks, each with its own column buffer."""
    n = x.shape[0]
    for t in prange(threads):
        _forward_images(x, w2, b, has_bias, geo, (t * n // threads, (t + 1) * n // threads),
                        y3)


@parallel_jit
def _conv2d_backward_impl(x, weights, dy3, geo, need, threads, dx, dw_part):
    """Each thread owns its images of dx and its slice dw_part[t], so nothing races.
    weights: w2 (F, C*KH*KW), or on the implicit path the flipped (C, F*KH*KW)."""
    n = x.shape[0]
    for t in prange(threads):
        images = (t * n // threads, (t + 1) * n // threads)
        if geo.implicit:
            _backward_images_implicit(x, weights, dy3, geo, need, images, dx, dw_part[t])
        else:
            _backward_images(x, weights, dy3, geo, need, images, dx, dw_part[t])


@jit
def _channel_sum(dy3, f):
    """Sum of dy3[:, f, :] in float64: the contiguous rows dy3[n, f] are added into
    partial sums per position (a vectorizable loop), then those are summed."""
    acc = np.zeros(dy3.shape[2], dtype=np.float64)
    for n in range(dy3.shape[0]):
        row = dy3[n, f]
        for p in range(row.shape[0]):
            acc[p] += row[p]
    return acc.sum()


@parallel_jit
def _channel_sum_impl(dy3, out):
    """out[f] = sum of dy3[:, f, :]."""
    for f in prange(dy3.shape[1]):
        out[f] = _channel_sum(dy3, f)


def _setup(x, w, stride, padding):
    """Contiguous x, w viewed as (F, C*KH*KW), and the Geometry of the kernels."""
    sh, sw = _pair("conv2d", "stride", stride)
    ph, pw = _pair("conv2d", "padding", padding)
    oh, ow = conv_out_shape(x.shape, w.shape, (sh, sw), (ph, pw))
    w2 = np.ascontiguousarray(w).reshape(w.shape[0], w.shape[1] * w.shape[2] * w.shape[3])
    implicit = usable((sh, sw), (ph, pw), w.shape[2:])
    return np.ascontiguousarray(x), w2, Geometry(w.shape[2], w.shape[3], sh, sw, ph, pw,
                                                 oh, ow, implicit)


def conv2d_forward(x, w, b, stride, padding):
    """x (N, C, H, W), w (F, C, KH, KW), b (F,) or None -> y (N, F, OH, OW).

    Raises TypeError / ValueError as _check.check_conv2d."""
    check_conv2d(x, w, b, stride, padding)
    x, w2, geo = _setup(x, w, stride, padding)
    n, f, pixels = x.shape[0], w2.shape[0], geo.oh * geo.ow
    bias = np.zeros(f, x.dtype) if b is None else np.ascontiguousarray(b)
    y3 = np.empty((n, f, pixels), dtype=x.dtype)
    if n and f and pixels:
        _conv2d_forward_impl(x, w2, bias, b is not None, geo, threads_for(n), y3)
    return y3.reshape(n, f, geo.oh, geo.ow)


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                    need_db=True):
    """Gradients (dx, dw, db) of conv2d_forward for upstream dy (N, F, OH, OW); each
    is None when its need_ flag is False."""
    check_conv2d_backward(x, w, dy, stride, padding)
    x, w2, geo = _setup(x, w, stride, padding)
    n, f, pixels = x.shape[0], w2.shape[0], geo.oh * geo.ow
    dy3 = np.ascontiguousarray(dy).reshape(n, f, pixels)
    threads, patch = threads_for(n), w2.shape[1]
    # The implicit dw is computed transposed when that makes its rows longer.
    transposed = geo.implicit and patch < f
    runs = (need_dx or need_dw) and n and f and pixels and patch
    # The implicit dx writes every image; col2im adds into zeros.
    dx = (np.empty if runs and geo.implicit else np.zeros)(
        x.shape if need_dx else (0, 0, 0, 0), dtype=x.dtype)
    dw_shape = (patch, f) if transposed else (f, patch)
    dw_part = np.zeros((threads, *dw_shape) if need_dw else (threads, 0, 0), dtype=x.dtype)
    weights = flipped_weights(w) if geo.implicit else w2
    if runs:
        _conv2d_backward_impl(x, weights, dy3, geo, (bool(need_dx), bool(need_dw)),
                              threads, dx, dw_part)
    db = np.zeros(f, dtype=x.dtype) if need_db else None
    if need_db and n:
        _channel_sum_impl(dy3, db)
    dw = None
    if need_dw:
        dw = dw_part.sum(axis=0)
        dw = np.ascontiguousarray(dw.T if transposed else dw).reshape(w.shape)
    return (dx if need_dx else None), dw, db
