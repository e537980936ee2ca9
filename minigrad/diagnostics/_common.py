"""Small helpers shared by the training-based instruments (lr finder, sanity checks)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..nn.loss_registry import get_loss
from ..tensor import Tensor


def loss_fn(who: str, loss: str | Callable) -> Callable[[Tensor, Any], Tensor]:
    """A loss callable ``(outputs, targets) -> scalar Tensor`` from itself or a name of
    the one loss registry that fit uses (minigrad.nn.loss_registry)."""
    if callable(loss):
        return loss
    return get_loss(loss, who).fn


def as_array(who: str, name: str, v: Any) -> np.ndarray:
    arr = np.asarray(getattr(v, "data", v))
    if arr.ndim == 0:
        raise ValueError(f"{who}: {name} must have a batch axis, got a scalar")
    return arr


def inputs(x: np.ndarray) -> Tensor:
    """A batch as a Tensor: integer images/features become float32 (models take floats)."""
    if x.dtype.kind in "iub":
        x = x.astype(np.float32)
    return Tensor(x)


def make_optimizer(who: str, optimizer: Any, model: Any, lr: float) -> Any:
    """An optimizer instance as it is, or one built by ``factory(params, lr)``."""
    if hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad"):
        return optimizer
    if callable(optimizer):
        return optimizer(list(model.parameters()), lr)
    raise TypeError(f"{who}: optimizer must be an optimizer or a factory "
                    f"(params, lr) -> optimizer, got {type(optimizer).__name__}")
