"""The experiment scripts of examples/ run end to end in --quick mode (synthetic data,
seconds), so they never rot."""
import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exp_vanishing_quick_writes_page_table_and_pictures(tmp_path):
    exp = _load("exp_vanishing")
    assert {"tanh + N(0,1)", "ReLU + N(0,1)", "tanh + Glorot"} <= set(exp.CONFIGS)
    assert exp.main(["--quick", "--out", str(tmp_path), "--depth", "12"]) == 0
    page = (tmp_path / "vanishing_quick.md").read_text()
    assert "NOT Fashion-MNIST" in page and "The lectures' claim" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(exp.CONFIGS)
    for name in exp.CONFIGS:
        assert f"| {name} |" in page
    assert page.count("**Claim held**") + page.count("**Claim did not hold**") == \
        len(exp.CONFIGS)
    for png in ("vanishing_grad_norms.png", "vanishing_loss.png"):
        assert (tmp_path / png).stat().st_size > 5000 and f"]({png})" in page
    runs = json.loads((tmp_path / "vanishing_quick.json").read_text())
    assert len(runs) == 2 * len(exp.CONFIGS)  # two seeds in quick mode
    assert all(len(r["grad_norms"]) == 12 for r in runs)  # one per Linear layer
    assert all(1 <= r["best_epoch"] <= 1 for r in runs)
    by_name = {r["name"]: r for r in runs if r["seed"] == 0}
    glorot = by_name["sigmoid + Glorot"]["grad_norms"]
    he = by_name["ReLU + He"]["grad_norms"]
    # the textbook picture: sigmoid's gradient fades towards the input, He keeps it
    assert glorot[0] / glorot[-1] < 1e-3 < he[0] / he[-1]
    assert max(by_name["ReLU + N(0,1)"]["grad_norms"]) > 1e6  # N(0,1) + ReLU explodes


def test_exp_common_split_is_disjoint_and_compare_needs_a_real_gap():
    common = _load("exp_common")
    xtr, ytr, xval, yval, xte, yte = common.load_split(True, None, 0, 0, 0)
    assert (len(xtr), len(xval), len(xte)) == (200, 100, 100)
    assert not (set(map(bytes, xtr)) & set(map(bytes, xval)))
    assert common.compare([0.9, 0.91, 0.92], [0.80, 0.81, 0.82])[0] == "better"
    assert common.compare([0.80, 0.90, 0.85], [0.84, 0.86, 0.85])[0] == "within noise"
    assert common.compare([0.1, 0.11], [0.5, 0.52])[0] == "worse"
    assert common.mean_spread([1.0, 2.0, 3.0], ".1f") == "2.0 ± 1.0"


def test_exp_activations_quick_writes_page_table_and_pictures(tmp_path):
    exp = _load("exp_activations")
    assert set(exp.ACTIVATIONS) == {"ReLU", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU",
                                    "GELU", "Swish", "Mish"}
    assert exp.main(["--quick", "--out", str(tmp_path), "--only", "ReLU", "SELU"]) == 0
    page = (tmp_path / "activations_quick.md").read_text()
    assert "NOT Fashion-MNIST" in page and "| ReLU |" in page and "| SELU |" in page
    assert "alpha 0.2" in page and 'Claim "ReLU units die"' in page
    for png in ("activations_curves.png", "activations_time_dead.png"):
        assert (tmp_path / png).stat().st_size > 5000 and f"]({png})" in page
    runs = json.loads((tmp_path / "activations_quick.json").read_text())
    assert [(r["name"], r["seed"]) for r in runs] == \
        [("ReLU", 0), ("SELU", 0), ("ReLU", 1), ("SELU", 1)]
    for r in runs:
        assert len(r["val_accuracy"]) == 3 and len(r["dead"]) == 3  # every epoch
        assert all(0 <= d <= 1 for d in r["dead"]) and 1 <= r["best_epoch"] <= 3
        assert r["val_accuracy"][r["best_epoch"] - 1] == max(r["val_accuracy"])
    assert exp.ACTIVATIONS["LeakyReLU"][0]().alpha == 0.2


def test_exp_batch_lr_quick_grid_and_finder(tmp_path):
    exp = _load("exp_batch_lr")
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "batch_lr_quick.md").read_text()
    assert "| batch size | lr 0.01 | lr 0.1 | best lr (validation) | lr_finder suggestion " \
        "(lowest-loss lr / 10) | steepest descent |" in page
    assert 'Claim "the best lr grows with the batch size"' in page
    assert (tmp_path / "batch_lr_grid.png").stat().st_size > 5000
    results = json.loads((tmp_path / "batch_lr_quick.json").read_text())
    assert len(results["cells"]) == 4 * 2  # 2 batch sizes x 2 lrs x 2 seeds
    assert all(1e-5 <= lr <= 10 for lr in results["lr_finder"].values())


