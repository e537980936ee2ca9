"""The Numba backend against the numpy reference: every kernel, float32 and float64,
odd and size-1 shapes, strides, padding, transposed and non-contiguous operands, NaN
propagation, thread counts, the same errors for bad input, and the same loops run as
plain Python under NUMBA_DISABLE_JIT=1."""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import numpy_ref as ref

if "numba" not in mg.backend.available():
    pytest.skip("the numba backend does not load: " + mg.backend._why_not("numba"),
                allow_module_level=True)
from minigrad.backend import numba as nb  # noqa: E402

R = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]


def rnd(shape, dtype):
    return R.standard_normal(shape).astype(dtype)


def tol(dtype, reduction=1):
    """Tolerance that grows with the length of the sums (float32 rounding)."""
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-10 * max(1, reduction))
    return dict(rtol=1e-4, atol=2e-6 * max(1, reduction))


def same(actual, expected, **kw):
    if expected is None:
        assert actual is None
        return
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    assert actual.flags.c_contiguous
    np.testing.assert_allclose(actual, expected, **kw)


# ------------------------------------------------------------------------- matmul

MM_SHAPES = [(1, 1, 1), (3, 7, 33), (33, 1, 7), (7, 300, 129), (65, 3, 260)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)],
                         ids=["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("m,k,n", MM_SHAPES, ids=lambda s: str(s))
def test_matmul_matches_reference(m, k, n, trans_a, trans_b, dtype):
    a = rnd((k, m) if trans_a else (m, k), dtype)
    b = rnd((n, k) if trans_b else (k, n), dtype)
    same(nb.matmul(a, b, bool(trans_a), bool(trans_b)),
         ref.matmul(a, b, bool(trans_a), bool(trans_b)), **tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("a_shape,b_shape,ta,tb", [
    ((4, 5, 7), (4, 7, 3), False, False), ((4, 7, 5), (7, 3), True, False),
    ((5, 7), (4, 3, 7), False, True), ((1, 3, 2), (1, 2, 9), False, False)],
    ids=["both3d", "shared_b_trans_a", "shared_a_trans_b", "batch1"])
def test_matmul_batched(a_shape, b_shape, ta, tb, dtype):
    a, b = rnd(a_shape, dtype), rnd(b_shape, dtype)
    same(nb.matmul(a, b, ta, tb), ref.matmul(a, b, ta, tb), **tol(dtype, 7))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matmul_non_contiguous_operands(dtype):
    a = rnd((10, 40), dtype)[::2, 1::3]          # (5, 13) strided view
    b = np.asfortranarray(rnd((13, 6), dtype))   # column-major
    same(nb.matmul(a, b), ref.matmul(a, b), **tol(dtype, 13))
    same(nb.matmul(a.T, b, trans_a=True), ref.matmul(a.T, b, trans_a=True),
         **tol(dtype, 13))


def test_matmul_zero_inner_dimension_gives_zeros():
    c = nb.matmul(np.ones((3, 0)), np.ones((0, 4)))
    assert c.shape == (3, 4) and not c.any()


def test_matmul_nan_propagates():
    a, b = rnd((5, 6), np.float64), rnd((6, 4), np.float64)
    a[2, 3] = np.nan
    c = nb.matmul(a, b)
    assert np.isnan(c[2]).all() and np.isfinite(np.delete(c, 2, axis=0)).all()


# ------------------------------------------------------------------------- conv2d

CONV_CASES = [  # x shape, w shape, stride, padding
    ((1, 1, 1, 1), (1, 1, 1, 1), (1, 1), (0, 0)),
    ((2, 3, 7, 5), (4, 3, 3, 3), (1, 1), (1, 1)),
    ((3, 2, 9, 7), (5, 2, 3, 2), (2, 1), (0, 1)),
    ((1, 3, 33, 7), (2, 3, 5, 3), (2, 2), (1, 0)),
    ((2, 7, 6, 11), (3, 7, 1, 1), (2, 2), (0, 0)),
    ((5, 1, 4, 4), (3, 1, 4, 4), (1, 1), (1, 1)),
]


def conv_id(case):
    return "x{}w{}s{}p{}".format(*case).replace(" ", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=conv_id)
def test_conv2d_forward_backward_match_reference(case, dtype):
    xs, ws, stride, padding = case
    x, w, b = rnd(xs, dtype), rnd(ws, dtype), rnd(ws[0], dtype)
    reduction = ws[1] * ws[2] * ws[3]
    y = ref.conv2d_forward(x, w, b, stride, padding)
    same(nb.conv2d_forward(x, w, b, stride, padding), y, **tol(dtype, reduction))
    same(nb.conv2d_forward(x, w, None, stride, padding),
         ref.conv2d_forward(x, w, None, stride, padding), **tol(dtype, reduction))
    dy = rnd(y.shape, dtype)
    expected = ref.conv2d_backward(x, w, dy, stride, padding)
    got = nb.conv2d_backward(x, w, dy, stride, padding)
    longest = max(reduction, xs[0] * y.shape[2] * y.shape[3], ws[0] * 4)
    for g, e in zip(got, expected):
        same(g, e, **tol(dtype, longest))


@pytest.mark.parametrize("flags", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1)],
                         ids=["dx", "dw", "db", "dx_db"])
