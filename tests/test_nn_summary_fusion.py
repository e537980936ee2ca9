"""summary(): table and counts (the BN MLP of the issue); fuse_batchnorm(): equal outputs
for Linear+BN1d and Conv2d+BN2d, original untouched, and faster inference."""
import time

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def bn_mlp():
    return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784), nn.Linear(784, 300),
                         nn.BatchNorm1d(300), nn.Linear(300, 100), nn.BatchNorm1d(100),
                         nn.Linear(100, 10))


def _warm_bn(model, x, steps=3):
    """A few training steps so the running statistics are not the defaults."""
    model.train()
    for _ in range(steps):
        model(x)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data[...] = np.random.default_rng(0).uniform(0.5, 1.5, m.num_features)
            m.bias.data[...] = np.random.default_rng(1).standard_normal(m.num_features)


def test_summary_of_bn_mlp_reports_issue_counts():
    model = bn_mlp()
    text = nn.summary(model, (1, 28, 28))
    assert "Total params: 271,346" in text
    assert "Trainable params: 268,978" in text
    assert "Non-trainable params: 2,368" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(" ") and "(" in line]
    assert rows[1][:2] == ["0", "(Flatten)"] and rows[1][-1] == "0"
    assert rows[2][1] == "(BatchNorm1d)" and rows[2][-1] == "3,136"
    assert rows[3][1] == "(Linear)" and "(None, 300)" in " ".join(rows[3])
    assert rows[-1][-1] == "1,010"
    assert nn.count_parameters(model) == (271346, 268978, 2368)


def test_summary_leaves_modes_and_statistics_unchanged_and_counts_frozen(capsys):
    model = bn_mlp()
    model[2].freeze()
    before = model[1].running_mean.data.copy()
    text = nn.summary(model, (784,))
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_array_equal(model[1].running_mean.data, before)
    assert "Trainable params: 33,478" in text and "Non-trainable params: 237,868" in text
    model.summary((784,))
    assert "Total params: 271,346" in capsys.readouterr().out


def test_summary_of_cnn_shows_output_shapes():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    text = nn.summary(model, (1, 28, 28))
    assert "(None, 8, 28, 28)" in text and "(None, 8, 14, 14)" in text
    assert "(None, 1568)" in text and f"Total params: {80 + 15690:,}" in text


def test_fuse_linear_bn1d_equal_outputs_and_original_untouched():
    mg.manual_seed(1)
    model = bn_mlp()
    x = np.random.default_rng(2).standard_normal((64, 1, 28, 28)).astype(np.float32)
    _warm_bn(model, x)
    state = model.state_dict()
    fused = nn.fuse_batchnorm(model)
    model.eval()
    with mg.no_grad():
        ref, out = model(x).data, fused(x).data
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in fused.modules())
    assert not fused.training
    for k, v in model.state_dict().items():  # the original keeps its weights
        np.testing.assert_array_equal(v, state[k])


def test_fuse_conv_bn2d_equal_outputs_float64():
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False, dtype=np.float64),
                          nn.BatchNorm2d(6, dtype=np.float64), nn.ReLU(),
                          nn.Conv2d(6, 4, 3, stride=2, dtype=np.float64),
                          nn.BatchNorm2d(4, dtype=np.float64))
    x = mg.Tensor(np.random.default_rng(3).standard_normal((5, 3, 9, 9)), dtype=np.float64)
    _warm_bn(model, x)
    fused = nn.fuse_batchnorm(model)
    model.eval()
    np.testing.assert_allclose(fused(x).data, model(x).data, rtol=1e-10, atol=1e-12)
    assert fused[0].bias is not None  # a bias was created for the folded shift
    assert [type(m).__name__ for m in fused] == ["Conv2d", "Identity", "ReLU", "Conv2d",
                                                 "Identity"]


def test_fuse_keeps_bn_that_follows_no_foldable_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2))
    fused = nn.fuse_batchnorm(model)
    assert isinstance(fused[2], nn.BatchNorm2d)


def _best_times(fns, rounds=25):
    """Best-of-rounds time of each fn, interleaved so that load from other processes
    hits them alike (the minimum is the least disturbed run)."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


@pytest.mark.slow
def test_fused_bn_mlp_is_faster_at_inference():
    model = bn_mlp()
    x = np.random.default_rng(4).standard_normal((1000, 1, 28, 28)).astype(np.float32)
    _warm_bn(model, x[:128])
    fused = nn.fuse_batchnorm(model)
    model.eval()
    with mg.no_grad():
        for m in (model, fused):
            m(x)  # warm-up
        unfused_t, fused_t = _best_times([lambda: model(x), lambda: fused(x)])
    print(f"\nBN MLP inference, batch 1000, backend {mg.backend.get_backend()}, "
          f"{mg.get_num_threads()} threads (best of 25): unfused {unfused_t * 1e3:.2f} ms, "
          f"fused {fused_t * 1e3:.2f} ms, speed-up {unfused_t / fused_t:.2f}x")
    assert fused_t < unfused_t


def test_fuse_folds_leading_bn_forward_only_after_flatten():
    x = np.random.default_rng(5).standard_normal((16, 2, 3)).astype(np.float32)
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(6), nn.Linear(6, 4))
    _warm_bn(model, x)
    fused = nn.fuse_batchnorm(model)
    assert isinstance(fused[1], nn.Identity)
    np.testing.assert_allclose(fused(x).data, model.eval()(x).data, rtol=1e-5, atol=1e-5)
    # without a Flatten before it, BN1d may see (N, C, L) and act on another axis
    kept = nn.fuse_batchnorm(nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 2)))
    assert isinstance(kept[0], nn.BatchNorm1d)


def test_summary_with_flops_lists_multiply_adds():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 28 * 28, 10))
    text = nn.summary(model, (1, 28, 28), flops=True)
    # conv: 8 filters * 9 taps * 28 * 28 positions; linear: 6272 * 10
    assert "56,448" in text and "62,720" in text
    assert "Total multiply-adds per sample: 119,168" in text
    assert "MACs" not in nn.summary(model, (1, 28, 28))
