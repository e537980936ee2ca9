"""Tensor's math, reduction and comparison methods beyond the basics, with PyTorch's
spellings beside numpy's (dim=/keepdim= for axis=/keepdims=, size(), numel(), pow,
eq, float, clone, ...). A mixin, so tensor.py stays about the data and the tape.

Every method is a one-line forward to a primitive in ``minigrad.ops`` or a short
composite of them; reductions take their axis arguments through ``torch_names``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from .ops import binary, index, reduce_extra, unary
from .ops.reduce import torch_names

_LN2, _LN10 = math.log(2.0), math.log(10.0)


class Size(int):
    """t.size: the element count as an int (numpy), and callable as PyTorch's
    t.size() -> shape tuple, t.size(d) -> length of axis d."""

    def __new__(cls, shape: tuple[int, ...]) -> "Size":
        obj = super().__new__(cls, math.prod(shape))
        obj.shape = shape
        return obj

    def __call__(self, dim: int | None = None) -> tuple[int, ...] | int:
        if dim is None:
            return self.shape
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size: dim {dim} is out of range for a tensor of "
                             f"{len(self.shape)} dims")
        return self.shape[dim]


class MathMethods:
    __slots__ = ()

    size = property(lambda self: Size(self.data.shape))

    def numel(self) -> int:
        return int(self.data.size)

    # ----- reductions (axis=/dim=, keepdims=/keepdim=) --------------------------------
    @torch_names
    def sum(self, axis=None, keepdims=False):
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def mean(self, axis=None, keepdims=False):
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def max(self, axis=None, keepdims=False):
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def min(self, axis=None, keepdims=False):
        return ops.Min.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def var(self, axis=None, keepdims=False, ddof=0):
        return ops.Var.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    @torch_names
    def std(self, axis=None, keepdims=False, ddof=0):
        return self.var(axis, keepdims, ddof).sqrt()

    @torch_names
    def prod(self, axis=None, keepdims=False):
        return reduce_extra.Prod.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def logsumexp(self, axis=None, keepdims=False):
        return reduce_extra.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    @torch_names
    def cumsum(self, axis=0):
        return reduce_extra.CumSum.apply(self, axis=axis)

    @torch_names
    def cumprod(self, axis=0):
        return reduce_extra.CumProd.apply(self, axis=axis)

    @torch_names
    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum (flat when axis is None), int64, no gradient."""
        return self._index_of(np.argmax, axis, keepdims)

    @torch_names
    def argmin(self, axis=None, keepdims=False):
        return self._index_of(np.argmin, axis, keepdims)

    def _index_of(self, fn, axis, keepdims):
        if axis is not None and self.ndim == 0:
            axis = None  # a 0-d tensor takes axis 0 / -1 (as PyTorch)
        return type(self)._wrap(np.asarray(fn(self.data, axis=axis, keepdims=keepdims),
                                           dtype=np.int64))

    @torch_names
    def any(self, axis=None, keepdims=False):
        return self._logical(np.any, axis, keepdims)

    @torch_names
    def all(self, axis=None, keepdims=False):
        return self._logical(np.all, axis, keepdims)

    def _logical(self, fn, axis, keepdims):
        axes = ops.reduce.normalize_axis(axis, self.ndim, fn.__name__)
        return type(self)._wrap(np.asarray(fn(self.data, axis=axes, keepdims=keepdims)))

    @torch_names
    def norm(self, p: Any = "fro", axis=None, keepdims=False):
        """The p-norm over axis (all elements by default): p = 2 / "fro", 1, inf,
        -inf or any other number ((sum |x|^p)^(1/p))."""
        if p in ("fro", 2, 2.0):
            return reduce_extra.Norm2.apply(self, axis=axis, keepdims=keepdims)
        if p == 1:
            return self.abs().sum(axis, keepdims)
        if p == math.inf:
            return self.abs().max(axis, keepdims)
        if p == -math.inf:
            return self.abs().min(axis, keepdims)
        if isinstance(p, str):
            raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
        return (self.abs() ** p).sum(axis, keepdims) ** (1.0 / p)

    # ----- elementwise math -------------------------------------------------------
    def sin(self): return unary.Sin.apply(self)
    def cos(self): return unary.Cos.apply(self)
    def tan(self): return unary.Tan.apply(self)
    def asin(self): return unary.Asin.apply(self)
    def acos(self): return unary.Acos.apply(self)
    def atan(self): return unary.Atan.apply(self)
    def sinh(self): return unary.Sinh.apply(self)
    def cosh(self): return unary.Cosh.apply(self)
    def asinh(self): return unary.Asinh.apply(self)
    def acosh(self): return unary.Acosh.apply(self)
    def atanh(self): return unary.Atanh.apply(self)
    def log1p(self): return unary.Log1p.apply(self)
    def erf(self): return unary.Erf.apply(self)
    def floor(self): return unary.Floor.apply(self)
    def ceil(self): return unary.Ceil.apply(self)
    def round(self): return unary.Round.apply(self)
    def trunc(self): return unary.Trunc.apply(self)
    def sign(self): return unary.Sign.apply(self)
    def log2(self): return self.log() * (1.0 / _LN2)
    def log10(self): return self.log() * (1.0 / _LN10)
    def exp2(self): return (self * _LN2).exp()
    def rsqrt(self): return self ** -0.5
    def pow(self, exponent): return self ** exponent
    def fmod(self, other): return self._binary(binary.Fmod, other)
    def remainder(self, other): return self._binary(binary.Remainder, other)
    def __mod__(self, other): return self._binary(binary.Remainder, other)
    def __rmod__(self, other): return self._binary(binary.Remainder, other, reverse=True)
    def logaddexp(self, other): return self._binary(binary.LogAddExp, other)

    def lerp(self, end, weight):
        """self + weight * (end - self); weight a number or a Tensor."""
        return self + (end - self) * weight

    # ----- tests and comparisons (no gradient; bool tensors) ----------------------
    def eq(self, other): return self == other
    def ne(self, other): return self != other
    def lt(self, other): return self < other
    def le(self, other): return self <= other
    def gt(self, other): return self > other
    def ge(self, other): return self >= other
    def isnan(self): return type(self)._wrap(np.isnan(self.data))
    def isinf(self): return type(self)._wrap(np.isinf(self.data))
    def isfinite(self): return type(self)._wrap(np.isfinite(self.data))
    def logical_not(self): return type(self)._wrap(np.logical_not(self.data))

    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        other = getattr(other, "data", other)
        return type(self)._wrap(np.isclose(self.data, other, rtol, atol, equal_nan))

    # ----- dtype and copies ---------------------------------------------------------
    def float(self): return self._cast(np.float32)
    def double(self): return self._cast(np.float64)

    def _cast(self, dtype):
        """A differentiable cast (.float(), .double(), .to(dtype)); self when nothing
        changes. A cast to a non-float dtype is cut from the graph, as PyTorch's (an
        integer tensor has no gradient)."""
        dt = np.dtype(dtype)
        if self.dtype == dt:
            return self
        if dt.kind != "f":
            return self.astype(dt)
        return index.Cast.apply(self, dtype=dt)

    def clone(self): return index.Clone.apply(self)
    def view_as(self, other): return self.reshape(other.shape)
