"""F.interpolate and Upsample (nearest, bilinear; align_corners as PyTorch), composed
of integer-array indexing and a weighted sum per axis, so the backward sums each
output's gradient back into the input cells it was read from."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor, as_tensor
from .module import Module

_MODES = ("nearest", "bilinear")


def _sizes(x: Tensor, size: Any, scale_factor: Any) -> tuple[tuple[int, int], tuple]:
    """Output (OH, OW) and the source step per axis (in / out, or 1 / scale_factor
    when a scale factor is given, as PyTorch)."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    h, w = x.shape[2:]
    if size is not None:
        out = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        return (int(out[0]), int(out[1])), (h / out[0], w / out[1])
    sf = (scale_factor, scale_factor) if np.isscalar(scale_factor) else tuple(scale_factor)
    if min(sf) <= 0:
        raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor}")
    return (int(np.floor(h * sf[0])), int(np.floor(w * sf[1]))), (1 / sf[0], 1 / sf[1])


def _nearest(x: Tensor, axis: int, n: int, out: int, step: float) -> Tensor:
    src = np.minimum(np.floor(np.arange(out) * step).astype(np.int64), n - 1)
    return x.index_select(axis, src)


def _linear(x: Tensor, axis: int, n: int, out: int, step: float,
            align_corners: bool) -> Tensor:
    """Linear interpolation along one axis: x[i0] * (1 - t) + x[i1] * t."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (out - 1) if out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * step - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = out
    t = Tensor._wrap((src - i0).astype(x.dtype).reshape(shape))
    return x.index_select(axis, i0) * (1 - t) + x.index_select(axis, i1) * t


def interpolate(x: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resize x (N, C, H, W) to size (OH, OW) or by scale_factor (PyTorch semantics).

    mode "nearest" takes floor(dst * in / out); "bilinear" maps dst to the source with
    align_corners (corners' centres coincide) or without (half-pixel offsets, clamped
    at 0). Raises ValueError for a bad mode or align_corners with "nearest"."""
    x = as_tensor(x)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {_MODES}, got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to mode='bilinear'")
    if x.ndim != 4:
        raise ShapeError(f"interpolate: expects x (N, C, H, W), got x{x.shape}")
    (oh, ow), steps = _sizes(x, size, scale_factor)
    if min(oh, ow) < 1:
        raise ValueError(f"interpolate: output size must be >= 1, got {(oh, ow)}")
    for axis, n, out, step in ((2, x.shape[2], oh, steps[0]), (3, x.shape[3], ow, steps[1])):
        if mode == "nearest":
            x = _nearest(x, axis, n, out, step)
        else:
            x = _linear(x, axis, n, out, step, bool(align_corners))
    return x


class Upsample(Module):
    """Module form of interpolate (torch.nn.Upsample)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {_MODES}, got {mode!r}")
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Any) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
