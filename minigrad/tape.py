"""GradientTape: TensorFlow's way to ask for gradients without touching ``.grad``.

The tape is one more listener of the engine: while it is entered, Function.apply
appends every op it records to the tape's list (the per-thread tape stack lives in
autograd), and ``gradient`` walks that list in reverse through autograd.run_backward.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .autograd import Function, _tapes, run_backward

if TYPE_CHECKING:
    from .tensor import Tensor


class GradientTape:
    """TensorFlow-style tape: records the ops run inside ``with`` on its own list.

    ``tape.gradient(target, sources)`` walks that list in reverse and returns the
    gradient of target with respect to each source (None when unconnected) without
    touching ``.grad``. Sources are tensors that require grad or were passed to
    ``watch``. A non-persistent tape answers once. It records the ops of the thread
    that entered it only.
    """

    def __init__(self, persistent: bool = False):
        self.persistent = persistent
        self._entries: list[Function] = []
        self._watched: dict[int, "Tensor"] = {}
        self._used = False

    def __enter__(self) -> "GradientTape":
        _tapes.set(_tapes.get() + (self,))
        return self

    def __exit__(self, *exc: Any) -> None:
        _tapes.set(tuple(t for t in _tapes.get() if t is not self))

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
