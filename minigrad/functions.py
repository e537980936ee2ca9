"""The ``mg.*`` function forms of the Tensor methods, plus the ops over several
tensors (concat, stack, where, maximum)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import ops
from .ops.reduce import torch_names
from .tensor import Tensor, _tensors, as_tensor


def exp(x: Any) -> Tensor: return as_tensor(x).exp()
def log(x: Any) -> Tensor: return as_tensor(x).log()
def sqrt(x: Any) -> Tensor: return as_tensor(x).sqrt()
def abs(x: Any) -> Tensor: return as_tensor(x).abs()  # noqa: A001 (mirrors numpy)
def tanh(x: Any) -> Tensor: return as_tensor(x).tanh()
def sigmoid(x: Any) -> Tensor: return as_tensor(x).sigmoid()
def relu(x: Any) -> Tensor: return as_tensor(x).relu()
def clip(x: Any, low=None, high=None) -> Tensor: return as_tensor(x).clip(low, high)
def clamp(x: Any, min=None, max=None) -> Tensor: return as_tensor(x).clip(min, max)  # noqa: A002


@torch_names
def sum(x: Any, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    return as_tensor(x).sum(axis, keepdims)


@torch_names
def mean(x: Any, axis=None, keepdims=False) -> Tensor:
    return as_tensor(x).mean(axis, keepdims)


@torch_names
def max(x: Any, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    return as_tensor(x).max(axis, keepdims)


@torch_names
def min(x: Any, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    return as_tensor(x).min(axis, keepdims)


@torch_names
def var(x: Any, axis=None, keepdims=False, ddof=0) -> Tensor:
    return as_tensor(x).var(axis, keepdims, ddof)


@torch_names
def std(x: Any, axis=None, keepdims=False, ddof=0) -> Tensor:
    return as_tensor(x).std(axis, keepdims, ddof)


def reshape(x: Any, *shape) -> Tensor: return as_tensor(x).reshape(*shape)
def transpose(x: Any, *axes) -> Tensor: return as_tensor(x).transpose(*axes)
def permute(x: Any, *axes) -> Tensor: return as_tensor(x).permute(*axes)
def flatten(x: Any, start_axis=0, end_axis=-1) -> Tensor:
    return as_tensor(x).flatten(start_axis, end_axis)


def matmul(a: Any, b: Any) -> Tensor: return as_tensor(a) @ b


def mm(a: Any, b: Any) -> Tensor:
    """2-d matrix product (torch.mm): a (M, K) @ b (K, N); ValueError otherwise."""
    a = as_tensor(a)
    if a.ndim != 2 or getattr(b, "ndim", np.ndim(b)) != 2:
        raise ValueError(f"mm: needs two 2-d tensors, got a{a.shape} and "
                         f"b{getattr(b, 'shape', np.shape(b))}")
    return a @ b
def maximum(a: Any, b: Any) -> Tensor: return as_tensor(a).maximum(b)
def minimum(a: Any, b: Any) -> Tensor: return as_tensor(a).minimum(b)


@torch_names
def concat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the gradient is split back (mg.cat)."""
    if len(tensors) == 0:
        raise ValueError("concat: needs at least one tensor")
    return ops.Concat.apply(*_tensors(tensors), axis=axis)


@torch_names
def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    if len(tensors) == 0:
        raise ValueError("stack: needs at least one tensor")
    return ops.Stack.apply(*_tensors(tensors), axis=axis)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise cond ? a : b, broadcasting all three; cond gets no gradient."""
    cond_t = as_tensor(cond)
    a_t, b_t = _tensors([a, b])
    return ops.Where.apply(cond_t, a_t, b_t)


cat = concat
