"""mg.save_model / mg.load_model: MLP, CNN and BN models round-trip with identical
outputs; custom modules take part through register_module / get_config; unknown
classes, bad configs and crafted files fail with a ValueError and never run code."""
import json
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, serialization
from minigrad.model_io import MODEL_FORMAT, read_model
from minigrad.nn.config import from_data, to_data


def _x(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8, kernel_regularizer=nn.regularizers
                                                 .L2(0.01)), nn.LeakyReLU(0.2),
                         nn.Dropout(0.3), nn.Linear(8, 3, bias=False), nn.Softmax())


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, (3, 3), stride=1, padding=1), nn.GELU("tanh"),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 2))


def _bn():
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3, momentum=0.2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(3 * 2 * 2, 5), nn.BatchNorm1d(5, eps=1e-3),
                         nn.PReLU(), nn.Linear(5, 2))


@pytest.mark.parametrize("build, shape", [(_mlp, (4, 3, 4)), (_cnn, (4, 1, 4, 4)),
                                          (_bn, (4, 1, 4, 4))], ids=["mlp", "cnn", "bn"])
def test_model_io_round_trip_gives_same_outputs(tmp_path, build, shape):
    mg.manual_seed(0)
    model = build()
    model(_x(shape, 0))  # a training step's forward moves the BN running statistics
    model.eval()
    path = tmp_path / "model.mgm"
    mg.save_model(model, path)
    assert os.listdir(tmp_path) == ["model.mgm"]
    mg.manual_seed(99)   # the rebuilt layers draw other initial weights: all overwritten
    loaded = mg.load_model(path).eval()
    assert repr(loaded) == repr(model)
    x = _x(shape)
    a, b = model(x).data, loaded(x.astype(np.float32)).data
    np.testing.assert_array_equal(a, b)
    for (k, va), vb in zip(model.state_dict().items(), loaded.state_dict().values()):
        np.testing.assert_array_equal(va, vb, err_msg=k)
        assert va.dtype == vb.dtype, k


def test_model_io_keeps_constructor_arguments():
    back = from_data(json.loads(json.dumps(to_data(_bn()))))
    assert from_data(to_data(nn.Linear(2, 3, dtype=np.float64))).weight.dtype == np.float64
    assert back[1].momentum == 0.2 and back[5].eps == 1e-3
    assert back[0].padding == (0, 0) and back[0].kernel_size == (3, 3)


def test_model_io_normalization_keeps_adapted_statistics(tmp_path):
    norm = nn.Normalization().adapt(_x((50, 6)) * 3 + 1)
    model = nn.Sequential(norm, nn.Linear(6, 2))
    mg.save_model(model, tmp_path / "n.mgm")
    x = _x((3, 6))
    np.testing.assert_array_equal(mg.load_model(tmp_path / "n.mgm")(x).data, model(x).data)


@nn.register_module
class Scaled(nn.Module):
    """A user's module with a child and a float: its constructor arguments are its
    config, nothing else to write."""

    def __init__(self, inner, factor=2.0):
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, x):
        return self.inner(x) * self.factor


class Unregistered(nn.Module):
    def forward(self, x):
        return x


@nn.register_module
class WithOwnConfig(nn.Module):
    """A module whose state is not its constructor arguments overrides the protocol."""

    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])

    def get_config(self):
        return {"sizes": [self.layers[0].in_features] + [m.out_features
                                                        for m in self.layers]}

    @classmethod
    def from_config(cls, config):
        return cls(config["sizes"])

    def forward(self, x):
        return self.layers(x)


def test_model_io_custom_modules_take_part(tmp_path):
    model = nn.Sequential(Scaled(nn.Linear(3, 4), factor=0.5), WithOwnConfig([4, 5, 2]))
    mg.save_model(model, tmp_path / "c.mgm")
    x = _x((2, 3))
    loaded = mg.load_model(tmp_path / "c.mgm")
    assert isinstance(loaded[0], Scaled) and loaded[0].factor == 0.5
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_model_io_unregistered_class_or_lambda_refuses_to_save(tmp_path):
    with pytest.raises(TypeError, match=r"Unregistered.*register_module"):
        mg.save_model(nn.Sequential(Unregistered()), tmp_path / "u.mgm")
    with pytest.raises(TypeError, match=r"weight_init.*lambda|cannot store"):
        mg.save_model(nn.Linear(2, 2, weight_init=lambda s, dtype: np.zeros(s, dtype)),
                      tmp_path / "u.mgm")
    assert os.listdir(tmp_path) == []


