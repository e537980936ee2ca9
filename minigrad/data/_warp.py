"""The compiled affine warp behind every geometric augmentation (geometric.py):
one pass over the output, each pixel computing its source coordinate, reading its one
(nearest) or four (bilinear) neighbours and writing the result.

Why compiled: the numpy form (geometric.resample) builds the coordinate planes, a
padded copy of the batch and one gather per corner, six to ten full passes over the
batch; an epoch of RandomZoom cost 0.76 s of CPU, about a quarter of the MLP's
training epoch it feeds. This is the same arithmetic in the same float32 order, so
the two agree to the bit (tests/test_data_warp.py), and resample stays as the
readable reference and the path taken when Numba's JIT is disabled.
"""
from __future__ import annotations

import numpy as np

from ..backend.numba.jit import jit


@jit
def _source(a, b, c, d, ox, oy, i, j, cx, cy, H, W):
    """The source coordinate (sy, sx) of output pixel (i, j) under the inverse map
    [[a, b], [c, d]] and offset (ox, oy), clamped onto the one-pixel border of fill
    around the image (as resample's _corners). Scalars only: a jitted helper that takes
    an array costs a reference-count update per call."""
    xs, ys = np.float32(j) - cx, np.float32(i) - cy
    sx = a * xs + (b * ys + ox)
    sy = c * xs + (d * ys + oy)
    return (min(max(sy, np.float32(-1)), np.float32(H)),
            min(max(sx, np.float32(-1)), np.float32(W)))


@jit
def _warp_nearest(x, inv, off, cx, cy, fill, out):
    N, C, H, W = x.shape
    for n in range(N):
        a, b, c, d, ox, oy = inv[n, 0], inv[n, 1], inv[n, 2], inv[n, 3], off[n, 0], off[n, 1]
        for i in range(H):
            for j in range(W):
                sy, sx = _source(a, b, c, d, ox, oy, i, j, cx, cy, H, W)
                y, xx = int(np.rint(sy)), int(np.rint(sx))
                inside = 0 <= y < H and 0 <= xx < W
                for ch in range(C):
                    out[n, ch, i, j] = x[n, ch, y, xx] if inside else fill


@jit
def _warp_bilinear(x, inv, off, cx, cy, fill, out):
    """out (float32, or x's float dtype): row <- row + (right - row) * wx for the top
    and bottom rows, then top + (bottom - top) * wy, as resample computes it."""
    N, C, H, W = x.shape
    ft = out.dtype.type
    for n in range(N):
        a, b, c, d, ox, oy = inv[n, 0], inv[n, 1], inv[n, 2], inv[n, 3], off[n, 0], off[n, 1]
        for i in range(H):
            for j in range(W):
                sy, sx = _source(a, b, c, d, ox, oy, i, j, cx, cy, H, W)
                fy, fx = np.floor(sy), np.floor(sx)
                wy, wx = ft(sy - fy), ft(sx - fx)
                y0, x0 = int(fy), int(fx)
                y1, x1 = y0 + 1, x0 + 1
                in_y0, in_y1 = 0 <= y0 < H, 0 <= y1 < H
                in_x0, in_x1 = 0 <= x0 < W, 0 <= x1 < W
                for ch in range(C):
                    p00 = ft(x[n, ch, y0, x0] if in_y0 and in_x0 else fill)
                    p01 = ft(x[n, ch, y0, x1] if in_y0 and in_x1 else fill)
                    p10 = ft(x[n, ch, y1, x0] if in_y1 and in_x0 else fill)
                    p11 = ft(x[n, ch, y1, x1] if in_y1 and in_x1 else fill)
                    top = p00 + (p01 - p00) * wx
                    bottom = p10 + (p11 - p10) * wx
                    out[n, ch, i, j] = top + (bottom - top) * wy


def enabled() -> bool:
    """Whether the compiled warp runs (not under NUMBA_DISABLE_JIT, where its loops
    would run as Python)."""
    import numba
    return not numba.config.DISABLE_JIT


def warp(x: np.ndarray, inv: np.ndarray, offset: np.ndarray, cx: float, cy: float,
         interpolation: str, fill) -> np.ndarray:
    """x (N, C, H, W) read at inv[n] (p - c) + offset[n] for output pixel p: inv
    (N, 2, 2) and offset (N, 2) float32, in (x, y) order (geometric.warp_affine)."""
    x = np.ascontiguousarray(x)
    inv4 = np.ascontiguousarray(inv.reshape(len(x), 4), dtype=np.float32)
    off = np.ascontiguousarray(offset, dtype=np.float32)
    fill = x.dtype.type(fill)
    cx, cy = np.float32(cx), np.float32(cy)
    if interpolation == "nearest":
        out = np.empty_like(x)
        _warp_nearest(x, inv4, off, cx, cy, fill, out)
        return out
    floating = np.issubdtype(x.dtype, np.floating)
    out = np.empty(x.shape, x.dtype if floating else np.float32)
    _warp_bilinear(x, inv4, off, cx, cy, fill, out)
    if floating:
        return out
    info = np.iinfo(x.dtype)
    return np.clip(np.rint(out), info.min, info.max).astype(x.dtype)
