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
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .anomaly import AnomalyError, check_backward, check_forward  # noqa: F401 (public here)

if TYPE_CHECKING:
    from .tape import GradientTape
    from .tensor import Tensor

# State a ``with`` block sets lives in context variables, so it is per thread (and per
# asyncio task): one thread's no_grad, tape or anomaly mode never changes what another
# records. A new thread starts from the defaults.
_grad_enabled = contextvars.ContextVar("minigrad_grad_enabled", default=True)
_anomaly = contextvars.ContextVar("minigrad_anomaly", default=False)
_tapes: contextvars.ContextVar[tuple["GradientTape", ...]] = contextvars.ContextVar(
    "minigrad_tapes", default=())
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

    ``saved_inputs`` lists the positions of the inputs whose values backward reads
    (None: all of them, the safe default). When the op is recorded, their versions
    are remembered, and backward raises RuntimeError if one was written in place
    since (PyTorch's check). An op that needs only shapes, as Add or Sum, declares
    ``saved_inputs = ()`` and lets its inputs change after forward.
    """

    __slots__ = ("ctx", "inputs", "seq", "output", "versions", "__weakref__")
    saved_inputs: tuple[int, ...] | None = None
    #: True when every gradient backward returns is an array allocated for that
    #: gradient alone (not dy, not a view of an input, of saved state or of another
    #: gradient): a leaf then takes it as its ``.grad`` instead of a copy, which for
    #: a weight is a pass over its size and an allocation per step. False: the safe
    #: default, a leaf's first gradient is copied.
    fresh_grads: bool = False
    #: One line in words for explain_backward: what backward sends to each input.
    rule: str = "custom backward: see Function.backward"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A subclass that writes its own backward but no rule gets a pointer to it,
        # never the words of the op it may inherit from.
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__ and "rule" not in cls.__dict__:
            cls.rule = f"custom backward: see {cls.__name__}.backward"

    def forward(self, ctx: Context, *inputs: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, ctx: Context, dy: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> "Tensor":
        # The hot path of the whole engine: one pass over the inputs collects the
        # arrays, the float dtype check and which inputs want a gradient.
        tensor_cls = _tensor_class()
        tapes = _tapes.get()
        args, needs, dtype, record = [], [], None, False
        for t in inputs:
            if isinstance(t, tensor_cls):
                data = t.data
                if data.dtype.kind == "f":
                    if dtype is None:
                        dtype = data.dtype
                    elif data.dtype != dtype:
                        _raise_mixed(cls.__name__, inputs, tensor_cls)
                wants = t.requires_grad or (bool(tapes) and _watched(tapes, t))
                record |= wants
                needs.append(wants)
                args.append(data)
            else:
                needs.append(False)
                args.append(t)
        record = record and _grad_enabled.get()
        fn = cls()
        ctx = Context(tuple(needs))
        result = tensor_cls._wrap(fn.forward(ctx, *args, **params), record)
        if _anomaly.get():
            check_forward(cls.__name__, args, result.data)
        if record:
            fn.ctx, fn.inputs, fn.seq = ctx, inputs, next(_sequence)
            # (tensor, version) pairs, taken only when recording (forward cannot have
            # written its inputs: it sees arrays); a plain loop is cheaper here than a
            # comprehension or zip().
            fn.versions = versions = []
            for t in inputs:
                if isinstance(t, tensor_cls):
                    versions.append((t, t._version))
            fn.output = weakref.ref(result)
            result._ctx = fn
            for tape in tapes:
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


def _watched(tapes: tuple["GradientTape", ...], t: "Tensor") -> bool:
    return any(id(t) in tape._watched for tape in tapes)


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
                 retain_graph: bool = False,
                 observer: Callable[[Function, np.ndarray, tuple], None] | None = None,
                 ) -> dict[int, np.ndarray]:
    """Walk ``entries`` newest first, pushing gradients from ``root``.

    With ``wanted`` None, leaf gradients accumulate into ``.grad`` (backward());
    otherwise nothing is written and the gradients of the wanted tensors are
    returned by id (GradientTape.gradient).

    ``observer(fn, dy, grads)``, when given, is called after each entry's backward:
    ``dy`` is the gradient that arrived at fn's output, ``grads`` holds for each of
    ``fn.inputs`` the array sent to it, unbroadcast to its shape (None where nothing
    was sent). This is how explain_backward watches the one real walk.
    """
    queue: list = []
    token = _end_of_backward.set(queue)
    try:
        found = _walk(entries, root, seed, wanted, retain_graph, observer)
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
          wanted: Sequence["Tensor"] | None, retain_graph: bool,
          observer: Callable[[Function, np.ndarray, tuple], None] | None
          ) -> dict[int, np.ndarray]:
    from .tensor import Tensor

    anomaly = _anomaly.get()
    wanted_ids = None if wanted is None else {id(t) for t in wanted}
    found: dict[int, np.ndarray] = {}
    pending: dict[int, np.ndarray] = {id(root): seed}
    keep: dict[int, Tensor] = {id(root): root}

    def deliver(t: Tensor, g: np.ndarray, fresh: bool = False) -> None:
        key = id(t)
        if t._ctx is None and wanted_ids is None:
            if t.requires_grad:
                t._accumulate(g, owned=fresh)
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
        for t, version in fn.versions:  # pairs, not zip(): this loop runs per entry
            if t._version != version:
                _check_saved(fn)  # rare: only once an input was written in place
        grads = _as_grads(fn, fn.backward(fn.ctx, dy))
        if anomaly:
            check_backward(fn, dy, grads)
        sent = [] if observer is not None else None
        # an observer keeps what was sent: then no leaf may own it
        fresh = fn.fresh_grads and sent is None
        for inp, g in zip(fn.inputs, grads):
            if g is not None and isinstance(inp, Tensor) and (
                    inp.requires_grad or (wanted_ids and id(inp) in wanted_ids)):
                g = unbroadcast(np.asarray(g, dtype=inp.data.dtype), inp.shape)
                deliver(inp, g, fresh)
            else:
                g = None
            if sent is not None:
                sent.append(g)
        if sent is not None:
            observer(fn, dy, tuple(sent))
        if not retain_graph:
            fn.ctx, fn.inputs, fn.versions = None, (), ()
    if wanted_ids is not None:
        for key, g in pending.items():  # leaves and watched constants
            if key in wanted_ids:
                found[key] = g
    return found


def _check_saved(fn: Function) -> None:
    """Raise if an input that fn's backward reads (``saved_inputs``) was written in
    place since fn was recorded; a written input it does not read is fine."""
    saved = type(fn).saved_inputs
    read = fn.inputs if saved is None else [fn.inputs[i] for i in saved]
    for t, version in fn.versions:
        if t._version != version and any(t is r for r in read):
            _raise_modified(fn, t, version)


def _raise_modified(fn: Function, t: "Tensor", version: int) -> None:
    raise RuntimeError(
        f"one of the tensors needed for backward of {type(fn).__name__} was modified in "
        f"place: Tensor{tuple(t.shape)} is at version {t._version}, expected version "
        f"{version}; an in-place write (t[i] = v, add_, an optimizer step, "
        "load_state_dict) ran between forward and backward: run it after backward, "
        "or write into a copy")


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


class _Setting(contextlib.ContextDecorator):
    """Sets a context variable for a ``with`` block (or a decorated call), then
    restores it. A class rather than a generator: no_grad sits on hot paths."""

    def __init__(self, var: contextvars.ContextVar, value: Any):
        self._var, self._value = var, value

    def _recreate_cm(self) -> "_Setting":
        # A decorated function may run in two threads at once: one instance per call.
        return _Setting(self._var, self._value)

    def __enter__(self) -> None:
        # Restore the previous value rather than reset(token): a block left from
        # another Context (a generator finished elsewhere) must not raise on exit.
        self._previous = self._var.get()
        self._var.set(self._value)

    def __exit__(self, *exc: Any) -> None:
        self._var.set(self._previous)


def detect_anomaly(enabled: bool = True) -> _Setting:
    """Check every op's output in forward and every gradient in backward for NaN/Inf
    and raise AnomalyError naming the first op that made one. Slow: for debugging.
    Per thread: other threads keep their own setting."""
    return _Setting(_anomaly, bool(enabled))


def set_detect_anomaly(enabled: bool) -> None:
    """Turn anomaly detection on or off in the calling thread (the flag form of
    detect_anomaly)."""
    _anomaly.set(bool(enabled))


def no_grad() -> _Setting:
    """Ops inside the block record nothing (inference, parameter updates). Per thread."""
    return _Setting(_grad_enabled, False)


def enable_grad() -> _Setting:
    """Turn recording back on inside a no_grad block. Per thread."""
    return _Setting(_grad_enabled, True)


def records(t: "Tensor") -> bool:
    """Whether an op applied to t now would be recorded or checked: grad mode is on
    and t requires grad or an active GradientTape watches it, or anomaly mode checks
    every op. When False, a composite may compute on ``t.data`` directly: no graph
    would hold its ops, so nothing of them could show anywhere."""
    tapes = _tapes.get()
    return _anomaly.get() or (_grad_enabled.get() and (
        t.requires_grad or (bool(tapes) and _watched(tapes, t))))


def is_grad_enabled() -> bool:
    """Whether ops run now in this thread are recorded."""
    return _grad_enabled.get()
