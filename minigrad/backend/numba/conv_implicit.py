"""Implicit-GEMM convolution of one image at stride 1, the twin of the implicit path
of csrc/conv2d_impl.h: the im2col matrix is never written. The image is zero-padded
once, and row (c, i, j) of the im2col matrix is the padded image read from offset
(c*HP + i)*WP + j (``gemm.py`` packs straight from there). Output pixel (p, q) is then
column p*WP + q of a product over padded-width rows: the WP - OW columns past each
row's end are computed and dropped (16 for 14 on the MNIST CNN: 14 % more
multiply-adds, against a 9x larger matrix written and read back once more).

With few taps (C*KH*KW <= DIRECT_TAPS, a first layer on 1-channel images) a GEMM
would spend its time packing and storing tiles, so the forward runs direct: each
output row is the sum over taps of a weight times a shifted row of the padded image;
and dw too: per filter and tap, dy times the shifted image, summed (numba 1->32 on
128 images, dw + db: 5.3 ms by the implicit GEMM, 3.7 ms direct).

dx is the same forward convolution of dy, padded by (KH-1-ph, KW-1-pw), with the
kernel flipped and its two channel axes swapped, so stride 1 and padding < kernel
size are required (``usable``).
"""
from __future__ import annotations

import numpy as np

from .gemm import dense, gemm_operands
from .jit import fma_jit, jit, wide_vectors


DIRECT_TAPS = 32


def usable(stride, padding, kernel) -> bool:
    """Whether the implicit path serves this convolution (forward, dx and dw)."""
    return stride == (1, 1) and padding[0] < kernel[0] and padding[1] < kernel[1]


def flipped_weights(w: np.ndarray) -> np.ndarray:
    """w (F, C, KH, KW) as the (C, F*KH*KW) weights of dx's forward convolution."""
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return flipped.reshape(w.shape[1], w.shape[0] * w.shape[2] * w.shape[3])


@jit
def _padded(x, n, pad, kernel_w):
    """x[n] (C, H, W) zero-padded by pad = (ph, pw) as a flat buffer, with kernel_w
    zeros of slack at the end: the dropped columns of the last row read past it."""
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    flat = np.zeros(channels * hp * wp + kernel_w, dtype=x.dtype)
    for c in range(channels):
        for r in range(h):
            dst = flat[(c * hp + pad[0] + r) * wp + pad[1]:]
            src = x[n, c, r]
            for q in range(w):
                dst[q] = src[q]
    return flat


@jit
def _tap_offsets(channels, kernel, padded_hw):
    """offsets[(c*KH + i)*KW + j] = (c*HP + i)*WP + j: where tap (c, i, j) of output
    column 0 lies in the padded image."""
    (kh, kw), (hp, wp) = kernel, padded_hw
    offsets = np.empty(channels * kh * kw, dtype=np.int64)
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                offsets[(c * kh + i) * kw + j] = (c * hp + i) * wp + j
    return offsets


@jit
def implicit_conv_image(x, n, w2, bias, kernel, pad, y):
    """y (F, OH, OW) = conv(x[n] (C, H, W) padded by pad, w2 (F, C*KH*KW)) + bias
    (F,) at stride 1; y is written, not read."""
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    oh, ow = y.shape[1], y.shape[2]
    image = (_padded(x, n, pad, kernel[1]), _tap_offsets(channels, kernel, (hp, wp)), False)
    wide = np.empty((w2.shape[0], oh * wp), dtype=x.dtype)
    for f in range(w2.shape[0]):
        wide[f] = bias[f]
    gemm_operands(dense(w2, False), image, w2.shape[1], wide, 0, w2.shape[0])
    for f in range(y.shape[0]):
        for p in range(oh):
            src, dst = wide[f, p * wp:p * wp + ow], y[f, p]
            for q in range(ow):
                dst[q] = src[q]


