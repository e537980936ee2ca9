"""The Keras workflow on Module: compile / fit / evaluate / predict with optimizers
and losses by name, layers / get_layer / name, get_weights / set_weights, build and
summary() without a shape."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def _blobs(n=96, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.standard_normal((n, 4)) + 2.5 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def _mlp():
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def test_keras_workflow_compile_fit_evaluate_predict_equals_mg_train():
    x, y = _blobs()
    a, b = _mlp(), _mlp()
    a.compile(optimizer=mg.optim.SGD(a.parameters(), lr=0.1), loss="cross_entropy",
              metrics=["accuracy"])
    ha = a.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=1)
    hb = mg.train.fit(b, x, y, loss="cross_entropy", epochs=3, batch_size=16, verbose=0,
                      seed=1, optimizer=mg.optim.SGD(b.parameters(), lr=0.1))
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    loss, acc = a.evaluate(x, y, verbose=0)
    logs = mg.train.evaluate(b, x, y, loss="cross_entropy")
    assert loss == pytest.approx(logs["loss"], rel=1e-6) and acc == logs["accuracy"]
    assert a.evaluate(x, y, return_dict=True) == pytest.approx(logs)
    np.testing.assert_allclose(a.predict(x), mg.train.predict(b, x), rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "Adam"])
def test_keras_workflow_optimizer_by_name_trains(name):
    x, y = _blobs()
    model = _mlp()
    model.compile(optimizer=name, loss="cross_entropy",
                  metrics=["sparse_categorical_accuracy"])
    hist = model.fit(x, y, epochs=4, verbose=0, seed=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert "accuracy" in hist.history


def test_optimizer_by_name_has_keras_defaults():
    p = [mg.Tensor(np.zeros(3), requires_grad=True)]
    adam = mg.optim.by_name.get("adam", p)
    assert isinstance(adam, mg.optim.Adam)
    assert adam.defaults["eps"] == 1e-7 and adam.lr == pytest.approx(1e-3)
    rms = mg.optim.by_name.get("rmsprop", p)
    assert rms.defaults["alpha"] == 0.9 and rms.lr == pytest.approx(1e-3)
    assert mg.optim.by_name.get("adagrad", p).defaults["initial_accumulator_value"] == 0.1
    assert mg.optim.by_name.get("sgd", p, lr=0.5).lr == 0.5
    assert mg.optim.by_name.get(adam, p) is adam


def test_fit_accepts_optimizer_name_and_rejects_bad_ones_at_the_call():
    x, y = _blobs()
    model = _mlp()
    hist = mg.train.fit(model, x, y, loss="cross_entropy", optimizer="adam", epochs=1,
                        verbose=0)
    assert len(hist.history["loss"]) == 1
    with pytest.raises(ValueError, match=r"fit: unknown optimizer 'adamm'; choose one of"):
        mg.train.fit(model, x, y, loss="cross_entropy", optimizer="adamm", verbose=0)
    with pytest.raises(TypeError, match=r"fit: optimizer must be a name .* got int"):
        mg.train.fit(model, x, y, loss="cross_entropy", optimizer=3, verbose=0)


def test_compile_checks_everything_at_compile_time():
    model = _mlp()
    with pytest.raises(ValueError, match="compile: unknown loss 'crossentropyy'"):
        model.compile(optimizer="adam", loss="crossentropyy")
    with pytest.raises(ValueError, match="compile: unknown metric 'auc'"):
        model.compile(optimizer="adam", loss="mse", metrics=["auc"])
    with pytest.raises(ValueError, match="compile: unknown optimizer 'nope'"):
        model.compile(optimizer="nope", loss="mse")
    with pytest.raises(ValueError, match="compile: loss is required"):
        model.compile(optimizer="adam")
    with pytest.raises(RuntimeError, match=r"call model.compile\(optimizer=..., loss=...\)"):
        _mlp().fit(*_blobs())


def test_keras_workflow_with_softmax_output_and_one_hot_targets():
    x, y = _blobs()
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax())
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, mg.data.to_categorical(y, 3), epochs=40, verbose=0, seed=0,
                     validation_split=0.25)
    assert hist.history["val_accuracy"][-1] > 0.6
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_layers_get_layer_and_names():
    model = _mlp()
    assert model.layers == list(model.children())
    assert [m.name for m in model.layers] == ["linear", "re_lu", "linear"]
    assert model.get_layer("linear_1") is model[2]
    assert model.get_layer("linear") is model[0]
    assert model.get_layer("1") is model[1]  # PyTorch child name
    assert model.get_layer(index=-1) is model[2]
    model[2].name = "logits"
    assert model.get_layer("logits") is model[2]
    assert nn.BatchNorm2d(3).name == "batch_norm2d"
    with pytest.raises(ValueError, match=r"no layer named 'dense'; layers are"):
        model.get_layer("dense")
    with pytest.raises(ValueError, match="exactly one of name or index"):
        model.get_layer()


def test_get_weights_and_set_weights_round_trip():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (3,), (3,), (3,), (3,), (3,)]
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    other.set_weights([w + 1 for w in weights])
    for a, b in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(a, b + 1)
    weights[0][...] = 99  # copies: the model is untouched
    assert not np.any(model[0].weight.data == 99)
    with pytest.raises(ValueError, match="set_weights: the model has 6 weight arrays"):
        other.set_weights(weights[:2])
    with pytest.raises(ValueError, match="mis-shaped"):
        other.set_weights([np.zeros((4, 3))] + weights[1:])


def test_summary_without_shape_after_data_or_build(capsys):
    model = _mlp()
    with pytest.raises(RuntimeError, match=r"summary: the input shape is unknown"):
        model.summary()
    model.build((None, 4))
    model.summary()
    assert "Total params: 131" in capsys.readouterr().out
    fresh = _mlp()
    fresh.predict(np.zeros((5, 4), np.float32))
    fresh.summary()
    assert "(None, 3)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="build: input_shape needs a batch axis"):
        fresh.build((4,))
