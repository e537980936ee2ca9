"""Multiply-accumulates (MACs) per layer for one sample, found by running the model once
with forward hooks, so every layer is counted with the shapes it really sees."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .module import leaf_modules


def layer_macs(module: Any, output: Any) -> int:
    """MACs of one call for one sample. A weighted layer (Linear, Conv2d: weight of 2+
    dims, layout (out, in, *kernel)) does prod(weight.shape[1:]) per output element;
    batch norm one multiply-add per element (scale and shift, as folded at
    inference); everything else (activations, pooling, reshapes) is counted as 0."""
    out = np.asarray(getattr(output, "data", output))
    per_sample = out.size // max(out.shape[0], 1) if out.ndim else out.size
    weight = getattr(module, "weight", None)
    if weight is not None and getattr(weight, "ndim", 0) >= 2:
        return int(per_sample * int(np.prod(weight.shape[1:])))
    if "BatchNorm" in type(module).__name__:
        return int(per_sample)
    return 0


class FlopsReport(list):
    """Rows {"layer", "type", "output_shape", "macs"} in call order; ``total`` MACs,
    ``flops`` (= 2 x MACs), ``table()``."""

    @property
    def total(self) -> int:
        return sum(r["macs"] for r in self)

    @property
    def flops(self) -> int:
        return 2 * self.total

    def table(self) -> str:
        head = f"{'layer':<20} {'type':<14} {'output':<20} {'MACs':>14}"
        lines = [head, "-" * len(head)]
        for r in self:
            lines.append(f"{r['layer']:<20} {r['type']:<14} {str(r['output_shape']):<20} "
                         f"{r['macs']:>14,}")
        lines.append(f"Total multiply-adds per sample: {self.total:,} "
                     f"({_human(self.total)} MACs, {_human(self.flops)} FLOPs)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def flops(model: Any, input_shape: tuple[int, ...], dtype: Any = None) -> FlopsReport:
    """MACs per leaf layer and in total for one sample of shape ``input_shape``
    (without the batch axis). The model runs once in eval mode under no_grad on
    zeros; modes are restored after. A layer called twice is counted twice."""
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()), np.float32)
    rows: dict[str, dict] = {}
    order: list[str] = []

    def hook_for(name: str):
        def record(m: Any, inputs: tuple, out: Any) -> None:
            if name not in rows:
                order.append(name)
                rows[name] = {"layer": name, "type": type(m).__name__, "macs": 0,
                              "output_shape": (None,) + tuple(getattr(out, "shape", ())[1:])}
            rows[name]["macs"] += layer_macs(m, out)
        return record

    handles = [m.register_forward_hook(hook_for(n)) for n, m in leaf_modules(model)]
    try:
        with model.mode(training=False), no_grad():
            model(Tensor(np.zeros((1,) + tuple(input_shape)), dtype=dtype))
    finally:
        for h in handles:
            h.remove()
    return FlopsReport(rows[n] for n in order)


def _human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(int(n))
