"""Devices, PyTorch-style. minigrad computes on the CPU only, so ``mg.device("cpu")``
is the one device, ``t.to("cpu")`` / ``t.cpu()`` / ``module.to(...)`` change nothing
but a dtype when one is given, and ``mg.accelerator.is_available()`` (and
``mg.cuda``, ``mg.mps``) say False, so PyTorch scripts that choose their device run
unchanged. Asking for any other device raises RuntimeError saying so. (The module is
named devices because ``mg.device`` is the class.)"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["accelerator", "cuda", "device", "mps", "parse_to_args"]

# device types PyTorch knows: asking for one is a clear "not here", a typo is a ValueError
_OTHER_TYPES = ("cuda", "mps", "xpu", "xla", "meta", "hip", "ipu", "hpu", "mtia", "vulkan",
                "opengl", "opencl", "ideep", "mkldnn", "privateuseone")


class device:  # noqa: N801 (PyTorch's spelling)
    """``device("cpu")``, ``device("cpu:0")``, ``device("cpu", 0)`` or a device.

    Raises RuntimeError for a device PyTorch knows that minigrad does not run on
    ("cuda", "mps", ...), ValueError for an unknown string or an index other than 0."""

    __slots__ = ("type", "index")

    def __init__(self, spec: Any = "cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise ValueError(f"device: expected a string such as 'cpu', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if idx:
            if not idx.isdigit() or index is not None:
                raise ValueError(f"device: invalid device string {spec!r}")
            index = int(idx)
        if kind in _OTHER_TYPES:
            raise RuntimeError(f"device: minigrad runs on the CPU only, got device {spec!r}; "
                               "use 'cpu' (mg.accelerator.is_available() is False)")
        if kind != "cpu":
            raise ValueError(f"device: unknown device type {kind!r} in {spec!r}; minigrad "
                             "has only 'cpu'")
        if index not in (None, 0):
            raise ValueError(f"device: the CPU is device 0, got index {index}")
        object.__setattr__(self, "type", "cpu")
        object.__setattr__(self, "index", index)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("device is immutable")

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU = device("cpu")


class _NoAccelerator:
    """``mg.accelerator`` / ``mg.cuda`` / ``mg.mps``: the calls scripts make to pick
    a device, answering that there is none."""

    def __init__(self, name: str):
        self._name = name

    def is_available(self) -> bool:
        return False

    def device_count(self) -> int:
        return 0

    def current_accelerator(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<minigrad.{self._name}: not available, minigrad runs on the CPU>"


accelerator = _NoAccelerator("accelerator")
cuda = _NoAccelerator("cuda")
mps = _NoAccelerator("mps")


def _is_device_string(s: str) -> bool:
    """"cpu", "cuda:1", ... rather than a dtype name such as "float64"."""
    try:
        np.dtype(s)
        return False
    except TypeError:
        return True


def parse_to_args(who: str, args: tuple, kwargs: dict) -> np.dtype | None:
    """The dtype asked for by PyTorch's ``.to(device)``, ``.to(dtype)``,
    ``.to(device, dtype)``, ``.to(other_tensor)`` or ``.to(device=..., dtype=...)``
    (None when only a device is given); the device is checked. ``non_blocking`` and
    ``copy`` are accepted and change nothing. Raises as ``device``, TypeError for
    a non-float/int dtype or an unknown keyword."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy"}
    if unknown:
        raise TypeError(f"{who}: unexpected keyword(s) {sorted(unknown)}")
    dtype = kwargs.get("dtype")
    if kwargs.get("device") is not None:
        device(kwargs["device"])
    for a in args:
        if isinstance(a, device) or isinstance(a, str) and _is_device_string(a):
            device(a)
        elif isinstance(a, (str, type, np.dtype)):
            dtype = a
        elif hasattr(a, "dtype"):  # .to(other_tensor): its dtype (and device, the CPU)
            dtype = a.dtype
        elif a is not None:
            raise TypeError(f"{who}: expected a device, a dtype or a tensor, got {a!r}")
    if dtype is None:
        return None
    dt = np.dtype(dtype)
    if dt.kind not in "fiub":
        raise TypeError(f"{who}: unsupported dtype {dt}")
    return dt
