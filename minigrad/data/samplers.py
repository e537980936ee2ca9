"""Samplers (the index order of an epoch) and train/test splitting helpers."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..random import get_rng


class Sampler:
    """Chooses the sample indices of one epoch.

    `indices(rng)` returns them as an int64 array (a DataLoader passes the generator of
    the epoch, so a seeded loader repeats); iterating a sampler draws from minigrad's
    generator (`mg.manual_seed`).
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self):
        return iter(self.indices(get_rng()).tolist())


def _check_n(name: str, n) -> int:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name}: the number of samples must be an int >= 0, got {n!r}")
    return int(n)


class SequentialSampler(Sampler):
    """0, 1, ..., n-1 every epoch."""

    def __init__(self, n: int):
        self.n = _check_n("SequentialSampler", n)

    def __len__(self) -> int:
        return self.n

    def indices(self, rng=None) -> np.ndarray:
        return np.arange(self.n)


class RandomSampler(Sampler):
    """A fresh permutation of 0..n-1 every epoch (each sample exactly once)."""

    def __init__(self, n: int):
        self.n = _check_n("RandomSampler", n)

    def __len__(self) -> int:
        return self.n

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(self.n)


def _class_members(name: str, labels) -> tuple[np.ndarray, list[np.ndarray]]:
    """(the sorted classes, the sample indices of each class) of labels (N,) int.
    Raises ValueError unless labels is a non-empty 1-D int array."""
    labels = np.asarray(getattr(labels, "data", labels))
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: labels must be a non-empty 1-D int array, "
                         f"got {labels.dtype} {labels.shape}")
    classes, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return classes, np.split(order, np.cumsum(np.bincount(inverse))[:-1])


