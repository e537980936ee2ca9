"""Experiment 8: batch size and learning rate, and what the LR finder suggests.

The lectures' claims: the best learning rate grows with the batch size, and the LR
finder's rule (about a tenth of the lr where the loss is lowest, before it blows up)
lands near the best lr.

A grid of batch sizes x learning rates (SGD with momentum 0.9) on one MLP on
Fashion-MNIST, trained for the same number of epochs over several seeds: per cell
the validation accuracy of the best epoch (which picks the best lr of each row) and
the test accuracy of that epoch's weights, as a heatmap, and for each batch size the
lr suggested by diagnostics.lr_finder, drawn on the same axes. Larger batches take fewer steps per epoch and tolerate (and need) a
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
from exp_common import (base_parser, best_epoch, load_split, mean_spread, pyplot,  # noqa: E402
                        seeds_line, split_line, write_page)
from minigrad import diagnostics as D  # noqa: E402
from minigrad import nn  # noqa: E402


def build(n_in: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(width, width, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(width, 10))


def suggested_lr(data: tuple, batch: int, args: argparse.Namespace) -> D.LRFinderResult:
    xtr, ytr = data[0], data[1]
    mg.manual_seed(args.seeds[0])
    model = build(xtr.shape[1], args.width)
    return D.lr_finder(model, xtr, ytr, "cross_entropy",
                       lambda params, lr: mg.optim.SGD(params, lr=lr, momentum=0.9),
                       start_lr=1e-5, end_lr=10.0, steps=args.finder_steps, batch_size=batch,
                       rng=np.random.default_rng(args.seeds[0]))


def train_cell(data: tuple, batch: int, lr: float, args: argparse.Namespace,
               seed: int) -> dict:
    xtr, ytr, xval, yval, xte, yte = data
    mg.manual_seed(seed)
    model = build(xtr.shape[1], args.width)
    best = best_epoch(args.epochs)
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):  # a too-large lr overflows: that is a result here
        hist = mg.train.fit(model, xtr, ytr, loss="cross_entropy",
                            optimizer=mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                            epochs=args.epochs, batch_size=batch,
                            validation_data=(xval, yval), callbacks=[best], seed=seed,
                            verbose=0)
        test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    loss = hist.history["loss"][-1]
    return {"batch": batch, "lr": lr, "seed": seed,
            "val_accuracy": max(hist.history["val_accuracy"]),
            "test_accuracy": test["accuracy"], "train_loss": loss,
            "diverged": not math.isfinite(loss), "seconds": time.perf_counter() - t0}


def _cell(cells: list[dict], b: int, lr: float, key: str) -> list[float]:
    return [c[key] for c in cells if c["batch"] == b and c["lr"] == lr]


def best_lrs(cells: list[dict], args: argparse.Namespace) -> dict[int, float]:
    """Per batch size, the lr with the best mean validation accuracy over the seeds."""
    return {b: max(args.lrs, key=lambda lr: np.mean(_cell(cells, b, lr, "val_accuracy")))
            for b in args.batches}


def plot(cells: list[dict], finder: dict[int, float], args: argparse.Namespace,
         out: Path) -> str:
    plt = pyplot()
    grid = np.array([[np.mean(_cell(cells, b, lr, "test_accuracy")) for lr in args.lrs]
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
    ax.set_title(f"test accuracy, best validation epoch of {args.epochs}, mean of "
                 f"{len(args.seeds)} seeds")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(im)
    fig.tight_layout()
    fig.savefig(out / "batch_lr_grid.png", dpi=110)
    plt.close(fig)
    return "batch_lr_grid.png"


def table(cells: list[dict], finder: dict[int, float], curves: dict,
          args: argparse.Namespace) -> str:
    head = "| batch size | " + " | ".join(f"lr {lr:g}" for lr in args.lrs) + \
           " | best lr (validation) | lr_finder suggestion (lowest-loss lr / 10) | " \
           "steepest descent |"
    lines = [head, "|---" * (len(args.lrs) + 4) + "|"]
    best = best_lrs(cells, args)
    for b in args.batches:
        vals = []
        for lr in args.lrs:
            text = mean_spread(_cell(cells, b, lr, "test_accuracy"))
            if any(_cell(cells, b, lr, "diverged")):
                text += " (diverged)"
            vals.append(f"**{text}**" if lr == best[b] else text)
        lines.append(f"| {b} | " + " | ".join(vals) + f" | {best[b]:g} | {finder[b]:.2g} | "
                     f"{curves[b]['steepest_lr']:.2g} |")
    return "\n".join(lines)


def verdicts(cells: list[dict], finder: dict[int, float], args) -> list[str]:
    best = best_lrs(cells, args)
    order = [best[b] for b in args.batches]
    grows = all(a <= b for a, b in zip(order, order[1:])) and order[-1] > order[0]
    near = {b: max(finder[b], best[b]) / min(finder[b], best[b]) <= np.sqrt(10)
            for b in args.batches}
    return [f"- Claim \"the best lr grows with the batch size\": best lr by validation "
            f"{', '.join(f'{best[b]:g} (batch {b})' for b in args.batches)}. "
            f"**{'Held' if grows else 'Did not hold'}** here.",
            "- Claim \"the LR finder's suggestion lands near the best lr\" (within half a "
            "decade, a factor of 3.2, of the grid's best): "
            + ", ".join(f"batch {b}: {finder[b]:.2g} vs {best[b]:g} "
                        f"({'near' if near[b] else 'not near'})" for b in args.batches)
            + f". **{_all_some_none(list(near.values()))}** here."]


def _all_some_none(flags: list[bool]) -> str:
    return ("Held" if all(flags) else "Held for some batch sizes only" if any(flags)
            else "Did not hold")


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.001, 0.01, 0.1, 0.5])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--finder-steps", type=int, default=200)
    ap.add_argument("--train-samples", type=int, default=3000)
    ap.add_argument("--val-samples", type=int, default=1000)
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.lrs, args.width = [16, 64], [0.01, 0.1], 32
        args.epochs, args.finder_steps, args.seeds = 2, 30, args.seeds[:2]
    args.lrs = sorted(args.lrs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    finder, curves = {}, {}
    for b in args.batches:
        result = suggested_lr(data, b, args)
        finder[b] = result.suggested_lr
        curves[b] = {"lrs": result.lrs, "losses": result.losses,
                     "min_loss_lr": result.min_loss_lr, "steepest_lr": result.steepest_lr}
        print(f"batch {b:>4}: lr_finder suggests {finder[b]:.2g} (lowest loss at "
              f"{result.min_loss_lr:.2g}, steepest at {result.steepest_lr:.2g})", flush=True)
    cells = []
    for seed in args.seeds:
        for b in args.batches:
            for lr in args.lrs:
                cells.append(train_cell(data, b, lr, args, seed))
                print(f"seed {seed} batch {b:>4} lr {lr:<6g} validation accuracy "
                      f"{cells[-1]['val_accuracy']:.4f}, test accuracy "
                      f"{cells[-1]['test_accuracy']:.4f}", flush=True)
    lines = [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. MLP "
             f"{data[0].shape[1]}-{args.width}-{args.width}-10 (ReLU, He), SGD momentum "
             f"0.9, {args.epochs} epochs per cell; {seeds_line(args.seeds)}. The LR finder "
             f"ran {args.finder_steps} steps from 1e-5 to 10 at each batch size (seed "
             f"{args.seeds[0]}). Produced by `python examples/exp_batch_lr.py"
             f"{' --quick' if args.quick else ''}`"
             + ("" if args.quick else " (sized for minutes on a busy 2-core machine)")
             + ".", "",
             "**The lectures' claims:** the best learning rate grows with the batch size; "
             "the LR finder's rule (a tenth of the lr with the lowest loss) lands near it.",
             "", "Test accuracy per cell, mean ± std over the seeds; in bold the lr of each "
             "row with the best mean validation accuracy (the test set picks nothing):", "",
             table(cells, finder, curves, args), "",
             "Verdicts (generated from the numbers):", "", *verdicts(cells, finder, args), "",
             f"![batch size x lr grid]({plot(cells, finder, args, out)})"]
    path = write_page(out, "batch_lr", args.quick, "Experiment 8: batch size and learning "
                      "rate", lines, {"cells": cells, "lr_finder": finder,
                                      "finder_curves": curves})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
