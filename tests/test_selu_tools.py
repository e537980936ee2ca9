"""AlphaDropout (PyTorch's formula; the self-normalizing property on SELU-normal
input; eval is the identity) and check_self_normalizing / check_init's warnings."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.diagnostics import SelfNormalizingWarning, check_init, check_self_normalizing
from tests.helpers import torch


def _affine_of_kept_and_dropped(x, y):
    """(a, b, dropped value) of y = a * x + b on the kept elements, fitted exactly."""
    values, counts = np.unique(y, return_counts=True)
    dropped = values[counts.argmax()]  # every dropped element takes one value
    kept = y != dropped
    a, b = np.polyfit(x[kept].astype(np.float64), y[kept].astype(np.float64), 1)
    return a, b, dropped, kept.mean()


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_alpha_dropout_matches_torch_formula(p):
    T = torch()
    x = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    mg.manual_seed(1)
    mine = _affine_of_kept_and_dropped(x, nn.alpha_dropout(x, p, training=True).data)
    theirs = _affine_of_kept_and_dropped(
        x, T.nn.functional.alpha_dropout(T.tensor(x), p, True).numpy())
    np.testing.assert_allclose(mine[:3], theirs[:3], rtol=1e-5, atol=1e-6)
    assert mine[3] == pytest.approx(1 - p, abs=0.005)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_alpha_dropout_keeps_mean_and_variance_of_selu_normal_input(p):
    """The fixed point (mean 0, variance 1) survives alpha dropout; regular dropout
    would scale the variance by 1 / (1 - p)."""
    mg.manual_seed(2)
    x = np.random.default_rng(3).standard_normal((1000, 400)).astype(np.float32)
    y = nn.AlphaDropout(p)(x).data
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    assert abs(nn.Dropout(p)(x).data.var() - 1 / (1 - p)) < 0.03
    # through a SELU layer with LeCun-normal weights the statistics stay near (0, 1)
    mg.manual_seed(4)
    lin = nn.Linear(400, 400, weight_init="lecun_normal")
    h = nn.SELU()(lin(y)).data
    assert abs(h.mean()) < 0.1 and abs(h.var() - 1) < 0.1


def test_alpha_dropout_eval_is_identity_and_gradient_is_the_mask():
    drop = nn.AlphaDropout(0.4)
    x = mg.Tensor(np.random.default_rng(5).standard_normal((6, 7)), requires_grad=True)
    assert drop.eval()(x) is x
    drop.train()
    mg.manual_seed(6)
    y = drop(x)
    y.sum().backward()
    a, _, dropped, _ = _affine_of_kept_and_dropped(x.data.ravel(), y.data.ravel())
    kept = y.data != dropped
    np.testing.assert_allclose(x.grad.data, np.where(kept, a, 0.0), rtol=1e-6)
    assert mg.gradcheck(lambda t: nn.alpha_dropout(t, 0.0, True), [x])
    assert np.all(nn.alpha_dropout(x, 1.0, True).data == 0)
    with pytest.raises(ValueError, match="AlphaDropout: p must be in \\[0, 1\\], got 1.5"):
        nn.AlphaDropout(1.5)


def _selu_net(*extra, init="lecun_normal"):
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(200, 100, weight_init=init), nn.SELU(), *extra,
                         nn.Linear(100, 50, weight_init=init), nn.SELU())


def test_check_self_normalizing_passes_a_proper_selu_stack():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_self_normalizing(_selu_net(nn.AlphaDropout(0.1))) == []
        assert check_self_normalizing(nn.Sequential(nn.Linear(3, 3), nn.ReLU())) == []


@pytest.mark.parametrize("model,needle", [
    (lambda: _selu_net(init="glorot_uniform"), "variance"),
    (lambda: _selu_net(init="he_normal"), "variance"),
    (lambda: _selu_net(init="lecun_uniform"), "look uniform"),
    (lambda: _selu_net(nn.BatchNorm1d(100)), "BatchNorm1d in a SELU network"),
    (lambda: _selu_net(nn.Dropout(0.2)), "use AlphaDropout"),
], ids=["glorot", "he", "lecun_uniform", "batchnorm", "dropout"])
def test_check_self_normalizing_warns_for_each_broken_condition(model, needle):
    with pytest.warns(SelfNormalizingWarning, match=needle):
        problems = check_self_normalizing(model())
    assert any(needle in p for p in problems)


def test_check_self_normalizing_flags_a_custom_topology():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = _selu_net()

        def forward(self, x):
            return x + self.body(x)

    problems = check_self_normalizing(Residual(), warn=False)
    assert problems == ["Residual: Residual is not a Sequential; self-normalization holds "
                        "for a plain stack of layers (no skip connections)"]


def test_check_init_warns_on_a_selu_network_with_batchnorm():
    x = np.random.default_rng(0).standard_normal((64, 200)).astype(np.float32)
    with pytest.warns(SelfNormalizingWarning, match="BatchNorm1d"):
        check_init(_selu_net(nn.BatchNorm1d(100)), x)
