"""The recorded graph of a tensor: one walk of the tape (``build_graph``) and its DOT text.

The graph is read from the tape: ``tensor._ctx`` is the Function that produced the
tensor, ``fn.inputs`` the tensors it consumed. ``backward()`` releases what it walks
(``fn.inputs`` emptied, ``fn.ctx`` None) unless called with ``retain_graph=True``, so
draw a graph before backward, or run backward with ``retain_graph=True`` first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..autograd import Function, reachable
from ..tensor import Tensor

class GraphReleasedError(RuntimeError):
    """The graph was freed by an earlier backward() without retain_graph=True."""


def check_retained(fn: Function, who: str) -> None:
    """Raise GraphReleasedError naming the op when backward() already released fn."""
    if fn.ctx is None:
        raise GraphReleasedError(
            f"{who}: the graph through {type(fn).__name__} #{fn.seq} was released by an "
            "earlier backward(); call backward(retain_graph=True) to keep it, or call "
            f"{who} before backward")


def entries(root: Tensor, who: str = "to_dot") -> list[Function]:
    """Tape entries root depends on, newest first; raises if any was released."""
    if not isinstance(root, Tensor):
        raise TypeError(f"{who}: expected a minigrad Tensor, got {type(root).__name__}")
    fns = reachable(root)
    for fn in fns:
        check_retained(fn, who)
    return fns


class Labels:
    """Stable short names for the tensors of one graph: ``Tensor.name`` when set, the
    parameter's dotted name when a model is given, ``out#<seq>`` for an op's result,
    ``leaf<k>``/``const<k>`` for the others."""

    def __init__(self, model: Any = None) -> None:
        self._names: dict[int, str] = {}
        self._counts = {"leaf": 0, "const": 0}
        self._keep: list[Tensor] = []  # ids stay unique only while the tensors live
        if model is not None:
            if not hasattr(model, "named_parameters"):
                raise TypeError(f"model must be a Module (to name its parameters), got "
                                f"{type(model).__name__}")
            for name, p in model.named_parameters():
                self._keep.append(p)
                self._names[id(p)] = p.name or name

    def __call__(self, t: Tensor) -> str:
        key = id(t)
        if key not in self._names:
            self._keep.append(t)
            if t.name:
                name = t.name
            elif t._ctx is not None and getattr(t._ctx, "seq", None) is not None:
                name = f"out#{t._ctx.seq}"
            else:
                kind = "leaf" if t.requires_grad else "const"
                name = f"{kind}{self._counts[kind]}"
                self._counts[kind] += 1
            self._names[key] = name
        return self._names[key]


@dataclass
class TensorNode:
    """One tensor of a recorded graph: ``kind`` is "leaf" (requires grad, no op made it,
    so backward fills its ``.grad``), "const" (a leaf without grad) or "result"."""
    key: str
    label: str
    shape: tuple[int, ...]
    dtype: str
    kind: str
    requires_grad: bool
    is_root: bool


@dataclass
class OpNode:
    """One tape entry: ``inputs`` holds (position, tensor key) for its Tensor inputs."""
    key: str
    name: str
    seq: int
    inputs: list[tuple[int, str]]
    output: str | None


@dataclass
class Graph:
    """The recorded graph of one tensor, ops oldest first; what to_dot and to_svg draw."""
    tensors: dict[str, TensorNode] = field(default_factory=dict)
    ops: list[OpNode] = field(default_factory=list)
    key_of: dict[int, str] = field(default_factory=dict)  # id(tensor) -> key, while alive

    def edges(self) -> list[tuple[str, str, str]]:
        """(source key, target key, label) for every input -> op and op -> output edge;
        the label is the input's position when an op has several inputs, else ""."""
        out = []
        for op in self.ops:
            for i, key in op.inputs:
                out.append((key, op.key, str(i) if len(op.inputs) > 1 else ""))
            if op.output is not None:
                out.append((op.key, op.output, ""))
        return out


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as Python prints a tuple: (3,) for one axis, () for a scalar."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def build_graph(tensor: Tensor, model: Any = None, label: Labels | None = None,
                who: str = "to_dot") -> Graph:
    """Walk the tape behind ``tensor`` once and return its tensors and ops.

    Tensor keys are "t0", "t1", ... in drawing order (the root first), op keys
    "f<seq>". ``label`` (a Labels) lets a caller share the names with its own text.
    Raises TypeError for a non-Tensor and GraphReleasedError for a released graph.
    """
    fns = entries(tensor, who)
    label = label or Labels(model)
    graph = Graph()
    keys = graph.key_of

    def node(t: Tensor) -> str:
        if id(t) not in keys:
            keys[id(t)] = key = f"t{len(keys)}"
            kind = "result" if t._ctx is not None else ("leaf" if t.requires_grad
                                                         else "const")
            graph.tensors[key] = TensorNode(key, label(t), tuple(t.shape), str(t.dtype),
                                            kind, bool(t.requires_grad), t is tensor)
        return keys[id(t)]

    node(tensor)
    for fn in reversed(fns):  # oldest first reads top-down like the program did
        inputs = [(i, node(t)) for i, t in enumerate(fn.inputs) if isinstance(t, Tensor)]
        out = fn.output()
        graph.ops.append(OpNode(f"f{fn.seq}", type(fn).__name__, fn.seq, inputs,
                                None if out is None else node(out)))
    return graph


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tensor_node(t: TensorNode) -> str:
    text = f"{t.label}\\n{shape_text(t.shape)} {t.dtype}"
    if t.kind == "leaf":
        style = 'shape=ellipse, style="filled,bold", fillcolor="#9ecae1"'  # trainable leaf
        text += "\\nleaf, requires_grad"
    elif t.kind == "const":
        style = 'shape=ellipse, style=filled, fillcolor="#eeeeee", fontcolor="#555555"'
        text += "\\nconstant"
    else:
        style = "shape=ellipse"
        text += "\\nrequires_grad" if t.requires_grad else ""
    if t.is_root:
        style += ', peripheries=2, color="#d62728"'
    return f'  {t.key} [label="{text}", {style}];'


def to_dot(tensor: Tensor, name: str = "minigrad", model: Any = None) -> str:
    """The graph recorded for ``tensor`` as Graphviz DOT text.

    Ops are boxes (``Name #seq``: the class and its position on the tape); tensors are
    ellipses with their label, shape and dtype. Leaves that require grad (what
    backward fills ``.grad`` of) are blue and bold, constants grey, the output has a
    double red outline. Labels use ``Tensor.name`` when set. Edges follow the data:
    input tensor -> op -> output tensor, labelled with the input's position when an op
    has several. With ``model`` (a Module) its parameters are labelled by their
    dotted names ("0.weight").

    Raises TypeError when ``tensor`` is not a Tensor and GraphReleasedError (a
    RuntimeError) when backward() already freed part of the graph.
    """
    graph = build_graph(tensor, model)
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    lines += [_tensor_node(t) for t in graph.tensors.values()]
    lines += [f'  {op.key} [label="{op.name} #{op.seq}", shape=box, style="rounded,'
              f'filled", fillcolor="#fdd0a2"];' for op in graph.ops]
    lines += [f"  {a} -> {b}" + (f' [label="{lab}"]' if lab else "") + ";"
              for a, b, lab in graph.edges()]
    lines.append("}")
    return "\n".join(lines) + "\n"
