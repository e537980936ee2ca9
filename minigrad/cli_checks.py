"""The command line's options and their checks, run before any data loads.

Each failure is a ``UsageError`` that ``minigrad.cli.main`` reports as argparse does:
``error: ...`` on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import math
import os
from typing import Any, Callable

from . import cli_search

__all__ = ["RUN_FILES", "RUN_SETTINGS", "UsageError", "adopt_run", "check_out", "number",
           "parser", "parser_defaults", "require_keys"]

MODELS = ("mlp", "mlp-bn", "cnn")
DATASETS = ("fashion-mnist", "mnist")
OPTIMIZERS = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3, "adagrad": 1e-2}  # default lr
# What `train` writes into --out; another run's copies of these are never mixed in.
RUN_FILES = ("model.ckpt", "run.json", "history.csv", "metrics.json", "curves.png")


class UsageError(Exception):
    """A command-line argument (or a file it names) that cannot be used."""


def number(kind: type, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` for a finite int/float in the given range (nan and inf
    are refused: ``nan <= 0`` is False, so a plain comparison would let them in)."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if (low is not None and (value <= low if low_open else value < low)) or (
                high is not None and (value >= high if high_open else value > high)):
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            span = f"{left}{'-inf' if low is None else low}, " \
                   f"{'inf' if high is None else high}{right}"
            raise argparse.ArgumentTypeError(f"must be in {span}, got {text}")
        return value
    return parse


def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_out(out: str, resume: bool, overwrite: bool) -> None:
    """--out must be (or become) a writable folder; one holding another run's files is
    refused unless --resume continues that run or --overwrite replaces it."""
    if resume and overwrite:
        raise UsageError("--resume and --overwrite exclude each other: continue the run "
                         f"in {out}, or start it over")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file; it must name a folder")
    base = _nearest_existing(out)
    if not os.path.isdir(base):
        raise UsageError(f"--out {out}: {base} is a file, so the folder cannot be created")
    if not os.access(base, os.W_OK):
        raise UsageError(f"--out {out}: {base} is not writable")
    present = [n for n in RUN_FILES if os.path.exists(os.path.join(out, n))]
    if resume and "model.ckpt" not in present:
        raise UsageError(f"--resume: {out} has no checkpoint model.ckpt to continue from")
    if present and not (resume or overwrite):
        raise UsageError(f"--out {out} holds another run's files ({', '.join(present)}); "
                         "pass --resume to continue that run or --overwrite to replace it")


def require_keys(config: Any, keys: tuple[str, ...], path: str) -> dict:
    """``config`` if it is a dict holding every key; else UsageError naming the first
    missing one."""
    if not isinstance(config, dict):
        raise UsageError(f"--checkpoint {path}: it holds no run config")
    for key in keys:
        if key not in config:
            raise UsageError(f"--checkpoint {path}: its config lacks the key {key!r} "
                             "(written by another minigrad version, or edited)")
    return config


# settings a run keeps: --resume takes them from the checkpoint
RUN_SETTINGS = ("dataset", "model", "init", "limit", "seed", "optimizer", "lr", "momentum",
                "batch_size", "augment", "schedule", "validation_split")


def adopt_run(args: argparse.Namespace, config: dict, done: int, out: str) -> None:
    """Take a resumed run's settings; a differing one given on the command line is an
    error (silently training on with other settings would mix two runs)."""
    defaults = parser_defaults()
    for key in RUN_SETTINGS:
        given = getattr(args, key)
        if given != defaults[key] and given != config.get(key):
            raise UsageError(f"--resume continues the run in {out} with its own settings: "
                             f"--{key.replace('_', '-')} {given} differs from the run's "
                             f"{config.get(key)}")
        setattr(args, key, config.get(key, defaults[key]))
    args.epochs = args.epochs or config["epochs"]
    if args.epochs <= done:
        raise UsageError(f"--resume: the run in {out} has done {done} of {args.epochs} "
                         f"epochs already; pass --epochs N with N > {done} to train on")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("c", "numba", "numpy"),
                   help="kernels to use (default: c if built, else numba, else numpy)")
    p.add_argument("--threads", type=number(int, low=1), help="threads of the C/Numba kernels")
    p.add_argument("--data", metavar="DIR",
                   help="folder with the dataset files (default: $MINIGRAD_DATA, the cache)")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of downloading a dataset that is not found")


def _train_parser(t: argparse.ArgumentParser) -> None:
    t.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    t.add_argument("--model", choices=MODELS, default="mlp")
    t.add_argument("--epochs", type=number(int, low=1), help="epochs of the run (default 5; "
                   "with --resume, the run's own, or more to extend it)")
    t.add_argument("--batch-size", type=number(int, low=1), default=128)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    t.add_argument("--lr", type=number(float, low=0, low_open=True),
                   help="learning rate (default: adam/rmsprop 1e-3, sgd/adagrad 1e-2)")
    t.add_argument("--momentum", type=number(float, low=0), default=0.0,
                   help="for sgd and rmsprop (>= 0)")
    # Glorot: measured on the CNN, he_normal on every layer (the output one too) starts at
    # a loss near 3.5 and ends a 6.4k-image epoch 1.4 points of test accuracy lower
    t.add_argument("--init", default="glorot_uniform",
                   help="weight initializer, an mg.nn.init name (default glorot_uniform)")
    t.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate: constant, or cosine-decayed to 0 over the run")
    t.add_argument("--augment", action="store_true", help="random shifts (and flips for "
                   "fashion-mnist) of the training images")
    t.add_argument("--limit", type=number(int, low=1), help="use only the first N train and "
                   "N test images (quick runs)")
    t.add_argument("--validation-split", type=number(float, low=0, high=1, high_open=True),
                   default=0.0, help="hold out this last fraction of the training set")
    t.add_argument("--seed", type=number(int, low=0), default=0)
    t.add_argument("--out", default="runs/latest", help="folder for checkpoint, curves, "
                   "metrics (default: runs/latest)")
    t.add_argument("--resume", action="store_true", help="continue the stopped run in --out "
                   "from its last epoch's checkpoint, with its settings")
    t.add_argument("--overwrite", action="store_true", help="replace the files of another "
                   "run in --out (otherwise refused)")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    t.add_argument("--data-parallel", action="store_true",
                   help="under mpiexec -n K: each rank trains a 1/K shard of every batch "
                        "(mg.distributed; needs minigrad[distributed])")
    _common(t)


def parser(description: str = "") -> argparse.ArgumentParser:
    """The command line's parser; ``command`` names the sub-command."""
    ap = argparse.ArgumentParser(prog="python -m minigrad", description=description)
    sub = ap.add_subparsers(dest="command", required=True,
                            metavar="{train,evaluate,search,doctor}")
    _train_parser(sub.add_parser("train", help="train a model on (Fashion-)MNIST"))
    e = sub.add_parser("evaluate", help="test accuracy of a saved checkpoint")
    e.add_argument("--checkpoint", required=True, help="DIR/model.ckpt written by train")
    _common(e)
    cli_search.add_parser(sub, _common, number)
    sub.add_parser("doctor", help="backend, build, threads, kernel self-test, GEMM speed "
                   "(options: python -m minigrad doctor --help)")
    return ap


def parser_defaults() -> dict[str, Any]:
    """The `train` options' defaults, by destination name."""
    t = argparse.ArgumentParser()
    _train_parser(t)
    return {a.dest: a.default for a in t._actions}


