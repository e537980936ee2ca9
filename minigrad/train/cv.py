"""k-fold cross-validation over fit/evaluate."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..random import get_rng
from .history import History
from .loop import evaluate, fit


class CrossValidation:
    """What ``cross_validate`` returns.

    folds: one dict per fold of the held-out fold's metrics ({"loss": ...,
    "accuracy": ..., ...}, as ``evaluate``); mean / std: per metric over the folds
    (population std); histories: each fold's fit History; test_indices: the held-out
    indices of each fold. ``cv["accuracy"]`` is the per-fold array of one metric.
    """

    def __init__(self, folds: list[dict[str, float]], histories: list[History],
                 test_indices: list[np.ndarray]):
        self.folds, self.histories, self.test_indices = folds, histories, test_indices
        keys = folds[0].keys()
        self.mean = {k: float(np.mean(self[k])) for k in keys}
        self.std = {k: float(np.std(self[k])) for k in keys}

    def __getitem__(self, metric: str) -> np.ndarray:
        return np.array([f[metric] for f in self.folds])

    def __repr__(self) -> str:
        keys = list(self.mean)
        lines = ["fold " + " ".join(f"{k:>12}" for k in keys)]
        for i, f in enumerate(self.folds):
            lines.append(f"{i + 1:>4} " + " ".join(f"{f[k]:>12.4f}" for k in keys))
        lines.append("mean " + " ".join(f"{self.mean[k]:>12.4f}" for k in keys))
        lines.append(" std " + " ".join(f"{self.std[k]:>12.4f}" for k in keys))
        return "\n".join(lines)


def kfold_indices(y: np.ndarray, k: int, shuffle: bool, stratify: bool,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """The held-out indices of each of k folds (sklearn's KFold sizes: the first
    n % k folds one larger; stratified: each class dealt round-robin over the folds,
    so every fold keeps the class proportions to within one sample per class)."""
    n = len(y)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if not stratify:
        return [np.sort(part) for part in np.array_split(order, k)]
    # stable sort by class keeps the shuffled order within each class
    by_class = order[np.argsort(y[order], kind="stable")]
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[by_class] = np.arange(n) % k
    return [np.flatnonzero(fold_of == f) for f in range(k)]


def cross_validate(build: Callable[[], tuple[Any, Any]], x: Any, y: Any, k: int = 5, *,
                   shuffle: bool = True, stratify: bool | None = None,
                   seed: int | None = None, **fit_kwargs: Any) -> CrossValidation:
    """Train a fresh model on k - 1 folds and evaluate it on the held-out one, k times.

    build: a function returning a new ``(model, optimizer)`` (called once per fold, so
    no weights or optimizer state leak between folds). x: (N, ...) array, y: (N, ...)
    targets. shuffle: shuffle the samples before splitting; seed: fixes that split
    and each fold's fit shuffling (``fit(seed=...)``); default minigrad's generator.
    stratify: keep the class proportions in every fold; None means "when y is 1-D int
    labels". fit_kwargs go to ``fit`` (``loss=`` is
    required; ``metrics``/``batch_size`` also serve the evaluation; ``verbose``
    defaults to 0 here). Returns a CrossValidation (per-fold metrics, mean, std).
    Raises ValueError for k < 2 or k > N, x/y of different lengths, a missing loss,
    or validation_data (the held-out fold is the validation).
    """
    x, y = np.asarray(getattr(x, "data", x)), np.asarray(getattr(y, "data", y))
    if len(x) != len(y):
        raise ValueError(f"cross_validate: x and y differ in length, got x{x.shape} and "
                         f"y{y.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(x):
        raise ValueError(f"cross_validate: k must be an int in [2, {len(x)}], got {k!r}")
    if "loss" not in fit_kwargs:
        raise ValueError("cross_validate: pass loss= (it goes to fit and evaluate)")
    if "validation_data" in fit_kwargs:
        raise ValueError("cross_validate: validation_data is not allowed, each held-out "
                         "fold is the validation")
    if stratify is None:
        stratify = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    rng = np.random.default_rng(seed) if seed is not None else get_rng()
    fit_kwargs.setdefault("verbose", 0)
    fit_kwargs["seed"] = seed
    eval_kwargs = {key: fit_kwargs[key] for key in ("loss", "metrics", "batch_size")
                   if key in fit_kwargs}
    folds, histories, tests = [], [], kfold_indices(y, int(k), shuffle, stratify, rng)
    for test in tests:
        train = np.setdiff1d(np.arange(len(x)), test, assume_unique=True)
        model, optimizer = build()
        histories.append(fit(model, x[train], y[train], optimizer=optimizer, **fit_kwargs))
        folds.append(evaluate(model, x[test], y[test], **eval_kwargs))
    return CrossValidation(folds, histories, tests)
