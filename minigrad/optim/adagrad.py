"""Adagrad (Duchi, Hazan & Singer 2011)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class Adagrad(Optimizer):
    """Adagrad with PyTorch's update rule. Duchi, Hazan & Singer, "Adaptive
    subgradient methods for online learning and stochastic optimization", JMLR 2011.

    For each parameter p with gradient g, at step t = 1, 2, ... (s starts at
    initial_accumulator_value):
        g <- g + weight_decay * p
        s <- s + g^2
        p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Defaults as PyTorch: lr=1e-2, eps=1e-10, initial_accumulator_value=0,
    lr_decay=0. fused: None/True/False, the one-pass Numba kernel (see Optimizer).
    Raises ValueError for negative/NaN hyperparameters.
    """

    _name = "Adagrad"

    def __init__(self, params: Any, lr: float | Schedule = 1e-2, eps: float = 1e-10,
                 initial_accumulator_value: float = 0.0, weight_decay: float = 0.0,
                 lr_decay: float = 0.0, clipvalue: float | None = None,
                 clipnorm: float | None = None, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, eps=eps,
                                      initial_accumulator_value=initial_accumulator_value,
                                      weight_decay=weight_decay, lr_decay=lr_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm), fused)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("eps", "initial_accumulator_value", "lr_decay"):
            group[key] = check_number("Adagrad", key, group[key])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        g = coupled_decay(p, g, group["weight_decay"], scratch)
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        clr = lr / (1.0 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += np.multiply(g, g, out=tmp)
        std = np.sqrt(s, out=tmp)
        std += group["eps"]
        update = np.divide(g, std, out=tmp)
        update *= clr
        p -= update

    def _fused_update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], lr: float) -> bool:
        if not state:  # as _update would create it
            state["step"] = 0
            state["sum"] = np.full_like(p, group["initial_accumulator_value"])
        found = self._flat(i, p, state["sum"])
        if found is None:
            return False
        order, (fp, fs) = found
        state["step"] += 1
        t, wd = state["step"], group["weight_decay"]
        h = self._scalars(group, p, t, lambda: (lr / (1.0 + (t - 1) * group["lr_decay"]), wd,
                                                group["eps"]))
        self._kernels.adagrad_step(fp, g.ravel(order), fs, h, wd != 0)
        return True

