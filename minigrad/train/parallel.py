"""How ``fit`` trains data-parallel when an MPI group is initialised (mg.distributed).

Every rank walks the same global batches (one shuffle, seeded identically) and takes
its contiguous shard of each. The local loss is scaled by shard / (global / K) before
backward, so that DistributedDataParallel's average of the K local gradients is the
gradient of the mean loss over the whole global batch: the same update as one process
at that batch size, even when the last batch does not split evenly. Loss and accuracy
are reduced exactly (weighted by samples); other metrics are the sample-weighted mean
of the ranks' values. Rank 0's logs are broadcast, so callbacks such as EarlyStopping
decide the same on every rank; callbacks marked ``rank_zero_only`` (writing files) and
the progress bar run on rank 0 only.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import distributed as dist


class Single:
    """Training in one process: every hook is the identity."""

    active = False
    rank = 0

    def wrap(self, model: Any) -> Any:
        return model

    def seed(self, seed: int | None) -> int | None:
        return seed

    def shard(self, xb: Any, yb: Any) -> tuple[Any, Any, float]:
        return xb, yb, 1.0

    def reduce_logs(self, logs: dict, n_local: int) -> dict:
        return logs

    def callbacks(self, callbacks: Sequence[Any]) -> list:
        return list(callbacks)

    def verbose(self, verbose: int) -> int:
        return verbose


class DataParallel(Single):
    """Training across the ranks of the initialised MPI group."""

    active = True

    def __init__(self, batch_size: int):
        self.rank, self.world = dist.rank(), dist.world_size()
        if batch_size < self.world:
            raise ValueError(f"fit: batch_size {batch_size} is smaller than the world size "
                             f"{self.world}: every rank needs at least one sample of each "
                             "global batch")

    def wrap(self, model: Any) -> Any:
        if isinstance(model, dist.DistributedDataParallel):
            return model
        return dist.DistributedDataParallel(model)

    def seed(self, seed: int | None) -> int:
        """One shuffling seed for all ranks (rank 0's draw when none is given)."""
        if seed is None:
            from ..random import get_rng
            seed = int(get_rng().integers(2**63 - 1)) if self.rank == 0 else None
        return dist.broadcast_object(seed)

    def shard(self, xb: Any, yb: Any) -> tuple[Any, Any, float]:
        n = len(xb)
        lo, hi = n * self.rank // self.world, n * (self.rank + 1) // self.world
        return xb[lo:hi], yb[lo:hi], (hi - lo) * self.world / n

    def reduce_logs(self, logs: dict, n_local: int) -> dict:
        """Sample-weighted means over the ranks of the training logs."""
        names = sorted(logs)
        local = np.array([logs[k] * n_local for k in names] + [n_local], np.float64)
        total = dist.all_reduce(local)
        return {k: float(total[i] / total[-1]) for i, k in enumerate(names)}

    def callbacks(self, callbacks: Sequence[Any]) -> list:
        return [cb for cb in callbacks
                if self.rank == 0 or not getattr(cb, "rank_zero_only", False)]

    def verbose(self, verbose: int) -> int:
        return verbose if self.rank == 0 else 0


def plan(batch_size: int) -> Single:
    """DataParallel under an initialised group of 2+ ranks, else Single."""
    if dist.is_initialized() and dist.world_size() > 1:
        return DataParallel(batch_size)
    return Single()


def same_logs(plan_: Single, logs: dict) -> dict:
    """Rank 0's epoch logs on every rank (validation may differ by per-rank BN stats)."""
    return dist.broadcast_object(logs) if plan_.active else logs
