"""Experiment 4: overfitting and regularization.

The lectures' claim: on a small training set a large network memorises its training
images, and regularization (an L2 weight penalty, dropout, batch norm, data
augmentation, early stopping) narrows the gap between training and validation
accuracy, at some cost in training fit. A wide MLP is trained on 2,000 Fashion-MNIST
images six ways (none, L2 1e-3, dropout 0.3, batch norm, random shifts and flips,
early stopping on the validation loss), over several seeds. For each run: the clean
(eval mode) training accuracy and the validation accuracy of every epoch; the gap and
the training fit where training ended (the last epoch; early stopping: the epoch it
restored); and the test accuracy of the epoch with the best validation accuracy,
scored once. Writes PNGs and a markdown page into docs/experiments/ (or --out).

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
from exp_common import (NOISE_RULE, VERDICT, base_parser, best_epoch, compare,  # noqa: E402
                        load_split, mean_spread, pyplot, seeds_line, split_line,
                        write_page)
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


class CleanTrainAccuracy(mg.train.Callback):
    """The training accuracy after every epoch in eval mode on the clean images (fit's
    own figure has dropout and augmentation on, so it is not the fit of the model)."""

    def __init__(self, x, y) -> None:
        self.x, self.y, self.accuracy = x, y, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        r = mg.train.evaluate(self.model, self.x, self.y, loss="cross_entropy")
        self.accuracy.append(float(r["accuracy"]))


def run_one(config: str, data: tuple, args: argparse.Namespace, seed: int) -> dict:
    xtr, ytr, xva, yva, xte, yte = data
    mg.manual_seed(seed)
    model = build(config, args.width)
    clean = CleanTrainAccuracy(xtr, ytr)
    keep = (mg.train.EarlyStopping(monitor="val_loss", patience=args.patience,
                                   restore_best_weights=True)
            if config == "early stopping" else best_epoch(args.epochs))
    common = dict(loss="cross_entropy", optimizer=mg.optim.Adam(model.parameters(),
                                                                lr=args.lr),
                  epochs=args.epochs, validation_data=(xva, yva), callbacks=[clean, keep],
                  verbose=0)
    if config == "augmentation":
        aug = T.Compose([T.RandomShift(2, seed=seed), T.RandomHorizontalFlip(seed=seed + 1)])
        loader = mg.data.DataLoader((xtr, ytr), batch_size=args.batch_size, shuffle=True,
                                    transform=aug, seed=seed)
        hist = mg.train.fit(model, loader, **common)
    else:
        hist = mg.train.fit(model, xtr, ytr, batch_size=args.batch_size, seed=seed, **common)
    test = mg.train.evaluate(model, xte, yte, loss="cross_entropy")
    val = hist.history["val_accuracy"]
    # where training ended: the last epoch, or the epoch early stopping gave back
    end = keep.best_epoch if config == "early stopping" else len(val) - 1
    return {"config": config, "seed": seed, "train_accuracy": clean.accuracy,
            "fit_accuracy": hist.history["accuracy"], "val_accuracy": val,
            "epochs_run": len(val), "end_epoch": end + 1, "best_epoch": keep.best_epoch + 1,
            "end_train": clean.accuracy[end], "end_val": val[end],
            "end_gap": clean.accuracy[end] - val[end], "test_accuracy": test["accuracy"]}


def _of(runs: list[dict], config: str, key: str) -> list:
    return [r[key] for r in runs if r["config"] == config]


def table(runs: list[dict]) -> str:
    lines = ["| regularization | epochs run | train accuracy (end) | validation accuracy "
             "(end) | gap (end) | best val. epochs | test accuracy (best val. epoch) |",
             "|---|---|---|---|---|---|---|"]
    for c in dict.fromkeys(r["config"] for r in runs):
        lines.append(f"| {c} | {', '.join(map(str, _of(runs, c, 'epochs_run')))} | "
                     f"{mean_spread(_of(runs, c, 'end_train'), '.4f')} | "
                     f"{mean_spread(_of(runs, c, 'end_val'), '.4f')} | "
                     f"{mean_spread(_of(runs, c, 'end_gap'), '.4f')} | "
                     f"{', '.join(map(str, _of(runs, c, 'best_epoch')))} | "
                     f"{mean_spread(_of(runs, c, 'test_accuracy'), '.4f')} |")
    return "\n".join(lines)


_FIT = {"better": "lower", "worse": "higher", "within noise": "within noise"}
_GAP = {"better": "narrower", "worse": "wider", "within noise": "within noise"}


def verdicts(runs: list[dict]) -> list[str]:
    """Per method against no regularization: did the gap narrow (the claim), and what
    did the training fit and the test accuracy do (see exp_common.compare)."""
    out = []
    for c in CONFIGS[1:]:
        if not _of(runs, c, "seed"):
            continue
        said, gap = compare(_of(runs, "none", "end_gap"), _of(runs, c, "end_gap"))
        fit, fit_gap = compare(_of(runs, "none", "end_train"), _of(runs, c, "end_train"))
        test, test_gap = compare(_of(runs, c, "test_accuracy"),
                                 _of(runs, "none", "test_accuracy"))
        out.append(f"- **{c}** vs none: train-validation gap {_GAP[said]} ({-gap:+.4f}); "
                   f"training fit {_FIT[fit]} ({-fit_gap:+.4f}); test accuracy "
                   f"{test} ({test_gap:+.4f}). Claim \"narrows the gap\": **{VERDICT[said]}** "
                   "here" + ("" if said == "better" else f" ({NOISE_RULE})") + ".")
    return out


def plot(runs: list[dict], out: Path) -> str:
    """The first seed's clean train and validation accuracy, one panel per method."""
    first = [r for r in runs if r["seed"] == runs[0]["seed"]]
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), sharey=True)
    for ax, r in zip(axes.ravel(), first):
        epochs = np.arange(1, r["epochs_run"] + 1)
        ax.plot(epochs, r["train_accuracy"], label="train (eval mode, clean images)")
        ax.plot(epochs, r["val_accuracy"], label="validation")
        ax.axvline(r["end_epoch"], color="grey", lw=0.8, ls=":")
        ax.set_title(r["config"])
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"seed {first[0]['seed']}; dotted: where training ended")
    fig.tight_layout()
    fig.savefig(out / "regularization_curves.png", dpi=110)
    plt.close(fig)
    return "regularization_curves.png"


