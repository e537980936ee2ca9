"""Rewrites that return a faster copy of a model, visible in its repr: ``fuse`` (ReLU
into the layer or batch norm before it, or into the MaxPool2d after it) and ``fuse_batchnorm``
(eval-mode batch norm folded into the Linear / Conv2d before or after it)."""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from .activations import (ELU, GELU, SELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus,
                          Tanh)
from .layers import BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Identity, Linear, MaxPool2d
from .module import Module, ModuleList, Parameter, clone
from .reshape import Flatten

_PAIRS = ((Linear, BatchNorm1d), (Conv2d, BatchNorm2d))
# Layers that run a ReLU after them as one op (activation="relu").
_TAKES_RELU = (Linear, Conv2d, BatchNorm1d, BatchNorm2d)
# Modules whose output has the number of axes of their input (so a Flatten before
# them still says the tensor is (N, C)).
_SAME_NDIM = (Linear, BatchNorm1d, Identity, Dropout, ReLU, LeakyReLU, ELU, SELU, GELU,
              SiLU, Tanh, Sigmoid, Softplus)


def _plain(m: Module, kinds: tuple[type, ...]) -> bool:
    """m is exactly one of kinds (no subclass), with no hook, activation or activity
    regularizer that expects the unfused output."""
    return (type(m) in kinds and not m._forward_hooks
            and getattr(m, "activation", None) is None
            and getattr(m, "activity_regularizer", None) is None)


def fuse(model: Module) -> Module:
    """A deep copy of ``model`` (same mode) in which, inside every Sequential (or
    ModuleList), a ReLU right before a MaxPool2d becomes ``MaxPool2d(...,
    activation="relu")`` (the ReLU on the pooled output: max and ReLU commute, so the
    same values and gradients on a quarter of the elements), and otherwise a ReLU right
    after a Linear or Conv2d becomes that layer's ``activation="relu"`` (one op with the
    bias), and one right after a BatchNorm1d/2d that norm's (one op, the ReLU in place
    on its output). The absorbed ReLU is replaced by Identity, so state dicts keep
    their keys.
    Only exact classes without forward hooks (or an activity regularizer) fuse, so
    every hook still sees the output it expects. The original is not modified."""
    fused = clone(model)
    for container in fused.modules():
        if not isinstance(container, ModuleList):
            continue
        items = container._items
        for i in range(len(items) - 1):
            cur, nxt = items[i], items[i + 1]
            if _plain(cur, (ReLU,)) and _plain(nxt, (MaxPool2d,)):
                nxt.activation, items[i] = "relu", Identity()
            elif _plain(cur, _TAKES_RELU) and _plain(nxt, (ReLU,)) and not (
                    i + 2 < len(items) and _plain(items[i + 2], (MaxPool2d,))):
                cur.activation, items[i + 1] = "relu", Identity()
    return fused


def fold_into(layer: Linear | Conv2d, bn: BatchNorm1d | BatchNorm2d) -> None:
    """Rewrite layer's weight and bias in place so layer(x) equals bn(layer(x)) with
    bn in eval mode: with s = gamma / sqrt(running_var + eps),
    W' = s * W (per output channel) and b' = s * (b - running_mean) + beta."""
    out = layer.weight.shape[0]
    if bn.num_features != out:
        raise ValueError(f"fuse_batchnorm: {bn!r} cannot follow {layer!r}: "
                         f"{bn.num_features} features vs {out} outputs")
    dtype = layer.weight.dtype
    scale, shift = _affine(bn)
    w = layer.weight.data.astype(np.float64) * scale.reshape(-1, *[1] * (layer.weight.ndim - 1))
    b = np.zeros(out) if layer.bias is None else layer.bias.data.astype(np.float64)
    with no_grad():
        layer.weight = Parameter(w, dtype=dtype)
        layer.bias = Parameter(scale * b + shift, dtype=dtype)


