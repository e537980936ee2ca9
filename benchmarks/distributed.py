"""Scale-out benchmark: random-search throughput (trials per minute) sequentially and
on a Dask LocalCluster with 1 and 2 worker processes, and the data-parallel MLP epoch
on 1 and 2 MPI ranks against one process, with the Allreduce calls and bytes per step.

    python -m benchmarks.distributed [--trials 8] [--limit 20000] [--json PATH]

Every rank and worker runs its kernels on one thread, so K ranks use K cores. On a
2-core machine this shows the mechanics and the communication cost, not a cluster:
a second rank halves the work per rank but also competes with the driver process.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from .common import machine, write_results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def trial(params: dict) -> float:
    """One search trial: the CLI's MLP for one epoch on 3,000 images."""
    from minigrad.cli_search import train_trial
    opts = {"dataset": "fashion-mnist", "data": None, "limit": 3000, "no_download": True,
            "validation_split": 0.2}
    return train_trial(opts, params)["val_accuracy"]


def search_throughput(trials: int) -> dict[str, float]:
    """Trials per minute: in this process, then on 1 and 2 Dask workers."""
    from minigrad.diagnostics import log_uniform, random_search
    space = {"lr": log_uniform(1e-4, 1e-2), "epochs": 1}
    out = {}
    t0 = time.perf_counter()
    random_search(space, trial, trials, seed=0, mode="max")
    out["sequential"] = trials / (time.perf_counter() - t0) * 60
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        return out
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("minigrad"))  # imports are not a trial's cost
            t0 = time.perf_counter()
            random_search(space, trial, trials, seed=0, mode="max", executor=client)
            out[f"dask, {workers} worker{'s' * (workers > 1)}"] = \
                trials / (time.perf_counter() - t0) * 60
    return out


def dp_worker(limit: int, epochs: int) -> dict:
    """Run under mpiexec (or alone): epochs of the 784-300-100-10 MLP with fit at global
    batch 128; rank 0 reports the median epoch time and the traffic per step."""
    import minigrad as mg
    from minigrad.cli import build_model, image_stats, load_data
    mg.set_num_threads(1)
    dp = "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ
    if dp:
        mg.distributed.init()
    (x, y), _ = load_data("fashion-mnist", limit=limit, download=False)
    mean, std = image_stats(x)
    model = build_model("mlp", "glorot_uniform", mean, std)
    opt = mg.optim.Adam(model.parameters())
    times = []

    class Timer(mg.train.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if dp:
                mg.distributed.reset_comm_stats()
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                 batch_size=128, verbose=0, seed=0, callbacks=[Timer()])
    steps = -(-len(x) // 128)
    stats = mg.distributed.comm_stats() if dp else {"allreduce_calls": 0, "allreduce_bytes": 0}
    return {"ranks": mg.distributed.world_size() if dp else 1,
            "epoch_s": statistics.median(times),
            "allreduce_calls_per_step": stats["allreduce_calls"] / steps,
            "allreduce_bytes_per_step": stats["allreduce_bytes"] / steps,
            "rank": mg.distributed.rank() if dp else 0}


def data_parallel(limit: int, epochs: int) -> list[dict]:
    mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    rows = []
    for ranks in (0, 1, 2):  # 0: one process without MPI
        cmd = [sys.executable, "-m", "benchmarks.distributed", "--dp-worker",
               "--limit", str(limit), "--epochs", str(epochs)]
        if ranks:
            if mpiexec is None:
                continue
            cmd = [mpiexec, "-n", str(ranks)] + cmd
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode:
            rows.append({"ranks": ranks, "error": out.stderr.strip().splitlines()[-1:]})
            continue
        rec = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        row = next(r for r in rec if r["rank"] == 0)
        row["mpi"] = bool(ranks)
        rows.append(row)
    base = next((r["epoch_s"] for r in rows if not r.get("mpi") and "epoch_s" in r), None)
    for r in rows:
        if base and "epoch_s" in r:
            r["speedup"] = base / r["epoch_s"]
            r["efficiency"] = r["speedup"] / r["ranks"]
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--limit", type=int, default=20000, help="training images per epoch")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--json", default="bench_results/distributed.json")
    ap.add_argument("--dp-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.dp_worker:
        result = dp_worker(args.limit, args.epochs)
        if result["rank"] == 0:  # one line: the ranks' prints would interleave
            print(json.dumps(result), flush=True)
        return
    dp = data_parallel(args.limit, args.epochs)
    search = search_throughput(args.trials)
    print(f"# scale-out, {machine()}\n\n| search | trials per minute |\n|---|---:|")
    for name, rate in search.items():
        print(f"| {name} | {rate:.1f} |")
    print("\n| data-parallel MLP epoch | epoch s | speed-up | efficiency | Allreduce calls "
          "per step | bytes per step |\n|---|---:|---:|---:|---:|---:|")
    for r in dp:
        name = f"{r['ranks']} rank(s) under mpiexec" if r.get("mpi") else "one process"
        if "error" in r:
            print(f"| {name} | failed: {r['error']} | | | | |")
            continue
        print(f"| {name} | {r['epoch_s']:.2f} | {r.get('speedup', 1):.2f}x | "
              f"{r.get('efficiency', 1):.0%} | {r['allreduce_calls_per_step']:.1f} | "
              f"{r['allreduce_bytes_per_step'] / 1e6:.2f} MB |")
    write_results(args.json, "distributed", {"search": search, "data_parallel": dp})


if __name__ == "__main__":
    main()
