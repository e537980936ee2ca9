"""Max and average pooling over 2-d windows (NCHW, no padding, floor mode), and
MaxPool2dReLU, the ReLU applied on the pooled output."""
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

    relu = False  # MaxPool2dReLU
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, kernel=(2, 2), stride=None):
        stride = kernel if stride is None else stride
        kernels = backend.current()
        y, argmax = kernels.maxpool2d_forward(np.ascontiguousarray(x), kernel, stride)
        if self.relu:
            kernels.bias_relu_forward(y, None)
            ctx.save(argmax, y)
        else:
            ctx.save(argmax)  # the winners' indices are all backward needs
        ctx.x_shape = x.shape
        return y

    rule = "dx = dy scattered to each window's argmax"

    def backward(self, ctx, dy):
        kernels, dy = backend.current(), np.ascontiguousarray(dy)
        if self.relu:
            dy, _ = kernels.bias_relu_backward(dy, ctx.saved[1], False)
        return kernels.maxpool2d_backward(dy, ctx.saved[0], ctx.x_shape)


class MaxPool2dReLU(MaxPool2d):
    """relu(max_pool2d(x)), which equals max_pool2d(relu(x)) (ReLU is monotonic, so it
    commutes with max), values and gradients alike: a window whose maximum is <= 0
    gets zeros either way. It lets ReLU -> MaxPool2d run the ReLU on the pooled
    output, a quarter of the elements for 2x2 windows."""

    rule = "dz = dy * [y > 0], dx = dz scattered to each window's argmax"
    relu = True


class AvgPool2d(Function):
    """y[n, c, p, q] = mean of x over the window at (p*sh, q*sw) of size kernel.

    x: (N, C, H, W); kernel, stride: (int, int). Returns (N, C, OH, OW).
    """

    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, kernel=(2, 2), stride=None):
        stride = kernel if stride is None else stride
        ctx.x_shape, ctx.kernel, ctx.stride = x.shape, kernel, stride
        return backend.current().avgpool2d_forward(np.ascontiguousarray(x), kernel, stride)

    rule = "dx = dy / (kh*kw) spread over each window"

    def backward(self, ctx, dy):
        return backend.current().avgpool2d_backward(np.ascontiguousarray(dy), ctx.x_shape,
                                                    ctx.kernel, ctx.stride)
