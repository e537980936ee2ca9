"""Fused bias + ReLU: the bias_relu kernels of every backend against the reference and
PyTorch, the activation="relu" forms of linear, conv2d and max_pool2d (the ops
LinearReLU, Conv2dReLU, MaxPool2dReLU: gradcheck, and equal to the unfused ops), and
mg.nn.fuse (which pairs fuse, which never do, and that the result shows it)."""
import io

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.backend import numpy_ref as ref

from helpers import to_torch, torch

BACKENDS = mg.backend.available()
SHAPES = [(1, 1), (7, 33), (129, 300), (1, 3, 5, 7), (3, 7, 4, 4), (2, 5, 129, 1),
          (128, 32, 16, 16)]  # the last is past the kernels' threading threshold


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bias_relu_kernels_match_reference(kern, rng, dtype, shape):
    z = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    want = np.maximum(z + b.reshape((-1,) + (1,) * (z.ndim - 2)), 0)
    got = z.copy()
    assert kern.bias_relu_forward(got, b) is got  # in place
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kern.bias_relu_forward(z.copy(), None), np.maximum(z, 0))
    dz, db = kern.bias_relu_backward(dy, want)
    np.testing.assert_array_equal(dz, dy * (want > 0))
    assert dz.dtype == db.dtype == dtype and db.shape == (shape[1],)
    axes = (0,) + tuple(range(2, len(shape)))
    scale = np.sqrt(np.prod(shape) / shape[1]) * np.finfo(dtype).eps * 16
    np.testing.assert_allclose(db, (dy * (want > 0)).sum(axis=axes, dtype=np.float64),
                               rtol=scale, atol=scale * 4)
    assert kern.bias_relu_backward(dy, want, False)[1] is None


def test_bias_relu_kernels_nan_and_noncontiguous(kern):
    z = np.array([[np.nan, -1.0, 2.0], [0.5, -0.0, -3.0]], np.float32)
    y = kern.bias_relu_forward(z.copy(), np.zeros(3, np.float32))
    assert np.isnan(y[0, 0]) and (y[0, 1:] == [0, 2]).all() and (y[1] == [0.5, 0, 0]).all()
    dy = np.arange(12, dtype=np.float64).reshape(3, 4).T  # Fortran order
    yy = np.asfortranarray(np.ones((4, 3)))
    dz, db = kern.bias_relu_backward(dy, yy)
    np.testing.assert_array_equal(dz, dy)
    np.testing.assert_array_equal(db, dy.sum(axis=0))


def test_bias_relu_reference_matches_torch(rng):
    t = torch()
    z = rng.standard_normal((4, 3, 5, 6))
    b = rng.standard_normal(3)
    tz, tb = to_torch(z, True), to_torch(b, True)
    ty = t.relu(tz + tb.reshape(3, 1, 1))
    dy = rng.standard_normal(z.shape)
    ty.backward(to_torch(dy))
    y = ref.bias_relu_forward(z.copy(), b)
    dz, db = ref.bias_relu_backward(dy, y)
    np.testing.assert_allclose(y, ty.detach().numpy())
    np.testing.assert_allclose(dz, tz.grad.numpy())
    np.testing.assert_allclose(db, tb.grad.numpy())


# ----- the fused ops ---------------------------------------------------------------------
def _fused_and_plain(fused, plain, args):
    """Outputs and gradients of fused(*args) and plain(*args) for a random upstream."""
    results = []
    for fn in (fused, plain):
        for a in args:
            a.grad = None
        y = fn(*args)
        (y * mg.tensor(np.linspace(-1, 1, y.size).reshape(y.shape), dtype=y.dtype)
         ).sum().backward()
        results.append([y.numpy()] + [a.grad.numpy() for a in args])
    return results


def _params(rng, *shapes):
    return [mg.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True)
            for s in shapes]