def test_conv2d_backward_need_flags(flags):
    x, w = rnd((2, 3, 6, 5), np.float64), rnd((4, 3, 3, 3), np.float64)
    dy = rnd((2, 4, 3, 3), np.float64)
    got = nb.conv2d_backward(x, w, dy, (2, 2), (1, 1), *map(bool, flags))
    expected = ref.conv2d_backward(x, w, dy, (2, 2), (1, 1), *map(bool, flags))
    for g, e in zip(got, expected):
        same(g, e, **tol(np.float64, 50))


def test_conv2d_non_contiguous_inputs():
    x = rnd((2, 3, 8, 10), np.float32)[:, :, ::2, 1:8]   # strided (2, 3, 4, 7)
    w = np.transpose(rnd((3, 3, 3, 4), np.float32), (3, 0, 1, 2))  # (4, 3, 3, 3)
    same(nb.conv2d_forward(x, w, None, (1, 2), (1, 1)),
         ref.conv2d_forward(x, w, None, (1, 2), (1, 1)), **tol(np.float32, 27))


def test_conv2d_nan_propagates_to_its_receptive_field_only():
    x = rnd((1, 2, 6, 6), np.float64)
    x[0, 1, 0, 0] = np.nan
    y = nb.conv2d_forward(x, rnd((3, 2, 3, 3), np.float64), None, (1, 1), (0, 0))
    assert np.isnan(y[0, :, 0, 0]).all()
    assert np.isfinite(y[0, :, 1:, :]).all() and np.isfinite(y[0, :, :, 1:]).all()


# ------------------------------------------------------------------------ pooling

POOL_CASES = [((1, 1, 1, 1), (1, 1), (1, 1)), ((2, 3, 7, 5), (2, 2), (2, 2)),
              ((1, 2, 9, 33), (3, 2), (2, 3)), ((3, 1, 4, 6), (3, 3), (1, 1))]


def pool_id(case):
    return "x{}k{}s{}".format(*case).replace(" ", "")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_maxpool2d_matches_reference(case, dtype):
    xs, kernel, stride = case
    x = rnd(xs, dtype)
    y, arg = ref.maxpool2d_forward(x, kernel, stride)
    got_y, got_arg = nb.maxpool2d_forward(x, kernel, stride)
    same(got_y, y, rtol=0, atol=0)
    np.testing.assert_array_equal(got_arg, arg)
    assert got_arg.dtype == np.int64
    dy = rnd(y.shape, dtype)
    same(nb.maxpool2d_backward(dy, arg, xs), ref.maxpool2d_backward(dy, arg, xs),
         **tol(dtype, 9))