def test_exp_optimizers_quick_same_start_every_optimizer(tmp_path):
    exp = _load("exp_optimizers")
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "optimizers_quick.json").read_text())
    assert len(runs) == 2 * len(exp.optimizers(10)) == 16
    for seed in (0, 1):
        first = {round(r["batch_losses"][0], 5) for r in runs if r["seed"] == seed}
        assert len(first) == 1  # same weights and first batch: the same first loss
    by_name = {r["name"]: r for r in runs}
    assert by_name["momentum + cosine decay"]["lr"][-1] < 1e-3  # decayed to ~0
    # each schedule starts from the lr of its constant twin
    assert by_name["momentum + cosine decay"]["lr"][0] <= by_name["momentum 0.9, lr 0.01"]["lr"][0]
    sched = exp.optimizers(100)
    from minigrad import nn
    p = list(nn.Linear(2, 2).parameters())
    assert sched["momentum + cosine decay"](p).lr == pytest.approx(0.01)
    assert sched["Adam + exponential decay"](p).lr == pytest.approx(1e-3)
    assert (tmp_path / "optimizers.png").stat().st_size > 5000
    page = (tmp_path / "optimizers_quick.md").read_text()
    assert "| Adam lr 1e-3 |" in page and page.count("- Claim") == 4


def test_exp_imbalanced_quick_three_methods_and_baseline(tmp_path):
    exp = _load("exp_imbalanced")
    import numpy as np
    x, labels = np.zeros((200, 3), np.float32), np.repeat(np.arange(10), 20)
    xi, yi = exp.imbalanced(x, labels, 7, 0.05, np.random.default_rng(0))
    assert len(yi) == 180 + 9 and yi.sum() == 9  # every negative, 5% positives
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "imbalanced_quick.md").read_text()
    assert "| always 'negative' |" in page
    assert 'Claim "accuracy misleads"' in page and page.count("- Claim") == 3
    results = json.loads((tmp_path / "imbalanced_quick.json").read_text())
    assert [(r["method"], r["seed"]) for r in results] == \
        [(m, s) for s in (0, 1) for m in exp.METHODS]
    for r in results:
        cm = np.asarray(r["confusion"])
        assert cm.shape == (2, 2) and r["accuracy"] == (cm[0, 0] + cm[1, 1]) / cm.sum()
    assert (tmp_path / "imbalanced_confusion.png").stat().st_size > 5000


def test_exp_regularization_quick_six_configs(tmp_path):
    exp = _load("exp_regularization")
    from minigrad import nn
    types = lambda c: [type(m).__name__ for m in exp.build(c, 8)]  # noqa: E731
    assert types("dropout 0.3").count("Dropout") == 2
    assert types("BatchNorm").count("BatchNorm1d") == 2
    assert exp.build("L2 1e-3", 8)[1].kernel_regularizer is not None
    assert isinstance(exp.build("none", 8)[0], nn.Flatten)
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "regularization_quick.json").read_text())
    assert [r["config"] for r in results] == list(exp.CONFIGS) * 2  # two seeds in quick
    assert all(1 <= r["end_epoch"] <= r["epochs_run"] <= 3 for r in results)
    assert all(len(r["train_accuracy"]) == r["epochs_run"] for r in results)
    assert all(abs(r["end_gap"] - (r["end_train"] - r["end_val"])) < 1e-12 for r in results)
    page = (tmp_path / "regularization_quick.md").read_text()
    assert "The lectures' claim:" in page
    assert page.count("Claim \"narrows the gap\": **") == len(exp.CONFIGS) - 1
    assert (tmp_path / "regularization_curves.png").stat().st_size > 5000


def test_exp_transfer_quick_runs_both_recipes(tmp_path):
    exp = _load("exp_transfer")
    assert exp.RECIPES["lectures"]["widths"] == [100] * 5
    assert exp.RECIPES["lectures"]["optimizer"] == "sgd"
    assert exp.RECIPES["lectures"]["epochs_a"] == 20
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "transfer_quick.json").read_text())
    assert set(results) == {"lectures", "ours"}
    for res in results.values():
        assert len(res["runs"]) == 2 and 0 <= res["model_a_accuracy"] <= 1
        assert all(0 <= r["B"] <= 1 and 0 <= r["B_on_A"] <= 1 for r in res["runs"])
    page = (tmp_path / "transfer_quick.md").read_text()
    assert page.count("| mean ± std |") == 2 and (tmp_path / "transfer.png").exists()
    assert "cherry" not in page and "## The lectures' recipe" in page


def test_exp_autoencoder_roc_auc_and_quick_run(tmp_path):
    import numpy as np
    exp = _load("exp_autoencoder")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    positive = rng.random(60) < 0.3
    pairs = [(a > b) + 0.5 * (a == b) for a in scores[positive] for b in scores[~positive]]
    assert exp.roc_auc(scores, positive) == pytest.approx(np.mean(pairs))  # pairwise def.
    assert exp.roc_auc(np.arange(4.0), np.array([False, False, True, True])) == 1.0
    assert exp.main(["--quick", "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "autoencoder_quick.json").read_text())
    assert [r["seed"] for r in runs] == [0, 1]
    assert all(0 <= r["auc"] <= 1 and len(r["loss"]) == len(r["val_loss"]) == 3
               for r in runs)
    assert "The lectures' claim" in (tmp_path / "autoencoder_quick.md").read_text()
    for png in ("autoencoder_reconstructions.png", "autoencoder_errors.png"):
        assert (tmp_path / png).stat().st_size > 5000
