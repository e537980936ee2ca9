"""The Numba twins against the C kernels, side by side in one process on the kernel
benchmark's shapes (benchmarks/kernels.py), 1 thread:

    python -m benchmarks.numba_vs_c [--repeat 10] [gemm conv pool bn bias]

Each case runs the two backends round-robin after warm-up and reports medians of
>= 10 runs, wall and CPU time, and the Numba/C ratio of the CPU times (1 thread: the
CPU time is the kernel's own work, steadier than wall time on a shared machine).
"""
from __future__ import annotations

import argparse

import numpy as np

from . import kernels
from .common import machine, median_times, set_threads

FAMILIES = {
    "gemm": lambda mods, rng: kernels.gemm_cases(False, mods, None, rng),
    "conv": lambda mods, rng: kernels.conv_cases(mods, None, rng),
    "pool": lambda mods, rng: kernels.pool_cases(mods, None, rng),
    "bn": lambda mods, rng: kernels.bn_cases(mods, None, rng),
    "bias": lambda mods, rng: kernels.bias_relu_cases(mods, None, rng),
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("families", nargs="*", metavar="family",
                   help=f"some of {' '.join(FAMILIES)} (default: all)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs (>= 10)")
    args = p.parse_args(argv)
    unknown = set(args.families) - set(FAMILIES)
    if unknown:
        p.error(f"unknown families {sorted(unknown)}; choose from {list(FAMILIES)}")
    set_threads(1)
    mods = {k: v for k, v in kernels._backends().items() if k in ("c", "numba")}
    if set(mods) != {"c", "numba"}:
        raise SystemExit(f"needs the C and Numba backends, found {sorted(mods)}")
    rng = np.random.default_rng(0)
    print(f"Machine: {machine()}, 1 thread\n")
    print("| kernel | shape | C ms (CPU) | Numba ms (CPU) | Numba/C (CPU) | Numba/C (wall) |")
    print("|---|---|---|---|---|---|")
    for family in args.families or list(FAMILIES):
        for case in FAMILIES[family](mods, rng):
            cpu: dict[str, float] = {}
            wall = median_times(case.run, repeat=max(args.repeat, 10), warmup=2,
                                min_total=0.3, cpu=cpu)
            print(f"| {case.kernel} | {case.shape} | {cpu['c'] * 1e3:.2f} | "
                  f"{cpu['numba'] * 1e3:.2f} | {cpu['numba'] / cpu['c']:.2f} | "
                  f"{wall['numba'] / wall['c']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
