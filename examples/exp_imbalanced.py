"""Experiment 6: imbalanced data, and why accuracy alone misleads.

A binary task from Fashion-MNIST with 95% negatives and 5% positives (positive class:
--positive, default 7 "sneaker"; negatives: every other class), in the training set
and in the test set alike. Three ways to train the same MLP: the plain loss, the
loss weighted by inverse class frequency (``class_weight``), and class-balanced
mini-batches (``BalancedSampler``). For each: accuracy, precision, recall, F1 and the
confusion matrix on the test set. Predicting "negative" always scores 95% accuracy
and 0 recall; the table shows who beats that.
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_imbalanced.py                       # full run (Fashion-MNIST)
    python examples/exp_imbalanced.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import base_parser, data_line, load_data, pyplot, write_page  # noqa: E402
from minigrad import nn  # noqa: E402

METHODS = ("plain loss", "weighted loss", "balanced mini-batches")


def imbalanced(x: np.ndarray, labels: np.ndarray, positive: int, fraction: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Keep every negative and just enough positives for ``fraction`` positives; y is
    1 for the positive class, 0 otherwise."""
    pos, neg = np.flatnonzero(labels == positive), np.flatnonzero(labels != positive)
    keep = int(round(fraction / (1 - fraction) * len(neg)))
    if keep < 1 or keep > len(pos):
        raise ValueError(f"imbalanced: cannot make {fraction:.0%} positives from "
                         f"{len(pos)} positives and {len(neg)} negatives")
    idx = rng.permutation(np.concatenate([neg, rng.choice(pos, keep, replace=False)]))
    return x[idx], (labels[idx] == positive).astype(np.int64)


def train(method: str, xtr: np.ndarray, ytr: np.ndarray, args: argparse.Namespace):
    mg.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(xtr.shape[1], args.width, weight_init="he_normal"),
                          nn.ReLU(), nn.Linear(args.width, 2))
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    common = dict(loss="cross_entropy", optimizer=opt, epochs=args.epochs, verbose=0)
    if method == "plain loss":
        mg.train.fit(model, xtr, ytr, batch_size=args.batch_size, seed=args.seed, **common)
    elif method == "weighted loss":
        counts = np.bincount(ytr, minlength=2)
        weights = {c: len(ytr) / (2.0 * counts[c]) for c in (0, 1)}  # inverse frequency
        mg.train.fit(model, xtr, ytr, batch_size=args.batch_size, class_weight=weights,
                     seed=args.seed, **common)
    else:
        loader = mg.data.DataLoader((xtr, ytr), batch_size=args.batch_size,
                                    sampler=mg.data.BalancedSampler(ytr), seed=args.seed)
        mg.train.fit(model, loader, **common)
    return model


def scores(model, xte: np.ndarray, yte: np.ndarray) -> dict:
    pred = mg.train.predict(model, xte).argmax(axis=1)
    return {"accuracy": float((pred == yte).mean()),
            "precision": float(mg.metrics.precision(yte, pred)),
            "recall": float(mg.metrics.recall(yte, pred)),
            "f1": float(mg.metrics.f1(yte, pred)),
            "confusion": mg.metrics.confusion_matrix(yte, pred, num_classes=2).tolist()}


def plot(results: list[dict], out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.6))
    for ax, r in zip(np.atleast_1d(axes), results):
        cm = np.asarray(r["confusion"])
        ax.imshow(cm, cmap="Blues")
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="w" if cm[i, j] > cm.max() / 2 else "k")
        ax.set_xticks([0, 1], ["neg", "pos"])
        ax.set_yticks([0, 1], ["neg", "pos"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{r['method']}\nrecall {r['recall']:.2f}, precision {r['precision']:.2f}",
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "imbalanced_confusion.png", dpi=110)
    plt.close(fig)
    return "imbalanced_confusion.png"


def table(results: list[dict], baseline: float) -> str:
    lines = ["| method | accuracy | precision | recall | F1 |", "|---|---|---|---|---|",
             f"| always 'negative' | {baseline:.4f} | - | 0.0000 | 0.0000 |"]
    for r in results:
        lines.append(f"| {r['method']} | {r['accuracy']:.4f} | {r['precision']:.4f} | "
                     f"{r['recall']:.4f} | {r['f1']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--positive", type=int, default=7, help="the rare class (7: sneaker)")
    ap.add_argument("--fraction", type=float, default=0.05, help="share of positives")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.batch_size = 16, 3, 32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xtr, ltr, xte, lte = load_data(args.quick, args.data, args.train_samples, args.seed)
    rng = np.random.default_rng(args.seed)
    xtr, ytr = imbalanced(xtr, ltr, args.positive, args.fraction, rng)
    xte, yte = imbalanced(xte, lte, args.positive, args.fraction, rng)
    results = []
    for method in METHODS:
        results.append({"method": method, **scores(train(method, xtr, ytr, args), xte, yte)})
        r = results[-1]
        print(f"{method:<22} accuracy {r['accuracy']:.4f} precision {r['precision']:.4f} "
              f"recall {r['recall']:.4f} F1 {r['f1']:.4f}", flush=True)
    baseline = float((yte == 0).mean())
    lines = [f"Data: {data_line(args.quick, args.train_samples)}; class {args.positive} "
             f"against the rest, {args.fraction:.0%} positives ({int(ytr.sum())} of "
             f"{len(ytr)} training, {int(yte.sum())} of {len(yte)} test samples). MLP with "
             f"{args.width} hidden ReLU units, Adam lr {args.lr}, batch {args.batch_size}, "
             f"{args.epochs} epochs, seed {args.seed}. Produced by "
             f"`python examples/exp_imbalanced.py{' --quick' if args.quick else ''}`.", "",
             table(results, baseline), "", f"![confusion matrices]({plot(results, out)})"]
    path = write_page(out, "imbalanced", args.quick, "Experiment 6: imbalanced data",
                      lines, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
