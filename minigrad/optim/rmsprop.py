"""RMSprop (Hinton, Lecture 6e of "Neural Networks for Machine Learning", 2012)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update rule; the centered form is Graves 2013,
    "Generating sequences with recurrent neural networks", eq. 38-45.

    For each parameter p with gradient g (v, a, b start at zero):
        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g^2
        a <- a + (1 - alpha) * (g - a)            (centered only: running mean of g)
        s <- sqrt(v - a^2) + eps   if centered, else sqrt(v) + eps
        b <- momentum * b + g / s;  p <- p - lr * b    if momentum > 0
        p <- p - lr * g / s                            otherwise

    Defaults as PyTorch: lr=1e-2, alpha=0.99, eps=1e-8. fused: None/True/False, the
    one-pass Numba kernel (see Optimizer). Raises ValueError for negative/NaN
    hyperparameters and alpha outside [0, 1].
    """

    _name = "RMSprop"

    def __init__(self, params: Any, lr: float | Schedule = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, momentum: float = 0.0, centered: bool = False,
                 weight_decay: float = 0.0, clipvalue: float | None = None,
                 clipnorm: float | None = None, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                      centered=centered, weight_decay=weight_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm), fused)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["alpha"] = check_number("RMSprop", "alpha", group["alpha"], 0.0, 1.0)
        group["eps"] = check_number("RMSprop", "eps", group["eps"])
        group["momentum"] = check_number("RMSprop", "momentum", group["momentum"])
        group["centered"] = bool(group["centered"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        g = coupled_decay(p, g, group["weight_decay"], scratch)
        if not state:
            state["step"], state["square_avg"] = 0, np.zeros_like(p)
        state["step"] += 1
        alpha, v = group["alpha"], state["square_avg"]
        v *= alpha
        v += np.multiply(np.multiply(g, g, out=tmp), 1.0 - alpha, out=tmp)
        if group["centered"]:
            a = _buffer(state, "grad_avg", p)
            a += np.multiply(np.subtract(g, a, out=tmp), 1.0 - alpha, out=tmp)
            np.multiply(a, a, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += group["eps"]
        if group["momentum"] > 0:
            b = _buffer(state, "momentum_buffer", p)
            b *= group["momentum"]
            b += np.divide(g, tmp, out=tmp)
            p -= np.multiply(b, lr, out=tmp)
        else:
            np.divide(g, tmp, out=tmp)
            p -= np.multiply(tmp, lr, out=tmp)

    def _fused_update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], lr: float) -> bool:
        centered, use_momentum = group["centered"], group["momentum"] > 0
        if not state:  # as _update would create it
            state["step"], state["square_avg"] = 0, np.zeros_like(p)
        v = state["square_avg"]
        # an option that is off gets v as its (never touched) array
        a = _buffer(state, "grad_avg", p) if centered else v
        b = _buffer(state, "momentum_buffer", p) if use_momentum else v
        found = self._flat(i, p, v, a, b)
        if found is None:
            return False
        order, (fp, fv, fa, fb) = found
        state["step"] += 1
        wd, alpha = group["weight_decay"], group["alpha"]
        h = self._scalars(group, p, 0, lambda: (lr, wd, alpha, 1.0 - alpha, group["eps"],
                                                group["momentum"]))
        self._kernels.rmsprop_step(fp, g.ravel(order), fv, fa, fb, h, wd != 0, centered,
                                   use_momentum)
        return True


def _buffer(state: dict[str, Any], key: str, p: np.ndarray) -> np.ndarray:
    """state[key], created as zeros at first use (an option may be switched on later)."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = np.zeros_like(p)
    return buf
