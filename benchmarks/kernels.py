"""Kernel benchmark: every kernel of the backend interface on the shapes of the MNIST
MLP/CNN, on each minigrad backend (c, numba, numpy) next to numpy/OpenBLAS (matmul)
and PyTorch CPU (every kernel), all measured side by side in the same process.

    python -m benchmarks.kernels [--quick] [--threads 1 2] [--json out.json]
                                 [--png out.png] [--no-cold]

Each thread count runs in its own subprocess (OpenBLAS fixes its thread count when
numpy is imported). Times are medians of >= 10 round-robin runs after warm-up. Rates
are GFLOP/s for matmul/conv and GB/s (bytes that must move at least once) for pooling
and batch norm. "vs BLAS" is a speed ratio (>1: faster than numpy @); "vs torch" is a
time ratio (<1: faster than PyTorch). The cold-start section times the first calls of
SGEMM in fresh processes. With 2+ threads every contender runs in a process of its own
(--shared: all in one, round-robin, as with 1 thread): the OpenMP workers of PyTorch and
OpenBLAS spin after each call and would steal the cores from the next contender.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .common import (gbps, gflops, machine, median_times, set_threads, worker_env,
                     write_results)


@dataclass
class Case:
    kernel: str
    shape: str
    work: float                     # flops, or bytes for memory-bound kernels
    unit: str                       # "GFLOP/s" or "GB/s"
    run: dict[str, Callable[[], object]] = field(default_factory=dict)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _backends() -> dict[str, object]:
    import minigrad as mg
    mods = {}
    for name in mg.backend.available():
        with mg.backend.use(name):
            mods[name] = mg.backend.current()
    return mods


def gemm_case(label, m, n, k, ta, tb, dtype, mods, torch, rng) -> Case:
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    case = Case("sgemm" if dtype == np.float32 else "dgemm", label, 2.0 * m * n * k,
                "GFLOP/s")
    for name, mod in mods.items():
        case.run[name] = lambda mod=mod: mod.matmul(a, b, ta, tb)
    av, bv = (a.T if ta else a), (b.T if tb else b)      # views: BLAS gets the flags
    case.run["blas"] = lambda: av @ bv
    if torch is not None:
        at = torch.from_numpy(a).T if ta else torch.from_numpy(a)
        bt = torch.from_numpy(b).T if tb else torch.from_numpy(b)
        case.run["torch"] = lambda: torch.matmul(at, bt)
    return case


def gemm_cases(quick: bool, mods, torch, rng) -> list[Case]:
    sizes = (128, 512) if quick else (128, 256, 512, 1024, 2048)
    cases = [gemm_case(f"{s}^3", s, s, s, False, False, np.float32, mods, torch, rng)
             for s in sizes]
    cases += [  # the MNIST MLP's first layer: forward x @ W.T and its two backward products
        gemm_case("x@W.T 128x784@784x300", 128, 300, 784, False, True, np.float32, mods,
                  torch, rng),
        gemm_case("dW=dy.T@x 300x128@128x784", 300, 784, 128, True, False, np.float32,
                  mods, torch, rng),
        gemm_case("dX=dy@W 128x300@300x784", 128, 784, 300, False, False, np.float32,
                  mods, torch, rng)]
    cases += [gemm_case(f"{s}^3", s, s, s, False, False, np.float64, mods, torch, rng)
              for s in ((512,) if quick else (256, 1024))]
    return cases


def conv_cases(mods, torch, rng) -> list[Case]:
    # The MNIST CNN's two convolutions; the first sees the input, so it needs no dx.
    return (conv_case(128, 1, 28, 32, False, mods, torch, rng)
            + conv_case(128, 32, 14, 64, True, mods, torch, rng))


def conv_case(n, c, hw, f, need_dx, mods, torch, rng) -> list[Case]:
    """conv2d 3x3, padding 1: forward alone, and forward + backward; by the default
    kernels and by Winograd."""
    from minigrad.ops.conv import winograd_dx   # minigrad loads after the thread setup
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((f, c, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    dy = rng.standard_normal((n, f, hw, hw)).astype(np.float32)
    flops = 2.0 * n * f * hw * hw * c * 9
    label = f"{c}->{f} 3x3 pad1 {hw}x{hw} N={n}" + ("" if need_dx else " (no dx)")
    fwd = Case("conv2d fwd", label, flops, "GFLOP/s")
    both = Case("conv2d fwd+bwd", label, flops * (3 if need_dx else 2), "GFLOP/s")
    for name, mod in mods.items():
        fwd.run[name] = lambda mod=mod: mod.conv2d_forward(x, w, b, (1, 1), (1, 1))
        both.run[name] = lambda mod=mod: (
            mod.conv2d_forward(x, w, b, (1, 1), (1, 1)),
            mod.conv2d_backward(x, w, dy, (1, 1), (1, 1), need_dx, True, True))
    # Winograd (conv_algorithm("winograd")): y, dx and dw by Winograd F(4x4, 3x3), the
    # kernels' default tile; "winograd-f2": the same by F(2x2, 3x3) for comparison.
    wcases = []
    for kind, tile in (("winograd", 4), ("winograd-f2", 2)):
        wfwd = Case(f"conv2d {kind} fwd", label, flops, "GFLOP/s")
        wboth = Case(f"conv2d {kind} fwd+bwd", label, flops * (3 if need_dx else 2), "GFLOP/s")
        for name, mod in mods.items():
            wfwd.run[name] = lambda mod=mod, tile=tile: mod.conv2d_winograd_forward(
                x, w, b, (1, 1), tile=tile)
            wboth.run[name] = lambda mod=mod, tile=tile: (
                mod.conv2d_winograd_forward(x, w, b, (1, 1), tile=tile),
                winograd_dx(mod, w, dy, (1, 1), tile=tile) if need_dx else None,
                mod.conv2d_winograd_backward_weight(x, dy, (1, 1), tile=tile),
                mod.conv2d_backward(x, w, dy, (1, 1), (1, 1), False, False, True))
        wcases += [wfwd, wboth]
    if torch is not None:
        F = torch.nn.functional
        xt = torch.from_numpy(x).requires_grad_(need_dx)
        wt, bt = (torch.from_numpy(a).requires_grad_() for a in (w, b))
        dyt = torch.from_numpy(dy)
        for case in [fwd, *wcases[::2]]:
            case.run["torch"] = lambda: _no_grad(torch, lambda: F.conv2d(xt, wt, bt, padding=1))
        for case in [both, *wcases[1::2]]:
            case.run["torch"] = lambda: _backward(F.conv2d(xt, wt, bt, padding=1), dyt,
                                                  (xt, wt, bt))
    return [fwd, both, *wcases]


def _no_grad(torch, fn):
    with torch.no_grad():
        return fn()


def _backward(y, dy, leaves) -> None:
    y.backward(dy)
    for t in leaves:
        t.grad = None


def pool_cases(mods, torch, rng) -> list[Case]:
    return [case for shape in ((128, 32, 28, 28), (128, 64, 14, 14))
            for case in pool_case(shape, mods, torch, rng)]


def pool_case(shape, mods, torch, rng) -> list[Case]:
    """max- and avg-pool 2x2, stride 2, forward + backward."""
    x = rng.standard_normal(shape).astype(np.float32)
    out = (shape[0], shape[1], shape[2] // 2, shape[3] // 2)
    dy = rng.standard_normal(out).astype(np.float32)
    label = "x" + "x".join(map(str, shape)) + " k2 s2"
    # fwd reads x, writes y (+ int64 argmax); bwd reads dy (+ argmax), writes dx
    small, big = np.prod(out) * 4, np.prod(shape) * 4
    mx = Case("maxpool2d fwd+bwd", label, 2 * big + 2 * small + 4 * small, "GB/s")
    av = Case("avgpool2d fwd+bwd", label, 2 * big + 2 * small, "GB/s")
    for name, mod in mods.items():
        def run_max(mod=mod):
            y, arg = mod.maxpool2d_forward(x, (2, 2), (2, 2))
            return mod.maxpool2d_backward(dy, arg, shape)
        mx.run[name] = run_max
        av.run[name] = lambda mod=mod: (mod.avgpool2d_forward(x, (2, 2), (2, 2)),
                                        mod.avgpool2d_backward(dy, shape, (2, 2), (2, 2)))
    if torch is not None:
        F = torch.nn.functional
        xt, dyt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dy)
        mx.run["torch"] = lambda: _backward(F.max_pool2d(xt, 2), dyt, (xt,))
        av.run["torch"] = lambda: _backward(F.avg_pool2d(xt, 2), dyt, (xt,))
    return [mx, av]


def bn_cases(mods, torch, rng) -> list[Case]:
    return [bn_case(shape, mods, torch, rng) for shape in ((128, 32, 28, 28), (128, 300))]


def bn_case(shape, mods, torch, rng) -> Case:
    """Batch norm in training mode, forward + backward."""
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    g, b = rng.random(c).astype(np.float32) + 0.5, rng.standard_normal(c).astype(np.float32)
    rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
    # fwd reads x, writes y; bwd reads x and dy, writes dx
    case = Case("batchnorm fwd+bwd", "x" + "x".join(map(str, shape)) + " train",
                5.0 * x.nbytes, "GB/s")
    for name, mod in mods.items():
        def run(mod=mod):
            y, mean, invstd = mod.batchnorm_forward(x, g, b, rm, rv, True, 0.1, 1e-5)
            return mod.batchnorm_backward(dy, x, g, mean, invstd, True)
        case.run[name] = run
    if torch is not None:
        F = torch.nn.functional
        xt, gt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, g, b))
        rmt, rvt, dyt = torch.zeros(c), torch.ones(c), torch.from_numpy(dy)
        case.run["torch"] = lambda: _backward(
            F.batch_norm(xt, rmt, rvt, gt, bt, True, 0.1, 1e-5), dyt, (xt, gt, bt))
    return case


def bias_relu_cases(mods, torch, rng) -> list[Case]:
    return [bias_relu_case(shape, mods, torch, rng) for shape in ((128, 32, 28, 28),
                                                                 (128, 300))]


def bias_relu_case(shape, mods, torch, rng) -> Case:
    """The fused bias + ReLU epilogue of a conv / Linear output, forward (in place) +
    backward (mask and bias gradient). The bias is zero so that the in-place forward
    can repeat on one buffer (relu is idempotent) without a refill pass; the kernels
    are branch-free, so timing does not depend on the values. "numpy" is the unfused
    reference (z + b, maximum, dy * mask, sum), "torch" relu(z + b) with autograd."""
    c = shape[1]
    z = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    b = np.zeros(c, np.float32)
    # fwd reads and writes z; bwd reads dy and y, writes dz
    case = Case("bias+relu fwd+bwd", "x" + "x".join(map(str, shape)), 5.0 * z.nbytes, "GB/s")
    for name, mod in mods.items():
        buf = z.copy()

        def run(mod=mod, buf=buf):
            y = mod.bias_relu_forward(buf, b)
            return mod.bias_relu_backward(dy, y, True)
        case.run[name] = run
    if torch is not None:
        zt, bt = torch.from_numpy(z).requires_grad_(), torch.from_numpy(b).requires_grad_()
        dyt, bshape = torch.from_numpy(dy), (c,) + (1,) * (len(shape) - 2)
        case.run["torch"] = lambda: _backward(torch.relu(zt + bt.reshape(bshape)), dyt,
                                              (zt, bt))
    return case


def worker(threads: int, quick: bool, repeat: int, only: str | None = None) -> list[dict]:
    """Runs every case with `threads` threads; returns one row per (case, contender).
    only: run just that contender (the ratios are then filled in by the caller)."""
    set_threads(threads)
    torch = _torch() if only in (None, "torch") else None
    mods, rng = _backends(), np.random.default_rng(0)
    if only is not None:
        mods = {k: v for k, v in mods.items() if k == only}
    rows = []
    for make in (lambda: gemm_cases(quick, mods, torch, rng), lambda: conv_cases(
            mods, torch, rng), lambda: pool_cases(mods, torch, rng),
            lambda: bn_cases(mods, torch, rng), lambda: bias_relu_cases(mods, torch, rng)):
        for case in make():
            if only is not None:
                case.run = {k: v for k, v in case.run.items() if k == only}
                if not case.run:
                    continue
            cpu: dict[str, float] = {}
            times = median_times(case.run, repeat=repeat, warmup=2, min_total=0.3, cpu=cpu)
            rate = gflops if case.unit == "GFLOP/s" else gbps
            for name, t in times.items():
                rows.append({"kernel": case.kernel, "shape": case.shape, "threads": threads,
                             "backend": name, "median_s": t, "cpu_s": cpu[name],
                             "cpu_vs_torch": (cpu[name] / cpu["torch"] if "torch" in cpu
                                              else None),
                             "rate": rate(case.work, t),
                             "unit": case.unit,
                             "vs_blas": times["blas"] / t if "blas" in times else None,
                             "vs_torch": t / times["torch"] if "torch" in times else None})
            print(f"  [{threads} thr] {case.kernel} {case.shape}: " + ", ".join(
                f"{k} {v * 1e3:.2f} ms" for k, v in times.items()), file=sys.stderr)
    return rows


COLD_SHAPES = {"128^3": (128, 128, 128, False, False), "256^3": (256, 256, 256, False, False),
               "x@W.T": (128, 300, 784, False, True), "dW=dy.T@x": (300, 784, 128, True, False),
               "dX=dy@W": (128, 784, 300, False, False)}


def cold_worker(lib: str, shape: str) -> dict:
    """In this fresh process: GFLOP/s of the first three SGEMM calls of one shape."""
    import time
    m, n, k, ta, tb = COLD_SHAPES[shape]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    if lib == "c":
        import minigrad as mg
        mg.backend.set_backend("c")
        fn = lambda: mg.backend.current().matmul(a, b, ta, tb)  # noqa: E731
    elif lib == "torch":
        import torch
        at = torch.from_numpy(a).T if ta else torch.from_numpy(a)
        bt = torch.from_numpy(b).T if tb else torch.from_numpy(b)
        fn = lambda: torch.matmul(at, bt)  # noqa: E731
    else:
        av, bv = (a.T if ta else a), (b.T if tb else b)
        fn = lambda: av @ bv  # noqa: E731
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        rates.append(gflops(2.0 * m * n * k, time.perf_counter() - start))
    return {"lib": lib, "shape": shape, "gflops_first_calls": rates}


def cold_median(runs: list[dict]) -> dict:
    """Per call index, the median over fresh processes: one process's first call is a
    single sample, easily hit by a scheduler time slice on a shared machine."""
    rates = np.median([r["gflops_first_calls"] for r in runs], axis=0)
    return {**runs[0], "gflops_first_calls": [float(r) for r in rates],
            "processes": len(runs)}


CONTENDERS = ("c", "numba", "numpy", "blas", "torch")


def _with_ratios(rows: list[dict]) -> list[dict]:
    """Fills vs_blas, vs_torch and cpu_vs_torch across rows measured in separate
    processes (one per contender)."""
    ref: dict[tuple, dict] = {}
    for r in rows:
        ref.setdefault((r["kernel"], r["shape"], r["threads"]), {})[r["backend"]] = r
    for r in rows:
        peers = ref[(r["kernel"], r["shape"], r["threads"])]
        blas, tor = peers.get("blas"), peers.get("torch")
        r["vs_blas"] = blas["median_s"] / r["median_s"] if blas else None
        r["vs_torch"] = r["median_s"] / tor["median_s"] if tor else None
        r["cpu_vs_torch"] = r["cpu_s"] / tor["cpu_s"] if tor else None
    return rows


def _subprocess(args: list[str], threads: int) -> object:
    cmd = [sys.executable, "-m", "benchmarks.kernels"] + args
    out = subprocess.run(cmd, env=worker_env(threads), check=True, stdout=subprocess.PIPE)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| kernel | shape | thr | backend | median ms | rate | vs BLAS (speed) "
             "| vs torch (time) | CPU ms | CPU vs torch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        blas = f"{r['vs_blas']:.2f}x" if r["vs_blas"] is not None else ""
        tor = f"{r['vs_torch']:.2f}x" if r["vs_torch"] is not None else ""
        ctor = f"{r['cpu_vs_torch']:.2f}x" if r.get("cpu_vs_torch") is not None else ""
        lines.append(f"| {r['kernel']} | {r['shape']} | {r['threads']} | {r['backend']} | "
                     f"{r['median_s'] * 1e3:.3f} | {r['rate']:.1f} {r['unit']} | {blas} | "
                     f"{tor} | {r['cpu_s'] * 1e3:.3f} | {ctor} |")
    return "\n".join(lines)


def cold_table(cold: list[dict]) -> str:
    lines = ["| shape | lib | GFLOP/s call 1 | call 2 | call 3 |", "|---|---|---|---|---|"]
    for c in cold:
        r = c["gflops_first_calls"]
        lines.append(f"| {c['shape']} | {c['lib']} | {r[0]:.1f} | {r[1]:.1f} | {r[2]:.1f} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    """Bar chart: speed relative to PyTorch (t_torch / t) per case, backend, threads."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = list(dict.fromkeys((r["kernel"], r["shape"]) for r in rows))
    names = [n for n in ("c", "numba", "numpy", "blas") if any(r["backend"] == n for r in rows)]
    threads = sorted({r["threads"] for r in rows})
    fig, axes = plt.subplots(len(threads), 1, figsize=(14, 5 * len(threads)), squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        for i, name in enumerate(names):
            vals = []
            for kernel, shape in cases:
                r = [r for r in rows if (r["kernel"], r["shape"], r["threads"], r["backend"])
                     == (kernel, shape, t, name)]
                vals.append(1.0 / r[0]["vs_torch"] if r and r[0]["vs_torch"] else 0.0)
            ax.bar(np.arange(len(cases)) + i * 0.8 / len(names), vals, 0.8 / len(names),
                   label=name)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("speed vs PyTorch (x)")
        ax.set_title(f"{t} thread(s)")
        ax.set_xticks(np.arange(len(cases)) + 0.4 - 0.4 / len(names))
        ax.set_xticklabels([f"{k}\n{s}" for k, s in cases], rotation=60, ha="right",
                           fontsize=7)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer shapes")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=10, help="timed runs (>= 10)")
    p.add_argument("--json", default="bench_results/kernels.json",
                   help="write every measurement to this file")
    p.add_argument("--png", help="draw the bar chart to this file")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start runs")
    p.add_argument("--shared", action="store_true",
                   help="with 2+ threads, measure every contender in one process too "
                        "(default: one process per contender, see below)")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    p.add_argument("--only", help=argparse.SUPPRESS)
    p.add_argument("--cold-worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.quick, max(args.repeat, 10), args.only)))
        return
    if args.cold_worker:
        print(json.dumps(cold_worker(*args.cold_worker)))
        return
    extra = ["--quick"] if args.quick else []
    rows = []
    for t in args.threads:
        base = ["--worker", str(t), "--repeat", str(args.repeat)] + extra
        if t == 1 or args.shared:
            rows += _subprocess(base, t)
        else:
            # With 2+ threads each library runs in its own process: PyTorch's and
            # OpenBLAS's OpenMP workers spin after every call and would take the cores
            # from whichever contender runs next in a shared round-robin.
            rows += _with_ratios([r for who in CONTENDERS
                                  for r in _subprocess(base + ["--only", who], t)])
    cold = [] if args.no_cold else [
        cold_median([_subprocess(["--cold-worker", lib, shape], 1)
                     for _ in range(3 if args.quick else 5)])
        for shape in COLD_SHAPES for lib in ("c", "blas", "torch")]
    print(f"Machine: {machine()}\n\n{table(rows)}")
    if cold:
        print(f"\nSGEMM cold start (1 thread; median over fresh processes):\n\n{cold_table(cold)}")
    if args.json:
        write_results(args.json, "kernels", {"rows": rows, "cold": cold})
    if args.png:
        plot(rows, args.png)


if __name__ == "__main__":
    main()
