"""Timing helpers shared by the benchmarks: warm-up, round-robin medians, GFLOP/s, and
thread control for minigrad, OpenBLAS and PyTorch.

OpenBLAS reads its thread count once, when numpy is imported, so a benchmark that
compares thread counts runs each count in a fresh process (``worker_env``) instead of
changing it on the fly (threadpoolctl is not a dependency).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable

THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a benchmark process pinned to `threads` threads in every
    library (OpenBLAS, OpenMP, MKL; minigrad's C pool takes OMP_NUM_THREADS as its
    default). Numba and PyTorch are set in-process."""
    env = dict(os.environ)
    for name in THREAD_ENV:
        env[name] = str(threads)
    return env


def set_threads(threads: int) -> None:
    """minigrad's C and Numba kernels and PyTorch (when installed) use `threads`."""
    import minigrad as mg
    mg.set_num_threads(threads)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def time_once(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def median_times(fns: dict[str, Callable[[], object]], repeat: int = 10, warmup: int = 2,
                 min_total: float = 0.0, cpu: dict[str, float] | None = None
                 ) -> dict[str, float]:
    """Median wall seconds per call of each function, measured side by side.

    After `warmup` calls each, the functions run in turn (a, b, c, a, b, c, ...) for at
    least `repeat` rounds, and more until `min_total` seconds have passed, so a burst
    of load from other processes hits every contender alike instead of one of them.
    When `cpu` is a dict it receives the median CPU seconds of the process per call:
    on a machine shared with other jobs that is the steadier measure of the work done
    (for several threads it is their sum, not the elapsed time).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeat or (time.perf_counter() - start < min_total and rounds < 200):
        for name, fn in fns.items():
            runs[name].append(time_once(fn))
        rounds += 1
    if cpu is not None:
        cpu.update({name: statistics.median(c for _, c in t) for name, t in runs.items()})
    return {name: statistics.median(w for w, _ in t) for name, t in runs.items()}


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9 if seconds > 0 else float("nan")


def gbps(nbytes: float, seconds: float) -> float:
    return nbytes / seconds / 1e9 if seconds > 0 else float("nan")


def machine() -> str:
    """CPU model, core count and date, for the header of a results table."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"


def versions() -> dict[str, str]:
    """Versions of what a table depends on: Python, numpy, numba, PyTorch, minigrad's
    git revision (with "+dirty" for uncommitted changes)."""
    out = {"python": platform.python_version()}
    for name in ("numpy", "numba", "torch"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "not installed"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "describe", "--always", "--dirty=+dirty"], cwd=root,
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    out["minigrad"] = rev or "unknown"
    return out


def write_results(path: str, kind: str, payload: dict) -> None:
    """Write a benchmark's results with its provenance (the command that made them,
    date, machine, versions): what benchmarks/report.py turns into docs/benchmarks.md."""
    record = {"kind": kind,
              "command": "python -m benchmarks." + " ".join(
                  [os.path.splitext(os.path.basename(sys.argv[0]))[0]] + sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": machine(), "versions": versions(), **payload}
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
