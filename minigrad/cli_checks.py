"""Checks of the command line's arguments, run before any data loads.

Each failure is a ``UsageError`` that ``minigrad.cli.main`` reports as argparse does:
``error: ...`` on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import math
import os
from typing import Any, Callable

__all__ = ["RUN_FILES", "UsageError", "check_out", "number", "require_keys"]

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
