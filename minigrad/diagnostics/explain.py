"""explain_backward: the reverse walk of the tape, told one entry per line.

The walk is the engine's own (``autograd.run_backward``); an observer it calls after
each entry writes the line: the op, the rule its Function states (``Function.rule``,
written next to its backward), the shapes, which axes the engine summed to undo
broadcasting, and where a gradient was added to one already there because a tensor
was used twice.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..autograd import Function, run_backward
from ..tensor import Tensor
from .explain_html import fragment, page
from .graph import Graph, Labels, build_graph, entries


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


@dataclass
class Step:
    """One entry of the reverse walk: the op, its rule, the gradient that arrived at its
    output (``dy``) and, per input, (position, label, shape, gradient sent or None)."""
    seq: int
    op: str
    rule: str
    line: str
    output: str
    dy: np.ndarray
    sends: list[tuple[int, str, tuple[int, ...], np.ndarray | None]]
    notes: list[str] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)


class _Story:
    """The observer of run_backward: one line and one Step per entry, notes for
    un-broadcasts and accumulations, and which leaves received a gradient (in order)."""

    def __init__(self, lines: list[str], label: Labels) -> None:
        self.lines, self.label = lines, label
        self.steps: list[Step] = []
        self.uses: dict[int, int] = {}
        self.leaves: dict[int, Tensor] = {}

    def __call__(self, fn: Function, dy: np.ndarray, grads: tuple) -> None:
        label, out = self.label, fn.output()
        step = Step(fn.seq, type(fn).__name__, rule_of(fn), _entry_line(fn, out, label),
                    label(out), np.array(dy), [])
        self.lines.append(step.line)
        for i, (inp, g) in enumerate(zip(fn.inputs, grads)):
            if not isinstance(inp, Tensor):
                continue
            step.inputs.append(inp)
            step.sends.append((i, label(inp), tuple(inp.shape),
                               None if g is None else np.array(g)))
            if g is None:
                continue
            key = id(inp)
            self.uses[key] = n = self.uses.get(key, 0) + 1
            if inp._ctx is None:
                self.leaves.setdefault(key, inp)
            if getattr(fn, "broadcasts", False) and inp.shape != dy.shape:
                step.notes.append(
                    f"un-broadcast: input {i} ({label(inp)}) gets a gradient of shape "
                    f"{_shape(dy.shape)}, summed over axes {_summed_axes(dy.shape, inp.shape)}"
                    f" to {_shape(inp.shape)}")
            if n > 1:
                step.notes.append(f"accumulate: {label(inp)} is used {n} times; this "
                                  "gradient is added to the one it already has")
        self.lines.extend("      " + note for note in step.notes)
        self.steps.append(step)


class Explanation(list):
    """What explain_backward returns: its printed lines (a list of str, as before), the
    ``steps`` of the walk (newest entry first), the recorded ``graph`` and the
    ``summary`` lines (each leaf's gradient). ``to_html(path)`` writes one
    self-contained page that steps through the walk; ``_repr_html_`` shows the same in
    a notebook."""

    def __init__(self, lines: list[str], steps: list[Step], graph: Graph,
                 summary: list[str]) -> None:
        super().__init__(lines)
        self.steps, self.graph, self.summary = steps, graph, summary

    def __str__(self) -> str:
        return "\n".join(self)

    __repr__ = __str__  # a notebook's text fallback reads as the printed walk

    def to_html(self, path: str | Path) -> Path:
        """Write the step-through page (inline CSS, JS and SVG; no network) to ``path``
        and return it as a Path."""
        path = Path(path)
        path.write_text(page(self, self[0]), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return fragment(self, self[0], global_keys=False)


def explain_backward(loss: Tensor, file: IO[str] | None = None, grad=None,
                     accumulate: bool = True, model: Any = None) -> Explanation:
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
    (sys.stdout by default; pass ``io.StringIO()`` to silence) and returned as an
    Explanation: a list of those lines that also holds the steps and the graph, and
    has ``to_html(path)`` and ``_repr_html_()`` (a page that steps through the walk).

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
    graph = build_graph(loss, label=label, who="explain_backward")
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
    summary = []
    for key, t in story.leaves.items():
        n = story.uses[key]
        summary.append(f"grad of {label(t)} {_shape(t.shape)}: norm "
                       f"{float(np.linalg.norm(found[key])):.4g}"
                       + (f" (sum of {n} paths)" if n > 1 else ""))
        if accumulate:
            t._accumulate(found[key])
    out_file = sys.stdout if file is None else file
    for line in lines + summary:
        print(line, file=out_file)
    return Explanation(lines + summary, story.steps, graph, summary)


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