class BalancedSampler(Sampler):
    """Class-balanced epochs for imbalanced labels (over-/under-sampling).

    labels: (N,) int class labels. An epoch has `num_samples` (default N) indices. Classes
    come in rounds, each round one shuffled pass over all K classes, so any run of
    consecutive indices (a batch) holds each class equally often, to within one. Within a
    class, samples are drawn from shuffled passes over its members: a minority class
    repeats its samples evenly, a majority class draws without repetition.
    """

    def __init__(self, labels, num_samples: int | None = None):
        self.classes, self.members = _class_members("BalancedSampler", labels)
        self.num_samples = sum(map(len, self.members)) if num_samples is None else _check_n(
            "BalancedSampler", num_samples)

    def __len__(self) -> int:
        return self.num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        k, n = len(self.classes), self.num_samples
        rounds = -(-n // k)
        cls = rng.permuted(np.tile(np.arange(k), (rounds, 1)), axis=1).ravel()[:n]
        out = np.empty(n, dtype=np.int64)
        for c, members in enumerate(self.members):   # a loop over classes, not samples
            slots = np.flatnonzero(cls == c)
            passes = -(-len(slots) // len(members))
            draws = np.concatenate([rng.permutation(members) for _ in range(passes)])
            out[slots] = draws[:len(slots)]
        return out


class RandomOverSampler(Sampler):
    """Random over-sampling (imbalanced-learn's RandomOverSampler, strategy "auto") as
    a sampler: each epoch holds every sample once, plus, for every class smaller than
    the largest, samples of that class drawn uniformly with replacement until it is as
    large, all in a fresh random order. With K classes and a largest class of M samples
    an epoch has K * M indices (a 95/5 split of N samples: 1.9 N).

    labels: (N,) int class labels. Raises ValueError for anything else.
    """

    def __init__(self, labels):
        self.classes, self.members = _class_members("RandomOverSampler", labels)
        self.largest = max(map(len, self.members))

    def __len__(self) -> int:
        return self.largest * len(self.members)

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        extra = [rng.choice(m, self.largest - len(m)) for m in self.members]
        return rng.permutation(np.concatenate(self.members + extra).astype(np.int64))


def _split_sizes(fn: str, n: int, test_size) -> int:
    if isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        n_test = int(np.ceil(test_size * n))
    elif isinstance(test_size, (int, np.integer)) and 0 < test_size < n:
        n_test = int(test_size)
    else:
        raise ValueError(f"{fn}: test_size must be a float in (0, 1) or an int in "
                         f"(0, {n}), got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"{fn}: test_size={test_size!r} leaves an empty split of {n} samples")
    return n_test


def _stratified_test_indices(labels: np.ndarray, n_test: int, rng) -> np.ndarray:
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    exact = counts * (n_test / len(labels))
    take = np.floor(exact).astype(np.int64)
    # Largest remainders get the leftover places, so the total is exactly n_test.
    leftover = n_test - take.sum()
    take[np.argsort(-(exact - take), kind="stable")[:leftover]] += 1
    picks = [rng.permutation(np.flatnonzero(inverse == c))[:t] for c, t in enumerate(take)]
    return np.concatenate(picks)


def train_test_split(*arrays, test_size=0.25, stratify=None, shuffle: bool = True,
                     seed: int | None = None, rng: np.random.Generator | None = None):
    """Split equally long arrays into random train and test parts (sklearn's order).

    test_size: a fraction in (0, 1) (rounded up) or a number of samples.
    stratify: labels (N,) whose class proportions both parts keep.
    shuffle: False takes the last samples as the test part (not with stratify).
    seed / rng: the randomness; default minigrad's generator.
    Returns: [a_train, a_test, b_train, b_test, ...].
    Raises ValueError when lengths differ or a part would be empty.
    """
    if not arrays:
        raise ValueError("train_test_split: needs at least one array")
    arrays = [np.asarray(getattr(a, "data", a)) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ShapeError(f"train_test_split: arrays must have the same length, got {shapes}")
    n_test = _split_sizes("train_test_split", n, test_size)
    rng = np.random.default_rng(seed) if seed is not None else get_rng(rng)
    if stratify is not None:
        labels = np.asarray(getattr(stratify, "data", stratify))
        if labels.shape != (n,):
            raise ValueError(f"train_test_split: stratify must have shape ({n},), "
                             f"got {labels.shape}")
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        test = rng.permutation(_stratified_test_indices(labels, n_test, rng))
        mask = np.ones(n, bool)
        mask[test] = False
        train = rng.permutation(np.flatnonzero(mask))
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train, test = order[:n - n_test], order[n - n_test:]
    return [part for a in arrays for part in (a[train], a[test])]


def validation_split(*arrays, fraction: float = 0.1, shuffle: bool = False, stratify=None,
                     seed: int | None = None):
    """Hold out a validation part: by default the LAST `fraction` of the samples, as
    Keras's fit(validation_split=...) does (the split index is int(N * (1 - fraction))).

    shuffle / stratify / seed: hold out a random (stratified) part instead.
    Returns: ((a_train, b_train, ...), (a_val, b_val, ...)).
    """
    if not (isinstance(fraction, (float, np.floating)) and 0.0 < fraction < 1.0):
        raise ValueError(f"validation_split: fraction must be a float in (0, 1), "
                         f"got {fraction!r}")
    if not arrays:
        raise ValueError("validation_split: needs at least one array")
    n = len(np.asarray(getattr(arrays[0], "data", arrays[0])))
    if shuffle or stratify is not None:
        n_val = n - int(n * (1.0 - fraction))
        parts = train_test_split(*arrays, test_size=n_val, stratify=stratify, seed=seed)
    else:
        split_at = int(n * (1.0 - fraction))
        if not 0 < split_at < n:
            raise ValueError(f"validation_split: fraction={fraction} of {n} samples leaves "
                             f"an empty part")
        parts = []
        for a in arrays:
            a = np.asarray(getattr(a, "data", a))
            if len(a) != n:
                raise ShapeError(f"validation_split: arrays must have the same length, "
                                 f"got {n} and {len(a)}")
            parts += [a[:split_at], a[split_at:]]
    return tuple(parts[0::2]), tuple(parts[1::2])
