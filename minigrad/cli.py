"""The command line: ``python -m minigrad train | evaluate | search | doctor``.

train     loads (Fashion-)MNIST, trains an MLP / MLP-BN / CNN with a progress bar,
          prints test accuracy and the confusion matrix, and writes model.ckpt,
          curves.png, history.csv and metrics.json into --out.
evaluate  rebuilds the model from a checkpoint (it stores the model config) and
          reports its test accuracy on the same test samples.
search    random search of hyperparameters, here or on Dask (minigrad/cli_search.py).
doctor    which backend runs and why, the C build, threads, a kernel self-test, GEMM speed
          (minigrad.diagnostics.doctor, which parses its own options).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Sequence

import numpy as np

import minigrad as mg
from minigrad import nn

from . import cli_search

__all__ = ["build_model", "image_stats", "load_data", "main", "make_optimizer"]

CHECKPOINT_FORMAT = "minigrad-cli-checkpoint/1"
MODELS = ("mlp", "mlp-bn", "cnn")
DATASETS = ("fashion-mnist", "mnist")
OPTIMIZERS = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3, "adagrad": 1e-2}  # default lr
CLASS_NAMES = {
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(i) for i in range(10)],
}


class Standardized(nn.Module):
    """``net((x - mean) / std)``: images stay uint8 in memory; fit casts each batch to
    float32 and this scales it, so no float copy of the dataset ever exists.
    mean/std are plain floats kept in the checkpoint config; ``net`` holds every weight
    (its state dict has PyTorch's Sequential names)."""

    def __init__(self, net: nn.Module, mean: float, std: float):
        super().__init__()
        self.net, self.mean, self.inv_std = net, float(mean), 1.0 / float(std)

    def forward(self, x: Any) -> Any:
        x = mg.as_tensor(x)
        return self.net((x - self.mean) * self.inv_std)


def build_model(name: str, init: str = "glorot_uniform", mean: float = 0.0, std: float = 1.0
                ) -> Standardized:
    """The named architecture for 1x28x28 inputs and 10 classes, standardizing its input.

    mlp: 784-300-100-10 with ReLU; mlp-bn: the same with BatchNorm1d before each ReLU;
    cnn: conv(1->32, 3x3, pad 1)-ReLU-maxpool 2-conv(32->64)-ReLU-maxpool 2-
    dense(3136->128)-ReLU-dropout(0.5)-dense(10). Built as written, then mg.nn.fuse
    runs each ReLU with the layer before it (or the pool after it); the state dict
    keeps the unfused names.
    """
    w = {"weight_init": init}
    if name == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300, **w), nn.ReLU(),
                            nn.Linear(300, 100, **w), nn.ReLU(), nn.Linear(100, 10, **w))
    elif name == "mlp-bn":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300, **w), nn.BatchNorm1d(300),
                            nn.ReLU(), nn.Linear(300, 100, **w), nn.BatchNorm1d(100),
                            nn.ReLU(), nn.Linear(100, 10, **w))
    elif name == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, **w), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3, padding=1, **w), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(3136, 128, **w), nn.ReLU(),
                            nn.Dropout(0.5), nn.Linear(128, 10, **w))
    else:
        raise ValueError(f"build_model: unknown model {name!r}; choose one of {MODELS}")
    return Standardized(nn.fuse(net), mean, std)


def make_optimizer(name: str, params: Any, lr: float | None, momentum: float = 0.0) -> Any:
    """An optimizer by name with lr (None: the optimizer's usual default)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"make_optimizer: unknown optimizer {name!r}; "
                         f"choose one of {sorted(OPTIMIZERS)}")
    lr = OPTIMIZERS[name] if lr is None else lr
    if name == "adam":
        return mg.optim.Adam(params, lr=lr)
    if name == "sgd":
        return mg.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "rmsprop":
        return mg.optim.RMSprop(params, lr=lr, momentum=momentum)
    return mg.optim.Adagrad(params, lr=lr)


def load_data(dataset: str, root: str | None = None, limit: int | None = None,
              download: bool = True
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """uint8 images (N, 1, 28, 28) and int64 labels; ``limit`` keeps the first N of each
    split (views, no copies)."""
    loader = mg.data.load_fashion_mnist if dataset == "fashion-mnist" else mg.data.load_mnist
    (xtr, ytr), (xte, yte) = loader(root, download=download)
    xtr, xte = xtr.reshape(-1, 1, 28, 28), xte.reshape(-1, 1, 28, 28)
    if limit:
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    return (xtr, ytr), (xte, yte)


def image_stats(x: np.ndarray, chunk: int = 4096) -> tuple[float, float]:
    """Mean and std over every pixel of ``x``, in float64 chunks: ``x.std()`` would make
    a float64 copy of the whole set (376 MB for Fashion-MNIST), which would set the
    peak memory of a run that otherwise keeps the images uint8."""
    n, total, squares = x.size, 0.0, 0.0
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float64)
        total += float(part.sum())
        squares += float(np.square(part).sum())
    mean = total / n
    return mean, max(squares / n - mean * mean, 0.0) ** 0.5


def _select_backend(args: argparse.Namespace) -> None:
    if args.backend:
        mg.backend.set_backend(args.backend)
    if args.threads:
        mg.set_num_threads(args.threads)


class _EpochTimer(mg.train.Callback):
    """Wall time of every epoch (training plus validation), for metrics.json."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t0)


