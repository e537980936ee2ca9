"""The multi-tensor optimizer step of the C backend: the fused Adam/AdamW update of
every parameter of a step in one call of ``mg_adam_multi`` (csrc/adam.c).

When the C backend is in use, ``Adam._fused_update`` hands its flat arrays to a
``Batch`` instead of calling the per-parameter Numba kernel of fused.py, and
``Optimizer.step`` runs the batch once every parameter has been seen (and before a
constraint reads a parameter). Why: the C kernel splits the large tensors over the
backend's threads (this pass is memory bound, so each core's cache and bandwidth
help): Adam over the 266k parameters of the 784-300-100-10 MLP took 0.20 ms with
the Numba kernels and 0.12 ms here at 2 threads; at one thread both take the same
0.20 ms. The C loop performs the Numba kernel's float operations in the same order
(no FMA contraction), so the two paths and the numpy rule of adam.py agree to the
bit; the numpy rule stays the reference.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import backend

# dtype -> (cffi type of a buffer, of an array of pointers, the kernel), filled on the
# first step on the C backend, from the C backend's own handle on minigrad._C (optim
# sits above the backend layer; importing it earlier would make `import minigrad`
# load the extension): from_buffer with a type object is the cheapest pointer
_KERNELS: dict = {}
_ffi: Any = None


def _resolve_kernels() -> dict:
    global _ffi
    if not _KERNELS:
        from ..backend.c import ffi, lib   # the backend is "c": already imported
        _ffi = ffi
        _KERNELS.update({
            np.dtype(t): (ffi.typeof(c + "[]"), ffi.typeof(c + " *[]"), fn)
            for t, c, fn in ((np.float32, "float", lib.mg_adam_multi_f32),
                             (np.float64, "double", lib.mg_adam_multi_f64))})
    return _KERNELS


def batch_for_step() -> "Batch | None":
    """A fresh Batch when the C backend runs this thread's kernels, else None."""
    if backend.get_backend() != "c":
        return None
    _resolve_kernels()
    return Batch()


class Batch:
    """Parameters of one step whose Adam update is deferred to one C call per bucket
    (parameters sharing the step scalars ``h`` and the flags). ``Cache`` keeps the
    pointer arrays of the parameters and moments between steps."""

    def __init__(self) -> None:
        self._buckets: dict[tuple, tuple[np.ndarray, tuple, list]] = {}

    def add(self, key: tuple, h: np.ndarray, flags: tuple[bool, bool, bool],
            arrays: tuple[np.ndarray, ...], g: np.ndarray) -> None:
        """Defer the update of one parameter: ``arrays`` = (p, m, v, vmax or None) as
        1-D views, ``g`` the flat gradient laid out like them; ``key`` names the bucket
        (group, dtype, step count), whose members share ``h`` and ``flags``."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = (h, flags, [])
        bucket[2].append((arrays, g))

    def run(self, cache: "Cache") -> None:
        """One C call per bucket; raises ValueError if the kernel rejects the arrays."""
        for key, (h, flags, members) in self._buckets.items():
            ptrs = cache.pointers(key[:2] + flags, [a for a, _ in members])
            buf, _, fn = _KERNELS[h.dtype]
            gs = ptrs["g"]
            for j, (_, g) in enumerate(members):
                gs[j] = _ffi.from_buffer(buf, g)
            code = fn(len(members), ptrs["p"], gs, ptrs["m"], ptrs["v"], ptrs["vmax"],
                      ptrs["size"], _ffi.from_buffer(buf, h), *flags)
            if code != 0:
                raise ValueError(f"adam: the C multi-tensor kernel rejected the "
                                 f"arrays, code {code}")
        self._buckets.clear()


class Cache:
    """cffi pointer arrays over the parameters and moments of each bucket, rebuilt
    only when other arrays come (a new parameter set, a loaded state dict): building
    them costs more than the update of a bias."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[list, dict[str, Any]]] = {}

    def pointers(self, key: tuple, arrays: list[tuple]) -> dict[str, Any]:
        hit = self._entries.get(key)
        if hit is not None and len(hit[0]) == len(arrays) and all(
                all(map(operator.is_, a, b)) for a, b in zip(hit[0], arrays)):
            return hit[1]
        ffi, (buf, table, _) = _ffi, _KERNELS[arrays[0][0].dtype]
        ptrs: dict[str, Any] = {"g": ffi.new(table, len(arrays)),
                                "size": ffi.new("long[]", [a[0].size for a in arrays])}
        for j, name in enumerate(("p", "m", "v", "vmax")):
            if arrays[0][j] is None:  # vmax without amsgrad: never read
                ptrs[name] = ffi.NULL
                continue
            ptrs[name] = ffi.new(table, [ffi.from_buffer(buf, a[j]) for a in arrays])
        self._entries[key] = (arrays, ptrs)  # holds the arrays the pointers point into
        return ptrs
