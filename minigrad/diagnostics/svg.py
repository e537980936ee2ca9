"""The recorded graph as SVG, laid out in pure Python (no Graphviz needed).

A small layered (Sugiyama-style) layout: every node's layer is its longest path from
a source, so data flows top to bottom; the order inside a layer comes from a few
barycenter sweeps, which untangle most crossings of the small graphs a student
draws. It reads the same graph walk as ``to_dot`` (``graph.build_graph``), so both
pictures always show the same ops, tensors and edges.
"""
from __future__ import annotations

import shutil
import subprocess
from html import escape
from pathlib import Path
from typing import Any

from ..tensor import Tensor
from .graph import Graph, build_graph, shape_text, to_dot

_CHAR_W, _LINE_H, _PAD = 6.6, 14, 10   # text metrics of 11px Helvetica, roughly
_GAP_X, _GAP_Y, _SWEEPS = 18, 34, 4
_FORMATS = ("svg", "png", "pdf")
_FILL = {"leaf": "#9ecae1", "const": "#eeeeee", "result": "#ffffff", "op": "#fdd0a2"}


def _texts(graph: Graph) -> dict[str, list[str]]:
    texts = {t.key: [t.label, f"{shape_text(t.shape)} {t.dtype}"]
             for t in graph.tensors.values()}
    texts.update({op.key: [f"{op.name} #{op.seq}"] for op in graph.ops})
    return texts


def _layers(graph: Graph) -> dict[str, int]:
    """Longest path from a source (ops come oldest first, so one pass suffices); then
    each leaf moves down to just above its first consumer, next to where it is used."""
    layer = {key: 0 for key in graph.tensors}
    made = {op.output for op in graph.ops}
    for op in graph.ops:
        layer[op.key] = 1 + max((layer[k] for _, k in op.inputs), default=-1)
        if op.output is not None:
            layer[op.output] = max(layer[op.output], layer[op.key] + 1)
    first_use: dict[str, int] = {}
    for op in graph.ops:
        for _, k in op.inputs:
            if k not in made:
                first_use[k] = min(first_use.get(k, layer[op.key]), layer[op.key])
    layer.update({k: n - 1 for k, n in first_use.items()})
    return layer


def _order(graph: Graph, layer: dict[str, int]) -> list[list[str]]:
    """Nodes per layer, reordered by the mean position of their neighbours."""
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for key in [*graph.tensors, *(op.key for op in graph.ops)]:
        rows[layer[key]].append(key)
    ups: dict[str, list[str]] = {k: [] for k in layer}
    downs: dict[str, list[str]] = {k: [] for k in layer}
    for a, b, _ in graph.edges():
        ups[b].append(a)
        downs[a].append(b)
    for sweep in range(_SWEEPS):
        forward = sweep % 2 == 0
        seq = range(1, len(rows)) if forward else range(len(rows) - 2, -1, -1)
        for r in seq:
            ref = rows[r - 1] if forward else rows[r + 1]
            pos = {k: i for i, k in enumerate(ref)}
            near = ups if forward else downs

            def centre(k: str, i: int) -> float:
                got = [pos[n] for n in near[k] if n in pos]
                return sum(got) / len(got) if got else i
            rows[r] = [k for _, k in sorted((centre(k, i), k) for i, k in enumerate(rows[r]))]
    return rows


def _place(rows: list[list[str]], texts: dict[str, list[str]]):
    """Centre, width and height of every node; rows centred on the widest."""
    size = {k: (max(len(s) for s in t) * _CHAR_W + 2 * _PAD, len(t) * _LINE_H + _PAD)
            for k, t in texts.items()}
    widths = [sum(size[k][0] for k in row) + _GAP_X * (len(row) - 1) for row in rows]
    total_w = max(widths) + 2 * _GAP_X
    place, y = {}, _GAP_X
    for row, width in zip(rows, widths):
        height = max(size[k][1] for k in row)
        x = (total_w - width) / 2
        for k in row:
            w, h = size[k]
            place[k] = (x + w / 2, y + height / 2, w, h)
            x += w + _GAP_X
        y += height + _GAP_Y
    return place, total_w, y - _GAP_Y + _GAP_X


def _node_svg(graph: Graph, key: str, box, lines: list[str], prefix: str) -> str:
    cx, cy, w, h = box
    op = key.startswith("f")
    kind = "op" if op else graph.tensors[key].kind
    cls = f"node {'op' if op else 'tensor ' + kind}"
    if not op and graph.tensors[key].is_root:
        cls += " root"
    if op:
        shape = (f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" '
                 f'height="{h:.1f}" rx="6" fill="{_FILL[kind]}" stroke="#555"/>')
    else:
        stroke = ' stroke="#d62728" stroke-width="2.5"' if "root" in cls else \
            ' stroke="#555" stroke-width="1.8"' if kind == "leaf" else ' stroke="#555"'
        shape = (f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
                 f'fill="{_FILL[kind]}"{stroke}/>')
    top = cy - (len(lines) - 1) * _LINE_H / 2 + 4
    text = "".join(f'<text x="{cx:.1f}" y="{top + i * _LINE_H:.1f}">{escape(s)}</text>'
                   for i, s in enumerate(lines))
    return (f'<g id="{prefix}{key}" class="{cls}"><title>{escape(" ".join(lines))}'
            f"</title>{shape}{text}</g>")


