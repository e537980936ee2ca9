"""fit / evaluate / predict: the training loop, Keras-style, over minigrad modules."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .._malloc import tuned_allocator
from ..autograd import no_grad
from ..optim import by_name
from ..random import get_rng
from ..tensor import Tensor, tensor
from .callbacks import Callback
from . import parallel
from .history import History
from .meter import Meter, check_metrics, metric_names, true_labels
from .progress import EpochProgress
from .sources import ArraySource, LoaderSource, is_loader, make_source
from .spec import (Task, check_class_weight, check_loss_on_probe, fit_output, model_dtype,
                   prepare_targets, probe, resolve_task, restore_modes, save_modes)

__all__ = ["Trainer", "check_metrics", "evaluate", "fit", "predict"]

_REGULARIZERS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")


class _Hooks:
    """The callbacks' bound hook methods, gathered once: a callback may define only the
    hooks it needs (duck typing), and a step calls only the on_batch_end hooks that do
    something."""

    def __init__(self, callbacks: Sequence[Any], trainer: "Trainer"):
        for cb in callbacks:
            if hasattr(cb, "set_trainer"):
                cb.set_trainer(trainer)
            else:
                cb.trainer = trainer
        for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                     "on_batch_end"):
            base = getattr(Callback, hook)
            setattr(self, hook, [getattr(cb, hook) for cb in callbacks
                                 if getattr(type(cb), hook, base) is not base])


class Trainer:
    """What callbacks see of a running fit: ``model``, ``optimizer``, ``verbose``,
    ``epoch`` and ``stop_training`` (set it to True to end after the current batch)."""

    def __init__(self, model: Any, optimizer: Any, verbose: int = 0):
        self.model, self.optimizer, self.verbose = model, optimizer, verbose
        self.stop_training = False
        self.epoch = 0


def _regularized(model: Any) -> bool:
    """Whether regularization_loss can be non-zero (checked once, not every step): the
    Module's own version only adds the layers' regularizers, so without any it is
    skipped; an overridden or foreign regularization_loss is always called."""
    from ..nn.module import Module  # nn sits below train; imported here to keep it light
    if not callable(getattr(model, "regularization_loss", None)):
        return False
    if not isinstance(model, Module) or \
            type(model).regularization_loss is not Module.regularization_loss:
        return True
    return any(getattr(m, a, None) is not None for m in model.modules() for a in _REGULARIZERS)


def _train_step(model: Any, optimizer: Any, task: Task, xb: np.ndarray, yb: Any,
                wb: np.ndarray | None, regularized: bool, scale: float = 1.0
                ) -> tuple[float, np.ndarray]:
    """One update; returns the batch loss and the outputs (for metrics, no second forward).
    ``scale`` multiplies the loss before backward (a data-parallel shard's weight)."""
    optimizer.zero_grad()
    out = model(tensor(xb))
    if wb is None:
        loss = task.loss(out, yb)
    else:  # Keras: the mean over the batch of per-sample weight * loss
        loss = (task.per_sample(out, yb) * Tensor._wrap(wb)).mean()
    if regularized:
        loss = loss + model.regularization_loss()
    value = loss.item()
    (loss * scale if scale != 1.0 else loss).backward()
    optimizer.step()
    return value, out.data


def _check_args(epochs: int, batch_size: int, validation_split: float, verbose: int) -> None:
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an int >= 1, got {batch_size!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if verbose not in (0, 1, 2):
        raise ValueError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")


def _validation(train: Any, validation_split: float, validation_data: Any, dtype: Any
                ) -> tuple[Any, Any]:
    """(train source, validation source or None): validation_data, or the LAST fraction."""
    if validation_data is not None:
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) != 2:
                raise ValueError("fit: validation_data must be (x_val, y_val) or a DataLoader, "
                                 f"got a sequence of {len(validation_data)}")
            return train, make_source(*validation_data, 256, dtype, "fit (validation_data)")
        if not is_loader(validation_data):
            raise ValueError("fit: validation_data must be (x_val, y_val) or a DataLoader, "
                             f"got {type(validation_data).__name__}")
        return train, make_source(validation_data, None, 256, dtype, "fit (validation_data)")
    if validation_split == 0:
        return train, None
    if not isinstance(train, ArraySource):
        raise ValueError("fit: validation_split needs arrays; with a DataLoader pass "
                         "validation_data")
    at = int(math.ceil(len(train) * (1.0 - validation_split)))  # Keras' split point
    if at >= len(train) or at == 0:
        raise ValueError(f"fit: validation_split={validation_split} of {len(train)} samples "
                         "leaves no sample for training or validation")
    train, val = train.split(at)
    val.batch_size = max(val.batch_size, 256)  # evaluation batches only bound the memory
    return train, val


def _prepare(model: Any, loss: Any, train: Any, val: Any, class_weight: Any, what: str
             ) -> tuple[Task, np.ndarray | None]:
    """Every check that can fail, run on a probe and the labels before the first step."""
    task = resolve_task(loss, what)
    xp, yp = train.probe_batch()
    out = probe(model, xp)
    fit_output(task, out, what)
    train.prepare(task, what)
    if val is not None:
        val.prepare(task, what + " (validation)", record=False)
    weights = None if class_weight is None else check_class_weight(class_weight, task, what)
    check_loss_on_probe(task, out, prepare_targets(task, yp, what, record=False), what,
                        weights is not None)
    return task, weights


def _weights(class_weights: np.ndarray | None, yb: np.ndarray, dtype: Any
             ) -> np.ndarray | None:
    """Per-sample weights (B,) of the batch labels, in the loss dtype."""
    if class_weights is None:
        return None
    return class_weights[true_labels(yb)].astype(dtype)


def _run_epoch(trainer: Trainer, source: Any, task: Task, meter: Meter, order: Any,
               class_weights: np.ndarray | None, regularized: bool,
               batch_hooks: Sequence[Callable], bar: EpochProgress,
               par: parallel.Single, net: Any) -> None:
    optimizer = trainer.optimizer
    batches = (source.batches(order, training=True, epoch=trainer.epoch)
               if isinstance(source, LoaderSource) else source.batches(order))
    for b, (xb, yb) in enumerate(batches):
        xb, yb, scale = par.shard(xb, yb)
        wb = _weights(class_weights, yb, task.dtype)
        value, out = _train_step(net, optimizer, task, xb, yb, wb, regularized, scale)
        meter.update(value, out, yb)
        for hook in batch_hooks:
            hook(b, {"loss": value, "size": len(xb)})
        bar.update(meter.running)
        if trainer.stop_training:
            break


@tuned_allocator()  # freed activations are reused, not re-faulted: see minigrad/_malloc.py
def fit(model: Any, x: Any, y: Any = None, *, loss: Any, optimizer: Any, epochs: int = 1,
        batch_size: int = 32, validation_split: float = 0.0, validation_data: Any = None,
        shuffle: bool = True, class_weight: Any = None, callbacks: Sequence[Callback] = (),
        metrics: Sequence[Any] = ("accuracy",), verbose: int = 1,
        seed: int | None = None, initial_epoch: int = 0) -> History:
    """Train ``model`` on ``x``/``y`` with mini-batches; returns the History.

    x: (N, ...) array or Tensor (integer images are cast per batch, so they can stay
    uint8 in memory), or a DataLoader yielding (xb, yb) with y=None. y: (N,) int labels
    or (N, C) probabilities for "cross_entropy" (logits), one-hot (N, C) for
    "categorical_crossentropy" (probabilities, Keras), 0/1 for "binary_cross_entropy"
    (one logit), floats shaped like the output for "mse". loss: a name of the loss
    registry (``mg.nn.loss_names()``) or a callable (outputs, targets) -> scalar Tensor
    (with class_weight it must accept reduction="none"). optimizer: an Optimizer, or
    a name ("adam", "sgd", ...) built with Keras's defaults (mg.optim.by_name).
    validation_split: the LAST fraction of x/y is held out (Keras); validation_data:
    (x_val, y_val) or a DataLoader. class_weight: {class: weight} or one weight per
    class; the loss becomes the batch mean of weight[y_i] * loss_i. metrics: names
    ("accuracy", "precision", "recall", "f1"; macro-averaged for C classes) or
    callables (y_true, outputs) -> float, batch-size weighted; class metrics are
    recorded only when the targets are class labels. verbose: 0 silent, 1 a
    progress bar per epoch, 2 a line per epoch. seed: fixes the shuffling of arrays
    (a DataLoader shuffles with its own seed). The model's regularization_loss() is
    added to the loss. initial_epoch: epochs already trained (Keras), for resuming a
    run: epochs initial_epoch..epochs-1 run, numbered as in the uninterrupted run; with
    a seed the skipped epochs' shuffles are drawn and dropped, so the run continues
    bit for bit (given the model, optimizer and minigrad RNG state of that epoch's
    end). Training runs in train mode; validation in eval mode under
    no_grad; the model's modes are restored at the end.

    Under an initialised mg.distributed group of K > 1 processes (mpiexec), fit trains
    data-parallel: batch_size is the global batch, each rank trains on its 1/K shard
    and the gradients are averaged (see minigrad/train/parallel.py).

    Raises ValueError before training for: x/y length mismatch, labels outside the
    model's classes, an output that does not fit the loss, an unknown loss or metric.
    """
    _check_args(epochs, batch_size, validation_split, verbose)
    optimizer = by_name.get(optimizer, list(model.parameters()), "fit")
    par = parallel.plan(batch_size)
    verbose, seed = par.verbose(verbose), par.seed(seed)
    if not isinstance(initial_epoch, (int, np.integer)) or not 0 <= initial_epoch <= epochs:
        raise ValueError(f"fit: initial_epoch must be an int in [0, epochs={epochs}], got "
                         f"{initial_epoch!r}")
    dtype = model_dtype(model)
    train = make_source(x, y, batch_size, dtype, "fit")
    if isinstance(train, ArraySource) and train.y is None:
        raise ValueError("fit: y is required when x is an array (or pass a DataLoader as x)")
    train, val = _validation(train, validation_split, validation_data, dtype)
    task, class_weights = _prepare(model, loss, train, val, class_weight, "fit")
    metric_list = metric_names(metrics, "fit")
    regularized = _regularized(model)

    trainer = Trainer(model, optimizer, verbose)
    history = History()
    history.params = {"epochs": epochs, "batch_size": batch_size, "samples": len(train),
                      "steps": train.steps, "loss": task.name}
    hooks = _Hooks(par.callbacks(callbacks), trainer)
    net = par.wrap(model)
    rng = np.random.default_rng(seed) if seed is not None else get_rng()
    if seed is not None and shuffle and isinstance(train, ArraySource):
        for _ in range(initial_epoch):
            rng.permutation(len(train))
    modes = save_modes(model)
    for hook in hooks.on_train_begin:
        hook({})
    try:
        for epoch in range(initial_epoch, epochs):
            trainer.epoch = epoch
            for hook in hooks.on_epoch_begin:
                hook(epoch, {})
            if hasattr(model, "train"):
                model.train()
            order = (rng.permutation(len(train))
                     if shuffle and isinstance(train, ArraySource) else None)
            meter = Meter(task, metric_list)
            bar = EpochProgress(verbose, epoch, epochs, train.steps)
            _run_epoch(trainer, train, task, meter, order, class_weights, regularized,
                       hooks.on_batch_end, bar, par, net)
            logs = par.reduce_logs(meter.result(), meter.count)
            if val is not None:
                vlogs = _evaluate_source(model, val, task, metric_list, regularized)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            if hasattr(optimizer, "lr"):
                logs["lr"] = float(optimizer.lr)
            logs = parallel.same_logs(par, logs)
            bar.close(logs)
            for hook in hooks.on_epoch_end:
                hook(epoch, logs)
            history.append(epoch, logs)
            if trainer.stop_training:
                break
    finally:
        restore_modes(modes)
    for hook in hooks.on_train_end:
        hook({})
    return history


def _evaluate_source(model: Any, source: Any, task: Task, metric_list: list,
                     regularized: bool) -> dict[str, float]:
    """Loss and metrics over a whole source in eval mode, without recording a graph."""
    meter = Meter(task, metric_list)
    modes = save_modes(model)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for xb, yb in source.batches(None, training=False):
                out = model(tensor(xb))
                value = None
                if task.loss is not None:
                    lt = task.loss(out, yb)
                    if regularized:
                        lt = lt + model.regularization_loss()
                    value = lt.item()
                meter.update(value, out.data, yb)
    finally:
        restore_modes(modes)
    return meter.result(with_loss=task.loss is not None)


def evaluate(model: Any, x: Any, y: Any = None, *, loss: Any,
             metrics: Sequence[Any] = ("accuracy",), batch_size: int = 256) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``x``/``y`` (or a DataLoader as x, its transform
    off), in eval mode under no_grad; returns {"loss": ..., "accuracy": ..., ...}.
    ``loss=None`` computes the metrics only. Raises ValueError as fit does."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be an int >= 1, got {batch_size!r}")
    dtype = model_dtype(model)
    source = make_source(x, y, batch_size, dtype, "evaluate")
    if isinstance(source, ArraySource) and source.y is None:
        raise ValueError("evaluate: y is required when x is an array")
    if loss is None:
        task = Task("none", None, None, "custom")  # type: ignore[arg-type]
        out = probe(model, source.probe_batch()[0])
        fit_output(task, out, "evaluate")
        source.prepare(task, "evaluate")
    else:
        task, _ = _prepare(model, loss, source, None, None, "evaluate")
    return _evaluate_source(model, source, task, metric_names(metrics, "evaluate"),
                            _regularized(model) and loss is not None)


