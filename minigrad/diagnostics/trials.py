"""Running the trials of a search: in this process, on a concurrent.futures executor or
on Dask, with every finished trial streamed to a JSONL file that a rerun resumes from.

A trial is a plain function call, ``run_trial(train_fn, params, seed, metric)``, so any
executor can run it: it seeds minigrad, times the call and turns an exception or a
non-finite score into a record with status "failed" instead of an error that would
end the search. Dask is imported only when asked for (``executor="local"``, a
``tcp://`` address or a Client), never by ``import minigrad``.
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
import traceback
from typing import Any, Callable, Iterator

from ..backend import set_num_threads
from ..random import manual_seed

DASK_HINT = "pip install 'minigrad[distributed]' (or: pip install 'dask[distributed]')"


def run_trial(train_fn: Callable[[dict], Any], params: dict, seed: int,
              metric: str | None, single_thread: bool) -> dict:
    """One trial, wherever it runs: seeded, timed, its failure recorded, never raised."""
    if single_thread:  # workers share the cores: one kernel thread each
        set_num_threads(1)
    manual_seed(seed)
    start = time.perf_counter()
    record = {"params": params, "seed": seed, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        result = train_fn(params)
    except Exception as exc:  # a trial's bug or divergence must not end the search
        record.update(score=float("nan"), status="failed", result=None,
                      error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8),
                      wall_s=time.perf_counter() - start)
        return record
    score = score_of(result, metric)  # a wrong metric= is the caller's error: raised
    record.update(score=score, result=_jsonable(result), wall_s=time.perf_counter() - start,
                  status="ok" if math.isfinite(score) else "failed")
    if not math.isfinite(score):
        record["error"] = f"score is {score} (diverged)"
    return record


def score_of(result: Any, metric: str | None) -> float:
    """The number a trial is ranked by: ``result`` itself, or ``result[metric]`` (the
    last value when it is a per-epoch list)."""
    if isinstance(result, dict):
        if metric is None or metric not in result:
            raise ValueError(f"random_search: train_fn returned a dict with keys "
                             f"{sorted(result)}; pass metric= naming the score")
        result = result[metric]
        if isinstance(result, (list, tuple)):
            result = result[-1]
    return float(result)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=True)
        return value
    except TypeError:
        return repr(value)


# ----- the results file ---------------------------------------------------------------
def read_results(path: str) -> list[dict]:
    """The records of a JSONL results file (a torn last line, from a killed run, is
    skipped). Raises ValueError naming the line for anything else that is not JSON."""
    records = []
    if not os.path.exists(path):
        return records
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i >= len(lines) - 1:  # the last line, cut by a kill mid-write
                break
            raise ValueError(f"random_search: {path} line {i} is not JSON ({exc})") from None
    return records


def append_result(path: str, record: dict) -> None:
    """One line per finished trial, flushed to disk before the next trial is counted."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, allow_nan=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def finished(path: str | None, planned: list[dict]) -> dict[int, dict]:
    """Trials of ``planned`` already in the file, by index. A record whose params or
    seed differ from the plan means another search wrote the file: an error."""
    done: dict[int, dict] = {}
    for rec in read_results(path) if path else []:
        i = rec.get("trial")
        if not isinstance(i, int) or not 0 <= i < len(planned):
            continue
        if rec.get("params") != planned[i]["params"] or rec.get("seed") != planned[i]["seed"]:
            raise ValueError(f"random_search: {path} holds trial {i} with other settings "
                             f"({rec.get('params')}, seed {rec.get('seed')}) than this search "
                             f"({planned[i]['params']}, seed {planned[i]['seed']}); use another "
                             "results file or the same space and seed")
        done[i] = rec
    return done


# ----- executors ------------------------------------------------------------------------
def open_executor(executor: Any, timeout: float = 10.0) -> tuple[Any, Callable[[], None]]:
    """(executor, close): "local" starts a Dask LocalCluster with one single-threaded
    worker process per core; "tcp://host:port" connects to a running scheduler; any
    other object (a concurrent.futures executor, a dask Client) is used as it is."""
    if not isinstance(executor, str):
        return executor, lambda: None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError(f"random_search: executor={executor!r} needs Dask: {DASK_HINT}"
                          ) from exc
    if executor == "local":
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
        return client, lambda: (client.close(), cluster.close())
    if executor.startswith("tcp://"):
        try:
            client = Client(executor, timeout=timeout)
        except OSError as exc:
            raise ConnectionError(f"random_search: no Dask scheduler answered at {executor} "
                                  f"within {timeout:g} s ({exc}); start one with "
                                  "'dask scheduler' and 'dask worker ADDRESS'") from None
        return client, client.close
    raise ValueError(f"random_search: executor must be None, 'local', 'tcp://host:port', a "
                     f"concurrent.futures executor or a dask Client, got {executor!r}")


def as_completed(executor: Any, futures: list) -> Iterator[Any]:
    """Futures in the order they finish, for Dask or concurrent.futures."""
    if type(executor).__module__.startswith("distributed"):
        from dask.distributed import as_completed as dask_completed
        return iter(dask_completed(futures))
    from concurrent.futures import as_completed as cf_completed
    return cf_completed(futures)


def run_all(planned: list[dict], train_fn: Callable, metric: str | None, executor: Any,
            results: str | None, on_record: Callable[[dict], None]) -> list[dict]:
    """Run every planned trial not yet in ``results``; each finished record is appended
    to the file and passed to ``on_record`` (a progress bar) as it arrives."""
    done = finished(results, planned)
    records = [done[i] for i in sorted(done)]
    todo = [p for p in planned if p["trial"] not in done]

    def keep(rec: dict, plan: dict) -> None:
        rec = {"trial": plan["trial"], **rec}
        if results:
            append_result(results, rec)
        records.append(rec)
        on_record(rec)

    if executor is None:
        for plan in todo:
            keep(run_trial(train_fn, plan["params"], plan["seed"], metric, False), plan)
        return records
    pool, close = open_executor(executor)
    try:
        futures = {}
        for plan in todo:
            fut = pool.submit(run_trial, train_fn, plan["params"], plan["seed"], metric, True,
                              **({"pure": False} if hasattr(pool, "gather") else {}))
            futures[fut] = plan
        for fut in as_completed(pool, list(futures)):
            plan = futures[fut]
            try:
                rec = fut.result()
            except ValueError:  # the search is misconfigured (metric=): stop it
                raise
            except Exception as exc:  # e.g. Dask's KilledWorker after its retries
                rec = {"params": plan["params"], "seed": plan["seed"], "score": float("nan"),
                       "status": "failed", "result": None, "worker": None, "wall_s": None,
                       "error": f"{type(exc).__name__}: {exc}"}
            keep(rec, plan)
    finally:
        close()
    return records