def test_report(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 500
                ) -> dict[str, Any]:
    """Loss, accuracy and confusion matrix of the test set, from one prediction pass."""
    logits = mg.train.predict(model, x, batch_size=batch_size)
    with mg.no_grad():
        loss = mg.nn.functional.cross_entropy(mg.tensor(logits), y).item()
    return {"test_loss": float(loss), "test_accuracy": mg.metrics.accuracy(y, logits),
            "confusion_matrix": mg.metrics.confusion_matrix(y, logits, num_classes=10)}


def format_confusion(cm: np.ndarray, names: Sequence[str]) -> str:
    """The matrix as text: one row per true class, one column per predicted class."""
    short = [n[:7] for n in names]
    width = max(6, max(len(s) for s in short), len(str(cm.max())))
    head = " " * 12 + " ".join(f"{s:>{width}}" for s in short)
    rows = [f"{names[i][:11]:<11} " + " ".join(f"{v:>{width}d}" for v in row)
            for i, row in enumerate(cm)]
    return "\n".join(["confusion matrix (rows: true class, columns: predicted)", head, *rows])


def cmd_train(args: argparse.Namespace) -> int:
    _select_backend(args)
    mg.manual_seed(args.seed)
    (xtr, ytr), (xte, yte) = load_data(args.dataset, args.data, args.limit,
                                       not args.no_download)
    mean, std = image_stats(xtr)
    model = build_model(args.model, args.init, mean, std)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    if args.schedule == "cosine":  # to 0 over every step of the run
        train_n = math.ceil(len(xtr) * (1.0 - args.validation_split))  # fit's split
        steps = args.epochs * -(-train_n // args.batch_size)
        optimizer.lr = mg.optim.schedules.CosineDecay(float(optimizer.lr), steps)
    print(f"minigrad {mg.__version__}: {args.model} on {args.dataset} ({len(xtr)} train / "
          f"{len(xte)} test images), {args.optimizer} lr={optimizer.lr:g}, batch "
          f"{args.batch_size}, backend {mg.backend.get_backend()}, "
          f"{mg.get_num_threads()} threads")
    os.makedirs(args.out, exist_ok=True)
    timer = _EpochTimer()
    callbacks = [timer, mg.train.CSVLogger(os.path.join(args.out, "history.csv"))]
    x: Any = xtr
    y: Any = ytr
    if args.augment:
        aug = [mg.data.RandomShift(2)]
        if args.dataset == "fashion-mnist":  # mirrored clothes are still clothes; digits are not
            aug.append(mg.data.RandomHorizontalFlip())
        x = mg.data.DataLoader(mg.data.TensorDataset(xtr, ytr), batch_size=args.batch_size,
                               shuffle=True, transform=mg.data.Compose(aug), seed=args.seed)
        y = None
    history = mg.train.fit(model, x, y, loss="cross_entropy", optimizer=optimizer,
                           epochs=args.epochs, batch_size=args.batch_size,
                           validation_split=args.validation_split, callbacks=callbacks,
                           verbose=args.verbose, seed=args.seed)
    report = test_report(model, xte, yte)
    print(f"test accuracy {report['test_accuracy']:.4f}  test loss {report['test_loss']:.4f}")
    print(format_confusion(report["confusion_matrix"], CLASS_NAMES[args.dataset]))
    config = {"model": args.model, "init": args.init, "dataset": args.dataset,
              "mean": mean, "std": std, "limit": args.limit or 0, "seed": args.seed,
              "optimizer": args.optimizer, "lr": float(optimizer.lr), "epochs": args.epochs,
              "batch_size": args.batch_size, "augment": bool(args.augment),
              "schedule": args.schedule}
    ckpt = os.path.join(args.out, "model.ckpt")
    mg.save({"format": CHECKPOINT_FORMAT, "config": config, "model": model.net.state_dict(),
             "optimizer": optimizer.state_dict(),
             "test_accuracy": report["test_accuracy"]}, ckpt)
    curves = history.plot(os.path.join(args.out, "curves.png"),
                          title=f"{args.model} on {args.dataset}")
    metrics = {"config": config, "backend": mg.backend.get_backend(),
               "threads": mg.get_num_threads(), "epoch_seconds": timer.seconds,
               "history": history.history, "test_accuracy": report["test_accuracy"],
               "test_loss": report["test_loss"],
               "confusion_matrix": report["confusion_matrix"].tolist()}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"wrote {ckpt}, {curves}, {os.path.join(args.out, 'metrics.json')}")
    return 0


