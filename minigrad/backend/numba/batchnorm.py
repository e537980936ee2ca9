"""Numba batch norm over (N, C) or (N, C, H, W): per-channel statistics in float64,
shifted sums so a large mean does not cancel the variance away."""
from __future__ import annotations

import numpy as np
from numba import prange

from .._check import check_batchnorm, check_batchnorm_backward
from .jit import jit, parallel_jit

# (N, C, H, W) input is viewed as x3 (N, C, L), L = H*W, and handled one channel per
# task (the "channel" kernels). (N, C) input takes one serial pass along the rows,
# vectorized over C (the "rows" kernels): per-channel tasks would each read a strided
# column and allocate their partial sums (0.8 ms against 0.1 ms for 128 x 300).


@jit
def _channel_stats(x3, c):
    """Mean and biased variance of channel c of x3 (N, C, L), in float64. Each plane
    x3[n, c] (contiguous) is added into L partial sums (a vectorizable loop), shifted
    by the channel's first value."""
    shift = np.float64(x3[0, c, 0])
    s1 = np.zeros(x3.shape[2], dtype=np.float64)
    s2 = np.zeros(x3.shape[2], dtype=np.float64)
    for n in range(x3.shape[0]):
        plane = x3[n, c]
        for i in range(plane.shape[0]):
            d = np.float64(plane[i]) - shift
            s1[i] += d
            s2[i] += d * d
    count = x3.shape[0] * x3.shape[2]
    m = s1.sum() / count
    return shift + m, max(s2.sum() / count - m * m, 0.0)


@jit
def _channel_apply(x3, c, mean, scale, beta, y3):
    """y = (x - mean) * scale + beta on channel c, scale = gamma * invstd."""
    for n in range(x3.shape[0]):
        src, dst = x3[n, c], y3[n, c]
        for i in range(src.shape[0]):
            dst[i] = (src[i] - mean) * scale + beta


@jit
def _channel_backward(dy3, x3, c, stats, training, dx3):
    """Channel c: (dgamma, dbeta) = (sum dy * xhat, sum dy); dx through the batch
    statistics when training, else gamma * invstd * dy. stats = (gamma, mean, invstd)
    of this channel, float64."""
    gamma, mean, invstd = stats
    s1 = np.zeros(x3.shape[2], dtype=np.float64)
    s2 = np.zeros(x3.shape[2], dtype=np.float64)
    for n in range(x3.shape[0]):
        g_plane, x_plane = dy3[n, c], x3[n, c]
        for i in range(x_plane.shape[0]):
            g = np.float64(g_plane[i])
            s1[i] += g
            s2[i] += g * (np.float64(x_plane[i]) - mean)
    count = x3.shape[0] * x3.shape[2]
    dbeta, dgamma = s1.sum(), s2.sum() * invstd
    mean_dy, mean_dy_xhat = ((dbeta / count, dgamma / count) if training else (0.0, 0.0))
    # dx = scale * (dy - mean_dy - xhat * mean_dy_xhat), xhat = (x - mean) * invstd,
    # as (x - mean) * slope + offset + dy * scale in x's dtype (C's affine pass); x - mean
    # comes first so that nothing cancels.
    scale = gamma * invstd
    to_dtype = dx3.dtype.type
    slope, offset = to_dtype(-scale * invstd * mean_dy_xhat), to_dtype(-scale * mean_dy)
    center, dy_scale = to_dtype(mean), to_dtype(scale)
    for n in range(x3.shape[0]):
        g_plane, x_plane, out = dy3[n, c], x3[n, c], dx3[n, c]
        for i in range(x_plane.shape[0]):
            out[i] = (x_plane[i] - center) * slope + offset + g_plane[i] * dy_scale
    return dgamma, dbeta


@parallel_jit
def _batchnorm_stats_impl(x3, mean, var):
    for c in prange(x3.shape[1]):
        mean[c], var[c] = _channel_stats(x3, c)


@parallel_jit
def _batchnorm_apply_impl(x3, mean, scale, beta, y3):
    for c in prange(x3.shape[1]):
        _channel_apply(x3, c, mean[c], scale[c], beta[c], y3)


@parallel_jit
def _batchnorm_backward_impl(dy3, x3, stats, training, dx3, dgamma, dbeta):
    """stats = (gamma, mean, invstd), each (C,)."""
    gamma, mean, invstd = stats
    for c in prange(x3.shape[1]):
        dgamma[c], dbeta[c] = _channel_backward(
            dy3, x3, c, (np.float64(gamma[c]), mean[c], invstd[c]), training, dx3)


@jit
def _batchnorm_rows_stats_impl(x2, mean, var):
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


