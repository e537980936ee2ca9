"""Experiment 8: batch size and learning rate, and what the LR finder suggests.

A grid of batch sizes x learning rates (SGD with momentum 0.9) on one MLP on
Fashion-MNIST, trained for the same number of epochs: test accuracy per cell as a
heatmap, and for each batch size the lr suggested by diagnostics.lr_finder, drawn on
the same axes. Larger batches take fewer steps per epoch and tolerate (and need) a
larger lr; the finder's suggestion should move the same way.
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_batch_lr.py                       # full run (Fashion-MNIST)
    python examples/exp_batch_lr.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import base_parser, data_line, load_data, pyplot, write_page  # noqa: E402
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402


def build(n_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(width, width, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(width, 10))


def suggested_lr(data: tuple, batch: int, args: argparse.Namespace) -> D.LRFinderResult:
    xtr, ytr = data[0], data[1]
    mg.manual_seed(args.seed)
    model = build(xtr.shape[1], args.width)
    return D.lr_finder(model, xtr, ytr, "cross_entropy",
                       lambda params, lr: mg.optim.SGD(params, lr=lr, momentum=0.9),
                       start_lr=1e-5, end_lr=10.0, steps=args.finder_steps, batch_size=batch,
                       rng=np.random.default_rng(args.seed))


def train_cell(data: tuple, batch: int, lr: float, args: argparse.Namespace) -> dict:
    xtr, ytr, xte, yte = data
    mg.manual_seed(args.seed)
    model = build(xtr.shape[1], args.width)
    t0 = time.perf_counter()
    hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                        optimizer=mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                        epochs=args.epochs, batch_size=batch, validation_data=(xte, yte),
                        seed=args.seed, verbose=0)
    loss = hist.history["loss"][-1]
    return {"batch": batch, "lr": lr, "test_accuracy": hist.history["val_accuracy"][-1],
            "train_loss": loss, "diverged": not math.isfinite(loss),
            "seconds": time.perf_counter() - t0}


def plot(cells: list[dict], finder: dict[int, float], args: argparse.Namespace,
         out: Path) -> str:
    plt = pyplot()
    grid = np.array([[next(c["test_accuracy"] for c in cells
                           if c["batch"] == b and c["lr"] == lr) for lr in args.lrs]
                     for b in args.batches])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(args.lrs)), [f"{lr:g}" for lr in args.lrs])
    ax.set_yticks(range(len(args.batches)), [str(b) for b in args.batches])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            dark = grid[i, j] < (grid.min() + grid.max()) / 2
            ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=8,
                    color="w" if dark else "k")
    # the finder's suggestion, placed on the log-lr axis between the grid columns
    logs = np.log10(args.lrs)
    pos = [np.interp(np.log10(finder[b]), logs, range(len(logs))) for b in args.batches]
    ax.plot(pos, range(len(args.batches)), "r*-", ms=12,
            label="lr_finder suggestion (clipped to the grid)")
    for i, b in enumerate(args.batches):
        ax.annotate(f"{finder[b]:.2g}", (pos[i], i), textcoords="offset points",
                    xytext=(8, 6), color="r", fontsize=8)
    ax.set_xlabel("learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("batch size")
    ax.set_title(f"test accuracy after {args.epochs} epochs")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(out / "batch_lr_grid.png", dpi=110)
    plt.close(fig)
    return "batch_lr_grid.png"


def table(cells: list[dict], finder: dict[int, float], curves: dict,
          args: argparse.Namespace) -> str:
    head = "| batch size | " + " | ".join(f"lr {lr:g}" for lr in args.lrs) + \
           " | lr_finder suggestion (lowest-loss lr / 10) | steepest descent |"
    lines = [head, "|---" * (len(args.lrs) + 3) + "|"]
    for b in args.batches:
        row = [next(c for c in cells if c["batch"] == b and c["lr"] == lr)
               for lr in args.lrs]
        best = max(c["test_accuracy"] for c in row)
        vals = [(f"**{c['test_accuracy']:.3f}**" if c["test_accuracy"] == best
                 else f"{c['test_accuracy']:.3f}") + (" (diverged)" if c["diverged"] else "")
                for c in row]
        lines.append(f"| {b} | " + " | ".join(vals) + f" | {finder[b]:.2g} | "
                     f"{curves[b]['steepest_lr']:.2g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.001, 0.01, 0.1, 0.5])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--finder-steps", type=int, default=200)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.lrs, args.width = [16, 64], [0.01, 0.1], 32
        args.epochs, args.finder_steps = 2, 30
    args.lrs = sorted(args.lrs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_data(args.quick, args.data, args.train_samples, args.seed)
    finder, curves = {}, {}
    for b in args.batches:
        result = suggested_lr(data, b, args)
        finder[b] = result.suggested_lr
        curves[b] = {"lrs": result.lrs, "losses": result.losses,
                     "min_loss_lr": result.min_loss_lr, "steepest_lr": result.steepest_lr}
        print(f"batch {b:>4}: lr_finder suggests {finder[b]:.2g} (lowest loss at "
              f"{result.min_loss_lr:.2g}, steepest at {result.steepest_lr:.2g})", flush=True)
    cells = []
    for b in args.batches:
        for lr in args.lrs:
            cells.append(train_cell(data, b, lr, args))
            print(f"batch {b:>4} lr {lr:<6g} test accuracy "
                  f"{cells[-1]['test_accuracy']:.4f}", flush=True)
    lines = [f"Data: {data_line(args.quick, args.train_samples)}. MLP "
             f"{data[0].shape[1]}-{args.width}-{args.width}-10 (ReLU, He), SGD momentum "
             f"0.9, {args.epochs} epochs per cell, seed {args.seed}; the LR finder ran "
             f"{args.finder_steps} steps from 1e-5 to 10 at each batch size. Produced by "
             f"`python examples/exp_batch_lr.py{' --quick' if args.quick else ''}`.", "",
             "Test accuracy per cell (best of each row in bold):", "",
             table(cells, finder, curves, args), "",
             f"![batch size x lr grid]({plot(cells, finder, args, out)})"]
    path = write_page(out, "batch_lr", args.quick, "Experiment 8: batch size and learning "
                      "rate", lines, {"cells": cells, "lr_finder": finder,
                                      "finder_curves": curves})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