@fma_jit
def direct_conv_image(x, n, w2, bias, kernel, pad, y):
    """y (F, OH, OW) = conv(x[n], w2) + bias for few taps, as csrc/conv2d_impl.h's
    forward_direct_ (y is written, not read: one pass over the output): for two
    filters at a time, the bias plus the sum over taps of the tap's weight times the
    padded image read from the tap's offset, over padded-width rows. One long loop per
    three taps (FMA vectors: fma_jit, wide_vectors) accumulates in two fresh buffers,
    which LLVM knows alias nothing, so it vectorizes."""
    wide_vectors()
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    filters, oh, ow = y.shape[0], y.shape[1], y.shape[2]
    flat = _padded(x, n, pad, kernel[1])
    offsets = _tap_offsets(channels, kernel, (hp, wp))
    size, taps = oh * wp, offsets.shape[0]
    wide0, wide1 = np.empty(size, dtype=y.dtype), np.empty(size, dtype=y.dtype)
    for f in range(0, filters, 2):
        g = min(f + 1, filters - 1)  # an odd last filter is computed twice
        wide0[:] = bias[f]
        wide1[:] = bias[g]
        for tap in range(0, taps - 2, 3):  # three taps per pass over the buffers
            v0, v1, v2 = w2[f, tap], w2[f, tap + 1], w2[f, tap + 2]
            u0, u1, u2 = w2[g, tap], w2[g, tap + 1], w2[g, tap + 2]
            s0 = flat[offsets[tap]:offsets[tap] + size]
            s1 = flat[offsets[tap + 1]:offsets[tap + 1] + size]
            s2 = flat[offsets[tap + 2]:offsets[tap + 2] + size]
            for t in range(size):
                x0, x1, x2 = s0[t], s1[t], s2[t]
                wide0[t] = wide0[t] + v0 * x0 + v1 * x1 + v2 * x2
                wide1[t] = wide1[t] + u0 * x0 + u1 * x1 + u2 * x2
        for tap in range(taps - taps % 3, taps):
            v, u, src = w2[f, tap], w2[g, tap], flat[offsets[tap]:offsets[tap] + size]
            for t in range(size):
                wide0[t] += v * src[t]
                wide1[t] += u * src[t]
        for p in range(oh):
            dst0, dst1 = y[f, p], y[g, p]
            for q in range(ow):
                dst0[q] = wide0[p * wp + q]
            if g != f:
                for q in range(ow):
                    dst1[q] = wide1[p * wp + q]


@jit
def implicit_dw_image(x, n, dy, kernel, pad, dw, transposed):
    """dw (F, C*KH*KW) += dy[n] (F, OH, OW) @ im2col(x[n]).T, or with `transposed`,
    dw (C*KH*KW, F) += im2col(x[n]) @ dy[n].T (the longer rows suit the GEMM)."""
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    filters, oh, ow = dy.shape[1], dy.shape[2], dy.shape[3]
    spread = np.zeros((filters, oh * wp), dtype=x.dtype)  # dy[n] on padded-width rows
    for f in range(filters):
        for p in range(oh):
            src, dst = dy[n, f, p], spread[f, p * wp:]
            for q in range(ow):
                dst[q] = src[q]
    flat = _padded(x, n, pad, kernel[1])
    offsets = _tap_offsets(channels, kernel, (hp, wp))
    if transposed:
        gemm_operands((flat, offsets, False), dense(spread, True), oh * wp, dw, 0,
                      dw.shape[0])
    else:
        gemm_operands(dense(spread, False), (flat, offsets, True), oh * wp, dw, 0,
                      dw.shape[0])


@fma_jit
def direct_dw_images(x, dy, images, kernel, pad, dw, transposed):
    """dw (F, C*KH*KW), or (C*KH*KW, F) with `transposed`, += the sums over images in
    range(*images) of dy[n, f] times the padded image read from tap t's offset, for
    few taps: the twin of csrc/conv2d_direct_impl.h's dw_direct_. Numba keeps floating
    point sums in order, so a dot product per tap would not vectorize; instead each
    (filter, tap) owns a padded-width row of partial products, accumulated over the
    images by a plain elementwise loop (FMA vectors), and summed once at the end."""
    wide_vectors()
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    hp, wp = h + 2 * pad[0], w + 2 * pad[1]
    filters, oh, ow = dy.shape[1], dy.shape[2], dy.shape[3]
    size = oh * wp
    offsets = _tap_offsets(channels, kernel, (hp, wp))
    taps = offsets.shape[0]
    partial = np.zeros((filters, taps, size), dtype=x.dtype)
    spread = np.zeros(size, dtype=x.dtype)  # dy[n, f] on padded-width rows
    for n in range(images[0], images[1]):
        flat = _padded(x, n, pad, kernel[1])
        for f in range(filters):
            for p in range(oh):
                src, dst = dy[n, f, p], spread[p * wp:]
                for q in range(ow):
                    dst[q] = src[q]
            for t in range(taps):
                acc, img = partial[f, t], flat[offsets[t]:offsets[t] + size]
                for q in range(size):
                    acc[q] += spread[q] * img[q]
    for f in range(filters):
        for t in range(taps):
            s = partial[f, t].sum()
            if transposed:
                dw[t, f] += s
            else:
                dw[f, t] += s
