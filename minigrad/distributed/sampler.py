"""DistributedSampler: each rank's share of every epoch, as PyTorch's."""
from __future__ import annotations

import numpy as np

from ..data.samplers import Sampler
from . import comm


class DistributedSampler(Sampler):
    """Rank r of K takes every K-th index of the epoch's order, starting at r.

    n: dataset length. shuffle: a permutation drawn from (seed, epoch), identical on
    every rank, so the shards never overlap; without it, 0..n-1 in order. The order is
    padded by repeating its start to a multiple of K, so every rank gets
    ceil(n / K) indices and makes the same number of steps (PyTorch, drop_last=False).
    The epoch advances by one each time the loader asks for an order; ``set_epoch``
    sets it (PyTorch's idiom). rank/world_size default to the initialised group's.
    """

    def __init__(self, n: int, shuffle: bool = True, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"DistributedSampler: n must be an int >= 1, got {n!r}")
        self.world = comm.world_size() if world_size is None else int(world_size)
        self.rank = comm.rank() if rank is None else int(rank)
        if not 0 <= self.rank < self.world:
            raise ValueError(f"DistributedSampler: rank must be in [0, {self.world}), "
                             f"got {self.rank}")
        if self.world > n:
            raise ValueError(f"DistributedSampler: world size {self.world} is larger than "
                             f"the dataset ({n} samples)")
        self.n, self.shuffle, self.seed, self.epoch = int(n), bool(shuffle), int(seed), 0

    def __len__(self) -> int:
        return -(-self.n // self.world)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self, rng: np.random.Generator | None = None) -> np.ndarray:
        order = (np.random.default_rng((self.seed, self.epoch)).permutation(self.n)
                 if self.shuffle else np.arange(self.n))
        self.epoch += 1
        total = len(self) * self.world
        order = np.concatenate([order, order[:total - self.n]])
        return order[self.rank::self.world]
