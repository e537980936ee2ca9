"""Experiment 3: optimizers and learning-rate schedules on one MLP.

The lectures' claims: momentum and Nesterov optimization reach a lower loss faster
than plain SGD, and a decaying learning rate does better than a constant one. SGD,
SGD with momentum, Nesterov, RMSprop, Adam and AdaGrad, plus two schedules that
start from the same lr as their constant twins (momentum SGD with cosine decay from
0.01, Adam with exponential decay from 1e-3), all from the same initial weights on
the same batches of Fashion-MNIST, over several seeds: the training loss of every
mini-batch on one plot, and the test accuracy of the epoch with the best validation
accuracy in a table.
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_optimizers.py                       # full run (Fashion-MNIST)
    python examples/exp_optimizers.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (NOISE_RULE, VERDICT, base_parser, BatchLosses, best_epoch,  # noqa: E402
                        compare, load_split, mean_spread, pyplot, seeds_line, smooth,
                        split_line, write_page)
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
        # The schedules start where their constant twins stay, so only the decay differs.
        "momentum + cosine decay": lambda p: mg.optim.SGD(
            p, lr=schedules.CosineDecay(0.01, steps), momentum=0.9),
        "Adam + exponential decay": lambda p: mg.optim.Adam(
            p, lr=schedules.ExponentialDecay(1e-3, max(steps // 4, 1), 0.5)),
    }


def run_one(name: str, factory, data: tuple, args: argparse.Namespace, seed: int) -> dict:
    xtr, ytr, xval, yval, xte, yte = data
    mg.manual_seed(seed)  # same initial weights and batches for every optimizer
    model = nn.Sequential(nn.Linear(xtr.shape[1], args.width, weight_init="he_normal"),
                          nn.ReLU(), nn.Linear(args.width, args.width, weight_init="he_normal"),
                          nn.ReLU(), nn.Linear(args.width, 10))
    batches, best = BatchLosses(), best_epoch(args.epochs)
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=factory(model.parameters()), epochs=args.epochs,
                        batch_size=args.batch_size, validation_data=(xval, yval),
                        callbacks=[batches, best], seed=seed, verbose=0)
    epoch_time = (time.perf_counter() - t0) / args.epochs
    test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    return {"name": name, "seed": seed, "batch_losses": batches.losses,
            "loss": hist.history["loss"], "val_accuracy": hist.history["val_accuracy"],
            "lr": hist.history["lr"], "epoch_time": epoch_time,
            "best_epoch": best.best_epoch + 1, "test_accuracy": test["accuracy"]}


def _of(runs: list[dict], name: str, key: str) -> list:
    return [r[key] for r in runs if r["name"] == name]


def plot(runs: list[dict], out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for name in dict.fromkeys(r["name"] for r in runs):
        losses = np.mean(_of(runs, name, "batch_losses"), axis=0)
        finite = [v if math.isfinite(v) else float("nan") for v in losses]
        axes[0].plot(*smooth(finite, 100), label=name)
        val = np.mean(_of(runs, name, "val_accuracy"), axis=0)
        axes[1].plot(range(1, len(val) + 1), val, marker="o", ms=3, label=name)
    axes[0].set_xlabel("mini-batch")
    axes[0].set_ylabel("training loss (moving average, mean over seeds)")
    axes[0].set_yscale("log")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("validation accuracy (mean over seeds)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "optimizers.png", dpi=110)
    plt.close(fig)
    return "optimizers.png"


def table(runs: list[dict]) -> str:
    lines = ["| optimizer | train loss, last epoch | test accuracy (best val. epoch) | "
             "best epochs | lr at the end | s / epoch |", "|---|---|---|---|---|---|"]
    names = sorted(dict.fromkeys(r["name"] for r in runs),
                   key=lambda n: -np.mean(_of(runs, n, "test_accuracy")))
    for n in names:
        lines.append(f"| {n} | {mean_spread([h[-1] for h in _of(runs, n, 'loss')], '.4f')} | "
                     f"{mean_spread(_of(runs, n, 'test_accuracy'), '.4f')} | "
                     f"{', '.join(map(str, _of(runs, n, 'best_epoch')))} | "
                     f"{_of(runs, n, 'lr')[0][-1]:.3g} | "
                     f"{np.mean(_of(runs, n, 'epoch_time')):.1f} |")
    return "\n".join(lines)


def verdicts(runs: list[dict]) -> list[str]:
    """The claims, each a comparison of per-seed scores (see exp_common.compare)."""
    claims = [("momentum beats plain SGD (training loss)", "momentum 0.9, lr 0.01",
               "SGD lr 0.05", "loss"),
              ("Nesterov beats plain SGD (training loss)", "Nesterov 0.9, lr 0.01",
               "SGD lr 0.05", "loss"),
              ("cosine decay beats constant lr (momentum 0.01)", "momentum + cosine decay",
               "momentum 0.9, lr 0.01", "test_accuracy"),
              ("exponential decay beats constant lr (Adam 1e-3)", "Adam + exponential decay",
               "Adam lr 1e-3", "test_accuracy")]
    out = []
    for claim, a, b, key in claims:
        score = (lambda n: [-h[-1] for h in _of(runs, n, "loss")]) if key == "loss" else \
            (lambda n: _of(runs, n, "test_accuracy"))
        if not _of(runs, a, "seed") or not _of(runs, b, "seed"):
            continue
        said, gap = compare(score(a), score(b))
        what = "lower last-epoch training loss by" if key == "loss" else "test accuracy gap"
        out.append(f"- Claim \"{claim}\": {a} vs {b}: {said} ({what} {gap:+.4f}). "
                   f"**{VERDICT[said]}** here" + ("" if said == "better" else f" ({NOISE_RULE})")
                   + ".")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=10000)
    ap.add_argument("--val-samples", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.batch_size, args.seeds = 32, 2, 32, args.seeds[:2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    steps = args.epochs * math.ceil(len(data[0]) / args.batch_size)
    runs = []
    for seed in args.seeds:
        for name, factory in optimizers(steps).items():
            runs.append(run_one(name, factory, data, args, seed))
            print(f"seed {seed} {name:<26} test accuracy {runs[-1]['test_accuracy']:.4f} "
                  f"(epoch {runs[-1]['best_epoch']})", flush=True)
    lines = [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. MLP "
             f"{data[0].shape[1]}-{args.width}-{args.width}-10 (ReLU, He), batch "
             f"{args.batch_size}, {args.epochs} epochs, the same initial weights and batch "
             f"order for every optimizer within a seed; {seeds_line(args.seeds)}. Produced "
             f"by `python examples/exp_optimizers.py{' --quick' if args.quick else ''}`"
             + ("" if args.quick else " (sized for minutes on a busy 2-core machine)")
             + ".", "",
             "**The lectures' claims:** momentum and Nesterov optimization reach a lower "
             "loss faster than plain SGD; a learning-rate schedule beats a constant lr. "
             "Each schedule here starts from the lr of its constant twin (cosine from 0.01 "
             "like momentum 0.01, exponential decay from 1e-3 like Adam 1e-3), so only the "
             "decay differs.", "",
             table(runs), "", "Verdicts (generated from the numbers):", "",
             *verdicts(runs), "", f"![loss curves]({plot(runs, out)})"]
    path = write_page(out, "optimizers", args.quick, "Experiment 3: optimizers and "
                      "learning-rate schedules", lines, runs)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