def fold_forward(bn: BatchNorm1d | BatchNorm2d, layer: Linear | Conv2d) -> None:
    """Rewrite layer in place so layer(x) equals layer(bn(x)) with bn in eval mode (a
    BN before the layer, e.g. after an activation or a Flatten): with bn(x) = s x + t
    per input channel, W' = W * s (per input channel) and b' = b + W t summed over the
    inputs (and, for a conv without padding, over the kernel window)."""
    if bn.num_features != layer.weight.shape[1]:
        raise ValueError(f"fuse_batchnorm: {layer!r} cannot follow {bn!r}")
    dtype = layer.weight.dtype
    s, t = _affine(bn)
    w = layer.weight.data.astype(np.float64)
    b = np.zeros(w.shape[0]) if layer.bias is None else layer.bias.data.astype(np.float64)
    per_input = (1, -1) + (1,) * (w.ndim - 2)
    with no_grad():
        layer.weight = Parameter(w * s.reshape(per_input), dtype=dtype)
        shift = (w * t.reshape(per_input)).reshape(w.shape[0], -1).sum(axis=1)
        layer.bias = Parameter(b + shift, dtype=dtype)


def _affine(bn: BatchNorm1d | BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) in float64 with bn(x) = s x + t per channel in eval mode."""
    s = bn.weight.data.astype(np.float64) / np.sqrt(
        bn.running_var.data.astype(np.float64) + bn.eps)
    return s, bn.bias.data - s * bn.running_mean.data.astype(np.float64)


def _is_2d(items: list[Module], i: int) -> bool:
    """The input of items[i] is surely (N, C): a Flatten(1, -1) comes before it with
    only modules that keep the number of axes in between."""
    for m in reversed(items[:i]):
        if isinstance(m, Flatten):
            return (m.start_axis, m.end_axis) == (1, -1)
        if type(m) not in _SAME_NDIM:
            return False
    return False


def _folds_forward(items: list[Module], i: int) -> bool:
    """items[i] is a BN that the layer after it can absorb: BatchNorm1d on an (N, C)
    input before a Linear, or BatchNorm2d before a Conv2d without padding (zero padding
    would pad the normalised map with zeros, not with t) or groups (its weight sees
    C / groups of the BN's channels)."""
    bn, nxt = items[i], items[i + 1]
    if getattr(bn, "activation", None) is not None:  # its ReLU comes before the layer
        return False
    if type(bn) is BatchNorm1d and type(nxt) is Linear:
        return _is_2d(items, i)
    return (type(bn) is BatchNorm2d and type(nxt) is Conv2d
            and nxt.padding in ((0, 0), "valid") and nxt.groups == 1)


def fuse_batchnorm(model: Module) -> Module:
    """An eval-mode deep copy of model in which every BatchNorm1d/2d inside a Sequential
    (or ModuleList) is folded into a neighbour and replaced by Identity: into the
    Linear/Conv2d right before it, else into the one right after it (so a BN after an
    activation folds too): a BatchNorm1d whose input is surely (N, C) (a Flatten comes
    before it with only Linear, BN and activations in between) into the next Linear,
    a BatchNorm2d into the next Conv2d without padding or groups. Outputs equal the original's
    in eval mode within float tolerance, with one pass over the activations fewer per
    folded BN. The original model is not modified."""
    fused = clone(model).eval()
    for container in fused.modules():
        if not isinstance(container, ModuleList):
            continue
        items = container._items
        for i in range(1, len(items)):
            prev, cur = items[i - 1], items[i]
            if any(isinstance(prev, a) and type(cur) is b for a, b in _PAIRS) \
                    and prev.activation is None:
                fold_into(prev, cur)
                prev.activation = cur.activation  # a fused ReLU moves to the layer
                items[i] = Identity()
        for i in range(len(items) - 1):
            if _folds_forward(items, i):
                fold_forward(items[i], items[i + 1])
                items[i] = Identity()
    return fused.eval()
