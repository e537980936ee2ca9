"""Numba max- and average-pooling (no padding, floor mode), one (n, c) plane per
task."""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import (check_argmax_range, check_avgpool2d_backward,
                      check_maxpool2d_backward, check_pool, pool_out_shape)
from .jit import jit, parallel_jit


@jit
def _takes(v, best):
    """Whether v replaces the running maximum: strictly greater keeps the first
    maximum; a NaN replaces any number and, once best is NaN, nothing replaces it.
    Evaluated without branches (the winner is random, a branch would mispredict)."""
    return (v > best) | ((v != v) & (best == best))


@jit
def _maxpool_plane(x2, window, y2, arg2):
    """One (n, c) plane: the first maximum of each window and its flat index h*W + w,
    NaN winning (it propagates, as in PyTorch). window = (KH, KW, SH, SW)."""
    kh, kw, sh, sw = window
    width = x2.shape[1]
    for p in range(y2.shape[0]):
        for q in range(y2.shape[1]):
            where = p * sh * width + q * sw
            best = x2[p * sh, q * sw]
            for i in range(kh):
                for j in range(kw):
                    v = x2[p * sh + i, q * sw + j]
                    take = _takes(v, best)
                    best = v if take else best
                    where = (p * sh + i) * width + q * sw + j if take else where
            y2[p, q] = best
            arg2[p, q] = where


@jit
def _maxpool_plane_2x2(x2, y2, arg2):
    """_maxpool_plane for the common 2x2 window at stride 2, as straight-line selects
    along the row (LLVM vectorizes them)."""
    width = x2.shape[1]
    for p in range(y2.shape[0]):
        r0, r1 = x2[2 * p], x2[2 * p + 1]
        for q in range(y2.shape[1]):
            best, at = r0[2 * q], 0
            v = r0[2 * q + 1]
            take = _takes(v, best)
            best, at = (v if take else best), (1 if take else at)
            v = r1[2 * q]
            take = _takes(v, best)
            best, at = (v if take else best), (width if take else at)
            v = r1[2 * q + 1]
            take = _takes(v, best)
            best, at = (v if take else best), (width + 1 if take else at)
            y2[p, q] = best
            arg2[p, q] = 2 * p * width + 2 * q + at


@jit
def _maxpool_plane_2x2_backward(dy2, arg2, dx2):
    """_maxpool_plane_tiled_backward for 2x2 windows, straight-line."""
    width, inside, zero = dx2.shape[1], True, dx2.dtype.type(0)
    for p in range(dy2.shape[0]):
        r0, r1 = dx2[2 * p], dx2[2 * p + 1]
        for q in range(dy2.shape[1]):
            g, at = dy2[p, q], arg2[p, q] - 2 * p * width - 2 * q
            r0[2 * q] = g if at == 0 else zero
            r0[2 * q + 1] = g if at == 1 else zero
            r1[2 * q] = g if at == width else zero
            r1[2 * q + 1] = g if at == width + 1 else zero
            inside &= (at == 0) | (at == 1) | (at == width) | (at == width + 1)
    return inside


@jit
def _maxpool_plane_tiled_backward(dy2, arg2, dx2, k_h, k_w):
    """When the windows tile the plane (kernel == stride, no remainder) every input
    belongs to one window, so dx2 is written once, without zeroing it first. Returns
    False when some argmax lies outside its own window (the caller then takes the
    general path for this plane)."""
    width, inside, zero = dx2.shape[1], True, dx2.dtype.type(0)
    for p in range(dy2.shape[0]):
        for i in range(k_h):
            row = dx2[p * k_h + i]
            for q in range(dy2.shape[1]):
                at, g = arg2[p, q] - (p * k_h + i) * width - q * k_w, dy2[p, q]
                for j in range(k_w):
                    row[q * k_w + j] = g if at == j else zero
                if i == 0:  # the argmax lies in rows [0, k_h) and columns [0, k_w)
                    inside &= (0 <= at) & (at < k_h * width) & (at % width < k_w)
    return inside


@jit
def _maxpool_plane_backward(dy1, arg1, dx1):
    """dx1 = 0, then dx1[argmax] += dy1: a window's gradient goes to its chosen input.
    Returns False (leaving dx1 unwritten) when an index lies outside the plane."""
    for o in range(arg1.shape[0]):
        if arg1[o] < 0 or arg1[o] >= dx1.shape[0]:
            return False
    dx1[:] = 0
    for o in range(dy1.shape[0]):
        dx1[arg1[o]] += dy1[o]
    return True


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
    """Each input of a window receives dy / (KH*KW), summed where windows overlap.
    When the windows tile the plane each input is written once, without zeroing."""
    kh, kw, sh, sw = window
    if kh == sh and kw == sw and dx2.shape[0] == dy2.shape[0] * sh and \
            dx2.shape[1] == dy2.shape[1] * sw:
        for p in range(dy2.shape[0]):
            for i in range(kh):
                row = dx2[p * kh + i]
                for q in range(dy2.shape[1]):
                    share = dy2[p, q] / (kh * kw)
                    for j in range(kw):
                        row[q * kw + j] = share
        return
    dx2[:] = 0
    for p in range(dy2.shape[0]):
        for q in range(dy2.shape[1]):
            share = dy2[p, q] / (kh * kw)
            for i in range(kh):
                for j in range(kw):
                    dx2[p * sh + i, q * sw + j] += share


# One plane per task: the prange bodies are single calls (a short parallel compile).
@parallel_jit
def _maxpool2d_forward_impl(x3, window, y3, arg3):
    two_by_two = window == (2, 2, 2, 2)
    for plane in prange(x3.shape[0]):
        if two_by_two:
            _maxpool_plane_2x2(x3[plane], y3[plane], arg3[plane])
        else:
            _maxpool_plane(x3[plane], window, y3[plane], arg3[plane])


@parallel_jit
def _maxpool2d_backward_impl(dy3, arg3, dx3, tile, ok):
    """tile = (k_h, k_w) when the windows tile each plane, else (0, 0); ok[plane] says
    whether its indices lay inside the plane."""
    for plane in prange(dy3.shape[0]):
        if tile == (2, 2):
            done = _maxpool_plane_2x2_backward(dy3[plane], arg3[plane], dx3[plane])
        else:
            done = tile[0] > 0 and _maxpool_plane_tiled_backward(
                dy3[plane], arg3[plane], dx3[plane], tile[0], tile[1])
        outs, size = dy3.shape[1] * dy3.shape[2], dx3.shape[1] * dx3.shape[2]
        ok[plane] = done or _maxpool_plane_backward(
            dy3[plane].reshape(outs), arg3[plane].reshape(outs), dx3[plane].reshape(size))


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
    oh, ow = dy.shape[2:]
    dx = np.empty((n * c, h, w), dtype=dy.dtype)
    if dx.size == 0 or dy.size == 0:
        dx[...] = 0
        return dx.reshape(n, c, h, w)
    tiles = oh and ow and h % oh == 0 and w % ow == 0
    ok = np.empty(n * c, dtype=np.bool_)
    _maxpool2d_backward_impl(_planes(dy), _planes(argmax), dx,
                             (h // oh, w // ow) if tiles else (0, 0), ok)
    if not ok.all():  # raises with the offending range
        check_argmax_range(argmax, (n, c, h, w))
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
    dx = np.empty((n * c, h, w), dtype=dy.dtype)
    _avgpool2d_backward_impl(_planes(dy), (*kernel, *stride), dx)
    return dx.reshape(n, c, h, w)
