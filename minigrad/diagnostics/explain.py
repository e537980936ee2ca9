"""explain_backward: the reverse walk of the tape, told one entry per line.

It runs the walk itself with the engine's own pieces (each entry's ``backward`` and
``autograd.unbroadcast``) so every line says what actually happened: which local
rule was applied, which axes were summed to undo broadcasting, and where a gradient
was added to one already there because a tensor was used twice.
"""
from __future__ import annotations

import sys
from typing import IO, Any

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from .graph import Labels, entries

# The local gradient rule of each op class, keyed by class name so the ops stay as
# they are. y is the op's output, dy the incoming gradient, [c] is 1 where c holds.
# A custom Function may define a class attribute ``rule`` that takes precedence.
RULES: dict[str, str] = {
    "Add": "da = dy, db = dy",
    "Sub": "da = dy, db = -dy",
    "Mul": "da = dy*b, db = dy*a",
    "Div": "da = dy/b, db = -dy*a/b^2",
    "Neg": "dx = -dy",
    "Pow": "dx = dy*p*x^(p-1), dp = dy*y*log(x)",
    "Exp": "dx = dy*y  (y = e^x)",
    "Log": "dx = dy/x",
    "Sqrt": "dx = dy/(2y)",
    "Abs": "dx = dy*sign(x)",
    "Tanh": "dx = dy*(1 - y^2)",
    "Sigmoid": "dx = dy*y*(1 - y)",
    "Relu": "dx = dy*[x > 0]",
    "Maximum": "da = dy*[a >= b], db = dy*[b >= a] (ties split)",
    "Minimum": "da = dy*[a <= b], db = dy*[b <= a] (ties split)",
    "Where": "da = dy*[cond], db = dy*[not cond]",
    "Clip": "dx = dy*[low <= x <= high]",
    "MatMul": "da = dy @ b^T, db = a^T @ dy",
    "Linear": "dx = dy @ W, dW = dy^T @ x, db = sum_rows(dy)",
    "Reshape": "dx = reshape(dy, x.shape)",
    "Permute": "dx = permute(dy, inverse axes)",
    "BroadcastTo": "dx = dy summed over the broadcast axes",
    "GetItem": "dx = zeros(x.shape); dx[index] += dy",
    "Concat": "dx_i = the slice of dy that x_i filled",
    "Stack": "dx_i = dy[i] along the stacked axis",
    "Sum": "dx = dy broadcast back to x.shape",
    "Mean": "dx = dy broadcast back to x.shape / n",
    "Max": "dx = dy at the maxima (ties share)",
    "Min": "dx = dy at the minima (ties share)",
    "Var": "dx = dy*2(x - mean)/(n - ddof)",
    # nn primitives (their classes live in the nn/ops modules of the other layers)
    "Conv2d": "dx = full-correlate(dy, flipped w), dw = correlate(x, dy), db = sum(dy)",
    "MaxPool2d": "dx = dy scattered to each window's argmax",
    "AvgPool2d": "dx = dy/(kh*kw) spread over each window",
    "BatchNorm": "dx = invstd*(dy - mean(dy) - xhat*mean(dy*xhat))*gamma, "
                 "dgamma = sum(dy*xhat), dbeta = sum(dy)",
    "Softmax": "dx = y*(dy - sum(dy*y))",
    "LogSoftmax": "dx = dy - softmax(x)*sum(dy)",
    "CrossEntropy": "dlogits = softmax(logits) - onehot(target), scaled by the reduction",
    "Dropout": "dx = dy*mask/(1 - p)",
    "LeakyRelu": "dx = dy*(1 if x > 0 else alpha)",
    "PRelu": "dx = dy*(1 if x > 0 else a), da = sum(dy*x over x <= 0)",
    "Elu": "dx = dy*scale*(1 if x > 0 else alpha*e^x)  (SELU: fixed alpha, scale)",
    "Gelu": "dx = dy*(Phi(x) + x*phi(x))",
    "Softplus": "dx = dy*sigmoid(beta*x)",
    "Pad2d": "dx = the unpadded centre of dy",
    "BCEWithLogits": "dlogits = sigmoid(logits) - target (weighted, scaled by the reduction)",
    "BinaryCrossEntropy": "dp = (p - target)/(p*(1 - p)) (scaled by the reduction)",
}


