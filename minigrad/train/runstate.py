"""Resumable runs: a whole checkpoint at every epoch end, and a run marker.

``RunCheckpoint`` is an ordinary callback, so fit stays generic. At each epoch end it
writes, atomically (mg.save's temporary file, fsync and rename), one save_model file
holding the model, and in its extra dict the optimizer state (with its schedule and
step count), minigrad's RNG state, the number of epochs done, the run's config and
the history so far; then it updates the marker ``run.json`` ({"status": "running" |
"complete", "epochs_done", "epochs"}), also atomically. A run killed at any moment
leaves the last complete epoch's checkpoint, which ``resume_state`` reads back.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ..model_io import read_model, save_model
from ..random import get_rng
from ..serialization import atomic_write
from .callbacks import Callback
from .history import History

__all__ = ["CHECKPOINT_FORMAT", "RunCheckpoint", "history_from_data", "read_marker",
           "restore_rng", "rng_state", "write_marker"]

CHECKPOINT_FORMAT = "minigrad-run-checkpoint/2"
MARKER = "run.json"


def rng_state() -> dict:
    """minigrad's generator state (init, dropout, transforms without a seed) as data."""
    return {"minigrad": get_rng().bit_generator.state}


def restore_rng(state: dict) -> None:
    """Put minigrad's generator back where ``rng_state`` found it."""
    get_rng().bit_generator.state = state["minigrad"]


def write_marker(folder: str, status: str, epochs_done: int, epochs: int) -> None:
    """``folder``/run.json, written atomically."""
    text = json.dumps({"status": status, "epochs_done": epochs_done, "epochs": epochs})
    atomic_write(os.path.join(folder, MARKER), [text.encode("utf-8")])


def read_marker(folder: str) -> dict | None:
    """The run marker of ``folder``, or None when there is none or it is unreadable."""
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def history_data(history: History) -> dict:
    return {"epoch": list(history.epoch), "history": dict(history.history)}


def history_from_data(data: dict) -> History:
    """A History holding the epochs a checkpoint recorded."""
    history = History()
    columns = data.get("history", {})
    for i, epoch in enumerate(data.get("epoch", [])):
        history.append(epoch, {k: v[i] for k, v in columns.items() if i < len(v)})
    return history


class RunCheckpoint(Callback):
    """Save the whole run to ``folder``/``name`` at every epoch end (see the module).

    config: the run's settings (mg.save-able data); epochs: the run's target;
    history: the epochs done before this fit call (a resumed run), extended here.
    """

    def __init__(self, folder: str, config: dict, epochs: int,
                 history: History | None = None, name: str = "model.ckpt"):
        self.folder, self.config, self.epochs = folder, config, epochs
        self.path = os.path.join(folder, name)
        self.history = history if history is not None else History()

    def on_train_begin(self, logs: dict | None = None) -> None:
        # a write killed (SIGKILL, power loss) before its rename leaves its temporary
        # file; it is never read, and removed here when the run goes on
        os.makedirs(self.folder, exist_ok=True)
        for name in os.listdir(self.folder):
            if name.endswith(".tmp") and name.startswith(
                    (f".{os.path.basename(self.path)}.", f".{MARKER}.")):
                os.remove(os.path.join(self.folder, name))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.append(epoch, dict(logs or {}))
        self.save(epoch + 1)
        write_marker(self.folder, "running", epoch + 1, self.epochs)

    def save(self, epochs_done: int, **more: Any) -> None:
        """Write the checkpoint now (also used after training, with test results)."""
        extra = {"format": CHECKPOINT_FORMAT, "config": self.config,
                 "epoch": epochs_done, "epochs": self.epochs,
                 "optimizer": self.optimizer.state_dict(), "rng": rng_state(),
                 "history": history_data(self.history), **more}
        save_model(self.model, self.path, extra=extra)


def resume_state(path: str) -> tuple[Any, dict]:
    """``(model, extra)`` of a RunCheckpoint file; ValueError if it is another kind."""
    model, extra = read_model(path)
    if extra.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is a saved model but not a training-run checkpoint "
                         "(no optimizer or RNG state in it)")
    return model, extra
