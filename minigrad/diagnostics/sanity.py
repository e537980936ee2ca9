"""Sanity checks before a long run: can the model overfit 20 samples, does the
activation variance survive the depth at init, and MC-dropout predictions."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._common import as_array, inputs, loss_fn, make_optimizer
from ..nn.module import leaf_modules
from .selu import check_self_normalizing

_HE = ("ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "GELU", "SiLU", "Swish", "Mish")
_GLOROT = ("Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Softplus")
_SHAPE_ONLY = ("Flatten", "Reshape", "Unflatten", "Identity")


def _is_dropout(m: Any) -> bool:
    return "Dropout" in type(m).__name__


class OverfitResult:
    """passed, accuracy (None for regression), first_loss, final_loss, losses,
    no_grad (parameters that never got a gradient), message; truthy when passed."""

    def __init__(self, **fields: Any):
        self.__dict__.update(fields)

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __repr__(self) -> str:
        return self.message


def overfit_check(model: Any, x: Any, y: Any, loss: str | Callable, optimizer: Any, *,
                  steps: int = 200, samples: int = 20, target: float = 0.99,
                  lr: float = 1e-2, restore: bool = True,
                  verbose: bool = True) -> OverfitResult:
    """Train on the first ``samples`` examples, full batch, for ``steps`` steps with no
    regularization (dropout off, no regularization_loss) and check the model learns
    them by heart: accuracy >= ``target`` for classification (integer y), or the
    final loss <= 1% of the first for regression. A model that cannot memorise 20
    samples has a bug (labels, loss on the wrong outputs, a detached graph, lr).

    optimizer: an optimizer over model's parameters, or a factory ``(params, lr)``.
    With restore=True the weights, modes and optimizer state are put back after.
    Returns an OverfitResult whose message says clearly whether it passed, and names
    the parameters that never received a gradient; printed when verbose.
    """
    who = "overfit_check"
    xs, ys = as_array(who, "x", x)[:samples], as_array(who, "y", y)[:samples]
    if len(xs) != len(ys):
        raise ValueError(f"{who}: x has {len(xs)} samples but y has {len(ys)}")
    if steps < 1 or not 0 < target <= 1:
        raise ValueError(f"{who}: need steps >= 1 and 0 < target <= 1, got {steps}, "
                         f"{target}")
    criterion = loss_fn(who, loss)
    weights = model.state_dict()
    opt = make_optimizer(who, optimizer, model, lr)
    opt_state = opt.state_dict() if restore and opt is optimizer else None
    losses, reached = [], set()
    xt = inputs(xs)
    with model.mode(training=True):
        for m in model.modules():
            if _is_dropout(m):
                m.eval()
        try:
            for _ in range(steps):
                opt.zero_grad()
                value = criterion(model(xt), ys)
                value.backward()
                reached.update(n for n, p in model.named_parameters() if p.grad is not None)
                opt.step()
                losses.append(float(value.item()))
            with no_grad():
                out = np.asarray(model(xt).data)
                final = float(criterion(model(xt), ys).item())
        finally:
            if restore:
                model.load_state_dict(weights)
                if opt_state is not None:
                    opt.load_state_dict(opt_state)
            model.zero_grad()
    no_grad_params = [n for n, p in model.named_parameters()
                      if p.requires_grad and n not in reached]
    result = _verdict(out, ys, losses[0], final, losses, target, steps, len(xs),
                      no_grad_params)
    if verbose:
        print(result.message)
    return result


def _verdict(out: np.ndarray, ys: np.ndarray, first: float, final: float, losses: list,
             target: float, steps: int, n: int, missing: list[str]) -> OverfitResult:
    accuracy = None
    if ys.dtype.kind in "iub":
        pred = (out.reshape(len(out), -1)[:, 0] > 0).astype(ys.dtype) \
            if out.ndim == 1 or out.shape[-1] == 1 else out.argmax(axis=-1)
        accuracy = float((pred.reshape(ys.shape) == ys).mean())
        passed = accuracy >= target
        what = f"accuracy {accuracy:.0%} (target {target:.0%}), loss {first:.4g} -> {final:.4g}"
    else:
        passed = math.isfinite(final) and final <= 0.01 * first
        what = f"loss {first:.4g} -> {final:.4g} (target <= 1% of the first)"
    if passed:
        msg = f"overfit_check: PASSED: after {steps} steps on {n} samples, {what}"
    else:
        msg = (f"overfit_check: FAILED: after {steps} steps on {n} samples, {what}. A "
               "model that cannot memorise a handful of samples usually has a bug: "
               "labels not matching inputs, the loss applied to the wrong outputs "
               "(e.g. softmax before cross_entropy), a detached graph, frozen layers, "
               "or a learning rate far too small or too large")
    if missing:
        msg += f"; parameters that never received a gradient: {missing}"
    return OverfitResult(passed=passed, accuracy=accuracy, first_loss=first,
                         final_loss=final, losses=losses, no_grad=missing, message=msg)


def mc_dropout_predict(model: Any, x: Any, n: int = 30,
                       transform: Callable[[Tensor], Tensor] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout (Gal & Ghahramani 2016): ``n`` forward passes with dropout
    active and everything else (batch norm) in eval mode.

    x: (N, ...) inputs; transform: applied to each pass's output (e.g.
    ``mg.nn.functional.softmax`` to average probabilities). Returns (mean, std) over
    the passes, each of the output's shape. Modes are restored after. Raises
    ValueError when n < 2 or the model has no Dropout layer (the passes would agree).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"mc_dropout_predict: n must be an int >= 2, got {n!r}")
    drops = [m for m in model.modules() if _is_dropout(m)]
    if not drops:
        raise ValueError(f"mc_dropout_predict: {type(model).__name__} has no Dropout "
                         "layer, so every pass would give the same output")
    xt = inputs(as_array("mc_dropout_predict", "x", x))
    with model.mode(training=False), no_grad():
        for m in drops:
            m.train()
        outs = []
        for _ in range(n):
            out = model(xt)
            out = transform(out) if transform is not None else out
            outs.append(np.asarray(getattr(out, "data", out), dtype=np.float64))
    stacked = np.stack(outs)
    return stacked.mean(axis=0), stacked.std(axis=0)


class InitReport:
    """rows (depth, layer, type, variance, ratio to the first weighted layer),
    verdicts, ok, recommended initializer; ``report()`` is the text."""

    def __init__(self, rows: list[dict], verdicts: list[str], ok: bool,
                 recommended: str, activation: str | None):
        self.rows, self.verdicts, self.ok = rows, verdicts, ok
        self.recommended, self.activation = recommended, activation

    def report(self) -> str:
        head = f"{'depth':>5} {'layer':<14} {'type':<12} {'variance':>11} {'x first':>9}"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}"
            lines.append(f"{r['depth']:>5} {r['layer']:<14} {r['type']:<12} "
                         f"{r['variance']:>11.4g} {ratio:>9}")
        return "\n".join(lines + [""] + self.verdicts)

    def __str__(self) -> str:
        return self.report()


def recommended_init(activation: str | None) -> str:
    """The initializer matching an activation type name (Glorot for tanh/sigmoid/
    softmax and no activation, He for the ReLU family, LeCun for SELU)."""
    if activation == "SELU":
        return "lecun_normal"
    if activation in _HE:
        return "he_normal"
    return "glorot_uniform"


def check_init(model: Any, x: Any, factor: float = 10.0, verbose: bool = False) -> InitReport:
    """Forward one batch and follow the variance of every layer's output with depth.

    x: (N, ...) a typical input batch (standardised, as training will see it).
    The outputs of the weighted layers (Linear/Conv2d: the pre-activations that the
    initializer controls) are compared with the first one's; when one grows by more
    than ``factor`` or shrinks below 1/factor, the verdict names that layer and the
    initializer matching the model's activation (He for ReLU-like, Glorot for
    tanh/sigmoid/softmax, LeCun for SELU). Batch norm runs on batch statistics
    (its running statistics are restored) and dropout is off. A model with SELU is
    first checked for the self-normalizing conditions (``check_self_normalizing``:
    a SelfNormalizingWarning per broken one).
    """
    if factor <= 1:
        raise ValueError(f"check_init: factor must be > 1, got {factor}")
    check_self_normalizing(model)  # a SELU network: warns about broken conditions
    leaves = [(n, m) for n, m in leaf_modules(model)
              if type(m).__name__ not in _SHAPE_ONLY and not _is_dropout(m)]
    outputs: dict[str, float] = {}
    handles = [m.register_forward_hook(
        lambda mod, inp, out, name=name: outputs.__setitem__(
            name, float(np.var(np.asarray(getattr(out, "data", out), np.float64)))))
        for name, m in leaves]
    state = model.state_dict()
    with model.mode(training=True):
        for m in model.modules():
            if _is_dropout(m):
                m.eval()
        try:
            with no_grad():
                model(inputs(as_array("check_init", "x", x)))
        finally:
            for h in handles:
                h.remove()
            model.load_state_dict(state)
    return _init_report(leaves, outputs, factor, verbose)


def _activation_kind(m: Any) -> str | None:
    """The activation class a leaf module is or applies: its own class, or the named
    activation it runs fused (Linear(..., activation="relu") and what mg.nn.fuse makes
    count as a ReLU); None for any other module."""
    kinds = _HE + _GLOROT + ("SELU",)
    if type(m).__name__ in kinds:
        return type(m).__name__
    name = getattr(m, "activation", None)
    if isinstance(name, str):
        return next((k for k in kinds if k.lower() == name.replace("_", "")), None)
    return None


def _init_report(leaves: list, outputs: dict[str, float], factor: float,
                 verbose: bool) -> InitReport:
    acts = [k for _, m in leaves if (k := _activation_kind(m)) is not None]
    activation = max(set(acts), key=acts.count) if acts else None
    rec = recommended_init(activation)
    rows, first, flagged = [], None, []
    for depth, (name, m) in enumerate(leaves):
        if name not in outputs:
            continue
        weighted = getattr(getattr(m, "weight", None), "ndim", 0) >= 2
        var = outputs[name]
        ratio = None
        if weighted:
            first = var if first is None else first
            ratio = var / first if first > 0 else math.inf
            if not 1 / factor <= ratio <= factor:
                flagged.append((name, ratio, m))
        rows.append({"depth": depth, "layer": name, "type": type(m).__name__,
                     "variance": var, "ratio": ratio})
    verdicts = []
    if flagged:
        name, ratio, m = flagged[0]
        way = "grows" if ratio > 1 else "shrinks"
        have, want = _gain(m), _wanted_gain(rec, m)
        head = (f"check_init: the activation variance {way} with depth: layer {name!r} has "
                f"{ratio:.3g} x the variance of the first layer (limit {factor:g}x). ")
        if abs(have / want - 1) < 0.2:
            verdicts.append(head + f"Its weights already match {rec} for {activation} "
                            f"(std x sqrt(fan_in) = {have:.3g}, target {want:.3g}): the "
                            "activation itself changes the variance at this depth; "
                            "BatchNorm between the layers, or a shallower model, helps")
        else:
            verdicts.append(head + f"With {activation or 'no activation'} use "
                            f"weight_init={rec!r} (its weights have std x sqrt(fan_in) = "
                            f"{have:.3g}; {rec} gives {want:.3g})")
    else:
        verdicts.append(f"check_init: OK: every weighted layer's output variance is "
                        f"within {factor:g}x of the first's ({activation or 'no activation'}"
                        f"; matching initializer: {rec})")
    report = InitReport(rows, verdicts, not flagged, rec, activation)
    if verbose:
        print(report.report())
    return report


def _fans(m: Any) -> tuple[int, int]:
    shape = m.weight.shape
    field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * field, shape[0] * field


def _gain(m: Any) -> float:
    """std(w) x sqrt(fan_in): 1 for LeCun, sqrt(2) for He."""
    return float(np.asarray(m.weight.data, np.float64).std() * math.sqrt(_fans(m)[0]))


def _wanted_gain(rec: str, m: Any) -> float:
    fan_in, fan_out = _fans(m)
    return {"he_normal": math.sqrt(2.0), "lecun_normal": 1.0,
            "glorot_uniform": math.sqrt(2.0 * fan_in / (fan_in + fan_out))}[rec]
