"""Numba max- and average-pooling (no padding, floor mode), one (n, c) plane per
task."""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import (check_argmax_range, check_avgpool2d_backward,
                      check_maxpool2d_backward, check_pool, pool_out_shape)
from .jit import jit, parallel_jit


@jit
def _maxpool_plane(x2, window, y2, arg2):
    """One (n, c) plane: the first maximum of each window and its flat index h*W + w;
    a NaN wins at once (it propagates, as in PyTorch). window = (KH, KW, SH, SW)."""
    kh, kw, sh, sw = window
    width = x2.shape[1]
    for p in range(y2.shape[0]):
        for q in range(y2.shape[1]):
            h0, w0 = p * sh, q * sw
            best, where = x2[h0, w0], h0 * width + w0
            if not np.isnan(best):
                for t in range(1, kh * kw):
                    r, s = h0 + t // kw, w0 + t % kw
                    v = x2[r, s]
                    if np.isnan(v) or v > best:
                        best, where = v, r * width + s
                        if np.isnan(v):
                            break
            y2[p, q] = best
            arg2[p, q] = where


@jit
def _maxpool_plane_backward(dy1, arg1, dx1):
    """dx1[argmax] += dy1: a window's gradient goes to its chosen input."""
    for o in range(dy1.shape[0]):
        dx1[arg1[o]] += dy1[o]


@jit
def _avgpool_plane(x2, window, y2):
    kh, kw, sh, sw = window
    for p in range(y2.shape[0]):
        for q in range(y2.shape[1]):
            acc = 0.0
            for i in range(kh):
                for j in range(kw):
                    acc += x2[p * sh + i, q * sw + j]
            y2[p, q] = acc / (kh * kw)


@jit
def _avgpool_plane_backward(dy2, window, dx2):
    """Each input of a window receives dy / (KH*KW), summed where windows overlap."""
    kh, kw, sh, sw = window
    for p in range(dy2.shape[0]):
        for q in range(dy2.shape[1]):
            share = dy2[p, q] / (kh * kw)
            for i in range(kh):
                for j in range(kw):
                    dx2[p * sh + i, q * sw + j] += share


# One plane per task: the prange bodies are single calls (a short parallel compile).
@parallel_jit
def _maxpool2d_forward_impl(x3, window, y3, arg3):
    for plane in prange(x3.shape[0]):
        _maxpool_plane(x3[plane], window, y3[plane], arg3[plane])


@parallel_jit
def _maxpool2d_backward_impl(dy2, arg2, dx2):
    for plane in prange(dy2.shape[0]):
        _maxpool_plane_backward(dy2[plane], arg2[plane], dx2[plane])


@parallel_jit
def _avgpool2d_forward_impl(x3, window, y3):
    for plane in prange(x3.shape[0]):
        _avgpool_plane(x3[plane], window, y3[plane])


@parallel_jit
def _avgpool2d_backward_impl(dy3, window, dx3):
    for plane in prange(dy3.shape[0]):
        _avgpool_plane_backward(dy3[plane], window, dx3[plane])


def _planes(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) as a contiguous (N*C, H, W) stack of planes."""
    n, c, h, w = x.shape
    return np.ascontiguousarray(x).reshape(n * c, h, w)


def maxpool2d_forward(x, kernel, stride):
    """x (N, C, H, W) -> (y (N, C, OH, OW), argmax int64 of y's shape)."""
    kernel, stride = check_pool("maxpool2d", x, kernel, stride)
    n, c = x.shape[:2]
    oh, ow = pool_out_shape(x.shape, kernel, stride)
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    arg = np.empty((n * c, oh, ow), dtype=np.int64)
    _maxpool2d_forward_impl(_planes(x), (*kernel, *stride), y, arg)
    return y.reshape(n, c, oh, ow), arg.reshape(n, c, oh, ow)


def maxpool2d_backward(dy, argmax, x_shape):
    """dy, argmax (N, C, OH, OW) -> dx of x_shape with dy accumulated at argmax."""
    n, c, h, w = check_maxpool2d_backward(dy, argmax, x_shape)
    check_argmax_range(argmax, (n, c, h, w))
    planes, outs = n * c, dy.shape[2] * dy.shape[3]
    dx = np.zeros((planes, h * w), dtype=dy.dtype)
    _maxpool2d_backward_impl(np.ascontiguousarray(dy).reshape(planes, outs),
                             np.ascontiguousarray(argmax).reshape(planes, outs), dx)
    return dx.reshape(n, c, h, w)


def avgpool2d_forward(x, kernel, stride):
    """x (N, C, H, W) -> y (N, C, OH, OW), the mean of each window."""
    kernel, stride = check_pool("avgpool2d", x, kernel, stride)
    n, c = x.shape[:2]
    oh, ow = pool_out_shape(x.shape, kernel, stride)
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    _avgpool2d_forward_impl(_planes(x), (*kernel, *stride), y)
    return y.reshape(n, c, oh, ow)


def avgpool2d_backward(dy, x_shape, kernel, stride):
    """dy (N, C, OH, OW) -> dx of x_shape."""
    (n, c, h, w), kernel, stride = check_avgpool2d_backward(dy, x_shape, kernel, stride)
    dx = np.zeros((n * c, h, w), dtype=dy.dtype)
    _avgpool2d_backward_impl(_planes(dy), (*kernel, *stride), dx)
    return dx.reshape(n, c, h, w)
