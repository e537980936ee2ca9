"""One seeded generator for every random draw in minigrad (init, dropout, shuffling),
and the random creation functions rand, randn, randint, rand_like, randn_like."""
from __future__ import annotations

import numpy as np

from .creation import make, sizes

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed minigrad's generator so every later draw repeats; returns it."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng(rng: np.random.Generator | None = None) -> np.random.Generator:
    """The generator to draw from: the one passed in, else minigrad's own."""
    return _rng if rng is None else rng


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
