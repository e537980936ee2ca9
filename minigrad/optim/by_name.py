"""Optimizers by name, as Keras's ``compile(optimizer="adam")`` builds them: the same
update rules as the classes, with Keras's default hyperparameters (which differ from
PyTorch's; the class constructors keep PyTorch's)."""
from __future__ import annotations

from typing import Any

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["KERAS_DEFAULTS", "get", "names"]

# name -> (class, Keras's defaults). Keras's epsilon is 1e-7 throughout; its RMSprop
# rho is PyTorch's alpha; Adagrad starts its accumulator at 0.1.
KERAS_DEFAULTS: dict[str, tuple[type, dict[str, Any]]] = {
    "sgd": (SGD, dict(lr=0.01)),
    "adam": (Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7)),
    "adamw": (AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.004)),
    "rmsprop": (RMSprop, dict(lr=1e-3, alpha=0.9, eps=1e-7)),
    "adagrad": (Adagrad, dict(lr=1e-3, eps=1e-7, initial_accumulator_value=0.1)),
    "adadelta": (Adadelta, dict(lr=1e-3, rho=0.95, eps=1e-7)),
    "adamax": (Adamax, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7)),
    "nadam": (Nadam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-7)),
}


def names() -> list[str]:
    return sorted(KERAS_DEFAULTS)


def get(optimizer: Any, params: Any, who: str = "optimizer", **overrides: Any) -> Optimizer:
    """``optimizer`` itself when it is an optimizer (anything with ``step`` and
    ``zero_grad``), else a new one over ``params`` from a name (case-insensitive) with
    Keras's defaults, updated by ``overrides`` (e.g. lr=0.01).

    Raises ValueError for an unknown name, TypeError for anything else, naming ``who``.
    """
    if hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad"):
        return optimizer
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in KERAS_DEFAULTS:
            raise ValueError(f"{who}: unknown optimizer {optimizer!r}; choose one of "
                             f"{names()} or pass an optimizer instance")
        cls, defaults = KERAS_DEFAULTS[key]
        return cls(params, **{**defaults, **overrides})
    raise TypeError(f"{who}: optimizer must be a name {names()} or an optimizer with "
                    f"step() and zero_grad(), got {type(optimizer).__name__}")