def test_maxpool2d_first_maximum_wins_and_nan_propagates():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0],
                    [3.0, 2.0, np.nan, 5.0]]]], dtype=np.float32)
    y, arg = nb.maxpool2d_forward(x, (2, 2), (2, 2))
    assert y[0, 0, 0, 0] == 3.0 and arg[0, 0, 0, 0] == 1    # first of the three 3s
    assert np.isnan(y[0, 0, 0, 1]) and arg[0, 0, 0, 1] == 6  # NaN at (1, 2)
    y_ref, arg_ref = ref.maxpool2d_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(arg, arg_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_maxpool2d_overlapping_windows_accumulate():
    x = rnd((2, 2, 5, 5), np.float64)
    y, arg = nb.maxpool2d_forward(x, (3, 3), (1, 1))
    dy = np.ones_like(y)
    same(nb.maxpool2d_backward(dy, arg, x.shape), ref.maxpool2d_backward(dy, arg, x.shape),
         rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", POOL_CASES, ids=pool_id)
def test_avgpool2d_matches_reference(case, dtype):
    xs, kernel, stride = case
    x = rnd(xs, dtype)
    y = ref.avgpool2d_forward(x, kernel, stride)
    same(nb.avgpool2d_forward(x, kernel, stride), y, **tol(dtype, 9))
    same(nb.avgpool2d_forward(np.asfortranarray(x), kernel, stride), y, **tol(dtype, 9))
    dy = rnd(y.shape, dtype)
    same(nb.avgpool2d_backward(dy, xs, kernel, stride),
         ref.avgpool2d_backward(dy, xs, kernel, stride), **tol(dtype, 9))


def test_avgpool2d_nan_propagates():
    x = rnd((1, 1, 4, 4), np.float64)
    x[0, 0, 3, 3] = np.nan
    y = nb.avgpool2d_forward(x, (2, 2), (2, 2))
    assert np.isnan(y[0, 0, 1, 1]) and np.isfinite(y[0, 0].ravel()[:3]).all()


# --------------------------------------------------------------------- batch norm

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(2, 1), (7, 33), (3, 5, 7, 1), (1, 3, 4, 9)],
                         ids=lambda s: str(s))
def test_batchnorm_matches_reference(shape, training, dtype):
    c = shape[1]
    x = rnd(shape, dtype) * 3 + 5   # an offset mean exercises the shifted sums
    gamma, beta = rnd(c, dtype), rnd(c, dtype)
    stats = [R.random(c).astype(dtype), R.random(c).astype(dtype) + 0.5]
    mine = [s.copy() for s in stats]
    expected = ref.batchnorm_forward(x, gamma, beta, *stats, training, 0.1, 1e-5)
    got = nb.batchnorm_forward(x, gamma, beta, *mine, training, 0.1, 1e-5)
    n = x.size // c
    for g, e in zip(got, expected):
        same(g, e, **tol(dtype, 10))
    for g, e in zip(mine, stats):  # the running statistics, updated in place
        np.testing.assert_allclose(g, e, **tol(dtype, 10))
    dy = rnd(shape, dtype)
    for g, e in zip(nb.batchnorm_backward(dy, x, gamma, expected[1], expected[2], training),
                    ref.batchnorm_backward(dy, x, gamma, expected[1], expected[2],
                                           training)):
        same(g, e, **tol(dtype, n))


def test_batchnorm_eval_leaves_running_stats_alone():
    x = rnd((4, 3), np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    nb.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), rm, rv,
                         False, 0.1, 1e-5)
    assert not rm.any() and (rv == 1).all()


def test_batchnorm_nan_stays_in_its_channel():
    x = rnd((4, 3, 2, 2), np.float64)
    x[1, 2, 0, 1] = np.nan
    y, _, _ = nb.batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3),
                                   True, 0.1, 1e-5)
    assert np.isnan(y[:, 2]).all() and np.isfinite(y[:, :2]).all()


# ------------------------------------------------------------ threads and errors

def test_results_do_not_depend_on_thread_count():
    x, w = rnd((5, 3, 9, 9), np.float64), rnd((4, 3, 3, 3), np.float64)
    dy = rnd((5, 4, 9, 9), np.float64)
    previous = nb.get_num_threads()
    try:
        nb.set_num_threads(1)
        one = nb.conv2d_backward(x, w, dy, (1, 1), (1, 1))
        nb.set_num_threads(10**6)  # clamped to the pool Numba started with
        assert nb.get_num_threads() <= os.cpu_count()
        many = nb.conv2d_backward(x, w, dy, (1, 1), (1, 1))
    finally:
        nb.set_num_threads(previous)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="set_num_threads: n must be an int >= 1, got 0"):
        nb.set_num_threads(0)


