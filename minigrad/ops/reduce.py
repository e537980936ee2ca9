"""Reductions over an axis (int, tuple or None for all) with optional keepdims."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import ShapeError


def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...]:
    """Axis argument as a sorted tuple of non-negative ints; checks the range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _expand(dy: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...],
            keepdims: bool) -> np.ndarray:
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if keepdims or not shape:
        return dy
    kept = [1 if i in axes else n for i, n in enumerate(shape)]
    return dy.reshape(kept)


class Sum(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, normalize_axis(axis, x.ndim, "sum"), keepdims
        return np.asarray(x.sum(axis=ctx.axes, keepdims=keepdims))

    def backward(self, ctx, dy):
        return np.broadcast_to(_expand(dy, ctx.shape, ctx.axes, ctx.keepdims), ctx.shape)


class Mean(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, normalize_axis(axis, x.ndim, "mean"), keepdims
        ctx.count = int(np.prod([x.shape[a] for a in ctx.axes])) if x.ndim else 1
        return np.asarray(x.mean(axis=ctx.axes, keepdims=keepdims))

    def backward(self, ctx, dy):
        g = _expand(dy, ctx.shape, ctx.axes, ctx.keepdims) / ctx.count
        return np.broadcast_to(g, ctx.shape)


class _Extremum(Function):
    """max/min; ties share the gradient evenly (as torch.amax / amin)."""

    reduce = staticmethod(np.max)

    def forward(self, ctx, x, axis=None, keepdims=False):
        name = type(self).__name__.lower()
        axes = normalize_axis(axis, x.ndim, name)
        if x.size == 0:
            raise ShapeError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
        y = np.asarray(self.reduce(x, axis=axes, keepdims=True))
        ctx.save(x, y)
        ctx.axes = axes
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, ctx, dy):
        x, y = ctx.saved
        hit = x == y
        count = hit.sum(axis=ctx.axes, keepdims=True)
        return hit * (dy.reshape(y.shape) / count)


class Max(_Extremum):
    reduce = staticmethod(np.max)


class Min(_Extremum):
    reduce = staticmethod(np.min)


class Var(Function):
    """Variance with ddof (0: population, the default; 1: unbiased)."""

    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, axis=None, keepdims=False, ddof=0):
        axes = normalize_axis(axis, x.ndim, "var")
        mean = x.mean(axis=axes, keepdims=True)
        ctx.save(x - mean)
        ctx.axes, ctx.keepdims = axes, keepdims
        ctx.denom = (int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1) - ddof
        return np.asarray(x.var(axis=axes, keepdims=keepdims, ddof=ddof))

    def backward(self, ctx, dy):
        (centered,) = ctx.saved
        g = _expand(dy, centered.shape, ctx.axes, ctx.keepdims)
        return g * centered * (2.0 / ctx.denom)
