"""Thread policy of the Numba kernels: how many threads, read from the environment
once at import, and when a kernel is worth splitting at all."""
from __future__ import annotations

import os

import numba

# Below this many elements a pass over an array is cheaper than waking the thread
# team (an MLP layer's bias + ReLU at batch 128 is about 2**15).
PARALLEL_MIN = 1 << 16


def set_num_threads(n: int) -> None:
    """Threads of the parallel kernels, clamped to the pool Numba started with.

    Raises ValueError unless n is an int >= 1."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    return numba.get_num_threads()


def threads_for(tasks: int) -> int:
    """How many threads share `tasks` independent tasks (at least 1)."""
    return max(1, min(numba.get_num_threads(), tasks))


def _threads_from_environment() -> None:
    """The documented default is OMP_NUM_THREADS when set, else every core; Numba by
    itself reads only NUMBA_NUM_THREADS, so honour OMP_NUM_THREADS here."""
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        set_num_threads(int(omp))


_threads_from_environment()
