"""Running loss and metrics of a pass over batches, from the outputs each step
already computed (fit and evaluate): the metric names fit accepts and the Meter."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..metrics import confusion_from_labels, scores_from_confusion
from .spec import Task

# Keras's accuracy names all mean the accuracy of the predicted class here
_CLASS_METRICS = {"accuracy": "accuracy", "acc": "accuracy", "precision": "precision",
                  "recall": "recall", "f1": "f1", "categorical_accuracy": "accuracy",
                  "sparse_categorical_accuracy": "accuracy", "binary_accuracy": "accuracy"}


def metric_names(metrics: Iterable[Any], what: str) -> list[tuple[str, Any]]:
    """[(log key, "accuracy"|... or a callable (y_true, outputs) -> float)]."""
    out = []
    for m in metrics or ():
        if isinstance(m, str):
            if m not in _CLASS_METRICS:
                raise ValueError(f"{what}: unknown metric {m!r}; choose from "
                                 f"{sorted(set(_CLASS_METRICS))} or pass a callable")
            out.append((_CLASS_METRICS[m], _CLASS_METRICS[m]))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise ValueError(f"{what}: a metric must be a name or a callable, got {m!r}")
    return out


def check_metrics(metrics: Iterable[Any], what: str) -> None:
    """Raise ValueError now for an unknown metric name (compile checks early)."""
    metric_names(metrics, what)


class Meter:
    """Running loss and metrics of one pass, from outputs the step already computed.
    Accuracy is a running count of hits; precision/recall/F1 grow a confusion matrix
    by one bincount per batch. Nothing is stored per sample."""

    def __init__(self, task: Task, metrics: list[tuple[str, Any]]):
        self.task = task
        self.k = task.num_classes
        self.named = [key for key, m in metrics if isinstance(m, str)] if self.k else []
        self.custom = [(key, fn) for key, fn in metrics if not isinstance(fn, str)]
        needs_cm = any(key != "accuracy" for key in self.named)
        self.cm = np.zeros((self.k, self.k), np.int64) if needs_cm else None
        self.loss_sum, self.count, self.hits = 0.0, 0, 0
        self.custom_sums = [0.0] * len(self.custom)

    def update(self, loss_value: float | None, out: np.ndarray, yb: np.ndarray) -> None:
        m = len(out)
        self.count += m
        if loss_value is not None:
            self.loss_sum += loss_value * m
        if self.named:
            truth, pred = true_labels(yb), predicted(out, self.task.outputs)
            self.hits += int(np.count_nonzero(truth == pred))
            if self.cm is not None:
                self.cm += confusion_from_labels(truth, pred, self.k)
        for i, (_, fn) in enumerate(self.custom):
            self.custom_sums[i] += float(fn(yb, out)) * m

    def running(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        if "accuracy" in self.named:
            logs["accuracy"] = self.hits / max(self.count, 1)
        return logs

    def result(self, with_loss: bool = True) -> dict[str, float]:
        logs = {"loss": self.loss_sum / max(self.count, 1)} if with_loss else {}
        scores = {}
        if self.cm is not None:
            scores = scores_from_confusion(self.cm, "binary" if self.task.kind == "binary"
                                           else "macro")
        for key in self.named:
            logs[key] = self.hits / max(self.count, 1) if key == "accuracy" else scores[key]
        for (key, _), total in zip(self.custom, self.custom_sums):
            logs[key] = total / max(self.count, 1)
        return logs


def true_labels(yb: np.ndarray) -> np.ndarray:
    """Class labels (N,) from labels, or from one-hot / probability targets (N, C)."""
    if yb.ndim == 2 and yb.shape[1] > 1:
        return yb.argmax(axis=1)
    return yb.reshape(len(yb)).astype(np.int64, copy=False)


def predicted(out: np.ndarray, outputs: str = "logits") -> np.ndarray:
    if out.ndim == 2 and out.shape[1] >= 2:
        return out.argmax(axis=1)
    # one output per sample: class 1 when the logit is > 0 or the probability > 1/2
    threshold = 0.5 if outputs == "probabilities" else 0.0
    return (out.reshape(len(out)) > threshold).astype(np.int64)
