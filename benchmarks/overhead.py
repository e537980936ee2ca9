"""Per-op overhead of the engine: a small elementwise op, with and without grad
recording, and a tiny forward+backward, next to PyTorch measured in the same run.

    python -m benchmarks.overhead [--repeat 7] [--number 2000] [--json PATH]
"""
from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

import minigrad as mg

from .common import write_results


def _median_us(stmt, number: int, repeat: int) -> float:
    runs = timeit.repeat(stmt, number=number, repeat=repeat)
    return statistics.median(runs) / number * 1e6


def cases(lib: str):
    """name -> zero-argument callable doing one unit of work in `lib`."""
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    if lib == "minigrad":
        a, b = mg.tensor(x), mg.tensor(x)
        ga, gb = mg.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
        ctx = mg.no_grad

        def fwd_bwd():
            (ga * gb + ga).sum().backward()
    else:
        import torch
        torch.set_num_threads(1)
        a, b = torch.tensor(x), torch.tensor(x)
        ga, gb = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ctx = torch.no_grad

        def fwd_bwd():
            (ga * gb + ga).sum().backward()

    def add_no_grad():
        with ctx():
            a + b

    return {
        "add, no grad (16 floats)": lambda: a + b,
        "add inside no_grad()": add_no_grad,
        "add, recorded on the tape": lambda: ga + gb,
        "mul+add+sum fwd+bwd": fwd_bwd,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--number", type=int, default=2000)
    p.add_argument("--json", default="bench_results/overhead.json")
    args = p.parse_args(argv)
    rows = {}
    for lib in ("minigrad", "torch"):
        try:
            for name, fn in cases(lib).items():
                fn()  # warm-up
                rows.setdefault(name, {})[lib] = _median_us(fn, args.number, args.repeat)
        except ImportError:
            print(f"{lib} not installed: skipped")
    print("| op | minigrad (us) | PyTorch (us) | ratio |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        t = r.get("torch", float("nan"))
        print(f"| {name} | {r['minigrad']:.2f} | {t:.2f} | {r['minigrad'] / t:.2f}x |")
    write_results(args.json, "overhead", {"rows": rows})


if __name__ == "__main__":
    main()
