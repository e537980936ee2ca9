"""Losses as functions, PyTorch's spellings (re-exported by mg.nn.functional; module
forms in loss_modules.py, Keras's in keras_losses.py). Logits in, never probabilities,
where a stable form exists: cross-entropy is one fused primitive
(log-sum-exp forward, softmax - target backward). Values and gradients follow PyTorch,
including class weights with mean reduction, label smoothing, ignore_index and
probability targets."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..errors import DTypeError, ShapeError
from ..functions import where
from ..ops.elementwise import stable_sigmoid
from ..tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def _raw(v: Any) -> Any:
    """The array inside a Tensor, anything else as it is."""
    return v.data if isinstance(v, Tensor) else v


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _labels(name: str, targets: Any, n: int, classes: int, ignore_index: int = -100
            ) -> np.ndarray:
    """Integer class labels as an int64 array of shape (n,), checked against classes;
    entries equal to ignore_index are exempt from the range check."""
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if y.dtype.kind not in "iu":
        raise DTypeError(f"{name}: targets must be integer class labels, got dtype "
                        f"{y.dtype}; convert with .astype(np.int64)")
    if y.shape != (n,):
        raise ShapeError(f"{name}: expected targets of shape ({n},) for logits with {n} "
                         f"rows, got targets{y.shape}")
    if y.size and 0 <= y.min() and y.max() < classes:  # the common case: two reductions
        return y.astype(np.int64, copy=False)
    kept = y[y != ignore_index]
    if kept.size and (kept.min() < 0 or kept.max() >= classes):
        raise ValueError(f"{name}: target labels must be in [0, {classes}) for logits "
                         f"with {classes} classes (or ignore_index={ignore_index}), got "
                         f"labels from {kept.min()} to {kept.max()}")
    return y.astype(np.int64, copy=False)


def _keep(labels: np.ndarray, ignore_index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels safe to index with, 0/1 mask of the counted rows or None if all count)."""
    ignored = labels == ignore_index
    if not ignored.any():
        return labels, None
    return np.where(ignored, 0, labels), (~ignored).astype(np.float64)


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
    Rows whose label is ignore_index (keep_i = 0) count for nothing: loss 0, gradient 0,
    no weight in the mean. reduction "none" returns (N,), "sum" the sum, "mean" the
    sum / sum_i keep_i w[y_i]. Backward: d loss_i / d z_i = p_i sum(q_i) - q_i, scaled
    by the reduction. One op for the whole loss keeps the per-step overhead of small
    batches low.
    """

    def forward(self, ctx, z, labels, weight=None, smoothing=0.0, reduction="mean",
                keep=None):
        n, c = z.shape
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if weight is None and keep is None and not smoothing and reduction != "none":
            return self._plain(ctx, logp, labels, reduction)
        w_y = np.ones(n, dtype=z.dtype) if weight is None else weight[labels]
        if keep is not None:
            w_y = (w_y * keep).astype(z.dtype, copy=False)
        loss = -(1.0 - smoothing) * w_y * logp[np.arange(n), labels]
        if smoothing:
            wsum_logp = logp.sum(axis=1) if weight is None else logp @ weight
            loss = loss - (smoothing / c) * wsum_logp * (1.0 if keep is None else keep)
        ctx.save(np.exp(logp, out=logp), labels, weight, w_y, keep)
        ctx.smoothing, ctx.reduction = smoothing, reduction
        if reduction == "none":
            return loss.astype(z.dtype, copy=False)
        total = loss.sum(dtype=np.float64)
        ctx.denom = 1.0 if reduction == "sum" else float(w_y.sum(dtype=np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN (PyTorch)
            return np.asarray(total / ctx.denom if ctx.denom else np.nan, dtype=z.dtype)

    def _plain(self, ctx, logp, labels, reduction):
        """The reduced loss without weights, smoothing or ignored rows: the general
        forward's numbers (its weights are ones) in a third of the numpy calls."""
        n = len(labels)
        total = -logp[np.arange(n), labels].sum(dtype=np.float64)
        ctx.save(np.exp(logp, out=logp), labels, None, None, None)
        ctx.smoothing, ctx.reduction = 0.0, reduction
        ctx.denom = 1.0 if reduction == "sum" else float(n)
        with np.errstate(invalid="ignore", divide="ignore"):  # n = 0: NaN (PyTorch)
            return np.asarray(total / ctx.denom if ctx.denom else np.nan, dtype=logp.dtype)

    rule = "dlogits = softmax(logits) - onehot(target), scaled by the reduction"

    def backward(self, ctx, dy):
        p, labels, weight, w_y, keep = ctx.saved
        n, c = p.shape
        s = ctx.smoothing
        if w_y is None:  # _plain: every row counts once
            g = p.copy()
            g[np.arange(n), labels] -= 1.0
            with np.errstate(invalid="ignore", divide="ignore"):
                g *= dy / ctx.denom
            return g, None
        k = 1.0 if keep is None else keep
        w_total = float(c) if weight is None else float(weight.sum())
        q_sum = (1.0 - s) * w_y + (s / c) * w_total * k
        plain = not s and weight is None and keep is None
        g = p.copy() if plain else p * q_sum[:, None]
        if s:
            g -= (s / c) * (1.0 if weight is None else weight[None, :]) \
                * (1.0 if keep is None else keep[:, None])
        g[np.arange(n), labels] -= (1.0 - s) * w_y
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = dy[:, None] if ctx.reduction == "none" else dy / ctx.denom
        return (g * scale).astype(p.dtype, copy=False), None


