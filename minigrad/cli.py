"""The command line: ``python -m minigrad train | evaluate | search | doctor``.

train     loads (Fashion-)MNIST, trains an MLP / MLP-BN / CNN with a progress bar,
          prints test accuracy and the confusion matrix, and writes model.ckpt (at
          every epoch end, atomically: --resume continues from it), run.json (the
          run's status), curves.png, history.csv and metrics.json into --out.
evaluate  loads the model from a checkpoint (mg.load_model: architecture and weights)
          and reports its test accuracy on the same test samples; warns when the run
          that wrote it did not finish.
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
from minigrad.nn import Standardized
from minigrad import cli_checks, cli_search
from minigrad.cli_checks import (MODELS, OPTIMIZERS, RUN_FILES, RUN_SETTINGS, UsageError,
                                  adopt_run, check_out, require_keys)
from minigrad.model_io import model_from_state
from minigrad.train.runstate import (CHECKPOINT_FORMAT, RunCheckpoint, history_from_data,
                                     read_marker, restore_rng, resume_state, write_marker)


__all__ = ["build_model", "image_stats", "load_data", "main", "make_optimizer"]

LEGACY_FORMAT = "minigrad-cli-checkpoint/1"   # state dict + config, before save_model
CLASS_NAMES = {
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(i) for i in range(10)],
}


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


def _run_config(args: argparse.Namespace, mean: float, std: float) -> dict[str, Any]:
    config = {key: getattr(args, key) for key in RUN_SETTINGS}
    config.update(mean=mean, std=std, epochs=args.epochs, augment=bool(args.augment))
    return config


def _prepare_train(args: argparse.Namespace, leader: bool = True
                   ) -> tuple[Any, dict] | None:
    """Every check of `train` that needs no data; returns the resumed (model, extra).
    Only the leading rank judges --out (the others only read a checkpoint)."""
    try:
        mg.nn.init.get(args.init)
    except (ValueError, KeyError) as exc:
        raise UsageError(f"--init: {exc}") from None
    if leader:
        check_out(args.out, args.resume, args.overwrite)
    if not args.resume:
        args.epochs = args.epochs or 5
        return None
    path = os.path.join(args.out, "model.ckpt")
    try:
        model, extra = resume_state(path)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--resume: cannot continue from {path}: {exc}") from None
    config = require_keys(extra.get("config"), RUN_SETTINGS + ("epochs", "mean", "std"),
                          path)
    adopt_run(args, config, int(extra["epoch"]), args.out)
    return model, extra


def _training_input(args: argparse.Namespace, xtr: np.ndarray, ytr: np.ndarray
                    ) -> dict[str, Any]:
    """fit's data arguments. Augmented batches come from a DataLoader, which fit cannot
    split, so the CLI holds out fit's last fraction itself (same samples either way)."""
    if not args.augment:
        return {"x": xtr, "y": ytr, "validation_split": args.validation_split}
    n = math.ceil(len(xtr) * (1.0 - args.validation_split))  # fit's split
    aug = [mg.data.RandomShift(2)]
    if args.dataset == "fashion-mnist":  # mirrored clothes are still clothes; digits are not
        aug.append(mg.data.RandomHorizontalFlip())
    loader = mg.data.DataLoader(mg.data.TensorDataset(xtr[:n], ytr[:n]),
                                batch_size=args.batch_size, shuffle=True,
                                transform=mg.data.Compose(aug), seed=args.seed)
    return {"x": loader, "y": None,
            "validation_data": (xtr[n:], ytr[n:]) if n < len(xtr) else None}


