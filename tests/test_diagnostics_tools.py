"""lr_finder, random_search/refine, overfit_check, check_init, mc_dropout_predict and
flops on tiny models with known answers."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import diagnostics as D
from minigrad import nn


def _blobs(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


# ----- lr_finder ----------------------------------------------------------------------
def test_lr_finder_restores_weights_and_optimizer_and_grows_lr_geometrically():
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = _weights(model)
    result = D.lr_finder(model, x, y, "cross_entropy", opt, start_lr=1e-5, end_lr=1.0,
                         steps=40, batch_size=16)
    lrs, losses, suggested = result
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert opt.lr == pytest.approx(0.05) and opt.state_dict() == \
        mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9).state_dict()
    assert lrs[0] == pytest.approx(1e-5)
    np.testing.assert_allclose(np.diff(np.log(lrs)), math.log(1e5) / 39, rtol=1e-9)
    assert len(losses) == len(lrs) and all(math.isfinite(v) for v in losses)
    assert 1e-5 <= suggested <= 1.0
    assert all(p.grad is None for p in model.parameters())


def test_lr_finder_stops_on_divergence_and_plots(tmp_path):
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(6, 2))
    factory = lambda params, lr: mg.optim.SGD(params, lr=lr)  # noqa: E731
    result = D.lr_finder(model, x, y, "cross_entropy", factory, start_lr=1e-3,
                         end_lr=1e6, steps=100)
    assert result.stopped_early and len(result.lrs) < 100
    assert "stopped on divergence" in repr(result)
    assert result.plot(tmp_path / "lr.png").stat().st_size > 1000


def test_lr_finder_takes_a_dataloader_and_cycles_it():
    x, y = _blobs(48)
    loader = mg.data.DataLoader(mg.data.TensorDataset(x, y), batch_size=16, shuffle=True,
                                seed=0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    before = _weights(model)
    result = D.lr_finder(model, loader, None, "cross_entropy",
                         mg.optim.SGD(model.parameters(), lr=0.1), steps=10)
    assert len(result.lrs) == 10  # 3 batches per pass: the loader was passed over 4 times
    for k, v in model.state_dict().items():  # BN running statistics included
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    with pytest.raises(ValueError, match="y is needed unless x is a DataLoader"):
        D.lr_finder(model, x, None, "cross_entropy", mg.optim.SGD(model.parameters(), lr=1))


def test_lr_finder_suggests_a_decade_below_the_minimum_and_finds_the_steepest_point():
    from minigrad.diagnostics.lr_finder import LRFinderResult
    lrs = list(np.logspace(-6, 0, 61))
    # falls fastest at 1e-3, lowest at 1e-1, then diverges
    losses = [2.0 - 1.5 / (1 + math.exp(-(math.log10(lr) + 3) * 4))
              + (50 * (lr - 0.1) ** 2 if lr > 0.1 else 0.0) for lr in lrs]
    result = LRFinderResult(lrs, losses, losses, stopped_early=False)
    assert result.min_loss_lr == pytest.approx(0.1)
    assert result.suggested_lr == pytest.approx(0.01)
    assert result.steepest_lr == pytest.approx(1e-3, rel=0.3)


def test_lr_finder_errors():
    x, y = _blobs()
    model = nn.Sequential(nn.Linear(6, 2))
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        D.lr_finder(model, x, y, "cross_entropy", opt, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="x has 128 samples but y has 3"):
        D.lr_finder(model, x, y[:3], "cross_entropy", opt)
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*or pass a callable"):
        D.lr_finder(model, x, y, "hinge", opt)


# ----- random_search ------------------------------------------------------------------
SPACE = {"lr": D.log_uniform(1e-5, 1.0), "beta": D.one_minus_log_uniform(0.9, 0.9999),
         "width": D.integer(8, 64), "act": D.choice(["relu", "tanh"]),
         "dropout": D.uniform(0.0, 0.5), "epochs": 3}


def _objective(p):
    return (math.log10(p["lr"]) + 2) ** 2 + (p["width"] - 32) ** 2 / 1e3


def test_random_search_draws_in_range_and_repeats_under_seed():
    res = D.random_search(SPACE, _objective, trials=200, seed=7)
    again = D.random_search(SPACE, _objective, trials=200, seed=7)
    assert [t["params"] for t in res] == [t["params"] for t in again]
    assert [t["params"] for t in res] != [t["params"] for t in
                                          D.random_search(SPACE, _objective, 200, seed=8)]
    params = [t["params"] for t in res]
    lrs = np.array([p["lr"] for p in params])
    betas = np.array([p["beta"] for p in params])
    assert lrs.min() >= 1e-5 and lrs.max() <= 1.0
    assert 0.9 <= betas.min() and betas.max() <= 0.9999
    # log-uniform: about a fifth of the draws in each decade of 10^U(-5, 0)
    decade = np.floor(np.log10(lrs)).clip(-5, -1)
    assert np.bincount((decade + 5).astype(int), minlength=5).min() > 20
    assert np.mean(betas > 0.99) == pytest.approx(2 / 3, abs=0.12)  # 1 - 10^U(-4, -1)
    assert {p["act"] for p in params} == {"relu", "tanh"}
    assert all(isinstance(p["width"], int) and 8 <= p["width"] <= 64 for p in params)
    assert all(p["epochs"] == 3 for p in params)
    scores = [t["score"] for t in res]
    assert scores == sorted(scores) and res.best is res[0]


def test_random_search_table_max_mode_metric_and_nan_last():
    outcomes = iter([0.5, float("nan"), 0.9, 0.7])
    res = D.random_search({"lr": D.log_uniform(1e-4, 1e-1)},
                          lambda p: {"val_accuracy": [0.1, next(outcomes)]}, trials=4,
                          mode="max", metric="val_accuracy")
    assert [t["score"] for t in res][:3] == [0.9, 0.7, 0.5] and math.isnan(res[3]["score"])
    table = res.table()
    assert table.splitlines()[0].split() == ["rank", "trial", "score", "lr"]
    assert len(table.splitlines()) == 6
    with pytest.raises(ValueError, match="pass metric="):
        D.random_search({}, lambda p: {"a": 1}, trials=1)
    with pytest.raises(ValueError, match="mode must be"):
        D.random_search({}, lambda p: 1, trials=1, mode="best")


def test_refine_narrows_around_the_best_in_each_scale():
    res = D.random_search(SPACE, _objective, trials=60, seed=3)
    fine = D.refine(res, top_k=5, space=SPACE)
    top_lrs = [t["params"]["lr"] for t in res[:5]]
    assert isinstance(fine["lr"], D.LogUniform)
    assert fine["lr"].low <= min(top_lrs) and fine["lr"].high >= max(top_lrs)
    assert fine["lr"].high / fine["lr"].low < 1e5 / 10  # narrower than the coarse range
    assert 1e-5 <= fine["lr"].low
    assert isinstance(fine["beta"], D.OneMinusLogUniform)
    assert 0.9 <= fine["beta"].low < fine["beta"].high <= 0.9999
    assert isinstance(fine["width"], D.IntUniform) and 8 <= fine["width"].low
    assert set(fine["act"].options) <= {"relu", "tanh"} and fine["epochs"] == 3
    second = D.random_search(fine, _objective, trials=20, seed=4)
    assert all(fine["lr"].low <= t["params"]["lr"] <= fine["lr"].high for t in second)
    inferred = D.refine(res, top_k=5)  # without the space: kinds from the values
    assert isinstance(inferred["lr"], D.LogUniform)


def test_spec_errors():
    with pytest.raises(ValueError, match="LogUniform: low must be > 0"):
        D.log_uniform(0, 1)
    with pytest.raises(ValueError, match="high must be < 1"):
        D.one_minus_log_uniform(0.9, 1.0)
    with pytest.raises(ValueError, match="need low < high"):
        D.uniform(1, 1)
    with pytest.raises(ValueError, match="IntUniform"):
        D.integer(5, 2)


# ----- overfit_check / mc_dropout / check_init -------------------------------------
def test_overfit_check_passes_on_a_healthy_model_and_restores_it(capsys):
    x, y = _blobs(40)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2))
    before = _weights(model)
    result = D.overfit_check(model, x, y, "cross_entropy",
                             mg.optim.Adam(model.parameters(), lr=1e-2), steps=150)
    assert result and result.accuracy == 1.0 and result.final_loss < result.first_loss
    assert "PASSED" in capsys.readouterr().out
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert model.training and model[2].training


def test_overfit_check_fails_clearly_and_names_detached_parameters():
    x, y = _blobs(40)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    model[0].freeze()
    y_random = np.random.default_rng(5).integers(0, 2, 40)
    result = D.overfit_check(model, x, y_random, "cross_entropy",
                             mg.optim.SGD(model.parameters(), lr=1e-7), steps=5,
                             verbose=False)
    assert not result and result.accuracy < 0.99
    assert "FAILED" in result.message and "bug" in result.message

    class Detached(nn.Module):  # a classic bug: the first layer is cut from the graph
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.b(self.a(x).detach())

    model = Detached()
    detached = D.overfit_check(model, x, y, "cross_entropy",
                               mg.optim.SGD(model.parameters(), lr=0.1), steps=2,
                               verbose=False)
    assert detached.no_grad == ["a.weight", "a.bias"]
    assert "never received a gradient: ['a.weight', 'a.bias']" in detached.message


def test_overfit_check_regression_target():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    model = nn.Sequential(nn.Linear(3, 1))
    result = D.overfit_check(model, x, y, "mse", mg.optim.SGD(model.parameters(), lr=0.1),
                             steps=200, verbose=False)
    assert result and result.accuracy is None and result.final_loss < 1e-2 * result.first_loss


def test_mc_dropout_predict_spreads_with_dropout_and_keeps_bn_in_eval():
    model = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(32, 3))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    running = model[1].running_mean.data.copy()
    mean, std = D.mc_dropout_predict(model, x, n=50)
    assert mean.shape == (5, 3) and std.shape == (5, 3) and (std > 0).all()
    np.testing.assert_array_equal(model[1].running_mean.data, running)  # BN was in eval
    assert model.training and model[3].training  # modes restored
    model.eval()
    with mg.no_grad():
        deterministic = model(x).data
    assert np.abs(mean - deterministic).max() < 1.0  # centred on the plain prediction
    probs, _ = D.mc_dropout_predict(model, x, n=10, transform=nn.functional.softmax)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert not model.training and not model[3].training
    with pytest.raises(ValueError, match="no Dropout layer"):
        D.mc_dropout_predict(nn.Sequential(nn.Linear(4, 2)), x)


def _deep(act, init, depth=8):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(32, 32, weight_init=init), act()]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("act, bad, good", [(nn.ReLU, "normal", "he_normal"),
                                            (nn.SELU, "normal", "lecun_normal")],
                         ids=["relu-he", "selu-lecun"])
def test_check_init_flags_shrinking_variance_and_names_the_initializer(act, bad, good):
    x = np.random.default_rng(0).normal(size=(128, 32)).astype(np.float32)
    report = D.check_init(_deep(act, bad), x)
    assert not report.ok and report.recommended == good
    assert "shrinks with depth" in report.verdicts[0] and repr(good) in report.verdicts[0]
    assert D.check_init(_deep(act, good), x).ok


def test_check_init_growth_and_glorot_for_tanh():
    x = np.random.default_rng(0).normal(size=(128, 32)).astype(np.float32)
    big = mg.nn.init.VarianceScaling(scale=8.0, distribution="untruncated_normal")
    report = D.check_init(_deep(nn.ReLU, big, depth=4), x, factor=10)
    assert not report.ok and "grows" in report.verdicts[0]
    tanh = D.check_init(_deep(nn.Tanh, "normal", depth=4), x)
    assert tanh.recommended == "glorot_uniform" and "Tanh" in tanh.report()
    assert len([r for r in tanh.rows if r["ratio"] is not None]) == 4


def test_flops_counts_linear_and_conv_macs():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    report = D.flops(model, (1, 28, 28))
    macs = {r["layer"]: r["macs"] for r in report}
    assert macs == {"0": 8 * 28 * 28 * 9, "1": 8 * 28 * 28, "2": 0, "3": 0, "4": 0,
                    "5": 8 * 14 * 14 * 10}
    assert report.total == sum(macs.values()) and report.flops == 2 * report.total
    assert "Total multiply-adds per sample: 78,400" in report.table()
    assert model.training
