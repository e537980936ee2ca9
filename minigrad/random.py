"""One seeded generator for every random draw in minigrad (init, dropout, shuffling);
the random creation functions (rand, randn, ...) that draw from it are in
creation.py, since they make Tensors and this module sits below the core."""
from __future__ import annotations

import numpy as np

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
