"""The page of explain_backward: the recorded graph and one panel per step of the walk.

Everything is inline (CSS, a few lines of JS, the SVG from ``to_svg``) so the page
works offline and from a file, and in a notebook output. Without JS the first step
shows and the rest stay hidden; with JS, Next/Previous and the arrow keys move
through the steps and the current op is highlighted in the graph.
"""
from __future__ import annotations

import itertools
from html import escape
from typing import Any

import numpy as np

from .graph import shape_text
from .svg import to_svg

_SMALL = 16   # tensors with at most this many elements show their values
_ids = itertools.count()

_CSS = """
.mg-explain{font:14px/1.4 Helvetica,Arial,sans-serif;color:#222;outline:none}
.mg-explain h2{font-size:15px;margin:4px 0 8px}
.mg-explain .mg-body{display:flex;gap:16px;align-items:flex-start}
.mg-explain .mg-graphbox{flex:0 0 auto;max-height:80vh;overflow:auto;border:1px solid #ddd}
.mg-explain .mg-panel{flex:1 1 360px;min-width:300px}
.mg-explain .mg-op{font-size:18px;font-weight:bold}
.mg-explain .mg-rule{font-family:monospace;background:#f6f6f6;padding:4px 6px}
.mg-explain pre{margin:2px 0 6px;font-size:12px;background:#fafafa;padding:4px}
.mg-explain table{border-collapse:collapse;margin:4px 0}
.mg-explain td,.mg-explain th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;
 text-align:left;font-size:13px}
.mg-explain .mg-note{color:#8c510a}
.mg-explain .mg-nav button{font-size:14px;margin-right:6px}
.mg-explain .node.current rect{fill:#ffd54f;stroke:#d62728;stroke-width:3}
.mg-explain .node.receives ellipse{stroke:#2ca02c;stroke-width:3}
.mg-explain .node.emits ellipse{stroke:#ff7f0e;stroke-width:3}
"""

_JS = """
(function(){
 var root=document.getElementById(%(id)s), pre=%(id)s+'-';
 var steps=root.querySelectorAll('.mg-step'), i=0;
 var prev=root.querySelector('.mg-prev'), next=root.querySelector('.mg-next');
 function mark(keys, cls){(keys||'').split(' ').forEach(function(k){
   var n=k&&document.getElementById(pre+k); if(n){n.classList.add(cls);}});}
 function show(k){
  i=Math.max(0,Math.min(steps.length-1,k));
  steps.forEach(function(s,j){s.hidden=(j!==i);});
  root.querySelectorAll('.node').forEach(function(n){
    n.classList.remove('current','receives','emits');});
  var s=steps[i]; mark(s.dataset.op,'current'); mark(s.dataset.inputs,'receives');
  mark(s.dataset.output,'emits');
  var op=document.getElementById(pre+s.dataset.op);
  if(op&&op.scrollIntoView){op.scrollIntoView({block:'nearest',inline:'nearest'});}
  root.querySelector('.mg-pos').textContent=(i+1)+' / '+steps.length;
  prev.disabled=(i===0); next.disabled=(i===steps.length-1);
 }
 prev.addEventListener('click',function(){show(i-1);});
 next.addEventListener('click',function(){show(i+1);});
 var keys=root.dataset.globalKeys==='1'?document:root;
 keys.addEventListener('keydown',function(e){
  if(e.key==='ArrowRight'||e.key==='ArrowDown'){show(i+1);e.preventDefault();}
  if(e.key==='ArrowLeft'||e.key==='ArrowUp'){show(i-1);e.preventDefault();}
 });
 show(0);
})();
"""


def _array(a: np.ndarray | None) -> str:
    if a is None:
        return "<i>nothing (not differentiable, or needs no grad)</i>"
    head = f"shape {shape_text(a.shape)}, norm {float(np.linalg.norm(a)):.4g}"
    if a.size > _SMALL:
        return escape(head)
    values = np.array2string(a, precision=4, suppress_small=True, max_line_width=60)
    return f"{escape(head)}<pre>{escape(values)}</pre>"


def _step_html(step: Any, index: int, total: int, graph: Any) -> str:
    rows = "".join(
        f"<tr><td>{i}</td><td>{escape(name)} {escape(shape_text(shape))}</td>"
        f"<td>{_array(g)}</td></tr>" for i, name, shape, g in step.sends)
    notes = "".join(f'<p class="mg-note">{escape(n)}</p>' for n in step.notes)
    inputs = " ".join(graph.key_of[id(t)] for t, (*_, g) in zip(step.inputs, step.sends)
                      if g is not None and id(t) in graph.key_of)
    output = next((op.output or "" for op in graph.ops if op.seq == step.seq), "")
    return (f'<section class="mg-step" data-op="f{step.seq}" data-inputs="{inputs}" '
            f'data-output="{output}"{" hidden" if index else ""}>'
            f'<div class="mg-op">{escape(step.op)} #{step.seq}</div>'
            f"<p>step {index + 1} of {total} of the reverse walk (newest tape entry "
            f"first)</p>"
            f'<p>rule: <span class="mg-rule">{escape(step.rule)}</span></p>'
            f"<p>incoming gradient d{escape(step.output)}: {_array(step.dy)}</p>"
            f"<table><tr><th>input</th><th>tensor</th><th>gradient sent to it</th></tr>"
            f"{rows}</table>{notes}</section>")


def fragment(explanation: Any, title: str, global_keys: bool) -> str:
    """The graph and the step panels in one ``<div>`` with its own ids, CSS and JS.

    global_keys: listen to the arrow keys on the whole document (a page of its own)
    rather than only while the div has the focus (a notebook with other outputs).
    """
    uid = f"mg-explain-{next(_ids)}"
    graph = explanation.graph
    steps = explanation.steps
    svg = to_svg(graph, id_prefix=f"{uid}-")
    panels = "".join(_step_html(s, i, len(steps), graph) for i, s in enumerate(steps))
    summary = "".join(f"<li>{escape(line)}</li>" for line in explanation.summary)
    return (f'<div class="mg-explain" id="{uid}" tabindex="0" '
            f'data-global-keys="{1 if global_keys else 0}"><style>{_CSS}</style>'
            f"<h2>{escape(title)}</h2>"
            '<div class="mg-nav"><button class="mg-prev">&larr; Previous</button>'
            '<button class="mg-next">Next &rarr;</button> <span class="mg-pos"></span>'
            " (or the arrow keys). In the graph: the current op yellow, the tensor whose "
            "gradient arrives orange, the inputs it sends gradients to green.</div>"
            f'<div class="mg-body"><div class="mg-graphbox">{svg}</div>'
            f'<div class="mg-panel">{panels}<h2>gradients of the leaves</h2>'
            f"<ul>{summary}</ul></div></div>"
            f'<script>{_JS % {"id": repr(uid)}}</script></div>')


def page(explanation: Any, title: str) -> str:
    """A whole HTML document around ``fragment``, with the arrow keys on the page."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title></head><body>"
            f"{fragment(explanation, title, global_keys=True)}</body></html>\n")
