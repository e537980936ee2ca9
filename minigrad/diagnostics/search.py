"""Random hyperparameter search (Bergstra & Bengio 2012) with uniform, integer, choice
and log-scale ranges, results as a sorted table, and coarse-to-fine refinement; the
trials run here or on an executor (Dask, concurrent.futures): see trials.py."""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Sequence

import numpy as np

from .trials import read_results, run_all


class Spec:
    """A range to draw one hyperparameter from: ``sample(rng)`` and ``narrow(values,
    margin)`` (the smallest range of the same kind holding ``values``, widened by
    ``margin`` of its span on each side, clipped to this range)."""

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def narrow(self, values: Sequence[Any], margin: float) -> "Spec":
        raise NotImplementedError


class _Scaled(Spec):
    """A float range drawn uniformly in a transformed coordinate u = to_u(value)."""

    def __init__(self, low: float, high: float):
        name = type(self).__name__
        if not low < high:
            raise ValueError(f"{name}: need low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)
        self._check()

    def _check(self) -> None: ...
    def to_u(self, v: float) -> float: return v
    def from_u(self, u: float) -> float: return u

    def sample(self, rng: np.random.Generator) -> float:
        lo, hi = sorted((self.to_u(self.low), self.to_u(self.high)))  # to_u may decrease
        return float(self.from_u(rng.uniform(lo, hi)))

    def narrow(self, values: Sequence[float], margin: float) -> "_Scaled":
        us = [self.to_u(v) for v in values]
        lo, hi = min(us), max(us)
        pad = margin * (hi - lo) if hi > lo else margin * abs(self.to_u(self.high)
                                                               - self.to_u(self.low))
        bounds = sorted((self.to_u(self.low), self.to_u(self.high)))
        lo, hi = max(lo - pad, bounds[0]), min(hi + pad, bounds[1])
        a, b = sorted((self.from_u(lo), self.from_u(hi)))
        return type(self)(a, b)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low:g}, {self.high:g})"

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and (self.low, self.high) == (other.low, other.high)


class Uniform(_Scaled):
    """A float drawn uniformly in [low, high]."""


class LogUniform(_Scaled):
    """10^U(log10 low, log10 high): as likely in [1e-5, 1e-4] as in [0.1, 1]
    (learning rates, weight decay). LogUniform(1e-5, 1) is lr = 10^U(-5, 0)."""

    def _check(self) -> None:
        if self.low <= 0:
            raise ValueError(f"LogUniform: low must be > 0, got {self.low}")

    def to_u(self, v: float) -> float: return math.log10(v)
    def from_u(self, u: float) -> float: return 10.0 ** u


class OneMinusLogUniform(_Scaled):
    """1 - 10^U(log10(1 - high), log10(1 - low)), for values close to 1 such as
    momentum or Adam's beta: OneMinusLogUniform(0.9, 0.9999) is 1 - 10^U(-4, -1), as
    likely in [0.9, 0.99] as in [0.999, 0.9999]."""

    def _check(self) -> None:
        if self.high >= 1:
            raise ValueError(f"OneMinusLogUniform: high must be < 1, got {self.high}")

    def to_u(self, v: float) -> float: return math.log10(1.0 - v)
    def from_u(self, u: float) -> float: return 1.0 - 10.0 ** u


class IntUniform(Spec):
    """An int drawn uniformly in [low, high], both included (layer widths, depth)."""

    def __init__(self, low: int, high: int):
        if int(low) != low or int(high) != high or low > high:
            raise ValueError(f"IntUniform: need ints low <= high, got {low}, {high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def narrow(self, values: Sequence[int], margin: float) -> "IntUniform":
        lo, hi = min(values), max(values)
        pad = int(math.ceil(margin * (hi - lo)))
        return IntUniform(max(lo - pad, self.low), min(hi + pad, self.high))

    def __repr__(self) -> str:
        return f"IntUniform({self.low}, {self.high})"

    def __eq__(self, other: Any) -> bool:
        return type(other) is IntUniform and (self.low, self.high) == (other.low, other.high)


class Choice(Spec):
    """One of a list of options, each equally likely (activation, optimizer name)."""

    def __init__(self, options: Sequence[Any]):
        self.options = list(options)
        if not self.options:
            raise ValueError("Choice: needs at least one option, got none")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def narrow(self, values: Sequence[Any], margin: float) -> "Choice":
        return Choice([o for o in self.options if any(o == v for v in values)])

    def __repr__(self) -> str:
        return f"Choice({self.options!r})"

    def __eq__(self, other: Any) -> bool:
        return type(other) is Choice and self.options == other.options


def uniform(low: float, high: float) -> Uniform: return Uniform(low, high)
def log_uniform(low: float, high: float) -> LogUniform: return LogUniform(low, high)
def integer(low: int, high: int) -> IntUniform: return IntUniform(low, high)
def choice(options: Sequence[Any]) -> Choice: return Choice(options)


def one_minus_log_uniform(low: float, high: float) -> OneMinusLogUniform:
    return OneMinusLogUniform(low, high)


class SearchResults(list):
    """Trials sorted best first; each a dict {"trial", "params", "score", "result"}.
    ``best`` is the first, ``table()`` the text table."""

    def __init__(self, trials: list[dict], mode: str):
        key = (lambda t: (_bad(t["score"]), t["score"] if mode == "min" else -t["score"]))
        super().__init__(sorted(trials, key=key))
        self.mode = mode

    @property
    def best(self) -> dict:
        return self[0]

    def table(self, top: int | None = None) -> str:
        names = list(self[0]["params"]) if self else []
        cols = ["rank", "trial", "score"] + names
        rows = [[str(r + 1), str(t["trial"]), _fmt(t["score"])]
                + [_fmt(t["params"][n]) for n in names]
                for r, t in enumerate(self[:top] if top else self)]
        widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c)
                  for i, c in enumerate(cols)]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa
        return "\n".join([line(cols), "-" * (sum(widths) + 2 * len(cols) - 2)]
                         + [line(r) for r in rows])

    def __str__(self) -> str:
        return self.table()


