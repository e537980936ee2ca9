"""Tensor creation with PyTorch's names: zeros ones full empty eye arange linspace,
the random rand randn randint (from random.py's seeded generator) and the *_like
forms. Sizes may be given as f(2, 3) or
f((2, 3)); floats default to float32, dtype= and requires_grad= as torch."""
from __future__ import annotations

from typing import Any

import numpy as np

from .random import get_rng
from .tensor import Tensor


def sizes(args: tuple) -> tuple[int, ...]:
    """f(2, 3), f((2, 3)) and f([2, 3]) alike, as ints; ValueError when negative."""
    shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) \
        else tuple(args)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"sizes must be non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def make(array: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    """A fresh tensor under minigrad's dtype rules (floats -> float32 by default)."""
    return Tensor(array, dtype=dtype, requires_grad=requires_grad)


def zeros(*size, dtype=None, requires_grad=False) -> Tensor:
    return make(np.zeros(sizes(size), dtype=dtype or np.float32), dtype, requires_grad)


def ones(*size, dtype=None, requires_grad=False) -> Tensor:
    return make(np.ones(sizes(size), dtype=dtype or np.float32), dtype, requires_grad)


def empty(*size, dtype=None, requires_grad=False) -> Tensor:
    """Uninitialised memory, as torch.empty: write before reading."""
    return make(np.empty(sizes(size), dtype=dtype or np.float32), dtype, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """size filled with fill_value; an int or bool fill gives int64 / bool (torch)."""
    return make(np.full(sizes((size,)), fill_value), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False) -> Tensor:
    return make(np.eye(n, m, dtype=dtype or np.float32), dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False) -> Tensor:
    """[start, end) by step; all-int arguments give int64 (torch.arange)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    return make(np.arange(start, end, step), dtype, requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad=False) -> Tensor:
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    return make(np.linspace(start, end, steps), dtype or np.float32, requires_grad)


def _like(x: Any, dtype) -> Any:
    return dtype or np.asarray(getattr(x, "data", x)).dtype


def zeros_like(x, dtype=None, requires_grad=False) -> Tensor:
    return zeros(np.shape(getattr(x, "data", x)), dtype=_like(x, dtype),
                 requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False) -> Tensor:
    return ones(np.shape(getattr(x, "data", x)), dtype=_like(x, dtype),
                requires_grad=requires_grad)


def empty_like(x, dtype=None, requires_grad=False) -> Tensor:
    return empty(np.shape(getattr(x, "data", x)), dtype=_like(x, dtype),
                 requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return full(np.shape(getattr(x, "data", x)), fill_value, dtype=_like(x, dtype),
                requires_grad=requires_grad)


# ----- random draws, from minigrad's seeded generator (random.py) -------------------
def _draw(fn, size: tuple, dtype, requires_grad: bool, rng):
    dt = np.dtype(dtype or np.float32)
    return make(fn(get_rng(rng), sizes(size), dt), dt, requires_grad)


def rand(*size, dtype=None, requires_grad=False, generator=None):
    """Uniform on [0, 1), from minigrad's seeded generator (or generator=)."""
    return _draw(lambda g, s, dt: g.random(s, dtype=dt), size, dtype, requires_grad,
                 generator)


def randn(*size, dtype=None, requires_grad=False, generator=None):
    """Standard normal, from minigrad's seeded generator (or generator=)."""
    return _draw(lambda g, s, dt: g.standard_normal(s, dtype=dt), size, dtype,
                 requires_grad, generator)


def randint(low: int, high: int | None = None, size: tuple = (), dtype=None,
            generator=None):
    """int64 uniform on [low, high) (torch.randint(low=0, high, size))."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: needs low < high, got low={low}, high={high}")
    return make(get_rng(generator).integers(low, high, sizes((size,))),
                dtype or np.int64, False)


def rand_like(x, dtype=None, requires_grad=False, generator=None):
    return rand(np.shape(getattr(x, "data", x)), dtype=dtype or _float_dtype(x),
                requires_grad=requires_grad, generator=generator)


def randn_like(x, dtype=None, requires_grad=False, generator=None):
    return randn(np.shape(getattr(x, "data", x)), dtype=dtype or _float_dtype(x),
                 requires_grad=requires_grad, generator=generator)


def _float_dtype(x) -> np.dtype:
    dt = np.asarray(getattr(x, "data", x)).dtype
    return dt if dt.kind == "f" else np.dtype(np.float32)
