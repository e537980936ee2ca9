"""Where batches come from: in-memory arrays (one reused input buffer) or a DataLoader."""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import numpy as np

from .spec import Task, prepare_targets

__all__ = ["ArraySource", "LoaderSource", "as_array", "is_loader", "make_source"]


def as_array(a: Any) -> np.ndarray:
    """The ndarray behind a Tensor (no copy), or np.asarray of anything else."""
    return np.asarray(getattr(a, "data", a))


def is_loader(x: Any) -> bool:
    # duck-typed so that any iterable of (xb, yb) with len() and train()/eval() works
    return hasattr(x, "__iter__") and hasattr(x, "batch_size") and hasattr(x, "dataset")


class ArraySource:
    """Batches of ``x (N, ...)`` and ``y (N, ...)`` held in memory.

    x keeps its own dtype (uint8 images stay uint8, 4x smaller); each batch is
    gathered and cast into one buffer of the model's dtype that is reused every step,
    so a step allocates nothing for its input. The buffer is overwritten by the next
    batch: the model must not keep the input array beyond one step.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray | None, batch_size: int, dtype: Any):
        self.x, self.y = x, y
        self.n, self.batch_size = len(x), int(batch_size)
        self.dtype = np.dtype(dtype)
        self._buf: np.ndarray | None = None
        self._raw: np.ndarray | None = None  # the gather buffer of a cast batch

    def __len__(self) -> int:
        return self.n

    @property
    def steps(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def probe_batch(self, k: int = 2) -> tuple[np.ndarray, Any]:
        k = min(k, self.n)
        yb = None if self.y is None else self.y[:k]
        return self.x[:k].astype(self.dtype, copy=False), yb

    def prepare(self, task: Task, what: str, record: bool = True) -> None:
        """Convert and check all targets once, before training (``record``: these are the
        training targets, which decide whether class metrics apply)."""
        if self.y is not None:
            self.y = prepare_targets(task, self.y, what, record)

    def split(self, at: int) -> tuple["ArraySource", "ArraySource"]:
        """The first ``at`` samples and the rest (views, no copies)."""
        ys = (None, None) if self.y is None else (self.y[:at], self.y[at:])
        return (ArraySource(self.x[:at], ys[0], self.batch_size, self.dtype),
                ArraySource(self.x[at:], ys[1], self.batch_size, self.dtype))

    def _raw_buffer(self) -> np.ndarray:
        """A batch buffer in x's own dtype, kept between epochs (see batches)."""
        if self._raw is None:
            self._raw = np.empty((min(self.batch_size, self.n),) + self.x.shape[1:],
                                 self.x.dtype)
        return self._raw

    def batches(self, order: np.ndarray | None = None, training: bool = True
                ) -> Iterator[tuple[np.ndarray, Any]]:
        """Yield ``(xb, yb)`` in ``order`` (indices) or sequentially."""
        x, y, bs = self.x, self.y, self.batch_size
        if self._buf is None:
            self._buf = np.empty((min(bs, self.n),) + x.shape[1:], self.dtype)
        same = x.dtype == self.dtype
        for start in range(0, self.n, bs):
            stop = min(start + bs, self.n)
            xb = self._buf[:stop - start]
            if order is None:
                idx: Any = slice(start, stop)
                if same and x.flags.c_contiguous:
                    yield x[idx], (None if y is None else y[idx])  # a view: no copy at all
                    continue
                xb[...] = x[idx]
            else:
                idx = order[start:stop]
                if same:
                    np.take(x, idx, axis=0, out=xb, mode="clip")  # "clip": no temp buffer
                else:  # gathered in x's dtype (uint8 images: a quarter of the bytes), cast
                    raw = self._raw_buffer()[:stop - start]
                    np.take(x, idx, axis=0, out=raw, mode="clip")
                    np.copyto(xb, raw, casting="unsafe")  # as xb[...] = x[idx]
            yield xb, (None if y is None else y[idx])


