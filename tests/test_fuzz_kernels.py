"""Property-based fuzzing of every compiled backend's kernels against numpy_ref.

Hypothesis draws shapes (zero-size dimensions where the contract allows them),
strides, paddings, transpose flags, float32/float64, memory layouts (contiguous,
Fortran-ordered, strided and reversed views, read-only) and magnitudes up to 1e30, and
checks that matmul, conv2d forward/backward, max/avg pooling forward/backward and
batch norm forward/backward (training and eval) agree with the numpy reference.

Bounded for CI: MINIGRAD_FUZZ_EXAMPLES examples per kernel test and backend (default
60); set it to e.g. 2000 for a long local run. MINIGRAD_FUZZ_BACKENDS=c,numba picks the
backends (default: every compiled one in mg.backend.available()). The number of
examples run per test is printed at the end of the module.
"""
import collections
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.backend import numpy_ref as ref  # noqa: E402

# 60 by default, not 200: on the shared 2-core machine 200 examples per kernel took
# ~400 s, most of it Numba specialising its kernels for each drawn layout and dtype.
EXAMPLES = int(os.environ.get("MINIGRAD_FUZZ_EXAMPLES", "60"))
_wanted = os.environ.get("MINIGRAD_FUZZ_BACKENDS", "")
BACKENDS = ([b.strip() for b in _wanted.split(",") if b.strip()] if _wanted else
            [b for b in mg.backend.available() if b != "numpy"])
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
RUN = collections.Counter()

pytestmark = pytest.mark.skipif(not BACKENDS, reason="no compiled backend is available")


@pytest.fixture(scope="module", autouse=True)
def _report_examples(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {name}: {count}" for name, count in sorted(RUN.items())]
    text = "\nfuzz examples run per kernel test and backend:\n" + "\n".join(lines)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured
            reporter.write_line(text)
    else:
        print(text)


@pytest.fixture(params=BACKENDS)
def kern(request):
    with mg.backend.use(request.param):
        yield request.param, mg.backend.current()


# ----- strategies ----------------------------------------------------------------------
DTYPES = st.sampled_from([np.float32, np.float64])
SCALES = st.sampled_from([1.0, 1.0, 1e-30, 1e30])


def _layout(draw, a: np.ndarray) -> np.ndarray:
    """The values of a in a drawn memory layout."""
    kind = draw(st.sampled_from(["c", "c", "fortran", "strided", "reversed", "readonly"]))
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "strided" and a.ndim:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if kind == "reversed" and a.ndim:
        return np.ascontiguousarray(a[..., ::-1])[..., ::-1]
    if kind == "readonly":
        a = a.copy()
        a.flags.writeable = False
    return a


def _values(draw, shape, dtype, scale=1.0) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    a = np.random.default_rng(seed).standard_normal(shape) * scale
    return a.astype(dtype)


def _close(actual, expected, dtype, reduction, what, scale=None):
    """Agreement within rounding that grows with the reduction length, relative to the
    largest expected magnitude (so 1e30 inputs are compared at their own scale), or to
    ``scale`` when the result is a small difference of larger terms."""
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=what)
    if not finite.any():
        return
    r = 32 * np.finfo(dtype).eps * np.sqrt(max(reduction, 1))
    if scale is None:
        scale = float(np.max(np.abs(expected[finite])))
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=r,
                               atol=r * scale + np.finfo(dtype).tiny, err_msg=what)


# ----- matmul ----------------------------------------------------------------------------
DIMS = st.sampled_from([0, 1, 2, 3, 5, 8, 17, 33, 65])


@FUZZ
@given(data=st.data())
def _matmul_case(kern, data):
    name, k = kern
    draw = data.draw
    dtype, scale = draw(DTYPES), draw(SCALES)
    m, n, kk = draw(DIMS), draw(DIMS), draw(DIMS)
    ta, tb = draw(st.booleans()), draw(st.booleans())
    batch = draw(st.sampled_from([None, None, 0, 1, 3]))
    shared = draw(st.sampled_from(["none", "a", "b"])) if batch is not None else "none"
    a_shape = (kk, m) if ta else (m, kk)
    b_shape = (n, kk) if tb else (kk, n)
    if batch is not None and shared != "a":
        a_shape = (batch,) + a_shape
    if batch is not None and shared != "b":
        b_shape = (batch,) + b_shape
    a = _layout(draw, _values(draw, a_shape, dtype, scale))
    b = _layout(draw, _values(draw, b_shape, dtype))
    RUN[f"matmul[{name}]"] += 1
    _close(k.matmul(a, b, ta, tb), ref.matmul(a, b, ta, tb), dtype, kk,
           f"matmul a{a.shape} b{b.shape} ta={ta} tb={tb} {np.dtype(dtype)}")


