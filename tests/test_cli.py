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
from minigrad import cli, cli_checks
from minigrad.train.runstate import CHECKPOINT_FORMAT

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


def test_legacy_checkpoint_still_rebuilds_the_model(tmp_path):
    """Checkpoints of the older format (state dict + config) keep loading."""
    model = cli.build_model("mlp-bn", "he_normal", mean=72.9, std=90.0)
    path = tmp_path / "m.ckpt"
    mg.save({"format": cli.LEGACY_FORMAT, "model": model.net.state_dict(),
             "config": {"model": "mlp-bn", "init": "he_normal", "mean": 72.9, "std": 90.0,
                        "dataset": "mnist", "limit": 0},
             "test_accuracy": 0.0}, path)
    twin, _ = cli.load_checkpoint(str(path))
    x = np.random.default_rng(0).integers(0, 255, (4, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(mg.train.predict(twin, x), mg.train.predict(model, x))


def test_checkpoint_is_a_whole_model_that_load_model_reads(tmp_path):
    """A train checkpoint is a save_model file: mg.load_model needs no --model flag."""
    model = cli.build_model("cnn", mean=72.9, std=90.0)
    path = tmp_path / "model.ckpt"
    mg.save_model(model, path, extra={"format": CHECKPOINT_FORMAT,
                                      "config": {"dataset": "mnist", "limit": 0}})
    twin = mg.load_model(path)
    assert isinstance(twin, cli.Standardized) and twin.mean == 72.9
    x = np.random.default_rng(0).integers(0, 255, (2, 1, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(mg.train.predict(twin, x), mg.train.predict(model, x))


@pytest.mark.parametrize("argv, match", [
    (["train", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--epochs", "0"], r"--epochs: must be in \[1, inf\], got 0"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--init", "nope"], "unknown initializer 'nope'"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--validation-split", "1.5"], r"must be in \[0, 1\), got 1.5"),
    (["train", "--validation-split", "-0.1"], r"must be in \[0, 1\), got -0.1"),
    (["train", "--lr", "nan"], "--lr: must be a finite number, got nan"),
    (["train", "--lr", "inf"], "--lr: must be a finite number, got inf"),
    (["train", "--lr", "0"], r"--lr: must be in \(0, inf\], got 0"),
    (["train", "--lr", "fast"], "--lr: invalid float value: 'fast'"),
    (["train", "--momentum", "-1"], r"--momentum: must be in \[0, inf\], got -1"),
    (["train", "--seed", "-3"], r"--seed: must be in \[0, inf\], got -3"),
    (["train", "--threads", "0"], r"--threads: must be in \[1, inf\], got 0"),
    (["train", "--batch-size", "1e3"], "--batch-size: invalid int value: '1e3'"),
    (["train", "--out", "{file}"], "--out .*file.txt is a file; it must name a folder"),
    (["train", "--out", "{file}/sub"], "file.txt is a file, so the folder cannot be created"),
    (["train", "--out", "{run}"], "holds another run's files \\(model.ckpt"),
    (["train", "--out", "{empty}", "--resume"], "has no checkpoint model.ckpt"),
    (["train", "--out", "{run}", "--resume", "--overwrite"], "exclude each other"),
    (["train", "--out", "{run}", "--resume"], "cannot continue from .*truncated or corrupt"),
    (["train", "--out", "{nokey}", "--resume"], "its config lacks the key 'dataset'"),
    (["train", "--out", "{done}", "--resume", "--model", "cnn"],
     "--model cnn differs from the run's mlp"),
    (["evaluate", "--checkpoint", "{empty}/missing.ckpt"], "missing.ckpt: no such file"),
    (["evaluate", "--checkpoint", "{empty}"], "is a folder; name the model.ckpt in it"),
    (["evaluate", "--checkpoint", "{run}/model.ckpt"], "truncated or corrupted"),
    (["evaluate", "--checkpoint", "{file}"], "not a minigrad state file"),
    (["evaluate", "--checkpoint", "{foreign}"], "not a model written by save_model"),
    (["evaluate", "--checkpoint", "{nokey}/model.ckpt"], "lacks the key 'dataset'"),
    (["evaluate", "--checkpoint", "{legacy}"], "lacks the key 'std'"),
], ids=["dataset", "model", "epochs", "option", "init", "command", "split-1.5",
        "split-neg", "lr-nan", "lr-inf", "lr-0", "lr-word", "momentum-neg", "seed-neg",
        "threads-0", "batch-float", "out-file", "out-under-file", "out-other-run",
        "resume-nothing", "resume-overwrite", "resume-corrupt", "resume-config-key",
        "resume-conflict", "eval-missing", "eval-folder", "eval-corrupt", "eval-foreign-file",
        "eval-state-dict", "eval-config-key", "eval-legacy-key"])
def test_bad_arguments_are_errors_before_any_data_loads(argv, match, tmp_path, monkeypatch,
                                                        capsys):
    """Every bad argument, or file it names, ends as argparse does (usage, `error: ...`,
    exit code 2), never a traceback, and before the dataset is read."""
    monkeypatch.setattr(cli, "load_data", _no_data)
    paths = _bad_files(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main([a.format(**paths) for a in argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "error: " in err and "Traceback" not in err
    assert re.search(match, err), err


def _no_data(*args, **kwargs):
    raise AssertionError("the dataset was loaded before the arguments were checked")


def _bad_files(tmp_path):
    """Files the error cases name: a plain file, a folder with a corrupt run, an empty
    folder, a state dict, checkpoints whose config lacks a key, a finished run."""
    (tmp_path / "file.txt").write_text("not a checkpoint")
    run, empty, nokey, done = (tmp_path / n for n in ("run", "empty", "nokey", "done"))
    for d in (run, empty, nokey, done):
        d.mkdir()
    (run / "model.ckpt").write_bytes(b"\x93MGSTATE" + bytes(20))
    mg.save({"weight": np.zeros(3)}, tmp_path / "foreign.ckpt")
    model = cli.build_model("mlp")
    mg.save_model(model, nokey / "model.ckpt", extra={"format": CHECKPOINT_FORMAT,
                                                      "config": {"limit": 0}, "epoch": 1})
    config = {**cli_checks.parser_defaults(), "epochs": 4, "mean": 0.0, "std": 1.0}
    mg.save_model(model, done / "model.ckpt", extra={"format": CHECKPOINT_FORMAT,
                                                     "config": config, "epoch": 2})
    mg.save({"format": cli.LEGACY_FORMAT, "model": model.net.state_dict(),
             "config": {"model": "mlp", "init": "glorot_uniform", "mean": 0.0,
                        "dataset": "mnist", "limit": 0}}, tmp_path / "legacy.ckpt")
    return {"file": tmp_path / "file.txt", "run": run, "empty": empty, "nokey": nokey,
            "done": done, "foreign": tmp_path / "foreign.ckpt",
            "legacy": tmp_path / "legacy.ckpt"}


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


class _CtrlCAtEpoch:
    """Patches the CLI so that Ctrl-C arrives as epoch ``epoch`` begins (the checkpoint
    of every earlier epoch is on disk)."""

    def __init__(self, monkeypatch, epoch):
        original = cli._EpochTimer.on_epoch_begin

        def begin(timer, e, logs=None):
            if e == epoch:
                raise KeyboardInterrupt
            original(timer, e, logs)
        monkeypatch.setattr(cli._EpochTimer, "on_epoch_begin", begin)


def _weights_and_state(path):
    model, extra = mg.model_io.read_model(path)
    return model.state_dict(), extra


@needs_data
@pytest.mark.parametrize("model, extra", [
    ("mlp", ["--optimizer", "sgd", "--momentum", "0.9", "--schedule", "cosine"]),
    ("cnn", ["--augment", "--validation-split", "0.25", "--batch-size", "50"]),
], ids=["mlp-sgd-cosine", "cnn-dropout-augment"])
def test_resume_after_ctrl_c_is_bit_identical_to_one_run(tmp_path, monkeypatch, capsys,
                                                         model, extra):
    """2 epochs, Ctrl-C, --resume for 2 more == 4 epochs in one go, bit for bit: weights,
    BN/optimizer state, the lr schedule and the logged history (dropout, augmentation
    and shuffling draw the same numbers)."""
    common = ["train", "--model", model, "--limit", "200", "--epochs", "4", "--seed", "3",
              "--verbose", "0", *extra]
    assert cli.main(common + ["--out", str(tmp_path / "once")]) == 0
    with monkeypatch.context() as m:
        _CtrlCAtEpoch(m, epoch=2)
        assert cli.main(common + ["--out", str(tmp_path / "split")]) == 130
    err = capsys.readouterr().err
    assert "2 of 4 epochs are saved" in err and "--resume" in err
    marker = json.loads((tmp_path / "split" / "run.json").read_text())
    assert marker == {"status": "running", "epochs_done": 2, "epochs": 4}
    assert cli.main(["train", "--out", str(tmp_path / "split"), "--resume",
                     "--verbose", "0"]) == 0
    once, split = (_weights_and_state(tmp_path / d / "model.ckpt") for d in ("once", "split"))
    assert list(once[0]) == list(split[0])
    for k in once[0]:
        np.testing.assert_array_equal(once[0][k], split[0][k], err_msg=k)
    assert once[1]["history"] == split[1]["history"]
    assert once[1]["optimizer"]["iterations"] == split[1]["optimizer"]["iterations"]
    for i, state in once[1]["optimizer"]["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(value, split[1]["optimizer"]["state"][i][name])
    with open(tmp_path / "split" / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2, 3]
    assert json.loads((tmp_path / "split" / "run.json").read_text())["status"] == "complete"


@needs_data
def test_evaluate_warns_about_an_incomplete_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _CtrlCAtEpoch(m, epoch=1)
        assert cli.main(["train", "--limit", "100", "--epochs", "3", "--out", str(out),
                         "--verbose", "0"]) == 130
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "model.ckpt")]) == 0
    captured = capsys.readouterr()
    assert "warning: the run that wrote" in captured.err
    assert "epoch 1 of 3" in captured.err and "'running'" in captured.err
    assert "test accuracy" in captured.out
    assert not (out / "metrics.json").exists()   # no stale results of an unfinished run


@needs_data
def test_overwrite_replaces_another_runs_files(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--limit", "100", "--epochs", "1", "--out", str(out), "--verbose", "0"]
    assert cli.main(args) == 0
    (out / "notes.txt").write_text("mine")   # not a run file: kept
    first = (out / "model.ckpt").read_bytes()
    assert cli.main(args + ["--overwrite", "--seed", "7"]) == 0
    assert (out / "model.ckpt").read_bytes() != first
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "metrics.json").read_text())["config"]["seed"] == 7
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