@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_relu_equals_linear_then_relu(rng, backend):
    x, w, b = _params(rng, (6, 5), (4, 5), (4,))
    with mg.backend.use(backend):
        fused, plain = _fused_and_plain(
            lambda x, w, b: nn.functional.linear(x, w, b, activation="relu"),
            lambda x, w, b: mg.relu(nn.functional.linear(x, w, b)), (x, w, b))
        for f, p in zip(fused, plain):
            np.testing.assert_allclose(f, p, rtol=1e-12, atol=1e-12)
        assert mg.gradcheck(lambda x, w, b: nn.functional.linear(x, w, b, activation="relu"),
                            (x, w, b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv2d_relu_equals_conv_then_relu(rng, backend):
    x, w, b = _params(rng, (2, 3, 7, 6), (4, 3, 3, 3), (4,))
    with mg.backend.use(backend):
        fused, plain = _fused_and_plain(
            lambda x, w, b: nn.functional.conv2d(x, w, b, 2, 1, activation="relu"),
            lambda x, w, b: mg.relu(nn.functional.conv2d(x, w, b, 2, 1)), (x, w, b))
        for f, p in zip(fused, plain):
            np.testing.assert_allclose(f, p, rtol=1e-12, atol=1e-12)
        assert mg.gradcheck(lambda x, w, b: nn.functional.conv2d(x, w, b, 1, 1,
                                                                activation="relu"),
                            (x, w, b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_maxpool_relu_equals_relu_then_maxpool(rng, backend):
    (x,) = _params(rng, (2, 3, 7, 9))
    x.data[0, 0] = -1.0  # whole windows <= 0: zero gradient either way
    with mg.backend.use(backend):
        fused, plain = _fused_and_plain(
            lambda x: nn.functional.max_pool2d(x, 2, activation="relu"),
            lambda x: nn.functional.max_pool2d(mg.relu(x), 2), (x,))
        for f, p in zip(fused, plain):
            np.testing.assert_array_equal(f, p)
        assert mg.gradcheck(lambda x: nn.functional.max_pool2d(x, (3, 2), (2, 1),
                                                                  activation="relu"),
                            (x,))


# ----- mg.nn.fuse ----------------------------------------------------------------------------
def _kinds(model):
    return [type(m).__name__ + (f"+{m.activation}" if getattr(m, "activation", None) else "")
            for m in model]


def test_fuse_layer_relu_and_relu_pool():
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3),
                        nn.ReLU(), nn.Flatten(), nn.Linear(8, 4), nn.ReLU(), nn.Dropout(0.5),
                        nn.Linear(4, 2))
    assert _kinds(nn.fuse(cnn)) == ["Conv2d", "Identity", "MaxPool2d+relu", "Conv2d+relu",
                                    "Identity", "Flatten", "Linear+relu", "Identity",
                                    "Dropout", "Linear"]
    assert _kinds(cnn)[1:3] == ["ReLU", "MaxPool2d"]  # the original is untouched
    bn = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2),
                       nn.ReLU())
    assert _kinds(nn.fuse(bn)) == ["Linear", "BatchNorm1d+relu", "Identity", "Linear+relu",
                                   "Identity"]


def test_fuse_leaves_hooked_regularized_and_subclassed_layers_alone():
    class MyReLU(nn.ReLU):
        pass

    hooked = nn.ReLU()
    hooked.register_forward_hook(lambda m, i, o: None)
    reg = nn.Linear(4, 3, activity_regularizer="l2")
    model = nn.Sequential(nn.Linear(4, 3), hooked, reg, nn.ReLU(), nn.Linear(3, 3), MyReLU())
    assert _kinds(nn.fuse(model)) == _kinds(model)