F32, F64 = np.ones((2, 3, 4, 4), np.float32), np.ones((2, 3, 4, 4))
BAD = {  # kernel name -> arguments the reference rejects
    "matmul_inner": ("matmul", (np.ones((3, 4)), np.ones((5, 2)))),
    "matmul_dtype": ("matmul", (np.ones((3, 4), np.float32), np.ones((4, 2)))),
    "matmul_int": ("matmul", (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))),
    "matmul_1d": ("matmul", (np.ones(3), np.ones((3, 2)))),
    "matmul_batch": ("matmul", (np.ones((2, 3, 4)), np.ones((3, 4, 2)))),
    "conv_channels": ("conv2d_forward", (F64, np.ones((4, 2, 3, 3)), None, (1, 1), (0, 0))),
    "conv_bias": ("conv2d_forward", (F64, np.ones((4, 3, 3, 3)), np.ones(3), (1, 1),
                                     (0, 0))),
    "conv_big_kernel": ("conv2d_forward", (F64, np.ones((4, 3, 7, 3)), None, (1, 1),
                                           (1, 1))),
    "conv_stride": ("conv2d_forward", (F64, np.ones((4, 3, 3, 3)), None, (0, 1), (0, 0))),
    "conv_dtype": ("conv2d_forward", (F32, np.ones((4, 3, 3, 3)), None, (1, 1), (0, 0))),
    "conv_bwd_dy": ("conv2d_backward", (F64, np.ones((4, 3, 3, 3)), np.ones((2, 4, 3, 3)),
                                        (1, 1), (0, 0))),
    "maxpool_3d": ("maxpool2d_forward", (np.ones((3, 4, 4)), (2, 2), (2, 2))),
    "maxpool_kernel": ("maxpool2d_forward", (F64, (5, 2), (1, 1))),
    "maxpool_bwd": ("maxpool2d_backward", (np.ones((2, 3, 2, 2)),
                                           np.zeros((2, 3, 2, 1), np.int64), (2, 3, 4, 4))),
    "avgpool_stride": ("avgpool2d_forward", (F64, (2, 2), (0, 2))),
    "avgpool_int": ("avgpool2d_forward", (F64.astype(np.int32), (2, 2), (2, 2))),
    "bn_gamma": ("batchnorm_forward", (F64, np.ones(2), np.ones(3), np.ones(3), np.ones(3),
                                       True, 0.1, 1e-5)),
    "bn_3d": ("batchnorm_forward", (np.ones((2, 3, 4)), np.ones(3), np.ones(3), np.ones(3),
                                    np.ones(3), True, 0.1, 1e-5)),
    "bn_one_value": ("batchnorm_forward", (np.ones((1, 3)), np.ones(3), np.ones(3),
                                           np.ones(3), np.ones(3), True, 0.1, 1e-5)),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_raises_like_reference(name):
    kernel, args = BAD[name]
    with pytest.raises((ValueError, TypeError)) as expected:
        getattr(ref, kernel)(*args)
    with pytest.raises(expected.type, match=re.escape(str(expected.value))):
        getattr(nb, kernel)(*args)


