"""The tape: Function and Context, recording, the reverse walk, unbroadcast, no_grad,
GradientTape.

Every op applied with grad enabled to a tensor that needs a gradient creates one
Function instance: the tape entry. It holds the inputs, what forward saved in its
Context, and a sequence number that is its position on the (global, conceptual)
tape. ``backward()`` collects the entries reachable from the output and runs them
newest first, which is exactly the tape walked in reverse restricted to what the
output depends on. Entries are linked only from the tensors they produced, so a graph
nobody references is freed by Python, and backward releases what it used unless
``retain_graph=True``.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
import weakref
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

_grad_enabled = True
_anomaly = False
_tapes: list["GradientTape"] = []
_sequence = itertools.count()
# Callbacks queued by ops' backward to run once the current backward pass is over.
_end_of_backward: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "minigrad_end_of_backward", default=None)


class Context:
    """What one application of an op keeps for its backward (``ctx.save(...)``, plus
    any attribute set in forward). ``needs_input_grad[i]`` tells backward which
    gradients are wanted, so it can skip the others."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self.saved: tuple = ()

    def save(self, *arrays: Any) -> None:
        self.saved = arrays


class Function:
    """Base of every op. Subclasses define::

        def forward(self, ctx, *inputs, **params) -> np.ndarray
        def backward(self, ctx, dy) -> gradient, or tuple of one gradient per input

    forward receives the arrays of Tensor inputs (other positional values as they
    are); backward returns one array (or None) per positional input. Call an op
    with ``MyOp.apply(*inputs, **params)``; broadcasting is undone by the engine.
    """

    __slots__ = ("ctx", "inputs", "seq", "output", "__weakref__")

    def forward(self, ctx: Context, *inputs: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, ctx: Context, dy: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> "Tensor":
        # The hot path of the whole engine: one pass over the inputs collects the
        # arrays, the float dtype check and which inputs want a gradient.
        tensor_cls = _tensor_class()
        args, needs, dtype, record = [], [], None, False
        for t in inputs:
            if isinstance(t, tensor_cls):
                data = t.data
                if data.dtype.kind == "f":
                    if dtype is None:
                        dtype = data.dtype
                    elif data.dtype != dtype:
                        _raise_mixed(cls.__name__, inputs, tensor_cls)
                wants = t.requires_grad or (bool(_tapes) and _watched(t))
                record |= wants
                needs.append(wants)
                args.append(data)
            else:
                needs.append(False)
                args.append(t)
        record &= _grad_enabled
        fn = cls()
        ctx = Context(tuple(needs))
        result = tensor_cls._wrap(fn.forward(ctx, *args, **params), record)
        if _anomaly:
            _check_forward(cls.__name__, args, result.data)
        if record:
            fn.ctx, fn.inputs, fn.seq = ctx, inputs, next(_sequence)
            fn.output = weakref.ref(result)
            result._ctx = fn
            for tape in _tapes:
                tape._entries.append(fn)
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{getattr(self, 'seq', '?')}>"


_Tensor = None


def _tensor_class():
    global _Tensor
    if _Tensor is None:
        from .tensor import Tensor
        _Tensor = Tensor
    return _Tensor


def _watched(t: "Tensor") -> bool:
    return any(id(t) in tape._watched for tape in _tapes)


def _raise_mixed(op: str, inputs: Sequence[Any], tensor_cls: type) -> None:
    shapes = ", ".join(f"{t.data.dtype}{tuple(t.shape)}" for t in inputs
                       if isinstance(t, tensor_cls))
    from .errors import DTypeError
    raise DTypeError(f"{op.lower()}: cannot mix float32 and float64 operands, got "
                    f"{shapes}; convert one with .astype()")


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum grad over the axes that broadcasting added or stretched, back to shape."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _as_grads(fn: Function, raw: Any) -> tuple:
    grads = raw if isinstance(raw, tuple) else (raw,)
    if len(grads) != len(fn.inputs):
        raise RuntimeError(f"{type(fn).__name__}.backward returned {len(grads)} "
                           f"gradients for {len(fn.inputs)} inputs")
    return grads


def run_backward(entries: Sequence[Function], root: "Tensor", seed: np.ndarray,
                 wanted: Sequence["Tensor"] | None = None,
                 retain_graph: bool = False) -> dict[int, np.ndarray]:
    """Walk ``entries`` newest first, pushing gradients from ``root``.

    With ``wanted`` None, leaf gradients accumulate into ``.grad`` (backward());
    otherwise nothing is written and the gradients of the wanted tensors are
    returned by id (GradientTape.gradient).
    """
    queue: list = []
    token = _end_of_backward.set(queue)
    try:
        found = _walk(entries, root, seed, wanted, retain_graph)
    finally:
        _end_of_backward.reset(token)
    for callback in queue:  # after every gradient of this pass has been delivered
        callback()
    return found


def queue_callback(callback: Any) -> None:
    """Run ``callback()`` when the backward pass now running has finished (every leaf
    gradient delivered). For an op's backward that needs the whole pass done, e.g.
    averaging gradients across processes (PyTorch's ``queue_callback``).
    Raises RuntimeError outside a backward pass."""
    queue = _end_of_backward.get()
    if queue is None:
        raise RuntimeError("queue_callback: can only be called during a backward pass")
    queue.append(callback)


def _walk(entries: Sequence[Function], root: "Tensor", seed: np.ndarray,
          wanted: Sequence["Tensor"] | None, retain_graph: bool) -> dict[int, np.ndarray]:
    from .tensor import Tensor

    wanted_ids = None if wanted is None else {id(t) for t in wanted}
    found: dict[int, np.ndarray] = {}
    pending: dict[int, np.ndarray] = {id(root): seed}
    keep: dict[int, Tensor] = {id(root): root}

    def deliver(t: Tensor, g: np.ndarray) -> None:
        key = id(t)
        if t._ctx is None and wanted_ids is None:
            if t.requires_grad:
                t._accumulate(g)
            return
        pending[key] = pending[key] + g if key in pending else g
        keep[key] = t

    if root._ctx is None:  # a leaf: its gradient is the seed itself
        pending.pop(id(root))
        deliver(root, seed)
    for fn in entries:
        out = fn.output()
        if out is None or id(out) not in pending:
            continue
        dy = pending.pop(id(out))
        if wanted_ids is not None and id(out) in wanted_ids:
            found[id(out)] = dy
        if fn.ctx is None:
            raise RuntimeError(
                f"backward: the graph through {type(fn).__name__} was already freed by "
                "an earlier backward; pass retain_graph=True to the first call to "
                "backward through it twice")
        grads = _as_grads(fn, fn.backward(fn.ctx, dy))
        if _anomaly:
            _check_backward(fn, dy, grads)
        for inp, g in zip(fn.inputs, grads):
            if g is None or not isinstance(inp, Tensor):
                continue
            if not (inp.requires_grad or (wanted_ids and id(inp) in wanted_ids)):
                continue
            g = unbroadcast(np.asarray(g, dtype=inp.data.dtype), inp.shape)
            deliver(inp, g)
        if not retain_graph:
            fn.ctx, fn.inputs = None, ()
    if wanted_ids is not None:
        for key, g in pending.items():  # leaves and watched constants
            if key in wanted_ids:
                found[key] = g
    return found


def reachable(root: "Tensor") -> list[Function]:
    """The tape entries root depends on, newest first (the reverse walk order)."""
    seen: dict[int, Function] = {}
    stack = [root._ctx] if root._ctx is not None else []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen[id(fn)] = fn
        stack.extend(t._ctx for t in fn.inputs
                     if getattr(t, "_ctx", None) is not None)
    return sorted(seen.values(), key=lambda f: f.seq, reverse=True)


class AnomalyError(FloatingPointError):
    """An op produced NaN/Inf under detect_anomaly(); the message names it."""


def _stats(a: Any) -> str:
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.size == 0:
        return f"{a.dtype}{a.shape}"
    finite = a[np.isfinite(a)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
    return (f"{a.dtype}{a.shape} min {lo:.4g} max {hi:.4g} nan {int(np.isnan(a).sum())} "
            f"inf {int(np.isinf(a).sum())}")


def _check_forward(op: str, args: Sequence[Any], out: np.ndarray) -> None:
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        inputs = "; ".join(_stats(a) for a in args if isinstance(a, np.ndarray))
        raise AnomalyError(f"detect_anomaly: {op} produced non-finite values in forward "
                           f"({_stats(out)}); its inputs: {inputs}")


def _check_backward(fn: Function, dy: np.ndarray, grads: tuple) -> None:
    for i, g in enumerate(grads):
        if g is not None and not np.isfinite(g).all():
            raise AnomalyError(
                f"detect_anomaly: {type(fn).__name__}.backward (tape entry #{fn.seq}) "
                f"returned non-finite values in the gradient of input {i} ({_stats(g)}); "
                f"incoming gradient: {_stats(dy)}")


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Check every op's output in forward and every gradient in backward for NaN/Inf
    and raise AnomalyError naming the first op that made one. Slow: for debugging."""
    global _anomaly
    previous, _anomaly = _anomaly, enabled
    try:
        yield
    finally:
        _anomaly = previous


def set_detect_anomaly(enabled: bool) -> None:
    """Turn anomaly detection on or off globally (the flag form of detect_anomaly)."""
    global _anomaly
    _anomaly = bool(enabled)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Ops inside the block record nothing (inference, parameter updates)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Turn recording back on inside a no_grad block."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    return _grad_enabled


class GradientTape:
    """TensorFlow-style tape: records the ops run inside ``with`` on its own list.

    ``tape.gradient(target, sources)`` walks that list in reverse and returns the
    gradient of target with respect to each source (None when unconnected) without
    touching ``.grad``. Sources are tensors that require grad or were passed to
    ``watch``. A non-persistent tape answers once.
    """

    def __init__(self, persistent: bool = False):
        self.persistent = persistent
        self._entries: list[Function] = []
        self._watched: dict[int, "Tensor"] = {}
        self._used = False

    def __enter__(self) -> "GradientTape":
        _tapes.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _tapes.remove(self)

    def watch(self, *tensors: "Tensor") -> None:
        for t in tensors:
            if t.data.dtype.kind != "f":
                raise TypeError(f"GradientTape.watch: only float tensors can be watched, "
                                f"got {t.data.dtype}")
            self._watched[id(t)] = t

    @property
    def entries(self) -> list[Function]:
        """The recorded ops in execution order (what gradient walks backwards)."""
        return list(self._entries)

    def gradient(self, target: "Tensor", sources: Any, output_gradients: Any = None):
        from .tensor import Tensor

        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient: a non-persistent tape can be used "
                               "once; create it with GradientTape(persistent=True)")
        self._used = True
        single = isinstance(sources, Tensor)
        srcs = [sources] if single else list(sources)
        if output_gradients is None:
            seed = np.ones(target.shape, dtype=target.dtype)
        else:
            seed = np.asarray(getattr(output_gradients, "data", output_gradients),
                              dtype=target.dtype).reshape(target.shape)
        found = run_backward(self._entries[::-1], target, seed, wanted=srcs,
                             retain_graph=True)
        if not self.persistent:
            self._entries.clear()
        grads = [Tensor._wrap(found[id(s)]) if id(s) in found else None for s in srcs]
        return grads[0] if single else grads
