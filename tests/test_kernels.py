"""Kernel contract tests: every compiled backend (C, Numba: whatever
``mg.backend.available()`` lists) against the numpy reference, on odd sizes, strides,
padding, transposed and non-contiguous operands, float32 and float64; the reference
against PyTorch; NaN propagation; argument errors; backend selection."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import numpy_ref as ref

from helpers import torch

COMPILED = [b for b in mg.backend.available() if b != "numpy"]
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=COMPILED)
def kern(request):
    """The module of one compiled backend."""
    with mg.backend.use(request.param):
        yield mg.backend.current()


def tol(dtype, reduction: int) -> float:
    """Relative tolerance for a sum of `reduction` terms: rounding grows ~ sqrt(n)."""
    return 16 * np.finfo(dtype).eps * np.sqrt(max(reduction, 1))


def close(actual, expected, dtype, reduction, what=""):
    """Compare within tol(), scaled by the largest expected magnitude."""
    if expected is None:
        assert actual is None, what
        return
    assert actual.shape == expected.shape and actual.dtype == dtype, what
    r = tol(dtype, reduction)
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=r, atol=r * max(scale, 1.0),
                               err_msg=what)


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------ matmul

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("mnk", [(1, 1, 1), (3, 7, 33), (129, 33, 7), (33, 129, 300),
                                 (200, 17, 1)], ids=str)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)], ids=["NN", "TN", "NT",
                                                                          "TT"])
def test_matmul_matches_reference(kern, rng, dtype, mnk, ta, tb):
    m, n, k = mnk
    a = rand(rng, (k, m) if ta else (m, k), dtype)
    b = rand(rng, (n, k) if tb else (k, n), dtype)
    close(kern.matmul(a, b, bool(ta), bool(tb)), ref.matmul(a, b, bool(ta), bool(tb)),
          dtype, k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", [((3, 5, 7), (3, 7, 4)), ((1, 5, 7), (7, 9)),
                                    ((6, 2), (4, 2, 3)), ((2, 33, 65), (65, 17))], ids=str)
def test_matmul_batched_and_shared_operand(kern, rng, dtype, shapes):
    a, b = rand(rng, shapes[0], dtype), rand(rng, shapes[1], dtype)
    close(kern.matmul(a, b), ref.matmul(a, b), dtype, shapes[0][-1])
    at, bt = np.ascontiguousarray(np.swapaxes(a, -1, -2)), np.swapaxes(b, -1, -2).copy()
    close(kern.matmul(at, bt, True, True), ref.matmul(a, b), dtype, shapes[0][-1])


def test_matmul_noncontiguous_operands(kern, rng):
    a, b = rand(rng, (40, 66), np.float32), rand(rng, (33, 50), np.float32)
    views = [(a[:, ::2], b), (a[::2, :33], b.T.copy().T), (a.T.copy().T[:, 1:34], b[:, 3:40]),
             (np.asfortranarray(a[:, :33]), np.asfortranarray(b))]
    for x, y in views:
        close(kern.matmul(x, y), x @ y, np.float32, 33, f"{x.strides} {y.strides}")
    t3 = np.swapaxes(rand(rng, (3, 33, 5), np.float32), 1, 2)     # (3, 5, 33) view
    close(kern.matmul(t3, b), t3 @ b, np.float32, 33)


def test_matmul_empty_and_nan(kern, rng):
    a = np.zeros((3, 0), np.float32)
    assert np.array_equal(kern.matmul(a, np.zeros((0, 4), np.float32)), np.zeros((3, 4)))
    x, y = rand(rng, (5, 9), np.float64), rand(rng, (9, 7), np.float64)
    x[2, 4] = np.nan
    out = kern.matmul(x, y)
    assert np.isnan(out[2]).all() and np.isfinite(np.delete(out, 2, axis=0)).all()


def test_matmul_empty_batch_beside_shared_matrix(kern):
    out = kern.matmul(np.ones((0, 3, 4), np.float32), np.ones((4, 2), np.float32))
    assert out.shape == (0, 3, 2)
    assert kern.matmul(np.ones((3, 4)), np.ones((0, 4, 2))).shape == (0, 3, 2)


# ------------------------------------------------------------------------------ conv2d

CONV = [  # N, C, H, W, F, KH, KW, stride, padding
    (1, 1, 7, 7, 1, 3, 3, (1, 1), (0, 0)),
    (2, 3, 9, 7, 4, 3, 3, (2, 2), (1, 1)),
    (3, 2, 8, 5, 3, 1, 1, (1, 1), (0, 0)),
    (2, 4, 11, 13, 5, 3, 2, (2, 1), (0, 1)),
    (1, 3, 5, 5, 2, 5, 5, (1, 1), (2, 2)),
    (2, 33, 7, 6, 7, 3, 3, (1, 1), (1, 1)),
    (3, 1, 28, 28, 8, 3, 3, (1, 1), (1, 1)),
    # stride 1 with >= 64 taps: the implicit GEMM (dx too once C >= 16)
    (3, 16, 10, 9, 20, 3, 3, (1, 1), (0, 0)),
    (2, 8, 12, 17, 9, 5, 3, (1, 1), (2, 1)),
    (2, 17, 9, 40, 6, 3, 7, (1, 1), (1, 3)),
    (1, 20, 6, 6, 3, 3, 3, (1, 1), (1, 1)),   # one image: threaded GEMMs instead
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("cfg", CONV, ids=lambda c: "x{}-{}-{}x{}_f{}_k{}x{}_s{}_p{}".format(
    *c[:7], c[7][0], c[8][0]))
def test_conv2d_matches_reference(kern, rng, dtype, cfg):
    n, c, h, w, f, kh, kw, stride, pad = cfg
    x, wt, b = rand(rng, (n, c, h, w), dtype), rand(rng, (f, c, kh, kw), dtype), rand(
        rng, f, dtype)
    y = kern.conv2d_forward(x, wt, b, stride, pad)
    close(y, ref.conv2d_forward(x, wt, b, stride, pad), dtype, c * kh * kw, "y")
    close(kern.conv2d_forward(x, wt, None, stride, pad),
          ref.conv2d_forward(x, wt, None, stride, pad), dtype, c * kh * kw, "y no bias")
    dy = rand(rng, y.shape, dtype)
    got, want = kern.conv2d_backward(x, wt, dy, stride, pad), ref.conv2d_backward(
        x, wt, dy, stride, pad)
    lengths = (f * kh * kw, n * y.shape[2] * y.shape[3], n * y.shape[2] * y.shape[3])
    for name, g, e, length in zip(("dx", "dw", "db"), got, want, lengths):
        close(g, e, dtype, length, name)
    only_dw = kern.conv2d_backward(x, wt, dy, stride, pad, False, True, False)
    assert only_dw[0] is None and only_dw[2] is None
    close(only_dw[1], want[1], dtype, lengths[1], "dw alone")


def test_conv2d_noncontiguous_inputs(kern, rng):
    x = np.swapaxes(rand(rng, (2, 3, 9, 8), np.float32), 2, 3)       # (2, 3, 8, 9) view
    w = rand(rng, (4, 3, 3, 3), np.float32)[:, :, ::-1]
    y = kern.conv2d_forward(x, w, None, (1, 1), (1, 1))
    close(y, ref.conv2d_forward(x, w, None, (1, 1), (1, 1)), np.float32, 27)
    dy = rand(rng, y.shape, np.float32)[:, :, :, ::-1]
    for g, e in zip(kern.conv2d_backward(x, w, dy, (1, 1), (1, 1)),
                    ref.conv2d_backward(x, w, dy, (1, 1), (1, 1))):
        close(g, e, np.float32, 2 * 72)


def test_conv2d_nan_propagates(kern, rng):
    x = rand(rng, (1, 2, 6, 6), np.float32)
    x[0, 1, 2, 3] = np.nan
    y = kern.conv2d_forward(x, rand(rng, (3, 2, 3, 3), np.float32), None, (1, 1), (0, 0))
    assert np.isnan(y[0, :, 0:3, 1:4]).all() and np.isfinite(y[0, :, 3:, :]).all()


# ----------------------------------------------------------------------------- pooling

POOL = [((1, 1, 4, 4), (2, 2), (2, 2)), ((2, 3, 7, 9), (2, 2), (2, 2)),
        ((2, 2, 8, 5), (3, 3), (1, 1)), ((1, 3, 9, 7), (3, 2), (2, 1)),
        ((2, 1, 5, 6), (1, 1), (1, 1)), ((3, 33, 6, 6), (3, 3), (3, 3)),
        ((2, 3, 20, 36), (2, 2), (2, 2)), ((1, 2, 6, 34), (2, 2), (2, 2))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("cfg", POOL, ids=lambda c: f"x{c[0]}_k{c[1]}_s{c[2]}")
def test_pool_matches_reference(kern, rng, dtype, cfg):
    shape, k, s = cfg
    x = rand(rng, shape, dtype)
    y, arg = kern.maxpool2d_forward(x, k, s)
    y_ref, arg_ref = ref.maxpool2d_forward(x, k, s)
    assert arg.dtype == np.int64 and np.array_equal(arg, arg_ref)
    close(y, y_ref, dtype, 1, "max y")
    dy = rand(rng, y.shape, dtype)
    close(kern.maxpool2d_backward(dy, arg, shape), ref.maxpool2d_backward(dy, arg, shape),
          dtype, k[0] * k[1], "max dx (overlaps accumulate)")
    close(kern.avgpool2d_forward(x, k, s), ref.avgpool2d_forward(x, k, s), dtype,
          k[0] * k[1], "avg y")
    close(kern.avgpool2d_backward(dy, shape, k, s), ref.avgpool2d_backward(dy, shape, k, s),
          dtype, k[0] * k[1], "avg dx")


def test_maxpool_nan_and_ties(kern):
    x = np.array([[[[1, 1, 2, np.nan], [1, 0, np.nan, 5], [3, 3, 0, 0], [3, 3, 0, 0]]]],
                 dtype=np.float32)
    y, arg = kern.maxpool2d_forward(x, (2, 2), (2, 2))
    assert np.isnan(y[0, 0, 0, 1]) and arg[0, 0, 0, 1] == 3      # the first NaN wins
    assert y[0, 0, 0, 0] == 1 and arg[0, 0, 0, 0] == 0           # first of equal maxima
    assert arg[0, 0, 1, 0] == 8 and arg[0, 0, 1, 1] == 10
    assert np.array_equal(arg, ref.maxpool2d_forward(x, (2, 2), (2, 2))[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_maxpool_backward_takes_any_argmax(kern, rng, dtype):
    # argmax outside its own window (not from forward) must still scatter-add there
    shape = (2, 2, 8, 20)
    dy = rand(rng, (2, 2, 4, 10), dtype)
    arg = rng.integers(0, 8 * 20, size=dy.shape).astype(np.int64)
    close(kern.maxpool2d_backward(dy, arg, shape), ref.maxpool2d_backward(dy, arg, shape),
          dtype, 40)
    _, own = ref.maxpool2d_forward(rand(rng, shape, dtype), (2, 2), (2, 2))
    own[1, 1, 3, 9] = 0                      # one plane falls back, the rest stay fast
    close(kern.maxpool2d_backward(dy, own, shape), ref.maxpool2d_backward(dy, own, shape),
          dtype, 4)


# -------------------------------------------------------------------------- batch norm

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(2, 3), (7, 33), (129, 5), (1, 3, 5, 7), (3, 7, 4, 4),
                                   (2, 2, 1, 1)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_matches_reference(kern, rng, dtype, shape, training):
    c = shape[1]
    x = (rand(rng, shape, dtype) * 3 + 5).astype(dtype)
    g, b = rand(rng, c, dtype), rand(rng, c, dtype)
    stats = [rng.random(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)]
    mine, theirs = [s.copy() for s in stats], [s.copy() for s in stats]
    got = kern.batchnorm_forward(x, g, b, *mine, training, 0.1, 1e-5)
    want = ref.batchnorm_forward(x, g, b, *theirs, training, 0.1, 1e-5)
    count = x.size // c
    for name, u, v in zip(("y", "mean", "invstd"), got, want):
        close(u, v, dtype, count, name)
    for u, v in zip(mine, theirs):
        close(u, v, dtype, count, "running statistics")
    dy = rand(rng, shape, dtype)
    for name, u, v in zip(("dx", "dgamma", "dbeta"),
                          kern.batchnorm_backward(dy, x, g, *want[1:], training),
                          ref.batchnorm_backward(dy, x, g, *want[1:], training)):
        close(u, v, dtype, count, name)


def test_batchnorm_large_mean_keeps_variance(kern, rng):
    x = (1000 + rng.standard_normal((64, 4, 3, 3)) * 1e-2).astype(np.float32)
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    _, mean, invstd = kern.batchnorm_forward(x, np.ones(4, np.float32),
                                             np.zeros(4, np.float32), rm, rv, True, 0.1, 0)
    var = x.astype(np.float64).var(axis=(0, 2, 3))
    np.testing.assert_allclose(1 / invstd.astype(np.float64) ** 2, var, rtol=1e-3)


def test_batchnorm_nan_propagates(kern, rng):
    x = rand(rng, (4, 3, 2, 2), np.float32)
    x[1, 2, 0, 1] = np.nan
    y, _, _ = kern.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32),
                                     np.zeros(3, np.float32), np.ones(3, np.float32), True,
                                     0.1, 1e-5)
    assert np.isnan(y[:, 2]).all() and np.isfinite(y[:, :2]).all()


# ------------------------------------------------------------------------------ errors

def _errors(kern):
    f32, f64 = np.zeros((3, 4), np.float32), np.zeros((4, 2), np.float64)
    img, w = np.zeros((1, 2, 5, 5), np.float32), np.zeros((3, 4, 3, 3), np.float32)
    one = np.ones(3, np.float32)
    return [
        (TypeError, "dtype", lambda: kern.matmul(f32, f64)),
        (TypeError, "float32 or float64", lambda: kern.matmul(f32.astype(int), f32.T)),
        (ValueError, "inner dimensions", lambda: kern.matmul(f32, f32)),
        (ValueError, "input channels", lambda: kern.conv2d_forward(img, w, None, 1, 0)),
        (ValueError, "larger", lambda: kern.conv2d_forward(
            img, np.zeros((3, 2, 7, 7), np.float32), None, 1, 0)),
        (ValueError, "dy", lambda: kern.conv2d_backward(img, w[:, :2], img, (1, 1), (0, 0))),
        (ValueError, "kernel_size", lambda: kern.maxpool2d_forward(img, (6, 6), (1, 1))),
        (ValueError, "stride", lambda: kern.avgpool2d_forward(img, (2, 2), (0, 1))),
        (ValueError, "gamma", lambda: kern.batchnorm_forward(
            np.zeros((4, 3), np.float32), one[:2], one, one, one, True, 0.1, 1e-5)),
        (ValueError, "more than one", lambda: kern.batchnorm_forward(
            np.zeros((1, 3), np.float32), one, one, one, one, True, 0.1, 1e-5)),
    ]


def test_bad_arguments_raise_clear_errors(kern):
    for exc, text, call in _errors(kern):
        with pytest.raises(exc, match=text):
            call()


def test_c_rejects_bad_argmax_and_sizes():
    if "c" not in mg.backend.available():
        pytest.skip("the C extension is not built")
    from minigrad.backend import c
    dy, arg = np.ones((1, 1, 2, 2), np.float32), np.array([[[[0, 1], [99, 2]]]], np.int64)
    with pytest.raises(ValueError, match="argmax"):
        c.maxpool2d_backward(dy, arg, (1, 1, 4, 4))
    a = np.ones(4, np.float32)
    p = c.ffi.from_buffer("float[]", a)
    assert c.lib.mg_gemm_f32(0, 0, -1, 2, 2, 1.0, p, 2, p, 2, 0.0, p, 2) == -1
    assert c.lib.mg_gemm_f32(0, 0, 2, 2, 2, 1.0, p, 1, p, 2, 0.0, p, 2) == -1
    assert c.lib.mg_conv2d_forward_f32(p, p, c.ffi.NULL, p, 1, 1, 2, 2, 1, 3, 3, 1, 1, 0,
                                       0) == -1
    out = np.full((2, 2), np.nan, np.float32)          # beta == 0: C is never read
    assert c.lib.mg_gemm_f32(0, 0, 2, 2, 2, 1.0, p, 2, p, 2, 0.0,
                             c.ffi.from_buffer("float[]", out), 2) == 0
    assert np.array_equal(out, np.full((2, 2), 2, np.float32))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_c_maxpool_backward_rejects_a_bad_index_in_any_plane(rng, dtype):
    if "c" not in mg.backend.available():
        pytest.skip("the C extension is not built")
    from minigrad.backend import c
    x = rand(rng, (3, 5, 6, 6), dtype)
    y, arg = c.maxpool2d_forward(x, (2, 2), (2, 2))
    for bad in (-1, 36, 10**12):  # the last plane only: each plane checks its own
        a = arg.copy()
        a[2, 4, 1, 1] = bad
        with pytest.raises(ValueError, match="argmax"):
            c.maxpool2d_backward(np.ones_like(y), a, x.shape)


def test_c_thread_counts_agree(rng):
    if "c" not in mg.backend.available():
        pytest.skip("the C extension is not built")
    from minigrad.backend import c
    x, w = rand(rng, (4, 20, 9, 9), np.float64), rand(rng, (5, 20, 3, 3), np.float64)
    dy = rand(rng, (4, 5, 9, 9), np.float64)
    a, b = rand(rng, (70, 300), np.float64), rand(rng, (300, 90), np.float64)
    previous = mg.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            c.set_num_threads(n)
            results.append((c.matmul(a, b), *c.conv2d_backward(x, w, dy, (1, 1), (1, 1))))
    finally:
        mg.set_num_threads(previous)
    for u, v in zip(*results):
        close(u, v, np.float64, 400)


def test_c_thread_count_survives_numba_starting_its_pool():
    # Numba's "omp" threading layer resets OpenMP's thread count when it starts its
    # pool; the C kernels must keep the count minigrad was given (they once ran on
    # every core after set_num_threads(1)). A fresh process: the pool starts once.
    code = ("import numpy as np, minigrad as mg\n"
            "from minigrad.backend import c, numba as nb\n"
            "mg.set_num_threads(1)\n"
            "nb.matmul(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32))\n"
            "print(c.lib.mg_num_threads(), mg.get_num_threads())")
    if not {"c", "numba"} <= set(mg.backend.available()):
        pytest.skip("needs the C and Numba backends")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "NUMBA_NUM_THREADS": "2"}, check=True)
    assert out.stdout.split() == ["1", "1"]


# ------------------------------------------------------------------------ torch oracle

def test_reference_matches_torch(rng):
    th = torch()
    F = th.nn.functional
    x, w, b = rand(rng, (2, 3, 9, 8), np.float64), rand(rng, (4, 3, 3, 2), np.float64), \
        rand(rng, 4, np.float64)
    xt, wt, bt = (th.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 0))
    dy = rand(rng, tuple(yt.shape), np.float64)
    yt.backward(th.tensor(dy))
    close(ref.conv2d_forward(x, w, b, (2, 1), (1, 0)), yt.detach().numpy(), np.float64, 18)
    for g, t in zip(ref.conv2d_backward(x, w, dy, (2, 1), (1, 0)), (xt, wt, bt)):
        close(g, t.grad.numpy(), np.float64, 100)
    xt = th.tensor(x, requires_grad=True)
    for pool, tfn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        yt = tfn(xt, (3, 2), (2, 1))
        d = rand(rng, tuple(yt.shape), np.float64)
        xt.grad = None
        yt.backward(th.tensor(d))
        if pool == "max":
            y, arg = ref.maxpool2d_forward(x, (3, 2), (2, 1))
            dx = ref.maxpool2d_backward(d, arg, x.shape)
        else:
            y = ref.avgpool2d_forward(x, (3, 2), (2, 1))
            dx = ref.avgpool2d_backward(d, x.shape, (3, 2), (2, 1))
        close(y, yt.detach().numpy(), np.float64, 6, pool)
        close(dx, xt.grad.numpy(), np.float64, 6, pool + " dx")
    a, m = rand(rng, (33, 7), np.float64), rand(rng, (7, 5), np.float64)
    close(ref.matmul(a.T.copy(), m, True), (th.tensor(a) @ th.tensor(m)).numpy(), np.float64, 7)


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)], ids=str)
def test_reference_batchnorm_matches_torch(rng, shape):
    th = torch()
    c = shape[1]
    x, g, b, dy = (rand(rng, s, np.float64) for s in (shape, c, c, shape))
    rm, rv = np.zeros(c), np.ones(c)
    rmt, rvt = th.zeros(c, dtype=th.float64), th.ones(c, dtype=th.float64)
    xt, gt, bt = (th.tensor(a, requires_grad=True) for a in (x, g, b))
    yt = th.nn.functional.batch_norm(xt, rmt, rvt, gt, bt, True, 0.1, 1e-5)
    yt.backward(th.tensor(dy))
    y, mean, invstd = ref.batchnorm_forward(x, g, b, rm, rv, True, 0.1, 1e-5)
    close(y, yt.detach().numpy(), np.float64, x.size // c)
    close(rm, rmt.numpy(), np.float64, 1)
    close(rv, rvt.numpy(), np.float64, 1)
    for u, t in zip(ref.batchnorm_backward(dy, x, g, mean, invstd, True), (xt, gt, bt)):
        close(u, t.grad.numpy(), np.float64, x.size // c)


# ------------------------------------------------------------------- backend selection

def _run(code: str, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    full.pop("MINIGRAD_BACKEND", None) if "MINIGRAD_BACKEND" not in env else None
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=120)


def test_env_var_selects_backend():
    out = _run("import minigrad as mg; print(mg.backend.get_backend())",
               MINIGRAD_BACKEND="numpy")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "numpy"


def test_missing_extension_falls_back_with_one_warning():
    code = ("import sys, warnings; sys.modules['minigrad._C'] = None\n"
            "import minigrad as mg\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    name = mg.backend.get_backend(); mg.backend.current(); mg.backend.get_backend()\n"
            "    x = mg.tensor([[1.0, 2.0]]) @ mg.tensor([[3.0], [4.0]])\n"
            "print(name, len(w), float(x.data[0, 0]), 'make build' in str(w[0].message))")
    out = _run(code)
    assert out.returncode == 0, out.stderr
    name, count, value, names_fix = out.stdout.split()
    assert name in ("numba", "numpy") and count == "1" and value == "11.0"
    assert names_fix == "True"


def test_switching_backend_mid_program(rng):
    a, b = rand(rng, (9, 13), np.float32), rand(rng, (13, 6), np.float32)
    results = {}
    for name in mg.backend.available():
        with mg.backend.use(name):
            results[name] = (mg.tensor(a) @ mg.tensor(b)).data
    for r in results.values():
        close(r, a @ b, np.float32, 13)
