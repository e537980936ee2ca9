"""Activations: value and gradient vs PyTorch (float64) including |x| = 50, gradcheck,
modules vs functional, RReLU's random slopes, PReLU/Swish learned parameters."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from helpers import assert_close, to_torch, torch


def _cases():
    """(id, minigrad fn, torch fn given the torch module and its functional)."""
    return [
        ("relu", F.relu, lambda t, tf, x: tf.relu(x)),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda t, tf, x: tf.leaky_relu(x, 0.2)),
        ("leaky_relu_default", F.leaky_relu, lambda t, tf, x: tf.leaky_relu(x)),
        ("rrelu_eval", lambda x: F.rrelu(x, 0.1, 0.3),
         lambda t, tf, x: tf.rrelu(x, 0.1, 0.3, training=False)),
        ("elu", lambda x: F.elu(x, 1.3), lambda t, tf, x: tf.elu(x, 1.3)),
        ("selu", F.selu, lambda t, tf, x: tf.selu(x)),
        ("gelu", F.gelu, lambda t, tf, x: tf.gelu(x)),
        ("gelu_tanh", lambda x: F.gelu(x, "tanh"), lambda t, tf, x: tf.gelu(x, approximate="tanh")),
        ("silu", F.silu, lambda t, tf, x: tf.silu(x)),
        ("swish_beta", lambda x: F.swish(x, 1.5), lambda t, tf, x: x * t.sigmoid(1.5 * x)),
        ("mish", F.mish, lambda t, tf, x: tf.mish(x)),
        ("tanh", F.tanh, lambda t, tf, x: t.tanh(x)),
        ("sigmoid", F.sigmoid, lambda t, tf, x: t.sigmoid(x)),
        ("softplus", F.softplus, lambda t, tf, x: tf.softplus(x)),
        ("softplus_beta", lambda x: F.softplus(x, 2.0, 10.0),
         lambda t, tf, x: tf.softplus(x, beta=2.0, threshold=10.0)),
        ("softmax", F.softmax, lambda t, tf, x: tf.softmax(x, dim=-1)),
        ("softmax_axis0", lambda x: F.softmax(x, axis=0), lambda t, tf, x: tf.softmax(x, dim=0)),
        ("log_softmax", F.log_softmax, lambda t, tf, x: tf.log_softmax(x, dim=-1)),
    ]


CASES = _cases()


def _inputs():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 9)) * 3
    x[0, :4] = [50.0, -50.0, 49.5, -49.5]
    x[1, :2] = [1000.0, -1000.0]
    return x


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_activation_value_and_grad_match_torch_float64(name, fn, tfn):
    t = torch()
    x = _inputs()
    dy = np.random.default_rng(4).standard_normal(x.shape)
    xm = mg.Tensor(x, dtype=np.float64, requires_grad=True)
    y = fn(xm)
    y.backward(dy)
    xt = to_torch(x, requires_grad=True)
    yt = tfn(t, t.nn.functional, xt)
    yt.backward(to_torch(dy))
    assert y.dtype == np.float64
    assert_close(y, yt, rtol=1e-7, atol=1e-10, what=f"{name} value")
    assert_close(xm.grad, xt.grad, rtol=1e-7, atol=1e-10, what=f"{name} grad")


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_activation_float32_is_finite_at_large_inputs(name, fn, tfn):
    x = mg.Tensor(np.array([[-1e30, -1000.0, -88.0, -50.0, -20.0, 0.0, 20.0, 50.0, 88.0,
                             1000.0, 1e30]]),
                  requires_grad=True)
    y = fn(x)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(y.data).all(), f"{name}: {y.data}"
    assert np.isfinite(x.grad.data).all(), f"{name}: {x.grad.data}"


@pytest.mark.parametrize("name,fn,tfn", CASES, ids=[c[0] for c in CASES])
def test_activation_gradcheck(name, fn, tfn):
    # kinks (relu-family at 0) are avoided by the draw; gelu/mish are smooth everywhere
    x = np.random.default_rng(5).uniform(0.1, 3.0, (3, 4)) * np.sign(
        np.random.default_rng(6).standard_normal((3, 4)))
    assert mg.gradcheck(fn, [x])


MODULES = [
    (nn.ReLU(), F.relu), (nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
    (nn.ELU(0.5), lambda x: F.elu(x, 0.5)), (nn.SELU(), F.selu),
    (nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")), (nn.SiLU(), F.silu),
    (nn.Swish(2.0), lambda x: F.swish(x, 2.0)), (nn.Mish(), F.mish), (nn.Tanh(), F.tanh),
    (nn.Sigmoid(), F.sigmoid), (nn.Softplus(3.0), lambda x: F.softplus(x, 3.0)),
    (nn.Softmax(0), lambda x: F.softmax(x, 0)), (nn.LogSoftmax(), F.log_softmax),
]


@pytest.mark.parametrize("module,fn", MODULES, ids=[type(m).__name__ for m, _ in MODULES])
def test_activation_module_equals_functional(module, fn):
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_array_equal(module(x).data, fn(x).data)


def test_selu_uses_published_constants():
    y = F.selu(mg.Tensor([-100.0, 1.0], dtype=np.float64)).data
    np.testing.assert_allclose(y, [-1.0507009873554805 * 1.6732632423543772, 1.0507009873554805])


def test_rrelu_training_draws_slopes_in_range_and_is_seeded():
    m = nn.RReLU(0.1, 0.3)
    x = mg.Tensor(-np.ones((200, 50)), requires_grad=True)
    mg.manual_seed(7)
    y = m(x)
    slopes = -y.data
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.04
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, slopes)  # d(a x)/dx = a
    mg.manual_seed(7)
    np.testing.assert_array_equal(m(x).data, y.data)
    m.eval()
    np.testing.assert_allclose(m(x).data, 0.2 * x.data)
    pos = m.train()(np.ones((2, 2)))
    np.testing.assert_array_equal(pos.data, 1.0)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_matches_torch_shared_and_per_channel(channels):
    t = torch()
    x = np.random.default_rng(2).standard_normal((4, 3, 5, 5))
    m = nn.PReLU(channels, init=0.2, dtype=np.float64)
    xm = mg.Tensor(x, dtype=np.float64, requires_grad=True)
    y = m(xm)
    y.sum().backward()
    tm = t.nn.PReLU(channels, init=0.2).double()
    xt = to_torch(x, requires_grad=True)
    yt = tm(xt)
    yt.sum().backward()
    assert_close(y, yt, rtol=1e-10)
    assert_close(xm.grad, xt.grad, rtol=1e-10)
    assert_close(m.weight.grad, tm.weight.grad, rtol=1e-10)
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_prelu_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"PReLU\(num_parameters=3\).*\(N, 3, \.\.\.\).*\(2, 4\)"):
        nn.PReLU(3)(np.ones((2, 4)))


def test_swish_trainable_beta_gets_a_gradient():
    t = torch()
    x = np.random.default_rng(2).standard_normal((6,))
    m = nn.Swish(1.5, trainable=True, dtype=np.float64)
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    y = m(mg.Tensor(x, dtype=np.float64))
    y.sum().backward()
    bt = t.tensor(1.5, dtype=t.float64, requires_grad=True)
    xt = to_torch(x)
    (xt * t.sigmoid(bt * xt)).sum().backward()
    assert_close(m.beta.grad, bt.grad, rtol=1e-10)
    assert nn.Swish().beta == 1.0 and list(nn.Swish().parameters()) == []


def test_activation_arguments_are_checked():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="lower <= upper"):
        nn.RReLU(0.5, 0.1)


def test_prelu_primitive_passes_gradcheck():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.2, 2, (2, 3, 2, 2)) * np.sign(rng.standard_normal((2, 3, 2, 2)))
    a = rng.uniform(0.1, 0.4, 3)
    assert mg.gradcheck(lambda xx, aa: F.prelu(xx, aa), [
        mg.Tensor(x, dtype=np.float64, requires_grad=True),
        mg.Tensor(a, dtype=np.float64, requires_grad=True)])
