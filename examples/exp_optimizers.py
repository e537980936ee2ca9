"""Experiment 3: optimizers and learning-rate schedules on one MLP.

SGD, SGD with momentum, Nesterov, RMSprop, Adam and AdaGrad, plus two schedules
(momentum SGD with cosine decay, Adam with exponential decay), all from the same
initial weights on the same batches of Fashion-MNIST: the training loss of every
mini-batch on one plot, test accuracy and time per epoch in a table.
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_optimizers.py                       # full run (Fashion-MNIST)
    python examples/exp_optimizers.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (base_parser, BatchLosses, data_line, load_data, pyplot, smooth,  # noqa: E402
                        write_page)
from minigrad import nn  # noqa: E402
from minigrad.optim import schedules  # noqa: E402


def optimizers(steps: int) -> dict:
    """name -> factory(params): the classic settings of each method. ``steps`` is the
    length of the run, which the schedules span."""
    return {
        "SGD lr 0.05": lambda p: mg.optim.SGD(p, lr=0.05),
        "momentum 0.9, lr 0.01": lambda p: mg.optim.SGD(p, lr=0.01, momentum=0.9),
        "Nesterov 0.9, lr 0.01": lambda p: mg.optim.SGD(p, lr=0.01, momentum=0.9,
                                                        nesterov=True),
        "RMSprop lr 1e-3": lambda p: mg.optim.RMSprop(p, lr=1e-3),
        "Adam lr 1e-3": lambda p: mg.optim.Adam(p, lr=1e-3),
        "AdaGrad lr 0.01": lambda p: mg.optim.Adagrad(p, lr=0.01),
        "momentum + cosine decay": lambda p: mg.optim.SGD(
            p, lr=schedules.CosineDecay(0.05, steps), momentum=0.9),
        "Adam + exponential decay": lambda p: mg.optim.Adam(
            p, lr=schedules.ExponentialDecay(3e-3, max(steps // 4, 1), 0.5)),
    }


def run_one(name: str, factory, data: tuple, args: argparse.Namespace) -> dict:
    xtr, ytr, xte, yte = data
    mg.manual_seed(args.seed)  # same initial weights and batches for every optimizer
    model = nn.Sequential(nn.Linear(xtr.shape[1], args.width, weight_init="he_normal"),
                          nn.ReLU(), nn.Linear(args.width, args.width, weight_init="he_normal"),
                          nn.ReLU(), nn.Linear(args.width, 10))
    batches = BatchLosses()
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=factory(model.parameters()), epochs=args.epochs,
                        batch_size=args.batch_size, validation_data=(xte, yte),
                        callbacks=[batches], seed=args.seed, verbose=0)
    return {"name": name, "batch_losses": batches.losses, "loss": hist.history["loss"],
            "val_accuracy": hist.history["val_accuracy"], "lr": hist.history["lr"],
            "epoch_time": (time.perf_counter() - t0) / args.epochs}


def plot(results: list[dict], out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for r in results:
        finite = [v if math.isfinite(v) else float("nan") for v in r["batch_losses"]]
        axes[0].plot(*smooth(finite, 100), label=r["name"])
        axes[1].plot(range(1, len(r["val_accuracy"]) + 1), r["val_accuracy"], marker="o",
                     ms=3, label=r["name"])
    axes[0].set_xlabel("mini-batch")
    axes[0].set_ylabel("training loss (moving average)")
    axes[0].set_yscale("log")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("test accuracy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "optimizers.png", dpi=110)
    plt.close(fig)
    return "optimizers.png"


def table(results: list[dict]) -> str:
    lines = ["| optimizer | train loss, last epoch | test accuracy | best test accuracy | "
             "lr at the end | s / epoch |", "|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: -r["val_accuracy"][-1]):
        lines.append(f"| {r['name']} | {r['loss'][-1]:.4f} | {r['val_accuracy'][-1]:.4f} | "
                     f"{max(r['val_accuracy']):.4f} | {r['lr'][-1]:.3g} | "
                     f"{r['epoch_time']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.batch_size = 32, 2, 32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.quick, args.data, args.train_samples, args.seed)
    steps = args.epochs * math.ceil(len(data[0]) / args.batch_size)
    results = []
    for name, factory in optimizers(steps).items():
        results.append(run_one(name, factory, data, args))
        print(f"{name:<26} test accuracy {results[-1]['val_accuracy'][-1]:.4f}", flush=True)
    lines = [f"Data: {data_line(args.quick, args.train_samples)}. MLP "
             f"{data[0].shape[1]}-{args.width}-{args.width}-10 (ReLU, He), batch "
             f"{args.batch_size}, {args.epochs} epochs, the same initial weights and batch "
             f"order for every optimizer (seed {args.seed}). Produced by "
             f"`python examples/exp_optimizers.py{' --quick' if args.quick else ''}`.", "",
             table(results), "", f"![loss curves]({plot(results, out)})"]
    path = write_page(out, "optimizers", args.quick, "Experiment 3: optimizers and "
                      "learning-rate schedules", lines, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
