"""The self-normalizing conditions of a SELU network (Klambauer et al. 2017), checked
on the model's structure and weights, before training."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

__all__ = ["SelfNormalizingWarning", "check_self_normalizing"]


class SelfNormalizingWarning(UserWarning):
    """A SELU network breaks a condition under which its activations stay normalized."""


def _uses_selu(m: Any) -> bool:
    act = getattr(m, "activation", None)  # Linear/Conv2d(activation="selu")
    return type(m).__name__ == "SELU" or (isinstance(act, str) and act.lower() == "selu") \
        or type(act).__name__ == "SELU"


def _is_container(m: Any) -> bool:
    return bool(list(m.children()))


def _init_problem(name: str, w: np.ndarray) -> str | None:
    """Why w does not look LeCun-normal (mean 0, variance 1 / fan_in, normal shape),
    or None. Tolerances grow as the sample shrinks (about 4 standard errors)."""
    fan_in = int(np.prod(w.shape[1:]))
    n = w.size
    var = float(np.var(w, dtype=np.float64)) * fan_in
    tol = 0.05 + 4 * math.sqrt(2.0 / n)
    if abs(var - 1.0) > tol:
        return (f"{name}: weight variance is {var:.3g} / fan_in (fan_in={fan_in}), "
                f"LeCun-normal has 1 / fan_in (init.lecun_normal)")
    if n >= 1000:  # the shape test needs enough draws
        z = (w - w.mean()) / max(float(w.std()), 1e-30)
        kurtosis = float(np.mean(z.astype(np.float64) ** 4))
        if kurtosis < 2.1:  # uniform: 1.8; normal: 3; Keras's truncated normal: 2.36
            return (f"{name}: weights look uniform (kurtosis {kurtosis:.2f}), SELU wants "
                    f"LeCun-normal (init.lecun_normal)")
    return None


def check_self_normalizing(model: Any, warn: bool = True) -> list[str]:
    """The broken self-normalizing conditions of a model that uses SELU, as messages
    (each also warned as a SelfNormalizingWarning when ``warn``); [] when the model
    has no SELU or meets them all. Checked, before training:
      - every Linear/Conv2d weight LeCun-normal: mean 0, variance 1 / fan_in, a normal
        (not uniform) shape;
      - no BatchNorm and no regular Dropout (AlphaDropout is the one that fits);
      - a plain stack: every container is a Sequential (a custom forward may add skip
        connections or branches, which the fixed-point argument does not cover).
    The inputs must also be standardized (mean 0, variance 1): not checked here.
    """
    modules = list(model.named_modules())
    if not any(_uses_selu(m) for _, m in modules):
        return []
    problems = []
    for name, m in modules:
        kind = type(m).__name__
        label = name or kind
        if kind.startswith("BatchNorm"):
            problems.append(f"{label}: {kind} in a SELU network (SELU normalizes by "
                            "itself; remove it)")
        elif kind == "Dropout":
            problems.append(f"{label}: Dropout in a SELU network shifts the mean and "
                            "variance; use AlphaDropout")
        elif _is_container(m) and kind != "Sequential":
            problems.append(f"{label}: {kind} is not a Sequential; self-normalization "
                            "holds for a plain stack of layers (no skip connections)")
        weight = getattr(m, "weight", None)
        if kind in ("Linear", "Conv2d") and weight is not None:
            problem = _init_problem(label, np.asarray(weight.data))
            if problem:
                problems.append(problem)
    if warn:
        for p in problems:
            warnings.warn(p, SelfNormalizingWarning, stacklevel=2)
    return problems
