"""Losses, as functions (re-exported by mg.nn.functional) and as modules. Logits in,
never probabilities, where a stable form exists: cross-entropy is one fused primitive
(log-sum-exp forward, softmax - target backward). Values and gradients follow PyTorch,
including class weights with mean reduction and label smoothing."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..errors import DTypeError, ShapeError
from ..functions import where
from ..ops.elementwise import stable_sigmoid
from ..tensor import Tensor, as_tensor
from .module import Module

REDUCTIONS = ("mean", "sum", "none")


def _raw(v: Any) -> Any:
    """The array inside a Tensor, anything else as it is."""
    return v.data if isinstance(v, Tensor) else v


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _labels(name: str, targets: Any, n: int, classes: int) -> np.ndarray:
    """Integer class labels as an int64 array of shape (n,), checked against classes."""
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if y.dtype.kind not in "iu":
        raise DTypeError(f"{name}: targets must be integer class labels, got dtype "
                        f"{y.dtype}; convert with .astype(np.int64)")
    if y.shape != (n,):
        raise ShapeError(f"{name}: expected targets of shape ({n},) for logits with {n} "
                         f"rows, got targets{y.shape}")
    if n and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"{name}: target labels must be in [0, {classes}) for logits "
                         f"with {classes} classes, got labels from {y.min()} to {y.max()}")
    return y.astype(np.int64, copy=False)


def _class_weight(name: str, weight: Any, classes: int, dtype: Any) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (classes,):
        raise ShapeError(f"{name}: weight must have shape ({classes},), got {w.shape}")
    return w


class CrossEntropy(Function):
    """Softmax cross-entropy of logits (N, C) against labels (N,), reduced.

    Row i's target distribution is q_i = (1 - s) w[y_i] onehot(y_i) + s/C w (s the
    label smoothing, w the class weights or ones); loss_i = -sum_c q_ic log p_ic.
    reduction "none" returns (N,), "sum" the sum, "mean" the sum / sum_i w[y_i].
    Backward: d loss_i / d z_i = p_i sum(q_i) - q_i, scaled by the reduction. One op
    for the whole loss keeps the per-step overhead of small batches low.
    """

    def forward(self, ctx, z, labels, weight=None, smoothing=0.0, reduction="mean"):
        n, c = z.shape
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        w_y = np.ones(n, dtype=z.dtype) if weight is None else weight[labels]
        loss = -(1.0 - smoothing) * w_y * logp[np.arange(n), labels]
        if smoothing:
            wsum_logp = logp.sum(axis=1) if weight is None else logp @ weight
            loss = loss - (smoothing / c) * wsum_logp
        ctx.save(np.exp(logp, out=logp), labels, weight, w_y)
        ctx.smoothing, ctx.reduction = smoothing, reduction
        if reduction == "none":
            return loss.astype(z.dtype, copy=False)
        total = loss.sum(dtype=np.float64)
        ctx.denom = 1.0 if reduction == "sum" else float(w_y.sum(dtype=np.float64))
        return np.asarray(total / ctx.denom, dtype=z.dtype)

    rule = "dlogits = softmax(logits) - onehot(target), scaled by the reduction"

    def backward(self, ctx, dy):
        p, labels, weight, w_y = ctx.saved
        n, c = p.shape
        s = ctx.smoothing
        w_total = float(c) if weight is None else float(weight.sum())
        q_sum = (1.0 - s) * w_y + (s / c) * w_total
        g = p * q_sum[:, None] if s or weight is not None else p.copy()
        if s:
            g -= (s / c) * (1.0 if weight is None else weight[None, :])
        g[np.arange(n), labels] -= (1.0 - s) * w_y
        scale = dy[:, None] if ctx.reduction == "none" else dy / ctx.denom
        return (g * scale).astype(p.dtype, copy=False), None


def cross_entropy(logits: Any, targets: Any, weight: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against integer labels (N,)
    or (N, d1, ...), an int Tensor or array.

    weight: (C,) class weights; "mean" divides by the summed weights of the targets
    (PyTorch). label_smoothing in [0, 1] mixes the target with the uniform
    distribution. Raises ValueError for labels outside [0, C) or shape mismatches,
    TypeError for non-integer targets.
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    z = as_tensor(logits)
    if z.dtype.kind != "f" or z.ndim < 1:
        raise DTypeError(f"{name}: logits must be a float tensor (N, C), got "
                        f"{z.dtype}{z.shape}")
    if z.ndim == 1:
        z = z.reshape(1, -1)
        targets = np.asarray(_raw(targets)).reshape(1)
    extra = z.shape[2:]
    if extra:  # class axis last, the other axes become rows
        y_shape = np.shape(_raw(targets))
        if y_shape != (z.shape[0],) + extra:
            raise ShapeError(f"{name}: expected targets of shape {(z.shape[0],) + extra} "
                             f"for logits{z.shape}, got targets{y_shape}")
        z = z.permute(0, *range(2, z.ndim), 1).reshape(-1, z.shape[1])
        targets = np.asarray(_raw(targets)).reshape(-1)
    n, c = z.shape
    labels = _labels(name, targets, n, c)
    w = _class_weight(name, weight, c, z.dtype)
    loss = CrossEntropy.apply(z, labels, weight=w, smoothing=float(label_smoothing),
                              reduction=reduction)
    if reduction == "none" and extra:
        return loss.reshape(np.shape(_raw(logits))[:1] + extra)
    return loss


def nll_loss(log_probs: Any, targets: Any, weight: Any = None,
             reduction: str = "mean") -> Tensor:
    """-log_probs[i, y_i] (weighted), for log-probabilities (N, C) such as
    log_softmax's output; "mean" divides by the summed target weights."""
    name = "nll_loss"
    _check_reduction(name, reduction)
    lp = as_tensor(log_probs)
    if lp.ndim != 2:
        raise ShapeError(f"{name}: expects log_probs (N, C), got {lp.shape}")
    labels = _labels(name, targets, *lp.shape)
    w = _class_weight(name, weight, lp.shape[1], lp.dtype)
    picked = -lp[np.arange(lp.shape[0]), labels]
    if w is not None:
        picked = picked * Tensor._wrap(w[labels])
    if reduction == "none":
        return picked
    if reduction == "sum":
        return picked.sum()
    return picked.sum() / (float(len(labels)) if w is None else float(w[labels].sum()))


