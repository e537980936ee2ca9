"""explain_backward: the reverse walk of the tape, told one entry per line.

The walk is the engine's own (``autograd.run_backward``); an observer it calls after
each entry writes the line: the op, the rule its Function states (``Function.rule``,
written next to its backward), the shapes, which axes the engine summed to undo
broadcasting, and where a gradient was added to one already there because a tensor
was used twice.
"""
from __future__ import annotations

import sys
from typing import IO, Any

import numpy as np

from ..autograd import Function, run_backward
from ..tensor import Tensor
from .graph import Labels, entries


def rule_of(fn: Function) -> str:
    """The local gradient rule text of a tape entry (its class's ``rule``), and the
    algorithm its forward ran when the op records one (``ctx.algorithm``, conv2d)."""
    algorithm = getattr(getattr(fn, "ctx", None), "algorithm", None)
    return type(fn).rule + (f" [ran: {algorithm}]" if algorithm else "")


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _summed_axes(raw: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Axes (of the raw gradient) that unbroadcast sums to reach ``target``."""
    extra = len(raw) - len(target)
    lead = tuple(range(max(extra, 0)))
    stretched = tuple(extra + i for i, n in enumerate(target)
                      if n == 1 and raw[extra + i] != 1)
    return lead + stretched


class _Story:
    """The observer of run_backward: one line per entry, notes for un-broadcasts and
    accumulations, and which leaves received a gradient (in that order)."""

    def __init__(self, lines: list[str], label: Labels) -> None:
        self.lines, self.label = lines, label
        self.uses: dict[int, int] = {}
        self.leaves: dict[int, Tensor] = {}

    def __call__(self, fn: Function, dy: np.ndarray, grads: tuple) -> None:
        label = self.label
        self.lines.append(_entry_line(fn, fn.output(), label))
        for i, (inp, g) in enumerate(zip(fn.inputs, grads)):
            if g is None:
                continue
            key = id(inp)
            self.uses[key] = n = self.uses.get(key, 0) + 1
            if inp._ctx is None:
                self.leaves.setdefault(key, inp)
            if getattr(fn, "broadcasts", False) and inp.shape != dy.shape:
                self.lines.append(
                    f"      un-broadcast: input {i} ({label(inp)}) gets a gradient of shape "
                    f"{_shape(dy.shape)}, summed over axes {_summed_axes(dy.shape, inp.shape)}"
                    f" to {_shape(inp.shape)}")
            if n > 1:
                self.lines.append(f"      accumulate: {label(inp)} is used {n} times; this "
                                  "gradient is added to the one it already has")


def explain_backward(loss: Tensor, file: IO[str] | None = None, grad=None,
                     accumulate: bool = True, model: Any = None) -> list[str]:
    """Run backward from ``loss`` and describe each tape entry it walks, newest first.

    loss: the output; a scalar is seeded with 1, otherwise pass ``grad`` (an array or
    Tensor of loss's shape). One line per entry: ``#seq Op  inputs -> output  rule``,
    followed by indented notes for every un-broadcast (the axes summed and the shapes)
    and every accumulation (a tensor used more than once receives a second
    gradient, which is added). A footer gives each leaf's gradient shape and norm.

    The walk is ``autograd.run_backward`` itself and always keeps the graph (as
    ``retain_graph=True``), so ``to_dot(loss)`` still works afterwards and a second
    call explains again. With ``accumulate=True`` the leaves' ``.grad`` are filled as
    ``loss.backward()`` would fill them (adding to what is there); with False nothing
    is written. With ``model`` (a Module) parameters are named by their dotted names
    ("0.weight") instead of leaf0, leaf1, ... Lines are printed to ``file``
    (sys.stdout by default; pass ``io.StringIO()`` to silence) and returned.

    Raises RuntimeError when loss needs no grad or its graph was released by an
    earlier backward(), ValueError when ``grad`` has the wrong shape.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain_backward: expected a Tensor, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(f"explain_backward: the tensor (shape {loss.shape}) does not "
                           "require grad, so nothing was recorded; set requires_grad=True "
                           "on the inputs")
    seed = _seed(loss, grad)
    fns = entries(loss, "explain_backward")
    label = Labels(model)
    lines = [f"backward of {label(loss)} {_shape(loss.shape)} {loss.dtype} through "
             f"{len(fns)} tape entries, newest first; seed d{label(loss)} = "
             + ("1" if grad is None else "grad")]
    story = _Story(lines, label)
    wanted = {id(t): t for fn in fns for t in fn.inputs
              if isinstance(t, Tensor) and t._ctx is None and t.requires_grad}
    if loss._ctx is None:
        wanted[id(loss)] = story.leaves[id(loss)] = loss
        story.uses[id(loss)] = 1
    found = run_backward(fns, loss, seed, wanted=list(wanted.values()), retain_graph=True,
                         observer=story)
    for key, t in story.leaves.items():
        n = story.uses[key]
        lines.append(f"grad of {label(t)} {_shape(t.shape)}: norm "
                     f"{float(np.linalg.norm(found[key])):.4g}"
                     + (f" (sum of {n} paths)" if n > 1 else ""))
        if accumulate:
            t._accumulate(found[key])
    out_file = sys.stdout if file is None else file
    for line in lines:
        print(line, file=out_file)
    return lines


def _seed(loss: Tensor, grad) -> np.ndarray:
    if grad is None:
        if loss.data.size != 1:
            raise RuntimeError(f"explain_backward: grad can be omitted only for a scalar "
                               f"output, got shape {loss.shape}; pass grad=")
        return np.ones(loss.shape, dtype=loss.dtype)
    seed = np.asarray(getattr(grad, "data", grad), dtype=loss.dtype)
    if seed.shape != loss.shape:
        raise ValueError(f"explain_backward: grad has shape {seed.shape}, expected the "
                         f"output's shape {loss.shape}")
    return seed


def _entry_line(fn: Function, out: Tensor, label: Labels) -> str:
    ins = ", ".join(f"{label(t)}{_shape(t.shape)}" for t in fn.inputs
                    if isinstance(t, Tensor))
    head = f"#{fn.seq:<4} {type(fn).__name__:<10} {ins} -> {label(out)}{_shape(out.shape)}"
    return f"{head}   rule: {rule_of(fn)}"
