"""Nadam (Dozat 2016): Adam with Nesterov momentum, PyTorch's momentum-decay schedule."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_betas, without_fused
from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class Nadam(Optimizer):
    """Nadam with PyTorch's update rule. Dozat, "Incorporating Nesterov momentum into
    Adam", ICLR 2016 workshop.

    For each parameter p with gradient g, at step t = 1, 2, ... (m, v start at zero,
    the product P of the mu's at 1):
        g <- g + weight_decay * p         (or p <- p * (1 - lr * weight_decay) when
                                           decoupled_weight_decay, as AdamW)
        mu_t = beta1 * (1 - 0.5 * 0.96 ^ (t * momentum_decay)),  P <- P * mu_t
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P) * g / d
               - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    No fused Numba kernel: fused=None/False run the numpy rule (``opt.fused`` is
    False), fused=True raises ValueError.
    Defaults as PyTorch: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3. Raises ValueError for betas outside [0, 1) and for
    negative/NaN lr, eps, weight_decay or momentum_decay.
    """

    _name = "Nadam"

    def __init__(self, params: Any, lr: float | Schedule = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, clipvalue: float | None = None,
                 clipnorm: float | None = None, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm),
                         without_fused("Nadam", fused))

    def _check_group(self, group: dict[str, Any]) -> None:
        group["betas"] = check_betas(self._name, group["betas"])
        for key in ("eps", "momentum_decay"):
            group[key] = check_number(self._name, key, group[key])
        group["decoupled_weight_decay"] = bool(group["decoupled_weight_decay"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        wd = group["weight_decay"]
        if group["decoupled_weight_decay"]:
            p *= 1.0 - lr * wd
        else:
            g = coupled_decay(p, g, wd, scratch)
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(p),
                         exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        t, (beta1, beta2), psi = state["step"], group["betas"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - beta1, out=tmp)
        v *= beta2
        v += np.multiply(np.multiply(g, g, out=tmp), 1.0 - beta2, out=tmp)
        denom = np.sqrt(np.divide(v, 1.0 - beta2 ** t, out=tmp), out=tmp)
        denom += group["eps"]
        # two separate scaled quotients (not one fused sum) to round as PyTorch does
        p -= np.divide(g, denom) * (lr * (1.0 - mu) / (1.0 - product))
        p -= np.divide(m, denom) * (lr * mu_next / (1.0 - product * mu_next))
