"""What fit checks before training: the loss, the targets, and how the model's output fits.

Everything here runs once per fit/evaluate call, on the whole label array or on a
two-sample probe, so a mistake is a clear ValueError before the first step.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..autograd import no_grad
from ..nn.loss_registry import get_loss, loss_names
from ..tensor import Tensor, tensor

__all__ = ["Task", "check_class_weight", "check_loss_on_probe", "fit_output",
           "model_dtype", "prepare_targets", "probe", "resolve_task", "restore_modes",
           "save_modes"]

_KINDS = {"labels": "multiclass", "labels_or_probabilities": "multiclass",
          "probabilities": "multiclass", "binary": "binary", "values": "regression"}


@dataclass
class Task:
    """The resolved loss and the kind of targets it needs.

    kind: "multiclass" (outputs (N, C); int labels and/or class distributions, as
    ``targets`` says), "binary" (0/1 targets, one output per sample), "regression"
    (float targets shaped like the output) or "custom" (a user callable; targets
    passed as given, floats cast to the output dtype). outputs and targets: the loss
    registry's words (see minigrad.nn.loss_registry.LossEntry).
    """

    name: str
    loss: Callable[[Any, Any], Tensor]
    per_sample: Callable[[Any, Any], Tensor]
    kind: str
    outputs: str = "logits"
    targets: str = "labels"
    out_shape: tuple[int, ...] = ()
    dtype: Any = np.float32
    num_classes: int | None = None

    @property
    def classifies(self) -> bool:
        """True when predictions are class labels, so accuracy & co. are defined."""
        return self.num_classes is not None


def _per_row(losses: Tensor) -> Tensor:
    """Element losses (N, ...) -> per-sample losses (N,) by averaging the rest."""
    return losses if losses.ndim == 1 else losses.reshape(losses.shape[0], -1).mean(axis=1)


def resolve_task(loss: Any, what: str) -> Task:
    """A Task from a loss name (the registry of minigrad.nn.loss_registry) or a callable
    ``(outputs, targets) -> scalar Tensor``."""
    if isinstance(loss, str):
        entry = get_loss(loss, what)
        fn = entry.fn
        return Task(entry.name, fn, lambda z, t: _per_row(fn(z, t, reduction="none")),
                    _KINDS[entry.targets], entry.outputs, entry.targets)
    if not callable(loss):
        raise ValueError(f"{what}: loss must be a name {loss_names()} or a callable, "
                         f"got {loss!r}")

    def per_sample(z: Any, t: Any) -> Tensor:
        try:
            return _per_row(loss(z, t, reduction="none"))
        except TypeError as exc:
            raise ValueError(f"{what}: class_weight needs per-sample losses, but the loss "
                             f"{getattr(loss, '__name__', loss)!r} does not accept "
                             f"reduction='none' ({exc})") from exc
    return Task(getattr(loss, "__name__", "loss"), loss, per_sample, "custom")


def model_dtype(model: Any) -> Any:
    """The float dtype inputs are cast to: the first parameter's, else float32."""
    params = getattr(model, "parameters", None)
    for p in (params() if callable(params) else ()):
        return p.dtype
    return np.dtype(np.float32)


def save_modes(model: Any) -> Any:
    """Enter Module.mode(): the train/eval flag of every submodule is given back by
    restore_modes (a model without modes: nothing to do)."""
    keep = model.mode() if callable(getattr(model, "mode", None)) else \
        contextlib.nullcontext()
    keep.__enter__()
    return keep


def restore_modes(keep: Any) -> None:
    keep.__exit__(None, None, None)


def probe(model: Any, xb: np.ndarray) -> np.ndarray:
    """The model's output on a few samples, in eval mode, recording nothing; the
    train/eval flags of every submodule are restored afterwards."""
    modes = save_modes(model)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            out = model(tensor(xb))
    finally:
        restore_modes(modes)
    return np.asarray(getattr(out, "data", out))


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{what}: class labels must be (N,), got y{y.shape}")
    if y.dtype.kind == "f":
        if len(y) and not np.all(y == np.round(y)):
            raise ValueError(f"{what}: class labels must be integers, got {y.dtype} values "
                             f"such as {y[y != np.round(y)][0]}")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"{what}: class labels must be integers, got dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def _check_range(y: np.ndarray, k: int, out_shape: tuple, what: str) -> None:
    if len(y) and (y.min() < 0 or y.max() >= k):
        bad = y[(y < 0) | (y >= k)][0]
        raise ValueError(f"{what}: label {bad} is out of range for a model with {k} classes "
                         f"(output {out_shape}); labels must be in [0, {k - 1}]")


def fit_output(task: Task, out: np.ndarray, what: str) -> None:
    """Check that the model's output suits the loss and record its shape and dtype;
    warn when a loss on logits gets outputs that already look like probabilities."""
    shape = tuple(out.shape)
    task.out_shape, task.dtype = shape, out.dtype
    if task.kind == "multiclass" and (out.ndim != 2 or shape[1] < 2):
        raise ValueError(f"{what}: loss {task.name!r} needs {task.outputs} (N, C) with C >= 2, "
                         "but "
                         f"the model outputs {shape}; for one output per sample use "
                         "'binary_cross_entropy'")
    if task.kind == "binary" and int(np.prod(shape[1:])) != 1:
        one = "probability" if task.outputs == "probabilities" else "logit"
        raise ValueError(f"{what}: loss {task.name!r} needs one {one} per sample, "
                         f"(N,) or (N, 1), but the model outputs {shape}; for C classes "
                         "use 'cross_entropy'")
    if task.kind == "multiclass" and task.outputs == "logits" and _looks_like_softmax(out):
        warnings.warn(f"{what}: loss {task.name!r} applies softmax to the model's outputs, "
                      "but they already sum to 1 per row (a Softmax output layer?): softmax "
                      "is applied twice. Drop the Softmax layer, or use "
                      "loss='sparse_categorical_crossentropy' / 'categorical_crossentropy' "
                      "(on probabilities, Keras)", UserWarning, stacklevel=3)