def page(runs: list[dict], args: argparse.Namespace, image: str) -> list[str]:
    return [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. MLP "
            f"784-{args.width}-{args.width}-10 (ReLU, He), Adam lr {args.lr}, batch "
            f"{args.batch_size}, {args.epochs} epochs (early stopping: patience "
            f"{args.patience} on the validation loss, its best weights restored); "
            f"{seeds_line(args.seeds)} (early stopping: the epoch it restored). Produced "
            f"by `python examples/exp_regularization.py{' --quick' if args.quick else ''}`"
            + ("" if args.quick else " (sized for minutes on a busy 2-core machine)") + ".",
            "", "**The lectures' claim:** on a small training set, regularization (L2, "
            "dropout, batch norm, augmentation, early stopping) narrows the gap between "
            "training and validation accuracy, at some cost in training fit.", "",
            "Train accuracy is measured in eval mode on the clean training images; the "
            "gap and the training fit are read where training ended (the last epoch; "
            "for early stopping, the epoch it restored). The test accuracy is that of "
            "the weights kept by validation, scored once.", "", table(runs), "",
            "Verdicts (generated from the numbers):", "", *verdicts(runs), "",
            f"![train and validation curves]({image})"]


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=2000)
    ap.add_argument("--val-samples", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args(argv)
    if args.quick:
        args.width, args.epochs, args.patience, args.batch_size = 32, 3, 1, 32
        args.seeds = args.seeds[:2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    data = tuple(a.reshape(len(a), 1, 28, 28) if i % 2 == 0 else a for i, a in enumerate(x))
    runs = []
    for seed in args.seeds:
        for config in CONFIGS:
            runs.append(run_one(config, data, args, seed))
            r = runs[-1]
            print(f"seed {seed} {config:<16} train {r['end_train']:.4f} val "
                  f"{r['end_val']:.4f} test {r['test_accuracy']:.4f} "
                  f"({r['epochs_run']} epochs)", flush=True)
    path = write_page(out, "regularization", args.quick,
                      "Experiment 4: overfitting and regularization",
                      page(runs, args, plot(runs, out)), runs)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