def random_search(space: dict[str, Any], train_fn: Callable[..., Any], trials: int,
                  seed: int | None = 0, mode: str = "min", metric: str | None = None, *,
                  executor: Any = None, results: str | None = None,
                  progress: bool = False) -> SearchResults:
    """Draw ``trials`` settings from ``space`` and score each with ``train_fn``.

    space: name -> Spec (uniform, integer, choice, log_uniform, one_minus_log_uniform)
    or a constant passed as it is. train_fn(params: dict) returns a number, or a dict
    (e.g. a History's last values) from which ``metric`` is read. mode "min" ranks
    low scores first (losses), "max" high ones (accuracy). The draws depend only on
    ``seed`` (repeatable); trial i runs under its own seed (``manual_seed``), drawn
    from ``seed`` too, wherever it runs.

    executor: None runs the trials here, one after another; a concurrent.futures
    executor or a ``dask.distributed.Client`` runs them there, "local" on a Dask
    LocalCluster (one single-threaded worker process per core), "tcp://host:port" on
    a running Dask scheduler. Off this process each trial uses one kernel thread.
    results: a JSONL file; every finished trial is appended (params, seed, score,
    status, wall time, worker) and a rerun with the same file runs only the trials it
    lacks. A trial that raises or scores NaN/inf is recorded with status "failed" and
    ranks last; the search goes on.
    Raises ValueError for a bad mode/trials or a results file from another search.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"random_search: mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"random_search: trials must be an int >= 1, got {trials!r}")
    rng = np.random.default_rng(seed)
    planned = []
    for i in range(trials):
        params = {k: (v.sample(rng) if isinstance(v, Spec) else v) for k, v in space.items()}
        planned.append({"trial": i, "params": params})
    for plan, s in zip(planned, np.random.SeedSequence(seed).generate_state(trials)):
        plan["seed"] = int(s)
    bar = _progress(trials, progress)
    try:
        records = run_all(planned, train_fn, metric, executor, results, bar)
    finally:
        bar.close()
    return SearchResults(records, mode)


def load_results(path: str, mode: str = "min") -> SearchResults:
    """The trials recorded in a results file, ranked (for ``refine`` or a table)."""
    records = read_results(path)
    if not records:
        raise ValueError(f"load_results: {path} holds no trials")
    return SearchResults(records, mode)


class _progress:
    """A tqdm bar over finished trials (off unless asked for), the best score so far."""

    def __init__(self, total: int, on: bool):
        self.bar = None
        if on:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, desc="trials", unit="trial")

    def __call__(self, rec: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix(last=_fmt(float(rec["score"])), status=rec["status"])
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def refine(results: SearchResults | str, top_k: int = 5, margin: float = 0.25,
           space: dict[str, Any] | None = None, mode: str = "min") -> dict[str, Any]:
    """Coarse-to-fine: a narrower space around the ``top_k`` best trials.

    Each numeric range becomes the smallest range (in its own scale: log for
    LogUniform) holding the top trials' values, widened by ``margin`` of its span and
    kept inside the old range; a Choice keeps the options the top trials used.
    ``space`` is the space searched (needed for the kinds of range); without it the
    ranges are inferred as Uniform/IntUniform/Choice from the values. ``results`` may
    be the path of a results file (ranked with ``mode``).
    """
    if isinstance(results, (str, os.PathLike)):
        results = load_results(os.fspath(results), mode)
    if not results:
        raise ValueError("refine: no results to refine")
    if top_k < 1:
        raise ValueError(f"refine: top_k must be >= 1, got {top_k}")
    top = [t for t in results[:top_k] if not _bad(t["score"])] or list(results[:1])
    new: dict[str, Any] = {}
    for name in results[0]["params"]:
        values = [t["params"][name] for t in top]
        spec = (space or {}).get(name)
        if spec is None:
            spec = _inferred([t["params"][name] for t in results])
        new[name] = spec.narrow(values, margin) if isinstance(spec, Spec) else spec
    return new


def _inferred(values: list[Any]) -> Any:
    if all(isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in values):
        return Choice(list(dict.fromkeys(values))) if len(set(map(repr, values))) > 1 \
            else values[0]
    lo, hi = min(values), max(values)
    if lo == hi:
        return lo
    if all(isinstance(v, (int, np.integer)) for v in values):
        return IntUniform(int(lo), int(hi))
    if lo > 0 and hi / lo >= 100:  # values spread over decades were drawn on a log scale
        return LogUniform(float(lo), float(hi))
    return Uniform(float(lo), float(hi))


def _bad(score: float) -> bool:
    return not math.isfinite(score)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.3e}"
    return str(v)
