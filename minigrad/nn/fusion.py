"""mg.nn.fuse_batchnorm: fold eval-mode batch norm into the Linear / Conv2d before it."""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from .activations import ReLU
from .layers import BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Identity, Linear, MaxPool2d
from .module import Module, ModuleList, Parameter, clone

_PAIRS = ((Linear, BatchNorm1d), (Conv2d, BatchNorm2d))


def fold_into(layer: Linear | Conv2d, bn: BatchNorm1d | BatchNorm2d) -> None:
    """Rewrite layer's weight and bias in place so layer(x) equals bn(layer(x)) with
    bn in eval mode: with s = gamma / sqrt(running_var + eps),
    W' = s * W (per output channel) and b' = s * (b - running_mean) + beta."""
    out = layer.weight.shape[0]
    if bn.num_features != out:
        raise ValueError(f"fuse_batchnorm: {bn!r} cannot follow {layer!r}: "
                         f"{bn.num_features} features vs {out} outputs")
    dtype = layer.weight.dtype
    scale = bn.weight.data.astype(np.float64) / np.sqrt(
        bn.running_var.data.astype(np.float64) + bn.eps)
    w = layer.weight.data.astype(np.float64) * scale.reshape(-1, *[1] * (layer.weight.ndim - 1))
    b = np.zeros(out) if layer.bias is None else layer.bias.data.astype(np.float64)
    b = scale * (b - bn.running_mean.data) + bn.bias.data
    with no_grad():
        layer.weight = Parameter(w, dtype=dtype)
        layer.bias = Parameter(b, dtype=dtype)


def fold_forward(bn: BatchNorm1d, layer: Linear) -> None:
    """Rewrite layer in place so layer(x) equals layer(bn(x)) for x (N, C) with bn in
    eval mode (for a BN with no Linear before it, e.g. right after Flatten): with
    s = gamma / sqrt(running_var + eps) and t = beta - s * running_mean,
    W' = W * s (per input feature) and b' = b + W @ t."""
    if bn.num_features != layer.in_features:
        raise ValueError(f"fuse_batchnorm: {layer!r} cannot follow {bn!r}")
    dtype = layer.weight.dtype
    s = bn.weight.data.astype(np.float64) / np.sqrt(
        bn.running_var.data.astype(np.float64) + bn.eps)
    t = bn.bias.data - s * bn.running_mean.data
    w = layer.weight.data.astype(np.float64)
    b = np.zeros(w.shape[0]) if layer.bias is None else layer.bias.data.astype(np.float64)
    with no_grad():
        layer.weight = Parameter(w * s[None, :], dtype=dtype)
        layer.bias = Parameter(b + w @ t, dtype=dtype)


def fuse_batchnorm(model: Module) -> Module:
    """An eval-mode deep copy of model in which every BatchNorm1d/2d that directly
    follows a Linear/Conv2d inside a Sequential (or ModuleList) is folded into it and
    replaced by Identity. A BatchNorm1d right after a Flatten (so its input is
    surely (N, C)) and right before a Linear is folded into that Linear instead.
    Outputs equal the original's in eval mode within float tolerance, with one pass
    over the activations fewer per folded BN. The original model is not modified."""
    fused = clone(model).eval()
    for container in fused.modules():
        if not isinstance(container, ModuleList):
            continue
        items = container._items
        for i in range(1, len(items)):
            prev, cur = items[i - 1], items[i]
            if any(isinstance(prev, a) and type(cur) is b for a, b in _PAIRS):
                fold_into(prev, cur)
                items[i] = Identity()
        for i in range(1, len(items) - 1):
            prev, cur, nxt = items[i - 1], items[i], items[i + 1]
            flat_2d = isinstance(prev, Flatten) and (prev.start_axis, prev.end_axis) == (1, -1)
            if flat_2d and type(cur) is BatchNorm1d and isinstance(nxt, Linear):
                fold_forward(cur, nxt)
                items[i] = Identity()
    return fused.eval()


def _plain(m: Module, kinds: tuple[type, ...]) -> bool:
    """m is exactly one of kinds (no subclass), with no hook or activity regularizer
    that expects the unfused output."""
    return (type(m) in kinds and not m._forward_hooks
            and getattr(m, "activity_regularizer", None) is None)


def relu_fusion_plan(items: list[Module]) -> list[tuple[int, bool]]:
    """Which modules of a Sequential run, and which of them absorb the ReLU after or
    before them: a list of (index, relu) with the absorbed ReLUs left out.

    A ReLU right before a MaxPool2d is applied to the pooled output instead (max and
    ReLU commute: the same values and gradients on a quarter of the elements); else a
    ReLU right after a Linear or Conv2d is fused into that layer's output pass. Only
    the exact classes fuse, and only modules without forward hooks (or an activity
    regularizer), so every hook still sees the output it expects."""
    plan: list[tuple[int, bool]] = []
    i, n = 0, len(items)
    while i < n:
        m = items[i]
        if _plain(m, (ReLU,)) and i + 1 < n and _plain(items[i + 1], (MaxPool2d,)):
            plan.append((i + 1, True))
            i += 2
        elif (_plain(m, (Linear, Conv2d)) and i + 1 < n and _plain(items[i + 1], (ReLU,))
              and not (i + 2 < n and _plain(items[i + 2], (MaxPool2d,)))):
            plan.append((i, True))
            i += 2
        else:
            plan.append((i, False))
            i += 1
    return plan
