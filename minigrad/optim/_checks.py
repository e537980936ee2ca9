"""Argument checks of the optimizers: parameter lists and groups, learning rates
and schedules, hyperparameter ranges, and the values of a loaded state dict. Each
error names the optimizer and echoes the value received."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor

Schedule = Callable[[int], float]


def _as_groups(name: str, params: Any) -> list[dict[str, Any]]:
    if isinstance(params, Tensor):
        raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, "
                        "got a single Tensor; pass [tensor]")
    if isinstance(params, dict):
        raise TypeError(f"{name}: params must be an iterable, got a dict; pass [dict] "
                        "for one parameter group")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, got "
                        f"{type(params).__name__}") from None
    if not items:
        raise ValueError(f"{name}: got an empty parameter list")
    if all(isinstance(x, dict) for x in items):
        for j, g in enumerate(items):
            if "params" not in g:
                raise ValueError(f"{name}: parameter group {j} has no 'params' key")
        return [dict(g) for g in items]
    if any(isinstance(x, dict) for x in items):
        raise TypeError(f"{name}: params mixes dicts (parameter groups) and Tensors")
    return [{"params": items}]


def _check_param(name: str, p: Any, seen: dict[int, int], index: int) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(f"{name}: parameter {index} is a {type(p).__name__}, expected a "
                        "minigrad Tensor")
    if p.data.dtype.kind != "f":
        raise TypeError(f"{name}: parameter {index} has dtype {p.data.dtype}; only "
                        "float tensors can be optimized")
    if id(p) in seen:
        raise ValueError(f"{name}: a parameter appears twice (at positions "
                         f"{seen[id(p)]} and {index}, shape {p.shape})")
    seen[id(p)] = index


def _check_lr(where: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating,
                                                          np.integer)):
        raise ValueError(f"{where}: lr must be a number or a schedule, got {value!r}")
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise ValueError(f"{where}: lr must be a finite number >= 0, got {value!r}")


def _checked_lr(name: str, value: Any) -> float | Schedule:
    if callable(value):
        return value
    _check_lr(name, value)
    return float(value)


def check_number(name: str, key: str, value: Any, low: float = 0.0,
                 high: float | None = None, high_open: bool = False) -> float:
    """value as a float, or ValueError echoing it unless it is finite and
    low <= value (< or <=) high."""
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.number))
    if not bad:
        value = float(value)
        bad = (not math.isfinite(value) or value < low or
               (high is not None and (value >= high if high_open else value > high)))
    if bad:
        top = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{name}: {key} must be a finite number >= {low:g}{top}, "
                         f"got {value!r}")
    return value


def _check_common(name: str, group: dict[str, Any]) -> None:
    """Check the options every built-in optimizer has; a subclass written the PyTorch
    way (``super().__init__(params, dict(lr=lr, rho=rho))``) may lack some of them."""
    if "lr" in group:
        group["lr"] = _checked_lr(name, group["lr"])
    if "weight_decay" in group:
        group["weight_decay"] = check_number(name, "weight_decay", group["weight_decay"])
    for key in ("clipvalue", "clipnorm"):
        v = group.get(key)
        if v is not None:
            v = check_number(name, key, v)
            if v == 0 or math.isinf(v):
                raise ValueError(f"{name}: {key} must be a finite number > 0 (or None), "
                                 f"got {group[key]!r}")
            group[key] = v
    if group.get("clipvalue") is not None and group.get("clipnorm") is not None:
        raise ValueError(f"{name}: set only one of clipvalue and clipnorm (as Keras), got "
                         f"clipvalue={group['clipvalue']!r}, clipnorm={group['clipnorm']!r}")


def _loaded_value(name: str, i: int, key: str, value: Any, p: Tensor) -> Any:
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.shape != p.data.shape:
            raise ValueError(f"{name}: state '{key}' of parameter {i} has shape "
                             f"{value.shape}, the parameter has {p.data.shape}")
        return np.array(value, dtype=p.data.dtype, copy=True)
    if isinstance(value, np.ndarray):
        return value.item()
    return value


def without_fused(name: str, fused: bool | None) -> bool:
    """False, for an optimizer without a fused kernel (fused=None or False: the numpy
    rule runs); ValueError for fused=True."""
    if fused:
        raise ValueError(f"{name}: has no fused kernel; pass fused=None or False")
    return False


def check_betas(name: str, betas: Any) -> tuple[float, float]:
    """(beta1, beta2), each in [0, 1); ValueError echoing the value otherwise."""
    if isinstance(betas, np.ndarray):  # a state dict that went through a file
        betas = betas.tolist()
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    return tuple(check_number(name, f"betas[{i}]", b, 0.0, 1.0, high_open=True)
                 for i, b in enumerate(betas))
