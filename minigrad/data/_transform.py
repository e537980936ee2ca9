"""The base of the batch augmentations: argument checks, the training flag and the
random generator (see transforms.py for the conventions)."""
from __future__ import annotations

import numpy as np

from ..random import get_rng


class Transform:
    """Base class: argument checks, the training flag and the random generator."""

    def __init__(self, seed: int | None = None, rng: np.random.Generator | None = None):
        self._rng = np.random.default_rng(seed) if seed is not None else rng
        self.training = True

    @property
    def rng(self) -> np.random.Generator:
        return get_rng(self._rng)

    def train(self, mode: bool = True) -> "Transform":
        self.training = bool(mode)
        return self

    def eval(self) -> "Transform":
        return self.train(False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        name = type(self).__name__
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expects images (N, C, H, W) or (N, H, W), "
                             f"got shape {x.shape}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name}: expects uint8/int or float images, got {x.dtype}")
        if not self.training or len(x) == 0:
            return x
        if x.ndim == 3:
            return self.apply(x[:, None])[:, 0]
        return self.apply(x)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The augmentation of a (N, C, H, W) batch."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Applies `transforms` in order; train()/eval() switch all of them."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def train(self, mode: bool = True) -> "Compose":
        for t in self.transforms:
            if hasattr(t, "train"):
                t.train(mode)
        return super().train(mode)

    def __call__(self, x):
        # No image checks here: the members check their input, and plain callables in
        # the chain may take other shapes.
        if not self.training:
            return x
        for t in self.transforms:
            x = t(x)
        return x


def _check_prob(name: str, p) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p must lie in [0, 1], got {p!r}")
    return float(p)


def _pair(name: str, what: str, v, minimum: int) -> tuple[int, int]:
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2 or any(not isinstance(a, (int, np.integer)) or a < minimum
                             for a in pair):
        raise ValueError(f"{name}: {what} must be an int >= {minimum} or a pair of them, "
                         f"got {v!r}")
    return int(pair[0]), int(pair[1])