def test_fuzz_matmul(kern):
    _matmul_case(kern)


# ----- conv2d -------------------------------------------------------------------------
@st.composite
def conv_problems(draw):
    dtype, scale = draw(DTYPES), draw(SCALES)
    n, c, f = draw(st.integers(0, 3)), draw(st.integers(0, 4)), draw(st.integers(0, 4))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    kh, kw = draw(st.integers(1, min(5, h + 2 * ph))), draw(st.integers(1, min(5, w + 2 * pw)))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = _layout(draw, _values(draw, (n, c, h, w), dtype, scale))
    wt = _layout(draw, _values(draw, (f, c, kh, kw), dtype))
    b = _values(draw, (f,), dtype) if draw(st.booleans()) else None
    return x, wt, b, (sh, sw), (ph, pw)


@FUZZ
@given(problem=conv_problems(), data=st.data())
def _conv_case(kern, problem, data):
    name, k = kern
    x, w, b, stride, padding = problem
    RUN[f"conv2d_forward+backward[{name}]"] += 1
    dtype, red = x.dtype, w.shape[1] * w.shape[2] * w.shape[3]
    what = f"conv2d x{x.shape} w{w.shape} stride {stride} padding {padding} {dtype}"
    y = ref.conv2d_forward(x, w, b, stride, padding)
    _close(k.conv2d_forward(x, w, b, stride, padding), y, dtype, red, what)
    dy = _layout(data.draw, _values(data.draw, y.shape, dtype))
    flags = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    got = k.conv2d_backward(x, w, dy, stride, padding, *flags)
    want = ref.conv2d_backward(x, w, dy, stride, padding, *flags)
    reductions = (w.shape[0] * w.shape[2] * w.shape[3], y.shape[0] * y.shape[2] * y.shape[3],
                  y.shape[0] * y.shape[2] * y.shape[3])
    for label, g, e, r in zip(("dx", "dw", "db"), got, want, reductions):
        if e is None:
            assert g is None, f"{what}: {label} not asked for"
        else:
            _close(g, e, dtype, r, f"{what} {label}")


def test_fuzz_conv2d(kern):
    _conv_case(kern)


# ----- pooling --------------------------------------------------------------------------
@st.composite
def pool_problems(draw):
    dtype, scale = draw(DTYPES), draw(SCALES)
    n, c = draw(st.integers(0, 3)), draw(st.integers(0, 4))
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    x = _layout(draw, _values(draw, (n, c, h, w), dtype, scale))
    return x, kernel, stride


