"""Index-driven and copying primitives: gather, scatter, scatter_add, constant pad,
dtype cast, clone, and zero insertion (the dilated-kernel view of a dilated conv)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import ShapeError


def along(index: np.ndarray, axis: int) -> tuple:
    """The full index tuple that picks, for every position of ``index``, the element
    whose coordinate on ``axis`` is index's value and elsewhere its own coordinate
    (torch.gather's addressing)."""
    grids = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    grids[axis] = index
    return tuple(grids)


def check_index(op: str, x: np.ndarray, axis: int, index: np.ndarray) -> None:
    """PyTorch's rule: same ndim, index no larger than x off the axis, values in range."""
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    if index.ndim != x.ndim or any(i > s for d, (i, s) in enumerate(zip(index.shape, x.shape))
                                   if d != axis):
        raise ShapeError(f"{op}: index{index.shape} must have x's {x.ndim} dims and be no "
                         f"larger than x{x.shape} off axis {axis}")
    if index.size and (index.min() < -x.shape[axis] or index.max() >= x.shape[axis]):
        raise ShapeError(f"{op}: index values must be in [0, {x.shape[axis]}) for axis "
                         f"{axis} of x{x.shape}, got [{index.min()}, {index.max()}]")


class Gather(Function):
    """y[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (torch.gather); y has index's
    shape. Picking one element twice accumulates its gradient."""

    rule = "dx = zeros, then dx[index along axis] += dy"

    def forward(self, ctx, x, index, axis=0):
        check_index("gather", x, axis, index)
        ctx.where, ctx.shape = along(index, axis), x.shape
        return x[ctx.where]

    def backward(self, ctx, dy):
        dx = np.zeros(ctx.shape, dtype=dy.dtype)
        np.add.at(dx, ctx.where, dy)
        return dx, None


class Scatter(Function):
    """y = x with y[index[i][j]][j] = src[i][j] for axis 0 (torch.scatter); src has
    index's shape (already broadcast/sliced by the caller)."""

    rule = "dx = dy with the written positions zeroed; dsrc = dy[index along axis]"

    def forward(self, ctx, x, index, src, axis=0):
        check_index("scatter", x, axis, index)
        ctx.where = along(index, axis)
        y = x.copy()
        y[ctx.where] = src
        return y

    def backward(self, ctx, dy):
        dx = dy.copy()
        dx[ctx.where] = 0
        return dx, None, dy[ctx.where]


class ScatterAdd(Function):
    """y = x with y[index[i][j]][j] += src[i][j] for axis 0 (torch.scatter_add)."""

    rule = "dx = dy; dsrc = dy[index along axis]"

    def forward(self, ctx, x, index, src, axis=0):
        check_index("scatter_add", x, axis, index)
        ctx.where = along(index, axis)
        y = x.copy()
        np.add.at(y, ctx.where, src)
        return y

    def backward(self, ctx, dy):
        return dy, None, dy[ctx.where]


class ConstantPad(Function):
    """Pad with a constant; widths: one (before, after) pair of ints >= 0 per axis."""

    rule = "dx = dy with the padding sliced off"

    def forward(self, ctx, x, widths, value=0.0):
        ctx.inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
        return np.pad(x, widths, constant_values=value)

    def backward(self, ctx, dy):
        return dy[ctx.inner]


class Cast(Function):
    """A differentiable dtype change (t.float(), t.double()); the gradient is cast back."""

    rule = "dx = dy (in x's dtype)"

    def forward(self, ctx, x, dtype):
        return x.astype(dtype)

    def backward(self, ctx, dy):
        return dy


class Clone(Function):
    """A copy of the data that stays in the graph (torch.clone)."""

    rule = "dx = dy"

    def forward(self, ctx, x):
        return x.copy()

    def backward(self, ctx, dy):
        return dy


class ZeroInsert(Function):
    """Insert (step - 1) zeros between neighbours along the last two axes: the kernel
    of a dilated conv, w (F, C, KH, KW) -> (F, C, (KH-1)*dh+1, (KW-1)*dw+1)."""

    rule = "dx = dy[..., ::dh, ::dw]"

    def forward(self, ctx, x, step):
        dh, dw = ctx.step = step
        h, w = x.shape[-2:]
        y = np.zeros(x.shape[:-2] + ((h - 1) * dh + 1, (w - 1) * dw + 1), dtype=x.dtype)
        y[..., ::dh, ::dw] = x
        return y

    def backward(self, ctx, dy):
        dh, dw = ctx.step
        return np.ascontiguousarray(dy[..., ::dh, ::dw])
