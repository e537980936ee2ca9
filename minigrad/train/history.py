"""History: the per-epoch record that fit returns, and its loss/accuracy plot."""
from __future__ import annotations

import os
from typing import Any

__all__ = ["History"]


class History:
    """What ``fit`` measured, epoch by epoch (Keras' History).

    ``history``: dict mapping a key ("loss", "accuracy", "val_loss", "val_accuracy",
    "lr", ...) to a list with one float per epoch run. ``epoch``: the 0-based epoch
    indices. ``params``: the settings of the run (epochs, batch_size, steps, ...).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def append(self, epoch: int, logs: dict[str, Any]) -> None:
        """Record the logs of one epoch; a key first seen late is padded with NaN before."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            column = self.history.setdefault(key, [float("nan")] * (len(self.epoch) - 1))
            column.append(float(value))
        for column in self.history.values():
            if len(column) < len(self.epoch):
                column.append(float("nan"))

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"

    def plot(self, path: str | os.PathLike, title: str | None = None) -> str:
        """Draw the loss curves (and the accuracy curves when recorded) into a PNG.

        Returns the path written. Raises ImportError saying how to install matplotlib
        when it is missing, and RuntimeError when nothing has been recorded yet.
        """
        try:
            import matplotlib
            matplotlib.use("Agg")  # no display needed; must precede pyplot's import
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("History.plot needs matplotlib (an optional dependency): "
                              "pip install matplotlib") from exc
        if not self.epoch:
            raise RuntimeError("History.plot: no epoch recorded yet; run fit first")
        panels = [k for k in ("loss", "accuracy") if k in self.history]
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
        x = [e + 1 for e in self.epoch]
        for ax, key in zip(axes[0], panels):
            ax.plot(x, self.history[key], "o-", label=f"train {key}")
            if f"val_{key}" in self.history:
                ax.plot(x, self.history[f"val_{key}"], "s--", label=f"validation {key}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(key)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        path = os.fspath(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
