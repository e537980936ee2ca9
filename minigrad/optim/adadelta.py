"""Adadelta (Zeiler 2012)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import without_fused
from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class Adadelta(Optimizer):
    """Adadelta with PyTorch's update rule. Zeiler, "ADADELTA: An adaptive learning
    rate method", arXiv:1212.5701, 2012.

    For each parameter p with gradient g (s and a start at zero):
        g <- g + weight_decay * p
        s <- rho * s + (1 - rho) * g^2
        d = sqrt(a + eps) / sqrt(s + eps) * g
        a <- rho * a + (1 - rho) * d^2
        p <- p - lr * d

    No fused Numba kernel: fused=None/False run the numpy rule (``opt.fused`` is
    False), fused=True raises ValueError.
    Defaults as PyTorch: lr=1.0, rho=0.9, eps=1e-6, weight_decay=0. Raises
    ValueError for rho outside [0, 1] and for negative/NaN lr, eps or weight_decay.
    """

    _name = "Adadelta"

    def __init__(self, params: Any, lr: float | Schedule = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0,
                 clipvalue: float | None = None, clipnorm: float | None = None,
                 fused: bool | None = None):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm),
                         without_fused("Adadelta", fused))

    def _check_group(self, group: dict[str, Any]) -> None:
        group["rho"] = check_number(self._name, "rho", group["rho"], 0.0, 1.0)
        group["eps"] = check_number(self._name, "eps", group["eps"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        g = coupled_decay(p, g, group["weight_decay"], scratch)
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p), acc_delta=np.zeros_like(p))
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        s, a = state["square_avg"], state["acc_delta"]
        s *= rho
        s += np.multiply(np.multiply(g, g, out=tmp), 1.0 - rho, out=tmp)
        delta = np.sqrt(np.add(a, eps, out=tmp), out=tmp)
        delta /= np.sqrt(s + eps)
        delta *= g
        a *= rho
        a += np.multiply(delta, delta) * (1.0 - rho)
        delta *= lr
        p -= delta