def _new_run(args: argparse.Namespace, xtr: np.ndarray) -> tuple[Any, Any, dict]:
    mean, std = image_stats(xtr)
    model = build_model(args.model, args.init, mean, std)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    if args.schedule == "cosine":  # to 0 over every step of the run
        train_n = math.ceil(len(xtr) * (1.0 - args.validation_split))  # fit's split
        steps = args.epochs * -(-train_n // args.batch_size)
        optimizer.lr = mg.optim.schedules.CosineDecay(float(optimizer.lr), steps)
    return model, optimizer, _run_config(args, mean, std)


def _start_files(args: argparse.Namespace, done: int, history: Any) -> None:
    """Clear an overwritten run's files (on resume, the results of the finished part an
    extended run replaces), mark the run as running and, on resume, write history.csv
    from the checkpoint (a killed run may have logged a later epoch)."""
    os.makedirs(args.out, exist_ok=True)
    stale = RUN_FILES if args.overwrite else ("metrics.json", "curves.png")
    for name in stale:
        if os.path.exists(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    write_marker(args.out, "running", done, args.epochs)
    if history is not None:
        logger = mg.train.CSVLogger(os.path.join(args.out, "history.csv"))
        logger.on_train_begin()
        for i, epoch in enumerate(history.epoch):
            logger.on_epoch_end(epoch, {k: v[i] for k, v in history.history.items()})
        logger.on_train_end()


def _join_group(args: argparse.Namespace) -> bool:
    """With --data-parallel, join the MPI group (mpiexec started every rank); returns
    whether this process leads: writes the run's files and prints the report."""
    if not args.data_parallel:
        return True
    try:
        mg.distributed.init()
    except ImportError as exc:
        raise UsageError(f"--data-parallel: {exc}") from None
    return mg.distributed.rank() == 0


def cmd_train(args: argparse.Namespace) -> int:
    leader = _join_group(args)
    resumed = _prepare_train(args, leader)
    if args.data_parallel:
        mg.distributed.barrier()  # every rank has read the checkpoint before any write
    _select_backend(args)
    mg.manual_seed(args.seed)
    (xtr, ytr), (xte, yte) = load_data(args.dataset, args.data, args.limit,
                                       not args.no_download)
    history, done = None, 0
    if resumed is None:
        model, optimizer, config = _new_run(args, xtr)
    else:
        model, extra = resumed
        optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
        optimizer.load_state_dict(extra["optimizer"])   # with its schedule and step count
        config, done = {**extra["config"], "epochs": args.epochs}, int(extra["epoch"])
        history = history_from_data(extra.get("history", {}))
    print(f"minigrad {mg.__version__}: {args.model} on {args.dataset} ({len(xtr)} train / "
          f"{len(xte)} test images), {args.optimizer} lr={optimizer.lr:g}, batch "
          f"{args.batch_size}, backend {mg.backend.get_backend()}, "
          f"{mg.get_num_threads()} threads" + (f", resuming after epoch {done}" if done else ""))
    timer = _EpochTimer()
    checkpoint = RunCheckpoint(args.out, config, args.epochs, history)
    callbacks = [timer, checkpoint, mg.train.CSVLogger(os.path.join(args.out, "history.csv"),
                                                       append=resumed is not None)]
    if leader:
        _start_files(args, done, history)
    else:  # the other ranks train their shards and write nothing
        callbacks = []
    data = _training_input(args, xtr, ytr)
    if resumed is not None:
        restore_rng(resumed[1]["rng"])   # last: rebuilding the model drew from it
    try:
        mg.train.fit(model, **data, loss="cross_entropy", optimizer=optimizer,
                     epochs=args.epochs, batch_size=args.batch_size, callbacks=callbacks,
                     verbose=args.verbose, seed=args.seed, initial_epoch=done)
    except KeyboardInterrupt:
        saved = len(checkpoint.history.epoch)
        print(f"\ninterrupted; {saved} of {args.epochs} epochs are saved in "
              f"{checkpoint.path}. Continue with: python -m minigrad train --out {args.out} "
              "--resume", file=sys.stderr)
        return 130
    if not leader:
        return 0
    return _finish_run(args, model, checkpoint, timer, xte, yte)


def _finish_run(args: argparse.Namespace, model: Any, checkpoint: RunCheckpoint,
                timer: _EpochTimer, xte: np.ndarray, yte: np.ndarray) -> int:
    report = test_report(model, xte, yte)
    print(f"test accuracy {report['test_accuracy']:.4f}  test loss {report['test_loss']:.4f}")
    print(mg.metrics.format_confusion(report["confusion_matrix"], CLASS_NAMES[args.dataset]))
    checkpoint.save(args.epochs, test_accuracy=report["test_accuracy"])
    history = checkpoint.history
    curves = history.plot(os.path.join(args.out, "curves.png"),
                          title=f"{args.model} on {args.dataset}")
    metrics = {"config": checkpoint.config, "backend": mg.backend.get_backend(),
               "threads": mg.get_num_threads(), "epoch_seconds": timer.seconds,
               "history": history.history, "test_accuracy": report["test_accuracy"],
               "test_loss": report["test_loss"],
               "confusion_matrix": report["confusion_matrix"].tolist()}
    text = json.dumps(metrics, indent=1).encode("utf-8")
    mg.serialization.atomic_write(os.path.join(args.out, "metrics.json"), [text])
    write_marker(args.out, "complete", args.epochs, args.epochs)
    print(f"wrote {checkpoint.path}, {curves}, {os.path.join(args.out, 'metrics.json')}")
    return 0


def load_checkpoint(path: str) -> tuple[nn.Module, dict]:
    """The model of a `train` checkpoint and ``{"config", "epoch", "epochs",
    "test_accuracy"}`` (epoch counts None for a checkpoint of the older format).
    Raises UsageError for a missing, foreign or corrupted file or a config missing a key."""
    if not os.path.isfile(path):
        raise UsageError(f"--checkpoint {path}: " + ("is a folder; name the model.ckpt in it"
                                                     if os.path.isdir(path) else "no such file"))
    try:
        state = mg.load(path)
        if isinstance(state, dict) and state.get("format") == LEGACY_FORMAT:
            c = require_keys(state.get("config"), ("model", "init", "mean", "std", "dataset",
                                                   "limit"), path)
            model = build_model(c["model"], c["init"], c["mean"], c["std"])
            model.net.load_state_dict(state["model"])
            return model, {"config": c, "epoch": None, "epochs": None,
                           "test_accuracy": state.get("test_accuracy")}
        model, extra = model_from_state(state, path)
    except (ValueError, OSError, KeyError) as exc:
        raise UsageError(f"--checkpoint {path}: {exc}") from None
    if extra.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"--checkpoint {path}: a saved model, but not one written by "
                         "'python -m minigrad train' (it has no dataset config)")
    config = require_keys(extra.get("config"), ("dataset", "limit"), path)
    return model, {"config": config, "epoch": extra.get("epoch"),
                   "epochs": extra.get("epochs"), "test_accuracy": extra.get("test_accuracy")}


def _warn_if_incomplete(path: str, info: dict) -> None:
    marker = read_marker(os.path.dirname(os.path.abspath(path))) or {}
    done, total = info["epoch"], info["epochs"]
    if marker.get("status", "complete") != "complete" or (done is not None and done < total):
        print(f"warning: the run that wrote {path} did not finish (checkpoint of epoch "
              f"{done} of {total}, run status {marker.get('status', 'unknown')!r}); these are "
              "the weights at that epoch, not a finished model. Continue it with: python -m "
              f"minigrad train --out {os.path.dirname(path) or '.'} --resume", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, info = load_checkpoint(args.checkpoint)
    _warn_if_incomplete(args.checkpoint, info)
    _select_backend(args)
    c = info["config"]
    _, (xte, yte) = load_data(c["dataset"], args.data, c["limit"] or None, not args.no_download)
    report = test_report(model, xte, yte)
    saved = info["test_accuracy"]
    print(f"{type(model).__name__ if 'model' not in c else c['model']} on {c['dataset']} "
          f"({len(xte)} test images): test accuracy {report['test_accuracy']:.4f}  test loss "
          f"{report['test_loss']:.4f}" + ("" if saved is None else
                                          f" (at save time: {saved:.4f})"))
    print(mg.metrics.format_confusion(report["confusion_matrix"], CLASS_NAMES[c["dataset"]]))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m minigrad``."""
    return cli_checks.parser(__doc__.split("\n")[0])


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code. A bad option or a file it names exits
    with argparse's ``error: ...`` and code 2 before any data loads."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["doctor"]:
        from .diagnostics import doctor
        return doctor.main(argv[1:])
    ap = parser()
    args = ap.parse_args(argv)
    try:
        if args.command == "search":
            cli_search.check(args)
            return cli_search.run(args)
        return {"train": cmd_train, "evaluate": cmd_evaluate}[args.command](args)
    except UsageError as exc:
        ap.error(str(exc))
    except (mg.data.DatasetNotFoundError, mg.data.ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
