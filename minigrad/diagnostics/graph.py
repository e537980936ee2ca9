"""The recorded graph of a tensor as Graphviz DOT text, and its rendering to SVG/PNG.

The graph is read from the tape: ``tensor._ctx`` is the Function that produced the
tensor, ``fn.inputs`` the tensors it consumed. ``backward()`` releases what it walks
(``fn.inputs`` emptied, ``fn.ctx`` None) unless called with ``retain_graph=True``, so
draw a graph before backward, or run backward with ``retain_graph=True`` first.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

from ..autograd import Function, reachable
from ..tensor import Tensor

_FORMATS = ("svg", "png", "pdf")


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


def _tensor_inputs(fn: Function) -> Iterator[tuple[int, Tensor]]:
    for i, t in enumerate(fn.inputs):
        if isinstance(t, Tensor):
            yield i, t


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if t.ndim == 1 else "") + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tensor_node(t: Tensor, node: str, label: str, is_root: bool) -> str:
    text = f"{label}\\n{_shape(t)} {t.dtype}"
    if t._ctx is None and t.requires_grad:
        style = 'shape=ellipse, style="filled,bold", fillcolor="#9ecae1"'  # trainable leaf
        text += "\\nleaf, requires_grad"
    elif t._ctx is None:
        style = 'shape=ellipse, style=filled, fillcolor="#eeeeee", fontcolor="#555555"'
        text += "\\nconstant"
    else:
        style = "shape=ellipse"
        text += "\\nrequires_grad" if t.requires_grad else ""
    if is_root:
        style += ', peripheries=2, color="#d62728"'
    return f'  {node} [label="{text}", {style}];'


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
    fns = entries(tensor)
    label = Labels(model)
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    nodes: dict[int, str] = {}  # id(tensor) -> "t0", "t1", ... in drawing order

    def draw(t: Tensor) -> str:
        if id(t) not in nodes:
            nodes[id(t)] = f"t{len(nodes)}"
            lines.append(_tensor_node(t, nodes[id(t)], label(t), t is tensor))
        return nodes[id(t)]

    draw(tensor)
    for fn in reversed(fns):  # oldest first reads top-down like the program did
        op = type(fn).__name__
        lines.append(f'  f{fn.seq} [label="{op} #{fn.seq}", shape=box, style="rounded,'
                     f'filled", fillcolor="#fdd0a2"];')
        inputs = list(_tensor_inputs(fn))
        for i, t in inputs:
            edge_label = f' [label="{i}"]' if len(inputs) > 1 else ""
            lines.append(f"  {draw(t)} -> f{fn.seq}{edge_label};")
        out = fn.output()
        if out is not None:
            lines.append(f"  f{fn.seq} -> {draw(out)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor: Tensor, path: str | Path, format: str | None = None,
           model: Any = None) -> Path:
    """Draw the graph of ``tensor`` into ``path`` with Graphviz's ``dot`` program.

    format: "svg", "png" or "pdf"; by default taken from the path's suffix, else svg.
    Returns the path written. Raises ValueError for another format and RuntimeError
    when ``dot`` is not installed (it is not a Python package: ``apt install
    graphviz``, ``brew install graphviz`` or ``conda install graphviz``); to_dot()
    still gives the text, which online viewers also accept.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"render: format must be one of {_FORMATS}, got {fmt!r}")
    dot_text = to_dot(tensor, model=model)
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            "render: the Graphviz 'dot' program was not found on PATH; install graphviz "
            "(Debian/Ubuntu: apt install graphviz; macOS: brew install graphviz; conda: "
            "conda install graphviz), or write to_dot(tensor) to a .dot file and view it "
            "elsewhere")
    done = subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot_text.encode(),
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"render: dot failed with exit code {done.returncode}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path
