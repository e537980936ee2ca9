"""The MPI process group and the collectives minigrad needs: broadcast of parameters,
bucketed all-reduce of gradients, and broadcast of small Python objects (logs, seeds).

Gradients travel in a few large messages, not one per tensor: they are copied into
contiguous buckets of at most BUCKET_BYTES per dtype (PyTorch DDP's default bucket
size, 25 MiB), each bucket is summed across ranks with one in-place Allreduce, and the
averaged values are copied back. Latency is paid per call, bandwidth per byte, so for
the MLPs and CNNs here (0.1-1 MB of gradients) a step makes one call per dtype.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

MPI_HINT = ("pip install 'minigrad[distributed]' (mpi4py and the mpich wheel, which "
            "brings mpiexec), then run the script with 'mpiexec -n K python ...'")
BUCKET_BYTES = 25 << 20

_group: dict[str, Any] = {"comm": None}
_stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "broadcast_calls": 0}


def init() -> None:
    """Join the MPI process group of this program (MPI.COMM_WORLD); idempotent.
    Raises ImportError saying what to install when mpi4py or MPI is missing."""
    if _group["comm"] is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as exc:  # mpi4py missing, or its MPI library cannot be loaded
        raise ImportError(f"mg.distributed.init: mpi4py is not usable ({exc}); {MPI_HINT}"
                          ) from exc
    _group["comm"] = MPI.COMM_WORLD
    _group["MPI"] = MPI


def is_initialized() -> bool:
    return _group["comm"] is not None


def _comm(op: str) -> Any:
    comm = _group["comm"]
    if comm is None:
        raise RuntimeError(f"mg.distributed.{op}: no process group; call "
                           "mg.distributed.init() first (under mpiexec)")
    return comm


def rank() -> int:
    """This process's index in the group, 0..world_size()-1."""
    return _comm("rank").Get_rank()


def world_size() -> int:
    """Number of processes in the group."""
    return _comm("world_size").Get_size()


def barrier() -> None:
    _comm("barrier").Barrier()


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """A small picklable object (logs, a seed) from ``root`` to every rank."""
    _stats["broadcast_calls"] += 1
    return _comm("broadcast_object").bcast(obj, root=root)


def _tensors(model_or_params: Any, buffers: bool) -> list:
    if hasattr(model_or_params, "parameters"):
        out = list(model_or_params.parameters())
        if buffers and hasattr(model_or_params, "buffers"):
            out += list(model_or_params.buffers())
        return out
    return list(model_or_params)


def _buckets(arrays: list[np.ndarray]) -> Iterable[list[int]]:
    """Indices of ``arrays`` grouped by dtype into runs of at most BUCKET_BYTES."""
    by_dtype: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        by_dtype.setdefault(a.dtype, []).append(i)
    for idx in by_dtype.values():
        bucket, size = [], 0
        for i in idx:
            if bucket and size + arrays[i].nbytes > BUCKET_BYTES:
                yield bucket
                bucket, size = [], 0
            bucket.append(i)
            size += arrays[i].nbytes
        if bucket:
            yield bucket


def all_reduce(values: np.ndarray) -> np.ndarray:
    """The element-wise sum of ``values`` over the ranks (a new array)."""
    comm = _comm("all_reduce")
    out = np.array(values, copy=True, order="C")
    comm.Allreduce(_group["MPI"].IN_PLACE, out, op=_group["MPI"].SUM)
    _stats["allreduce_calls"] += 1
    _stats["allreduce_bytes"] += out.nbytes
    return out


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Overwrite every parameter and buffer (running statistics) of ``model`` with
    rank ``root``'s values, in place, one Bcast per bucket."""
    comm = _comm("broadcast_parameters")
    tensors = _tensors(model, buffers=True)
    arrays = [t.data for t in tensors]
    for bucket in _buckets(arrays):
        flat = np.concatenate([arrays[i].ravel() for i in bucket])
        comm.Bcast(flat, root=root)
        _stats["broadcast_calls"] += 1
        offset = 0
        for i in bucket:
            n = arrays[i].size
            arrays[i][...] = flat[offset:offset + n].reshape(arrays[i].shape)
            offset += n


def all_reduce_gradients(model: Any, average: bool = True) -> None:
    """Sum (``average``: then divide by world_size) the ``.grad`` of every trainable
    parameter across ranks, in place. A parameter without a gradient on this rank
    takes part with zeros, so every rank makes the same calls."""
    comm = _comm("all_reduce_gradients")
    MPI = _group["MPI"]
    params = [p for p in _tensors(model, buffers=False) if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = type(p)._wrap(np.zeros(p.shape, p.dtype))
    grads = [p.grad.data for p in params]
    scale = 1.0 / comm.Get_size() if average else 1.0
    for bucket in _buckets(grads):
        flat = np.concatenate([grads[i].ravel() for i in bucket])
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
        _stats["allreduce_calls"] += 1
        _stats["allreduce_bytes"] += flat.nbytes
        if scale != 1.0:
            flat *= flat.dtype.type(scale)
        offset = 0
        for i in bucket:
            n = grads[i].size
            params[i].grad.data = flat[offset:offset + n].reshape(grads[i].shape)  # a view
            offset += n


def comm_stats() -> dict[str, int]:
    """Collective calls and bytes since the last reset (for the benchmarks)."""
    return dict(_stats)


def reset_comm_stats() -> None:
    for k in _stats:
        _stats[k] = 0