def test_fused_model_trains_like_unfused_and_loads_its_state(rng):
    x = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    mg.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 5), nn.ReLU(), nn.Linear(5, 3))
    fused = nn.fuse(model)
    fused.load_state_dict(model.state_dict())  # Identity keeps every key in place
    grads = []
    for m in (fused, model):
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        grads.append([loss.item()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fuse_grouped_dilated_conv_and_padded_pool_match_unfused(rng):
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    mg.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), nn.ReLU(),
                          nn.Conv2d(6, 6, 3, groups=6), nn.ReLU(),
                          nn.MaxPool2d(3, 2, padding=1, ceil_mode=True))
    fused = nn.fuse(model)
    assert [type(m).__name__ for m in fused] == ["Conv2d", "Identity", "Conv2d",
                                                 "Identity", "MaxPool2d"]
    # the second ReLU goes into the pool after it (max and ReLU commute)
    assert (fused[0].activation, fused[2].activation, fused[4].activation) == ("relu", None,
                                                                              "relu")
    assert "groups=2" in repr(fused[0]) and "dilation=(2, 2)" in repr(fused[0])
    grads = []
    for m in (fused, model):
        out = m(x)
        out.sum().backward()
        grads.append([out.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    lines = mg.diagnostics.explain_backward(fused[:2](x).sum(), file=io.StringIO())
    assert sum("Conv2dReLU" in line for line in lines) == 2  # one per group


def test_fuse_batchnorm_folds_into_a_grouped_conv_only_after_it(rng):
    x = rng.standard_normal((2, 4, 7, 7)).astype(np.float32)
    model = nn.Sequential(nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, groups=2), nn.BatchNorm2d(4))
    for bn in (model[0], model[2]):
        bn.running_mean.data[:] = rng.standard_normal(4)
        bn.running_var.data[:] = rng.uniform(0.5, 2.0, 4)
    folded = nn.fuse_batchnorm(model)
    # the BN before: the grouped weight sees C / groups channels, so it stays
    assert [type(m).__name__ for m in folded] == ["BatchNorm2d", "Conv2d", "Identity"]
    np.testing.assert_allclose(folded(x).numpy(), model.eval()(x).numpy(), rtol=1e-4,
                               atol=1e-5)


def test_sequential_runs_every_module_and_hooks_see_their_outputs():
    seen = []
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    model[0].register_forward_hook(lambda m, i, o: seen.append(o.numpy().copy()))
    model[1].register_forward_hook(lambda m, i, o: seen.append(o.numpy().copy()))
    out = model(np.array([[1.0, -2.0, 3.0]], np.float32))
    assert len(seen) == 2 and (seen[0] < 0).any()  # the Linear's own, pre-ReLU output
    np.testing.assert_allclose(out.numpy(), np.maximum(seen[0], 0))
    np.testing.assert_array_equal(seen[1], out.numpy())


def test_to_dot_shows_relu_unfused_and_one_node_fused():
    x = mg.tensor(np.ones((2, 4), np.float32))
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    plain = mg.diagnostics.to_dot(model(x))
    assert '"Linear #' in plain and '"Relu #' in plain
    fused = mg.diagnostics.to_dot(nn.fuse(model)(x))
    assert '"LinearReLU #' in fused and "Relu #" not in fused
    assert fused.count("shape=box") == 1


def test_fused_layer_shows_in_repr_summary_and_explain():
    model = nn.fuse(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(2, 2), nn.ReLU()))
    text = repr(model)
    assert "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), activation='relu')" in text
    assert "Linear(in_features=2, out_features=2, bias=True, activation='relu')" in text
    table = nn.summary(model, (1, 4, 4))
    assert "(MaxPool2d+relu)" in table and "(Linear+relu)" in table
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 1, 4, 4)), dtype=np.float32)
    lines = mg.diagnostics.explain_backward(model(x).sum(), file=io.StringIO())
    ops = [line.split()[1] for line in lines if line.startswith("#")]
    assert ops[:2] == ["Sum", "LinearReLU"] and "MaxPool2dReLU" in ops and "Relu" not in ops


@pytest.mark.parametrize("layer, x_shape", [
    (lambda a: nn.Linear(5, 4, activation=a), (6, 5)),
    (lambda a: nn.Conv2d(2, 3, 3, padding=1, activation=a), (2, 2, 5, 5)),
    (lambda a: nn.MaxPool2d(2, activation=a), (2, 3, 6, 6)),
], ids=["linear", "conv2d", "maxpool"])
@pytest.mark.parametrize("name", sorted(nn.functional.ACTIVATIONS))
def test_layer_activation_equals_layer_then_activation(rng, layer, x_shape, name):
    mg.manual_seed(0)
    plain = layer(None)
    mg.manual_seed(0)
    act = layer(name)
    x = rng.standard_normal(x_shape)
    want = nn.functional.ACTIVATIONS[name](plain(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(act(x.astype(np.float32)).numpy(), want, rtol=1e-6, atol=1e-6)


def test_layer_activation_module_is_a_child_and_trains():
    layer = nn.Linear(3, 2, activation=nn.PReLU())
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias", "activation.weight"]
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    want = nn.functional.prelu(nn.functional.linear(x, layer.weight, layer.bias),
                               layer.activation.weight).numpy()
    np.testing.assert_allclose(layer(x).numpy(), want)
    assert "(activation): PReLU" in repr(layer)


def test_layer_activation_rejects_unknown_names_and_types():
    with pytest.raises(ValueError, match="Linear: activation must be None or one of"):
        nn.Linear(2, 2, activation="relu6")
    with pytest.raises(TypeError, match="Conv2d: activation must be None, a name or a "
                                        "Module, got int"):
        nn.Conv2d(1, 1, 3, activation=3)
    with pytest.raises(ValueError, match="max_pool2d: activation must be"):
        nn.functional.max_pool2d(np.zeros((1, 1, 2, 2), np.float32), 2, activation="Relu")


def test_activation_monitor_changes_nothing_that_runs_and_counts_fused_layers():
    x = mg.tensor(np.random.default_rng(1).standard_normal((16, 4)), dtype=np.float32)
    model = nn.fuse(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))

    def ops():
        return [line.split('"')[1].split(" #")[0] for line in
                mg.diagnostics.to_dot(model(x)).splitlines() if "shape=box" in line]
    before = ops()
    with mg.diagnostics.ActivationMonitor(model) as monitor:
        assert ops() == before == ["LinearReLU", "Linear"]
        logs = {}
        monitor.callback().on_epoch_end(0, logs)
    dead = monitor.epochs[0]["0"]["dead"]  # the fused layer is the activation measured
    assert logs["dead_units"] == logs["dead_units_max"] == dead
