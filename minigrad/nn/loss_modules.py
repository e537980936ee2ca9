"""Losses as modules (PyTorch's nn.CrossEntropyLoss & co.): each holds its options and
calls the function of the same loss in losses.py."""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .losses import (_check_reduction, binary_cross_entropy,
                     binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
                     mse_loss, nll_loss)
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0, ignore_index: int = -100):
        super().__init__(reduction)
        self._weight, self.label_smoothing = weight, label_smoothing
        self.ignore_index = ignore_index

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return cross_entropy(logits, targets, self._weight, self.reduction,
                             self.label_smoothing, self.ignore_index)


class NLLLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self._weight, self.ignore_index = weight, ignore_index

    def forward(self, log_probs: Any, targets: Any) -> Tensor:
        return nll_loss(log_probs, targets, self._weight, self.reduction, self.ignore_index)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight: Any = None, pos_weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight, self._pos_weight = weight, pos_weight

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, targets, self._weight,
                                                self._pos_weight, self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight = weight

    def forward(self, probs: Any, targets: Any) -> Tensor:
        return binary_cross_entropy(probs, targets, self._weight, self.reduction)


class MSELoss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return huber_loss(input, target, self.reduction, self.delta)