@jit
def _batchnorm_rows_apply_impl(x2, mean, scale, beta, y2):
    for i in range(x2.shape[0]):
        for j in range(x2.shape[1]):
            y2[i, j] = (x2[i, j] - mean[j]) * scale[j] + beta[j]


@jit
def _batchnorm_rows_backward_impl(dy2, x2, stats, training, dx2, dgamma, dbeta):
    """stats = (gamma, mean, invstd), each (C,); dgamma, dbeta (C,) float64, written.
    The sums go to fresh arrays (LLVM knows they alias nothing, so the loops
    vectorize), then dx is the affine pass of _channel_backward per column."""
    gamma, mean, invstd = stats
    n, c = x2.shape
    s1, s2 = np.zeros(c), np.zeros(c)
    for i in range(n):
        for j in range(c):
            g = np.float64(dy2[i, j])
            s1[j] += g
            s2[j] += g * (np.float64(x2[i, j]) - mean[j])
    to_dtype = dx2.dtype.type
    slope, offset = np.empty(c, dtype=dx2.dtype), np.empty(c, dtype=dx2.dtype)
    center, dy_scale = np.empty(c, dtype=dx2.dtype), np.empty(c, dtype=dx2.dtype)
    for j in range(c):
        dbeta[j], dgamma[j] = s1[j], s2[j] * invstd[j]
        mean_dy, mean_dy_xhat = ((dbeta[j] / n, dgamma[j] / n) if training else (0.0, 0.0))
        scale = np.float64(gamma[j]) * invstd[j]
        slope[j] = to_dtype(-scale * invstd[j] * mean_dy_xhat)
        offset[j] = to_dtype(-scale * mean_dy)
        center[j], dy_scale[j] = to_dtype(mean[j]), to_dtype(scale)
    for i in range(n):
        x_row, g_row, out = x2[i], dy2[i], dx2[i]
        for j in range(c):
            out[j] = (x_row[j] - center[j]) * slope[j] + offset[j] + g_row[j] * dy_scale[j]


def _as3(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) as a contiguous (N, C, H*W) array."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1],
                                           x.shape[2] * x.shape[3])


def _batch_stats(x):
    """Per-channel mean and biased variance of x, float64 (C,)."""
    c = x.shape[1]
    mean, var = np.empty(c), np.empty(c)
    if x.ndim == 2:
        _batchnorm_rows_stats_impl(np.ascontiguousarray(x), mean, var)
    else:
        _batchnorm_stats_impl(_as3(x), mean, var)
    return mean, var


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum,
                      eps):
    """x (N, C) or (N, C, H, W) -> (y, mean (C,), invstd (C,)); training updates
    running_mean / running_var in place (unbiased variance), see interface.py."""
    check_batchnorm(x, gamma, beta, running_mean, running_var)
    if training:
        count = x.size // x.shape[1]
        if count < 2:
            raise ValueError(f"batchnorm: training needs more than one value per "
                             f"channel, got x{x.shape}")
        mean64, var = _batch_stats(x)
        # (C,) sized and possibly non-contiguous or another dtype: numpy updates in place.
        running_mean *= 1 - momentum
        running_mean += momentum * mean64
        running_var *= 1 - momentum
        running_var += momentum * var * (count / (count - 1))
        mean = mean64.astype(x.dtype)
    else:
        mean, var = np.asarray(running_mean, dtype=x.dtype).copy(), running_var
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    y = np.empty_like(x, order="C")
    scale = (invstd * gamma).astype(x.dtype)
    beta = np.ascontiguousarray(beta)
    if x.ndim == 2:
        _batchnorm_rows_apply_impl(np.ascontiguousarray(x), mean, scale, beta, y)
    else:
        _batchnorm_apply_impl(_as3(x), mean, scale, beta, _as3(y))
    return y, mean, invstd


def batchnorm_backward(dy, x, gamma, mean, invstd, training):
    """Upstream dy of x's shape -> (dx, dgamma (C,), dbeta (C,))."""
    check_batchnorm_backward(dy, x, gamma, mean, invstd)
    c = x.shape[1]
    dx = np.empty_like(x, order="C")
    dgamma, dbeta = np.zeros(c), np.zeros(c)
    if x.size == 0:  # nothing to sum (and no count to divide by)
        return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
    stats = (np.ascontiguousarray(gamma), np.ascontiguousarray(mean, dtype=np.float64),
             np.ascontiguousarray(invstd, dtype=np.float64))
    if x.ndim == 2:
        _batchnorm_rows_backward_impl(np.ascontiguousarray(dy), np.ascontiguousarray(x),
                                      stats, bool(training), dx, dgamma, dbeta)
    else:
        _batchnorm_backward_impl(_as3(dy), _as3(x), stats, bool(training), _as3(dx),
                                 dgamma, dbeta)
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)
