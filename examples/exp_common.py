"""Shared by the experiment scripts: the common options, the data (Fashion-MNIST with a
validation split, or a synthetic stand-in for --quick runs), model selection on the
validation split, mean +- spread over seeds, batch-loss recording, and the markdown
page writer."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg


def base_parser(doc: str) -> argparse.ArgumentParser:
    """The options every experiment takes: --quick, --data and --out."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="seconds, synthetic data")
    ap.add_argument("--data", help="folder with Fashion-MNIST (default: mg.data's search)")
    ap.add_argument("--out", default="docs/experiments")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="one run per seed; tables give mean +- spread over them")
    return ap


def load_split(quick: bool, data: str | None, train_samples: int, val_samples: int,
               seed: int):
    """(x_train, y_train, x_val, y_val, x_test, y_test): ``train_samples`` training and
    ``val_samples`` validation images drawn (disjoint) from Fashion-MNIST's training
    set, and its 10,000 test images, standardised with the training statistics. Model
    selection uses the validation images only; the test set is scored once at the end.
    Quick mode: the synthetic problem of ``load_data``, split 200 / 100 / 100."""
    if quick:
        x, y, xte, yte = load_data(True, data, 0, seed)
        return x[:200], y[:200], x[200:], y[200:], xte, yte
    (xtr, ytr), (xte, yte) = mg.data.load_fashion_mnist(root=data)
    pick = np.random.default_rng(seed).permutation(len(xtr))[:train_samples + val_samples]
    x, y = xtr[pick].reshape(len(pick), -1) / 255.0, ytr[pick]
    mean, std = x[:train_samples].mean(axis=0), x[:train_samples].std(axis=0) + 1e-7
    x = ((x - mean) / std).astype(np.float32)
    xte = ((xte.reshape(len(xte), -1) / 255.0 - mean) / std).astype(np.float32)
    return (x[:train_samples], y[:train_samples], x[train_samples:], y[train_samples:],
            xte, yte)


def split_line(quick: bool, train_samples: int, val_samples: int) -> str:
    return ("synthetic quick-mode data (NOT Fashion-MNIST: the numbers say nothing)"
            if quick else f"Fashion-MNIST: {train_samples} training images and "
                          f"{val_samples} validation images drawn from its training set, "
                          "and its 10,000 test images")


def best_epoch(epochs: int, monitor: str = "val_accuracy") -> mg.train.EarlyStopping:
    """A callback that never stops training but gives the model back the weights of its
    best epoch on the validation split when fit ends (``.best_epoch``, 0-based)."""
    return mg.train.EarlyStopping(monitor=monitor, patience=epochs + 1,
                                  restore_best_weights=True)


def mean_spread(values: Any, fmt: str = ".3f") -> str:
    """``mean ± std`` over seeds (sample standard deviation; ± 0 for one seed)."""
    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return f"{v.mean():{fmt}} ± {sd:{fmt}}"


def compare(a: Any, b: Any) -> tuple[str, float]:
    """Per-seed scores a against b: ("better" | "worse" | "within noise", mean gap). A
    gap counts when it exceeds twice the standard error of the difference of means."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    gap = float(a.mean() - b.mean())
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))) \
        if min(len(a), len(b)) > 1 else 0.0
    return ("within noise" if abs(gap) <= 2 * se else "better" if gap > 0 else "worse"), gap


NOISE_RULE = "a gap counts when it exceeds twice its standard error over the seeds"
VERDICT = {"better": "Held", "worse": "Did not hold (the opposite came out)",
           "within noise": "Not shown (within noise)"}


def seeds_line(seeds: list[int], kept: str = "the best validation accuracy") -> str:
    return (f"{len(seeds)} seeds ({', '.join(map(str, seeds))}); a ± b is the mean and the "
            f"sample standard deviation over them. Each run keeps the epoch with {kept}; "
            "the test set is scored once, on that epoch's weights")


def load_data(quick: bool, data: str | None, train_samples: int, seed: int):
    """(x_train, y_train, x_test, y_test): float32 rows standardised with the training
    statistics, int64 labels. Quick mode draws a synthetic 10-class problem (noisy
    class prototypes in 784-d) so the scripts run offline in seconds; the full mode
    reads Fashion-MNIST through mg.data (root ``data``, $MINIGRAD_DATA, the cache or
    Debian's dataset-fashion-mnist) and keeps ``train_samples`` random training images
    and the 10,000 test images."""
    if quick:
        rng = np.random.default_rng(seed)
        protos = rng.normal(size=(10, 784))
        y = rng.integers(0, 10, 400)
        x = protos[y] + 3.0 * rng.normal(size=(400, 784))
        x = ((x - x[:300].mean(axis=0)) / x[:300].std(axis=0)).astype(np.float32)
        return x[:300], y[:300], x[300:], y[300:]
    (xtr, ytr), (xte, yte) = mg.data.load_fashion_mnist(root=data)
    pick = np.random.default_rng(seed).permutation(len(xtr))[:train_samples]
    xtr, ytr = xtr[pick].reshape(len(pick), -1) / 255.0, ytr[pick]
    xte = xte.reshape(len(xte), -1) / 255.0
    mean, std = xtr.mean(axis=0), xtr.std(axis=0) + 1e-7
    return (((xtr - mean) / std).astype(np.float32), ytr,
            ((xte - mean) / std).astype(np.float32), yte)


def data_line(quick: bool, train_samples: int) -> str:
    return ("synthetic quick-mode data (NOT Fashion-MNIST: the numbers say nothing)"
            if quick else f"Fashion-MNIST, {train_samples} training images, the 10,000 "
                          "test images")


class BatchLosses(mg.train.Callback):
    """Every mini-batch's training loss, to draw the first epochs in detail."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.losses.append(float(logs["loss"]))


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def smooth(values: Any, points: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """A moving average over about len/points values: (x positions, smoothed values)."""
    v = np.asarray(values, dtype=np.float64)
    k = max(1, len(v) // points)
    s = np.convolve(v, np.ones(k) / k, mode="valid")
    return np.arange(len(s)) + k, s


def write_page(out: Path, stem: str, quick: bool, title: str, lines: list[str],
               results: Any) -> Path:
    """The markdown page (``stem``.md, or ``stem``_quick.md) and its raw results
    (.json) into ``out``."""
    path = out / (f"{stem}_quick.md" if quick else f"{stem}.md")
    path.write_text("\n".join([f"# {title}", ""] + lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(results, indent=1))
    return path