def _input_and_target(name: str, x: Any, target: Any) -> tuple[Tensor, Tensor]:
    """Input and target as Tensors of one float dtype and the same shape."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"{name}: input must be floating point, got {x.dtype}")
    if isinstance(target, Tensor) and target.dtype == x.dtype:
        t = target
    else:
        t = Tensor._wrap(np.asarray(_raw(target), dtype=x.dtype))
    if t.shape != x.shape:
        raise ShapeError(f"{name}: input and target shapes differ, got input{x.shape} "
                         f"and target{t.shape}")
    return x, t


def _reduce(name: str, loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(name, reduction)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


class BCEWithLogits(Function):
    """Per element w * (pw * y * softplus(-x) + (1 - y) * softplus(x)): the binary
    cross-entropy of sigmoid(x) without ever taking log of a rounded probability."""

    def forward(self, ctx, x, y, weight=None, pos_weight=None):
        sp_pos = np.logaddexp(0, x)    # softplus(x) = -log(1 - sigmoid(x))
        sp_neg = np.logaddexp(0, -x)   # softplus(-x) = -log sigmoid(x)
        pw = 1.0 if pos_weight is None else pos_weight
        w = 1.0 if weight is None else weight
        ctx.save(x, y, sp_pos, sp_neg, pw, w)
        return (w * (pw * y * sp_neg + (1 - y) * sp_pos)).astype(x.dtype, copy=False)

    rule = "dlogits = sigmoid(logits) - target (weighted, scaled by the reduction)"

    def backward(self, ctx, dy):
        x, y, sp_pos, sp_neg, pw, w = ctx.saved
        s = stable_sigmoid(x)
        dx = dy * w * (pw * y * (s - 1) + (1 - y) * s) if ctx.needs_input_grad[0] else None
        dt = dy * w * (pw * sp_neg - sp_pos) if ctx.needs_input_grad[1] else None
        return dx, dt


def binary_cross_entropy_with_logits(logits: Any, targets: Any, weight: Any = None,
                                     pos_weight: Any = None, reduction: str = "mean"
                                     ) -> Tensor:
    """BCE of sigmoid(logits) against targets in [0, 1] (same shape). pos_weight
    (broadcasting over the last axis, e.g. (C,)) scales the positive term; weight
    scales each element."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    x, y = _input_and_target(name, logits, targets)
    extras = {}
    for key, v in (("weight", weight), ("pos_weight", pos_weight)):
        if v is not None:
            arr = np.asarray(_raw(v), dtype=x.dtype)
            try:
                np.broadcast_shapes(arr.shape, x.shape)
            except ValueError:
                raise ShapeError(f"{name}: {key}{arr.shape} does not broadcast to "
                                 f"logits{x.shape}") from None
            extras[key] = arr
    return _reduce(name, BCEWithLogits.apply(x, y, **extras), reduction)


