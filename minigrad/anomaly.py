"""The checks of detect_anomaly: every op's output in forward and every gradient in
backward must be finite; the first that is not raises AnomalyError naming the op,
with min/max/NaN/Inf counts of what it saw."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class AnomalyError(FloatingPointError):
    """An op produced NaN/Inf under detect_anomaly(); the message names it."""


def _stats(a: Any) -> str:
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.size == 0:
        return f"{a.dtype}{a.shape}"
    finite = a[np.isfinite(a)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
    return (f"{a.dtype}{a.shape} min {lo:.4g} max {hi:.4g} nan {int(np.isnan(a).sum())} "
            f"inf {int(np.isinf(a).sum())}")


def check_forward(op: str, args: Sequence[Any], out: np.ndarray) -> None:
    """Raise AnomalyError when op's output out is not finite (args: its inputs)."""
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        inputs = "; ".join(_stats(a) for a in args if isinstance(a, np.ndarray))
        raise AnomalyError(f"detect_anomaly: {op} produced non-finite values in forward "
                           f"({_stats(out)}); its inputs: {inputs}")


def check_backward(fn: Any, dy: np.ndarray, grads: tuple) -> None:
    """Raise AnomalyError when a gradient tape entry fn sent is not finite."""
    for i, g in enumerate(grads):
        if g is not None and not np.isfinite(g).all():
            raise AnomalyError(
                f"detect_anomaly: {type(fn).__name__}.backward (tape entry #{fn.seq}) "
                f"returned non-finite values in the gradient of input {i} ({_stats(g)}); "
                f"incoming gradient: {_stats(dy)}")