@FUZZ
@given(problem=pool_problems(), data=st.data())
def _pool_case(kern, problem, data):
    name, k = kern
    RUN[f"max/avgpool2d_forward+backward[{name}]"] += 1
    x, kernel, stride = problem
    what = f"pool x{x.shape} kernel {kernel} stride {stride} {x.dtype}"
    y, arg = k.maxpool2d_forward(x, kernel, stride)
    y_ref, arg_ref = ref.maxpool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(y, y_ref, err_msg=what)  # a max is exact
    np.testing.assert_array_equal(arg, arg_ref, err_msg=what)
    assert arg.dtype == np.int64
    dy = _layout(data.draw, _values(data.draw, y.shape, x.dtype))
    overlap = -(-kernel[0] // stride[0]) * -(-kernel[1] // stride[1])
    _close(k.maxpool2d_backward(dy, arg_ref, x.shape), ref.maxpool2d_backward(
        dy, arg_ref, x.shape), x.dtype, overlap, what + " maxpool dx")
    _close(k.avgpool2d_forward(x, kernel, stride), ref.avgpool2d_forward(x, kernel, stride),
           x.dtype, kernel[0] * kernel[1], what + " avgpool y")
    _close(k.avgpool2d_backward(dy, x.shape, kernel, stride),
           ref.avgpool2d_backward(dy, x.shape, kernel, stride), x.dtype, overlap,
           what + " avgpool dx")


def test_fuzz_pools(kern):
    _pool_case(kern)


# ----- batch norm -----------------------------------------------------------------------
@st.composite
def bn_problems(draw):
    dtype = draw(DTYPES)
    # Squares of 1e30 overflow float32, where the reference and a kernel accumulating in
    # double legitimately differ; float32 goes up to 1e15 (squares 1e30).
    scale = draw(st.sampled_from([1.0, 1.0, 1e-15, 1e30 if dtype == np.float64 else 1e15]))
    four_d, training = draw(st.booleans()), draw(st.booleans())
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    hw = (draw(st.integers(1, 5)), draw(st.integers(1, 5))) if four_d else ()
    if training and n * int(np.prod(hw)) < 2:
        n = 2
    x = _values(draw, (n, c) + hw, dtype, scale)
    x = x + _values(draw, (c,) + (1,) * len(hw), dtype, scale)  # per-channel offsets
    x = _layout(draw, x)
    gamma, beta = _values(draw, (c,), dtype), _values(draw, (c,), dtype)
    rm = _values(draw, (c,), dtype)
    rv = np.abs(_values(draw, (c,), dtype)) + 0.5
    momentum = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.0 if training else 1e-5]))
    return x, gamma, beta, rm, rv, training, momentum, eps


@FUZZ
@given(problem=bn_problems(), data=st.data())
def _bn_case(kern, problem, data):
    name, k = kern
    RUN[f"batchnorm_forward+backward[{name}]"] += 1
    x, gamma, beta, rm, rv, training, momentum, eps = problem
    dtype, count = x.dtype, x.size // x.shape[1]
    what = f"batchnorm x{x.shape} training={training} momentum {momentum} eps {eps} {dtype}"
    rm_k, rv_k, rm_r, rv_r = rm.copy(), rv.copy(), rm.copy(), rv.copy()
    got = k.batchnorm_forward(x, gamma, beta, rm_k, rv_k, training, momentum, eps)
    want = ref.batchnorm_forward(x, gamma, beta, rm_r, rv_r, training, momentum, eps)
    for label, g, e in zip(("y", "mean", "invstd"), got, want):
        _close(g, e, dtype, count, f"{what} {label}")
    _close(rm_k, rm_r, dtype, count, what + " running_mean")
    _close(rv_k, rv_r, dtype, count, what + " running_var")
    dy = _layout(data.draw, _values(data.draw, x.shape, dtype))
    got = k.batchnorm_backward(dy, x, gamma, want[1], want[2], training)
    ref_grads = ref.batchnorm_backward(dy, x, gamma, want[1], want[2], training)
    # dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), dgamma = sum(dy *
    # xhat) and dbeta = sum(dy) cancel: compare them at the scale of their terms, not of
    # the (possibly tiny) result.
    shape = (1, -1) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    xhat = (x - want[1].reshape(shape)) * want[2].reshape(shape)
    scales = {
        "dx": float(np.max(np.abs(gamma * want[2]).reshape(shape) * np.abs(dy), initial=0)),
        "dgamma": float(np.max(np.abs(dy * xhat).sum(axis=axes), initial=0)),
        "dbeta": float(np.max(np.abs(dy).sum(axis=axes), initial=0)),
    }
    for label, g, e in zip(("dx", "dgamma", "dbeta"), got, ref_grads):
        _close(g, e, dtype, count, f"{what} {label}", scales[label])


def test_fuzz_batchnorm(kern):
    _bn_case(kern)


# ----- zero-size regressions this fuzzer once found ---------------------------------------
NUMBA = pytest.mark.skipif("numba" not in mg.backend.available(), reason="no numba")


@pytest.mark.parametrize("shared", ["a", "b"])
def test_matmul_empty_batch_beside_shared_operand(kern, shared):
    name, k = kern
    a = np.ones((3, 4), np.float32) if shared == "a" else np.ones((0, 3, 4), np.float32)
    b = np.ones((4, 2), np.float32) if shared == "b" else np.ones((0, 4, 2), np.float32)
    assert k.matmul(a, b).shape == (0, 3, 2)


