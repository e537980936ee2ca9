"""The Numba GEMM micro-kernel and the convolution paths built on it (implicit GEMM,
direct, im2col), checked on every backend against the numpy reference: tile
boundaries (with AVX-512: MR = 12 rows, NR = 32 float32 or 16 float64 columns; KC =
256, MC = 768), 1, primes, transposes, strided views and float64; the micro-kernel
against its Python reference; and its machine code: FMA vectors (zmm on AVX-512, ymm
on AVX2, the slow test), accumulators kept in registers."""
import os
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import numpy_ref as ref

BACKENDS = [b for b in mg.backend.available() if b != "numpy"]
R = np.random.default_rng(5)


def close(actual, expected, dtype, reduction):
    """Within float rounding for sums of `reduction` terms, relative to the largest
    expected magnitude."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    r = 16 * np.finfo(dtype).eps * np.sqrt(max(reduction, 1))
    scale = max(float(np.max(np.abs(expected))) if expected.size else 1.0, 1.0)
    np.testing.assert_allclose(actual, expected, rtol=r, atol=r * scale)


# (M, N, K) around the micro-tile and cache blocks of backend/numba/gemm.py
GEMM_SHAPES = [(1, 1, 1), (4, 16, 4), (6, 8, 4), (7, 9, 5), (5, 3, 257), (13, 31, 2),
               (12, 17, 255), (3, 33, 16), (2, 513, 3), (37, 1, 29), (19, 600, 300),
               (11, 32, 1), (12, 16, 512), (25, 65, 7), (769, 3, 5)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mnk", GEMM_SHAPES, ids=str)
def test_numba_gemm_tile_boundaries_match_reference(backend, dtype, mnk):
    m, n, k = mnk
    with mg.backend.use(backend):
        kern = mg.backend.current()
        for ta in (False, True):
            for tb in (False, True):
                a = R.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                b = R.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                close(kern.matmul(a, b, ta, tb), ref.matmul(a, b, ta, tb), dtype, k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_numba_gemm_strided_views_and_batches(backend):
    big = R.standard_normal((3, 40, 60))
    a = big[:, 1:30:2, ::3]                 # (3, 15, 20), strided on both axes
    b = big[0, 5:25, 7:18]                  # (20, 11)
    with mg.backend.use(backend):
        kern = mg.backend.current()
        close(kern.matmul(a, b), ref.matmul(a, b), np.float64, 20)
        close(kern.matmul(a, b.T, False, True), ref.matmul(a, b.T, False, True),
              np.float64, 20)


CONV_CASES = [  # x shape, w shape, stride, padding: the path each one takes in numba
    ((2, 1, 9, 7), (4, 1, 3, 3), (1, 1), (1, 1)),      # direct (9 taps)
    ((1, 3, 5, 5), (2, 3, 3, 3), (1, 1), (0, 0)),      # direct (27 taps), padding 0
    ((3, 5, 7, 6), (7, 5, 3, 3), (1, 1), (1, 1)),      # implicit GEMM ("same")
    ((2, 4, 8, 5), (3, 4, 3, 2), (1, 1), (2, 1)),      # implicit, uneven padding
    ((1, 13, 6, 6), (2, 13, 1, 1), (1, 1), (0, 0)),    # implicit 1x1, more taps than F
    ((2, 3, 9, 8), (5, 3, 3, 3), (2, 1), (1, 0)),      # im2col (stride 2)
    ((1, 2, 5, 5), (3, 2, 2, 2), (1, 1), (2, 2)),      # im2col (padding >= kernel)
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x{}w{}s{}p{}".format(*c))
def test_numba_conv_paths_match_reference(backend, dtype, case):
    xs, ws, stride, padding = case
    x = R.standard_normal(xs).astype(dtype)
    w, b = R.standard_normal(ws).astype(dtype), R.standard_normal(ws[0]).astype(dtype)
    taps = ws[1] * ws[2] * ws[3]
    with mg.backend.use(backend):
        kern = mg.backend.current()
        y = ref.conv2d_forward(x, w, b, stride, padding)
        close(kern.conv2d_forward(x, w, b, stride, padding), y, dtype, taps)
        dy = R.standard_normal(y.shape).astype(dtype)
        longest = max(taps, xs[0] * y.shape[2] * y.shape[3], ws[0] * ws[2] * ws[3])
        for got, want in zip(kern.conv2d_backward(x, w, dy, stride, padding),
                             ref.conv2d_backward(x, w, dy, stride, padding)):
            close(got, want, dtype, longest)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kc", [1, 2, 7, 256])
def test_numba_micro_kernel_matches_its_reference(dtype, kc):
    from minigrad.backend.numba import microkernel as mk
    nr = mk.panel_width(np.empty(0, dtype))
    a = R.standard_normal(kc * mk.MR).astype(dtype)
    b = R.standard_normal(kc * nr).astype(dtype)
    # A tile in the middle of a wider c (offset 3 rows and 5 columns in), on c's values.
    ldc = nr + 9
    c = R.standard_normal((mk.MR + 5) * ldc).astype(dtype)
    got, want = c.copy(), c.copy()
    _call_tile_product()(kc, a, b, got, 3 * ldc + 5, ldc, True)
    mk._tile_product_reference(kc, a, b, want, 3 * ldc + 5, ldc, True)
    close(got, want, dtype, kc)
    untouched = np.ones(c.shape, bool)
    for r in range(mk.MR):
        untouched[(3 + r) * ldc + 5:(3 + r) * ldc + 5 + nr] = False
    overwritten = c.copy()
    _call_tile_product()(kc, a, b, overwritten, 3 * ldc + 5, ldc, False)
    close(overwritten[~untouched], (want - c)[~untouched], dtype, kc)
    assert np.array_equal(overwritten[untouched], c[untouched])
    assert np.array_equal(got[untouched], c[untouched])


def _call_tile_product():
    """tile_product callable from Python: an intrinsic is called from jitted code only."""
    import numba
    from minigrad.backend.numba import microkernel as mk
    if numba.config.DISABLE_JIT:
        return mk.tile_product
    return numba.njit(lambda kc, a, b, c, offset, ldc, add: mk.tile_product(kc, a, b, c,
                                                                           offset, ldc, add))


def test_numba_gemm_micro_kernel_compiles_to_fma_vectors():
    numba = pytest.importorskip("numba")
    if numba.config.DISABLE_JIT:
        pytest.skip("NUMBA_DISABLE_JIT: nothing is compiled")
    from minigrad.backend.numba import microkernel as mk
    import llvmlite.binding as llvm
    if mk.VECTOR_BYTES == 32 and numba.config.CPU_NAME is None and \
            not llvm.get_host_cpu_features().get("fma"):
        pytest.skip("the host CPU has no FMA")
    register = {64: "zmm", 32: "ymm"}[mk.VECTOR_BYTES]
    # A fresh (uncached) compile: Numba cannot show the code of a cached function.
    kernel = _call_tile_product()
    f32 = np.float32
    nr = mk.panel_width(np.zeros(1, f32))
    kernel(8, np.ones(8 * mk.MR, f32), np.ones(8 * nr, f32), np.zeros(mk.MR * nr, f32), 0,
           nr, True)
    asm = next(iter(kernel.inspect_asm().values()))
    fmas = re.findall(r"vfmadd\d+ps\s+[^\n]*", asm)
    assert len(fmas) >= 2 * mk.MR and all(register in f for f in fmas), \
        f"the micro-kernel's products are not FMAs on {register} registers"
    # Spilled accumulators would show as FMAs reading or writing the stack.
    assert not any("rsp" in f for f in fmas), "accumulators spilled to the stack"


@pytest.mark.slow
def test_numba_gemm_on_an_avx2_target(tmp_path):
    """This file again with Numba compiling for an AVX2 CPU (Haswell): the 6 x 2-ymm
    tile the micro-kernel takes there, on any host that can run AVX2 code."""
    import subprocess
    import sys
    llvm = pytest.importorskip("llvmlite.binding")
    if not llvm.get_host_cpu_features().get("avx2"):
        pytest.skip("the host cannot run AVX2 code")
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "not slow", __file__], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
