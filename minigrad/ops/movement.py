"""Shape and indexing primitives: no arithmetic, only data moved around."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import ShapeError


class Reshape(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape x{x.shape} ({x.size} elements) "
                             f"into {tuple(shape)}") from None

    rule = "dx = reshape(dy, x.shape)"

    def backward(self, ctx, dy):
        return dy.reshape(ctx.shape)


class Permute(Function):
    """Reorder the axes (numpy transpose); backward applies the inverse order."""

    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, axes):
        axes = tuple(int(a) % max(x.ndim, 1) for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ShapeError(f"permute: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of x{x.shape}")
        ctx.inverse = tuple(np.argsort(axes))
        return x.transpose(axes)

    rule = "dx = permute(dy, inverse axes)"

    def backward(self, ctx, dy):
        return dy.transpose(ctx.inverse)


class BroadcastTo(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, shape):
        ctx.shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast x{x.shape} to "
                             f"{tuple(shape)}") from None

    rule = "dx = dy summed over the broadcast axes"

    def backward(self, ctx, dy):
        return dy  # the engine sums the broadcast axes back


def _has_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(Function):
    """x[index] for basic and integer-array indexing; repeated indices accumulate."""

    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, index):
        ctx.shape, ctx.dtype, ctx.index = x.shape, x.dtype, index
        try:
            return np.asarray(x[index])
        except IndexError as exc:
            raise IndexError(f"getitem: {exc} (tensor of shape {x.shape}, index "
                             f"{index!r})") from None

    rule = "dx = zeros(x.shape); dx[index] += dy"

    def backward(self, ctx, dy):
        dx = np.zeros(ctx.shape, dtype=ctx.dtype)
        if _has_array(ctx.index):
            np.add.at(dx, ctx.index, dy)  # the same element picked twice sums
        else:
            dx[ctx.index] += dy
        return dx


class Concat(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, *xs, axis=0):
        try:
            y = np.concatenate(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ShapeError(f"concat: cannot join shapes {shapes} along axis "
                             f"{axis}") from None
        ctx.splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        ctx.axis = axis
        return y

    rule = "dx_i = the slice of dy that x_i filled"

    def backward(self, ctx, dy):
        return tuple(np.split(dy, ctx.splits, axis=ctx.axis))


class Stack(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, *xs, axis=0):
        try:
            y = np.stack(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ShapeError(f"stack: cannot stack shapes {shapes} along axis "
                             f"{axis}") from None
        ctx.axis = axis
        return y

    rule = "dx_i = dy[i] along the stacked axis"

    def backward(self, ctx, dy):
        return tuple(np.moveaxis(dy, ctx.axis, 0))
