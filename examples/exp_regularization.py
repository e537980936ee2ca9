"""Experiment 4: overfitting and regularization.

A wide MLP trained on a small part of Fashion-MNIST (2,000 images by default) so it
can memorise them, six ways: no regularization, L2 weight penalty, dropout, batch
norm, data augmentation (random shifts and flips), and early stopping. For each: the
train and validation curves, and the bias/variance reading at the end (a large
train/validation gap is variance, i.e. overfitting; a low training accuracy is bias).
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_regularization.py                       # full run
    python examples/exp_regularization.py --quick --out /tmp/x   # seconds, synthetic data
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
from minigrad.data import transforms as T  # noqa: E402

CONFIGS = ("none", "L2 1e-3", "dropout 0.3", "BatchNorm", "augmentation",
           "early stopping")


def build(config: str, width: int) -> nn.Sequential:
    """Flatten, two hidden layers of ``width`` ReLU units (with the config's extra
    layers), the output layer. Inputs are (N, 1, 28, 28) so augmentation can shift."""
    reg = nn.regularizers.L2(1e-3) if config.startswith("L2") else None
    layers: list = [nn.Flatten()]
    fan_in = 784
    for _ in range(2):
        layers.append(nn.Linear(fan_in, width, weight_init="he_normal", kernel_regularizer=reg))
        if config == "BatchNorm":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if config.startswith("dropout"):
            layers.append(nn.Dropout(0.3))
        fan_in = width
    layers.append(nn.Linear(fan_in, 10, kernel_regularizer=reg))
    return nn.Sequential(*layers)


def run_one(config: str, split: tuple, args: argparse.Namespace) -> dict:
    (xtr, ytr), (xva, yva), (xte, yte) = split
    mg.manual_seed(args.seed)
    model = build(config, args.width)
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    callbacks = []
    if config == "early stopping":
        callbacks.append(mg.train.EarlyStopping(monitor="val_loss", patience=args.patience,
                                                restore_best_weights=True))
    common = dict(loss="cross_entropy", optimizer=opt, epochs=args.epochs,
                  validation_data=(xva, yva), callbacks=callbacks, verbose=0)
    if config == "augmentation":
        aug = T.Compose([T.RandomShift(2, seed=args.seed),
                         T.RandomHorizontalFlip(seed=args.seed + 1)])
        loader = mg.data.DataLoader((xtr, ytr), batch_size=args.batch_size, shuffle=True,
                                    transform=aug, seed=args.seed)
        hist = mg.train.fit(model, loader, **common)
    else:
        hist = mg.train.fit(model, xtr, ytr, batch_size=args.batch_size, seed=args.seed,
                            **common)
    # the final reading is taken without dropout/augmentation noise, on clean inputs
    train = mg.train.evaluate(model, xtr, ytr, loss="cross_entropy")
    test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    val = mg.train.evaluate(model, xva, yva, loss="cross_entropy")
    h = hist.history
    return {"config": config, "accuracy": h["accuracy"], "val_accuracy": h["val_accuracy"],
            "loss": h["loss"], "val_loss": h["val_loss"], "epochs_run": len(h["loss"]),
            "train_accuracy": train["accuracy"], "final_val_accuracy": val["accuracy"],
            "test_accuracy": test["accuracy"]}


def reading(r: dict, best_train: float) -> str:
    gap = r["train_accuracy"] - r["final_val_accuracy"]
    notes = []
    if gap > 0.05:
        notes.append(f"variance: overfits ({gap:.0%} gap)")
    if r["train_accuracy"] < best_train - 0.05:
        notes.append("bias: fits the training set less")
    return "; ".join(notes) or "balanced"


def plot(results: list[dict], out: Path) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), sharey=True)
    for ax, r in zip(axes.ravel(), results):
        epochs = np.arange(1, len(r["accuracy"]) + 1)
        ax.plot(epochs, r["accuracy"], label="train (with its regularization on)")
        ax.plot(epochs, r["val_accuracy"], label="validation")
        ax.set_title(r["config"])
        ax.set_xlabel("epoch")
    axes[0, 0].set_ylabel("accuracy")
    axes[1, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "regularization_curves.png", dpi=110)
    plt.close(fig)
    return "regularization_curves.png"


def table(results: list[dict]) -> str:
    best = max(r["train_accuracy"] for r in results)
    lines = ["| regularization | epochs | train accuracy | validation accuracy | gap | "
             "test accuracy | reading |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['config']} | {r['epochs_run']} | {r['train_accuracy']:.4f} | "
                     f"{r['final_val_accuracy']:.4f} | "
                     f"{r['train_accuracy'] - r['final_val_accuracy']:+.4f} | "
                     f"{r['test_accuracy']:.4f} | {reading(r, best)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=2400,
                    help="training images; the last sixth is the validation set")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.patience, args.batch_size = 32, 3, 1, 32
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xte, yte = load_data(args.quick, args.data, args.train_samples, args.seed)
    images = lambda x: x.reshape(len(x), 1, 28, 28)  # noqa: E731
    n_val = len(xtr) // 6
    split = ((images(xtr[:-n_val]), ytr[:-n_val]), (images(xtr[-n_val:]), ytr[-n_val:]),
             (images(xte), yte))
    results = []
    for config in CONFIGS:
        results.append(run_one(config, split, args))
        r = results[-1]
        print(f"{config:<16} train {r['train_accuracy']:.4f} val "
              f"{r['final_val_accuracy']:.4f} test {r['test_accuracy']:.4f} "
              f"({r['epochs_run']} epochs)", flush=True)
    lines = [f"Data: {data_line(args.quick, args.train_samples)}; "
             f"{len(split[0][1])} for training, {len(split[1][1])} for validation. MLP "
             f"784-{args.width}-{args.width}-10 (ReLU, He), Adam lr {args.lr}, batch "
             f"{args.batch_size}, up to {args.epochs} epochs (early stopping: patience "
             f"{args.patience} on val_loss, best weights restored), seed {args.seed}. "
             f"Produced by `python examples/exp_regularization.py"
             f"{' --quick' if args.quick else ''}`.", "",
             "Accuracies in the table are measured at the end in eval mode on clean "
             "inputs; the curves show the training accuracy as fit saw it (with dropout "
             "or augmentation on).", "", table(results), "",
             f"![train and validation curves]({plot(results, out)})"]
    path = write_page(out, "regularization", args.quick,
                      "Experiment 4: overfitting and regularization", lines, results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
