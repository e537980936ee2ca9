"""``python -m minigrad search``: random search over the CLI's models, in this process,
on a Dask LocalCluster or on a running Dask scheduler.

    python -m minigrad search --space space.json --trials 50 --scheduler local \\
        --results runs/search.jsonl

space.json maps a hyperparameter to a constant or to a range:
    {"lr": {"log_uniform": [1e-4, 1e-1]}, "batch_size": {"choice": [64, 128, 256]},
     "momentum": {"one_minus_log_uniform": [0.5, 0.99]}, "optimizer": "sgd",
     "model": "mlp", "epochs": 2}
Every trial trains with fit on the first --limit training images, holds out the last
--validation-split of them, and is scored by its last val_accuracy (higher is better).
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
from typing import Any

from .diagnostics import search as S

SPECS = {"uniform": S.Uniform, "log_uniform": S.LogUniform, "integer": S.IntUniform,
         "one_minus_log_uniform": S.OneMinusLogUniform, "choice": S.Choice}
TUNABLE = {"lr", "batch_size", "momentum", "optimizer", "model", "epochs", "init",
           "weight_decay"}


def parse_space(path: str) -> dict[str, Any]:
    """The search space of a JSON file; ValueError naming the key for anything else."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"--space {path}: cannot read it as JSON ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"--space {path}: expected a JSON object of hyperparameters")
    space = {}
    for name, value in raw.items():
        if name not in TUNABLE:
            raise ValueError(f"--space: unknown hyperparameter {name!r}; "
                             f"choose from {sorted(TUNABLE)}")
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in SPECS:
                raise ValueError(f"--space: {name} must be a constant or one of "
                                 f"{{{', '.join(SPECS)}: [...]}}, got {value}")
            kind, args = next(iter(value.items()))
            space[name] = SPECS[kind](args) if kind == "choice" else SPECS[kind](*args)
        else:
            space[name] = value
    return space


def train_trial(opts: dict, params: dict) -> dict:
    """One trial: the CLI's model and optimizer with ``params``; returns the History's
    last values. Runs on whichever worker the executor picks."""
    import minigrad as mg
    from .cli import build_model, image_stats, load_data, make_optimizer

    (x, y), _ = load_data(opts["dataset"], opts["data"], opts["limit"],
                          download=not opts["no_download"])
    mean, std = image_stats(x)
    model = build_model(params.get("model", "mlp"), params.get("init", "glorot_uniform"),
                        mean, std)
    opt = make_optimizer(params.get("optimizer", "adam"), model.parameters(),
                         params.get("lr"), params.get("momentum", 0.0))
    hist = mg.train.fit(model, x, y, loss="cross_entropy", optimizer=opt,
                        epochs=int(params.get("epochs", 1)),
                        batch_size=int(params.get("batch_size", 128)),
                        validation_split=opts["validation_split"], verbose=0)
    return {k: v[-1] for k, v in hist.history.items()}


def plot(results: S.SearchResults, space: dict[str, Any], path: str) -> None:
    """Score against each searched hyperparameter, log axes for log-scale ranges."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n, s in space.items() if isinstance(s, S.Spec)]
    ok = [t for t in results if math.isfinite(t["score"])]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4 * max(len(names), 1), 3.4),
                             squeeze=False)
    for ax, name in zip(axes[0], names):
        xs = [t["params"][name] for t in ok]
        ax.scatter(xs, [t["score"] for t in ok], s=18)
        if isinstance(space[name], (S.LogUniform, S.OneMinusLogUniform)):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("val_accuracy")
    fig.suptitle(f"{len(ok)} trials ({len(results) - len(ok)} failed); best "
                 f"{results.best['score']:.4f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def add_parser(sub: Any, common: Any, number: Any) -> None:
    """The ``search`` sub-command; ``common`` adds the shared options, ``number`` makes
    range-checked argument types (both from cli_checks)."""
    s = sub.add_parser("search", help="random search of hyperparameters (Dask optional)")
    s.add_argument("--space", required=True, help="JSON file: hyperparameter -> range")
    s.add_argument("--trials", type=number(int, low=1), default=20)
    s.add_argument("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
                   help="run the trials on a Dask LocalCluster or a running scheduler "
                        "(default: one after another in this process)")
    s.add_argument("--results", default="runs/search.jsonl",
                   help="JSONL file streamed as trials finish; a rerun resumes from it")
    s.add_argument("--dataset", choices=("fashion-mnist", "mnist"), default="fashion-mnist")
    s.add_argument("--limit", type=number(int, low=1), default=5000,
                   help="training images per trial (the first N)")
    s.add_argument("--validation-split", type=number(float, 0, 1, low_open=True, high_open=True),
                   default=0.2)
    s.add_argument("--seed", type=number(int, low=0), default=0)
    s.add_argument("--plot", help="PNG of score vs each hyperparameter "
                                  "(default: next to --results)")
    common(s)


def check(args: argparse.Namespace) -> None:
    """Raise UsageError for arguments that cannot work, before any data or cluster is
    touched."""
    from .cli_checks import UsageError
    if args.scheduler and args.scheduler != "local" and \
            not args.scheduler.startswith("tcp://"):
        raise UsageError(f"--scheduler must be 'local' or tcp://HOST:PORT, got "
                         f"{args.scheduler!r}")
    if os.path.isdir(args.results):
        raise UsageError(f"--results {args.results} is a folder; name a .jsonl file")
    try:
        parse_space(args.space)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    space = parse_space(args.space)
    opts = {"dataset": args.dataset, "data": args.data, "limit": args.limit,
            "no_download": args.no_download, "validation_split": args.validation_split}
    results = S.random_search(space, functools.partial(train_trial, opts), args.trials,
                              seed=args.seed, mode="max", metric="val_accuracy",
                              executor=args.scheduler, results=args.results, progress=True)
    print(results.table(top=10))
    best = results.best
    print(f"\nbest: val_accuracy {best['score']:.4f} with {json.dumps(best['params'])}")
    path = args.plot or os.path.splitext(args.results)[0] + ".png"
    plot(results, space, path)
    print(f"wrote {args.results} and {path}")
    return 0
