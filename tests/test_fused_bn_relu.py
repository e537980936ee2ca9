"""BatchNorm + ReLU as one op (BatchNormReLU, a norm layer's activation="relu", what
mg.nn.fuse makes of BatchNorm -> ReLU): equal to the two ops, gradcheck, visible, saved,
and folded by fuse_batchnorm with its ReLU kept."""
import io

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

BACKENDS = mg.backend.available()


def _outputs_and_grads(fn, args):
    for a in args:
        a.grad = None
    y = fn(*args)
    (y * mg.tensor(np.linspace(-1, 1, y.size).reshape(y.shape), dtype=y.dtype)).sum().backward()
    return [y.numpy()] + [a.grad.numpy() for a in args]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x_shape", [(9, 5), (4, 3, 6), (3, 4, 5, 5)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_relu_equals_batchnorm_then_relu(rng, backend, x_shape, training):
    c = x_shape[1]
    x, g, b = (mg.tensor(rng.standard_normal(s), dtype=np.float64, requires_grad=True)
               for s in (x_shape, (c,), (c,)))
    stats = [rng.standard_normal(c), rng.uniform(0.5, 2.0, c)]

    def bn(x, g, b, activation=None):
        rm, rv = (s.copy() for s in stats)
        return nn.functional.batch_norm(x, rm, rv, g, b, training, activation=activation)
    with mg.backend.use(backend):
        fused = _outputs_and_grads(lambda *a: bn(*a, activation="relu"), (x, g, b))
        plain = _outputs_and_grads(lambda *a: mg.relu(bn(*a)), (x, g, b))
        for f, p in zip(fused, plain):
            np.testing.assert_allclose(f, p, rtol=1e-12, atol=1e-12)
        assert mg.gradcheck(lambda *a: bn(*a, activation="relu"), (x, g, b))


def _mlp_bn():
    mg.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Linear(6, 3))


def test_fuse_bn_relu_trains_like_unfused_and_shows_it(rng):
    x = rng.standard_normal((8, 3, 4)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    model = _mlp_bn()
    fused = nn.fuse(model)
    assert "BatchNorm1d(6, eps=1e-05, momentum=0.1, activation='relu')" in repr(fused)
    assert "(BatchNorm1d+relu)" in nn.summary(fused, (1, 3, 4))
    fused.load_state_dict(model.state_dict())
    results = []
    for m in (fused, model):
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        results.append([loss.item()] + [p.grad.numpy() for p in m.parameters()]
                       + [m[2].running_mean.numpy(), m[2].running_var.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    lines = mg.diagnostics.explain_backward(fused(x).sum(), file=io.StringIO())
    ops = [line.split()[1] for line in lines if line.startswith("#")]
    assert "BatchNormReLU" in ops and "Relu" not in ops
    assert '"BatchNormReLU #' in mg.diagnostics.to_dot(fused(x))


def test_fuse_prefers_relu_into_the_pool_after_a_bn():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2))
    kinds = [type(m).__name__ + (f"+{m.activation}" if getattr(m, "activation", None)
                                 else "") for m in nn.fuse(model)]
    assert kinds == ["Conv2d", "BatchNorm2d", "Identity", "MaxPool2d+relu"]


def test_fuse_batchnorm_keeps_a_fused_relu(rng):
    x = mg.tensor(rng.standard_normal((5, 3, 4)), dtype=np.float32)
    model = nn.fuse(_mlp_bn())
    model[2].running_mean.data[:] = rng.standard_normal(6)
    model.eval()
    folded = nn.fuse_batchnorm(model)
    assert folded[1].activation == "relu" and type(folded[2]) is nn.Identity
    np.testing.assert_allclose(folded(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
    # a BN with its ReLU cannot fold into the layer after it
    lead = nn.fuse(nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12), nn.ReLU(),
                                 nn.Linear(12, 2))).eval()
    assert type(nn.fuse_batchnorm(lead)[1]) is nn.BatchNorm1d


def test_batchnorm_activation_is_saved_and_checked(tmp_path):
    model = nn.fuse(_mlp_bn())
    path = tmp_path / "m.mg"
    mg.save_model(model, path)
    loaded = mg.load_model(path)
    assert loaded[2].activation == "relu" and repr(loaded) == repr(model)
    with pytest.raises(ValueError, match="BatchNorm2d: activation must be None or one of"):
        nn.BatchNorm2d(3, activation="relu6")


@pytest.mark.parametrize("name", ["mlp", "mlp-bn"])
def test_check_init_sees_the_relu_of_fused_layers(name):
    """The CLI's models are fused (no ReLU module left): check_init still reads their
    activation off the layers and recommends He, as for the unfused model."""
    from minigrad.cli import build_model
    x = np.random.default_rng(0).integers(0, 256, (32, 1, 28, 28)).astype(np.float32)
    report = mg.diagnostics.check_init(build_model(name, "he_normal", 72.9, 90.0), x,
                                       verbose=False)
    assert (report.activation, report.recommended) == ("ReLU", "he_normal")
