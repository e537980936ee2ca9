"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates"; fastai's lr_find):
train with an exponentially growing lr, record the smoothed loss, suggest an lr."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from ..random import get_rng
from ._common import as_array, inputs, loss_fn, make_optimizer


class LRFinderResult:
    """lrs, losses (smoothed, bias-corrected), raw_losses, suggested_lr (a decade below
    the lr of the lowest smoothed loss), min_loss_lr, steepest_lr (where the smoothed
    loss falls fastest); unpacks as ``lrs, losses, suggested_lr = lr_finder(...)``;
    ``plot(path)`` draws the curve."""

    def __init__(self, lrs: list[float], losses: list[float], raw: list[float],
                 stopped_early: bool):
        self.lrs, self.losses, self.raw_losses = lrs, losses, raw
        self.stopped_early = stopped_early
        self.min_loss_lr = float(lrs[int(np.argmin(_finite(losses)))])
        self.suggested_lr = self.min_loss_lr / 10
        self.steepest_lr = steepest(lrs, losses)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.lrs, self.losses, self.suggested_lr))

    def __repr__(self) -> str:
        return (f"LRFinderResult({len(self.lrs)} steps, lr {self.lrs[0]:.1e}..."
                f"{self.lrs[-1]:.1e}, suggested_lr={self.suggested_lr:.2e}"
                f"{', stopped on divergence' if self.stopped_early else ''})")

    def plot(self, path: Any) -> Any:
        """Smoothed loss against lr (log axis), the suggestion marked. Returns path."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.raw_losses, color="#cccccc", lw=0.8, label="raw loss")
        ax.plot(self.lrs, self.losses, color="#1f77b4", label="smoothed loss")
        ax.axvline(self.suggested_lr, color="#d62728", ls="--",
                   label=f"suggested lr {self.suggested_lr:.1e} (min / 10)")
        ax.axvline(self.steepest_lr, color="#2ca02c", ls=":",
                   label=f"steepest descent {self.steepest_lr:.1e}")
        ax.set_xscale("log")
        finite = [v for v in self.losses if math.isfinite(v)]
        if finite:  # the divergence at the end would squash the interesting part
            low, first = min(finite), finite[0]
            ax.set_ylim(low - 0.1 * abs(first - low + 1e-12), first + 0.5 * abs(first - low))
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def lr_finder(model: Any, x: Any, y: Any, loss: str | Callable, optimizer: Any, *,
              start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 200,
              smooth: float = 0.98, batch_size: int = 32, diverge: float = 4.0,
              rng: np.random.Generator | None = None) -> LRFinderResult:
    """Learning-rate range test: one optimizer step per mini-batch while the lr grows
    geometrically from start_lr to end_lr over ``steps`` steps.

    x: (N, ...) inputs, y: (N, ...) targets (arrays or Tensors), or x a DataLoader
    yielding (xb, yb) and y None (passed over again as often as needed); loss: a callable
    ``(outputs, targets) -> scalar Tensor`` or a name as in fit. optimizer: an
    optimizer (its lr is overwritten each step) or a factory ``(params, lr)``.
    The loss is smoothed with an exponential moving average (``smooth``, bias
    corrected); the test stops when it exceeds ``diverge`` x its minimum.

    suggested_lr is one decade below the lr of the lowest smoothed loss (Smith's rule
    of thumb). The moving average lags the raw loss by about 1/(1 - smooth) steps, and
    the loss also falls because the model trains during the test, so the steepest
    point of the curve (``steepest_lr``, fastai's older default) tends to sit one or
    two decades too low (docs/experiments/batch_lr.md compares both with a grid).
    The model's weights, buffers and modes, and the optimizer's state and lr, are
    restored afterwards, so training can start from the same point.
    Raises ValueError for bad ranges or mismatched x/y.
    """
    who = "lr_finder"
    if not 0 < start_lr < end_lr:
        raise ValueError(f"{who}: need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    if steps < 5 or not 0 <= smooth < 1 or diverge <= 1:
        raise ValueError(f"{who}: need steps >= 5, 0 <= smooth < 1, diverge > 1; got "
                         f"steps={steps}, smooth={smooth}, diverge={diverge}")
    batches = _batches(who, x, y, batch_size, get_rng(rng))
    criterion = loss_fn(who, loss)
    weights = model.state_dict()
    opt = make_optimizer(who, optimizer, model, start_lr)
    opt_state, opt_lr = (opt.state_dict(), opt.lr) if opt is optimizer else (None, None)
    factor = (end_lr / start_lr) ** (1.0 / (steps - 1))
    lrs, raw, smoothed, avg, best, stopped = [], [], [], 0.0, math.inf, False
    with model.mode(training=True):
        try:
            for i in range(steps):
                xb, yb = next(batches)
                lr = start_lr * factor ** i
                opt.lr = lr
                opt.zero_grad()
                value = criterion(model(inputs(xb)), yb)
                value.backward()
                opt.step()
                v = float(value.item())
                avg = smooth * avg + (1 - smooth) * v
                s = avg / (1 - smooth ** (i + 1))
                lrs.append(lr), raw.append(v), smoothed.append(s)
                if not math.isfinite(s) or (i > 0 and s > diverge * best):
                    stopped = True
                    break
                best = min(best, s)
        finally:
            model.load_state_dict(weights)
            model.zero_grad()
            if opt_state is not None:
                opt.load_state_dict(opt_state)
                opt.lr = opt_lr
    return LRFinderResult(lrs, smoothed, raw, stopped)


def _batches(who: str, x: Any, y: Any, batch_size: int,
             gen: np.random.Generator) -> Iterator[tuple[np.ndarray, Any]]:
    """Endless mini-batches: from a DataLoader (y None), passing over it again when it
    ends, or from arrays, reshuffled at each pass."""
    if y is None:
        if not hasattr(x, "__iter__") or isinstance(x, np.ndarray):
            raise ValueError(f"{who}: y is needed unless x is a DataLoader")
        return _cycle_loader(who, x)
    xs, ys = as_array(who, "x", x), as_array(who, "y", y)
    if len(xs) != len(ys):
        raise ValueError(f"{who}: x has {len(xs)} samples but y has {len(ys)}")

    def arrays() -> Iterator[tuple[np.ndarray, Any]]:
        while True:
            order = gen.permutation(len(xs))
            # full batches only: a last batch of one sample would break batch norm
            for start in range(0, max(len(xs) - batch_size, 0) + 1, batch_size):
                idx = order[start:start + batch_size]
                yield xs[idx], ys[idx]
    return arrays()


def _cycle_loader(who: str, loader: Any) -> Iterator[tuple[np.ndarray, Any]]:
    while True:
        empty = True
        for xb, yb in loader:
            empty = False
            yield np.asarray(getattr(xb, "data", xb)), getattr(yb, "data", yb)
        if empty:
            raise ValueError(f"{who}: the DataLoader yielded no batch")


def _finite(values: list[float]) -> np.ndarray:
    vals = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(vals), vals, np.inf)


def steepest(lrs: list[float], losses: list[float]) -> float:
    """The lr of steepest descent of the loss against log(lr), before the minimum
    (min-loss lr / 10 when the curve falls too briefly to tell)."""
    vals = _finite(losses)
    low = int(np.argmin(vals))
    skip = max(1, len(vals) // 10)  # the first points only reflect the EMA warming up
    if low - skip < 3:
        return float(lrs[low] / 10)
    seg = vals[skip:low + 1]
    slope = np.gradient(seg, np.log(np.asarray(lrs[skip:low + 1])))
    return float(lrs[skip + int(np.argmin(slope))])
