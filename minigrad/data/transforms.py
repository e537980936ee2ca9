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

from ..random import get_rng


class Transform:
    """Base class: argument checks, the training flag and the random generator."""

    def __init__(self, seed: int | None = None, rng: np.random.Generator | None = None):
        self._rng = np.random.default_rng(seed) if seed is not None else rng
        self.training = True

    @property
    def rng(self) -> np.random.Generator:
        return get_rng(self._rng)

    def train(self, mode: bool = True) -> "Transform":
        self.training = bool(mode)
        return self

    def eval(self) -> "Transform":
        return self.train(False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        name = type(self).__name__
        if x.ndim not in (3, 4):
            raise ValueError(f"{name}: expects images (N, C, H, W) or (N, H, W), "
                             f"got shape {x.shape}")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name}: expects uint8/int or float images, got {x.dtype}")
        if not self.training or len(x) == 0:
            return x
        if x.ndim == 3:
            return self.apply(x[:, None])[:, 0]
        return self.apply(x)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The augmentation of a (N, C, H, W) batch."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Applies `transforms` in order; train()/eval() switch all of them."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    def train(self, mode: bool = True) -> "Compose":
        for t in self.transforms:
            if hasattr(t, "train"):
                t.train(mode)
        return super().train(mode)

    def __call__(self, x):
        # No image checks here: the members check their input, and plain callables in
        # the chain may take other shapes.
        if not self.training:
            return x
        for t in self.transforms:
            x = t(x)
        return x


def _check_prob(name: str, p) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p must lie in [0, 1], got {p!r}")
    return float(p)


def _pair(name: str, what: str, v, minimum: int) -> tuple[int, int]:
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2 or any(not isinstance(a, (int, np.integer)) or a < minimum
                             for a in pair):
        raise ValueError(f"{name}: {what} must be an int >= {minimum} or a pair of them, "
                         f"got {v!r}")
    return int(pair[0]), int(pair[1])


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


class RandomRotation(Transform):
    """Rotates each image about its centre by a random angle, counter-clockwise in
    degrees, drawn uniformly from [-degrees, degrees] (or [lo, hi] for a pair).

    interpolation: "nearest" or "bilinear" (integer images are rounded back).
    Pixels that come from outside the image get `fill`. All images are resampled at
    once through per-image index maps.
    """

    def __init__(self, degrees, interpolation: str = "nearest", fill=0, seed=None, rng=None):
        super().__init__(seed, rng)
        lo, hi = (-degrees, degrees) if np.isscalar(degrees) else tuple(degrees)
        if not lo <= hi:
            raise ValueError(f"RandomRotation: degrees must be >= 0 or a pair lo <= hi, "
                             f"got {degrees!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomRotation: interpolation must be 'nearest' or "
                             f"'bilinear', got {interpolation!r}")
        self.degrees = (float(lo), float(hi))
        self.interpolation = interpolation
        self.fill = fill

    def _source_coords(self, n: int, H: int, W: int):
        """Where each output pixel reads the input: sy, sx float32 (n, H, W)."""
        theta = np.deg2rad(self.rng.uniform(*self.degrees, n))[:, None]
        cos, sin = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
        cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
        xs = np.arange(W, dtype=np.float32) - np.float32(cx)
        ys = np.arange(H, dtype=np.float32) - np.float32(cy)
        # Inverse map: output pixel p reads input at R(-theta) p (y axis points down).
        # Each coordinate is a row term plus a column term: one broadcast add per map.
        sx = (cos * xs)[:, None, :] + (np.float32(cx) - sin * ys)[:, :, None]
        sy = (sin * xs)[:, None, :] + (np.float32(cy) + cos * ys)[:, :, None]
        return sy, sx

    def apply(self, x):
        N, C, H, W = x.shape
        sy, sx = self._source_coords(N, H, W)
        # Pad by one pixel of `fill` and clamp coordinates onto that border, so reads
        # from outside the image return fill without a mask.
        Hp, Wp = H + 2, W + 2
        xp = np.full((N, C, Hp, Wp), self.fill, dtype=x.dtype)
        xp[:, :, 1:-1, 1:-1] = x
        flat = xp.reshape(-1)
        # Offset of image n, channel c in `flat`, broadcast against (N, 1, H*W) indices.
        base = (np.arange(N)[:, None, None] * C + np.arange(C)[None, :, None]) * (Hp * Wp)

        def gather(iy, ix):   # float32 integer-valued coordinates (N, H, W)
            iy = np.clip(iy, -1, H) + 1
            ix = np.clip(ix, -1, W) + 1
            idx = (iy * Wp + ix).astype(np.intp).reshape(N, 1, H * W)
            return np.take(flat, idx + base).reshape(N, C, H, W)

        if self.interpolation == "nearest":
            return gather(np.rint(sy), np.rint(sx))
        y0, x0 = np.floor(sy), np.floor(sx)
        wy, wx = (sy - y0)[:, None], (sx - x0)[:, None]
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        top = gather(y0, x0) * (1 - wx) + gather(y0, x0 + 1) * wx
        bottom = gather(y0 + 1, x0) * (1 - wx) + gather(y0 + 1, x0 + 1) * wx
        out = (top * (1 - wy) + bottom * wy).astype(dtype, copy=False)
        if np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            return np.clip(np.rint(out), info.min, info.max).astype(x.dtype)
        return out


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
