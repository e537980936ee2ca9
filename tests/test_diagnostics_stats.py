"""gradient_stats and ActivationMonitor on tiny models with known answers."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.diagnostics import (ActivationMonitor, after_step, gradient_stats,
                                  snapshot)


def _mlp(act=nn.ReLU):
    return nn.Sequential(nn.Linear(4, 8), act(), nn.Linear(8, 8), act(), nn.Linear(8, 3))


def _backward(model, n=16):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    model(x).sum().backward()


def test_gradient_stats_values_match_numpy():
    model = _mlp()
    _backward(model)
    stats = gradient_stats(model)
    assert [r["name"] for r in stats] == [n for n, _ in model.named_parameters()]
    for row, (_, p) in zip(stats, model.named_parameters()):
        g = p.grad.data.astype(np.float64)
        assert row["shape"] == p.shape
        assert row["mean_abs"] == pytest.approx(np.abs(g).mean())
        assert row["norm"] == pytest.approx(np.linalg.norm(g))
        assert row["max_abs"] == pytest.approx(np.abs(g).max())
        assert row["update_ratio"] is None
    assert [v["kind"] for v in stats.verdicts] == ["ok"]
    assert "0.weight" in stats.report() and "all 3 layers" in stats.report()


def test_gradient_stats_flags_a_vanishing_layer_by_name():
    model = _mlp()
    _backward(model)
    model[2].weight.grad.data *= 1e-6
    model[2].bias.grad.data *= 1e-6
    stats = gradient_stats(model)
    assert stats.flagged == {"2": "vanishing"}
    assert "layer '2'" in stats.report() and "vanishing gradient" in stats.report()
    assert "across depth" not in stats.report()  # the ends are comparable


def test_gradient_stats_names_the_depth_trend_of_a_deep_sigmoid_net():
    layers = []
    for _ in range(12):
        layers += [nn.Linear(8, 8, weight_init="normal"), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    model(x).sum().backward()
    stats = gradient_stats(model)
    assert stats.flagged.get("0") == "vanishing"
    (trend,) = [v for v in stats.verdicts if v["kind"] == "depth-vanishing"]
    assert "first layer '0'" in trend["text"] and "last layer '22'" in trend["text"]


def test_gradient_stats_flags_exploding_nonfinite_and_missing():
    model = _mlp()
    _backward(model)
    model[4].weight.grad.data *= 1e6
    model[4].bias.grad.data *= 1e6
    assert gradient_stats(model).flagged == {"4": "exploding"}
    model[0].weight.grad.data[0, 0] = np.nan
    model[2].weight.grad = None
    model[2].bias.grad = None
    flagged = gradient_stats(model).flagged
    assert flagged["0"] == "non-finite" and flagged["2"] == "no gradient"


def test_gradient_stats_update_ratio_after_sgd_step():
    model = _mlp()
    _backward(model)
    before = snapshot(model)
    stats = after_step(model, mg.optim.SGD(model.parameters(), lr=0.1))
    for row, (name, p) in zip(stats, model.named_parameters()):
        expected = 0.1 * np.linalg.norm(p.grad.data) / max(np.linalg.norm(before[name]),
                                                           1e-12)
        assert row["update_ratio"] == pytest.approx(expected, rel=1e-4)


def test_gradient_stats_accepts_tensors_and_checks_thresholds():
    w = mg.Tensor(np.ones(3), requires_grad=True)
    (w * 2).sum().backward()
    (row,) = gradient_stats([w])
    assert row["name"] == "0" and row["norm"] == pytest.approx(2 * np.sqrt(3))
    with pytest.raises(ValueError, match="vanish > 0"):
        gradient_stats([w], vanish=0)
    with pytest.raises(TypeError, match="item 0"):
        gradient_stats([np.ones(3)])


def test_activation_monitor_layer_forced_dead_is_100_percent_dead():
    model = _mlp()
    with mg.no_grad():
        model[2].bias.data[...] = -1e3  # every pre-activation of layer 3 is negative
    x = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    first_means = [model[0](x[i * 8:(i + 1) * 8]).data.mean() for i in range(3)]
    mon = ActivationMonitor(model)
    for i in range(3):
        model(x[i * 8:(i + 1) * 8])
    assert len(mon.batches("3")) == 3
    epoch = mon.end_epoch()
    assert epoch["3"]["dead"] == 1.0 and epoch["3"]["zeros"] == 1.0
    assert epoch["1"]["dead"] < 0.5
    assert epoch["0"]["mean"] == pytest.approx(np.mean(first_means), rel=1e-5)
    table = mon.table()
    assert "100.0%" in table and "ReLU" in table
    mon.remove()
    model(x)
    assert mon.current() == {}  # hooks detached


def test_activation_monitor_saturation_by_type_and_eval_skipped(tmp_path):
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 6), nn.Sigmoid())
    with mg.no_grad():
        model[0].weight.data *= 100  # drive tanh into its flat tails
    mon = ActivationMonitor(model, layers=(nn.Tanh, nn.Sigmoid))
    assert [n for n, _ in mon.layers] == ["1", "3"]
    x = np.random.default_rng(2).normal(size=(64, 4)).astype(np.float32)
    model(x)
    model.eval()  # passes in eval mode (validation) are not recorded by default
    y = model[1](model[0](x)).data
    model(x * 0)
    model.train()
    s = mon.end_epoch()
    assert s["1"]["saturated"] == pytest.approx((np.abs(y) > 0.99).mean())
    assert s["1"]["saturated"] > 0.8 and s["1"]["batches"] == 1
    assert 0.0 <= s["3"]["saturated"] <= 1.0
    path = mon.plot(tmp_path / "act.png")
    assert path.stat().st_size > 1000


def test_activation_monitor_callback_closes_epochs_and_logs_dead_fraction():
    model = _mlp()
    with mg.no_grad():
        model[0].bias.data[...] = -1e3
    mon = ActivationMonitor(model, layers=["1", "3"])
    cb = mon.callback()
    x = np.ones((4, 4), np.float32)
    for epoch in range(2):
        cb.on_epoch_begin(epoch, {})
        model(x)
        logs = {}
        cb.on_epoch_end(epoch, logs)
        assert logs["dead_units_max"] == 1.0
    assert len(mon.epochs) == 2


def test_activation_monitor_errors():
    model = _mlp()
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        ActivationMonitor(model, layers=["nope"])
    with pytest.raises(TypeError, match="expected a Module"):
        ActivationMonitor(object())
    with pytest.raises(RuntimeError, match="nothing recorded"):
        ActivationMonitor(model).plot("unused.png")


def test_activation_monitor_callback_in_fit_records_every_epoch_into_history():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = _mlp()
    with mg.no_grad():
        model[2].bias.data[...] = -1e3  # layer "3" (ReLU) dead: half the activations
    mon = ActivationMonitor(model)
    history = mg.train.fit(model, x, y, loss="cross_entropy",
                           optimizer=mg.optim.SGD(model.parameters(), lr=0.01), epochs=2,
                           batch_size=16, validation_split=0.25, callbacks=[mon.callback()],
                           verbose=0)
    assert len(mon.epochs) == 2
    assert all(e["3"]["dead"] == 1.0 and e["3"]["batches"] == 3 for e in mon.epochs)
    assert history.history["dead_units_max"] == [1.0, 1.0]
    assert history.history["dead_units"][0] == pytest.approx(
        (mon.epochs[0]["1"]["dead"] + 1.0) / 2)
