"""PyTorch's device and dtype calls on every Module (``model.to(device)``,
``.cpu()``, ``.double()``): minigrad runs on the CPU, so only a dtype changes anything."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import devices as _device

__all__ = ["DeviceMixin"]


class DeviceMixin:
    """Inherited by Module."""

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: checks
        the device (CPU only; RuntimeError otherwise) and casts every float parameter,
        buffer and gradient in place to a float dtype. Returns self. Raises TypeError
        for a non-float dtype."""
        who = f"{type(self).__name__}.to"
        dt = _device.parse_to_args(who, args, kwargs)
        if dt is None:
            return self
        if dt.kind != "f":
            raise TypeError(f"{who}: modules take float dtypes only, got {dt}")
        for t in (*self.parameters(), *self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dt:
                t.data = t.data.astype(dt)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dt)
        return self

    def cpu(self) -> Any:
        return self

    def cuda(self, device: Any = None) -> Any:
        _device.device("cuda")  # raises: minigrad runs on the CPU only
        return self

    def float(self) -> Any:  # noqa: A003 (PyTorch's name)
        return self.to(np.float32)

    def double(self) -> Any:
        return self.to(np.float64)
