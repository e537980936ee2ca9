"""Adam (Kingma & Ba 2015), its AMSGrad variant (Reddi et al. 2018) and AdamW
(Loshchilov & Hutter 2019, decoupled weight decay)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._checks import check_betas
from .optimizer import Optimizer, Schedule, check_number, coupled_decay


class Adam(Optimizer):
    """Adam with PyTorch's update rule. Kingma & Ba, "Adam: A method for stochastic
    optimization", ICLR 2015; amsgrad: Reddi, Kale & Kumar, "On the convergence of
    Adam and beyond", ICLR 2018.

    For each parameter p with gradient g, at step t = 1, 2, ... (m, v start at zero):
        g <- g + weight_decay * p                    (Adam: L2 penalty in the gradient)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                        (amsgrad; v_max replaces v below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8. fused: None/True/
    False, the one-pass Numba kernel (see Optimizer); on the C backend one call of
    the C kernel over all parameters instead (multi_tensor.py). Raises ValueError
    for betas outside [0, 1), negative/NaN lr, eps or weight_decay.
    """

    _name = "Adam"
    _decoupled = False

    def __init__(self, params: Any, lr: float | Schedule = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 clipvalue: float | None = None, clipnorm: float | None = None,
                 fused: bool | None = None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      clipvalue=clipvalue, clipnorm=clipnorm), fused)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["betas"] = check_betas(self._name, group["betas"])
        group["eps"] = check_number(self._name, "eps", group["eps"])
        group["amsgrad"] = bool(group["amsgrad"])

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        tmp = scratch[1]  # scratch[0] may hold g
        wd = group["weight_decay"]
        if self._decoupled:
            if wd != 0:
                p *= 1.0 - lr * wd
        else:
            g = coupled_decay(p, g, wd, scratch)
        if not state:
            state["step"] = 0
            state["exp_avg"], state["exp_avg_sq"] = np.zeros_like(p), np.zeros_like(p)
        state["step"] += 1
        t, (beta1, beta2) = state["step"], group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += np.multiply(np.subtract(g, m, out=tmp), 1.0 - beta1, out=tmp)
        v *= beta2
        v += np.multiply(np.multiply(g, g, out=tmp), 1.0 - beta2, out=tmp)
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = np.zeros_like(p)
            v = np.maximum(v_max, v, out=v_max)
        # the bias corrections are folded into two scalars, as PyTorch does, so that
        # the array work is sqrt, divide, add, divide, multiply, subtract
        step_size = lr / (1.0 - beta1 ** t)
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1.0 - beta2 ** t)
        denom += group["eps"]
        update = np.divide(m, denom, out=tmp)
        update *= step_size
        p -= update

    def _fused_update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], lr: float) -> bool:
        amsgrad = group["amsgrad"]
        if not state:  # as _update would create it
            state["step"] = 0
            state["exp_avg"], state["exp_avg_sq"] = np.zeros_like(p), np.zeros_like(p)
        if amsgrad and state.get("max_exp_avg_sq") is None:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        vmax = state["max_exp_avg_sq"] if amsgrad else v  # v: never touched then
        found = self._flat(i, p, m, v, vmax)
        if found is None:
            return False
        order, (fp, fm, fv, fvmax) = found
        state["step"] += 1
        t, (beta1, beta2), wd = state["step"], group["betas"], group["weight_decay"]
        h = self._scalars(group, p, t, lambda: (
            lr / (1.0 - beta1 ** t), math.sqrt(1.0 - beta2 ** t), beta2, 1.0 - beta1,
            1.0 - beta2, group["eps"], wd, 1.0 - lr * wd))
        decay = wd != 0
        flags = (decay and not self._decoupled, decay and self._decoupled, amsgrad)
        if self._batch is not None:  # the C backend: one call for all (multi_tensor.py)
            self._batch.add((id(group), p.dtype.char, t), h, flags,
                            (fp, fm, fv, fvmax if amsgrad else None), g.ravel(order))
        else:
            self._kernels.adam_step(fp, g.ravel(order), fm, fv, fvmax, h, *flags)
        return True


class AdamW(Adam):
    """Adam with decoupled weight decay. Loshchilov & Hutter, "Decoupled weight decay
    regularization", ICLR 2019. PyTorch's rule: before the Adam update (which then
    sees the raw gradient),
        p <- p * (1 - lr * weight_decay)
    Defaults as PyTorch: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2.
    """

    _name = "AdamW"
    _decoupled = True

    def __init__(self, params: Any, lr: float | Schedule = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False,
                 clipvalue: float | None = None, clipnorm: float | None = None,
                 fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, clipvalue=clipvalue, clipnorm=clipnorm,
                         fused=fused)
