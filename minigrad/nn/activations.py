"""Activation modules: thin wrappers over mg.nn.functional (PyTorch defaults).

Elementwise ones take x of any shape and return the same shape and dtype; Softmax
and LogSoftmax normalise along ``axis``; PReLU's per-channel slopes use axis 1.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class ReLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else alpha * x."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class PReLU(Module):
    """Leaky ReLU with a learned slope (He et al., 2015): one shared slope, or one per
    channel (axis 1) with num_parameters=C. The slope is the parameter ``weight``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = np.float32):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(num_parameters, init), dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.num_parameters > 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"{self!r}: expected input of shape (N, {self.num_parameters}, "
                             f"...), got {tuple(x.shape)}")
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Random slope ~ U(lower, upper) per element in training, (lower + upper) / 2 in
    eval; draws come from mg's seeded generator."""

    def __init__(self, lower: float = 1 / 8, upper: float = 1 / 3):
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: needs 0 <= lower <= upper, got lower={lower}, "
                             f"upper={upper}")
        self.lower, self.upper = float(lower), float(upper)

    def forward(self, x: Any) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower:.4g}, upper={self.upper:.4g}"


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.selu(x)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"{approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Swish(Module):
    """x * sigmoid(beta x); with trainable=True beta is a learned Parameter."""

    def __init__(self, beta: float = 1.0, trainable: bool = False, dtype: Any = np.float32):
        super().__init__()
        self.trainable = bool(trainable)
        if trainable:
            self.beta = Parameter(np.asarray(beta), dtype=dtype)
        else:
            self.beta = float(beta)

    def forward(self, x: Any) -> Tensor:
        return F.swish(x, self.beta)

    def extra_repr(self) -> str:
        beta = float(self.beta.item()) if isinstance(self.beta, Tensor) else self.beta
        return f"beta={beta}, trainable={self.trainable}"


class SiLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Mish(Module):
    def forward(self, x: Any) -> Tensor:
        return F.mish(x)


class Tanh(Module):
    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, axis: int = -1, *, dim: int | None = None):
        super().__init__()
        if dim is not None and axis != -1 and dim != axis:
            raise ValueError(f"Softmax: give axis= or dim= (PyTorch), not both: "
                             f"axis={axis}, dim={dim}")
        self.axis = axis if dim is None else dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)
