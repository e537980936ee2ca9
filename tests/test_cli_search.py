"""python -m minigrad search: a small run, the results file and picture, bad arguments."""
import json
import os
import subprocess
import sys

import pytest

from minigrad.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"lr": {"log_uniform": [1e-3, 1e-2]}, "epochs": 1,
                                "batch_size": {"choice": [64, 128]}}))
    return str(path)


def test_cli_search_writes_results_and_picture(tmp_path, space, capsys):
    if not os.environ.get("MINIGRAD_DATA"):
        pytest.skip("needs MINIGRAD_DATA")
    results = str(tmp_path / "s.jsonl")
    assert main(["search", "--space", space, "--trials", "3", "--limit", "600",
                 "--results", results, "--no-download"]) == 0
    out = capsys.readouterr().out
    assert "best: val_accuracy" in out
    with open(results) as f:
        recs = [json.loads(line) for line in f]
    assert len(recs) == 3 and all(r["status"] == "ok" for r in recs)
    assert all(0.0 <= r["score"] <= 1.0 for r in recs)
    assert os.path.getsize(str(tmp_path / "s.png")) > 1000


@pytest.mark.parametrize("args, words", [
    (["--validation-split", "1.5"], "must be in (0, 1), got 1.5"),
    (["--scheduler", "cluster"], "--scheduler must be 'local' or tcp://"),
    (["--trials", "0"], "must be in [1, inf], got 0"),
], ids=["split", "scheduler", "trials"])
def test_cli_search_bad_arguments_exit_2_with_error(space, args, words):
    proc = subprocess.run([sys.executable, "-m", "minigrad", "search", "--space", space]
                          + args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_cli_search_bad_space_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"learning_rate": 0.1}))
    proc = subprocess.run([sys.executable, "-m", "minigrad", "search", "--space", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown hyperparameter 'learning_rate'" in proc.stderr