def _looks_like_softmax(out: np.ndarray) -> bool:
    """Rows in [0, 1] summing to 1: never true of a freshly initialised logit layer."""
    return bool(len(out) and np.all(out >= 0) and np.all(out <= 1)
                and np.allclose(out.sum(axis=1), 1.0, atol=1e-4))


def _class_targets(task: Task, y: np.ndarray, what: str, record: bool) -> np.ndarray:
    """Labels (N,) int64, or class distributions (N, C) in the output dtype."""
    out = task.out_shape
    k = out[1]
    soft = y.ndim == 2 and y.shape[1] == k and y.dtype.kind == "f"
    if task.targets == "probabilities" and not soft:
        raise ValueError(f"{what}: loss {task.name!r} needs one-hot (or probability) "
                         f"targets (N, {k}), got y{y.shape} {y.dtype}; convert labels with "
                         "mg.data.to_categorical(y, num_classes) or use "
                         "'sparse_categorical_crossentropy'")
    if soft and task.targets != "labels":
        if len(y) and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{what}: probability targets must be in [0, 1], got values "
                             f"from {y.min()} to {y.max()}")
        y = y.astype(task.dtype, copy=False)
    else:
        y = _labels(y, what)
        _check_range(y, k, out, what)
    if record:
        task.num_classes = k
    return y


def prepare_targets(task: Task, y: np.ndarray, what: str, record: bool = True) -> np.ndarray:
    """Targets in the form the loss wants, checked against the model's output.

    multiclass: int64 (N,) in [0, C), or (N, C) distributions when the loss takes
    them; binary: 0/1 floats shaped like the output;
    regression: floats reshaped to the output's per-sample shape; custom: as given,
    with floats cast to the output dtype (int labels in range when the output is (N, C)).
    ``record`` sets ``task.num_classes`` (once, before training; not per batch).
    """
    out = task.out_shape
    if task.kind == "multiclass":
        return _class_targets(task, y, what, record)
    if task.kind in ("binary", "regression"):
        per_out, per_y = int(np.prod(out[1:])), int(np.prod(y.shape[1:]))
        if per_out != per_y:
            raise ValueError(f"{what}: targets y{y.shape} do not fit the model output {out} "
                             f"for loss {task.name!r} ({per_y} vs {per_out} values per sample)")
        y = y.reshape((len(y),) + out[1:]).astype(task.dtype, copy=False)
        if task.kind == "binary":
            if len(y) and (y.min() < 0 or y.max() > 1):
                raise ValueError(f"{what}: {task.name} targets must be in [0, 1], "
                                 f"got values from {y.min()} to {y.max()}")
            if record:
                task.num_classes = 2 if np.all((y == 0) | (y == 1)) else None
        return y
    if y.dtype.kind == "f":
        return y.astype(task.dtype, copy=False)
    if len(out) == 2 and out[1] >= 2 and y.ndim == 1:
        _check_range(y, out[1], out, what)
        if record:
            task.num_classes = out[1]
    return y


def check_loss_on_probe(task: Task, out: np.ndarray, y: np.ndarray, what: str,
                        weighted: bool) -> None:
    """Run the loss once on the probe output, so a misfit fails before training."""
    try:
        with no_grad():
            value = (task.per_sample if weighted else task.loss)(Tensor._wrap(out), y)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: the loss {task.name!r} fails on the model output "
                         f"{tuple(out.shape)} and targets {tuple(np.shape(y))}: {exc}") from exc
    size = int(np.prod(getattr(value, "shape", ())))
    expected = len(out) if weighted else 1
    if size != expected:
        raise ValueError(f"{what}: the loss {task.name!r} must return "
                         f"{'one value per sample' if weighted else 'a scalar'}, got shape "
                         f"{tuple(getattr(value, 'shape', ()))}")


def check_class_weight(class_weight: Any, task: Task, what: str) -> np.ndarray:
    """A weight per class (float64 (K,)) from a dict {class: weight} or a sequence;
    classes missing from a dict weigh 1."""
    if not task.classifies:
        raise ValueError(f"{what}: class_weight needs class labels (a classification loss "
                         f"with integer targets); loss {task.name!r} has none")
    k = task.num_classes
    if isinstance(class_weight, dict):
        weights = np.ones(k)
        for c, w in class_weight.items():
            if not isinstance(c, (int, np.integer)) or not 0 <= c < k:
                raise ValueError(f"{what}: class_weight key {c!r} is not a class in "
                                 f"[0, {k - 1}]")
            weights[int(c)] = w
    else:
        weights = np.asarray(class_weight, dtype=np.float64)
        if weights.shape != (k,):
            raise ValueError(f"{what}: class_weight must be a dict or have one weight per "
                             f"class ({k},), got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"{what}: class weights must be finite and >= 0, "
                         f"got {weights.tolist()}")
    return weights
