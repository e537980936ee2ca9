"""DataLoader: batches as Tensors (PyTorch), in sequential, shuffled or sampler order."""
from __future__ import annotations

import numpy as np

from ..random import get_rng
from ..tensor import Tensor
from .dataset import Dataset, TensorDataset
from .samplers import RandomSampler, Sampler, SequentialSampler


def _collate(items: list) -> tuple[np.ndarray, ...]:
    """Stack per-item samples (tuples of arrays or scalars) into batch arrays."""
    first = items[0]
    if not isinstance(first, tuple):
        return (np.stack([np.asarray(it) for it in items]),)
    return tuple(np.stack([np.asarray(it[j]) for it in items]) for j in range(len(first)))


class DataLoader:
    """Iterates over a dataset in batches; each iteration is one epoch.

    dataset: a Dataset, or a tuple of equally long arrays (wrapped in a TensorDataset).
    batch_size: samples per batch; the last, smaller batch is kept unless drop_last.
    shuffle: a new random order each epoch (ignored when a sampler is given).
    sampler: a Sampler choosing each epoch's indices (replaces shuffle).
    transform: callable applied to the first array of every batch (images NCHW numpy in,
        numpy out), e.g. a Compose of augmentations. It runs only while the loader is in
        training mode; `loader.eval()` turns it off (fit/evaluate call this for
        validation data), `loader.train()` back on.
    seed: epoch e draws its order from np.random.default_rng((seed, e)), so every epoch
        differs and the whole run repeats; None draws from minigrad's generator
        (`mg.manual_seed`).
    Yields: tuples of Tensors, e.g. (x_batch (B, ...), y_batch (B,)), as PyTorch's
    loader does: each wraps the gathered batch array without a copy, keeps its dtype
    (uint8 images stay uint8) and does not require grad; ``.numpy()`` or
    ``np.asarray`` gives the array back. fit, evaluate, predict and the diagnostics
    take these batches as they take numpy arrays.
    An epoch visits every sample exactly once (with the default samplers). TensorDataset
    batches are taken by fancy-indexing whole arrays; a generic Dataset is read item by
    item and stacked.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, sampler: Sampler | None = None, transform=None,
                 seed: int | None = None):
        if isinstance(dataset, (tuple, list)):
            dataset = TensorDataset(*dataset)
        if not isinstance(dataset, Dataset):
            raise TypeError(f"DataLoader: dataset must be a Dataset or a tuple of arrays, "
                            f"got {type(dataset).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        if sampler is not None and not isinstance(sampler, Sampler):
            raise TypeError(f"DataLoader: sampler must be a Sampler, got "
                            f"{type(sampler).__name__}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got "
                            f"{type(transform).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if sampler is None:
            n = len(dataset)
            sampler = RandomSampler(n) if shuffle else SequentialSampler(n)
        self.sampler = sampler
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.training = True

    def train(self, mode: bool = True) -> "DataLoader":
        """Apply the transform (True) or skip it (False); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> "DataLoader":
        """Skip the transform (for validation / test data); returns self."""
        return self.train(False)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch `epoch`'s order (seeded loaders)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_rng(self) -> np.random.Generator:
        if self.seed is None:
            return get_rng()
        return np.random.default_rng((self.seed, self.epoch))

    def _batch(self, idx: np.ndarray) -> tuple[np.ndarray, ...]:
        if isinstance(self.dataset, TensorDataset):
            return self.dataset.take(idx)
        return _collate([self.dataset[int(i)] for i in idx])

    def __iter__(self):
        order = np.asarray(self.sampler.indices(self._epoch_rng()), dtype=np.intp)
        self.epoch += 1
        bs, n = self.batch_size, len(order)
        stop = n - n % bs if self.drop_last else n
        transform = self.transform if self.training else None
        for start in range(0, stop, bs):
            batch = self._batch(order[start:start + bs])
            if transform is not None:
                batch = (transform(batch[0]),) + batch[1:]
            yield tuple(Tensor._wrap(np.asarray(a)) for a in batch)
