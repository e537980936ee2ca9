"""Write docs/benchmarks.md from the benchmarks' JSON results.

    python -m benchmarks.report [--results docs/bench] [--out docs/benchmarks.md]
    python -m benchmarks.report --summary      # the README's headline table only

Every table is regenerated from the JSON that a benchmark wrote (``write_results`` in
benchmarks/common.py), with the command that produced it, its date, machine and
library versions; nothing is typed by hand. Ratios are what to compare: the machine is
shared and a rerun moves them by 5-15 %.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics

from .train import table as train_table

BACKENDS = ("c", "numba", "numpy")


def _x(v: float | None) -> str:
    return "" if v is None or v != v else f"{v:.2f}x"


def provenance(rec: dict) -> str:
    v = rec.get("versions", {})
    libs = ", ".join(f"{k} {v[k]}" for k in ("python", "numpy", "numba", "torch", "minigrad")
                     if k in v)
    return (f"Command: `{rec.get('command', '?')}`  \n"
            f"Date: {rec.get('date', '?')}; machine: {rec.get('machine', '?')}  \n"
            f"Versions: {libs}")


def kernel_table(rec: dict, threads: int) -> str:
    """One row per kernel and shape: time or rate per backend, and the ratios."""
    cells: dict[tuple, dict[str, dict]] = {}
    for r in rec["rows"]:
        if r["threads"] == threads:
            cells.setdefault((r["kernel"], r["shape"]), {})[r["backend"]] = r
    head = ("| kernel | shape | C | Numba | numpy | OpenBLAS | PyTorch | C speed vs BLAS "
            "| C time vs PyTorch | Numba time vs C |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (kernel, shape), by in cells.items():
        def cell(name: str) -> str:
            r = by.get(name)
            if r is None:
                return ""
            if r["unit"].startswith("GFLOP"):
                return f"{r['rate']:.1f} GFLOP/s"
            return f"{r['median_s'] * 1e3:.2f} ms"
        c, nb = by.get("c"), by.get("numba")
        numba_vs_c = nb["median_s"] / c["median_s"] if c and nb else None
        lines.append(f"| {kernel} | {shape} | {cell('c')} | {cell('numba')} | {cell('numpy')} "
                     f"| {cell('blas')} | {cell('torch')} | {_x(c and c['vs_blas'])} "
                     f"| {_x(c and c['vs_torch'])} | {_x(numba_vs_c)} |")
    return "\n".join(lines)


def overhead_table(rec: dict) -> str:
    lines = ["| op | minigrad (us) | PyTorch (us) | ratio |", "|---|---:|---:|---:|"]
    for name, r in rec["rows"].items():
        t = r.get("torch")
        lines.append(f"| {name} | {r['minigrad']:.2f} | {t:.2f} | {_x(r['minigrad'] / t)} |"
                     if t else f"| {name} | {r['minigrad']:.2f} | | |")
    return "\n".join(lines)


def optim_table(rec: dict) -> str:
    lines = [f"| optimizer | minigrad fused (us) | minigrad numpy (us) | PyTorch default (us) "
             f"| fused vs PyTorch |", "|---|---:|---:|---:|---:|"]
    for name, r in rec["rows"].items():
        lines.append(f"| {name} | {r['fused_us']:.0f} | {r['numpy_us']:.0f} "
                     f"| {r['torch_default_us']:.0f} | {_x(r['fused_us'] / r['torch_default_us'])} |")
    return "\n".join(lines)


def distributed_table(rec: dict) -> str:
    lines = ["| search | trials per minute |", "|---|---:|"]
    lines += [f"| {name} | {rate:.1f} |" for name, rate in rec["search"].items()]
    lines += ["", "| data-parallel MLP epoch | epoch s | speed-up | efficiency "
              "| Allreduce calls per step | MB per step |", "|---|---|---:|---:|---:|---:|"]
    for r in rec["data_parallel"]:
        name = f"{r['ranks']} rank(s), mpiexec" if r.get("mpi") else "one process"
        if "epoch_s" not in r:
            lines.append(f"| {name} | failed | | | | |")
            continue
        lines.append(f"| {name} | {r['epoch_s']:.2f} | {r.get('speedup', 1):.2f}x "
                     f"| {r.get('efficiency', 1):.0%} | {r['allreduce_calls_per_step']:.1f} "
                     f"| {r['allreduce_bytes_per_step'] / 1e6:.2f} |")
    return "\n".join(lines)


def section(rec: dict) -> str:
    kind = rec.get("kind")
    if kind == "kernels":
        parts = [f"### {t} thread{'s' if t > 1 else ''}\n\n{kernel_table(rec, t)}"
                 for t in sorted({r["threads"] for r in rec["rows"]})]
        title, body = "Kernels", "\n\n".join(parts)
    elif kind == "train":
        title, body = "Training epochs (Fashion-MNIST, batch 128, Adam)", train_table(
            rec["results"])
    elif kind == "overhead":
        title, body = "Per-op overhead of the engine (1 thread)", overhead_table(rec)
    elif kind == "optim_step":
        title, body = (f"One optimizer step, 784-300-100-10 MLP, 1 thread ({rec['stat']})",
                       optim_table(rec))
    elif kind == "distributed":
        title, body = "Scale-out: search on Dask, data-parallel on MPI", distributed_table(rec)
    else:
        title, body = kind or "results", "```\n" + json.dumps(rec, indent=1)[:2000] + "\n```"
    return f"## {title}\n\n{provenance(rec)}\n\n{body}\n"


# The README's headline rows: (kernel, shape prefix) of the C backend against PyTorch.
HEADLINE = (("conv2d winograd fwd+bwd", "32->64"), ("conv2d fwd+bwd", "1->32"),
            ("maxpool2d fwd+bwd", "x128x32"), ("batchnorm fwd+bwd", "x128x32"),
            ("batchnorm fwd+bwd", "x128x300"))


def summary(records: list[dict]) -> str:
    """The README's one table: headline ratios against OpenBLAS and PyTorch (for the
    epochs, the newest run of each model and backend, and for the MLPs their time
    over their own GEMM floor)."""
    lines = ["| what (1 thread) | ratio | reference |", "|---|---:|---|"]
    epochs: dict[tuple, str] = {}
    # oldest first, so that the newest run of each model and backend is the one kept
    for rec in sorted(records, key=lambda rec: rec.get("date", "")):
        if rec.get("kind") == "kernels":
            c1 = [r for r in rec["rows"] if r["threads"] == 1 and r["backend"] == "c"]
            for kind in ("sgemm", "dgemm"):
                blas = [r["vs_blas"] for r in c1 if r["kernel"] == kind and r["vs_blas"]]
                if blas:
                    lines.append(f"| C {kind.upper()} speed (median over shapes) | "
                                 f"{_x(statistics.median(blas))} | OpenBLAS |")
            for kernel, shape in HEADLINE:
                for r in c1:
                    if r["kernel"] == kernel and r["shape"].startswith(shape) and r["vs_torch"]:
                        lines.append(f"| C {kernel} time, {r['shape']} | "
                                     f"{_x(r['vs_torch'])} | PyTorch |")
        if rec.get("kind") == "train":
            ref = {(r["model"], r["threads"]): statistics.median(r["epoch_s"])
                   for r in rec["results"] if r.get("framework") == "torch" and "epoch_s" in r}
            for r in rec["results"]:
                key = (r.get("model"), r.get("threads"))
                if r.get("threads") != 1:
                    continue
                if r.get("framework") == "minigrad" and "epoch_s" in r and key in ref \
                        and not r.get("tree"):
                    epochs[(r["model"], r["backend"])] = (
                        f"| {r['model']} epoch, {r['backend']} backend | "
                        f"{_x(statistics.median(r['epoch_s']) / ref[key])} | PyTorch |")
                if r.get("framework") == "minigrad" and "epoch_over_gemm_floor" in r \
                        and not r.get("tree"):
                    epochs[(r["model"], r["backend"], "floor")] = (
                        f"| {r['model']} epoch, {r['backend']} backend | "
                        f"{_x(r['epoch_over_gemm_floor'])} | its GEMM floor |")
    lines += [epochs[k] for k in sorted(epochs)]
    dates = sorted({rec.get("date", "?") for rec in records})
    machines = sorted({rec.get("machine", "?").rsplit(",", 1)[0] for rec in records})
    return "\n".join(lines) + (f"\n\nMeasured {dates[0]} to {dates[-1]} on "
                               f"{'; '.join(machines)}; full tables in docs/benchmarks.md.")


def load(folder: str) -> list[dict]:
    order = {"kernels": 0, "train": 1, "optim_step": 2, "overhead": 3, "distributed": 4}
    # ties (two train runs) keep file-name order: sorted() is stable
    records = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            rec = json.load(f)
        if isinstance(rec, dict) and "kind" in rec:
            records.append(rec)
    return sorted(records, key=lambda r: order.get(r["kind"], 9))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="docs/bench", help="folder of benchmark JSON")
    ap.add_argument("--out", default="docs/benchmarks.md")
    ap.add_argument("--summary", action="store_true", help="print the README table only")
    args = ap.parse_args(argv)
    records = load(args.results)
    if args.summary:
        print(summary(records))
        return
    text = ("# Benchmarks\n\nGenerated by `python -m benchmarks.report` from the JSON in "
            f"`{args.results}/`; do not edit by hand. Medians of repeated runs; numpy/OpenBLAS "
            "and PyTorch are measured side by side in the same run. The machine is shared "
            "and noisy: compare ratios, not absolute times.\n\n"
            + "\n".join(section(r) for r in records))
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out} ({len(records)} result files)")


if __name__ == "__main__":
    main()
