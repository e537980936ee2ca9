"""More activations with PyTorch's semantics, as F.* functions and as modules:
relu6 hardtanh hardsigmoid hardswish softsign logsigmoid celu softmin.

Hardtanh, LogSigmoid and CELU are primitives (their gradients at the edges and their
stability for large |x| need it); the rest are composites of them and the core ops.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..ops.elementwise import stable_sigmoid
from ..tensor import Tensor, as_tensor
from .module import Module


class HardtanhFunction(Function):
    """clip(x, low, high); the gradient is 0 at and beyond the corners (as PyTorch)."""

    rule = "dx = dy where low < x < high, else 0"

    def forward(self, ctx, x, low=-1.0, high=1.0):
        ctx.save(x)
        ctx.low, ctx.high = low, high
        return np.clip(x, low, high)

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy * ((x > ctx.low) & (x < ctx.high))


class LogSigmoidFunction(Function):
    """log(sigmoid(x)) = -log(1 + e^-x), finite for any x."""

    rule = "dx = dy * sigmoid(-x)"

    def forward(self, ctx, x):
        ctx.save(x)
        return -np.logaddexp(0, -x)

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy * stable_sigmoid(-x)


class CeluFunction(Function):
    """max(0, x) + min(0, alpha * (e^(x/alpha) - 1)) (Barron, 2017)."""

    rule = "dx = dy where x > 0, else dy * exp(x / alpha)"

    def forward(self, ctx, x, alpha=1.0):
        e = np.exp(np.minimum(x, 0) / alpha)  # never exp of a large positive x
        ctx.save(x, e)
        return np.where(x > 0, x, alpha * (e - 1)).astype(x.dtype, copy=False)

    def backward(self, ctx, dy):
        x, e = ctx.saved
        return np.where(x > 0, dy, dy * e)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val must be <= max_val, got {min_val}, {max_val}")
    return HardtanhFunction.apply(as_tensor(x), low=float(min_val), high=float(max_val))


def relu6(x: Any) -> Tensor:
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Any) -> Tensor:
    """relu6(x + 3) / 6 (Howard et al., 2019)."""
    return hardtanh(as_tensor(x) / 6.0 + 0.5, 0.0, 1.0)


def hardswish(x: Any) -> Tensor:
    """x * relu6(x + 3) / 6 (Howard et al., 2019)."""
    x = as_tensor(x)
    return x * hardsigmoid(x)


def softsign(x: Any) -> Tensor:
    x = as_tensor(x)
    return x / (x.abs() + 1.0)


def logsigmoid(x: Any) -> Tensor:
    return LogSigmoidFunction.apply(as_tensor(x))


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero, got 0")
    return CeluFunction.apply(as_tensor(x), alpha=float(alpha))


def softmin(x: Any, dim: int = -1) -> Tensor:
    """softmax(-x) along dim, as exp(-x - logsumexp(-x))."""
    z = -as_tensor(x)
    return (z - z.logsumexp(dim, keepdims=True)).exp()


class ReLU6(Module):
    def forward(self, x: Any) -> Tensor:
        return relu6(x)


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val must be <= max_val, got {min_val}, "
                             f"{max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: Any) -> Tensor:
        return hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Hardsigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return hardsigmoid(x)


class Hardswish(Module):
    def forward(self, x: Any) -> Tensor:
        return hardswish(x)


class Softsign(Module):
    def forward(self, x: Any) -> Tensor:
        return softsign(x)


class LogSigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return logsigmoid(x)


class CELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha must be non-zero, got 0")
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softmin(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