def test_backward_kernels_refuse_inputs_that_would_write_out_of_bounds():
    dy = np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"maxpool2d_backward: argmax values must lie in "
                                         r"\[0, 16\)"):
        nb.maxpool2d_backward(dy, np.full((1, 1, 2, 2), 16, np.int64), (1, 1, 4, 4))
    with pytest.raises(TypeError, match="argmax must be an int64 array"):
        nb.maxpool2d_backward(dy, dy, (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"avgpool2d_backward: dy\(1, 1, 2, 2\) does not "
                                         r"match the output shape \(1, 1, 1, 1\)"):
        nb.avgpool2d_backward(dy, (1, 1, 4, 4), (4, 4), (4, 4))
    with pytest.raises(ValueError, match=r"batchnorm_backward: expects dy and x"):
        nb.batchnorm_backward(np.ones((2, 3)), np.ones((2, 4)), np.ones(3), np.ones(3),
                              np.ones(3), True)


# ------------------------------------------------------------- without the JIT

NO_JIT_SCRIPT = textwrap.dedent("""
    import numpy as np
    import numba
    from minigrad.backend import numba as nb, numpy_ref as ref
    assert numba.config.DISABLE_JIT
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((2, 2, 5, 4)), r.standard_normal((3, 2, 3, 2)), r.random(3)
    a, m = r.standard_normal((5, 3)), r.standard_normal((4, 5))
    close = lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-10)
    for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
        aa, mm = (a.T.copy() if ta else a), (m.T.copy() if tb else m)
        close(nb.matmul(mm, aa, tb, ta), ref.matmul(mm, aa, tb, ta))
    y = ref.conv2d_forward(x, w, b, (2, 1), (1, 1))
    close(nb.conv2d_forward(x, w, b, (2, 1), (1, 1)), y)
    dy = r.standard_normal(y.shape)
    for p, q in zip(nb.conv2d_backward(x, w, dy, (2, 1), (1, 1)),
                    ref.conv2d_backward(x, w, dy, (2, 1), (1, 1))):
        close(p, q)
    yp, arg = ref.maxpool2d_forward(x, (2, 2), (1, 2))
    close(nb.maxpool2d_forward(x, (2, 2), (1, 2))[0], yp)
    assert (nb.maxpool2d_forward(x, (2, 2), (1, 2))[1] == arg).all()
    close(nb.maxpool2d_backward(yp, arg, x.shape), ref.maxpool2d_backward(yp, arg, x.shape))
    ya = ref.avgpool2d_forward(x, (3, 2), (1, 1))
    close(nb.avgpool2d_forward(x, (3, 2), (1, 1)), ya)
    close(nb.avgpool2d_backward(ya, x.shape, (3, 2), (1, 1)),
          ref.avgpool2d_backward(ya, x.shape, (3, 2), (1, 1)))
    g, be = r.random(2), r.random(2)
    for train in (True, False):
        s1, s2 = [np.zeros(2), np.ones(2)], [np.zeros(2), np.ones(2)]
        o1 = nb.batchnorm_forward(x, g, be, *s1, train, 0.1, 1e-5)
        o2 = ref.batchnorm_forward(x, g, be, *s2, train, 0.1, 1e-5)
        for p, q in zip(o1 + tuple(s1), o2 + tuple(s2)):
            close(p, q)
        for p, q in zip(nb.batchnorm_backward(x, x, g, o2[1], o2[2], train),
                        ref.batchnorm_backward(x, x, g, o2[1], o2[2], train)):
            close(p, q)
    print("ok")
""")


def test_kernels_run_as_plain_python_with_jit_disabled():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", NO_JIT_SCRIPT], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_default_threads_follow_omp_num_threads():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = "from minigrad.backend import numba as nb; print(nb.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr[-2000:]


# Zero-size operands (found by the fuzzer in tests/test_fuzz_kernels.py): the shapes
# follow the reference and nothing is read outside an empty buffer.
@pytest.mark.parametrize("a_shape,b_shape", [((0, 3, 4), (4, 2)), ((3, 4), (0, 4, 2)),
                                             ((0, 3, 4), (0, 4, 2)), ((3, 0), (0, 2))],
                         ids=["empty_a_batch", "empty_b_batch", "both", "k0"])
def test_matmul_zero_sizes(a_shape, b_shape):
    a, b = np.ones(a_shape, np.float32), np.ones(b_shape, np.float32)
    same(nb.matmul(a, b), ref.matmul(a, b), rtol=0, atol=0)


@pytest.mark.parametrize("xs,ws", [((2, 3, 5, 5), (0, 3, 3, 3)), ((1, 0, 2, 2), (2, 0, 1, 1)),
                                   ((0, 2, 4, 4), (3, 2, 3, 3))],
                         ids=["no_filters", "no_channels", "no_images"])
def test_conv2d_zero_sizes(xs, ws):
    x, w = np.ones(xs), np.ones(ws)
    b = np.ones(ws[0])
    y = ref.conv2d_forward(x, w, b, (1, 1), (0, 0))
    same(nb.conv2d_forward(x, w, b, (1, 1), (0, 0)), y, rtol=0, atol=0)
    dy = np.ones(y.shape)
    for g, e in zip(nb.conv2d_backward(x, w, dy, (1, 1), (0, 0)),
                    ref.conv2d_backward(x, w, dy, (1, 1), (0, 0))):
        same(g, e, rtol=0, atol=0)


@pytest.mark.parametrize("n,c", [(0, 3), (2, 0)])
def test_pool_and_batchnorm_zero_sizes(n, c):
    x = np.ones((n, c, 4, 4))
    y, arg = nb.maxpool2d_forward(x, (2, 2), (2, 2))
    assert y.shape == arg.shape == (n, c, 2, 2)
    assert nb.maxpool2d_backward(y, arg, x.shape).shape == x.shape
    assert nb.avgpool2d_backward(nb.avgpool2d_forward(x, (2, 2), (2, 2)), x.shape, (2, 2),
                                 (2, 2)).shape == x.shape
    ones = np.ones(c)
    dx, dg, db = nb.batchnorm_backward(x, x, ones, ones, ones, True)
    assert dx.shape == x.shape and dg.shape == db.shape == (c,) and not dg.any()