@NUMBA
def test_numba_conv2d_zero_filters():
    from minigrad.backend import numba_jit
    x, w = np.ones((2, 3, 5, 5), np.float32), np.ones((0, 3, 3, 3), np.float32)
    assert numba_jit.conv2d_forward(x, w, None, (1, 1), (0, 0)).shape == (2, 0, 3, 3)
    dy = np.ones((2, 0, 3, 3), np.float32)
    dx, dw, db = numba_jit.conv2d_backward(x, w, dy, (1, 1), (0, 0))
    assert dx.shape == x.shape and not dx.any() and dw.shape == w.shape


@NUMBA
def test_numba_conv2d_backward_zero_channels():
    from minigrad.backend import numba_jit
    x, w = np.ones((1, 0, 1, 1), np.float32), np.ones((1, 0, 1, 1), np.float32)
    dx, dw, db = numba_jit.conv2d_backward(x, w, np.ones((1, 1, 1, 1), np.float32), (1, 1),
                                           (0, 0))
    assert dw.shape == (1, 0, 1, 1) and db.tolist() == [1.0]


@NUMBA
@pytest.mark.parametrize("n, c", [(0, 3), (2, 0)])
def test_numba_maxpool_backward_empty_batch(n, c):
    from minigrad.backend import numba_jit
    dy, arg = np.ones((n, c, 2, 2), np.float32), np.zeros((n, c, 2, 2), np.int64)
    assert numba_jit.maxpool2d_backward(dy, arg, (n, c, 5, 5)).shape == (n, c, 5, 5)


# ----- huge strides, paddings, kernels and sizes, each backend in a child process -------
# tests/_huge_cases.py runs every case of a kernel family on one backend and prints one
# JSON line before and after each case, so a crash (a segfault kills the child, not
# pytest) fails the test naming the case. Every case must either raise a ValueError
# (ShapeError is one) whose message starts with the op's name, or return what the numpy
# reference returns for it.
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

HUGE_SCRIPT = os.path.join(os.path.dirname(__file__), "_huge_cases.py")
HUGE_OPS = {"conv2d": ("conv2d",), "pool": ("maxpool2d", "avgpool2d"),
            "pool_x_shape": ("maxpool2d", "avgpool2d"), "matmul": ("matmul",),
            "batchnorm": ("batchnorm",)}
HUGE_RUN: dict = {}


def _huge_outcomes(family: str, backend: str) -> list[dict]:
    """[(case, outcome)] of the family on the backend, from a child process."""
    key = (family, backend)
    if key not in HUGE_RUN:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.run([sys.executable, HUGE_SCRIPT, family, backend], env=env,
                              capture_output=True, text=True, timeout=600)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        starts = [r["start"] for r in lines if "start" in r]
        ends = [r for r in lines if "start" not in r]
        assert proc.returncode == 0 and len(ends) == len(starts), (
            f"{family} on {backend}: the child died (exit {proc.returncode}) in case "
            f"{starts[-1] if starts else None}\n{proc.stderr[-2000:]}")
        HUGE_RUN[key] = list(zip(starts, ends))
        RUN[f"huge sizes {family}[{backend}]"] += len(starts)
    return HUGE_RUN[key]


def _check_huge(family: str, backend: str) -> None:
    reference = _huge_outcomes(family, "numpy")
    for (case, got), (_, want) in zip(_huge_outcomes(family, backend), reference):
        what = f"{family} on {backend}, case {case}"
        if "error" in got:
            assert got["error"] in ("ValueError", "ShapeError"), (what, got)
            assert got["message"].startswith(HUGE_OPS[family]), (what, got)
        else:
            assert "ok" in want, f"{what}: returned, the reference raised {want}"
            for g, e in zip(got["ok"], want["ok"]):
                assert (g is None) == (e is None), what
                if e is not None:
                    np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-6,
                                               err_msg=what)


HUGE_BACKENDS = mg.backend.available()


@pytest.mark.parametrize("backend", HUGE_BACKENDS)
@pytest.mark.parametrize("family", ["conv2d", "pool", "matmul", "batchnorm"])
def test_fuzz_huge_sizes_clear_errors(family, backend):
    _check_huge(family, backend)


@pytest.mark.parametrize("backend", HUGE_BACKENDS)
def test_fuzz_huge_x_shape_pool_backward_clear_errors(backend):
    _check_huge("pool_x_shape", backend)
