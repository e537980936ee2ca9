"""Geometric batch augmentations: rotation, affine maps (rotation, translation, scale,
shear) and zoom, all through one affine warp: compiled (_warp.py), with the vectorised
numpy resampler below as its reference (see transforms.py for the conventions shared
by every transform).

Coordinates: x to the right, y down, the centre c = ((W - 1) / 2, (H - 1) / 2). Each
image n gets a 2x2 map M[n] and a translation t[n] in pixels; output pixel p shows the
input at M[n]^-1 (p - c - t[n]) + c. Pixels read from outside the image get ``fill``.
"""
from __future__ import annotations

import math

import numpy as np

from ._transform import Transform

_INTERPOLATIONS = ("nearest", "bilinear")


def _span(name: str, what: str, v, low: float = -math.inf, high: float = math.inf
          ) -> tuple[float, float]:
    """(lo, hi) from a number v >= 0 (meaning (-v, v)) or a pair lo <= hi, each in
    [low, high]; ValueError echoing v otherwise."""
    try:
        lo, hi = (-float(v), float(v)) if np.isscalar(v) else map(float, v)
    except (TypeError, ValueError):
        lo, hi = math.nan, math.nan
    if not (lo <= hi and low <= lo and hi <= high):
        bounds = "" if (low, high) == (-math.inf, math.inf) else f" within [{low:g}, {high:g}]"
        raise ValueError(f"{name}: {what} must be >= 0 or a pair lo <= hi{bounds}, "
                         f"got {v!r}")
    return lo, hi


def _check_interpolation(name: str, interpolation: str) -> str:
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be 'nearest' or 'bilinear', got "
                         f"{interpolation!r}")
    return interpolation


def warp_affine(x: np.ndarray, forward: np.ndarray, translate: np.ndarray,
                interpolation: str = "nearest", fill=0) -> np.ndarray:
    """x (N, C, H, W) with image n mapped by p -> forward[n] (p - c) + c + translate[n].

    forward: (N, 2, 2) invertible maps in (x, y) order; translate: (N, 2) pixels (x, y).
    Returns an array of x's shape and dtype (bilinear integer images are rounded back).
    """
    N, C, H, W = x.shape
    a, b, c, d = (forward[:, i, j].astype(np.float64) for i, j in ((0, 0), (0, 1),
                                                                    (1, 0), (1, 1)))
    det = a * d - b * c
    inv = np.stack([d, -b, -c, a], axis=1).reshape(N, 2, 2) / det[:, None, None]
    inv = inv.astype(np.float32)
    cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
    offset = np.array([cx, cy], np.float32) - np.einsum("nij,nj->ni", inv,
                                                        translate.astype(np.float32))
    from . import _warp  # compiled on first use (Numba), so importing data stays light
    if _warp.enabled():
        return _warp.warp(x, inv, offset, cx, cy, interpolation, fill)
    xs = np.arange(W, dtype=np.float32) - np.float32(cx)
    ys = np.arange(H, dtype=np.float32) - np.float32(cy)
    # each source coordinate is a column term plus a row term: one broadcast add per map
    sx = (inv[:, 0, 0, None] * xs)[:, None, :] + \
        (inv[:, 0, 1, None] * ys + offset[:, 0, None])[:, :, None]
    sy = (inv[:, 1, 0, None] * xs)[:, None, :] + \
        (inv[:, 1, 1, None] * ys + offset[:, 1, None])[:, :, None]
    return resample(x, sy, sx, interpolation, fill)


