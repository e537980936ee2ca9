"""What ``model.compile / fit / evaluate / predict`` (minigrad.nn.keras) run: the
compiled configuration, checked at compile time, then mg.train's fit / evaluate /
predict with Keras's defaults (batch_size 32, verbose "auto" = 1)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..optim import by_name
from . import loop
from .spec import resolve_task

__all__ = ["Compiled", "KerasDriver"]


@dataclass
class Compiled:
    """The optimizer instance, the loss (name or callable) and the metrics of a model."""

    optimizer: Any
    loss: Any
    metrics: tuple


def _batch(batch_size: int | None) -> int:
    return 32 if batch_size is None else batch_size


class KerasDriver:
    """The object minigrad.train registers with minigrad.nn.keras."""

    @staticmethod
    def compile(model: Any, optimizer: Any, loss: Any, metrics: Any) -> Compiled:
        """Resolve and check everything now, so a typo fails at compile, not at fit."""
        if loss is None:
            raise ValueError("compile: loss is required (a name such as 'cross_entropy' or "
                             "'sparse_categorical_crossentropy', or a callable)")
        resolve_task(loss, "compile")
        metrics = tuple(metrics or ())
        loop.check_metrics(metrics, "compile")
        opt = by_name.get(optimizer, list(model.parameters()), "compile")
        return Compiled(opt, loss, metrics)

    @staticmethod
    def fit(model: Any, compiled: Compiled, x: Any, y: Any, *, batch_size: int | None,
            verbose: Any, callbacks: Any, **kwargs: Any) -> Any:
        return loop.fit(model, x, y, loss=compiled.loss, optimizer=compiled.optimizer,
                        batch_size=_batch(batch_size), callbacks=list(callbacks or ()),
                        metrics=compiled.metrics,
                        verbose=1 if verbose == "auto" else int(verbose), **kwargs)

    @staticmethod
    def evaluate(model: Any, compiled: Compiled, x: Any, y: Any, *,
                 batch_size: int | None, return_dict: bool) -> Any:
        """Keras's return: the loss alone, [loss, metric, ...], or a dict."""
        logs = loop.evaluate(model, x, y, loss=compiled.loss, metrics=compiled.metrics,
                             batch_size=_batch(batch_size))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @staticmethod
    def predict(model: Any, x: Any, *, batch_size: int | None) -> Any:
        return loop.predict(model, x, batch_size=_batch(batch_size))