class LoaderSource:
    """Batches drawn from a DataLoader yielding ``(xb, yb)``; its transform (augmentation)
    runs only for training batches: evaluation switches the loader to eval mode."""

    def __init__(self, loader: Any, dtype: Any, task: Task | None = None):
        self.loader, self.dtype, self.task = loader, np.dtype(dtype), task
        self.what = "fit"
        self.batch_size = getattr(loader, "batch_size", None)

    def __len__(self) -> int:
        return len(self.loader.dataset)

    @property
    def steps(self) -> int | None:
        try:
            return len(self.loader)
        except TypeError:
            return None

    def _dataset_arrays(self) -> tuple | None:
        arrays = getattr(self.loader.dataset, "arrays", None)
        return arrays if arrays is not None and len(arrays) >= 2 else None

    def probe_batch(self, k: int = 2) -> tuple[np.ndarray, Any]:
        """The first samples, read from the dataset without transform or shuffling."""
        ds = self.loader.dataset
        k = min(k, len(ds))
        items = [ds[i] for i in range(k)]
        if not items or not isinstance(items[0], tuple) or len(items[0]) < 2:
            raise ValueError("fit: a DataLoader passed as x must yield (x, y) batches")
        xb = np.stack([as_array(it[0]) for it in items]).astype(self.dtype, copy=False)
        return xb, np.stack([as_array(it[1]) for it in items])

    def prepare(self, task: Task, what: str, record: bool = True) -> None:
        """Check every label up front when the dataset holds arrays; else the first
        samples now and each batch as it comes."""
        self.task, self.what = task, what
        arrays = self._dataset_arrays()
        labels = as_array(arrays[1]) if arrays is not None else self.probe_batch()[1]
        prepare_targets(task, labels, what, record)

    @contextlib.contextmanager
    def _mode(self, training: bool) -> Iterator[None]:
        was = getattr(self.loader, "training", None)
        if hasattr(self.loader, "train"):
            self.loader.train(training)
        try:
            yield
        finally:
            if was is not None:
                self.loader.train(was)

    def batches(self, order: Any = None, training: bool = True, epoch: int | None = None
                ) -> Iterator[tuple[np.ndarray, Any]]:
        if epoch is not None and hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)  # the run repeats whatever iterated the loader before
        with self._mode(training):
            for batch in self.loader:
                if not isinstance(batch, (tuple, list)):
                    batch = (batch,)
                xb = as_array(batch[0]).astype(self.dtype, copy=False)
                if self.task is None:  # predict: inputs only
                    yield xb, None
                    continue
                if len(batch) < 2:
                    raise ValueError("fit: a DataLoader passed as x must yield (x, y) batches, "
                                     f"got a tuple of {len(batch)}")
                yield xb, prepare_targets(self.task, as_array(batch[1]), self.what, record=False)


def make_source(x: Any, y: Any, batch_size: int, dtype: Any, what: str
                ) -> ArraySource | LoaderSource:
    """An ArraySource for arrays/Tensors (checking x/y lengths) or a LoaderSource."""
    if is_loader(x):
        if y is not None:
            raise ValueError(f"{what}: y must be None when x is a DataLoader (it yields (x, y))")
        return LoaderSource(x, dtype)
    xa = as_array(x)
    if xa.ndim == 0 or len(xa) == 0:
        raise ValueError(f"{what}: x must hold at least one sample, got shape {xa.shape}")
    if xa.dtype.kind not in "biuf":
        raise TypeError(f"{what}: x must be numeric, got dtype {xa.dtype}")
    ya = None if y is None else as_array(y)
    if ya is not None and (ya.ndim == 0 or len(ya) != len(xa)):
        raise ValueError(f"{what}: x and y must have the same number of samples, "
                         f"got x{xa.shape} and y{ya.shape}")
    return ArraySource(xa, ya, batch_size, dtype)
