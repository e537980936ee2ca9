"""python -m minigrad: train on a tiny subset writes its outputs; evaluate reproduces the
accuracy from the checkpoint; bad options are argparse errors; doctor runs."""
import csv
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import cli

needs_data = pytest.mark.skipif(not os.environ.get("MINIGRAD_DATA"),
                                reason="MINIGRAD_DATA is not set (folder with fashion-mnist/)")


def _accuracy(text):
    return float(re.search(r"test accuracy (\d\.\d+)", text).group(1))


@needs_data
def test_train_writes_outputs_and_evaluate_reproduces_accuracy(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--limit", "500", "--epochs", "2", "--out", str(out),
                     "--verbose", "0", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "confusion matrix (rows: true class" in printed and "Ankle boot" in printed
    for name in ("model.ckpt", "curves.png", "metrics.json", "history.csv"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "mlp" and len(metrics["epoch_seconds"]) == 2
    assert np.sum(metrics["confusion_matrix"]) == 500
    assert metrics["test_accuracy"] == pytest.approx(_accuracy(printed), abs=1e-4)
    assert metrics["test_accuracy"] > 0.6  # 500 images, 2 epochs: well above chance (0.1)

    assert cli.main(["evaluate", "--checkpoint", str(out / "model.ckpt")]) == 0
    again = capsys.readouterr().out
    assert _accuracy(again) == pytest.approx(metrics["test_accuracy"], abs=1e-4)


@needs_data
@pytest.mark.parametrize("model, extra", [("cnn", []), ("mlp-bn", ["--augment",
                                                                  "--optimizer", "sgd"])])
def test_train_other_models(tmp_path, capsys, model, extra):
    out = tmp_path / model
    assert cli.main(["train", "--model", model, "--limit", "200", "--epochs", "1",
                     "--batch-size", "50", "--out", str(out), "--verbose", "0", *extra]) == 0
    acc = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    capsys.readouterr()
    cli.main(["evaluate", "--checkpoint", str(out / "model.ckpt")])
    assert _accuracy(capsys.readouterr().out) == pytest.approx(acc, abs=1e-4)


@needs_data
def test_train_cosine_schedule_decays_lr_to_zero(tmp_path, capsys):
    out = tmp_path / "cos"
    assert cli.main(["train", "--limit", "300", "--epochs", "2", "--batch-size", "100",
                     "--schedule", "cosine", "--lr", "0.002", "--out", str(out),
                     "--verbose", "0"]) == 0
    assert "lr=0.002" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["schedule"] == "cosine"
    with open(out / "history.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    # the lr logged at each epoch's end: halfway down the cosine, then at its end
    assert lrs == pytest.approx([0.001, 0.0], abs=1e-6)


def test_image_stats_match_numpy():
    x = np.random.default_rng(0).integers(0, 256, (1000, 1, 4, 4), dtype=np.uint8)
    mean, std = cli.image_stats(x, chunk=97)
    assert mean == pytest.approx(x.mean()) and std == pytest.approx(x.std())


def test_checkpoint_rebuilds_the_model(tmp_path):
    model = cli.build_model("mlp-bn", "he_normal", mean=72.9, std=90.0)
    path = tmp_path / "m.ckpt"
    mg.save({"format": cli.CHECKPOINT_FORMAT, "model": model.net.state_dict(),
             "config": {"model": "mlp-bn", "init": "he_normal", "mean": 72.9, "std": 90.0},
             "test_accuracy": 0.0}, path)
    twin, _ = cli.load_checkpoint(str(path))
    x = np.random.default_rng(0).integers(0, 255, (4, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(mg.train.predict(twin, x), mg.train.predict(model, x))


def test_evaluate_rejects_a_foreign_file(tmp_path):
    path = tmp_path / "other.ckpt"
    mg.save({"weight": np.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a checkpoint written by 'python -m minigrad"):
        cli.main(["evaluate", "--checkpoint", str(path)])


@pytest.mark.parametrize("argv, match", [
    (["train", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--epochs", "0"], "must be > 0"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--init", "nope"], "unknown initializer 'nope'"),
    (["fly"], "invalid choice: 'fly'"),
], ids=["dataset", "model", "epochs", "option", "init", "command"])
def test_bad_options_are_clear_errors(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_python_dash_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "minigrad", "train", "--dataset", "x"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice: 'x'" in r.stderr


def test_missing_dataset_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    monkeypatch.setattr(mg.data.mnist, "cache_dir", lambda: tmp_path / "cache")
    code = cli.main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--no-download",
                     "--out", str(tmp_path / "o"), "--verbose", "0"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "train-images-idx3-ubyte" in err
    assert "Traceback" not in err


def test_doctor_subcommand_runs_the_diagnostics_doctor(capsys):
    assert cli.main(["doctor", "--no-bench"]) == 0
    text = capsys.readouterr().out
    assert "kernel self-test against numpy_ref" in text and "FAIL" not in text
