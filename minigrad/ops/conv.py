"""2-d convolution (cross-correlation, NCHW, zero padding) on the backend kernels:
Conv2d, and Conv2dReLU with the ReLU fused into the conv's output pass."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function


class Conv2d(Function):
    """y = conv2d(x, w) + b.

    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None; stride, padding: (int, int).
    Returns y: (N, F, OH, OW) with OH = (H + 2*ph - KH) // sh + 1 (likewise OW).
    Raises ValueError for mismatched shapes or bad stride/padding, TypeError for
    dtypes (from the kernel's checks).
    """

    relu = False  # Conv2dReLU

    def forward(self, ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        b = None if b is None else np.ascontiguousarray(b)
        kernels = backend.current()
        ctx.algorithm = backend.choose_conv_algorithm(w.shape, stride, kernels.name)
        if ctx.algorithm == "winograd":   # bias and ReLU in its output transform
            y = kernels.conv2d_winograd_forward(x, w, b, padding, self.relu)
        else:
            y = kernels.conv2d_forward(x, w, b, stride, padding)
            if self.relu:
                kernels.bias_relu_forward(y, None)  # the conv's own epilogue added b
        if self.relu:
            ctx.save(x, w, y)
        else:
            ctx.save(x, w)
        ctx.stride, ctx.padding = stride, padding
        return y

    rule = ("dx = full-correlate(dy, flipped w), dw = correlate(x, dy), db = sum(dy); "
            "algorithm \"winograd\": y, dx and dw by Winograd F(4x4, 3x3)")

    def backward(self, ctx, dy):
        x, w = ctx.saved[:2]
        need = ctx.needs_input_grad + (False,) * (3 - len(ctx.needs_input_grad))
        kernels, dy = backend.current(), np.ascontiguousarray(dy)
        db = None
        if self.relu:
            dy, db = kernels.bias_relu_backward(dy, ctx.saved[2], need[2])
        dx = dw = None
        if ctx.algorithm == "winograd":
            if need[0] and max(ctx.padding) <= 2:
                dx, need = winograd_dx(kernels, w, dy, ctx.padding), (False, *need[1:])
            if need[1]:
                dw = kernels.conv2d_winograd_backward_weight(x, dy, ctx.padding)
                need = (need[0], False, need[2])
        dx_gemm = dw_gemm = db_conv = None
        if need[0] or need[1] or (need[2] and not self.relu):
            dx_gemm, dw_gemm, db_conv = kernels.conv2d_backward(
                x, w, dy, ctx.stride, ctx.padding,
                need_dx=need[0], need_dw=need[1], need_db=need[2] and not self.relu)
        return (dx if dx is not None else dx_gemm, dw if dw is not None else dw_gemm,
                db if self.relu else db_conv)


def winograd_dx(kernels, w, dy, padding, **tile):
    """dx of a 3x3 stride-1 conv with padding p <= 2: the full correlation of dy with
    the flipped, transposed weights, i.e. the Winograd forward at padding 2 - p
    (at the kernels' default tile, or tile=...)."""
    w_t = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    return kernels.conv2d_winograd_forward(dy, w_t, None, (2 - padding[0], 2 - padding[1]),
                                           **tile)


class Conv2dReLU(Conv2d):
    """y = relu(conv2d(x, w) + b), fused: the ReLU is applied in place on the conv's
    output, and its mask and the bias gradient are taken in one pass over dy
    (backend.bias_relu_backward)."""

    rule = ("dz = dy * [y > 0], dx = full-correlate(dz, flipped w), dw = correlate(x, dz), "
            "db = sum(dz); algorithm \"winograd\": y, dx and dw by Winograd F(4x4, 3x3)")
    relu = True
