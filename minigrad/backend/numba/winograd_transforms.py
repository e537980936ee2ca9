"""The Winograd tile transforms of the Numba backend, twins of
csrc/winograd_transforms_impl.h: the filter transform, and the input, output and dy
transforms of one panel of NR tiles (NR = the GEMM's panel width, so that a panel of
transformed tiles is a panel of the GEMM's packed operand as it stands).

Each 2-d transform is a column pass then a row pass of 1-d transforms (the rows of B^T
and A^T of winograd_ref.MATRICES spelled out as sums, as in C), done for one tile in
scalars inside a loop over the panel's NR tiles, which LLVM vectorizes: the panel
lives in a small (values, NR) buffer, so every offset is a constant. (Two passes over
streams with runtime row strides, as C writes them, did not vectorize in Numba and
took 6x the time.)
"""
from __future__ import annotations

import numpy as np

from .jit import jit, wide_vectors
from .microkernel import panel_width


# Multiples by 2, 4 and 8 are written as sums, exact like the products: a product
# with a literal would promote float32 to float64 in Numba (C computes in T).

@jit
def _x2(v):
    return v + v


@jit
def _x4(v):
    return _x2(_x2(v))


@jit
def _bt4(x0, x1, x2, x3):
    return x0 - x2, x1 + x2, x2 - x1, x1 - x3


@jit
def _bt6(x0, x1, x2, x3, x4, x5):
    """5x as 4x + x: 4x is exact, so the sum rounds once, as 5 * x does."""
    return (_x4(x0) - (_x4(x2) + x2) + x4, (x3 + x4) - _x4(x1 + x2),
            (x4 - x3) + _x4(x1 - x2), (x4 - x2) + _x2(x3 - x1), (x4 - x2) - _x2(x3 - x1),
            _x4(x1) - (_x4(x3) + x3) + x5)


@jit
def _at4(x0, x1, x2, x3):
    return x0 + x1 + x2, x1 - x2 - x3


@jit
def _at6(x0, x1, x2, x3, x4, x5):
    p12, m12, p34, m34 = x1 + x2, x1 - x2, x3 + x4, x3 - x4
    return x0 + p12 + p34, m12 + _x2(m34), p12 + _x4(p34), m12 + _x2(_x4(m34)) + x5


@jit
def _a2(y0, y1):
    return y0, y0 + y1, y0 - y1, -y1


@jit
def _a4(y0, y1, y2, y3):
    e, o, e4, o8 = y0 + y2, y1 + y3, y0 + _x4(y2), _x2(y1) + _x2(_x4(y3))
    return y0, e + o, e - o, e4 + o8, e4 - o8, y3


@jit
def _col2(src, start, step, nr, t):
    return src[start + t], src[start + step * nr + t]


@jit
def _col4(src, start, step, nr, t):
    return (src[start + t], src[start + step * nr + t], src[start + 2 * step * nr + t],
            src[start + 3 * step * nr + t])


@jit
def _col6(src, start, step, nr, t):
    return (src[start + t], src[start + step * nr + t], src[start + 2 * step * nr + t],
            src[start + 3 * step * nr + t], src[start + 4 * step * nr + t],
            src[start + 5 * step * nr + t])


@jit
def _put(dst, start, nr, t, values):
    """dst[start + j*nr + t] = values[j]."""
    for j in range(len(values)):
        dst[start + j * nr + t] = values[j]


# The 2-d transforms of a panel: src and dst flat (k*nr + t: value k of tile t), nr a
# constant (the dtype's panel width), and every offset a literal once LLVM has inlined
# the helpers: with runtime offsets these loops did not vectorize (6x slower).

@jit
def _input_2d(a, src, dst):
    """dst[e] = (B^T d B)[e] for the a x a patches d in src."""
    wide_vectors()
    nr = panel_width(src)
    for t in range(nr):
        if a == 6:
            c0, c1 = _bt6(*_col6(src, 0, 6, nr, t)), _bt6(*_col6(src, nr, 6, nr, t))
            c2, c3 = _bt6(*_col6(src, 2 * nr, 6, nr, t)), _bt6(*_col6(src, 3 * nr, 6, nr, t))
            c4, c5 = _bt6(*_col6(src, 4 * nr, 6, nr, t)), _bt6(*_col6(src, 5 * nr, 6, nr, t))
            for i in range(6):
                _put(dst, 6 * i * nr, nr, t, _bt6(c0[i], c1[i], c2[i], c3[i], c4[i], c5[i]))
        else:
            c0, c1 = _bt4(*_col4(src, 0, 4, nr, t)), _bt4(*_col4(src, nr, 4, nr, t))
            c2, c3 = _bt4(*_col4(src, 2 * nr, 4, nr, t)), _bt4(*_col4(src, 3 * nr, 4, nr, t))
            for i in range(4):
                _put(dst, 4 * i * nr, nr, t, _bt4(c0[i], c1[i], c2[i], c3[i]))