def resample(x: np.ndarray, sy: np.ndarray, sx: np.ndarray, interpolation: str,
             fill) -> np.ndarray:
    """x (N, C, H, W) read at float source coordinates sy, sx (N, H, W): nearest or
    bilinear, ``fill`` outside the image, one gather per corner for the whole batch
    (sy and sx are overwritten)."""
    N, C, H, W = x.shape
    # A border of `fill` (1 pixel before, 2 after) and coordinates clamped onto it:
    # reads from outside return fill without a mask, and clamping before the floor
    # keeps a bilinear weight of 1 on the fill side.
    Hp, Wp = H + 3, W + 3
    xp = np.full((N, C, Hp, Wp), fill, dtype=x.dtype)
    xp[:, :, 1:H + 1, 1:W + 1] = x
    flat = xp.reshape(-1)
    corner = _corners(sy, sx, H, W, interpolation == "nearest")
    corner = corner.reshape(N, 1, H * W) + \
        (np.arange(N * C, dtype=np.intp) * (Hp * Wp)).reshape(N, C, 1)

    def at(offset: int) -> np.ndarray:
        return np.take(flat, corner + offset if offset else corner).reshape(N, C, H, W)

    if interpolation == "nearest":
        return at(0)
    wy, wx = sy[:, None], sx[:, None]
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    top, bottom = (at(offset).astype(dtype, copy=False) for offset in (0, Wp))
    for row, offset in ((top, 1), (bottom, Wp + 1)):  # row <- row + (right - row) * wx
        right = at(offset).astype(dtype)
        right -= row
        right *= wx
        row += right
    bottom -= top
    bottom *= wy
    top += bottom
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        return np.clip(np.rint(top), info.min, info.max).astype(x.dtype)
    return top


def _corners(sy: np.ndarray, sx: np.ndarray, H: int, W: int, nearest: bool) -> np.ndarray:
    """The index of each read's top-left corner in one (H + 3, W + 3) padded image, as
    intp (N, H, W); for bilinear reads sy and sx become the weights (in place, as each
    pass over the batch costs about as much as a gather)."""
    np.clip(sy, -1, H, out=sy)
    np.clip(sx, -1, W, out=sx)
    if nearest:  # the rounded coordinates are the corners; no weights needed
        y0, x0 = np.rint(sy, out=sy), np.rint(sx, out=sx)
    else:
        y0, x0 = np.floor(sy), np.floor(sx)
        sy -= y0
        sx -= x0
    y0 += 1
    y0 *= W + 3
    y0 += x0
    y0 += 1
    return y0.astype(np.intp)


def _rotations(theta: np.ndarray) -> np.ndarray:
    """(N, 2, 2) counter-clockwise rotations by theta (radians) on screen (y down)."""
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([cos, sin, -sin, cos], axis=1).reshape(-1, 2, 2)


class RandomRotation(Transform):
    """Rotates each image about its centre by a random angle, counter-clockwise in
    degrees, drawn uniformly from [-degrees, degrees] (or [lo, hi] for a pair).

    interpolation: "nearest" or "bilinear" (integer images are rounded back).
    Pixels that come from outside the image get `fill`.
    """

    def __init__(self, degrees, interpolation: str = "nearest", fill=0, seed=None, rng=None):
        super().__init__(seed, rng)
        self.degrees = _span("RandomRotation", "degrees", degrees)
        self.interpolation = _check_interpolation("RandomRotation", interpolation)
        self.fill = fill

    def apply(self, x):
        theta = np.deg2rad(self.rng.uniform(*self.degrees, len(x)))
        return warp_affine(x, _rotations(theta), np.zeros((len(x), 2)),
                           self.interpolation, self.fill)


