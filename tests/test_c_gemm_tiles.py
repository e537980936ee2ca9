"""The C GEMM (csrc/gemm.c) called directly, against a float64 numpy reference, on sizes
around every micro-tile and cache block of each instruction set's table in
csrc/mg_internal.h (MR 6 or 12, NR 8, 16 or 32, KC 192 or 256, MC 96 to 384), with
alpha and beta, both transposes, row strides longer than a row, NaN in C under
beta == 0, and the two-thread split."""
import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.skipif("c" not in mg.backend.available(), reason="no C backend")

# Edges of the micro-tile: MR - 1, MR, MR + 1 and NR +- 1, 2 * NR + 3 for every table row.
TILE_SIZES = [1, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 19, 31, 32, 33, 35, 67]
# Edges of the cache blocks: KC + 1 (k split into equal blocks), MC + 1, past NR panels.
BLOCK_SIZES = [97, 193, 257, 385]


@pytest.fixture
def c():
    from minigrad.backend import c as cmod
    return cmod


def gemm(c, ta, tb, m, n, k, alpha, a, b, beta, out):
    """C = alpha op(a) op(b) + beta C through mg_gemm_f32/_f64 with the arrays' own row
    strides (a, b, out may be column slices of wider arrays)."""
    f32 = out.dtype == np.float32
    fn, ct = (c.lib.mg_gemm_f32, "float[]") if f32 else (c.lib.mg_gemm_f64, "double[]")
    e = out.itemsize
    ptr = [c.ffi.from_buffer(ct, x.base if x.base is not None else x) for x in (a, b, out)]
    offs = [(x.__array_interface__["data"][0] - (x.base if x.base is not None else x)
             .__array_interface__["data"][0]) // e for x in (a, b, out)]
    pa, pb, pc = (p + o for p, o in zip(ptr, offs))
    lda, ldb, ldc = (max(x.strides[0] // e, x.shape[1], 1) for x in (a, b, out))
    return fn(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)


def operands(rng, dtype, m, n, k, ta, tb, pad=0):
    """op(A) (m, k), op(B) (k, n) stored as given by ta/tb, each row `pad` longer than
    needed (a view into a wider array), and C (m, n) likewise."""
    def wide(rows, cols):
        return rng.standard_normal((rows, cols + pad)).astype(dtype)[:, :cols]
    a = wide(k, m) if ta else wide(m, k)
    b = wide(n, k) if tb else wide(k, n)
    return a, b, wide(m, n)


def reference(ta, tb, alpha, a, b, beta, c0):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    prod = (a64.T if ta else a64) @ (b64.T if tb else b64)
    return alpha * prod + (0 if beta == 0 else beta * c0.astype(np.float64))


def check(out, expected, k):
    eps = np.finfo(out.dtype).eps
    scale = max(float(np.max(np.abs(expected))) if expected.size else 1.0, 1.0)
    np.testing.assert_allclose(out, expected, rtol=0, atol=16 * eps * np.sqrt(k + 1) * scale)


def run_case(c, rng, dtype, m, n, k, ta, tb, alpha=1.0, beta=0.0, pad=0, nan_c=False):
    a, b, out = operands(rng, dtype, m, n, k, ta, tb, pad)
    if nan_c:
        out[...] = np.nan
    c0 = out.copy()
    outside = out.base.copy() if out.base is not None else None
    assert gemm(c, ta, tb, m, n, k, alpha, a, b, beta, out) == 0
    check(out, reference(ta, tb, alpha, a, b, beta, c0), k)
    if outside is not None:              # nothing past the (m, n) window was written
        np.testing.assert_array_equal(out.base[:, n:], outside[:, n:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("s", TILE_SIZES + BLOCK_SIZES)
def test_edges_of_every_dimension(c, rng, dtype, s):
    for m, n, k in [(s, 33, 19), (13, s, 21), (14, 35, s), (s, s, 7)]:
        for ta, tb in [(0, 0), (1, 0), (0, 1), (1, 1)]:
            run_case(c, rng, dtype, m, n, k, ta, tb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)], ids=["NN", "TN", "NT",
                                                                          "TT"])
def test_alpha_beta_and_strided_operands(c, rng, dtype, ta, tb):
    for m, n, k in [(25, 67, 257), (13, 33, 193), (37, 31, 12)]:
        run_case(c, rng, dtype, m, n, k, ta, tb, alpha=-0.5, beta=0.75, pad=5)
        run_case(c, rng, dtype, m, n, k, ta, tb, alpha=2.0, beta=1.0, pad=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_beta_zero_never_reads_nan_in_c(c, rng, dtype):
    for m, n, k in [(1, 1, 1), (12, 32, 5), (13, 33, 257), (25, 67, 3), (100, 300, 40)]:
        for ta, tb in [(0, 0), (0, 1), (1, 0)]:
            run_case(c, rng, dtype, m, n, k, ta, tb, beta=0.0, pad=2, nan_c=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_k_zero_or_alpha_zero_scales_c(c, rng, dtype):
    run_case(c, rng, dtype, 13, 33, 0, 0, 0, beta=0.5)
    run_case(c, rng, dtype, 13, 33, 9, 0, 1, alpha=0.0, beta=-2.0, pad=1)
    run_case(c, rng, dtype, 13, 33, 0, 1, 0, beta=0.0, nan_c=True)


# The MLP's three products (x @ W.T, dW = dy.T @ x, dX = dy @ W), small and odd shapes
# that give one thread a partial last tile, one with fewer tiles than threads on one side
# (split along the other), and square blocks past KC and MC.
SPLIT_SHAPES = [(128, 300, 784, 0, 1), (300, 784, 128, 1, 0), (128, 784, 300, 0, 0),
                (128, 10, 100, 0, 1), (10, 100, 128, 1, 0), (7, 500, 33, 0, 0),
                (500, 7, 33, 0, 1), (131, 133, 97, 1, 1), (400, 400, 300, 0, 0)]


@pytest.fixture
def two_threads(c):
    before = c.get_num_threads()
    c.set_num_threads(2)
    yield
    c.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SPLIT_SHAPES, ids=str)
def test_two_thread_split_matches_reference(c, rng, two_threads, dtype, shape):
    m, n, k, ta, tb = shape
    run_case(c, rng, dtype, m, n, k, ta, tb, beta=0.0, pad=3, nan_c=True)
    run_case(c, rng, dtype, m, n, k, ta, tb, alpha=0.5, beta=-1.0)


def test_two_thread_split_equals_one_thread_bit_for_bit(c, rng):
    """Each element of C is summed by one thread in the same k order either way."""
    m, n, k = 128, 300, 784
    a, b, _ = operands(rng, np.float32, m, n, k, 0, 1)
    outs = []
    for nt in (1, 2):
        before = c.get_num_threads()
        c.set_num_threads(nt)
        try:
            out = np.empty((m, n), np.float32)
            assert gemm(c, 0, 1, m, n, k, 1.0, a, b, 0.0, out) == 0
        finally:
            c.set_num_threads(before)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
