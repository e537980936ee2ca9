"""2-d convolution (cross-correlation, NCHW, zero padding) on the backend kernels."""
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

    def forward(self, ctx, x, w, b=None, stride=(1, 1), padding=(0, 0)):
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        b = None if b is None else np.ascontiguousarray(b)
        y = backend.current().conv2d_forward(x, w, b, stride, padding)
        ctx.save(x, w)
        ctx.stride, ctx.padding = stride, padding
        return y

    def backward(self, ctx, dy):
        x, w = ctx.saved
        need = ctx.needs_input_grad + (False,) * (3 - len(ctx.needs_input_grad))
        dx, dw, db = backend.current().conv2d_backward(
            x, w, np.ascontiguousarray(dy), ctx.stride, ctx.padding,
            need_dx=need[0], need_dw=need[1], need_db=need[2])
        return dx, dw, db
