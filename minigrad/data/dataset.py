"""Datasets: the indexable sources a DataLoader batches."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` returns sample i as a tuple of
    arrays (e.g. (x_i, y_i)). Subclass it for data that is not held in arrays; the
    DataLoader then builds batches item by item and stacks them."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


def _as_array(a) -> np.ndarray:
    # Tensors expose .data; taking it avoids a copy and keeps the dtype.
    return np.asarray(getattr(a, "data", a))


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: `ds[i] == (a[i], b[i], ...)`.

    arrays: ndarrays (or Tensors) sharing their first dimension N.
    Batches are taken by fancy-indexing every array at once (DataLoader's fast path).
    Raises ValueError with every shape when the first dimensions differ.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        for a in self.arrays:
            if a.ndim == 0:
                raise ValueError("TensorDataset: arrays need a first (sample) dimension, "
                                 "got a 0-d array")
        lengths = {len(a) for a in self.arrays}
        if len(lengths) > 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ShapeError(f"TensorDataset: all arrays must have the same first dimension "
                             f"(number of samples), got shapes {shapes}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def take(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The batch of samples `indices`, one fancy-indexed copy per array."""
        return tuple(a[indices] for a in self.arrays)
