"""Gradient clipping over several parameters at once (PyTorch's clip_grad_norm_ and
clip_grad_value_). The per-tensor Keras form is the optimizers' clipnorm/clipvalue."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor


def _grads(name: str, params: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    if isinstance(params, Tensor):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{name}: params must be a Tensor or an iterable of Tensors, got "
                        f"{type(params).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a "
                            "minigrad Tensor")
    return [p.grad.data for p in params if p.grad is not None]


def _norm(g: np.ndarray, norm_type: float) -> float:
    """The norm of one gradient, accumulated in float64 (a float32 sum of squares
    overflows for entries ~1e19)."""
    flat = g.ravel()
    if norm_type == math.inf:
        return float(np.max(np.abs(flat))) if flat.size else 0.0
    if norm_type == 2.0:
        return math.sqrt(float(np.einsum("i,i->", flat, flat, dtype=np.float64)))
    if norm_type == 1.0:
        return float(np.sum(np.abs(flat), dtype=np.float64))
    return float(np.sum(np.abs(flat).astype(np.float64) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(params: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Rescale all gradients together so that their global norm is at most max_norm.

    total = || (||g_1||, ..., ||g_n||) ||_p over every parameter that has a gradient
    (p = norm_type; inf for the max-abs norm), then each g_i <- g_i * c with
    c = min(max_norm / (total + 1e-6), 1), in place (PyTorch's rule).

    Returns total, the norm *before* clipping, as a float (0.0 when no parameter
    has a gradient). Non-finite gradients: total is inf or nan. Then the gradients
    are left untouched (PyTorch would scale them by nan or 0, destroying where the
    problem is) and the caller should skip the step, e.g.
    ``if math.isfinite(clip_grad_norm_(ps, 1.0)): opt.step()``; with
    error_if_nonfinite=True a RuntimeError is raised instead.
    Raises ValueError for a negative/NaN max_norm or a norm_type <= 0.
    """
    name = "clip_grad_norm_"
    max_norm = _positive(name, "max_norm", max_norm, zero_ok=True, inf_ok=True)
    norm_type = _positive(name, "norm_type", norm_type, inf_ok=True)
    grads = _grads(name, params)
    if not grads:
        return 0.0
    norms = np.array([_norm(g, norm_type) for g in grads])
    total = float(norms.max() if norm_type == math.inf else _norm(norms, norm_type))
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise RuntimeError(f"{name}: the total norm of order {norm_type} of the "
                               f"gradients is {total}; set error_if_nonfinite=False to "
                               "get it returned instead")
        return total
    coef = min(max_norm / (total + 1e-6), 1.0)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(params: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient elementwise to [-clip_value, clip_value], in place.
    NaN entries stay NaN (so they remain visible). Raises ValueError for a clip_value
    that is negative or NaN."""
    clip_value = _positive("clip_grad_value_", "clip_value", clip_value, zero_ok=True)
    for g in _grads("clip_grad_value_", params):
        np.clip(g, -clip_value, clip_value, out=g)


def _positive(name: str, key: str, value: Any, zero_ok: bool = False,
              inf_ok: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.number))
    if ok:
        v = float(value)
        ok = (v > 0 or (zero_ok and v == 0)) and (inf_ok or not math.isinf(v))
    if not ok:
        what = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name}: {key} must be a number {what}, got {value!r}")
    return float(value)
