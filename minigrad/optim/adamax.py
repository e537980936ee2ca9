"""Adamax (Kingma & Ba 2015, section 7): Adam with the infinity norm."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_betas, without_fused
from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class Adamax(Optimizer):
    """Adamax with PyTorch's update rule. Kingma & Ba, "Adam: A method for stochastic
    optimization", ICLR 2015, section 7.1.

    For each parameter p with gradient g, at step t = 1, 2, ... (m, u start at zero):
        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    No fused Numba kernel: fused=None/False run the numpy rule (``opt.fused`` is
    False), fused=True raises ValueError.
    Defaults as PyTorch: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.
    Raises ValueError for betas outside [0, 1) and for negative/NaN lr, eps or
    weight_decay.
    """

    _name = "Adamax"

    def __init__(self, params: Any, lr: float | Schedule = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, clipvalue: float | None = None,
                 clipnorm: float | None = None, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm),
                         without_fused("Adamax", fused))

    def _check_group(self, group: dict[str, Any]) -> None:
        group["betas"] = check_betas(self._name, group["betas"])
        group["eps"] = check_number(self._name, "eps", group["eps"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        g = coupled_decay(p, g, group["weight_decay"], scratch)
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_inf=np.zeros_like(p))
        state["step"] += 1
        t, (beta1, beta2) = state["step"], group["betas"]
        m, u = state["exp_avg"], state["exp_inf"]
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - beta1, out=tmp)
        u *= beta2
        bound = np.abs(g, out=tmp)
        bound += group["eps"]
        np.maximum(u, bound, out=u)
        update = np.divide(m, u, out=tmp)
        update *= lr / (1.0 - beta1 ** t)
        p -= update