class SoftCrossEntropy(Function):
    """Cross-entropy of logits z (N, C) against target distributions q (N, C)
    (PyTorch's probability targets): q' = (1 - s) q + s/C, loss_i = -sum_c w_c q'_ic
    log p_ic; "mean" divides by N (not by the weights, as PyTorch).
    Backward: dz_i = p_i sum_c(w_c q'_ic) - w q'_i; dq_i = -(1 - s) w log p_i."""

    def forward(self, ctx, z, q, weight=None, smoothing=0.0, reduction="mean"):
        n, c = z.shape
        shifted = z - z.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        wq = (1.0 - smoothing) * q + smoothing / c
        if weight is not None:
            wq = wq * weight
        loss = -(wq * logp).sum(axis=1)
        ctx.save(logp, wq, weight)
        ctx.smoothing, ctx.reduction = smoothing, reduction
        ctx.denom = 1.0 if reduction == "sum" else float(max(n, 1))
        if reduction == "none":
            return loss.astype(z.dtype, copy=False)
        return np.asarray(loss.sum(dtype=np.float64) / ctx.denom, dtype=z.dtype)

    def backward(self, ctx, dy):
        logp, wq, weight = ctx.saved
        scale = dy[:, None] if ctx.reduction == "none" else dy / ctx.denom
        dz = (np.exp(logp) * wq.sum(axis=1, keepdims=True) - wq) * scale
        dq = None
        if ctx.needs_input_grad[1]:
            dq = -(1.0 - ctx.smoothing) * logp * (1.0 if weight is None else weight) * scale
        return dz.astype(logp.dtype, copy=False), dq


def _class_rows(name: str, z: Tensor, targets: Any, soft: bool) -> tuple[Tensor, Any, tuple]:
    """Logits (N, C, d1, ...) and targets as rows: z (M, C) with targets (M,) labels or
    (M, C) distributions (soft), plus the trailing axes moved into the rows."""
    extra = z.shape[2:]
    lead = (z.shape[0],) + extra
    if soft:
        if tuple(targets.shape) != tuple(z.shape):
            raise ShapeError(f"{name}: probability targets must have the logits' shape "
                             f"{z.shape}, got targets{tuple(targets.shape)}")
        if extra:
            axes = (0, *range(2, z.ndim), 1)
            z = z.permute(*axes).reshape(-1, z.shape[1])
            targets = targets.permute(*axes).reshape(-1, targets.shape[1])
        return z, targets, extra
    if extra:  # class axis last, the other axes become rows
        y_shape = np.shape(_raw(targets))
        if y_shape != lead:
            raise ShapeError(f"{name}: expected targets of shape {lead} "
                             f"for logits{z.shape}, got targets{y_shape}")
        z = z.permute(0, *range(2, z.ndim), 1).reshape(-1, z.shape[1])
        targets = np.asarray(_raw(targets)).reshape(-1)
    return z, targets, extra


