"""Data-parallel training over MPI (mpi4py): a process group, parameter broadcast,
bucketed gradient averaging, a sharding sampler and DistributedDataParallel.

    mpiexec -n 2 python train.py          # every rank runs the same script

    import minigrad as mg
    mg.distributed.init()
    model = mg.distributed.DistributedDataParallel(model)   # rank 0's weights everywhere
    loss.backward()                                         # gradients averaged over ranks

``mg.train.fit`` trains data-parallel by itself once a group is initialised: each rank
takes its shard of every global batch. mpi4py is imported by ``init()`` only, never by
``import minigrad``; install it with ``pip install 'minigrad[distributed]'``.
"""
from .comm import (all_reduce, all_reduce_gradients, barrier, broadcast_object, broadcast_parameters,
                   comm_stats, init, is_initialized, rank, reset_comm_stats, world_size)
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler

__all__ = ["DistributedDataParallel", "DistributedSampler", "all_reduce", "all_reduce_gradients",
           "barrier", "broadcast_object", "broadcast_parameters", "comm_stats", "init",
           "is_initialized", "rank", "reset_comm_stats", "world_size"]