def load_checkpoint(path: str) -> tuple[Standardized, dict]:
    """The model rebuilt from a CLI checkpoint, and the checkpoint's contents."""
    state = mg.load(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"evaluate: {path} is not a checkpoint written by "
                         "'python -m minigrad train' (no model config in it)")
    c = state["config"]
    model = build_model(c["model"], c["init"], c["mean"], c["std"])
    model.net.load_state_dict(state["model"])
    return model, state


def cmd_evaluate(args: argparse.Namespace) -> int:
    _select_backend(args)
    model, state = load_checkpoint(args.checkpoint)
    c = state["config"]
    _, (xte, yte) = load_data(c["dataset"], args.data, c["limit"] or None, not args.no_download)
    report = test_report(model, xte, yte)
    print(f"{c['model']} on {c['dataset']} ({len(xte)} test images): test accuracy "
          f"{report['test_accuracy']:.4f}  test loss {report['test_loss']:.4f} "
          f"(at save time: {state['test_accuracy']:.4f})")
    print(format_confusion(report["confusion_matrix"], CLASS_NAMES[c["dataset"]]))
    return 0


def _positive(kind: type):
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("c", "numba", "numpy"),
                   help="kernels to use (default: c if built, else numba, else numpy)")
    p.add_argument("--threads", type=_positive(int), help="threads of the C/Numba kernels")
    p.add_argument("--data", metavar="DIR",
                   help="folder with the dataset files (default: $MINIGRAD_DATA, the cache)")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of downloading a dataset that is not found")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m minigrad", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True,
                            metavar="{train,evaluate,search,doctor}")
    t = sub.add_parser("train", help="train a model on (Fashion-)MNIST")
    t.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    t.add_argument("--model", choices=MODELS, default="mlp")
    t.add_argument("--epochs", type=_positive(int), default=5)
    t.add_argument("--batch-size", type=_positive(int), default=128)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    t.add_argument("--lr", type=_positive(float),
                   help="learning rate (default: adam/rmsprop 1e-3, sgd/adagrad 1e-2)")
    t.add_argument("--momentum", type=float, default=0.0, help="for sgd and rmsprop")
    # Glorot: measured on the CNN, he_normal on every layer (the output one too) starts at
    # a loss near 3.5 and ends a 6.4k-image epoch 1.4 points of test accuracy lower
    t.add_argument("--init", default="glorot_uniform",
                   help="weight initializer, an mg.nn.init name (default glorot_uniform)")
    t.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate: constant, or cosine-decayed to 0 over the run")
    t.add_argument("--augment", action="store_true", help="random shifts (and flips for "
                   "fashion-mnist) of the training images")
    t.add_argument("--limit", type=_positive(int), help="use only the first N train and N "
                   "test images (quick runs)")
    t.add_argument("--validation-split", type=float, default=0.0,
                   help="hold out this last fraction of the training set")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs/latest", help="folder for checkpoint, curves, "
                   "metrics (default: runs/latest)")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    _common(t)
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint")
    e.add_argument("--checkpoint", required=True, help="DIR/model.ckpt written by train")
    _common(e)
    e.set_defaults(func=cmd_evaluate)
    cli_search.add_parser(sub, _common, _positive)
    sub.add_parser("doctor", help="backend, build, threads, kernel self-test, GEMM speed "
                   "(options: python -m minigrad doctor --help)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse exits with 2 on bad options)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["doctor"]:
        from .diagnostics import doctor
        return doctor.main(argv[1:])
    args = parser().parse_args(argv)
    if getattr(args, "command", None) == "train":
        try:
            mg.nn.init.get(args.init)
        except (ValueError, KeyError) as exc:
            parser().error(f"--init: {exc}")
    if args.command == "search":
        problem = cli_search.check(args)
        if problem:
            parser().error(problem)
        try:
            cli_search.parse_space(args.space)
        except ValueError as exc:
            parser().error(str(exc))
        args.func = cli_search.run
    try:
        return args.func(args)
    except mg.data.DatasetNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
