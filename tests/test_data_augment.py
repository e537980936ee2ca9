"""RandomAffine, RandomZoom, ColorJitter and RandomErasing: each checked against its
formula (exact on linear ramps, where bilinear interpolation is exact), dtypes,
seeding, eval mode and argument errors; predict with test-time augmentation."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.data import (ColorJitter, RandomAffine, RandomErasing, RandomRotation,
                           RandomZoom)
from minigrad.data.geometric import warp_affine

H, W = 9, 12


def ramp(n=4, c=2, alpha=0.7, beta=-0.4):
    """Float images f(y, x) = alpha x + beta y + channel: bilinear is exact on them."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    img = alpha * xs + beta * ys
    return np.stack([np.stack([img + ch for ch in range(c)])] * n)


def expected_at(x, inverse_map, fill=-100.0):
    """x (N, C, H, W) read at inverse_map(px, py) -> (sx, sy), bilinear on a ramp
    (exact) or fill outside."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    sx, sy = inverse_map(xs, ys)
    alpha = x[0, 0, 0, 1] - x[0, 0, 0, 0]
    beta = x[0, 0, 1, 0] - x[0, 0, 0, 0]
    vals = x[:, :, :1, :1] + alpha * sx + beta * sy
    inside = (sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)
    return np.where(inside, vals, fill), inside


CX, CY = (W - 1) / 2, (H - 1) / 2


def test_warp_affine_is_exact_on_a_ramp_for_a_general_map():
    x = ramp()
    m = np.array([[1.3, 0.4], [-0.2, 0.8]])
    t = np.array([1.5, -0.5])
    out = warp_affine(x, np.repeat(m[None], 4, 0), np.repeat(t[None], 4, 0), "bilinear",
                      fill=-100.0)
    inv = np.linalg.inv(m)

    def source(px, py):
        dx, dy = px - CX - t[0], py - CY - t[1]
        return inv[0, 0] * dx + inv[0, 1] * dy + CX, inv[1, 0] * dx + inv[1, 1] * dy + CY

    want, inside = expected_at(x, source)
    np.testing.assert_allclose(out[..., inside], want[..., inside], atol=1e-4)
    assert inside.mean() > 0.5 and np.all(out[..., ~inside] <= 0)  # border mixes fill


def test_random_affine_rotation_by_90_matches_rot90_and_rotation():
    x = np.random.default_rng(0).integers(0, 256, (3, 2, 7, 7), dtype=np.uint8)
    out = RandomAffine(degrees=(90, 90))(x)
    np.testing.assert_array_equal(out, np.rot90(x, 1, axes=(2, 3)))
    np.testing.assert_array_equal(out, RandomRotation((90, 90))(x))
    assert out.dtype == np.uint8


def test_random_affine_fixed_scale_and_shear_follow_the_formula():
    x = ramp()
    s, a, b = 1.25, math.radians(20), math.radians(-10)
    out = RandomAffine(scale=(s, s), shear=(20, 20, -10, -10), interpolation="bilinear",
                       fill=-100.0)(x)
    m = s * np.array([[1, math.tan(a)], [math.tan(b), 1]])
    inv = np.linalg.inv(m)
    want, inside = expected_at(x, lambda px, py: (
        inv[0, 0] * (px - CX) + inv[0, 1] * (py - CY) + CX,
        inv[1, 0] * (px - CX) + inv[1, 1] * (py - CY) + CY))
    np.testing.assert_allclose(out[..., inside], want[..., inside], atol=1e-4)


def test_random_affine_translate_moves_by_whole_pixels_within_range():
    x = np.random.default_rng(1).random((40, 1, H, W)).astype(np.float32) + 1
    out = RandomAffine(translate=(0.25, 0.2), seed=0)(x)
    seen = set()
    for img, res in zip(x, out):
        hits = [(dy, dx) for dy in range(-2, 3) for dx in range(-3, 4)
                if np.array_equal(res, _shifted(img, dy, dx))]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) > 10  # the shifts vary from image to image


def _shifted(img, dy, dx):
    out = np.zeros_like(img)
    src = img[:, max(0, -dy):H - max(0, dy), max(0, -dx):W - max(0, dx)]
    out[:, max(0, dy):max(0, dy) + src.shape[1], max(0, dx):max(0, dx) + src.shape[2]] = src
    return out


def test_random_zoom_follows_keras_sampling_z_times_p():
    x = ramp(n=2)
    out = RandomZoom((1.0, 1.0), fill=-100.0)(x)  # z = 2: zoom out by two
    want, inside = expected_at(x, lambda px, py: (2 * (px - CX) + CX, 2 * (py - CY) + CY))
    np.testing.assert_allclose(out[..., inside], want[..., inside], atol=1e-4)
    ins = RandomZoom((-0.5, -0.5))(x)  # z = 0.5: zoom in, no border at all
    want, inside = expected_at(x, lambda px, py: (0.5 * (px - CX) + CX, 0.5 * (py - CY) + CY))
    assert inside.all()
    np.testing.assert_allclose(ins, want, atol=1e-4)


def test_random_zoom_range_draws_within_one_plus_minus_r():
    x = np.ones((200, 1, 21, 21), np.float32)
    out = RandomZoom(0.3, interpolation="nearest", seed=1)(x)
    # zooming out by z leaves a border; the covered width ~ 21 / z
    width = out[:, 0, 10, :].sum(axis=1)
    assert width.min() >= 21 / 1.3 - 1.5 and width.max() == 21
    assert (width < 21).mean() > 0.3


def test_color_jitter_brightness_and_contrast_formulas():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 0.6, (50, 1, 8, 8)).astype(np.float32)
    out = ColorJitter(brightness=0.4, seed=0)(x)
    factor = (out / x).reshape(50, -1)
    np.testing.assert_allclose(factor, factor[:, :1] * np.ones_like(factor), rtol=1e-5)
    assert 0.6 <= factor.min() and factor.max() <= 1.4 and factor.std() > 0.1
    out = ColorJitter(contrast=0.5, seed=0)(x)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    f = ((out - mean) / (x - mean)).reshape(50, -1)
    np.testing.assert_allclose(f, f[:, :1] * np.ones_like(f), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), mean.ravel(), atol=1e-5)
    assert 0.5 <= f.min() and f.max() <= 1.5


def test_color_jitter_rgb_gray_mean_uint8_and_clipping():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (6, 3, 5, 5), dtype=np.uint8)
    out = ColorJitter(brightness=3.0, contrast=0.8, seed=1)(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
    xf = rng.uniform(0, 1, (20, 3, 4, 4)).astype(np.float32)
    big = ColorJitter(brightness=5.0, seed=2)(xf)
    assert big.max() <= 1.0 and big.min() >= 0.0 and (big == 1.0).any()
    # contrast blends towards the mean luma 0.299 R + 0.587 G + 0.114 B
    gray_mean = np.tensordot(xf, [0.299, 0.587, 0.114], axes=([1], [0])).mean(axis=(1, 2))
    xf = 0.4 + 0.2 * xf  # factors up to 1.3 keep these inside [0, 1]: no clipping
    gray_mean = np.tensordot(xf, [0.299, 0.587, 0.114], axes=([1], [0])).mean(axis=(1, 2))
    flat = ColorJitter(contrast=0.3, seed=3)(xf)
    f = (flat[:, 0, 0, 0] - gray_mean) / (xf[:, 0, 0, 0] - gray_mean)
    np.testing.assert_allclose(flat - gray_mean[:, None, None, None],
                               f[:, None, None, None] * (xf - gray_mean[:, None, None, None]),
                               atol=1e-5)
    assert ColorJitter()(xf) is not None and np.array_equal(ColorJitter()(xf), xf)


def test_random_erasing_rectangles_follow_scale_and_ratio():
    x = np.ones((300, 2, 32, 32), np.float32)
    out = RandomErasing(p=1.0, scale=(0.05, 0.2), ratio=(0.5, 2.0), value=0, seed=0)(x)
    for img in out:
        ys, xs = np.nonzero(img[0] == 0)
        assert np.array_equal(img[0] == 0, img[1] == 0)  # every channel
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert h * w == len(ys)  # one filled rectangle
        assert 0.05 * 1024 - 2 * (h + w) <= h * w <= 0.2 * 1024 + 2 * (h + w)
        assert 0.5 / 1.5 <= h / w <= 2.0 * 1.5
    some = RandomErasing(p=0.3, seed=1)(x)
    assert 0.2 < np.mean((some == 0).any(axis=(1, 2, 3))) < 0.4
    np.testing.assert_array_equal(RandomErasing(p=0.0)(x), x)


def test_new_transforms_seed_repeat_and_eval_is_identity():
    x = ramp(n=8).astype(np.float32)
    for make in (lambda s: RandomAffine(15, (0.1, 0.1), (0.9, 1.1), 10, seed=s),
                 lambda s: RandomZoom(0.2, seed=s),
                 lambda s: ColorJitter(0.3, 0.3, value_range=(-10, 30), seed=s),
                 lambda s: RandomErasing(0.9, seed=s)):
        a = make(4)(x)
        np.testing.assert_array_equal(a, make(4)(x))
        assert not np.array_equal(a, make(5)(x))
        assert make(4).eval()(x) is x
        assert a.shape == x.shape and a.dtype == x.dtype


@pytest.mark.parametrize("make,message", [
    (lambda: RandomAffine(degrees=(10, 5)), r"degrees must be >= 0 or a pair lo <= hi"),
    (lambda: RandomAffine(translate=(0.5, 1.5)),
     r"translate must be None or a pair \(a, b\) of fractions within \[0, 1\], got"),
    (lambda: RandomAffine(scale=(0, 1)), r"scale must be .* within"),
    (lambda: RandomAffine(shear=(1, 2, 3)), r"shear must be a number, a pair or four"),
    (lambda: RandomAffine(shear=95), r"shear must be .* within \[-89.99, 89.99\]"),
    (lambda: RandomZoom(1.0), r"RandomZoom: range must be .* within \[-0.999, inf\]"),
    (lambda: ColorJitter(brightness=-1), r"ColorJitter: brightness must be a number >= 0"),
    (lambda: RandomErasing(scale=(0.3, 0.1)), r"RandomErasing: scale must be \(lo, hi\)"),
    (lambda: RandomErasing(p=2), r"RandomErasing: p must lie in \[0, 1\], got 2"),
], ids=["degrees", "translate", "scale", "shear_len", "shear_angle", "zoom", "jitter",
        "erasing_scale", "erasing_p"])
def test_new_transforms_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ----- predict with test-time augmentation ------------------------------------------
def test_predict_tta_is_the_mean_over_augmented_copies():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * H * W, 3))
    x = ramp(n=10).astype(np.float32)
    plain = mg.train.predict(model, x, batch_size=4)
    np.testing.assert_allclose(mg.train.predict(model, x, tta=lambda b: b, tta_rounds=3),
                               plain, rtol=1e-6)
    flip = lambda b: b[..., ::-1]  # noqa: E731  (a deterministic "augmentation")
    want = (plain + mg.train.predict(model, x[..., ::-1].copy())) / 2
    calls = iter(range(100))
    alternate = lambda b: b if next(calls) % 2 == 0 else flip(b)  # noqa: E731
    got = mg.train.predict(model, x, batch_size=10, tta=alternate, tta_rounds=2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    shaky = mg.train.predict(model, x, tta=RandomAffine(10, seed=0), tta_rounds=8)
    assert shaky.shape == plain.shape and not np.allclose(shaky, plain)


def test_predict_tta_argument_errors():
    model = nn.Linear(3, 2)
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="predict: tta must be None or a callable"):
        mg.train.predict(model, x, tta=3)
    with pytest.raises(ValueError, match="predict: tta_rounds must be an int >= 1, got 0"):
        mg.train.predict(model, x, tta=lambda b: b, tta_rounds=0)
