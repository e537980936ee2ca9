"""Augmentations of whole batches of images (NCHW numpy), vectorised over the batch.

Each transform maps x (N, C, H, W) -- or (N, H, W) -- uint8 or float to an array of the
same dtype; every image of the batch draws its own random parameters. Randomness comes
from `rng` (a Generator) or a private Generator seeded with `seed`, else from minigrad's
generator (`mg.manual_seed`), so runs repeat. A transform is active while `training` is
True; `t.eval()` makes it the identity and `t.train()` re-enables it. A DataLoader skips
its transform altogether when `loader.eval()` is set (fit/evaluate do this for
validation data), so the flag matters for transforms used outside a loader.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._transform import Compose, Transform, _check_prob, _pair
from .geometric import RandomAffine, RandomRotation, RandomZoom

__all__ = ["ColorJitter", "Compose", "GaussianNoise", "RandomAffine", "RandomCrop",
           "RandomErasing", "RandomHorizontalFlip", "RandomRotation", "RandomShift",
           "RandomZoom", "Transform", "crop_windows"]


class RandomHorizontalFlip(Transform):
    """Mirrors each image left-right with probability p."""

    def __init__(self, p: float = 0.5, seed=None, rng=None):
        super().__init__(seed, rng)
        self.p = _check_prob("RandomHorizontalFlip", p)

    def apply(self, x):
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip, :, :, ::-1]
        return out


def crop_windows(x: np.ndarray, size: tuple[int, int], padding: tuple[int, int], fill,
                 oy: np.ndarray, ox: np.ndarray) -> np.ndarray:
    """Image i's (h, w) window at (oy[i], ox[i]) of x zero-/fill-padded by (py, px)."""
    (h, w), (py, px) = size, padding
    N, C, H, W = x.shape
    if py or px:
        padded = np.full((N, C, H + 2 * py, W + 2 * px), fill, dtype=x.dtype)
        padded[:, :, py:py + H, px:px + W] = x
        x = padded
    # A strided view of every window; one advanced-index gather copies the chosen ones
    # (measured faster than a block copy per distinct offset, and than np.pad).
    windows = sliding_window_view(x, (h, w), axis=(2, 3))
    return windows[np.arange(N), :, oy, ox]


class RandomCrop(Transform):
    """A random (h, w) window of each image, after padding it by `padding` pixels
    filled with `fill` on every side (padding=4 with size=H is the CIFAR recipe)."""

    def __init__(self, size, padding=0, fill=0, seed=None, rng=None):
        super().__init__(seed, rng)
        self.size = _pair("RandomCrop", "size", size, 1)
        self.padding = _pair("RandomCrop", "padding", padding, 0)
        self.fill = fill

    def apply(self, x):
        (h, w), (py, px) = self.size, self.padding
        H, W = x.shape[2] + 2 * py, x.shape[3] + 2 * px
        if h > H or w > W:
            raise ValueError(f"RandomCrop: size {self.size} is larger than the padded image "
                             f"({H}, {W}) of x{x.shape} with padding {self.padding}")
        rng = self.rng
        oy = rng.integers(0, H - h + 1, len(x))
        ox = rng.integers(0, W - w + 1, len(x))
        return crop_windows(x, (h, w), (py, px), self.fill, oy, ox)


class RandomShift(Transform):
    """Translates each image by a random whole number of pixels in [-m, m] along each
    axis, filling the uncovered border with `fill`.

    max_shift: m in pixels (int), or a fraction of the height/width (float in (0, 1)).
    """

    def __init__(self, max_shift=2, fill=0, seed=None, rng=None):
        super().__init__(seed, rng)
        bad = not (isinstance(max_shift, (int, np.integer)) and max_shift >= 0
                   or isinstance(max_shift, float) and 0.0 < max_shift < 1.0)
        if bad:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0 (pixels) or a "
                             f"float in (0, 1) (fraction of the size), got {max_shift!r}")
        self.max_shift = max_shift
        self.fill = fill

    def apply(self, x):
        H, W = x.shape[2:]
        if isinstance(self.max_shift, float):
            my, mx = int(self.max_shift * H), int(self.max_shift * W)
        else:
            my = mx = min(self.max_shift, H, W)
        rng = self.rng
        # A shift by d is the H x W window at offset m - d of the m-padded image.
        oy = rng.integers(0, 2 * my + 1, len(x))
        ox = rng.integers(0, 2 * mx + 1, len(x))
        return crop_windows(x, (H, W), (my, mx), self.fill, oy, ox)


class GaussianNoise(Transform):
    """Adds independent N(0, std^2) noise to every pixel of float images.

    clip: optional (lo, hi) range the result is clipped to (e.g. (0, 1)).
    Raises TypeError for integer images (scale them to float first).
    """

    def __init__(self, std: float, clip=None, seed=None, rng=None):
        super().__init__(seed, rng)
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std!r}")
        self.std = float(std)
        self.clip = clip

    def apply(self, x):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GaussianNoise: expects float images, got {x.dtype}; "
                            f"convert first, e.g. x.astype(np.float32) / 255")
        # Draw in the image's precision (float32 draws are ~2x faster than float64).
        draw = np.float64 if x.dtype == np.float64 else np.float32
        noise = self.rng.standard_normal(x.shape, dtype=draw)
        noise *= draw(self.std)
        out = x + noise.astype(x.dtype, copy=False)
        return out if self.clip is None else np.clip(out, *self.clip).astype(x.dtype)


