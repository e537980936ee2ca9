"""Callbacks for fit: a small protocol and the Keras classics built on it.

Protocol: ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
Epochs and batches count from 0. Before training, fit gives every callback
``.trainer`` (with ``.stop_training``, settable to end the run), ``.model`` and
``.optimizer``. Epoch logs hold "loss", the metrics, their "val_" twins and "lr";
batch logs hold "loss" and "size".
"""
from __future__ import annotations

import csv
import inspect
import math
import os
import warnings
from typing import Any, Callable

import numpy as np

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "LearningRateScheduler",
           "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN"]

_MAX_METRICS = ("acc", "accuracy", "precision", "recall", "f1", "auc")


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    trainer: Any = None

    @property
    def model(self) -> Any:
        return None if self.trainer is None else self.trainer.model

    @property
    def optimizer(self) -> Any:
        return None if self.trainer is None else self.trainer.optimizer

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class _Monitor:
    """Tracks the best value of one logged quantity; shared by the plateau callbacks."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"{owner}: min_delta must be >= 0, got {min_delta}")
        if mode == "auto":
            name = monitor[4:] if monitor.startswith("val_") else monitor
            mode = "max" if name in _MAX_METRICS else "min"
        self.owner, self.monitor, self.mode, self.min_delta = owner, monitor, mode, min_delta
        self.best = math.inf if mode == "min" else -math.inf

    def value(self, logs: dict | None) -> float | None:
        """The monitored value, or None (with a warning naming the keys there are)."""
        if not logs or self.monitor not in logs:
            warnings.warn(f"{self.owner}: '{self.monitor}' is not in the logs "
                          f"(available: {sorted(logs or {})}); skipping this epoch",
                          RuntimeWarning, stacklevel=3)
            return None
        return float(logs[self.monitor])

    def improved(self, current: float) -> bool:
        """True when ``current`` beats the best by more than min_delta (and records it)."""
        if self.mode == "min":
            better = current < self.best - self.min_delta
        else:
            better = current > self.best + self.min_delta
        if better:
            self.best = current
        return better


def _check_patience(owner: str, patience: int) -> None:
    if not isinstance(patience, (int, np.integer)) or patience < 0:
        raise ValueError(f"{owner}: patience must be an int >= 0, got {patience!r}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row (patience=0 stops at the first such epoch).

    mode "auto" maximizes accuracy-like keys and minimizes the rest. With
    ``restore_best_weights`` the model gets the weights of its best epoch back when
    training ends. ``stopped_epoch`` / ``best_epoch`` tell what happened (-1: none).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        _check_patience("EarlyStopping", patience)
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.restore_best_weights = mode, restore_best_weights
        self.on_train_begin()  # validates mode/min_delta now; fit resets the state again

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._tracker = _Monitor("EarlyStopping", self.monitor, self.mode, self.min_delta)
        self.wait, self.stopped_epoch, self.best_epoch = 0, -1, -1
        self.best_weights: dict | None = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._tracker.value(logs)
        if current is None:
            return
        if self._tracker.improved(current):
            self.wait, self.best_epoch = 0, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()  # copies, per the Module contract
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        if self.stopped_epoch >= 0 and getattr(self.trainer, "verbose", 0):
            print(f"EarlyStopping: stopped after epoch {self.stopped_epoch + 1}; best "
                  f"{self.monitor}={self.best:.4f} at epoch {self.best_epoch + 1}")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    more than ``min_delta`` for ``patience`` epochs; never below ``min_lr``; then
    wait ``cooldown`` epochs before counting again (Keras' rule)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_lr: float = 0.0, cooldown: int = 0, min_delta: float = 1e-4,
                 mode: str = "auto", verbose: int = 0):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be >= 0, got {min_lr}")
        _check_patience("ReduceLROnPlateau", patience)
        _check_patience("ReduceLROnPlateau (cooldown)", cooldown)
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.min_lr, self.cooldown, self.min_delta = float(min_lr), int(cooldown), min_delta
        self.mode, self.verbose = mode, verbose
        self.on_train_begin()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._tracker = _Monitor("ReduceLROnPlateau", self.monitor, self.mode, self.min_delta)
        self.wait, self.cooldown_counter = 0, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._tracker.value(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._tracker.improved(current):
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = float(self.optimizer.lr)
            if old > self.min_lr:
                new = max(old * self.factor, self.min_lr)
                self.optimizer.lr = new
                if self.verbose:
                    print(f"ReduceLROnPlateau: epoch {epoch + 1}: lr {old:.3g} -> {new:.3g}")
            self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """At each epoch's start set ``optimizer.lr = schedule(epoch)`` or
    ``schedule(epoch, lr)`` (epoch from 0, lr the current rate), whichever the
    function's signature takes (Keras accepts both). Raises ValueError at
    construction for a non-callable or a function that takes neither."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0):
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be callable, "
                             f"got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._with_lr = _takes_lr(schedule)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        args = (epoch, float(self.optimizer.lr)) if self._with_lr else (epoch,)
        lr = self.schedule(*args)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or not math.isfinite(lr):
            call = "schedule(epoch, lr)" if self._with_lr else "schedule(epoch)"
            raise ValueError(f"LearningRateScheduler: {call} at epoch {epoch} must return "
                             f"a finite number, got {lr!r}")
        self.optimizer.lr = float(lr)
        if self.verbose:
            print(f"LearningRateScheduler: epoch {epoch + 1}: lr = {float(lr):.3g}")


