"""examples/vae.py and examples/pretrain.py: the reparameterization trick's gradient
and the KL term against PyTorch (fast); both scripts end to end on a tiny budget with
Fashion-MNIST (slow; skipped without the data)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from tests.helpers import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vae_reparameterization_gradient_flows_to_mu_and_logvar():
    vae = _load("vae")
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((4, 3))
    mu = mg.Tensor(rng.normal(size=(4, 3)), requires_grad=True, dtype=np.float64)
    logvar = mg.Tensor(rng.normal(size=(4, 3)), requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(lambda m, lv: vae.reparameterize(m, lv, eps), [mu, logvar])
    vae.reparameterize(mu, logvar, eps).sum().backward()
    np.testing.assert_allclose(mu.grad.data, 1.0)  # dz/dmu = 1
    np.testing.assert_allclose(logvar.grad.data, 0.5 * np.exp(0.5 * logvar.data) * eps)


def test_vae_negative_elbo_matches_torch_bce_and_kl():
    T = torch()
    vae = _load("vae")
    rng = np.random.default_rng(1)
    logits, x = rng.normal(size=(5, 784)), rng.random((5, 784))
    mu, logvar = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) * 0.5
    recon, kl = vae.negative_elbo(*(mg.tensor(a, dtype=np.float64)
                                    for a in (logits, x, mu, logvar)))
    bce = T.nn.functional.binary_cross_entropy_with_logits(
        T.tensor(logits), T.tensor(x), reduction="sum") / 5
    q = T.distributions.Normal(T.tensor(mu), T.tensor(np.exp(0.5 * logvar)))
    prior = T.distributions.Normal(T.zeros(5, 20, dtype=T.float64),
                                   T.ones(5, 20, dtype=T.float64))
    want_kl = T.distributions.kl_divergence(q, prior).sum() / 5
    assert recon.item() == pytest.approx(bce.item(), rel=1e-10)
    assert kl.item() == pytest.approx(want_kl.item(), rel=1e-10)


def _need_fashion_mnist():
    try:
        mg.data.load_fashion_mnist(download=False)
    except mg.data.DatasetNotFoundError:
        pytest.skip("Fashion-MNIST not found (set MINIGRAD_DATA)")


@pytest.mark.slow
def test_pretrain_example_runs_on_a_tiny_budget(capsys):
    _need_fashion_mnist()
    results = _load("pretrain").main(["--unlabeled", "2000", "--ae-epochs", "1", "--seeds",
                                      "2", "--epochs", "3", "--labeled-fraction", "0.05"])
    assert set(results) == {"scratch", "frozen", "fine-tuned"}
    assert all(len(v) == 2 and all(0.0 <= a <= 1.0 for a in v) for v in results.values())
    assert np.mean(results["scratch"]) > 0.3  # 100 labels, 6 epochs: well above chance
    assert "mean +- std" in capsys.readouterr().out


@pytest.mark.slow
def test_vae_example_runs_on_a_tiny_budget(tmp_path):
    _need_fashion_mnist()
    out = tmp_path / "vae.png"
    result = _load("vae").main(["--train", "2000", "--epochs", "2", "--out", str(out)])
    assert result["test"] < 0.7 * result["before"]  # the ELBO improved on test images
    assert result["train_last"] < result["train_first"] and result["kl"] > 0
    assert out.stat().st_size > 10_000
