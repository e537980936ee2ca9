"""Training benchmark: epochs of the MLP, MLP-BN and CNN on Fashion-MNIST (batch 128,
Adam lr 1e-3 unless --lr, constant or --schedule cosine, Glorot-uniform weights, zero
biases) in minigrad (each backend) and PyTorch CPU at the same thread count, in the
same run; plus the time of one full training step of a 784-32-10 MLP at batch 1 and 8.

    python -m benchmarks.train [--quick] [--threads 1,2] [--models mlp,mlp-bn,cnn]
                               [--backends c,numba] [--epochs 1] [--json PATH]
                               [--lr 1e-3] [--schedule constant|cosine] [--seed 0]

Every configuration runs in its own process (thread counts are fixed at start-up and
peak RSS is per process: ru_maxrss). minigrad keeps the images uint8 and standardizes
each batch; the PyTorch baseline does what its tutorials do: one float32 tensor of the
standardized images, indexed per batch. Reported: the median epoch time (and the time
scaled to a 60k-image epoch when --quick or --limit trains on fewer), its ratio to
PyTorch, peak RSS and its ratio, and test accuracy after the same epochs. For a model
whose only matrix products are its Linear layers (the MLPs), also its GEMM floor: the
time of exactly the GEMMs of one epoch, alone, on the same backend and threads, timed
in the same process after each epoch (benchmarks/gemm_floor.py), and the epoch over
it (wall and CPU time, medians over the epochs): what everything else (bias,
activation, loss, Adam, data, autograd, dispatch) costs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from .common import machine, worker_env, write_results
from .gemm_floor import gemm_floor, linear_only

BATCH = 128
FULL = 60000


# ----- workers (one process each) ---------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _data(cfg: dict):
    from minigrad.cli import load_data
    (xtr, ytr), (xte, yte) = load_data("fashion-mnist")
    return (xtr[:cfg["train"]], ytr[:cfg["train"]]), (xte[:cfg["test"]], yte[:cfg["test"]])


def worker_minigrad(cfg: dict) -> dict:
    import minigrad as mg
    from minigrad.cli import build_model, image_stats, test_report
    mg.backend.set_backend(cfg["backend"])
    mg.set_num_threads(cfg["threads"])
    (xtr, ytr), (xte, yte) = _data(cfg)
    mean, std = image_stats(xtr)
    warm = build_model(cfg["model"], "glorot_uniform", mean, std)  # compiles / warms caches
    mg.train.fit(warm, xtr[:2 * BATCH], ytr[:2 * BATCH], loss="cross_entropy", verbose=0,
                 optimizer=mg.optim.Adam(warm.parameters()), batch_size=BATCH)
    mg.manual_seed(cfg["seed"])
    model = build_model(cfg["model"], "glorot_uniform", mean, std)
    times: list[float] = []
    cpu: list[float] = []  # steadier than wall time when other jobs share the cores
    # the floor is timed after every epoch, between the timed stretches, so that a
    # change of load on the shared machine hits epochs and floors alike
    floors: list[tuple[float, float]] = []
    with_floor = linear_only(model)  # the floor counts Linear GEMMs, not convolutions

    class Timer(mg.train.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)
            cpu.append(time.process_time() - self.c0)
            if with_floor:
                floors.append(gemm_floor(model, cfg["train"], BATCH))

    lr = cfg.get("lr", 1e-3)
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    if cfg.get("schedule") == "cosine":
        opt.lr = mg.optim.schedules.CosineDecay(lr, _total_steps(cfg))
    mg.train.fit(model, xtr, ytr, loss="cross_entropy", epochs=cfg["epochs"],
                 optimizer=opt, batch_size=BATCH,
                 verbose=0, seed=cfg["seed"], callbacks=[Timer()])
    acc = test_report(model, xte, yte)["test_accuracy"]
    out = {"epoch_s": times, "epoch_cpu_s": cpu, "test_accuracy": acc,
           "peak_rss_mb": _peak_rss_mb()}
    if floors:
        out["gemm_floor_s"] = statistics.median(f[0] for f in floors)
        out["gemm_floor_cpu_s"] = statistics.median(f[1] for f in floors)
        out["epoch_over_gemm_floor"] = statistics.median(times) / out["gemm_floor_s"]
        out["epoch_over_gemm_floor_cpu"] = statistics.median(cpu) / out["gemm_floor_cpu_s"]
    return out


def _total_steps(cfg: dict) -> int:
    return cfg["epochs"] * -(-cfg["train"] // BATCH)


def _torch_model(name: str):
    import torch.nn as tnn
    if name == "cnn":
        net = tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                             tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                             tnn.Flatten(), tnn.Linear(3136, 128), tnn.ReLU(),
                             tnn.Dropout(0.5), tnn.Linear(128, 10))
    elif name == "mlp-bn":
        net = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 300), tnn.BatchNorm1d(300),
                             tnn.ReLU(), tnn.Linear(300, 100), tnn.BatchNorm1d(100),
                             tnn.ReLU(), tnn.Linear(100, 10))
    else:
        net = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 300), tnn.ReLU(),
                             tnn.Linear(300, 100), tnn.ReLU(), tnn.Linear(100, 10))
    for m in net.modules():  # the recipe minigrad runs: Glorot-uniform weights, zero biases
        if isinstance(m, (tnn.Linear, tnn.Conv2d)):
            tnn.init.xavier_uniform_(m.weight)
            tnn.init.zeros_(m.bias)
    return net


def worker_torch(cfg: dict) -> dict:
    import torch
    import torch.nn.functional as TF
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    from minigrad.cli import image_stats
    (xtr, ytr), (xte, yte) = _data(cfg)
    mean, std = image_stats(xtr)
    X = (torch.from_numpy(xtr).float() - mean) / std
    Y = torch.from_numpy(ytr)

    def epoch(model, opt, x, y, rng, sched=None):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            TF.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            if sched is not None:
                sched.step()

    warm = _torch_model(cfg["model"])
    epoch(warm, torch.optim.Adam(warm.parameters()), X[:2 * BATCH], Y[:2 * BATCH],
          np.random.default_rng(0))
    model = _torch_model(cfg["model"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg.get("lr", 1e-3))
    sched = None
    if cfg.get("schedule") == "cosine":  # the formula of mg.optim.schedules.CosineDecay
        total = _total_steps(cfg)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
    rng, times, cpu = np.random.default_rng(cfg["seed"]), [], []
    for _ in range(cfg["epochs"]):
        t0, c0 = time.perf_counter(), time.process_time()
        epoch(model, opt, X, Y, rng, sched)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    model.eval()
    correct = 0
    with torch.no_grad():
        Xt = (torch.from_numpy(xte).float() - mean) / std
        for i in range(0, len(Xt), 500):
            correct += int((model(Xt[i:i + 500]).argmax(1).numpy() == yte[i:i + 500]).sum())
    return {"epoch_s": times, "epoch_cpu_s": cpu, "test_accuracy": correct / len(yte),
            "peak_rss_mb": _peak_rss_mb()}


def _step_timer(step, steps: int = 300, rounds: int = 5) -> float:
    for _ in range(50):
        step()
    per = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        per.append((time.perf_counter() - t0) / steps)
    return statistics.median(per)


def worker_step(cfg: dict) -> dict:
    """Seconds per full training step (zero_grad, forward, loss, backward, Adam) of a
    784-32-10 MLP at cfg["batch"]; minigrad also through fit (loop overhead included)."""
    rng = np.random.default_rng(0)
    b = cfg["batch"]
    x = rng.standard_normal((b, 784)).astype(np.float32)
    y = rng.integers(0, 10, b)
    if cfg["framework"] == "torch":
        import torch
        import torch.nn.functional as TF
        torch.set_num_threads(cfg["threads"])
        net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(),
                                  torch.nn.Linear(32, 10))
        opt = torch.optim.Adam(net.parameters())
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step():
            opt.zero_grad()
            TF.cross_entropy(net(xt), yt).backward()
            opt.step()
        return {"step_s": _step_timer(step)}
    import minigrad as mg
    mg.backend.set_backend(cfg["backend"])
    mg.set_num_threads(cfg["threads"])
    net = mg.nn.Sequential(mg.nn.Linear(784, 32, activation="relu"), mg.nn.Linear(32, 10))
    opt = mg.optim.Adam(net.parameters())
    xt = mg.tensor(x)

    def step():
        opt.zero_grad()
        mg.nn.functional.cross_entropy(net(xt), y).backward()
        opt.step()
    raw = _step_timer(step)
    xs, ys = np.repeat(x, 2000 // b + 1, axis=0)[:2000], np.resize(y, 2000)
    fit = dict(loss="cross_entropy", optimizer=opt, batch_size=b, verbose=0)
    mg.train.fit(net, xs[:200], ys[:200], **fit)
    t0 = time.perf_counter()
    mg.train.fit(net, xs, ys, **fit)
    return {"step_s": raw, "fit_step_s": (time.perf_counter() - t0) / (2000 / b)}


# ----- driver -----------------------------------------------------------------------
def run_worker(cfg: dict) -> dict:
    env = worker_env(cfg["threads"])
    env["NUMBA_NUM_THREADS"] = str(max(cfg["threads"], 1))
    # A "baseline" config runs in another checkout (its own minigrad and its own copy
    # of this worker), so an old and a new version are timed in the same run.
    root = cfg.get("tree") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.train", "--worker",
                           json.dumps(cfg)], capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        return {**cfg, "error": proc.stderr.strip().splitlines()[-1:]}
    return {**cfg, **json.loads(proc.stdout.strip().splitlines()[-1])}


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def _ratio(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.2f}x"


def _name(r: dict) -> str:
    if r["framework"] == "torch":
        return "PyTorch"
    return f"minigrad {r['backend']}" + (f" ({r['label']})" if r.get("label") else "")


def table(results: list[dict]) -> str:
    rows = ["| model | threads | implementation | epoch s (median) | per 60k s | vs PyTorch "
            "| GEMM floor s | epoch / GEMM floor | same, CPU time | peak RSS MB | vs PyTorch "
            "| test acc |", "|" + "---|" * 12]
    ref = {(r["model"], r["threads"]): r for r in results
           if r["framework"] == "torch" and "epoch_s" in r}
    for r in results:
        if "batch" in r:
            continue
        name = _name(r)
        if "error" in r:
            rows.append(f"| {r['model']} | {r['threads']} | {name} | failed: {r['error']} "
                        "| | | | | | | | |")
            continue
        t = statistics.median(r["epoch_s"])
        base = ref.get((r["model"], r["threads"]))
        bt = statistics.median(base["epoch_s"]) if base else None
        floor = r.get("gemm_floor_s")
        over, over_cpu = r.get("epoch_over_gemm_floor"), r.get("epoch_over_gemm_floor_cpu")
        rows.append(f"| {r['model']} | {r['threads']} | {name} | {t:.2f} | "
                    f"{t * FULL / r['train']:.1f} | {_fmt(t / bt if bt else None, '.2f')}x | "
                    f"{_fmt(floor, '.2f')} | {_ratio(over)} | {_ratio(over_cpu)} | "
                    f"{r['peak_rss_mb']:.0f} | "
                    f"{_fmt(r['peak_rss_mb'] / base['peak_rss_mb'] if base else None, '.2f')}x"
                    f" | {r['test_accuracy'] * 100:.2f}% |")
    steps = [r for r in results if "batch" in r and "step_s" in r]
    if steps:
        rows += ["", "| 784-32-10 step | threads | implementation | ms per step | vs PyTorch "
                 "| ms per step through fit |", "|" + "---|" * 6]
        tref = {(r["batch"], r["threads"]): r["step_s"] for r in steps
                if r["framework"] == "torch"}
        for r in steps:
            name = _name(r)
            base = tref.get((r["batch"], r["threads"]))
            rows.append(f"| batch {r['batch']} | {r['threads']} | {name} | "
                        f"{r['step_s'] * 1e3:.3f} | "
                        f"{_fmt(r['step_s'] / base if base else None, '.2f')}x | "
                        f"{_fmt(r.get('fit_step_s', float('nan')) * 1e3, '.3f')} |")
    return "\n".join(rows)


def configs(args: argparse.Namespace) -> list[dict]:
    import minigrad as mg
    backends = [b for b in args.backends.split(",") if b in mg.backend.available()]
    trees = [{}]
    if args.baseline:
        label = args.baseline_label or os.path.basename(os.path.abspath(args.baseline))
        trees = [{"tree": os.path.abspath(args.baseline), "label": label}, {"label": "this tree"}]
    out = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for model in args.models.split(","):
            train = args.limit or (12800 if model != "cnn" else 3200) if args.quick else \
                (args.limit or FULL)
            base = {"model": model, "threads": threads, "epochs": args.epochs,
                    "seed": args.seed, "train": train, "test": 2000 if args.quick else 10000,
                    "schedule": args.schedule, "lr": args.lr}
            if not args.skip_torch:
                out.append({**base, "framework": "torch"})
            out += [{**base, "framework": "minigrad", "backend": b, **tree}
                    for tree in trees for b in backends
                    if not (b == "numpy" and model == "cnn" and not args.numpy_cnn)]
        for batch in (1, 8):
            if not args.skip_torch:
                out.append({"batch": batch, "threads": threads, "framework": "torch"})
            out += [{"batch": batch, "threads": threads, "framework": "minigrad", "backend": b,
                     **tree} for tree in trees for b in backends]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true",
                    help="subsets: 12,800 images for the MLPs, 3,200 for the CNN, 2,000 test")
    ap.add_argument("--limit", type=int, help="training images per epoch (default: all)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run (median taken)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="mlp,mlp-bn,cnn")
    ap.add_argument("--backends", default="c,numba,numpy")
    ap.add_argument("--numpy-cnn", action="store_true", help="also the CNN on numpy (slow)")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam's (initial) learning rate")
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                    help="learning rate: 1e-3 throughout, or cosine-decayed to 0 over the "
                         "run, per step (the same in both frameworks)")
    ap.add_argument("--json", default="bench_results/train.json")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also time minigrad from this checkout (built), in the same run, "
                         "each config right before this tree's: before/after comparisons")
    ap.add_argument("--baseline-label", help="name of the baseline in the table")
    args = ap.parse_args(argv)
    if args.worker:
        cfg = json.loads(args.worker)
        kind = ("batch" in cfg and worker_step) or (
            worker_torch if cfg["framework"] == "torch" else worker_minigrad)
        print(json.dumps(kind(cfg)))
        return
    results = []
    for cfg in configs(args):
        t0 = time.perf_counter()
        results.append(run_worker(cfg))
        print(f"  {json.dumps(cfg)}: {time.perf_counter() - t0:.0f} s", file=sys.stderr,
              flush=True)
    print(f"minigrad training benchmark - {machine()}\n")
    print(table(results))
    write_results(args.json, "train", {"results": results})
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
