"""Reductions and scans beyond sum/mean/max/min/var: prod, logsumexp, cumsum, cumprod."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..errors import ShapeError
from .reduce import _expand, normalize_axis


def _one_axis(axis, ndim: int, op: str) -> int:
    if axis is None or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op}: needs one int axis (dim), got {axis!r}")
    return normalize_axis(axis, ndim, op)[0] if ndim else 0


def _exclusive_products(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """For every element, the product of the other elements of its reduced group,
    from left and right exclusive cumulative products (exact with zeros, no divide)."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(*moved.shape[:len(kept)], -1)
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.transpose(others, np.argsort(kept + list(axes)))


class Prod(Function):
    """Product over axes; the gradient of each element is the product of the others."""

    rule = "dx = dy * prod(others in the group)"

    def forward(self, ctx, x, axis=None, keepdims=False):
        ctx.axes, ctx.keepdims = normalize_axis(axis, x.ndim, "prod"), keepdims
        ctx.save(x)
        return np.asarray(np.prod(x, axis=ctx.axes, keepdims=keepdims))

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        if not ctx.axes:
            return dy * np.ones_like(x)
        g = _expand(dy, x.shape, ctx.axes, ctx.keepdims)
        return g * _exclusive_products(x, ctx.axes)


class LogSumExp(Function):
    """log(sum(exp(x))) over axes, shifted by the max so it never overflows."""

    rule = "dx = dy * exp(x - y)"

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "logsumexp")
        if x.size == 0:
            raise ShapeError(f"logsumexp: cannot reduce an empty tensor of shape {x.shape}")
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf rows give -inf, not NaN
        with np.errstate(divide="ignore"):
            y = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.save(x, y)
        ctx.axes = axes
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape)
                                             if i not in axes])

    def backward(self, ctx, dy):
        x, y = ctx.saved
        with np.errstate(invalid="ignore"):
            return dy.reshape(y.shape) * np.exp(x - y)


class CumSum(Function):
    """Running sum along one axis."""

    rule = "dx = reverse cumsum of dy along the axis"

    def forward(self, ctx, x, axis=0):
        ctx.axis = _one_axis(axis, x.ndim, "cumsum")
        return np.cumsum(x, axis=ctx.axis) if x.ndim else x.copy()

    def backward(self, ctx, dy):
        if dy.ndim == 0:
            return dy
        return np.flip(np.cumsum(np.flip(dy, ctx.axis), axis=ctx.axis), ctx.axis)


class CumProd(Function):
    """Running product along one axis.

    dx_i = sum_{j >= i} dy_j * y_j / x_i when no x is 0; with zeros each prefix is
    recomputed with x_i taken out (O(n^2) on the rows that hold a zero only)."""

    rule = "dx_i = sum_{j>=i} dy_j * prod_{k<=j, k!=i} x_k"

    def forward(self, ctx, x, axis=0):
        ctx.axis = _one_axis(axis, x.ndim, "cumprod")
        y = np.cumprod(x, axis=ctx.axis) if x.ndim else x.copy()
        ctx.save(x, y)
        return y

    def backward(self, ctx, dy):
        x, y = ctx.saved
        if x.ndim == 0:
            return dy
        xm, ym, dym = (np.moveaxis(a, ctx.axis, -1) for a in (x, y, dy))
        with np.errstate(invalid="ignore", divide="ignore"):
            dx = np.flip(np.cumsum(np.flip(dym * ym, -1), -1), -1) / xm
        for row in map(tuple, np.argwhere((xm == 0).any(axis=-1))):
            xr, dr = xm[row], dym[row]
            for i in range(xr.shape[0]):
                without = xr.copy()
                without[i] = 1
                dx[row + (i,)] = np.sum((dr * np.cumprod(without))[i:])
        return np.moveaxis(dx, -1, ctx.axis)


class Norm2(Function):
    """Euclidean norm over axes; the gradient at a zero vector is 0 (as PyTorch)."""

    rule = "dx = dy * x / y (0 where y == 0)"

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "norm")
        y = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        ctx.save(x, y)
        return y if keepdims else y.reshape([n for i, n in enumerate(x.shape)
                                             if i not in axes])

    def backward(self, ctx, dy):
        x, y = ctx.saved
        safe = np.where(y == 0, 1, y)
        return dy.reshape(y.shape) * np.where(y == 0, 0, x / safe)
