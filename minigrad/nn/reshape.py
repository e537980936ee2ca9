"""Layers that only move data: Flatten, Reshape, Unflatten (no parameters)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, as_tensor
from .layers import _shape_error
from .module import Module


class Flatten(Module):
    """Merge axes start_axis..end_axis (default: all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim <= max(self.start_axis, self.end_axis % max(x.ndim, 1)):
            raise _shape_error(self, f"at least {self.start_axis + 1} axes", x)
        return x.flatten(self.start_axis, self.end_axis)


class Reshape(Module):
    """(N, ...) -> (N, *shape) (Keras: the batch axis is kept; -1 allowed once)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(int(n) for n in shape)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        per_item = int(np.prod(x.shape[1:])) if x.ndim else 0
        known = int(np.prod([n for n in self.shape if n != -1]))
        fits = per_item == known if -1 not in self.shape else known and per_item % known == 0
        if x.ndim < 1 or not fits:
            raise _shape_error(self, f"(N, ...) with {known} elements per sample", x)
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Unflatten(Module):
    """Split axis into shape (PyTorch nn.Unflatten): (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, axis: int, shape: tuple[int, ...]):
        super().__init__()
        self.axis, self.shape = int(axis), tuple(int(n) for n in shape)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if not -x.ndim <= self.axis < x.ndim or x.shape[self.axis] != np.prod(self.shape):
            raise _shape_error(self, f"axis {self.axis} of size {int(np.prod(self.shape))}", x)
        a = self.axis % x.ndim
        return x.reshape(*x.shape[:a], *self.shape, *x.shape[a + 1:])

    def extra_repr(self) -> str:
        return f"axis={self.axis}, shape={self.shape}"
