"""2-d transposed convolution on the conv kernels we have: its forward is the input
gradient of a conv2d, its backward a conv2d forward and a conv2d weight gradient."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function


def transposed_out(size: int, k: int, s: int, p: int, op: int) -> int:
    """PyTorch's output length: (size - 1) * s - 2p + k + output_padding."""
    return (size - 1) * s - 2 * p + k + op


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) + b, the adjoint of conv2d(., w) (PyTorch layout).

    x: (N, C_in, H, W); w: (C_in, C_out, KH, KW); b: (C_out,) or None; stride,
    padding, output_padding: (int, int), output_padding < stride. Returns
    (N, C_out, OH, OW) with OH = (H - 1) * sh - 2 * ph + KH + oph.
    """

    rule = "dx = conv2d(dy, w); dw = conv2d weight-grad(input=dy, grad=x); db = sum dy"

    def forward(self, ctx, x, w, b=None, stride=(1, 1), padding=(0, 0),
                output_padding=(0, 0)):
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        n, _, h, wd = x.shape
        oh, ow = (transposed_out(size, k, s, p, op) for size, k, s, p, op in
                  zip((h, wd), w.shape[2:], stride, padding, output_padding))
        # The conv whose input gradient this is maps (N, C_out, OH, OW) to x's shape;
        # only its shape is read for dx, so a zero placeholder stands for its input.
        shadow = np.zeros((n, w.shape[1], oh, ow), dtype=x.dtype)
        y, _, _ = backend.current().conv2d_backward(
            shadow, w, x, stride, padding, need_dx=True, need_dw=False, need_db=False)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        ctx.save(x, w)
        ctx.stride, ctx.padding = stride, padding
        return y

    def backward(self, ctx, dy):
        x, w = ctx.saved
        need = ctx.needs_input_grad + (False,) * (3 - len(ctx.needs_input_grad))
        kernels, dy = backend.current(), np.ascontiguousarray(dy)
        dx = dw = db = None
        if need[0]:
            dx = kernels.conv2d_forward(dy, w, None, ctx.stride, ctx.padding)
        if need[1]:
            _, dw, _ = kernels.conv2d_backward(dy, w, x, ctx.stride, ctx.padding,
                                               need_dx=False, need_dw=True, need_db=False)
        if need[2]:
            db = dy.sum(axis=(0, 2, 3))
        return dx, dw, db