def _write_model_file(path, architecture, weights=None):
    serialization.save({"format": MODEL_FORMAT, "architecture": json.dumps(architecture),
                        "weights": weights or {}, "extra": {}}, path)


def test_model_io_unknown_class_names_it(tmp_path):
    _write_model_file(tmp_path / "x.mgm", {"class": "Sequential", "config": {"modules": {
        "tuple": [{"class": "Transformer9000", "config": {}}]}}})
    with pytest.raises(ValueError, match=r"unknown class 'Transformer9000' at "
                                         r"model\.Sequential\(modules=\.\.\.\)\[0\]"):
        mg.load_model(tmp_path / "x.mgm")


@pytest.mark.parametrize("arch, match", [
    ({"class": "os.system", "config": {"command": "touch PWNED"}}, "unknown class"),
    ({"class": "__import__", "config": {"name": "os"}}, "unknown class"),
    ({"class": "Linear", "config": {"in_features": "3; import os", "out_features": 2}},
     "cannot rebuild Linear"),
    ({"class": "Linear", "config": {"in_features": 3, "out_features": 2,
                                    "weight_init": "os.system"}}, "cannot rebuild Linear"),
    ({"class": "Linear", "config": {"in_features": 3, "out_features": 2,
                                    "dtype": {"dtype": "object"}}}, "malformed"),
    ({"class": "Linear", "config": {"__class__": 1, "in_features": 3}}, "cannot rebuild"),
    ({"class": "Linear", "config": {"in_features": 3, "out_features": 2}}, "do not fit"),
    ({"class": "Sigmoid", "config": []}, "must be a dict"),
], ids=["os.system", "import", "str-arg", "init-name", "object-dtype", "dunder-kwarg",
        "missing-weights", "config-list"])
def test_model_io_crafted_file_cannot_run_code(tmp_path, monkeypatch, arch, match):
    monkeypatch.chdir(tmp_path)
    _write_model_file(tmp_path / "evil.mgm", arch)
    with pytest.raises(ValueError, match=match):
        mg.load_model(tmp_path / "evil.mgm")
    assert not (tmp_path / "PWNED").exists()


def test_model_io_deep_architecture_raises_value_error(tmp_path):
    serialization.save({"format": MODEL_FORMAT, "weights": {}, "extra": {},
                        "architecture": '{"class": "Sequential", "config": ' * 3000},
                       tmp_path / "deep.mgm")
    with pytest.raises(ValueError, match="nests .* levels deep"):
        mg.load_model(tmp_path / "deep.mgm")


def test_model_io_foreign_state_file_is_refused(tmp_path):
    mg.save(nn.Linear(2, 2).state_dict(), tmp_path / "sd.ckpt")
    with pytest.raises(ValueError, match=r"not a model written by save_model.*mg\.load"):
        mg.load_model(tmp_path / "sd.ckpt")
    with pytest.raises(FileNotFoundError):
        mg.load_model(tmp_path / "missing.mgm")


def test_model_io_extra_state_round_trips(tmp_path):
    model = nn.Linear(3, 2)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    model(_x((4, 3))).sum().backward()
    opt.step()
    mg.save_model(model, tmp_path / "m.mgm", extra={"optimizer": opt.state_dict(),
                                                    "epoch": 3})
    loaded, extra = read_model(tmp_path / "m.mgm")
    assert extra["epoch"] == 3
    opt2 = mg.optim.Adam(loaded.parameters(), lr=0.5)
    opt2.load_state_dict(extra["optimizer"])
    assert opt2.lr == 0.01 and opt2.iterations == 1


def test_model_io_fused_batchnorm_model_round_trips(tmp_path):
    """fuse_batchnorm gives a bias-free Linear a bias: the config follows the layer."""
    model = nn.Sequential(nn.Linear(4, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU(),
                          nn.Linear(5, 2))
    model(_x((8, 4)))
    fused = nn.fuse_batchnorm(model.eval())
    mg.save_model(fused, tmp_path / "f.mgm")
    x = _x((3, 4))
    np.testing.assert_array_equal(mg.load_model(tmp_path / "f.mgm").eval()(x).data,
                                  fused(x).data)


def test_model_io_unknown_class_says_where_it_was_defined(tmp_path):
    model = nn.Sequential(Scaled(nn.Linear(2, 2)))
    mg.save_model(model, tmp_path / "s.mgm")
    registry = nn.config._REGISTRY
    saved = registry.pop("Scaled")
    try:
        with pytest.raises(ValueError, match=r"unknown class 'Scaled' .*defined in "
                                             r"test_model_io: import that first"):
            mg.load_model(tmp_path / "s.mgm")
    finally:
        registry["Scaled"] = saved
