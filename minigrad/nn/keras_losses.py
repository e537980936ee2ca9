"""Keras's losses under Keras's names and argument order ``(y_true, y_pred)``: by default
on probabilities (the output of a Softmax/Sigmoid layer), clipped to [1e-7, 1 - 1e-7]
before the log as Keras does; ``from_logits=True`` takes the stable logits path."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor, as_tensor
from .functional import log_softmax
from .losses import _check_reduction, _raw, _reduce, binary_cross_entropy_with_logits, \
    cross_entropy, nll_loss

EPSILON = 1e-7  # keras.config.epsilon()


def _float_targets(name: str, y_true: Any, y_pred: Tensor) -> Tensor:
    t = y_true if isinstance(y_true, Tensor) and y_true.dtype == y_pred.dtype \
        else Tensor._wrap(np.asarray(_raw(y_true), dtype=y_pred.dtype))
    if t.shape != y_pred.shape:
        raise ShapeError(f"{name}: y_true{t.shape} and y_pred{y_pred.shape} must have the "
                         "same shape (one-hot targets; for integer labels use "
                         "sparse_categorical_crossentropy)")
    return t


def _log_probs(p: Tensor, axis: int) -> Tensor:
    """log of p renormalised along axis and clipped to [EPSILON, 1 - EPSILON] (Keras)."""
    p = p / p.sum(axis=axis, keepdims=True)
    return p.clip(EPSILON, 1.0 - EPSILON).log()


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1,
                             reduction: str = "mean") -> Tensor:
    """-sum_c y_true_c log y_pred_c per sample, y_true one-hot (or any distribution)
    shaped like y_pred (N, C); label_smoothing mixes y_true with 1/C. Returns the mean
    over samples ("sum", or "none" for the (N,) values Keras's function returns).
    Raises ValueError when the shapes differ."""
    name = "categorical_crossentropy"
    _check_reduction(name, reduction)
    pred = as_tensor(y_pred)
    t = _float_targets(name, y_true, pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / pred.shape[axis]
    logp = log_softmax(pred, axis=axis) if from_logits else _log_probs(pred, axis)
    return _reduce(name, -(t * logp).sum(axis=axis), reduction)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None,
                                    reduction: str = "mean") -> Tensor:
    """-log y_pred[i, y_i] for integer labels y_true (N,) and y_pred (N, C)
    probabilities (or logits with from_logits=True). ignore_class: a label whose rows
    count for nothing. Raises as cross_entropy."""
    name = "sparse_categorical_crossentropy"
    _check_reduction(name, reduction)
    labels = np.asarray(_raw(y_true))
    if labels.ndim == 2 and labels.shape[1] == 1:  # Keras accepts (N, 1) labels
        labels = labels[:, 0]
    ignore = -100 if ignore_class is None else ignore_class
    if from_logits:
        return cross_entropy(y_pred, labels, reduction=reduction, ignore_index=ignore)
    return nll_loss(_log_probs(as_tensor(y_pred), -1), labels, reduction=reduction,
                    ignore_index=ignore)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) with p clipped to [EPSILON, 1 - EPSILON],
    averaged over the last axis (Keras), y_true shaped like y_pred (N, ...) in [0, 1];
    label_smoothing pulls y_true towards 1/2."""
    name = "binary_crossentropy"
    _check_reduction(name, reduction)
    pred = as_tensor(y_pred)
    t = _float_targets(name, y_true, pred)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per_elem = binary_cross_entropy_with_logits(pred, t, reduction="none")
    else:
        p = pred.clip(EPSILON, 1.0 - EPSILON)
        per_elem = -(t * p.log() + (1.0 - t) * (1.0 - p).log())
    per_sample = per_elem.mean(axis=-1) if per_elem.ndim > 1 else per_elem
    return _reduce(name, per_sample, reduction)
