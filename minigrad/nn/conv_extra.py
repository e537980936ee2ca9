"""Convolution beyond the kernels' plain case, built on them: the dilation and groups
of F.conv2d (a zero-inserted kernel; one conv per channel group, depthwise when
groups = channels) and the transposed convolution (ConvTranspose2d). Imports no
nn.functional: F.conv2d calls the helpers here."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend._check import _pair
from ..errors import ShapeError
from ..functions import concat
from ..ops.conv_transpose import ConvTranspose2d as ConvTransposeOp
from ..ops.index import ZeroInsert
from ..random import get_rng
from ..tensor import Tensor, as_tensor
from .module import Module, Parameter


def _groups(name: str, x: Tensor, weight: Tensor, groups: int, per_group_in: int) -> None:
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != per_group_in * groups:
        raise ShapeError(f"{name}: with groups={groups}, x (N, C, H, W) needs C = "
                         f"{per_group_in} * {groups}, got x{x.shape}, w{weight.shape}")


def dilate(name: str, weight: Tensor, dilation: Any) -> Tensor:
    """The dilated kernel: (K - 1) * d + 1 taps with zeros between the weights."""
    step = _pair(name, "dilation", dilation)
    if min(step) < 1:
        raise ValueError(f"{name}: dilation must be >= 1, got {dilation!r}")
    return weight if step == (1, 1) else ZeroInsert.apply(weight, step=step)


def split_groups(x: Tensor, weight: Tensor, bias: Tensor | None, groups: int) -> list:
    """[(x_g, weight_g, bias_g)] for each of the groups of conv2d: x (N, C, H, W) split
    on C, weight (F, C / groups, KH, KW) and bias (F,) on F. Raises ValueError when C
    or F does not divide by groups."""
    _groups("conv2d", x, weight, groups, weight.shape[1] if weight.ndim == 4 else 0)
    if weight.shape[0] % groups:
        raise ShapeError(f"conv2d: out channels {weight.shape[0]} of w{weight.shape} "
                         f"must divide by groups={groups}")
    cin, cout = weight.shape[1], weight.shape[0] // groups
    return [(x[:, g * cin:(g + 1) * cin], weight[g * cout:(g + 1) * cout],
             None if bias is None else bias[g * cout:(g + 1) * cout])
            for g in range(groups)]


def conv_transpose2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """PyTorch's conv_transpose2d: x (N, C_in, H, W), weight (C_in, C_out / groups,
    KH, KW), bias (C_out,). Output (N, C_out, OH, OW), OH = (H - 1) * stride
    - 2 * padding + dilation * (KH - 1) + output_padding + 1. Raises ValueError for
    output_padding >= max(stride, dilation) or mismatched channels."""
    x = as_tensor(x)
    _groups("conv_transpose2d", x, weight, groups,
            weight.shape[0] // groups if weight.ndim == 4 else 0)
    s, p = _pair("conv_transpose2d", "stride", stride), \
        _pair("conv_transpose2d", "padding", padding)
    op, d = _pair("conv_transpose2d", "output_padding", output_padding), \
        _pair("conv_transpose2d", "dilation", dilation)
    if any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        raise ValueError(f"conv_transpose2d: output_padding {op} must be smaller than "
                         f"stride {s} or dilation {d}")
    weight = dilate("conv_transpose2d", weight, d)
    cin, cout = x.shape[1] // groups, weight.shape[1]
    outs = [ConvTransposeOp.apply(x[:, g * cin:(g + 1) * cin] if groups > 1 else x,
                                  weight[g * cin:(g + 1) * cin] if groups > 1 else weight,
                                  None if bias is None else
                                  (bias[g * cout:(g + 1) * cout] if groups > 1 else bias),
                                  stride=s, padding=p, output_padding=op)
            for g in range(groups)]
    return outs[0] if groups == 1 else concat(outs, axis=1)


class ConvTranspose2d(Module):
    """Transposed 2-d convolution (PyTorch's layer, its default init: kaiming-uniform
    with a = sqrt(5) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias,
    fan_in = weight.shape[1] * KH * KW). weight: (in, out / groups, KH, KW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                 groups: int = 1, bias: bool = True, dilation: Any = 1,
                 dtype: Any = np.float32):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels {in_channels} and "
                             f"out_channels {out_channels} must divide by groups={groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair("ConvTranspose2d", "kernel_size", kernel_size)
        self.stride = _pair("ConvTranspose2d", "stride", stride)
        self.padding = _pair("ConvTranspose2d", "padding", padding)
        self.output_padding = _pair("ConvTranspose2d", "output_padding", output_padding)
        self.dilation = _pair("ConvTranspose2d", "dilation", dilation)
        self.groups = int(groups)
        shape = (in_channels, out_channels // groups) + self.kernel_size
        bound = 1.0 / math.sqrt(shape[1] * shape[2] * shape[3])
        rng = get_rng()
        self.weight = Parameter(rng.uniform(-bound, bound, shape), dtype=dtype)
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels),
                              dtype=dtype) if bias else None

    def forward(self, x: Any) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}")
