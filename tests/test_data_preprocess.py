"""Standardizer's with_mean/with_std (sklearn StandardScaler's formulas) and per-channel
NCHW statistics; Whitening (PCA/ZCA): identity covariance, Keras's ZCA formula,
inverse, errors."""
from __future__ import annotations

import numpy as np
import pytest

from minigrad.data import Standardizer, Whitening


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(5.0, 3.0, (400, 6)).astype(np.float32)


def test_standardizer_center_only_and_scale_only(x):
    mean, std = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)
    centred = Standardizer(with_std=False).fit_transform(x)
    np.testing.assert_allclose(centred, x - mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(centred.std(0), std, rtol=1e-5)  # scale untouched
    scaled = Standardizer(with_mean=False).fit(x)
    np.testing.assert_allclose(scaled.transform(x), x / std, rtol=1e-5)
    assert np.all(scaled.mean_ == 0)
    np.testing.assert_allclose(scaled.inverse_transform(scaled.transform(x)), x, rtol=1e-5)
    same = Standardizer(with_mean=False, with_std=False).fit_transform(x)
    np.testing.assert_allclose(same, x)


def test_standardizer_per_channel_nchw_centering():
    rng = np.random.default_rng(1)
    imgs = (rng.normal(size=(30, 3, 4, 4)) * [[[[1.0]], [[2.0]], [[3.0]]]] +
            [[[[10.0]], [[-5.0]], [[0.5]]]]).astype(np.float32)
    s = Standardizer(axis=(0, 2, 3), with_std=False).fit(imgs)
    assert s.mean_.shape == (1, 3, 1, 1) and np.all(s.std_ == 1)
    z = s.transform(imgs)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), imgs.std(axis=(0, 2, 3)), rtol=1e-5)


def _correlated(n=5000, d=5, seed=2):
    """Samples of one fixed correlated Gaussian law (seed picks the samples only)."""
    law = np.random.default_rng(0)
    mix, shift = law.normal(size=(d, d)), law.normal(size=d) * 4
    return np.random.default_rng(seed).normal(size=(n, d)) @ mix + shift


@pytest.mark.parametrize("kind", ["pca", "zca"])
def test_whitening_output_covariance_is_identity(kind):
    data = _correlated()
    w = Whitening(kind, eps=1e-8).fit(data)
    z = w.transform(data)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-10)
    cov = np.cov(z.T, bias=True)
    np.testing.assert_allclose(cov, np.eye(5), atol=1e-5)
    if kind == "pca":  # exactly diag(l / (l + eps))
        lam = w.eigenvalues_
        np.testing.assert_allclose(cov, np.diag(lam / (lam + 1e-8)), atol=1e-10)
    test = _correlated(seed=3)  # fitted statistics apply to new data of the same law
    assert np.abs(np.cov(w.transform(test).T, bias=True) - np.eye(5)).max() < 0.3
    np.testing.assert_allclose(w.inverse_transform(z), data, rtol=1e-6, atol=1e-6)


def test_whitening_pca_orders_components_and_zca_matches_keras():
    data = _correlated()
    pca = Whitening("pca").fit(data)
    assert np.all(np.diff(pca.eigenvalues_) <= 0)
    zca = Whitening("zca", eps=1e-6).fit(data)
    # Keras ImageDataGenerator(zca_whitening=True): SVD of the covariance of the
    # centred samples, then (u * 1 / sqrt(s + eps)) . u^T
    flat = data - data.mean(0)
    u, s, _ = np.linalg.svd(flat.T @ flat / len(flat))
    keras = (u * (1.0 / np.sqrt(s[np.newaxis] + 1e-6))) @ u.T
    np.testing.assert_allclose(zca.components_, keras, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(zca.transform(data), flat @ keras, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(zca.components_, zca.components_.T, atol=1e-10)


def test_whitening_images_keep_their_shape_with_zca_and_flatten_with_pca():
    imgs = np.random.default_rng(4).integers(0, 256, (300, 1, 4, 4), dtype=np.uint8)
    z = Whitening("zca", eps=1e-2).fit_transform(imgs)
    assert z.shape == imgs.shape and z.dtype == np.float32
    p = Whitening("pca").fit(imgs).transform(imgs)
    assert p.shape == (300, 16)


def test_whitening_errors():
    with pytest.raises(ValueError, match="Whitening: kind must be 'pca' or 'zca', got 'ica'"):
        Whitening("ica")
    with pytest.raises(ValueError, match="Whitening: eps must be a number >= 0, got -1"):
        Whitening(eps=-1)
    with pytest.raises(RuntimeError, match=r"Whitening.transform: call fit\(x_train\) first"):
        Whitening().transform(np.zeros((3, 2)))
    w = Whitening().fit(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match=r"Whitening.transform: x of shape \(2, 4\) has 4 "
                                         r"features, fitted with 3"):
        w.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Whitening.fit: needs x \(N >= 2, ...\), got "
                                         r"shape \(1, 3\)"):
        Whitening().fit(np.zeros((1, 3)))