def cross_entropy(logits: Any, targets: Any, weight: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0, ignore_index: int = -100) -> Tensor:
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) (PyTorch semantics).

    targets: integer labels (N,) or (N, d1, ...), an int Tensor or array; or float
    class probabilities shaped like the logits (soft targets; one-hot works too).
    weight: (C,) class weights; with labels "mean" divides by the summed weights of the
    counted targets, with probabilities by N (PyTorch). label_smoothing in [0, 1] mixes
    the target with the uniform distribution. ignore_index: label whose rows count for
    nothing (labels only). Returns a scalar, or (N, d1, ...) for reduction="none".
    Raises ValueError for labels outside [0, C) or shape mismatches, TypeError for
    non-numeric targets or non-float logits.
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    z = as_tensor(logits)
    if z.dtype.kind != "f" or z.ndim < 1:
        raise DTypeError(f"{name}: logits must be a float tensor (N, C), got "
                        f"{z.dtype}{z.shape}")
    y_raw = np.asarray(_raw(targets))
    soft = y_raw.dtype.kind == "f" and y_raw.ndim == z.ndim  # PyTorch's rule
    if soft:
        targets = targets if isinstance(targets, Tensor) and targets.dtype == z.dtype \
            else Tensor._wrap(np.asarray(_raw(targets), dtype=z.dtype))
    if z.ndim == 1:
        z = z.reshape(1, -1)
        targets = targets.reshape(1, -1) if soft else np.asarray(_raw(targets)).reshape(1)
    z, targets, extra = _class_rows(name, z, targets, soft)
    n, c = z.shape
    w = _class_weight(name, weight, c, z.dtype)
    if soft:
        loss = SoftCrossEntropy.apply(z, targets, weight=w, smoothing=float(label_smoothing),
                                      reduction=reduction)
    else:
        labels, keep = _keep(_labels(name, targets, n, c, ignore_index), ignore_index)
        loss = CrossEntropy.apply(z, labels, weight=w, smoothing=float(label_smoothing),
                                  reduction=reduction, keep=keep)
    if reduction == "none" and (extra or np.ndim(_raw(logits)) == 1):
        return loss.reshape(np.shape(_raw(logits))[:1] + extra if extra else ())
    return loss


def nll_loss(log_probs: Any, targets: Any, weight: Any = None, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """-w[y_i] log_probs[i, y_i] for log-probabilities (N, C) such as log_softmax's
    output, against labels (N,). Rows labelled ignore_index count for nothing; "mean"
    divides by the summed weights of the counted rows (PyTorch). Returns a scalar, or
    (N,) for reduction="none". Raises as cross_entropy."""
    name = "nll_loss"
    _check_reduction(name, reduction)
    lp = as_tensor(log_probs)
    if lp.ndim != 2:
        raise ShapeError(f"{name}: expects log_probs (N, C), got {lp.shape}")
    labels, keep = _keep(_labels(name, targets, *lp.shape, ignore_index), ignore_index)
    w = _class_weight(name, weight, lp.shape[1], lp.dtype)
    w_y = np.ones(len(labels), lp.dtype) if w is None else w[labels]
    if keep is not None:
        w_y = (w_y * keep).astype(lp.dtype)
    picked = -lp[np.arange(lp.shape[0]), labels] * Tensor._wrap(w_y)
    if reduction == "none":
        return picked
    if reduction == "sum":
        return picked.sum()
    return picked.sum() / float(w_y.sum(dtype=np.float64))


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
