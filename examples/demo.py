"""`make demo`: train the CNN on Fashion-MNIST for 2 epochs and report test accuracy.

The data is found (or downloaded) by mg.data. Before committing to the full run the
demo times a few CNN steps on this machine: when 2 epochs would take longer than the
budget (default 10 minutes), it trains the MLP for 5 epochs plus the CNN for 1 epoch
on the subset that fits, and says so.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import minigrad as mg
from minigrad.cli import build_model, image_stats, load_data, test_report

BATCH = 128


def seconds_per_sample(model_name: str, x: np.ndarray, y: np.ndarray, batches: int = 4
                       ) -> float:
    """Training time per image of a throwaway model, after one warm-up batch."""
    model = build_model(model_name, "glorot_uniform", *image_stats(x))
    opt = mg.optim.Adam(model.parameters())
    run = dict(loss="cross_entropy", optimizer=opt, batch_size=BATCH, verbose=0)
    mg.train.fit(model, x[:BATCH], y[:BATCH], **run)
    n = batches * BATCH
    t0 = time.perf_counter()
    mg.train.fit(model, x[:n], y[:n], **run)
    return (time.perf_counter() - t0) / n


def train(model_name: str, x: np.ndarray, y: np.ndarray, xte: np.ndarray, yte: np.ndarray,
          epochs: int, out: str) -> float:
    mg.manual_seed(0)
    model = build_model(model_name, "glorot_uniform", *image_stats(x))
    print(f"\n== {model_name}: {epochs} epoch(s) on {len(x)} images, Adam lr 1e-3, "
          f"batch {BATCH}")
    print(model.net)  # what runs: mg.nn.fuse put each ReLU into a layer (activation='relu')
    t0 = time.perf_counter()
    history = mg.train.fit(model, x, y, loss="cross_entropy", epochs=epochs,
                           optimizer=mg.optim.Adam(model.parameters(), lr=1e-3),
                           batch_size=BATCH, verbose=1, seed=0)
    took = time.perf_counter() - t0
    report = test_report(model, xte, yte)
    png = history.plot(os.path.join(out, f"{model_name}-curves.png"),
                       title=f"{model_name} on Fashion-MNIST")
    print(f"{model_name}: test accuracy {report['test_accuracy']:.4f} on {len(xte)} test "
          f"images (training {took:.0f} s; curves in {png})")
    return report["test_accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds the 2-epoch CNN run may take (default 600)")
    ap.add_argument("--out", default="runs/demo", help="folder for the curves (PNG)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print(f"minigrad {mg.__version__}, backend {mg.backend.get_backend()}, "
          f"{mg.get_num_threads()} threads")
    (xtr, ytr), (xte, yte) = load_data("fashion-mnist")
    print(f"Fashion-MNIST: {len(xtr)} train / {len(xte)} test images (kept as uint8)")

    per = seconds_per_sample("cnn", xtr, ytr)
    # 2 training epochs plus the test pass (a forward is about a third of a step)
    estimate = per * (2 * len(xtr) + len(xte) / 3)
    print(f"measured {per * 1e3:.2f} ms per CNN training image: 2 epochs would take "
          f"about {estimate / 60:.1f} min (budget {args.budget / 60:.1f} min)")
    if estimate <= args.budget:
        print("-> training the CNN for 2 epochs on the full training set")
        train("cnn", xtr, ytr, xte, yte, epochs=2, out=args.out)
        return
    subset = int(min(len(xtr), max(BATCH, 0.4 * args.budget / per)) // BATCH * BATCH)
    print(f"-> too slow here for the full run: the MLP for 5 epochs on the full training "
          f"set, then the CNN for 1 epoch on the first {subset} images")
    train("mlp", xtr, ytr, xte, yte, epochs=5, out=args.out)
    train("cnn", xtr[:subset], ytr[:subset], xte, yte, epochs=1, out=args.out)


if __name__ == "__main__":
    main()
