"""Batch augmentations: each transform's effect, dtypes, seeding and evaluation mode."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.data import (Compose, GaussianNoise, RandomCrop, RandomHorizontalFlip,
                           RandomRotation, RandomShift)


@pytest.fixture
def images():
    """(N, C, H, W) uint8 with distinct pixels (odd height, even width)."""
    return np.random.default_rng(0).integers(0, 256, (16, 2, 7, 8), dtype=np.uint8)


def shifted(img, dy, dx):
    """img (C, H, W) moved down by dy and right by dx, zero-filled (brute force)."""
    out = np.zeros_like(img)
    H, W = img.shape[1:]
    for y in range(H):
        for x in range(W):
            if 0 <= y - dy < H and 0 <= x - dx < W:
                out[:, y, x] = img[:, y - dy, x - dx]
    return out


# ---- flips --------------------------------------------------------------------------------

def test_flip_twice_is_identity(images):
    flip = RandomHorizontalFlip(p=1.0)
    once = flip(images)
    np.testing.assert_array_equal(once, images[..., ::-1])
    np.testing.assert_array_equal(flip(once), images)
    assert once.dtype == np.uint8


def test_flip_half_of_the_images(images):
    x = np.repeat(images, 20, axis=0)
    out = RandomHorizontalFlip(p=0.5, seed=0)(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped | kept)
    assert 0.4 < flipped.mean() < 0.6
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)


# ---- crops and shifts ---------------------------------------------------------------------

def test_crop_keeps_shape_with_padding(images):
    out = RandomCrop(size=(7, 8), padding=2, seed=0)(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    # Each output is the input shifted by at most 2 pixels, zero-filled.
    for img, res in zip(images, out):
        assert any(np.array_equal(res, shifted(img, dy, dx))
                   for dy in range(-2, 3) for dx in range(-2, 3))


def test_crop_smaller_windows_are_slices(images):
    out = RandomCrop(size=4, seed=1)(images)
    assert out.shape == (16, 2, 4, 4)
    for img, res in zip(images, out):
        assert any(np.array_equal(res, img[:, y:y + 4, x:x + 4])
                   for y in range(4) for x in range(5))
    np.testing.assert_array_equal(RandomCrop(size=(7, 8))(images), images)


def test_crop_too_large():
    with pytest.raises(ValueError, match=r"RandomCrop: size \(9, 9\) is larger than the "
                                         r"padded image \(8, 8\) of x\(1, 1, 6, 6\) with "
                                         r"padding \(1, 1\)"):
        RandomCrop(9, padding=1)(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ValueError, match=r"RandomCrop: padding must be an int >= 0 or a pair"):
        RandomCrop(4, padding=-1)


def test_shift_moves_every_image_within_range(images):
    out = RandomShift(max_shift=2, seed=3)(images)
    seen = set()
    for img, res in zip(images, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(res, shifted(img, dy, dx))]
        assert matches, "output is not a shift of its input by at most 2 pixels"
        seen.add(matches[0])
    assert len(seen) > 5
    np.testing.assert_array_equal(RandomShift(max_shift=0)(images), images)


def test_shift_fraction_and_float_images():
    x = np.random.default_rng(0).random((8, 1, 20, 20)).astype(np.float32)
    out = RandomShift(max_shift=0.1, seed=0)(x)   # up to 2 pixels
    assert out.dtype == np.float32 and out.shape == x.shape
    for img, res in zip(x, out):
        assert any(np.array_equal(res, shifted(img, dy, dx))
                   for dy in range(-2, 3) for dx in range(-2, 3))
    with pytest.raises(ValueError, match=r"RandomShift: max_shift must be an int >= 0 "
                                         r"\(pixels\) or a float in \(0, 1\)"):
        RandomShift(1.5)


# ---- rotation -----------------------------------------------------------------------------

@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_rotation_by_zero_is_identity(images, interp, dtype):
    x = images.astype(dtype)
    out = RandomRotation(0, interpolation=interp)(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_rotation_by_90_matches_rot90(interp):
    x = np.random.default_rng(2).random((3, 2, 9, 9)).astype(np.float32)
    out = RandomRotation((90, 90), interpolation=interp)(x)
    # np.rot90 over (H, W) turns a displayed image counter-clockwise.
    np.testing.assert_allclose(out, np.rot90(x, axes=(2, 3)), atol=1e-5)
    back = RandomRotation((-90, -90), interpolation=interp)(out)
    np.testing.assert_allclose(back, x, atol=1e-5)


def test_rotation_fills_corners_and_keeps_centre():
    x = np.full((2, 1, 9, 9), 200, np.uint8)
    out = RandomRotation((45, 45), fill=0)(x)
    assert out[0, 0, 4, 4] == 200
    assert out[0, 0, 0, 0] == 0 and out[1, 0, 8, 8] == 0


def test_rotation_bilinear_uint8_stays_in_range():
    x = np.random.default_rng(4).integers(0, 256, (10, 1, 12, 12), dtype=np.uint8)
    out = RandomRotation(30, interpolation="bilinear", seed=0)(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
    # Small angles keep most of the image's mass near the original (not garbage).
    assert abs(out[:, :, 4:8, 4:8].astype(float).mean() - x[:, :, 4:8, 4:8].mean()) < 25


def test_rotation_argument_errors():
    with pytest.raises(ValueError, match=r"RandomRotation: degrees must be >= 0 or a pair "
                                         r"lo <= hi, got \(10, 5\)"):
        RandomRotation((10, 5))
    with pytest.raises(ValueError, match="interpolation must be 'nearest' or 'bilinear', "
                                         "got 'cubic'"):
        RandomRotation(10, interpolation="cubic")


# ---- noise --------------------------------------------------------------------------------

def test_gaussian_noise_std():
    x = np.zeros((64, 1, 28, 28), np.float32)
    out = GaussianNoise(0.1, seed=0)(x)
    assert out.dtype == np.float32
    assert abs(out.std() - 0.1) < 0.002 and abs(out.mean()) < 0.002
    clipped = GaussianNoise(0.5, clip=(0.0, 1.0), seed=0)(x)
    assert clipped.min() == 0.0 and clipped.max() <= 1.0


def test_gaussian_noise_rejects_integer_images(images):
    with pytest.raises(TypeError, match=r"GaussianNoise: expects float images, got uint8; "
                                        r"convert first"):
        GaussianNoise(0.1)(images)
    with pytest.raises(ValueError, match=r"GaussianNoise: std must be >= 0, got -1"):
        GaussianNoise(-1)


# ---- seeding, eval, shapes ----------------------------------------------------------------

def make_all(seed=None, rng=None):
    kw = dict(seed=seed, rng=rng)
    return [RandomHorizontalFlip(**kw), RandomCrop(6, padding=1, **kw), RandomShift(2, **kw),
            RandomRotation(30, **kw), RandomRotation(30, interpolation="bilinear", **kw),
            GaussianNoise(0.1, **kw)]


@pytest.mark.parametrize("index", range(6), ids=["flip", "crop", "shift", "rot-nearest",
                                                 "rot-bilinear", "noise"])
def test_seeds_repeat(images, index):
    x = images.astype(np.float32) / 255
    a, b, c = make_all(5)[index], make_all(5)[index], make_all(6)[index]
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, c(x))
    assert not np.array_equal(first, a(x))   # the generator advances between batches
    mg.manual_seed(11)
    u = make_all()[index](x)
    mg.manual_seed(11)
    np.testing.assert_array_equal(make_all()[index](x), u)
    # A Generator passed as rng= is used as is.
    from_rng = make_all(rng=np.random.default_rng(3))[index](x)
    np.testing.assert_array_equal(make_all(rng=np.random.default_rng(3))[index](x), from_rng)


@pytest.mark.parametrize("index", range(6), ids=["flip", "crop", "shift", "rot-nearest",
                                                 "rot-bilinear", "noise"])
def test_eval_is_a_no_op(images, index):
    x = images.astype(np.float32)
    t = make_all(0)[index].eval()
    assert t(x) is x
    t.train()
    assert t.training


def test_compose_chains_and_switches_all(images):
    x = images.astype(np.float32) / 255
    pipeline = Compose([RandomHorizontalFlip(p=1.0), RandomShift(1, seed=0),
                        GaussianNoise(0.0)])
    out = pipeline(x)
    assert out.shape == x.shape
    pipeline.eval()
    assert all(not t.training for t in pipeline.transforms)
    assert pipeline(x) is x
    pipeline.train()
    np.testing.assert_array_equal(Compose([RandomHorizontalFlip(p=1.0)])(x), x[..., ::-1])
    scale = Compose([lambda v: v * 2, lambda v: v + 1])   # any callables, any shapes
    np.testing.assert_array_equal(scale(np.arange(3)), [1, 3, 5])
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        Compose([3])


def test_nhw_batches_and_shape_errors():
    x = np.random.default_rng(0).integers(0, 256, (4, 6, 6), dtype=np.uint8)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    assert RandomShift(1)(x).shape == (4, 6, 6)
    with pytest.raises(ValueError, match=r"RandomShift: expects images \(N, C, H, W\) or "
                                         r"\(N, H, W\), got shape \(6, 6\)"):
        RandomShift(1)(x[0])
    assert RandomRotation(10)(np.zeros((0, 1, 5, 5))).shape == (0, 1, 5, 5)


def test_loader_applies_transform_per_batch():
    x = np.random.default_rng(0).integers(0, 256, (10, 1, 6, 6), dtype=np.uint8)
    y = np.arange(10)
    loader = mg.data.DataLoader((x, y), batch_size=4,
                                transform=RandomHorizontalFlip(p=1.0))
    xb, yb = next(iter(loader))
    np.testing.assert_array_equal(xb, x[:4, :, :, ::-1])


def test_flip_probability_checked():
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must lie in \[0, 1\], "
                                         r"got 1.5"):
        RandomHorizontalFlip(p=1.5)
    with pytest.raises(TypeError, match=r"RandomHorizontalFlip: expects uint8/int or float "
                                        r"images, got bool"):
        RandomHorizontalFlip()(np.zeros((2, 1, 3, 3), bool))
