"""Standardizer: statistics fitted on training data, applied to any later data."""
from __future__ import annotations

import numpy as np

# The same floor as the Normalization layer: max(std, 1e-7) keeps constant features
# (e.g. always-black MNIST border pixels) at 0 instead of dividing by zero.
MIN_STD = 1e-7


class Standardizer:
    """z = (x - mean) / max(std, 1e-7), with mean and std fitted on training data.

    axis: the axes the statistics are taken over (the rest keep their own statistics).
        axis=0 on (N, D) data: one mean/std per feature. axis=(0, 2, 3) on NCHW images:
        one per channel. axis=None: a single mean/std.
    After fit: `mean_` and `std_` (float64, keepdims shape, broadcastable to x; std_
    already floored at 1e-7).
    transform returns float32 for integer input (e.g. uint8 images), else x's float dtype.
    Raises RuntimeError when used before fit, ValueError when x's shape does not match
    the fitted statistics.
    """

    def __init__(self, axis=0):
        self.axis = axis
        self.mean_ = None
        self.std_ = None

    def _axes(self, x: np.ndarray) -> tuple[int, ...]:
        axes = range(x.ndim) if self.axis is None else np.atleast_1d(self.axis).tolist()
        if any(not -x.ndim <= a < x.ndim for a in axes):
            raise ValueError(f"Standardizer: axis={self.axis} is out of range for x of "
                             f"shape {x.shape}")
        return tuple(sorted({a % x.ndim for a in axes}))

    def fit(self, x) -> "Standardizer":
        """Compute mean and std of x over `axis` (in float64); returns self."""
        x = np.asarray(getattr(x, "data", x))
        axes = self._axes(x)
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"Standardizer.fit: x of shape {x.shape} is empty along axis "
                             f"{self.axis}")
        self.mean_ = x.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = x.std(axis=axes, keepdims=True, dtype=np.float64)
        self.std_ = np.maximum(std, MIN_STD)
        return self

    def _check(self, x: np.ndarray, what: str) -> np.dtype:
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{what}: call fit(x_train) first")
        ok = x.ndim == self.mean_.ndim and all(
            m == 1 or m == s for m, s in zip(self.mean_.shape, x.shape))
        if not ok:
            raise ValueError(f"Standardizer.{what}: x of shape {x.shape} does not match the "
                             f"statistics fitted with shape {self.mean_.shape} "
                             f"(axis={self.axis})")
        return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)

    def transform(self, x) -> np.ndarray:
        """(x - mean) / std, same shape as x."""
        x = np.asarray(getattr(x, "data", x))
        dtype = self._check(x, "transform")
        return ((x - self.mean_.astype(dtype)) / self.std_.astype(dtype)).astype(dtype,
                                                                                  copy=False)

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        """z * std + mean: back to the original scale (as float)."""
        z = np.asarray(getattr(z, "data", z))
        dtype = self._check(z, "inverse_transform")
        return (z * self.std_.astype(dtype) + self.mean_.astype(dtype)).astype(dtype,
                                                                                copy=False)
