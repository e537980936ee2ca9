"""Layers: forward and every gradient vs PyTorch (float64, weights copied across) in
training and eval mode; running statistics; dropout; shape layers; Normalization;
input-shape errors that name the layer and both shapes."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from helpers import assert_close, to_torch, torch

F64 = np.float64


def _compare(ours, theirs, x, training=True, rtol=1e-9, atol=1e-11):
    """Copy our weights into the torch module, run both, compare y, dx and all grads,
    then the buffers (running statistics after the step)."""
    t = torch()
    theirs.double()
    theirs.load_state_dict({k: t.tensor(v) for k, v in ours.state_dict().items()},
                           strict=False)
    ours.train(training)
    theirs.train(training)
    xm = mg.Tensor(x, dtype=F64, requires_grad=True)
    y = ours(xm)
    dy = np.random.default_rng(8).standard_normal(y.shape)
    y.backward(dy)
    xt = to_torch(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(t.tensor(dy))
    assert_close(y, yt, rtol, atol, "forward")
    assert_close(xm.grad, xt.grad, rtol, atol, "dx")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, tparams[name].grad, rtol, atol, f"d{name}")
    tbufs = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        assert_close(b, tbufs[name], rtol, atol, name)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_linear_matches_torch(training):
    t = torch()
    x = np.random.default_rng(0).standard_normal((6, 5))
    _compare(nn.Linear(5, 3, dtype=F64), t.nn.Linear(5, 3), x, training)
    _compare(nn.Linear(5, 3, bias=False, dtype=F64), t.nn.Linear(5, 3, bias=False), x,
             training)


CONV_CASES = [
    dict(k=3, stride=1, padding=0), dict(k=3, stride=2, padding=1),
    dict(k=(3, 2), stride=(2, 1), padding=(1, 0)), dict(k=3, stride=1, padding="same"),
    dict(k=4, stride=1, padding="same"), dict(k=(2, 5), stride=1, padding="same"),
    dict(k=3, stride=2, padding="valid"), dict(k=1, stride=1, padding=0),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(c) for c in CONV_CASES])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(case, bias):
    t = torch()
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8))
    ours = nn.Conv2d(3, 4, case["k"], case["stride"], case["padding"], bias=bias, dtype=F64)
    theirs = t.nn.Conv2d(3, 4, case["k"], case["stride"], case["padding"], bias=bias)
    _compare(ours, theirs, x)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_pooling_matches_torch(kind, kernel, stride):
    t = torch()
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 9))
    ours = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(kernel, stride)
    theirs = (t.nn.MaxPool2d if kind == "max" else t.nn.AvgPool2d)(kernel, stride)
    _compare(ours, theirs, x)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(8, 4), (8, 4, 5)], ids=["NC", "NCL"])
def test_batchnorm1d_matches_torch(training, shape):
    t = torch()
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2 + 1
    ours = nn.BatchNorm1d(4, momentum=0.3, dtype=F64)
    ours.weight.data[...] = rng.uniform(0.5, 1.5, 4)
    ours.bias.data[...] = rng.standard_normal(4)
    ours.running_mean.data[...] = rng.standard_normal(4)
    ours.running_var.data[...] = rng.uniform(0.5, 2, 4)
    _compare(ours, t.nn.BatchNorm1d(4, momentum=0.3), x, training)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm2d_matches_torch_over_several_steps(training):
    t = torch()
    rng = np.random.default_rng(4)
    ours, theirs = nn.BatchNorm2d(3, dtype=F64), t.nn.BatchNorm2d(3)
    for step in range(3):
        x = rng.standard_normal((4, 3, 5, 5)) * (step + 1)
        _compare(ours, theirs, x, training)
        ours.zero_grad()
        theirs.zero_grad()


def test_batchnorm_running_var_is_unbiased():
    bn = nn.BatchNorm1d(1, momentum=1.0)
    x = np.array([[1.0], [2.0], [4.0]], dtype=np.float32)
    bn(x)
    assert bn.running_var.item() == pytest.approx(np.var(x, ddof=1))
    assert bn.running_mean.item() == pytest.approx(7 / 3)


def test_dropout_is_inverted_seeded_and_identity_in_eval():
    d = nn.Dropout(0.25)
    x = mg.Tensor(np.ones((400, 250)), requires_grad=True)
    mg.manual_seed(3)
    y = d(x)
    kept = y.data != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # the same mask scales the gradient
    mg.manual_seed(3)
    np.testing.assert_array_equal(d(x).data, y.data)
    d.eval()
    assert d(x) is x
    assert np.all(nn.Dropout(1.0)(x).data == 0)
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_shape_layers():
    x = mg.Tensor(np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5).astype(np.float32),
                  requires_grad=True)
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 60)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    back = nn.Unflatten(1, (3, 4, 5))(flat)
    np.testing.assert_array_equal(back.data, x.data)
    assert nn.Reshape((12, 5))(x).shape == (2, 12, 5)
    assert nn.Reshape((-1, 4))(x).shape == (2, 15, 4)
    nn.Reshape((6, 10))(back).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 1.0)


def test_normalization_adapt_and_forward():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((500, 3)) * [1.0, 5.0, 0.0] + [2.0, -1.0, 7.0]
    norm = nn.Normalization().adapt(data)
    y = norm(data.astype(np.float32)).data
    np.testing.assert_allclose(y[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y[:, :2].std(axis=0), 1, rtol=1e-4)
    np.testing.assert_array_equal(y[:, 2], 0)  # zero std: divided by 1e-7, not by 0
    assert [n for n, _ in norm.named_buffers()] == ["mean", "variance"]
    with pytest.raises(RuntimeError, match="adapt"):
        nn.Normalization()(data)
    twin = nn.Normalization(mean=np.zeros(3), variance=np.ones(3))
    twin.load_state_dict(norm.state_dict())
    np.testing.assert_array_equal(twin(data).data, norm(data).data)
    with pytest.raises(ValueError, match=r"expected input of shape \(\.\.\., 3\), got \(4, 2\)"):
        norm(np.zeros((4, 2)))


BAD_INPUTS = [
    (nn.Linear(784, 300), (32, 100),
     r"Linear\(in_features=784, out_features=300, bias=True\): expected input of shape "
     r"\(N, 784\), got \(32, 100\)"),
    (nn.Conv2d(3, 8, 3), (2, 1, 28, 28),
     r"Conv2d\(3, 8, kernel_size=\(3, 3\).*expected input of shape \(N, 3, H >= 3, "
     r"W >= 3\), got \(2, 1, 28, 28\)"),
    (nn.Conv2d(3, 8, 5), (2, 3, 4, 4), r"H >= 5, W >= 5\), got \(2, 3, 4, 4\)"),
    (nn.Conv2d(3, 8, 3), (3, 28, 28), r"got \(3, 28, 28\)"),
    (nn.MaxPool2d(2), (2, 3, 1, 8), r"MaxPool2d\(kernel_size=\(2, 2\), stride=\(2, 2\)\): "
                                    r"expected input of shape \(N, C, H >= 2, W >= 2\)"),
    (nn.AvgPool2d(3), (4, 9), r"AvgPool2d.*got \(4, 9\)"),
    (nn.BatchNorm1d(10), (5, 12), r"BatchNorm1d\(10.*\(N, 10\) or \(N, 10, L\), got \(5, 12\)"),
    (nn.BatchNorm2d(4), (5, 4), r"BatchNorm2d\(4.*\(N, 4, H, W\), got \(5, 4\)"),
    (nn.Unflatten(1, (2, 5)), (3, 9), r"Unflatten.*axis 1 of size 10, got \(3, 9\)"),
    (nn.Reshape((4, 4)), (3, 15), r"Reshape.*16 elements per sample, got \(3, 15\)"),
]


@pytest.mark.parametrize("layer,shape,pattern", BAD_INPUTS,
                         ids=[type(b[0]).__name__ for b in BAD_INPUTS])
def test_layer_wrong_input_shape_names_layer_and_shapes(layer, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer(np.zeros(shape, dtype=np.float32))


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1, got stride \(2, 2\)"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a pair, 'same' or 'valid'"):
        nn.Conv2d(3, 8, 3, padding="full")
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\], got 2"):
        nn.BatchNorm1d(3, momentum=2)
    with pytest.raises(ValueError, match="features must be positive"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3), dtype=np.float32))


def test_conv_mlp_trains_under_every_backend(backend_name):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1), nn.Linear(64, 3))
    x = np.random.default_rng(6).standard_normal((12, 1, 8, 8)).astype(np.float32)
    y = np.arange(12) % 3
    opt = mg.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_functional_batch_norm_updates_array_statistics_in_place():
    t = torch()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 3, 4, 4))
    mean, var = np.zeros(3), np.ones(3)
    y = nn.functional.batch_norm(mg.Tensor(x, dtype=F64), mean, var, training=True,
                                 momentum=0.2)
    tm, tv = t.zeros(3, dtype=t.float64), t.ones(3, dtype=t.float64)
    yt = t.nn.functional.batch_norm(to_torch(x), tm, tv, training=True, momentum=0.2)
    assert_close(y, yt, rtol=1e-10)
    assert_close(mean, tm, rtol=1e-12)
    assert_close(var, tv, rtol=1e-12)
    ye = nn.functional.batch_norm(mg.Tensor(x, dtype=F64), mean, var)  # eval by default
    assert_close(ye, t.nn.functional.batch_norm(to_torch(x), tm, tv), rtol=1e-10)
    with pytest.raises(ValueError, match="eval mode needs running_mean and running_var"):
        nn.functional.batch_norm(x.astype(np.float32), None, None)


def test_functional_conv_pool_linear_match_torch():
    t = torch()
    tf = t.nn.functional
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 2, 2)), \
        rng.standard_normal(4)
    xm, wm, bm = (mg.Tensor(a, dtype=F64) for a in (x, w, b))
    assert_close(nn.functional.conv2d(xm, wm, bm, padding="same"),
                 tf.conv2d(to_torch(x), to_torch(w), to_torch(b), padding="same"), rtol=1e-10)
    assert_close(nn.functional.conv2d(xm, wm, None, stride=2, padding=(1, 0)),
                 tf.conv2d(to_torch(x), to_torch(w), None, stride=2, padding=(1, 0)),
                 rtol=1e-10)
    assert_close(nn.functional.max_pool2d(xm, 3), tf.max_pool2d(to_torch(x), 3), rtol=1e-12)
    assert_close(nn.functional.avg_pool2d(xm, 2, 1), tf.avg_pool2d(to_torch(x), 2, 1),
                 rtol=1e-12)
    lw = rng.standard_normal((5, 6))
    assert_close(nn.functional.linear(xm, mg.Tensor(lw, dtype=F64)),
                 tf.linear(to_torch(x), to_torch(lw)), rtol=1e-10)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1"):
        nn.functional.conv2d(xm, wm, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"conv2d: weight expects 3 input channels"):
        nn.functional.conv2d(xm[:, :2], wm)