def _edge_svg(a, b, label: str, arrow: str, port: float) -> str:
    (x1, y1, _, h1), (x2, y2, w2, h2) = a, b
    x2 += port * w2
    y1, y2 = y1 + h1 / 2, y2 - h2 / 2 - 2
    mid = (y1 + y2) / 2
    path = (f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} '
            f'{x2:.1f},{y2:.1f}" marker-end="url(#{arrow})"/>')
    if label:
        path += (f'<text class="edge-label" x="{(x1 + x2) / 2 + 5:.1f}" '
                 f'y="{mid + 3:.1f}">{escape(label)}</text>')
    return path


def _port(graph: Graph, target: str, label: str) -> float:
    """Where on the top of an op input ``label`` enters, as a fraction of its width,
    so the inputs of a multi-input op arrive side by side in their order."""
    if not label:
        return 0.0
    n = next(len(op.inputs) for op in graph.ops if op.key == target)
    slot = [i for i, _ in next(op.inputs for op in graph.ops if op.key == target)]
    return (slot.index(int(label)) + 0.5) / n - 0.5


def to_svg(tensor_or_graph: Tensor | Graph, path: str | Path | None = None,
           model: Any = None, id_prefix: str = "") -> str:
    """The recorded graph of a tensor (or a ``Graph`` from ``build_graph``) as SVG text.

    Ops are orange rounded boxes ("Name #seq"), tensors ellipses with label, shape and
    dtype: trainable leaves blue, constants grey, the output outlined red; data flows
    top to bottom. Every node is a ``<g id="{id_prefix}{key}">`` with class ``op`` or
    ``tensor`` (op keys are "f<seq>", tensor keys "t<k>"), which a page can highlight.
    Writes the text to ``path`` when given. Raises what ``build_graph`` raises.
    """
    graph = tensor_or_graph if isinstance(tensor_or_graph, Graph) else \
        build_graph(tensor_or_graph, model, who="to_svg")
    texts = _texts(graph)
    place, width, height = _place(_order(graph, _layers(graph)), texts)
    arrow = f"{id_prefix}mg-arrow"
    edges = "".join(_edge_svg(place[a], place[b], lab, arrow, _port(graph, b, lab))
                    for a, b, lab in graph.edges())
    nodes = "".join(_node_svg(graph, k, place[k], texts[k], id_prefix) for k in texts)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" class="mg-graph" '
           f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} '
           f'{height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11">'
           f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#777"/></marker></defs>'
           '<style>.mg-graph text{text-anchor:middle}.mg-graph .edges path{fill:none;'
           'stroke:#777}.mg-graph .edge-label{font-size:9px;fill:#777;'
           'text-anchor:start}</style>'
           f'<g class="edges">{edges}</g><g class="nodes">{nodes}</g></svg>')
    if path is not None:
        Path(path).write_text(svg, encoding="utf-8")
    return svg


def render(tensor: Tensor, path: str | Path, format: str | None = None,
           model: Any = None) -> Path:
    """Draw the graph of ``tensor`` into ``path``.

    format: "svg", "png" or "pdf"; by default taken from the path's suffix, else svg.
    Uses Graphviz's ``dot`` program when it is on PATH; without it an svg is drawn by
    ``to_svg`` (pure Python), while png and pdf need ``dot``. Returns the path written.
    Raises ValueError for another format and RuntimeError when png/pdf is asked for
    and ``dot`` is not installed (it is not a Python package: ``apt install
    graphviz``, ``brew install graphviz`` or ``conda install graphviz``).
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"render: format must be one of {_FORMATS}, got {fmt!r}")
    exe = shutil.which("dot")
    if exe is None and fmt == "svg":
        to_svg(tensor, path, model=model)
        return path
    dot_text = to_dot(tensor, model=model)
    if exe is None:
        raise RuntimeError(
            f"render: {fmt} needs the Graphviz 'dot' program, which was not found on PATH; "
            "install graphviz (Debian/Ubuntu: apt install graphviz; macOS: brew install "
            "graphviz; conda: conda install graphviz), or ask for an .svg, which minigrad "
            "draws itself")
    done = subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot_text.encode(),
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"render: dot failed with exit code {done.returncode}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path
