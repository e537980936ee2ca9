"""Tensor's movement, indexing and sorting methods with PyTorch's names and semantics
(flip roll squeeze unsqueeze expand repeat repeat_interleave split chunk tril triu
diagonal gather scatter scatter_add masked_fill masked_select sort argsort topk).

A mixin of Tensor. Most are composites of GetItem / Reshape / BroadcastTo / Where, so
their gradients come from those primitives; gather and scatter are primitives.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from . import ops
from .errors import ShapeError
from .ops import index as index_ops
from .ops.reduce import normalize_axis, torch_names

SortResult = namedtuple("SortResult", ["values", "indices"])


def _dims(args: tuple) -> tuple:
    """Accept f(0, 1), f((0, 1)) and f(0) alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _axis(t, axis, op: str) -> int:
    return normalize_axis(axis, t.ndim, op)[0] if t.ndim else 0


class ShapeMethods:
    __slots__ = ()

    @torch_names
    def squeeze(self, axis=None):
        """Drop axes of length 1: all, or those in axis (int or tuple) that have
        length 1; other axes named are left alone (as PyTorch)."""
        axes = normalize_axis(axis, self.ndim, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape)
                                  if not (i in axes and n == 1)))

    @torch_names
    def unsqueeze(self, axis: int):
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ShapeError(f"unsqueeze: axis {axis} is out of range for a tensor of "
                             f"{self.ndim} dims (expected [{-self.ndim - 1}, {self.ndim}])")
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def expand(self, *sizes):
        """Broadcast to sizes; -1 keeps an axis' length (torch.expand)."""
        sizes = _dims(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(f"expand: {sizes} has fewer dims than x{self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return self.broadcast_to(shape)

    def flip(self, *dims):
        axes = normalize_axis(_dims(dims), self.ndim, "flip")
        return self[tuple(slice(None, None, -1) if i in axes else slice(None)
                          for i in range(self.ndim))]

    @torch_names
    def index_select(self, axis: int, index: Any):
        """The entries at the int positions index (1-d) along axis (torch.index_select);
        an entry picked twice gets both gradients."""
        idx = np.asarray(getattr(index, "data", index))
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"index_select: index must be a 1-d int tensor, got "
                             f"{idx.dtype}{idx.shape}")
        return self[(slice(None),) * _axis(self, axis, "index_select") + (idx,)]

    def roll(self, shifts, dims=None):
        """Shift elements cyclically (torch.roll); dims None rolls the flattened tensor."""
        if dims is None:
            return self.reshape(-1).roll(shifts, 0).reshape(self.shape)
        shifts = (shifts,) if np.isscalar(shifts) else tuple(shifts)
        dims = (dims,) if np.isscalar(dims) else tuple(dims)
        if len(shifts) != len(dims):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
        out = self
        for s, d in zip(shifts, dims):
            d = _axis(self, d, "roll")
            n = self.shape[d]
            out = out.index_select(d, (np.arange(n) - s) % n)
        return out

    def repeat(self, *sizes):
        """Tile the tensor sizes[i] times along each axis (torch.repeat, np.tile)."""
        sizes = _dims(sizes)
        if len(sizes) < self.ndim:
            raise ShapeError(f"repeat: needs at least {self.ndim} sizes for x{self.shape}, "
                             f"got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        spread = [d for n in shape for d in (1, n)]
        tiled = [d for r, n in zip(sizes, shape) for d in (r, n)]
        out = self.reshape(spread).broadcast_to(tiled)
        return out.reshape(tuple(r * n for r, n in zip(sizes, shape)))

    @torch_names
    def repeat_interleave(self, repeats, axis=None):
        """Repeat each element repeats times (an int or one count per element) along
        axis; axis None works on the flattened tensor."""
        if axis is None:
            return self.reshape(-1).repeat_interleave(repeats, 0)
        axis = _axis(self, axis, "repeat_interleave")
        counts = np.asarray(getattr(repeats, "data", repeats))
        return self.index_select(axis, np.repeat(np.arange(self.shape[axis]), counts))

    @torch_names
    def split(self, split_size_or_sections, axis=0):
        """Pieces of split_size (the last may be shorter) or of the given lengths."""
        axis = _axis(self, axis, "split")
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: split_size must be > 0, got "
                                 f"{split_size_or_sections}")
            sizes = [split_size_or_sections] * (n // split_size_or_sections)
            sizes += [n % split_size_or_sections] if n % split_size_or_sections else []
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ShapeError(f"split: sections {sizes} do not sum to {n}, the length "
                                 f"of axis {axis} of x{self.shape}")
        starts = np.cumsum([0] + sizes)
        lead = (slice(None),) * axis
        return tuple(self[lead + (slice(a, a + s),)] for a, s in zip(starts, sizes))

    @torch_names
    def chunk(self, chunks: int, axis=0):
        """Split into chunks pieces of ceil(n / chunks) (fewer when that runs out)."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be > 0, got {chunks}")
        n = self.shape[_axis(self, axis, "chunk")]
        return self.split(max(-(-n // chunks), 1), axis)

    def tril(self, diagonal: int = 0):
        return self._triangle("tril", np.tril, diagonal)

    def triu(self, diagonal: int = 0):
        return self._triangle("triu", np.triu, diagonal)

    def _triangle(self, op: str, fn, k: int):
        if self.ndim < 2:
            raise ShapeError(f"{op}: needs at least 2 dims, got x{self.shape}")
        keep = fn(np.ones(self.shape[-2:], dtype=bool), k)
        return self.masked_fill(~keep, 0)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        """The diagonal over dim1, dim2, moved to the last axis (torch.diagonal)."""
        d1, d2 = (_axis(self, d, "diagonal") for d in (dim1, dim2))
        if d1 == d2:
            raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1}, {dim2}")
        rest = [i for i in range(self.ndim) if i not in (d1, d2)]
        moved = self.permute(*rest, d1, d2)
        h, w = self.shape[d1], self.shape[d2]
        length = max(0, min(h, w - offset) if offset >= 0 else min(h + offset, w))
        rows = np.arange(length) + max(-offset, 0)
        return moved[(Ellipsis, rows, rows + offset)]

    @torch_names
    def gather(self, axis: int, index: Any):
        """out[i][j] = x[index[i][j]][j] for axis 0 (torch.gather); index is an int
        Tensor or array with x's number of dims."""
        idx = np.asarray(getattr(index, "data", index))
        if self.ndim == 0:
            return self.reshape(1).gather(0, idx.reshape(1)).reshape(())
        return index_ops.Gather.apply(self, idx, axis=_axis(self, axis, "gather"))

    @torch_names
    def scatter(self, axis: int, index: Any, src: Any):
        """Out-of-place torch.scatter: a copy with src written at index along axis."""
        return self._scatter(index_ops.Scatter, axis, index, src)

    @torch_names
    def scatter_add(self, axis: int, index: Any, src: Any):
        return self._scatter(index_ops.ScatterAdd, axis, index, src)

    def _scatter(self, op: type, axis, idx, src):
        idx = np.asarray(getattr(idx, "data", idx))
        src = self._other(src)
        src = src.broadcast_to(idx.shape) if src.ndim == 0 else src[
            tuple(slice(0, n) for n in idx.shape)]
        return op.apply(self, idx, src, axis=_axis(self, axis, op.__name__.lower()))

    def masked_fill(self, mask: Any, value: Any):
        """value where mask is True, x elsewhere (mask broadcasts; value a number or a
        0-d Tensor, which gets the gradient of the filled places)."""
        cond = type(self)._wrap(np.asarray(getattr(mask, "data", mask), dtype=bool))
        return ops.Where.apply(cond, self._other(value), self)

    def masked_select(self, mask: Any):
        """The elements where mask (broadcast with x) is True, as a 1-d tensor."""
        m = np.asarray(getattr(mask, "data", mask), dtype=bool)
        shape = np.broadcast_shapes(self.shape, m.shape)
        x = self if self.shape == shape else self.broadcast_to(shape)
        return x[np.broadcast_to(m, shape)]

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        axis = _axis(self, dim, "argsort")
        key = -self.data if descending else self.data
        return type(self)._wrap(np.argsort(key, axis=axis, kind="stable") if self.ndim
                                else np.zeros((), np.int64))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """(values, indices) sorted along dim, always stable (equal values keep their
        order; stable= is accepted for PyTorch); the gradient flows to the values."""
        idx = self.argsort(dim, descending, stable)
        return SortResult(self.gather(dim, idx), idx)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """(values, indices) of the k largest (or smallest) along dim, in order."""
        axis = _axis(self, dim, "topk")
        n = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= n:
            raise ValueError(f"topk: k must be in [0, {n}] for x{self.shape}, got {k}")
        order = self.argsort(axis, descending=largest).data
        idx = type(self)._wrap(np.take(order, np.arange(k), axis=axis) if self.ndim
                               else order)
        return SortResult(self.gather(axis, idx), idx)
