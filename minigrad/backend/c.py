"""The C backend: thin cffi wrappers over minigrad._C. Each wrapper checks dtypes and
shapes, makes operands contiguous, allocates the output and raises on error codes, so
nothing from Python can reach the C code malformed."""
from __future__ import annotations

import numpy as np

from .. import _C  # ImportError here makes the registry fall back, with one warning
from ._check import check_matmul

ffi, lib = _C.ffi, _C.lib
_ERRORS = {-1: "invalid sizes or strides", -2: "out of memory"}


def _ptr(a: np.ndarray):
    return ffi.from_buffer("float[]" if a.dtype == np.float32 else "double[]", a,
                           require_writable=False)


def _raise(op: str, code: int) -> None:
    if code != 0:
        raise RuntimeError(f"{op}: C kernel failed ({_ERRORS.get(code, code)})")


def _gemm2d(a, b, trans_a, trans_b, out):
    m, n, k = out.shape[0], out.shape[1], a.shape[0] if trans_a else a.shape[1]
    gemm = lib.mg_gemm_f32 if a.dtype == np.float32 else lib.mg_gemm_f64
    code = gemm(int(trans_a), int(trans_b), m, n, k, 1.0, _ptr(a), a.shape[1],
                _ptr(b), b.shape[1], 0.0, _ptr(out), n)
    _raise("matmul", code)


def matmul(a, b, trans_a=False, trans_b=False):
    m, n, _ = check_matmul(a, b, trans_a, trans_b)
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    if a.ndim == 2 and b.ndim == 2:
        out = np.empty((m, n), dtype=a.dtype)
        _gemm2d(a, b, trans_a, trans_b, out)
        return out
    out = np.empty((batch, m, n), dtype=a.dtype)
    for i in range(batch):
        _gemm2d(a[i] if a.ndim == 3 else a, b[i] if b.ndim == 3 else b,
                trans_a, trans_b, out[i])
    return out
