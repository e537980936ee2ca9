"""random_search on executors: Dask LocalCluster (8 trials, a worker killed mid-search),
concurrent.futures, a resumable results file, failed trials, bad addresses."""
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import minigrad as mg
from minigrad.diagnostics import log_uniform, random_search, refine
from minigrad.diagnostics.search import load_results

SPACE = {"lr": log_uniform(1e-4, 1e-1), "width": 8}


def quadratic(params):
    """A cheap objective that also uses minigrad's seeded generator."""
    noise = float(mg.random.get_rng().standard_normal()) * 1e-3
    return (np.log10(params["lr"]) + 2.0) ** 2 + noise


def slow_quadratic(params):
    time.sleep(0.8)
    return quadratic(params)


def nan_for_large_lr(params):
    if params["lr"] > 0.01:
        return float("nan")
    if params["lr"] < 3e-4:
        raise FloatingPointError("diverged")
    return quadratic(params)


def _lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_search_results_file_records_every_trial_and_resumes(tmp_path):
    path = str(tmp_path / "runs" / "search.jsonl")
    calls = []

    def counted(params):
        calls.append(params["lr"])
        return quadratic(params)

    first = random_search(SPACE, counted, trials=5, seed=3, results=path)
    assert len(calls) == 5 and len(_lines(path)) == 5
    full = random_search(SPACE, counted, trials=8, seed=3, results=path)
    assert len(calls) == 8, "only the 3 missing trials run again"
    recs = _lines(path)
    assert sorted(r["trial"] for r in recs) == list(range(8))
    assert {"params", "seed", "score", "status", "wall_s", "worker"} <= set(recs[0])
    assert [t["score"] for t in full if t["trial"] < 5] == \
        [t["score"] for t in sorted(first, key=lambda t: t["score"])]


def test_search_same_seed_gives_same_scores_on_any_executor(tmp_path):
    # processes, not threads: minigrad's generator (mg.manual_seed) is process-wide
    here = random_search(SPACE, quadratic, trials=6, seed=1)
    with ProcessPoolExecutor(2) as pool:
        there = random_search(SPACE, quadratic, trials=6, seed=1, executor=pool)
    assert [(t["trial"], t["score"]) for t in here] == [(t["trial"], t["score"]) for t in there]


def test_search_failed_and_nan_trials_are_recorded_and_ranked_last(tmp_path):
    path = str(tmp_path / "s.jsonl")
    res = random_search(SPACE, nan_for_large_lr, trials=20, seed=0, results=path)
    status = {t["trial"]: t["status"] for t in res}
    assert "failed" in status.values() and "ok" in status.values()
    failed = [t for t in res if t["status"] == "failed"]
    assert all(not np.isfinite(t["score"]) for t in failed)
    assert any("diverged" in t["error"] for t in failed)
    assert res[-1]["status"] == "failed" and res[0]["status"] == "ok"


def test_search_results_file_from_another_search_is_refused(tmp_path):
    path = str(tmp_path / "s.jsonl")
    random_search(SPACE, quadratic, trials=3, seed=0, results=path)
    with pytest.raises(ValueError, match="holds trial 0 with other settings"):
        random_search(SPACE, quadratic, trials=3, seed=1, results=path)


def test_search_refine_reads_the_results_file(tmp_path):
    path = str(tmp_path / "s.jsonl")
    random_search(SPACE, quadratic, trials=30, seed=0, results=path)
    fine = refine(path, top_k=5, space=SPACE)
    assert 1e-4 <= fine["lr"].low < 1e-2 < fine["lr"].high <= 1e-1 and fine["width"] == 8
    assert len(load_results(path)) == 30


def test_search_unreachable_scheduler_fails_fast_with_hint():
    pytest.importorskip("distributed")
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Dask scheduler answered at tcp://127.0.0.1:9"):
        random_search(SPACE, quadratic, trials=2, executor="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 60


def test_search_without_dask_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"minigrad\[distributed\]"):
        random_search(SPACE, quadratic, trials=2, executor="local")


def test_search_unknown_executor_string_is_refused():
    with pytest.raises(ValueError, match="executor must be"):
        random_search(SPACE, quadratic, trials=2, executor="cluster")


@pytest.fixture
def dask_client():
    distributed = pytest.importorskip("distributed")
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_search_local_dask_cluster_runs_8_trials(tmp_path, dask_client):
    path = str(tmp_path / "s.jsonl")
    res = random_search(SPACE, quadratic, trials=8, seed=2, executor=dask_client,
                        results=path)
    recs = _lines(path)
    assert len(res) == 8 and sorted(r["trial"] for r in recs) == list(range(8))
    assert all(r["status"] == "ok" for r in recs)
    assert len({r["worker"] for r in recs}) >= 1
    here = random_search(SPACE, quadratic, trials=8, seed=2)
    assert sorted(t["score"] for t in here) == sorted(t["score"] for t in res)


def test_search_killing_a_worker_costs_a_retry_not_the_search(tmp_path, dask_client):
    path = str(tmp_path / "s.jsonl")
    pids = list(dask_client.run(os.getpid).values())

    def kill_one_soon():
        time.sleep(1.5)  # trials take 0.8 s: this lands mid-trial
        os.kill(pids[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_one_soon)
    killer.start()
    res = random_search(SPACE, slow_quadratic, trials=8, seed=5, executor=dask_client,
                        results=path)
    killer.join()
    recs = _lines(path)
    assert len(res) == 8 and sorted(r["trial"] for r in recs) == list(range(8))
    assert all(r["status"] == "ok" for r in recs)
