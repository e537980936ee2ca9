"""The GEMM floor of the train benchmark counts exactly the GEMMs a training step makes."""
import numpy as np
import pytest

import minigrad as mg
from benchmarks.gemm_floor import epoch_batches, gemm_floor, linear_gemms, linear_only
from minigrad.cli import build_model


def _traced_step(model, batch, monkeypatch):
    """(a.shape, b.shape, trans_a, trans_b) of every GEMM the backend runs in one
    training step of model on `batch` rows."""
    kernels, calls = mg.backend.current(), []
    real = kernels.matmul

    def matmul(a, b, trans_a=False, trans_b=False):
        calls.append((a.shape, b.shape, bool(trans_a), bool(trans_b)))
        return real(a, b, trans_a, trans_b)
    monkeypatch.setattr(kernels, "matmul", matmul)
    x = np.random.default_rng(0).integers(0, 256, (batch, 1, 28, 28)).astype(np.float32)
    y = np.arange(batch) % 10
    mg.nn.functional.cross_entropy(model(mg.tensor(x)), y).backward()
    return calls


@pytest.mark.parametrize("name", ["mlp", "mlp-bn"])
@pytest.mark.parametrize("batch", [2, 7, 128])
def test_linear_gemms_match_a_traced_training_step(name, batch, monkeypatch):
    model = build_model(name, "glorot_uniform", 72.9, 90.0)
    assert linear_only(model)
    assert linear_gemms(model, batch) == _traced_step(model, batch, monkeypatch)


def test_linear_gemms_frozen_first_layer_skips_its_dw(monkeypatch):
    model = build_model("mlp", "glorot_uniform", 72.9, 90.0)
    first = next(m for m in model.modules() if isinstance(m, mg.nn.Linear))
    first.weight.requires_grad = first.bias.requires_grad = False
    expected = _traced_step(model, 5, monkeypatch)
    # forward 3; backward: dx and dw of the last, dw only of the middle (nothing
    # before it is trained)
    assert len(expected) == 3 + 3
    assert linear_gemms(model, 5) == expected


def test_linear_only_cnn_is_not_covered():
    assert not linear_only(build_model("cnn", "glorot_uniform", 72.9, 90.0))
    with pytest.raises(ValueError, match="no Linear layer"):
        linear_gemms(mg.nn.Sequential(mg.nn.ReLU()), 4)


@pytest.mark.parametrize("n, expected", [(60000, {128: 468, 96: 1}), (256, {128: 2}),
                                         (50, {50: 1})])
def test_epoch_batches_match_fit(n, expected):
    assert epoch_batches(n, 128) == expected
    if n <= 256:  # fit's own batching, on the small cases
        sizes = []

        class Sizes(mg.train.Callback):
            def on_batch_end(self, batch, logs=None):
                sizes.append(logs["size"])
        model = build_model("mlp", "glorot_uniform", 72.9, 90.0)
        mg.train.fit(model, np.zeros((n, 1, 28, 28), np.uint8), np.arange(n) % 10,
                     loss="cross_entropy", verbose=0,
                     optimizer=mg.optim.SGD(model.parameters(), lr=0.0), batch_size=128,
                     callbacks=[Sizes()])
        assert {b: sizes.count(b) for b in set(sizes)} == expected


def test_gemm_floor_is_positive_and_scales_with_steps():
    model = build_model("mlp", "glorot_uniform", 72.9, 90.0)
    one = gemm_floor(model, 128, 128, rounds=3, budget=0.05)
    many = gemm_floor(model, 128 * 20, 128, rounds=3, budget=0.05)
    assert all(0 < a < b for a, b in zip(one, many))  # wall and CPU seconds
