"""mg.distributed: data-parallel fit under mpiexec -n 2 equals one process at the same
global batch; the group's errors; DistributedSampler shards."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")


def _run(args, dp):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    cmd = [sys.executable, WORKER] + args
    if dp:
        cmd = [MPIEXEC, "-n", "2"] + cmd + ["--dp"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not installed: pip install "
                    "'minigrad[distributed]'")
@pytest.mark.parametrize("opt", ["sgd", "adam", "adam-cosine"])
def test_distributed_fit_two_ranks_equal_one_process(tmp_path, opt):
    pytest.importorskip("mpi4py")
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    _run([str(one), opt], dp=False)
    _run([str(two), opt], dp=True)
    a, b = np.load(one), np.load(two)
    for key in a.files:
        np.testing.assert_allclose(b[key], a[key], rtol=2e-4, atol=2e-5, err_msg=key)


def test_distributed_sampler_shards_cover_the_epoch_once():
    n, k = 103, 4
    shards = [mg.distributed.DistributedSampler(n, seed=3, rank=r, world_size=k)
              for r in range(k)]
    parts = [s.indices() for s in shards]
    assert all(len(p) == len(shards[0]) == 26 for p in parts)
    joined = np.concatenate(parts)
    assert set(joined.tolist()) == set(range(n))  # padded by 1 repeat: 104 = 103 + 1
    again = [s.indices() for s in shards]  # the next epoch: a new permutation
    assert not all(np.array_equal(p, q) for p, q in zip(parts, again))


def test_distributed_sampler_rejects_world_larger_than_data():
    with pytest.raises(ValueError, match="world size 8 is larger than the dataset"):
        mg.distributed.DistributedSampler(5, rank=0, world_size=8)


def test_distributed_calls_without_group_say_to_init():
    if mg.distributed.is_initialized():
        pytest.skip("a group is initialised in this process")
    with pytest.raises(RuntimeError, match="call mg.distributed.init"):
        mg.distributed.rank()


def test_distributed_init_without_mpi4py_says_what_to_install(monkeypatch):
    if mg.distributed.is_initialized():
        pytest.skip("a group is initialised in this process")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"minigrad\[distributed\]"):
        mg.distributed.init()


def test_distributed_import_minigrad_imports_no_mpi_or_dask():
    code = ("import sys, minigrad; bad = [m for m in ('mpi4py', 'dask', 'distributed') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_distributed_batch_smaller_than_world_is_refused(monkeypatch):
    from minigrad.train import parallel
    monkeypatch.setattr(parallel.dist, "rank", lambda: 0)
    monkeypatch.setattr(parallel.dist, "world_size", lambda: 4)
    with pytest.raises(ValueError, match="batch_size 2 is smaller than the world size 4"):
        parallel.DataParallel(2)


@pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not installed: pip install "
                    "'minigrad[distributed]'")
def test_distributed_cli_train_data_parallel_writes_one_run(tmp_path):
    pytest.importorskip("mpi4py")
    if not os.environ.get("MINIGRAD_DATA"):
        pytest.skip("needs MINIGRAD_DATA")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "minigrad", "train",
                           "--model", "mlp", "--epochs", "1", "--limit", "1000",
                           "--out", str(out), "--data-parallel", "--verbose", "0",
                           "--no-download"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("test accuracy") == 1  # rank 0 reports, rank 1 is silent
    assert mg.load_model(str(out / "model.ckpt")) is not None
    assert (out / "metrics.json").exists() and (out / "run.json").exists()
