"""Experiment 7: an autoencoder on Fashion-MNIST, and its error as an anomaly score.

The lectures' claim: an autoencoder trained on normal data reconstructs data unlike it
worse, so its reconstruction error flags anomalies.

A dense autoencoder (784-256-32-256-784) learns to reconstruct every class but one
(--held-out, default 5 "sandal"). On the test set, the reconstruction error of each
image is its anomaly score: images of the held-out class, never seen in training,
should reconstruct worse. Reports the ROC AUC of that score for "held-out class vs
the rest" over several seeds (each keeping the epoch with the lowest reconstruction
loss on a validation split of the seen classes), a picture of reconstructions and
the error histograms (first seed).
Writes PNGs and a markdown page into docs/experiments/ (or --out).

    python examples/exp_autoencoder.py                       # full run (Fashion-MNIST)
    python examples/exp_autoencoder.py --quick --out /tmp/x   # seconds, synthetic data
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # exp_common beside this file
import minigrad as mg  # noqa: E402
from exp_common import (base_parser, best_epoch, load_split, mean_spread, pyplot,  # noqa: E402
                        seeds_line, split_line, write_page)
from minigrad import nn  # noqa: E402


def autoencoder(hidden: int, code: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, hidden, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(hidden, code, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(code, hidden, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(hidden, 784))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random positive > a random negative),
    ties counting one half (the Mann-Whitney U statistic, from average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over runs of equal scores
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc: needs both positives and negatives")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def plot(x: np.ndarray, recon: np.ndarray, errors: np.ndarray, held: np.ndarray,
         out: Path) -> list[str]:
    plt = pyplot()
    picks = np.concatenate([np.flatnonzero(~held)[:6], np.flatnonzero(held)[:4]])
    fig, axes = plt.subplots(2, len(picks), figsize=(1.3 * len(picks), 3))
    for k, i in enumerate(picks):
        for row, img in enumerate((x[i], recon[i])):
            axes[row, k].imshow(img.reshape(28, 28), cmap="gray")
            axes[row, k].axis("off")
        axes[0, k].set_title("held out" if held[i] else "seen", fontsize=8)
    fig.suptitle("originals (top) and reconstructions (bottom)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "autoencoder_reconstructions.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, np.quantile(errors, 0.99), 50)
    ax.hist(errors[~held], bins=bins, alpha=0.6, density=True, label="classes seen in training")
    ax.hist(errors[held], bins=bins, alpha=0.6, density=True, label="held-out class")
    ax.set_xlabel("reconstruction error (mean squared, standardised pixels)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "autoencoder_errors.png", dpi=110)
    plt.close(fig)
    return ["autoencoder_reconstructions.png", "autoencoder_errors.png"]


def run_seed(data: tuple, args, seed: int) -> dict:
    xtr, ytr, xva, yva, xte, yte = data
    seen, seen_val = xtr[ytr != args.held_out], xva[yva != args.held_out]
    mg.manual_seed(seed)
    model = autoencoder(args.hidden, args.code)
    hist = mg.train.fit(model, seen, seen, loss="mse", metrics=(),
                        optimizer=mg.optim.Adam(model.parameters(), lr=args.lr),
                        epochs=args.epochs, batch_size=args.batch_size, seed=seed,
                        validation_data=(seen_val, seen_val),
                        callbacks=[best_epoch(args.epochs, "val_loss")], verbose=0)
    recon = mg.train.predict(model, xte)
    errors = ((recon - xte) ** 2).mean(axis=1)
    held = yte == args.held_out
    return {"seed": seed, "auc": roc_auc(errors, held), "loss": hist.history["loss"],
            "val_loss": hist.history["val_loss"], "seen_error": float(errors[~held].mean()),
            "held_error": float(errors[held].mean()), "recon": recon, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--held-out", type=int, default=5, help="the class never trained on")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--code", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--train-samples", type=int, default=20000)
    ap.add_argument("--val-samples", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden, args.code, args.epochs, args.batch_size = 32, 8, 3, 32
        args.seeds = args.seeds[:2]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split(args.quick, args.data, args.train_samples, args.val_samples, 0)
    xte, yte = data[4], data[5]
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(data, args, seed))
        print(f"seed {seed}: ROC AUC of the reconstruction error for class {args.held_out}: "
              f"{runs[-1]['auc']:.4f}", flush=True)
    images = plot(xte, runs[0]["recon"], runs[0]["errors"], yte == args.held_out, out)
    aucs = [r["auc"] for r in runs]
    held = np.mean(aucs) - 2 * (np.std(aucs, ddof=1) if len(aucs) > 1 else 0) > 0.5
    lines = [f"Data: {split_line(args.quick, args.train_samples, args.val_samples)}. "
             f"Autoencoder 784-{args.hidden}-{args.code}-{args.hidden}-784 (ReLU, He), MSE "
             f"on standardised pixels, Adam lr {args.lr}, batch {args.batch_size}, "
             f"{args.epochs} epochs on every class but {args.held_out}; "
             f"{seeds_line(args.seeds, 'the lowest validation reconstruction loss')}. "
             f"Produced by `python examples/exp_autoencoder.py"
             f"{' --quick' if args.quick else ''}`.", "",
             "**The lectures' claim:** an autoencoder trained on normal data reconstructs "
             "data unlike it worse, so its reconstruction error flags anomalies.", "",
             "| | value |", "|---|---|",
             f"| training loss, last epoch | {mean_spread([r['loss'][-1] for r in runs], '.4f')} |",
             f"| test reconstruction error, seen classes | "
             f"{mean_spread([r['seen_error'] for r in runs], '.4f')} |",
             f"| test reconstruction error, held-out class | "
             f"{mean_spread([r['held_error'] for r in runs], '.4f')} |",
             f"| ROC AUC, held-out class vs the rest | {mean_spread(aucs, '.4f')} |", "",
             f"Verdict (generated from the numbers): ROC AUC {mean_spread(aucs, '.4f')} "
             + ("is above 0.5 (chance) by more than twice its spread. **Held** here."
                if held else "is not above 0.5 (chance) by twice its spread. **Not shown** "
                "here."), "",
             f"![reconstructions]({images[0]})", "", f"![error histograms]({images[1]})"]
    path = write_page(out, "autoencoder", args.quick, "Experiment 7: autoencoder and "
                      "anomaly score", lines,
                      [{k: v for k, v in r.items() if k not in ("recon", "errors")}
                       for r in runs])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
