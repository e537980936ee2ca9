"""Pooling beyond the kernels' plain case, built on them: the padding and ceil_mode
of F.max_pool2d / F.avg_pool2d (a padded input pooled in the kernels' floor mode),
and AdaptiveAvgPool2d (two averaging matrices, so any input size pools to any output
size). Imports no nn.functional: F's pooling calls the helpers here."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend._check import _pair
from ..errors import ShapeError
from ..functions_extra import pad
from ..ops.pool import AvgPool2d as AvgPoolOp
from ..tensor import Tensor, as_tensor
from .module import Module


def _out_len(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """PyTorch's pooled length; in ceil mode the last window must start inside the
    input or its left padding."""
    span = n + 2 * p - k
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _plan(name: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
          ceil_mode: bool) -> tuple:
    k = _pair(name, "kernel_size", kernel_size)
    s = k if stride is None else _pair(name, "stride", stride)
    p = _pair(name, "padding", padding)
    if x.ndim != 4:
        raise ShapeError(f"{name}: expects x (N, C, H, W), got x{x.shape}")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{name}: padding {p} must be at most half the kernel {k}")
    out = tuple(_out_len(n, ki, si, pi, ceil_mode) for n, ki, si, pi in
                zip(x.shape[2:], k, s, p))
    if min(out) < 1:
        raise ShapeError(f"{name}: kernel {k} with padding {p} does not fit x{x.shape}")
    # rows the last window reaches beyond the padded input (ceil mode only)
    extra = tuple(max(0, (o - 1) * si + ki - (n + 2 * pi)) for o, si, ki, n, pi in
                  zip(out, s, k, x.shape[2:], p))
    return k, s, p, extra


def pad_for_max(x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                ceil_mode: bool) -> tuple[Tensor, tuple, tuple]:
    """(x padded with -inf (never the maximum), kernel, stride): max pooling that in
    the kernels' floor mode gives PyTorch's max_pool2d with padding and ceil_mode."""
    k, s, (ph, pw), (eh, ew) = _plan("max_pool2d", x, kernel_size, stride, padding,
                                     ceil_mode)
    return pad(x, (pw, pw + ew, ph, ph + eh), value=-np.inf), k, s


def padded_avg_pool2d(x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                      ceil_mode: bool, count_include_pad: bool) -> Tensor:
    """PyTorch's avg_pool2d with padding and ceil_mode: a window divides by its cells
    in the padded input (count_include_pad) or in x itself, never by the cells that
    ceil mode adds beyond the padding."""
    k, s, (ph, pw), (eh, ew) = _plan("avg_pool2d", x, kernel_size, stride, padding,
                                     ceil_mode)
    h, w = x.shape[2:]
    counted = np.ones((1, 1, h + 2 * ph, w + 2 * pw) if count_include_pad
                      else (1, 1, h, w), dtype=x.dtype)
    if count_include_pad:
        counted = np.pad(counted, ((0, 0), (0, 0), (0, eh), (0, ew)))
    else:
        counted = np.pad(counted, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)))
    share = AvgPoolOp.apply(Tensor._wrap(counted), kernel=k, stride=s).data  # cells / K
    pooled = AvgPoolOp.apply(pad(x, (pw, pw + ew, ph, ph + eh)), kernel=k, stride=s)
    return pooled / Tensor._wrap(share)


def _bins(n: int, out: int, dtype) -> np.ndarray:
    """(out, n) averaging matrix of PyTorch's adaptive bins [floor(i n / out),
    ceil((i + 1) n / out))."""
    m = np.zeros((out, n), dtype=dtype)
    for i in range(out):
        lo, hi = (i * n) // out, -(-((i + 1) * n) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def adaptive_avg_pool2d(x: Any, output_size: Any) -> Tensor:
    """x (N, C, H, W) -> (N, C, OH, OW) averaged over PyTorch's adaptive bins, as
    A_h @ x @ A_w.T (two matmuls). An output size None keeps that axis."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(f"adaptive_avg_pool2d: expects x (N, C, H, W), got x{x.shape}")
    size = (output_size, output_size) if isinstance(output_size, (int, type(None))) \
        else tuple(output_size)
    oh, ow = (n if o is None else int(o) for o, n in zip(size, x.shape[2:]))
    if min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got "
                         f"{output_size!r}")
    rows = Tensor._wrap(_bins(x.shape[2], oh, x.dtype))
    cols = Tensor._wrap(_bins(x.shape[3], ow, x.dtype).T.copy())
    return rows @ x @ cols


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size!r}"