def rule_of(fn: Function) -> str:
    """The local gradient rule text for a tape entry."""
    cls = type(fn)
    custom = getattr(cls, "rule", None)
    if isinstance(custom, str):
        return custom
    for klass in cls.__mro__:
        if klass.__name__ in RULES:
            return RULES[klass.__name__]
    doc = (cls.__doc__ or "").strip().splitlines()
    return doc[0] if doc else f"see {cls.__name__}.backward"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _summed_axes(raw: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Axes (of the raw gradient) that unbroadcast sums to reach ``target``."""
    extra = len(raw) - len(target)
    lead = tuple(range(max(extra, 0)))
    stretched = tuple(extra + i for i, n in enumerate(target)
                      if n == 1 and raw[extra + i] != 1)
    return lead + stretched


def explain_backward(loss: Tensor, file: IO[str] | None = None, grad=None,
                     accumulate: bool = True, model: Any = None) -> list[str]:
    """Run backward from ``loss`` and describe each tape entry it walks, newest first.

    loss: the output; a scalar is seeded with 1, otherwise pass ``grad`` (an array or
    Tensor of loss's shape). One line per entry: ``#seq Op  inputs -> output  rule``,
    followed by indented notes for every un-broadcast (the axes summed and the shapes)
    and every accumulation (a tensor used more than once receives a second
    gradient, which is added). A footer gives each leaf's gradient shape and norm.

    The walk follows ``autograd.run_backward`` exactly and always keeps the graph (as
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
    pending: dict[int, np.ndarray] = {id(loss): seed}
    leaves: dict[int, tuple[Tensor, np.ndarray, int]] = {}
    uses: dict[int, int] = {}

    def deliver(t: Tensor, g: np.ndarray, notes: list[str]) -> None:
        key = id(t)
        uses[key] = uses.get(key, 0) + 1
        if t._ctx is None:
            if t.requires_grad:
                old = leaves.get(key)
                leaves[key] = (t, g if old is None else old[1] + g, uses[key])
                if old is not None:
                    notes.append(f"accumulate: {label(t)} is used {uses[key]} times; "
                                 "this gradient is added to the one it already has")
            return
        if key in pending:
            notes.append(f"accumulate: {label(t)} is used {uses[key]} times; this "
                         "gradient is added to the one it already has")
            pending[key] = pending[key] + g
        else:
            pending[key] = g

    if loss._ctx is None:
        deliver(loss, seed, [])
    for fn in fns:
        out = fn.output()
        if out is None or id(out) not in pending:
            continue
        dy = pending.pop(id(out))
        lines.append(_entry_line(fn, out, label))
        raw = fn.backward(fn.ctx, dy)
        grads = raw if isinstance(raw, tuple) else (raw,)
        notes: list[str] = []
        for i, (inp, g) in enumerate(zip(fn.inputs, grads)):
            if g is None or not isinstance(inp, Tensor) or not inp.requires_grad:
                continue
            g = np.asarray(g, dtype=inp.data.dtype)
            if g.shape != inp.shape:
                axes = _summed_axes(g.shape, inp.shape)
                notes.append(f"un-broadcast: input {i} ({label(inp)}) gets a gradient of "
                             f"shape {_shape(g.shape)}, summed over axes {axes} to "
                             f"{_shape(inp.shape)}")
                g = unbroadcast(g, inp.shape)
            deliver(inp, g, notes)
        lines.extend("      " + n for n in notes)
    for t, g, n in leaves.values():
        via = f" (sum of {n} paths)" if n > 1 else ""
        lines.append(f"grad of {label(t)} {_shape(t.shape)}: norm "
                     f"{float(np.linalg.norm(g)):.4g}{via}")
        if accumulate:
            t._accumulate(g)
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
