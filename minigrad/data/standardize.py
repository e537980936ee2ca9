"""Standardizer and Whitening: statistics fitted on training data, applied to any
later data."""
from __future__ import annotations

import numpy as np

# The same floor as the Normalization layer: max(std, 1e-7) keeps constant features
# (e.g. always-black MNIST border pixels) at 0 instead of dividing by zero.
MIN_STD = 1e-7


class Standardizer:
    """z = (x - mean) / max(std, 1e-7), with mean and std fitted on training data
    (sklearn's StandardScaler). with_mean=False leaves the mean alone (z = x / std,
    mean_ is 0), with_std=False only centres (z = x - mean, std_ is 1).

    axis: the axes the statistics are taken over (the rest keep their own statistics).
        axis=0 on (N, D) data: one mean/std per feature. axis=(0, 2, 3) on NCHW images:
        one per channel. axis=None: a single mean/std.
    After fit: `mean_` and `std_` (float64, keepdims shape, broadcastable to x; std_
    already floored at 1e-7).
    transform returns float32 for integer input (e.g. uint8 images), else x's float dtype.
    Raises RuntimeError when used before fit, ValueError when x's shape does not match
    the fitted statistics.
    """

    def __init__(self, axis=0, with_mean: bool = True, with_std: bool = True):
        self.axis = axis
        self.with_mean, self.with_std = bool(with_mean), bool(with_std)
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
        mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
        std = x.std(axis=axes, keepdims=True, dtype=np.float64) if self.with_std else \
            np.ones_like(mean)
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
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


class Whitening:
    """PCA or ZCA whitening (Bell & Sejnowski 1997; Krizhevsky 2009, appendix A):
    decorrelated outputs of unit variance, fitted on training data.

    Samples are x.reshape(N, -1) (D features). With mean m and covariance
    C = (x - m)^T (x - m) / N = U diag(l) U^T:
        pca: z = (x - m) @ U diag(1 / sqrt(l + eps))          -> (N, D), components
             in order of decreasing variance
        zca: z = (x - m) @ U diag(1 / sqrt(l + eps)) U^T      -> x's shape (images stay
             images: the whitened data closest to the input, as Keras's zca_whitening)
    so cov(z) = diag(l / (l + eps)), the identity wherever l >> eps.
    After fit: ``mean_`` (D,), ``components_`` (D, D) (the matrix right-multiplied),
    ``eigenvalues_`` (D,), float64. transform returns float32 for integer input, else
    x's float dtype. Raises ValueError for a bad kind or eps, fewer than 2 samples or a
    feature count that differs from fit's, RuntimeError before fit.
    """

    KINDS = ("pca", "zca")

    def __init__(self, kind: str = "pca", eps: float = 1e-5):
        if kind not in self.KINDS:
            raise ValueError(f"Whitening: kind must be 'pca' or 'zca', got {kind!r}")
        if not (np.isscalar(eps) and eps >= 0):
            raise ValueError(f"Whitening: eps must be a number >= 0, got {eps!r}")
        self.kind, self.eps = kind, float(eps)
        self.mean_ = self.components_ = self.eigenvalues_ = None

    def fit(self, x) -> "Whitening":
        """Mean, covariance and its eigendecomposition (float64); returns self."""
        x = np.asarray(getattr(x, "data", x))
        if x.ndim < 2 or len(x) < 2:
            raise ValueError(f"Whitening.fit: needs x (N >= 2, ...), got shape {x.shape}")
        flat = x.reshape(len(x), -1).astype(np.float64)
        self.mean_ = flat.mean(axis=0)
        centred = flat - self.mean_
        eigenvalues, u = np.linalg.eigh(centred.T @ centred / len(flat))
        order = np.argsort(eigenvalues)[::-1]
        # rounding can make the smallest eigenvalues of a singular covariance negative
        self.eigenvalues_ = np.maximum(eigenvalues[order], 0.0)
        u = u[:, order]
        scaled = u / np.sqrt(self.eigenvalues_ + self.eps)
        self.components_ = scaled if self.kind == "pca" else scaled @ u.T
        return self

    def _flat(self, x, what: str) -> tuple[np.ndarray, np.dtype]:
        if self.mean_ is None:
            raise RuntimeError(f"Whitening.{what}: call fit(x_train) first")
        x = np.asarray(getattr(x, "data", x))
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != len(self.mean_):
            raise ValueError(f"Whitening.{what}: x of shape {x.shape} has {flat.shape[1]} "
                             f"features, fitted with {len(self.mean_)}")
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
        return flat, dtype

    def transform(self, x) -> np.ndarray:
        """The whitened x: (N, D) for pca, x's shape for zca."""
        flat, dtype = self._flat(x, "transform")
        z = ((flat - self.mean_) @ self.components_).astype(dtype)
        return z.reshape(np.shape(x)) if self.kind == "zca" else z

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, z) -> np.ndarray:
        """Back to the input space: (N, D) for pca (reshape as needed), z's shape for
        zca. Exact when eps is 0 and no eigenvalue is 0."""
        flat, dtype = self._flat(z, "inverse_transform")
        x = (flat @ np.linalg.pinv(self.components_) + self.mean_).astype(dtype)
        return x.reshape(np.shape(z)) if self.kind == "zca" else x