@jit
def _output_2d(a, src, dst):
    """dst = (A^T M A) (m x m) for the a x a tiles M in src."""
    wide_vectors()
    nr = panel_width(src)
    for t in range(nr):
        if a == 6:
            c0, c1 = _at6(*_col6(src, 0, 6, nr, t)), _at6(*_col6(src, nr, 6, nr, t))
            c2, c3 = _at6(*_col6(src, 2 * nr, 6, nr, t)), _at6(*_col6(src, 3 * nr, 6, nr, t))
            c4, c5 = _at6(*_col6(src, 4 * nr, 6, nr, t)), _at6(*_col6(src, 5 * nr, 6, nr, t))
            for i in range(4):
                _put(dst, 4 * i * nr, nr, t, _at6(c0[i], c1[i], c2[i], c3[i], c4[i], c5[i]))
        else:
            c0, c1 = _at4(*_col4(src, 0, 4, nr, t)), _at4(*_col4(src, nr, 4, nr, t))
            c2, c3 = _at4(*_col4(src, 2 * nr, 4, nr, t)), _at4(*_col4(src, 3 * nr, 4, nr, t))
            for i in range(2):
                _put(dst, 2 * i * nr, nr, t, _at4(c0[i], c1[i], c2[i], c3[i]))


@jit
def _dy_2d(a, src, dst):
    """dst = (A dY A^T) (a x a) for the m x m tiles dY in src."""
    wide_vectors()
    nr = panel_width(src)
    for t in range(nr):
        if a == 6:
            c0, c1 = _a4(*_col4(src, 0, 4, nr, t)), _a4(*_col4(src, nr, 4, nr, t))
            c2, c3 = _a4(*_col4(src, 2 * nr, 4, nr, t)), _a4(*_col4(src, 3 * nr, 4, nr, t))
            for i in range(6):
                _put(dst, 6 * i * nr, nr, t, _a4(c0[i], c1[i], c2[i], c3[i]))
        else:
            c0, c1 = _a2(*_col2(src, 0, 2, nr, t)), _a2(*_col2(src, nr, 2, nr, t))
            for i in range(4):
                _put(dst, 4 * i * nr, nr, t, _a2(c0[i], c1[i]))