class BinaryCrossEntropy(Function):
    """-w (y log p + (1 - y) log(1 - p)) of probabilities, each log clamped at -100
    (PyTorch) so p = 0 or 1 gives a finite loss."""

    def forward(self, ctx, p, y, weight=None):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        w = 1.0 if weight is None else weight
        ctx.save(p, y, w)
        return (-w * (y * log_p + (1 - y) * log_q)).astype(p.dtype, copy=False)

    rule = "dp = (p - target) / (p * (1 - p)) (scaled by the reduction)"

    def backward(self, ctx, dy):
        p, y, w = ctx.saved
        dp = dy * w * (p - y) / np.maximum(p * (1 - p), 1e-12)
        return dp, None


def binary_cross_entropy(probs: Any, targets: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """BCE of probabilities in [0, 1]; prefer binary_cross_entropy_with_logits."""
    name = "binary_cross_entropy"
    p, y = _input_and_target(name, probs, targets)
    if p.size and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError(f"{name}: probs must lie in [0, 1], got values from "
                         f"{p.data.min()} to {p.data.max()}; pass logits to "
                         "binary_cross_entropy_with_logits instead")
    w = None if weight is None else np.asarray(_raw(weight), p.dtype)
    return _reduce(name, BinaryCrossEntropy.apply(p, y, weight=w), reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target)^2, reduced."""
    x, t = _input_and_target("mse_loss", input, target)
    d = x - t
    return _reduce("mse_loss", d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, reduced."""
    x, t = _input_and_target("l1_loss", input, target)
    return _reduce("l1_loss", (x - t).abs(), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2) (d = input - target)."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    x, t = _input_and_target("huber_loss", input, target)
    d = x - t
    a = d.abs()
    loss = where(a.data < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce("huber_loss", loss, reduction)


# ----- module forms -------------------------------------------------------------------
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self._weight, self.label_smoothing = weight, label_smoothing

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return cross_entropy(logits, targets, self._weight, self.reduction,
                             self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight = weight

    def forward(self, log_probs: Any, targets: Any) -> Tensor:
        return nll_loss(log_probs, targets, self._weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight: Any = None, pos_weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight, self._pos_weight = weight, pos_weight

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, targets, self._weight,
                                                self._pos_weight, self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean"):
        super().__init__(reduction)
        self._weight = weight

    def forward(self, probs: Any, targets: Any) -> Tensor:
        return binary_cross_entropy(probs, targets, self._weight, self.reduction)


class MSELoss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return huber_loss(input, target, self.reduction, self.delta)
