"""The mg.* function forms of the Tensor methods added with the PyTorch op set
(torch.sin(x), torch.gather(x, 1, idx), ...), plus pad and one_hot, which are
functions only (torch.nn.functional.pad / one_hot)."""
from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy as np

from .errors import ShapeError
from .ops.index import ConstantPad
from .tensor import Tensor, as_tensor


def _forward(name: str) -> Callable:
    """mg.<name>(x, *args, **kwargs) == as_tensor(x).<name>(*args, **kwargs)."""
    method = getattr(Tensor, name)

    def fn(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(as_tensor(x), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"mg.{name}(x, ...) is x.{name}(...). " + (method.__doc__ or "")
    return fn


FORWARDED = (
    "sin cos tan asin acos atan sinh cosh asinh acosh atanh log1p log2 log10 exp2 rsqrt "
    "erf floor ceil round trunc sign pow fmod remainder logaddexp lerp isnan isinf "
    "isfinite isclose logical_not eq ne lt le gt ge prod logsumexp cumsum cumprod argmax "
    "argmin any all norm flip roll index_select squeeze unsqueeze expand broadcast_to "
    "repeat repeat_interleave split chunk tril triu diagonal gather scatter scatter_add "
    "masked_fill masked_select sort argsort topk clone numel").split()
globals().update({name: _forward(name) for name in FORWARDED})

_PAD_MODES = {"constant": None, "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def pad(x: Any, pad: Any, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad as torch.nn.functional.pad: pad = (left, right) for the last axis, then
    (top, bottom) for the one before, ...; modes constant, reflect, replicate, circular.

    Non-constant modes gather through an index map (np.pad of the positions), so
    their backward sums every copy back into its source. Raises ValueError for an odd
    pad length, a negative pad, or reflect padding >= the axis length."""
    x = as_tensor(x)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs pairs for at most {x.ndim} axes, got {pad}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")
    if builtins.any(p < 0 for p in pad):  # any, all, round are ops in this module
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return ConstantPad.apply(x, widths=widths, value=value)
    for axis, (before, after) in enumerate(widths):
        if mode == "reflect" and max(before, after) >= x.shape[axis] and before + after:
            raise ValueError(f"pad: reflect padding {(before, after)} must be < the "
                             f"length {x.shape[axis]} of axis {axis} of x{x.shape}")
    idx = np.ix_(*[np.pad(np.arange(n), w, mode=_PAD_MODES[mode])
                   for n, w in zip(x.shape, widths)])
    return x[idx]


def one_hot(x: Any, num_classes: int = -1) -> Tensor:
    """int64 (..., num_classes) with a 1 at each label (torch one_hot); num_classes -1
    means max(x) + 1. Raises ValueError for non-integer, negative or too-large labels."""
    labels = np.asarray(getattr(x, "data", x))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got {labels.dtype}")
    n = int(labels.max()) + 1 if num_classes == -1 and labels.size else num_classes
    if n < 0 or (labels.size and (labels.min() < 0 or labels.max() >= n)):
        raise ShapeError(f"one_hot: labels must be in [0, {n}), got "
                         f"[{labels.min() if labels.size else ''}, "
                         f"{labels.max() if labels.size else ''}]")
    return Tensor._wrap((labels[..., None] == np.arange(n)).astype(np.int64))

__all__ = [*FORWARDED, "one_hot", "pad"]
