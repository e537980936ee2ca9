"""Reductions over an axis (int, tuple or None for all) with optional keepdims."""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from ..autograd import Function
from ..errors import ShapeError


def normalize_axis(axis, ndim: int, op: str) -> tuple[int, ...]:
    """Axis argument as a sorted tuple of non-negative ints; checks the range.

    A 0-d tensor accepts axis 0 and -1 (as PyTorch) and reduces over no axis."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def torch_names(fn: Callable) -> Callable:
    """Let a reduction take PyTorch's dim=/keepdim= beside axis=/keepdims=.

    The one place where the PyTorch spellings are mapped, shared by every reduction
    (Tensor methods and mg.* functions). Giving both spellings raises ValueError."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for torch_name, ours in (("dim", "axis"), ("keepdim", "keepdims")):
            if torch_name in kwargs:
                if ours in kwargs:
                    raise ValueError(f"{fn.__name__}: give {ours}= or {torch_name}=, "
                                     f"not both")
                kwargs[ours] = kwargs.pop(torch_name)
        return fn(*args, **kwargs)
    return wrapper


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

    rule = "dx = dy broadcast back to x.shape"

    def backward(self, ctx, dy):
        return np.broadcast_to(_expand(dy, ctx.shape, ctx.axes, ctx.keepdims), ctx.shape)


class Mean(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axes, ctx.keepdims = x.shape, normalize_axis(axis, x.ndim, "mean"), keepdims
        ctx.count = math.prod(x.shape[a] for a in ctx.axes) if x.ndim else 1
        return np.asarray(x.mean(axis=ctx.axes, keepdims=keepdims))

    rule = "dx = dy broadcast back to x.shape / n"

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

    rule = "dx = dy at the extrema (ties share)"

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
        count = math.prod(x.shape[a] for a in axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            centered = x - x.mean(axis=axes, keepdims=True) if count else x
            # As PyTorch: forward divides by max(0, n - ddof), so n <= ddof gives NaN or
            # inf, not an error; backward by n - ddof itself.
            scale = x.dtype.type(1.0) / x.dtype.type(max(count - ddof, 0))
            ctx.scale = x.dtype.type(1.0) / x.dtype.type(count - ddof)
            y = (centered * centered).sum(axis=axes, keepdims=keepdims) * scale
        ctx.save(centered)
        ctx.axes, ctx.keepdims = axes, keepdims
        return np.asarray(y, dtype=x.dtype)

    rule = "dx = dy * 2(x - mean) / (n - ddof)"

    def backward(self, ctx, dy):
        (centered,) = ctx.saved
        g = _expand(dy, centered.shape, ctx.axes, ctx.keepdims)
        with np.errstate(invalid="ignore"):
            return g * centered * (2 * ctx.scale)
