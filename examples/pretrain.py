"""Unsupervised pretraining: an autoencoder on unlabeled Fashion-MNIST, its encoder
reused for a classifier trained on 1% of the labels, against the same classifier
trained from scratch, over several seeds.

1. A dense autoencoder 784-256-64-256-784 (ReLU, He init) learns to reconstruct all
   --unlabeled training images (no labels), with MSE on standardised pixels.
2. For each seed, --labeled-fraction of the training set (1% = 600 images, stratified)
   is labeled. The classifier is the encoder (784-256-64) plus a Linear(64, 10) head:
   - "frozen":     the pretrained encoder frozen, only the head trained (--epochs);
   - "fine-tuned": then everything unfrozen and trained --epochs more at lr / 10;
   - "scratch":    the same network from a random init, all of it trained for
                   2 * --epochs epochs (as many as frozen + fine-tuned together).
3. The 10,000 test images give each variant's accuracy; the table shows mean and
   standard deviation over the seeds. The autoencoder is trained once and shared
   by the seeds (it never sees a label).

One run with the defaults (2026-12-03, 600 labels, seeds 0-2): scratch 78.8 +- 0.2 %,
frozen encoder 66.4 +- 2.2 %, fine-tuned 78.0 +- 0.3 % (autoencoder MSE 0.217 -> 0.112
over 3 epochs). Here the pretrained encoder does not beat training from scratch: a
784-256-64 MLP with He init and Adam already generalises from 600 images about as well,
and features learned to reconstruct pixels are weaker for a linear head (frozen).

    MINIGRAD_DATA=/path/to/data python examples/pretrain.py              # ~minutes
    python examples/pretrain.py --unlabeled 5000 --ae-epochs 1 --seeds 2 --epochs 5
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigrad as mg
from minigrad import nn

CODE, HIDDEN = 64, 256


def load(unlabeled: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised float32 rows (statistics of the training images) and labels."""
    (xtr, ytr), (xte, yte) = mg.data.load_fashion_mnist()
    pick = np.random.default_rng(seed).permutation(len(xtr))[:unlabeled]
    xtr, ytr = xtr[pick].reshape(len(pick), -1) / 255.0, ytr[pick]
    scaler = mg.data.Standardizer(axis=None).fit(xtr)
    return (scaler.transform(xtr), ytr,
            scaler.transform(xte.reshape(len(xte), -1) / 255.0), yte)


def encoder() -> nn.Sequential:
    return nn.Sequential(nn.Linear(784, HIDDEN, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(HIDDEN, CODE, weight_init="he_normal"), nn.ReLU())


def pretrain(x: np.ndarray, epochs: int, batch_size: int) -> nn.Sequential:
    """The encoder of an autoencoder trained to reconstruct x (targets = inputs)."""
    mg.manual_seed(0)
    enc = encoder()
    auto = nn.Sequential(enc, nn.Linear(CODE, HIDDEN, weight_init="he_normal"), nn.ReLU(),
                         nn.Linear(HIDDEN, 784))
    opt = mg.optim.Adam(auto.parameters(), lr=1e-3)
    h = mg.train.fit(auto, x, x, loss="mse", optimizer=opt, epochs=epochs,
                     batch_size=batch_size, metrics=(), verbose=0, seed=0)
    print(f"autoencoder: {len(x)} unlabeled images, {epochs} epochs, reconstruction "
          f"MSE {h.history['loss'][0]:.3f} -> {h.history['loss'][-1]:.3f} "
          "(standardised pixels; 1.0 = predicting the mean)")
    return enc


def labeled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified `fraction` of y."""
    keep, _ = mg.data.train_test_split(np.arange(len(y)), test_size=1 - fraction,
                                       stratify=y, seed=seed)
    return keep


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return float((mg.train.predict(model, x).argmax(axis=1) == y).mean())


def train(model: nn.Module, x, y, lr: float, epochs: int, seed: int) -> None:
    opt = mg.optim.Adam(model.parameters(), lr=lr)
    mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                 batch_size=32, verbose=0, seed=seed)


def one_seed(enc: nn.Sequential, data, fraction: float, epochs: int, lr: float,
             seed: int) -> dict[str, float]:
    xtr, ytr, xte, yte = data
    idx = labeled_subset(ytr, fraction, seed)
    x, y = xtr[idx], ytr[idx]
    mg.manual_seed(seed)
    pretrained = nn.Sequential(nn.clone(enc), nn.Linear(CODE, 10))
    pretrained[0].freeze()
    train(pretrained, x, y, lr, epochs, seed)
    scores = {"frozen": accuracy(pretrained, xte, yte)}
    pretrained[0].unfreeze()
    train(pretrained, x, y, lr / 10, epochs, seed)
    scores["fine-tuned"] = accuracy(pretrained, xte, yte)
    mg.manual_seed(seed)
    scratch = nn.Sequential(encoder(), nn.Linear(CODE, 10))
    train(scratch, x, y, lr, 2 * epochs, seed)
    scores["scratch"] = accuracy(scratch, xte, yte)
    return scores


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unlabeled", type=int, default=60000, help="images for the autoencoder")
    ap.add_argument("--ae-epochs", type=int, default=3)
    ap.add_argument("--labeled-fraction", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=30, help="classifier epochs per phase")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128, help="autoencoder batch size")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    data = load(args.unlabeled, seed=0)
    enc = pretrain(data[0], args.ae_epochs, args.batch_size)
    results: dict[str, list[float]] = {"scratch": [], "frozen": [], "fine-tuned": []}
    for seed in range(args.seeds):
        scores = one_seed(enc, data, args.labeled_fraction, args.epochs, args.lr, seed)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.2%}" for k, v in scores.items()))
        for key, value in scores.items():
            results[key].append(value)
    n = len(labeled_subset(data[1], args.labeled_fraction, 0))
    print(f"\ntest accuracy, {n} labeled images, {args.seeds} seeds (mean +- std):")
    for key, values in results.items():
        print(f"  {key:<11} {np.mean(values):.2%} +- {np.std(values):.2%}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return results


if __name__ == "__main__":
    main()
