"""mg.save / mg.load: round trips of state dicts and nested values, atomic writes,
clear errors for truncated, corrupted and foreign files; PyTorch state dicts load."""
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from helpers import assert_close, to_torch, torch


def _model():
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))


def test_state_dict_round_trip_through_save_load(tmp_path):
    a = _model()
    a(np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(np.float32))
    path = tmp_path / "model.ckpt"
    mg.save(a.state_dict(), path)
    assert os.listdir(tmp_path) == ["model.ckpt"]  # exactly path, no temp left behind
    loaded = mg.load(str(path))
    assert list(loaded) == list(a.state_dict())
    b = _model()
    b.load_state_dict(loaded)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va, vb, err_msg=k)
        assert va.dtype == vb.dtype
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(a.eval()(x).data, b.eval()(x).data)


def test_nested_values_round_trip(tmp_path):
    state = {
        "model": {"w": np.arange(6, dtype=np.float64).reshape(2, 3)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": mg.Tensor([1.0, 2.0])}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "amsgrad": False, "name": None}]},
        "epoch": 7, "best": float("inf"), "note": "ünïcode", "flags": np.array([True, False]),
        "count": np.int64(5), "empty": np.zeros((0, 3), dtype=np.float32),
        "zero_d": np.array(2.5), "strided": np.arange(12.0).reshape(3, 4).T,
    }
    path = tmp_path / "state.bin"
    mg.save(state, path)
    got = mg.load(path)
    np.testing.assert_array_equal(got["model"]["w"], state["model"]["w"])
    assert got["model"]["w"].dtype == np.float64
    exp_avg = got["optimizer"]["state"][0]["exp_avg"]
    assert isinstance(exp_avg, mg.Tensor) and exp_avg.tolist() == [1.0, 2.0]
    assert got["optimizer"]["state"][0]["step"] == 3  # int keys stay ints
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert got["optimizer"]["param_groups"][0]["name"] is None
    assert got["epoch"] == 7 and got["best"] == float("inf") and got["note"] == "ünïcode"
    assert got["flags"].dtype == bool and got["count"] == 5 and isinstance(got["count"],
                                                                          np.int64)
    assert got["empty"].shape == (0, 3)
    assert got["zero_d"].shape == () and got["zero_d"] == 2.5
    np.testing.assert_array_equal(got["strided"], state["strided"])


def test_save_replaces_atomically_and_rejects_unstorable_values(tmp_path):
    path = tmp_path / "ckpt"
    mg.save({"v": np.ones(3)}, path)
    with pytest.raises(TypeError, match=r"cannot store state\['bad'\] of type object"):
        mg.save({"v": np.zeros(3), "bad": object()}, path)
    np.testing.assert_array_equal(mg.load(path)["v"], np.ones(3))  # old file intact
    assert os.listdir(tmp_path) == ["ckpt"]
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        mg.save({(1, 2): 3}, path)
    with pytest.raises(TypeError, match="dtype object"):
        mg.save({"o": np.array([None])}, path)


def test_truncated_file_raises_clear_error(tmp_path):
    path = tmp_path / "model.ckpt"
    mg.save(_model().state_dict(), path)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 30):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"{path}.*truncated or corrupted"):
            mg.load(path)


def test_corrupted_and_foreign_files_raise_clear_errors(tmp_path):
    path = tmp_path / "model.ckpt"
    mg.save({"w": np.ones(100)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        mg.load(path)
    foreign = tmp_path / "weights.npz"
    np.savez(foreign, w=np.ones(3))
    with pytest.raises(ValueError, match=f"{foreign} is not a minigrad state file"):
        mg.load(foreign)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="not a minigrad state file"):
        mg.load(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing")


def test_newer_format_version_is_refused(tmp_path):
    import struct
    path = tmp_path / "future"
    mg.save({"a": 1}, path)
    data = bytearray(path.read_bytes())
    data[8:12] = struct.pack("<I", 99)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="format version 99"):
        mg.load(path)


def test_pytorch_state_dict_with_batchnorm_loads_directly():
    t = torch()
    t.manual_seed(0)
    theirs = t.nn.Sequential(t.nn.Flatten(), t.nn.Linear(12, 8), t.nn.BatchNorm1d(8),
                             t.nn.ReLU(), t.nn.Linear(8, 3))
    x = np.random.default_rng(2).standard_normal((16, 3, 4)).astype(np.float32)
    theirs.train()
    theirs(to_torch(x))  # running statistics move away from their defaults
    theirs.eval()
    ours = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Linear(8, 3))
    sd = theirs.state_dict()
    assert "2.num_batches_tracked" in sd
    ours.load_state_dict(sd)
    ours.eval()
    assert_close(ours(x), theirs(to_torch(x)), rtol=1e-5, atol=1e-6)


def test_checkpoint_of_model_and_optimizer_resumes(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    x = np.random.default_rng(3).standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c")
    ckpt = mg.load(tmp_path / "c")
    twin = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    twin.load_state_dict(ckpt["model"])
    opt2 = mg.optim.Adam(twin.parameters(), lr=0.01)
    opt2.load_state_dict(ckpt["optimizer"])
    for m, o in ((model, opt), (twin, opt2)):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)