def _value_range(x: np.ndarray, value_range) -> tuple[float, float]:
    """The range pixel values are clipped to: value_range, else (0, 1) for float images
    and (0, 255) for uint8 (torchvision's convention), else the integer dtype's range."""
    if value_range is not None:
        return value_range
    if np.issubdtype(x.dtype, np.floating):
        return 0.0, 1.0
    info = np.iinfo(x.dtype)
    return float(info.min), float(info.max)


class ColorJitter(Transform):
    """torchvision's brightness and contrast jitter, one factor of each per image.

    brightness b: x <- x * f_b, f_b ~ U(max(0, 1 - b), 1 + b);
    contrast c: x <- f_c * x + (1 - f_c) * mean(gray(x)), f_c ~ U(max(0, 1 - c), 1 + c),
    gray the ITU-R 601 luma of 3-channel images (the image itself for 1 channel),
    each followed by a clip to the value range (``value_range``, default (0, 1) for
    float images and (0, 255) for uint8). Brightness is applied before contrast
    (torchvision picks the order at random). Integer images are rounded back.
    Raises ValueError for a negative factor or a value range with lo >= hi.
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, value_range=None,
                 seed=None, rng=None):
        super().__init__(seed, rng)
        for key, v in (("brightness", brightness), ("contrast", contrast)):
            if not (np.isscalar(v) and v >= 0):
                raise ValueError(f"ColorJitter: {key} must be a number >= 0, got {v!r}")
        if value_range is not None and not value_range[0] < value_range[1]:
            raise ValueError(f"ColorJitter: value_range must be (lo, hi) with lo < hi, "
                             f"got {value_range!r}")
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.value_range = value_range

    def _factors(self, amount: float, n: int) -> np.ndarray:
        f = self.rng.uniform(max(0.0, 1.0 - amount), 1.0 + amount, n)
        return f.astype(np.float32)[:, None, None, None]

    def apply(self, x):
        lo, hi = _value_range(x, self.value_range)
        out = x.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
        if self.brightness:
            out = np.clip(out * self._factors(self.brightness, len(x)), lo, hi)
        if self.contrast:
            gray = out if out.shape[1] != 3 else np.tensordot(
                out, np.array([0.299, 0.587, 0.114], out.dtype), axes=([1], [0]))
            mean = gray.reshape(len(x), -1).mean(axis=1)[:, None, None, None]
            f = self._factors(self.contrast, len(x))
            out = np.clip(f * out + (1 - f) * mean, lo, hi)
        if np.issubdtype(x.dtype, np.integer):
            return np.rint(out).astype(x.dtype)
        return out.astype(x.dtype, copy=False)


class RandomErasing(Transform):
    """torchvision's RandomErasing (Zhong et al., "Random erasing data augmentation",
    AAAI 2020): with probability p, a rectangle of each image, of area a * H * W with
    a ~ U(scale) and aspect ratio r (log-uniform in ``ratio``), h = round(sqrt(a H W r)),
    w = round(sqrt(a H W / r)), at a uniform position, is set to ``value`` in every
    channel. As torchvision, up to 10 draws are tried until the rectangle fits, else
    the image is left alone; all images draw at once. Raises ValueError for p outside
    [0, 1] or ranges with lo > hi (scale within (0, 1], ratio > 0).
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 seed=None, rng=None):
        super().__init__(seed, rng)
        self.p = _check_prob("RandomErasing", p)
        for key, (lo, hi), low in (("scale", scale, 0.0), ("ratio", ratio, 0.0)):
            if not low < lo <= hi or (key == "scale" and hi > 1):
                raise ValueError(f"RandomErasing: {key} must be (lo, hi) with "
                                 f"{low:g} < lo <= hi{' <= 1' if key == 'scale' else ''}, "
                                 f"got {(lo, hi)!r}")
        self.scale, self.ratio = (float(scale[0]), float(scale[1])), \
            (float(ratio[0]), float(ratio[1]))
        self.value = value

    def apply(self, x):
        N, _, H, W = x.shape
        rng, tries = self.rng, 10
        area = H * W * rng.uniform(*self.scale, (N, tries))
        r = np.exp(rng.uniform(*np.log(self.ratio), (N, tries)))
        h, w = np.rint(np.sqrt(area * r)).astype(int), np.rint(np.sqrt(area / r)).astype(int)
        fits = (h < H) & (w < W)
        first = fits.argmax(axis=1)  # the first draw that fits, as torchvision's loop
        rows = np.arange(N)
        h, w = h[rows, first], w[rows, first]
        erase = fits.any(axis=1) & (rng.random(N) < self.p)
        top = (rng.random(N) * (H - h + 1)).astype(int)
        left = (rng.random(N) * (W - w + 1)).astype(int)
        ys, xs = np.arange(H), np.arange(W)
        inside = ((ys >= top[:, None]) & (ys < (top + h)[:, None]))[:, None, :, None] & \
            ((xs >= left[:, None]) & (xs < (left + w)[:, None]))[:, None, None, :]
        return np.where(inside & erase[:, None, None, None], x.dtype.type(self.value), x)
