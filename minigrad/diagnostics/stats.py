"""Gradient statistics per parameter, update-to-weight ratios, and a verdict per layer
when gradients vanish or explode compared with the other layers."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..tensor import Tensor


def named_params(model_or_params: Any) -> list[tuple[str, Tensor]]:
    """(name, tensor) pairs from a Module (named_parameters), a dict, a list of pairs,
    or a plain iterable of tensors (named "0", "1", ...)."""
    if hasattr(model_or_params, "named_parameters"):
        return list(model_or_params.named_parameters())
    if isinstance(model_or_params, dict):
        return list(model_or_params.items())
    items = list(model_or_params)
    if items and all(isinstance(i, tuple) and len(i) == 2 for i in items):
        return items
    for i, p in enumerate(items):
        if not isinstance(p, Tensor):
            raise TypeError(f"gradient_stats: expected a Module, a dict or tensors, got "
                            f"item {i} of type {type(p).__name__}")
    return [(str(i), p) for i, p in enumerate(items)]


def snapshot(model_or_params: Any) -> dict[str, np.ndarray]:
    """Copies of the current weights by name, to pass as ``previous=`` after a step."""
    return {name: p.data.copy() for name, p in named_params(model_or_params)}


def layer_of(name: str) -> str:
    """The layer a parameter belongs to: its dotted name without the last part."""
    return name.rsplit(".", 1)[0] if "." in name else name


class GradientStats(list):
    """A list of one dict per parameter: name, layer, shape, mean_abs, norm, max_abs,
    update_ratio (None without previous weights). ``report()`` is the table,
    ``verdicts`` the per-layer findings, ``layer_norms`` the L2 norm per layer."""

    def __init__(self, rows: list[dict], vanish: float, explode: float):
        super().__init__(rows)
        self.vanish, self.explode = vanish, explode
        self.layer_norms = _layer_norms(rows)
        self.verdicts = _verdicts(rows, self.layer_norms, vanish, explode)

    @property
    def flagged(self) -> dict[str, str]:
        """Layer name -> "vanishing" | "exploding" | "non-finite" | "no gradient"."""
        return {v["layer"]: v["kind"] for v in self.verdicts
                if v["kind"] != "ok" and v["layer"]}

    def report(self) -> str:
        head = (f"{'parameter':<24} {'shape':<16} {'mean|g|':>10} {'norm':>10} "
                f"{'max|g|':>10} {'update/w':>10}")
        out = [head, "-" * len(head)]
        for r in self:
            shape = str(tuple(r["shape"]))
            if r["norm"] is None:
                out.append(f"{r['name']:<24} {shape:<16} {'no grad':>10}")
                continue
            ratio = "-" if r["update_ratio"] is None else f"{r['update_ratio']:.2e}"
            out.append(f"{r['name']:<24} {shape:<16} {r['mean_abs']:>10.3e} "
                       f"{r['norm']:>10.3e} {r['max_abs']:>10.3e} {ratio:>10}")
        out.append("")
        out.extend(v["text"] for v in self.verdicts)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.report()


def gradient_stats(model_or_params: Any, previous: dict[str, np.ndarray] | None = None,
                   vanish: float = 1e-3, explode: float = 1e3) -> GradientStats:
    """Statistics of the gradients currently in ``.grad``, one row per parameter.

    model_or_params: a Module, a dict name -> Tensor, (name, Tensor) pairs or Tensors.
    previous: weights before the last optimizer step (``snapshot(model)``); then
    ``update_ratio`` = ||w - w_prev|| / ||w_prev||, whose healthy range is around 1e-3
    (much larger: lr too high; much smaller: lr too low). A layer (parameters sharing
    a dotted prefix) whose gradient L2 norm is below ``vanish`` times the median layer
    norm is flagged as vanishing, above ``explode`` times as exploding.
    """
    if vanish <= 0 or explode <= 1:
        raise ValueError(f"gradient_stats: need vanish > 0 and explode > 1, got "
                         f"vanish={vanish}, explode={explode}")
    rows = []
    for name, p in named_params(model_or_params):
        row: dict[str, Any] = {"name": name, "layer": layer_of(name),
                               "shape": tuple(p.shape), "mean_abs": None, "norm": None,
                               "max_abs": None, "update_ratio": None}
        if p.grad is not None:
            g = np.abs(np.asarray(p.grad.data, dtype=np.float64))
            row.update(mean_abs=float(g.mean()) if g.size else 0.0,
                       norm=float(np.sqrt((g * g).sum())),
                       max_abs=float(g.max()) if g.size else 0.0)
        if previous is not None and name in previous:
            before = np.asarray(previous[name], dtype=np.float64)
            row["update_ratio"] = float(np.linalg.norm(p.data - before)
                                        / max(np.linalg.norm(before), 1e-12))
        rows.append(row)
    return GradientStats(rows, vanish, explode)


def after_step(model: Any, optimizer: Any, **kwargs: Any) -> GradientStats:
    """Take one ``optimizer.step()`` and return gradient_stats with update ratios."""
    before = snapshot(model)
    optimizer.step()
    return gradient_stats(model, previous=before, **kwargs)


def _layer_norms(rows: Iterable[dict]) -> dict[str, float | None]:
    norms: dict[str, float | None] = {}
    for r in rows:
        if r["norm"] is None:
            norms.setdefault(r["layer"], None)
            continue
        prev = norms.get(r["layer"]) or 0.0
        norms[r["layer"]] = math.sqrt(prev * prev + r["norm"] ** 2)
    return norms


def _verdicts(rows: list[dict], norms: dict[str, float | None], vanish: float,
              explode: float) -> list[dict]:
    finite = [n for n in norms.values() if n is not None and math.isfinite(n)]
    median = float(np.median(finite)) if finite else 0.0
    out = []
    for layer, n in norms.items():
        if n is None:
            kind, text = "no gradient", (f"layer {layer!r}: no gradient (frozen, not used "
                                         "by the loss, or backward not run)")
        elif not math.isfinite(n):
            kind, text = "non-finite", f"layer {layer!r}: gradient is NaN or inf"
        elif median > 0 and n < vanish * median:
            kind, text = "vanishing", (f"layer {layer!r}: gradient norm {n:.2e} is "
                                       f"{n / median:.1e} x the median layer ({median:.2e}):"
                                       " vanishing gradient")
        elif median > 0 and n > explode * median:
            kind, text = "exploding", (f"layer {layer!r}: gradient norm {n:.2e} is "
                                       f"{n / median:.1e} x the median layer ({median:.2e}):"
                                       " exploding gradient")
        else:
            continue
        out.append({"layer": layer, "kind": kind, "text": text})
    trend = _depth_trend(norms, vanish, explode)
    if trend:
        out.append(trend)
    if not out and finite:
        out.append({"layer": "", "kind": "ok", "text":
                    f"all {len(finite)} layers within [{vanish:g}, {explode:g}] x the "
                    f"median gradient norm {median:.2e}"})
    return out


def _depth_trend(norms: dict[str, float | None], vanish: float,
                 explode: float) -> dict | None:
    """Compare the first layer (nearest the input) with the last: a steady fall
    towards the input is the vanishing-gradient picture even when the median sits in
    the middle and flags both ends."""
    seq = [(k, n) for k, n in norms.items() if n is not None and math.isfinite(n)]
    if len(seq) < 2 or seq[-1][1] == 0:
        return None
    (first, a), (last, b) = seq[0], seq[-1]
    ratio = a / b
    if ratio < vanish:
        kind, what = "depth-vanishing", "vanishing"
    elif ratio > explode:
        kind, what = "depth-exploding", "exploding"
    else:
        return None
    return {"layer": "", "kind": kind, "text":
            f"across depth: the first layer {first!r} gets {ratio:.1e} x the gradient norm "
            f"of the last layer {last!r}: gradients are {what} on the way back to the input"}
