"""mg.nn.summary: a Keras-like table of layers, output shapes and parameter counts."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .flops import flops as count_macs
from .module import Module

_WIDTHS = (34, 26, 12)


def count_parameters(model: Module) -> tuple[int, int, int]:
    """(total, trainable, non_trainable): trainable are parameters with requires_grad;
    frozen parameters and buffers (running statistics) are non-trainable."""
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    frozen = sum(p.size for p in model.parameters() if not p.requires_grad)
    buffers = sum(b.size for b in model.buffers())
    return trainable + frozen + buffers, trainable, frozen + buffers


def _own_count(m: Module) -> int:
    return (sum(p.size for _, p in m._own_parameters())
            + sum(getattr(m, b).size for b in m._buffer_names))


def layer_kind(m: Module) -> str:
    """The class name, with the named activation the layer applies: "Linear+relu"."""
    act = getattr(m, "activation", None)
    return type(m).__name__ + (f"+{act}" if isinstance(act, str) else "")


def _shape_text(out: Any) -> str:
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_text(o) for o in out)
    shape = getattr(out, "shape", None)
    if shape is None:
        return "?"
    return "(" + ", ".join(["None"] + [str(n) for n in shape[1:]]) + ")"


def _row(*cells: str) -> str:
    return "".join(f" {c:<{w - 1}}" for c, w in zip(cells, _WIDTHS)).rstrip()


def summary(model: Module, input_shape: tuple[int, ...], dtype: Any = None,
            flops: bool = False) -> str:
    """The table for ``model`` fed a batch of shape (2, *input_shape).

    input_shape excludes the batch axis. The model runs once in eval mode under
    no_grad (so no running statistic changes), and its modes are restored after.
    Rows are the leaf modules (and any module owning parameters) in call order.
    """
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()), np.float32)
    named = list(model.named_modules())
    shapes: dict[int, str] = {}
    order: list[int] = []

    def record(m: Module, _inputs: tuple, out: Any) -> None:
        if id(m) not in shapes:
            shapes[id(m)] = _shape_text(out)
            order.append(id(m))

    shown = [(n, m) for n, m in named
             if m is not model and (not list(m.children()) or _own_count(m))]
    if not shown:
        shown = [("", model)]
    handles = [m.register_forward_hook(record) for _, m in shown]
    try:
        with model.mode(training=False), no_grad():
            model(Tensor(np.zeros((2,) + tuple(input_shape)), dtype=dtype))
    finally:
        for h in handles:
            h.remove()
    rank = {key: i for i, key in enumerate(order)}
    shown.sort(key=lambda nm: rank.get(id(nm[1]), len(rank)))
    total, trainable, non_trainable = count_parameters(model)
    line = "_" * sum(_WIDTHS)
    lines = [f'Model: "{type(model).__name__}"', line,
             _row("Layer (type)", "Output Shape", "Param #"), "=" * sum(_WIDTHS)]
    for name, m in shown:
        label = f"{name or 'model'} ({layer_kind(m)})"
        lines.append(_row(label, shapes.get(id(m), "(not called)"), f"{_own_count(m):,}"))
    lines += ["=" * sum(_WIDTHS), f"Total params: {total:,}",
              f"Trainable params: {trainable:,}",
              f"Non-trainable params: {non_trainable:,}", line]
    if flops:  # multiply-adds per layer and in total
        lines += [count_macs(model, input_shape, dtype).table(), line]
    return "\n".join(lines)
