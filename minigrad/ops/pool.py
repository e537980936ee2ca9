"""Max and average pooling over 2-d windows (NCHW, no padding, floor mode)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function


class MaxPool2d(Function):
    """y[n, c, p, q] = max of x over the window at (p*sh, q*sw) of size kernel.

    x: (N, C, H, W); kernel, stride: (int, int). Returns (N, C, OH, OW) with
    OH = (H - KH) // sh + 1. A NaN in a window propagates; ties send the gradient to
    the first maximum (row-major), as PyTorch.
    """

    def forward(self, ctx, x, kernel=(2, 2), stride=None):
        stride = kernel if stride is None else stride
        y, argmax = backend.current().maxpool2d_forward(np.ascontiguousarray(x), kernel,
                                                        stride)
        ctx.save(argmax)  # the winners' indices are all backward needs
        ctx.x_shape = x.shape
        return y

    def backward(self, ctx, dy):
        (argmax,) = ctx.saved
        return backend.current().maxpool2d_backward(np.ascontiguousarray(dy), argmax,
                                                    ctx.x_shape)


class AvgPool2d(Function):
    """y[n, c, p, q] = mean of x over the window at (p*sh, q*sw) of size kernel.

    x: (N, C, H, W); kernel, stride: (int, int). Returns (N, C, OH, OW).
    """

    def forward(self, ctx, x, kernel=(2, 2), stride=None):
        stride = kernel if stride is None else stride
        ctx.x_shape, ctx.kernel, ctx.stride = x.shape, kernel, stride
        return backend.current().avgpool2d_forward(np.ascontiguousarray(x), kernel, stride)

    def backward(self, ctx, dy):
        return backend.current().avgpool2d_backward(np.ascontiguousarray(dy), ctx.x_shape,
                                                    ctx.kernel, ctx.stride)
