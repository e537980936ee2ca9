"""The numpy reference backend: the slowest and plainest kernels, the ones the others
are tested against. Contracts in ``interface.py``."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._check import (check_argmax_range, check_avgpool2d_backward, check_batchnorm,
                     check_batchnorm_backward, check_bias_relu, check_conv2d,
                     check_conv2d_backward, check_matmul, check_maxpool2d_backward,
                     check_pool, pool_out_shape)
from .winograd_ref import (conv2d_winograd_backward_weight,  # noqa: F401  (this
                           conv2d_winograd_forward)  # backend's kernels)


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    check_matmul(a, b, trans_a, trans_b)
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """A strided view (N, C, OH, OW, KH, KW) of every window of x, without copying."""
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    s = x.strides
    return as_strided(x, (n, c, oh, ow, kh, kw),
                      (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]), writeable=False)


def _pad(x: np.ndarray, ph: int, pw: int) -> np.ndarray:
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(x, w, b, stride, padding):
    check_conv2d(x, w, b, stride, padding)
    kh, kw = w.shape[2:]
    cols = _windows(_pad(x, *padding), kh, kw, *stride)          # N C OH OW KH KW
    y = np.einsum("ncpqij,fcij->nfpq", cols, w, optimize=True)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(y, dtype=x.dtype)


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                    need_db=True):
    oh, ow = check_conv2d_backward(x, w, dy, stride, padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    dx = dw = db = None
    if need_dw:
        cols = _windows(_pad(x, ph, pw), kh, kw, sh, sw)
        dw = np.einsum("ncpqij,nfpq->fcij", cols, dy, optimize=True).astype(x.dtype)
    if need_db:
        db = dy.sum(axis=(0, 2, 3)).astype(x.dtype)
    if need_dx:
        dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=x.dtype)
        # Each kernel tap (i, j) scatters into a strided slice of the padded input.
        for i in range(kh):
            for j in range(kw):
                dxp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += np.einsum(
                    "nfpq,fc->ncpq", dy, w[:, :, i, j], optimize=True)
        dx = np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + wd])
    return dx, dw, db


def maxpool2d_forward(x, kernel, stride):
    (kh, kw), (sh, sw) = check_pool("maxpool2d", x, kernel, stride)
    n, c, h, w = x.shape
    win = _windows(x, kh, kw, sh, sw)
    oh, ow = win.shape[2:4]
    flat = win.reshape(n, c, oh, ow, kh * kw)
    nan = np.isnan(flat)
    # argmax ignores NaN ordering; give NaN priority so it propagates as in PyTorch.
    k = np.where(nan.any(-1), nan.argmax(-1), flat.argmax(-1))
    y = np.take_along_axis(flat, k[..., None], -1)[..., 0]
    rows = np.arange(oh).reshape(-1, 1) * sh + k // kw
    cols = np.arange(ow).reshape(1, -1) * sw + k % kw
    return np.ascontiguousarray(y), (rows * w + cols).astype(np.int64)


def maxpool2d_backward(dy, argmax, x_shape):
    x_shape = check_maxpool2d_backward(dy, argmax, x_shape)
    check_argmax_range(argmax, x_shape)
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dtype=dy.dtype)
    planes = np.repeat(np.arange(n * c), dy.shape[2] * dy.shape[3])
    np.add.at(dx, (planes, argmax.reshape(-1)), dy.reshape(-1))
    return dx.reshape(x_shape)


def avgpool2d_forward(x, kernel, stride):
    kernel, stride = check_pool("avgpool2d", x, kernel, stride)
    win = _windows(x, *kernel, *stride)
    return np.ascontiguousarray(win.mean(axis=(4, 5), dtype=x.dtype))


def avgpool2d_backward(dy, x_shape, kernel, stride):
    x_shape, kernel, stride = check_avgpool2d_backward(dy, x_shape, kernel, stride)
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = pool_out_shape(x_shape, kernel, stride)
    dx = np.zeros(x_shape, dtype=dy.dtype)
    share = dy / (kh * kw)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += share
    return dx


def _channel_view(x: np.ndarray):
    """Axes reduced for per-channel statistics, and the shape a (C,) array broadcasts as."""
    if x.ndim == 2:
        return (0,), (1, -1)
    return (0, 2, 3), (1, -1, 1, 1)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training,
                      momentum, eps):
    check_batchnorm(x, gamma, beta, running_mean, running_var)
    axes, shape = _channel_view(x)
    if training:
        count = x.size // x.shape[1]
        if count < 2:
            raise ValueError(f"batchnorm: training needs more than one value per "
                             f"channel, got x{x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean, running_var
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    mean = np.asarray(mean, dtype=x.dtype)
    y = (x - mean.reshape(shape)) * (invstd * gamma).reshape(shape) + beta.reshape(shape)
    return y.astype(x.dtype, copy=False), mean.copy(), invstd


def batchnorm_backward(dy, x, gamma, mean, invstd, training):
    check_batchnorm_backward(dy, x, gamma, mean, invstd)
    axes, shape = _channel_view(x)
    xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    scale = (gamma * invstd).reshape(shape)
    if training:
        count = x.size // x.shape[1]
        dx = scale * (dy - (dbeta.reshape(shape) + xhat * dgamma.reshape(shape)) / count)
    else:
        dx = scale * dy
    return dx.astype(x.dtype, copy=False), dgamma.astype(x.dtype), dbeta.astype(x.dtype)


def bias_relu_forward(z, b):
    n, f, _ = check_bias_relu("bias_relu_forward", z, b, inplace=True)
    if b is not None:
        z += b.reshape((f,) + (1,) * (z.ndim - 2))
    np.maximum(z, 0, out=z)
    return z


def bias_relu_backward(dy, y, need_db=True):
    check_bias_relu("bias_relu_backward", dy, y=y)
    dz = dy * (y > 0)
    db = dz.sum(axis=(0,) + tuple(range(2, dz.ndim))) if need_db else None
    return dz, db
