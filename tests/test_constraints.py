"""Weight constraints: Keras's formulas (minigrad's (out, in) layout against Keras's
(in, out) kernel), layers carrying them, and every optimizer applying them after
each step."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import constraints as C

EPS = 1e-7  # Keras backend.epsilon()


def keras_max_norm(kernel, max_value, axis):
    """Keras MaxNorm.__call__ on a Keras-layout kernel, written out in numpy."""
    norms = np.sqrt(np.sum(np.square(kernel), axis=axis, keepdims=True))
    return kernel * (np.clip(norms, 0, max_value) / (EPS + norms))


def keras_unit_norm(kernel, axis):
    return kernel / (EPS + np.sqrt(np.sum(np.square(kernel), axis=axis, keepdims=True)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_constraints_max_norm_default_is_keras_axis0_on_a_dense_kernel(rng):
    w = rng.normal(size=(6, 10)).astype(np.float32)  # minigrad Linear (out, in)
    got = C.MaxNorm(2.0)(w)
    np.testing.assert_allclose(got, keras_max_norm(w.T, 2.0, 0).T, rtol=1e-6)
    norms = np.linalg.norm(got, axis=1)
    assert norms.max() <= 2.0 + 1e-5 and got.dtype == np.float32
    small = np.linalg.norm(w, axis=1) <= 2.0  # rows already inside are left alone
    np.testing.assert_allclose(got[small], w[small], rtol=1e-6)


def test_constraints_max_norm_on_a_conv_kernel_is_per_filter(rng):
    w = rng.normal(size=(4, 3, 3, 3))  # (C_out, C_in, KH, KW)
    keras = w.transpose(2, 3, 1, 0)  # Keras (KH, KW, C_in, C_out)
    want = keras_max_norm(keras, 1.5, (0, 1, 2)).transpose(3, 2, 0, 1)
    np.testing.assert_allclose(C.MaxNorm(1.5)(w), want, rtol=1e-12)
    np.testing.assert_allclose(C.MaxNorm(1.5, axis=(1, 2, 3))(w), want, rtol=1e-12)


def test_constraints_explicit_axis_and_bias_vector(rng):
    w = rng.normal(size=(5, 7))
    np.testing.assert_allclose(C.MaxNorm(1.0, axis=0)(w), keras_max_norm(w, 1.0, 0))
    b = rng.normal(size=(9,)) * 3
    np.testing.assert_allclose(C.MaxNorm(1.0)(b), keras_max_norm(b, 1.0, 0))
    assert np.linalg.norm(C.MaxNorm(1.0)(b)) == pytest.approx(1.0, rel=1e-6)


def test_constraints_unit_norm_and_non_neg(rng):
    w = rng.normal(size=(6, 4))
    u = C.UnitNorm()(w)
    np.testing.assert_allclose(u, keras_unit_norm(w.T, 0).T)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, rtol=1e-6)
    n = C.NonNeg()(w)
    np.testing.assert_array_equal(n, np.where(w >= 0, w, 0.0))
    assert C.UnitNorm()(np.zeros((2, 3))).tolist() == np.zeros((2, 3)).tolist()


def test_constraints_get_names_and_bad_arguments():
    assert isinstance(C.get("max_norm"), C.MaxNorm) and C.get(None) is None
    assert isinstance(C.get("non_neg"), C.NonNeg)
    assert C.MaxNorm(3, axis=1).get_config() == {"max_value": 3.0, "axis": (1,)}
    with pytest.raises(ValueError, match="unknown constraint 'maxnorm'"):
        C.get("maxnorm")
    with pytest.raises(ValueError, match="MaxNorm: max_value must be a finite number > 0, "
                                         "got -1"):
        C.MaxNorm(-1)
    with pytest.raises(ValueError, match="UnitNorm: axis must be None"):
        C.UnitNorm(axis="rows")
    with pytest.raises(ValueError, match=r"MaxNorm: axis \(3,\) is out of range for a "
                                         r"weight of shape \(2, 2\)"):
        C.MaxNorm(1, axis=3)(np.ones((2, 2)))


def test_constraints_layers_store_them_on_their_parameters():
    lin = nn.Linear(4, 3, kernel_constraint="max_norm", bias_constraint=C.NonNeg())
    assert isinstance(lin.kernel_constraint, C.MaxNorm)
    assert lin.weight.constraint is lin.kernel_constraint
    assert lin.bias.constraint is lin.bias_constraint
    conv = nn.Conv2d(1, 2, 3, bias=False, kernel_constraint=C.UnitNorm())
    assert isinstance(conv.weight.constraint, C.UnitNorm) and conv.bias is None
    plain = nn.Linear(2, 2)
    assert plain.kernel_constraint is None and getattr(plain.weight, "constraint") is None


OPTIMIZERS = [(optim.SGD, dict(lr=0.5, momentum=0.9), None),
              (optim.Adam, dict(lr=0.3), False), (optim.Adam, dict(lr=0.3), True),
              (optim.AdamW, dict(lr=0.3), None), (optim.RMSprop, dict(lr=0.1), None),
              (optim.Adagrad, dict(lr=0.5), None), (optim.Nadam, dict(lr=0.3), None),
              (optim.Adamax, dict(lr=0.3), None), (optim.Adadelta, dict(lr=5.0), None)]


@pytest.mark.parametrize("cls,kwargs,fused", OPTIMIZERS,
                         ids=[f"{c.__name__}-{f}" for c, _, f in OPTIMIZERS])
def test_constraints_every_optimizer_applies_them_after_each_step(cls, kwargs, fused):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8, kernel_constraint=C.MaxNorm(0.5),
                                    bias_constraint=C.NonNeg()),
                          nn.Tanh(), nn.Linear(8, 1))
    extra = {} if fused is None else {"fused": fused}
    opt = cls(model.parameters(), **kwargs, **extra)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 5)) * 3, rng.normal(size=(32, 1)) * 10
    start = model[2].weight.data.copy()
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(mg.tensor(x)) - mg.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        w, b = model[0].weight.data, model[0].bias.data
        assert np.linalg.norm(w, axis=1).max() <= 0.5 + 1e-5
        assert (b >= 0).all()
    assert not np.allclose(model[2].weight.data, start)  # trained, not just projected


def test_constraints_frozen_parameter_is_not_projected():
    lin = nn.Linear(3, 2, kernel_constraint=C.MaxNorm(1e-3))
    lin.weight.requires_grad = False
    before = lin.weight.data.copy()
    opt = optim.SGD(lin.parameters(), lr=0.1)
    lin(mg.tensor(np.ones((1, 3)))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(lin.weight.data, before)