def _takes_lr(fn: Callable[..., Any]) -> bool:
    """Whether fn is called as fn(epoch, lr) (True) or fn(epoch) (False), read from its
    signature, not by catching a TypeError that fn itself might raise."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: Keras's form
        return True
    for args, takes_lr in (((0, 0.0), True), ((0,), False)):
        try:
            sig.bind(*args)
        except TypeError:
            continue
        return takes_lr
    raise ValueError(f"LearningRateScheduler: schedule must take (epoch) or (epoch, lr), "
                     f"got {fn!r} with signature {sig}")


class ModelCheckpoint(Callback):
    """Save ``model.state_dict()`` with ``mg.save`` (atomic) at each epoch's end.

    ``path`` may contain ``{epoch}`` (1-based, as Keras) or any logged key, e.g.
    ``"ckpt/model-{epoch:02d}-{val_loss:.3f}.ckpt"``. With ``save_best_only`` a file
    is written only when ``monitor`` improved. ``last_saved`` is the latest path.
    """

    rank_zero_only = True  # data-parallel fit: written by rank 0 alone

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto", verbose: int = 0):
        self.path, self.monitor, self.save_best_only = os.fspath(path), monitor, save_best_only
        self.mode, self.verbose = mode, verbose
        self.on_train_begin()
        self.last_saved: str | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._tracker = _Monitor("ModelCheckpoint", self.monitor, self.mode, 0.0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.save_best_only:
            current = self._tracker.value(logs)
            if current is None or not self._tracker.improved(current):
                return
        try:
            path = self.path.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot fill the path {self.path!r} from "
                             f"epoch and logs {sorted(logs or {})}: {exc}") from exc
        from ..serialization import save  # imported on use: only checkpoints need it
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        save(self.model.state_dict(), path)
        self.last_saved = path
        if self.verbose:
            print(f"ModelCheckpoint: epoch {epoch + 1}: saved {path}")


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` then the logged keys) to ``path``,
    flushed every epoch so a crashed run keeps its rows. ``append`` keeps old rows."""

    rank_zero_only = True  # data-parallel fit: written by rank 0 alone

    def __init__(self, path: str | os.PathLike, separator: str = ",", append: bool = False):
        self.path, self.separator, self.append = os.fspath(path), separator, append
        self._file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        has_rows = self.append and os.path.exists(self.path) and os.path.getsize(self.path)
        self._file = open(self.path, "a" if self.append else "w", newline="")
        self._writer: Any = None
        self._keys: list[str] | None = None
        self._header_done = bool(has_rows)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys,
                                          delimiter=self.separator, extrasaction="ignore",
                                          restval="")
            if not self._header_done:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, printing (and keeping in
    ``message``) the epoch and batch where it happened."""

    def __init__(self) -> None:
        self.message: str | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.message = (f"TerminateOnNaN: loss is {loss} at epoch {self._epoch + 1}, "
                            f"batch {batch + 1}; training stopped")
            print(self.message)
            self.trainer.stop_training = True