def predict(model: Any, x: Any, batch_size: int = 256, tta: Callable | None = None,
            tta_rounds: int = 8) -> np.ndarray:
    """The model's outputs ``(N, ...)`` for ``x`` (array, Tensor or a DataLoader whose
    first array is the input), batch by batch in eval mode under no_grad.

    tta: test-time augmentation, a callable on an input batch (numpy, e.g. a
    ``mg.data`` transform in training mode); the output for each batch is then the
    mean of the model's outputs over ``tta_rounds`` augmented copies (of the outputs
    as the model returns them: logits stay logits). Raises ValueError for bad
    arguments."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"predict: batch_size must be an int >= 1, got {batch_size!r}")
    if tta is not None and not callable(tta):
        raise ValueError(f"predict: tta must be None or a callable, got {tta!r}")
    if isinstance(tta_rounds, bool) or not isinstance(tta_rounds, (int, np.integer)) \
            or tta_rounds < 1:
        raise ValueError(f"predict: tta_rounds must be an int >= 1, got {tta_rounds!r}")
    dtype = model_dtype(model)
    if is_loader(x):
        source: Any = LoaderSource(x, dtype)
        batches: Callable = lambda: source.batches(None, training=False)
    else:
        source = make_source(x, None, batch_size, dtype, "predict")
        batches = lambda: source.batches(None)
    run = lambda xb: np.array(getattr(out := model(tensor(xb)), "data", out))  # noqa: E731
    outputs: list[np.ndarray] = []
    modes = save_modes(model)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for xb, _ in batches():
                outputs.append(run(xb) if tta is None else np.mean(
                    [run(np.asarray(tta(xb), dtype=xb.dtype)) for _ in range(tta_rounds)],
                    axis=0))
    finally:
        restore_modes(modes)
    return np.concatenate(outputs) if outputs else np.empty((0,))
