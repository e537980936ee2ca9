"""ActivationMonitor: forward hooks that record, per layer and per batch, the mean,
std, fraction of exact zeros and fraction saturated of each layer's output, and the
dead units (zero for every sample of an epoch), as a table and a plot across epochs."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import leaf_modules

# Saturation tests by activation type (the gradient through them is ~0 there).
_SATURATION = {
    "Tanh": lambda y: np.abs(y) > 0.99,
    "Sigmoid": lambda y: (y < 0.01) | (y > 0.99),
    "Hardtanh": lambda y: np.abs(y) >= 1.0,
}
# Layers that only move data around: their output statistics repeat their input's.
_SKIPPED = ("Flatten", "Reshape", "Unflatten", "Identity", "Dropout")


class _LayerRecord:
    """Running statistics of one layer over the current epoch."""

    def __init__(self) -> None:
        self.batches: list[dict[str, float]] = []
        self.alive: np.ndarray | None = None  # per unit: non-zero for some sample

    def add(self, y: np.ndarray, saturated: Any) -> None:
        zero = y == 0
        # float64 accumulators, without a float64 copy of a large activation map
        stats = {"mean": float(y.mean(dtype=np.float64)), "std": float(y.std(dtype=np.float64)),
                 "zeros": float(zero.mean()),
                 "saturated": float(saturated(y).mean()) if saturated else float("nan")}
        self.batches.append(stats)
        # A unit is one output element of one sample (a neuron; for conv maps, a
        # channel at a position); it is dead when zero for every sample seen.
        alive = ~zero.reshape(y.shape[0], -1).all(axis=0) if y.ndim > 1 else ~zero
        if self.alive is None or self.alive.shape != alive.shape:
            self.alive = alive
        else:
            self.alive |= alive

    def summary(self) -> dict[str, float]:
        keys = ("mean", "std", "zeros", "saturated")
        out = {k: float(np.mean([b[k] for b in self.batches])) for k in keys}
        out["dead"] = float(1.0 - self.alive.mean()) if self.alive is not None else 0.0
        out["batches"] = len(self.batches)
        return out


class ActivationMonitor:
    """Hook every leaf layer of ``model`` (or only ``layers``) and record its outputs.

    ActivationMonitor(model, layers=None, record_eval=False)
    layers: names (as in model.named_modules()) or module types (e.g. only the
    activations: ``layers=(mg.nn.ReLU, mg.nn.Tanh)``); default: every leaf module
    except shape-only layers and Dropout. With record_eval=False only forward
    passes in training mode are recorded, so validation does not mix in.

    Per batch: mean, std, fraction of exact zeros, fraction saturated (|tanh| > 0.99;
    sigmoid < 0.01 or > 0.99; NaN for other types). Per epoch, added by
    ``end_epoch()`` (the callback calls it): the batch averages and ``dead``, the
    fraction of units that were zero for every sample of the epoch.
    ``table()``, ``plot(path)``, ``callback()`` for fit, ``remove()`` to detach.
    """

    def __init__(self, model: Any, layers: Iterable[Any] | None = None,
                 record_eval: bool = False):
        if not hasattr(model, "named_modules"):
            raise TypeError(f"ActivationMonitor: expected a Module, got "
                            f"{type(model).__name__}")
        self.model, self.record_eval = model, record_eval
        self.layers = _select(model, layers)
        if not self.layers:
            raise ValueError(f"ActivationMonitor: no layer of {type(model).__name__} "
                             f"matches {layers!r}")
        self._current = {name: _LayerRecord() for name, _ in self.layers}
        self.epochs: list[dict[str, dict[str, float]]] = []
        self._handles = [m.register_forward_hook(self._hook(name, m))
                         for name, m in self.layers]

    def _hook(self, name: str, module: Any):
        saturated = _SATURATION.get(type(module).__name__)

        def record(mod: Any, inputs: tuple, output: Any) -> None:
            if mod.training or self.record_eval:
                y = np.asarray(getattr(output, "data", output))
                if y.dtype.kind == "f" and y.size:
                    self._current[name].add(y, saturated)
        return record

    # ----- epochs ------------------------------------------------------------------
    def end_epoch(self) -> dict[str, dict[str, float]]:
        """Close the current epoch: store its per-layer summary and start a new one."""
        summary = {name: rec.summary() for name, rec in self._current.items()
                   if rec.batches}
        if summary:
            self.epochs.append(summary)
        self._current = {name: _LayerRecord() for name, _ in self.layers}
        return summary

    def current(self) -> dict[str, dict[str, float]]:
        """Summary of the batches recorded since the last end_epoch()."""
        return {name: rec.summary() for name, rec in self._current.items() if rec.batches}

    def batches(self, layer: str) -> list[dict[str, float]]:
        """Per-batch statistics of one layer in the current epoch."""
        if layer not in self._current:
            raise KeyError(f"ActivationMonitor: no monitored layer {layer!r}; monitored: "
                           f"{[n for n, _ in self.layers]}")
        return list(self._current[layer].batches)

    def _all_epochs(self) -> list[dict[str, dict[str, float]]]:
        pending = self.current()
        return self.epochs + ([pending] if pending else [])

    def table(self) -> str:
        """One row per epoch and layer (the open epoch, if any, counts as the last)."""
        types = {name: type(m).__name__ for name, m in self.layers}
        head = (f"{'epoch':>5} {'layer':<18} {'type':<12} {'mean':>9} {'std':>9} "
                f"{'zeros':>7} {'dead':>7} {'satur.':>7}")
        out = [head, "-" * len(head)]
        for e, summary in enumerate(self._all_epochs()):
            for name, s in summary.items():
                sat = "-" if np.isnan(s["saturated"]) else f"{s['saturated']:.1%}"
                out.append(f"{e:>5} {name:<18} {types[name]:<12} {s['mean']:>9.3g} "
                           f"{s['std']:>9.3g} {s['zeros']:>7.1%} {s['dead']:>7.1%} "
                           f"{sat:>7}")
        if len(out) == 2:
            out.append("(nothing recorded yet: run forward passes in training mode)")
        return "\n".join(out)

    def plot(self, path: Any) -> Any:
        """Std, dead fraction and saturated fraction per layer across epochs, as a PNG
        (or any format matplotlib infers from path). Returns path."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = self._all_epochs()
        if not epochs:
            raise RuntimeError("ActivationMonitor.plot: nothing recorded yet")
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        for name, _ in self.layers:
            xs = [e for e, s in enumerate(epochs) if name in s]
            for ax, key in zip(axes, ("std", "dead", "saturated")):
                ys = [epochs[e][name][key] for e in xs]
                if not all(np.isnan(ys)):
                    ax.plot(xs, ys, marker="o", label=name)
        for ax, title in zip(axes, ("activation std", "dead units (fraction)",
                                    "saturated (fraction)")):
            ax.set_title(title)
            ax.set_xlabel("epoch")
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path

    # ----- lifetime -------------------------------------------------------------------
    def remove(self) -> None:
        """Detach every hook; the recorded statistics stay readable."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def callback(self) -> "ActivationMonitorCallback":
        return ActivationMonitorCallback(self)

    def __enter__(self) -> "ActivationMonitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class ActivationMonitorCallback:
    """fit callback: closes the monitor's epoch at each epoch end and adds to the epoch
    logs (hence to the History) the mean dead fraction over the activation layers and
    the worst layer's ("dead_units", "dead_units_max")."""

    trainer: Any = None

    def __init__(self, monitor: ActivationMonitor):
        self.monitor = monitor

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        summary = self.monitor.end_epoch()
        if logs is not None and summary:
            # Units of Linear/Conv/BN outputs are practically never exactly zero, so
            # averaging them in would dilute the dead fraction of the activations.
            acts = [n for n, m in self.monitor.layers if n in summary and _activation(m)]
            dead = [summary[n]["dead"] for n in acts or summary]
            logs["dead_units"] = float(np.mean(dead))
            logs["dead_units_max"] = float(np.max(dead))


def _activation(m: Any) -> bool:
    """A layer with an activation of its own (Linear(..., activation="relu")), or a
    module without weight matrices and not a normalisation: an activation."""
    if getattr(m, "activation", None) is not None:
        return True
    weighted = any(getattr(p, "ndim", 0) >= 2 for p in m.parameters())
    return not weighted and "Norm" not in type(m).__name__


def _select(model: Any, layers: Iterable[Any] | None) -> list[tuple[str, Any]]:
    leaves = leaf_modules(model)
    if layers is None:
        return [(n, m) for n, m in leaves if type(m).__name__ not in _SKIPPED]
    wanted = list(layers)
    names = {n for n, _ in model.named_modules()}
    for w in wanted:
        if isinstance(w, str) and w not in names:
            raise ValueError(f"ActivationMonitor: no layer named {w!r}; layers: "
                             f"{sorted(n for n in names if n)}")
    types = tuple(w for w in wanted if isinstance(w, type))
    chosen = [(n, m) for n, m in model.named_modules() if n in wanted
              or (types and isinstance(m, types))]
    return [(n or type(m).__name__, m) for n, m in chosen]