class RandomAffine(Transform):
    """torchvision's RandomAffine: per image a rotation, translation, scale and shear.

    degrees: angle range, counter-clockwise (a number d means [-d, d]);
    translate: None or (a, b): shifts drawn from [-a W, a W] and [-b H, b H], rounded
    to whole pixels; scale: None or (lo, hi), the content scale factor;
    shear: None, a number s (x-shear in [-s, s] degrees), a pair (x-shear range) or
    four numbers (x-shear range, y-shear range); every angle within (-90, 90).
    The map is p -> scale * R(angle) @ [[1, tan sx], [tan sy, 1]] (p - c) + c + t.
    interpolation: "nearest" (default, as torchvision) or "bilinear"; fill: the value
    of pixels read from outside the image. Raises ValueError for bad arguments.
    """

    def __init__(self, degrees=0, translate=None, scale=None, shear=None,
                 interpolation: str = "nearest", fill=0, seed=None, rng=None):
        super().__init__(seed, rng)
        n = "RandomAffine"
        self.degrees = _span(n, "degrees", degrees)
        if translate is not None:
            ok = not np.isscalar(translate) and len(translate) == 2 and all(
                np.isscalar(f) and 0 <= f <= 1 for f in translate)
            if not ok:
                raise ValueError(f"{n}: translate must be None or a pair (a, b) of "
                                 f"fractions within [0, 1], got {translate!r}")
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        self.scale = None if scale is None else _span(n, "scale", scale, 1e-6)
        self.shear = None if shear is None else self._shear_ranges(shear)
        self.interpolation = _check_interpolation(n, interpolation)
        self.fill = fill

    @staticmethod
    def _shear_ranges(shear) -> tuple[float, float, float, float]:
        values = [shear] if np.isscalar(shear) else list(shear)
        if len(values) not in (1, 2, 4):
            raise ValueError(f"RandomAffine: shear must be a number, a pair or four "
                             f"numbers, got {shear!r}")
        if len(values) == 1:
            return _span("RandomAffine", "shear", values[0], -89.99, 89.99) + (0.0, 0.0)
        xs = _span("RandomAffine", "shear", values[:2], -89.99, 89.99)
        ys = (0.0, 0.0) if len(values) == 2 else _span("RandomAffine", "shear",
                                                         values[2:], -89.99, 89.99)
        return xs + ys

    def apply(self, x):
        N, _, H, W = x.shape
        rng = self.rng
        forward = _rotations(np.deg2rad(rng.uniform(*self.degrees, N)))
        if self.shear is not None:
            sx = np.tan(np.deg2rad(rng.uniform(*self.shear[:2], N)))
            sy = np.tan(np.deg2rad(rng.uniform(*self.shear[2:], N)))
            one = np.ones(N)
            forward = forward @ np.stack([one, sx, sy, one], axis=1).reshape(N, 2, 2)
        if self.scale is not None:
            forward = forward * rng.uniform(*self.scale, N)[:, None, None]
        shift = np.zeros((N, 2))
        if self.translate is not None:
            a, b = self.translate
            shift = np.rint(rng.uniform(-1, 1, (N, 2)) * [a * W, b * H])
        return warp_affine(x, forward, shift, self.interpolation, self.fill)


class RandomZoom(Transform):
    """Keras's zoom: each image is sampled at z (p - c) + c with one z per image, so
    z > 1 zooms out (the content shrinks) and z < 1 zooms in.

    range: a number r gives z in [1 - r, 1 + r] (ImageDataGenerator(zoom_range=r),
    and layers.RandomZoom(r)); a pair (lo, hi) gives z in [1 + lo, 1 + hi] (Keras's
    RandomZoom(height_factor=(lo, hi)): positive factors zoom out). Only a constant
    ``fill`` border (Keras's fill_mode="constant"). interpolation: "bilinear" (default,
    as Keras) or "nearest". Raises ValueError unless every z > 0.
    """

    def __init__(self, range, interpolation: str = "bilinear", fill=0, seed=None,
                 rng=None):
        super().__init__(seed, rng)
        lo, hi = _span("RandomZoom", "range", range, -0.999, math.inf)
        self.range = (lo, hi)
        self.interpolation = _check_interpolation("RandomZoom", interpolation)
        self.fill = fill

    def apply(self, x):
        z = 1.0 + self.rng.uniform(*self.range, len(x))
        forward = np.eye(2) / z[:, None, None]  # sampling at z p is the map p -> p / z
        return warp_affine(x, forward, np.zeros((len(x), 2)), self.interpolation,
                           self.fill)
