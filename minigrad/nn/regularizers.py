"""Weight and activity penalties (Keras semantics): each maps a Tensor to a scalar
Tensor that backpropagates. Layers take them as kernel_regularizer, bias_regularizer
and activity_regularizer; ``model.regularization_loss()`` sums what they add."""
from __future__ import annotations

from typing import Callable

from ..tensor import Tensor
from .config import Configurable


class Regularizer(Configurable):
    """Base: ``reg(x) -> scalar Tensor``."""

    def __call__(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                         if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _check(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name}: the factor must be >= 0, got {value}")
    return float(value)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1, self.l2 = _check("L1L2", l1), _check("L1L2", l2)

    def __call__(self, x: Tensor) -> Tensor:
        total = None
        if self.l1:
            total = self.l1 * x.abs().sum()
        if self.l2:
            term = self.l2 * (x * x).sum()
            total = term if total is None else total + term
        return total if total is not None else (x * 0.0).sum()


class L1(L1L2):
    """l * sum(|x|) (lasso; drives weights to exactly zero)."""

    def __init__(self, l: float = 0.01):  # noqa: E741 (Keras' name)
        super().__init__(l1=_check("L1", l))

    def __repr__(self) -> str:
        return f"L1(l={self.l1})"


class L2(L1L2):
    """l * sum(x^2) (weight decay as a loss term)."""

    def __init__(self, l: float = 0.01):  # noqa: E741
        super().__init__(l2=_check("L2", l))

    def __repr__(self) -> str:
        return f"L2(l={self.l2})"


def get(reg: str | Callable | None) -> Callable | None:
    """None, a callable, or "l1" / "l2" / "l1_l2" with Keras' default factors."""
    if reg is None or callable(reg):
        return reg
    table = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2":
             lambda: L1L2(0.01, 0.01)}
    if isinstance(reg, str) and reg.lower() in table:
        return table[reg.lower()]()
    raise ValueError(f"regularizers.get: unknown regularizer {reg!r}; expected None, a "
                     f"callable or one of {sorted(table)}")
