"""The one table of losses by name, used by fit/evaluate, model.compile, lr_finder and
the CLI: PyTorch's names ("cross_entropy", "nll", "mse", ...) and Keras's
("categorical_crossentropy", "mean_squared_error", ...), each mapped to a callable
``fn(outputs, targets, reduction="mean") -> Tensor`` and to what it expects."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import keras_losses as K
from . import losses as L

__all__ = ["LossEntry", "get_loss", "loss_names"]


@dataclass(frozen=True)
class LossEntry:
    """name: the canonical name. fn: ``(outputs, targets, reduction="mean")``, outputs
    first (PyTorch order) even for Keras's losses. outputs: "logits", "probabilities"
    or "log_probabilities" for class losses, "values" for regression. targets:
    "labels" (int (N,)), "labels_or_probabilities" (int (N,) or (N, C) distributions),
    "probabilities" ((N, C) one-hot/distributions), "binary" (0/1 or [0, 1] floats
    shaped like the outputs) or "values" (floats shaped like the outputs)."""

    name: str
    fn: Callable[..., Any]
    outputs: str
    targets: str


def _keras(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A Keras loss (y_true, y_pred) as (outputs, targets)."""
    def loss(outputs: Any, targets: Any, reduction: str = "mean") -> Any:
        return fn(targets, outputs, reduction=reduction)
    loss.__name__ = fn.__name__
    return loss


_ENTRIES = [
    (LossEntry("cross_entropy", L.cross_entropy, "logits", "labels_or_probabilities"),
     ("cross_entropy", "crossentropy")),
    (LossEntry("nll", L.nll_loss, "log_probabilities", "labels"), ("nll", "nll_loss")),
    # fit's historical "binary_cross_entropy" takes one logit per sample (stable)
    (LossEntry("binary_cross_entropy_with_logits", L.binary_cross_entropy_with_logits,
               "logits", "binary"),
     ("binary_cross_entropy", "binary_cross_entropy_with_logits", "bce_with_logits")),
    (LossEntry("mse", L.mse_loss, "values", "values"),
     ("mse", "mse_loss", "mean_squared_error")),
    (LossEntry("l1", L.l1_loss, "values", "values"),
     ("l1", "l1_loss", "mae", "mean_absolute_error")),
    (LossEntry("huber", L.huber_loss, "values", "values"), ("huber", "huber_loss")),
    (LossEntry("categorical_crossentropy", _keras(K.categorical_crossentropy),
               "probabilities", "probabilities"), ("categorical_crossentropy",)),
    (LossEntry("sparse_categorical_crossentropy", _keras(K.sparse_categorical_crossentropy),
               "probabilities", "labels"), ("sparse_categorical_crossentropy",)),
    (LossEntry("binary_crossentropy", _keras(K.binary_crossentropy), "probabilities",
               "binary"), ("binary_crossentropy",)),
]
_BY_NAME = {alias: entry for entry, aliases in _ENTRIES for alias in aliases}


def loss_names() -> list[str]:
    """Every name get_loss accepts, sorted."""
    return sorted(_BY_NAME)


def get_loss(name: str, who: str = "get_loss") -> LossEntry:
    """The LossEntry for a loss name. Raises ValueError naming ``who`` and the choices."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"{who}: unknown loss {name!r}; choose one of {loss_names()} or "
                         "pass a callable (outputs, targets) -> scalar Tensor")
    return _BY_NAME[name]