@jit
def tile_positions(t0, nb, grid, m):
    """Image, first output row and column of tiles t0 .. t0 + nb - 1."""
    th, tw = grid
    img, row, col = np.empty(nb, np.int64), np.empty(nb, np.int64), np.empty(nb, np.int64)
    for t in range(nb):
        g = t0 + t
        img[t], rem = g // (th * tw), g % (th * tw)
        row[t], col[t] = m * (rem // tw), m * (rem % tw)
    return img, row, col


@jit
def filter_transform(w, g, u):
    """u[e, f, c] = (G g G^T)[e] for g = w[f, c], in float64 (once per call)."""
    a = g.shape[0]
    s = np.empty((a, 3))
    for f in range(w.shape[0]):
        for c in range(w.shape[1]):
            for i in range(a):
                for q in range(3):
                    s[i, q] = g[i, 0] * w[f, c, 0, q] + g[i, 1] * w[f, c, 1, q] + \
                        g[i, 2] * w[f, c, 2, q]
            for i in range(a):
                for j in range(a):
                    u[i * a + j, f, c] = s[i, 0] * g[j, 0] + s[i, 1] * g[j, 1] + \
                        s[i, 2] * g[j, 2]


@jit
def _gather(x, c, a, pad, pos, first, p):
    """p[i*a + j, t] = x[n, c, r + i - ph, q + j - pw] for tile first + t at (n, r, q)
    = pos[.][first + t], zero outside x and past the last tile."""
    img, row, col = pos
    h, w = x.shape[2], x.shape[3]
    count = min(p.shape[1], img.shape[0] - first)
    for t in range(p.shape[1]):
        if t >= count:
            for k in range(a * a):
                p[k, t] = 0.0
            continue
        n, r0, c0 = img[first + t], row[first + t] - pad[0], col[first + t] - pad[1]
        if r0 >= 0 and c0 >= 0 and r0 + a <= h and c0 + a <= w:
            for i in range(a):
                for j in range(a):
                    p[i * a + j, t] = x[n, c, r0 + i, c0 + j]
        else:
            for i in range(a):
                for j in range(a):
                    r, q = r0 + i, c0 + j
                    inside = 0 <= r < h and 0 <= q < w
                    p[i * a + j, t] = x[n, c, r, q] if inside else 0.0


@jit
def input_panels(x, a, pad, pos, v, by_tile):
    """The input transform of the block's tiles (pos from tile_positions), panel by
    panel of nr tiles, written as the GEMM's packed operand:
      by_tile False (forward, V[e] (C, tiles) as op(b)): v (a*a, panels, C, nr),
        v[e, P, c, t] for tile P*nr + t;
      by_tile True (dw, V[e]^T (tiles, C) as op(b)): v (a*a, C-panels, tiles, nr),
        v[e, c // nr, tile, c % nr].
    Tiles past the last are zeros."""
    channels, aa, nr = x.shape[1], a * a, panel_width(x)
    p, o = np.empty((aa, nr), dtype=x.dtype), np.empty((aa, nr), dtype=x.dtype)
    for c in range(channels):
        for first in range(0, -(-pos[0].shape[0] // nr) * nr, nr):
            _gather(x, c, a, pad, pos, first, p)
            _input_2d(a, p.reshape(p.size), o.reshape(o.size))
            if by_tile:
                for e in range(aa):
                    dst = v[e, c // nr]
                    for t in range(nr):
                        dst[first + t, c % nr] = o[e, t]
            else:
                for e in range(aa):
                    dst, src = v[e, first // nr, c], o[e]
                    for t in range(nr):
                        dst[t] = src[t]


@jit
def output_panels(mm, a, bias, relu, pos, y):
    """y's m x m outputs of the block's tiles: A^T M A + bias (then ReLU), M[e] =
    mm[e, :F, :] (a*a, F padded, tiles padded); outputs past OH or OW are dropped.
    NaN is kept by the ReLU."""
    img, row, col = pos
    oh, ow, m, nr = y.shape[2], y.shape[3], a - 2, panel_width(y)
    p, o = np.empty((a * a, nr), dtype=mm.dtype), np.empty((m * m, nr), dtype=mm.dtype)
    for f in range(y.shape[1]):
        for first in range(0, img.shape[0], nr):
            for e in range(a * a):
                src = mm[e, f, first:first + nr]
                for t in range(nr):
                    p[e, t] = src[t]
            _output_2d(a, p.reshape(p.size), o.reshape(o.size))
            for t in range(min(nr, img.shape[0] - first)):
                n, r0, c0 = img[first + t], row[first + t], col[first + t]
                for i in range(min(m, oh - r0)):
                    for j in range(min(m, ow - c0)):
                        val = o[i * m + j, t] + bias[f]
                        y[n, f, r0 + i, c0 + j] = 0.0 if relu and val <= 0 else val


@jit
def dy_panels(dy, a, pos, mr, z):
    """z[e] = (A dY A^T)[e] of the block's tiles (dY the m x m tile of dy, zeros past
    OH or OW and past the last tile), as the GEMM's packed op(a) (F, tiles):
    z (a*a, F-panels, tiles, mr), z[e, f // mr, tile, f % mr]."""
    img, row, col = pos
    oh, ow, m, nr = dy.shape[2], dy.shape[3], a - 2, panel_width(dy)
    q, o = np.empty((m * m, nr), dtype=dy.dtype), np.empty((a * a, nr), dtype=dy.dtype)
    for f in range(dy.shape[1]):
        for first in range(0, -(-img.shape[0] // nr) * nr, nr):
            count = min(nr, img.shape[0] - first)
            for t in range(nr):
                if t >= count:
                    for k in range(m * m):
                        q[k, t] = 0.0
                    continue
                n, r0, c0 = img[first + t], row[first + t], col[first + t]
                if r0 + m <= oh and c0 + m <= ow:   # inside: no bounds to test
                    for i in range(m):
                        for j in range(m):
                            q[i * m + j, t] = dy[n, f, r0 + i, c0 + j]
                    continue
                for i in range(m):
                    for j in range(m):
                        inside = r0 + i < oh and c0 + j < ow
                        q[i * m + j, t] = dy[n, f, r0 + i, c0 + j] if inside else 0.0
            _dy_2d(a, q.reshape(q.size), o.reshape(o.size))
            for e in range(a * a):
                dst = z[e, f // mr]
                for t in range(nr):
                    dst[first + t, f % mr] = o[e, t]
