"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class SGD(Optimizer):
    """SGD with PyTorch's update rule (Sutskever et al. 2013, "On the importance of
    initialization and momentum in deep learning", for the momentum form).

    For each parameter p with gradient g, at learning rate lr:
        g <- g + weight_decay * p
        b <- g                                  (first step; b is the momentum buffer)
        b <- momentum * b + (1 - dampening) * g (later steps)
        d <- g + momentum * b   if nesterov, else b     (d = g when momentum == 0)
        p <- p - lr * d

    params: iterable of Tensors or parameter-group dicts. lr: float >= 0 or a schedule
    (callable step -> lr). clipvalue / clipnorm: Keras-style per-tensor clipping of the
    raw gradient. fused: None/True/False, the one-pass Numba kernel (see Optimizer).
    Raises ValueError for negative/NaN hyperparameters and for nesterov without
    momentum or with dampening.
    """

    _name = "SGD"

    def __init__(self, params: Any, lr: float | Schedule = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 clipvalue: float | None = None, clipnorm: float | None = None,
                 fused: bool | None = None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      clipvalue=clipvalue, clipnorm=clipnorm), fused)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["momentum"] = check_number("SGD", "momentum", group["momentum"])
        group["dampening"] = check_number("SGD", "dampening", group["dampening"])
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov requires momentum > 0 and dampening 0, got "
                             f"momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r}")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        g = coupled_decay(p, g, group["weight_decay"], scratch)
        momentum, d = group["momentum"], g
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum
                damped = g if group["dampening"] == 0 else np.multiply(
                    g, 1.0 - group["dampening"], out=tmp)
                buf += damped
            if group["nesterov"]:
                d = np.multiply(buf, momentum, out=tmp)
                d += g
            else:
                d = buf
        p -= np.multiply(d, lr, out=tmp)

    def _fused_update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], lr: float) -> bool:
        momentum, wd = group["momentum"], group["weight_decay"]
        buf = state.get("momentum_buffer") if momentum != 0 else None
        found = self._flat(i, p, buf)
        if found is None:
            return False
        order, (fp, fbuf) = found
        fg = g.ravel(order)  # g is laid out like p (Optimizer.step)
        k = self._kernels
        h = self._scalars(group, p, 0, lambda: (lr, wd, momentum, 1.0 - group["dampening"]))
        if momentum == 0:
            k.sgd_step(fp, fg, h, wd != 0)
            return True
        first = buf is None
        if first:  # the kernel writes buf <- g; zeros only so that nothing is undefined
            buf = state["momentum_buffer"] = np.zeros_like(p)
            fbuf = self._flat(i, p, buf)[1][1]
        k.sgd_momentum_step(fp, fg, fbuf, h, wd != 0, group["nesterov"], first)
        return True

