"""The C backend: thin cffi wrappers over minigrad._C (csrc/). Contracts in
``interface.py``.

Each wrapper checks dtypes and shapes with ``_check`` (the same errors as the numpy
reference), makes operands C-contiguous (a transposed matrix goes to the GEMM as its
base plus a transpose flag instead of being copied), allocates the outputs, passes
``ffi.from_buffer`` pointers and raises on the kernels' error codes, so nothing from
Python can reach the C code malformed. Empty operands, where there is nothing to
compute, are answered by the numpy reference.
"""
from __future__ import annotations

import numpy as np

from .. import _C  # ImportError here makes the registry fall back, with one warning
from . import numpy_ref
from .winograd_ref import DEFAULT_TILE
from ._check import (_pair, check_avgpool2d_backward, check_batchnorm,
                     check_batchnorm_backward, check_bias_relu, check_conv2d,
                     check_conv2d_backward, check_conv2d_winograd,
                     check_conv2d_winograd_backward_weight, check_matmul,
                     check_maxpool2d_backward, check_pool, conv_out_shape, pool_out_shape)

ffi, lib = _C.ffi, _C.lib

# Reserve this thread's GEMM packing buffers when the backend loads, so the first
# products of a process run at full speed instead of page-faulting (the pool's workers
# start on the first threaded kernel and reserve theirs then; none start here).
if lib.mg_warmup() != 0:
    raise ImportError("minigrad._C: cannot reserve the GEMM workspaces (out of memory)")


def set_num_threads(n: int) -> None:
    """Threads of the C kernels (every later call in this process)."""
    lib.mg_set_num_threads(int(n))


def get_num_threads() -> int:
    return int(lib.mg_num_threads())


def release_workspaces() -> None:
    """Unmap the C kernels' scratch buffers (im2col matrices, packed GEMM panels,
    padded images) of the calling thread and of the pool's workers. A thread's buffers
    are also released when it exits; the next kernel call maps them again."""
    lib.mg_release_workspaces()


# cffi types resolved once: from_buffer with a type object is the cheapest pointer.
_CTYPES = {np.dtype(t): ffi.typeof(c) for t, c in ((np.float32, "float[]"),
                                                   (np.float64, "double[]"),
                                                   (np.int64, "int64_t[]"))}
_from_buffer = ffi.from_buffer


def _ptr(a: np.ndarray | None):
    return ffi.NULL if a is None else _from_buffer(_CTYPES[a.dtype], a)


def _fn(name: str, dtype: np.dtype):
    return getattr(lib, f"mg_{name}_{'f32' if dtype == np.float32 else 'f64'}")


def _raise(op: str, code: int, what: str) -> None:
    # The hot wrappers call this only when code != 0: formatting the shapes of
    # ``what`` costs ~2 us, more than the rest of a small kernel's wrapper.
    if code == -2:
        raise MemoryError(f"{op}: C kernel out of memory ({what})")
    if code != 0:
        raise ValueError(f"{op}: C kernel rejected the arguments ({what}), code {code}")


def _c(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(a)


def _gemm_operand(a: np.ndarray, trans: bool) -> tuple[np.ndarray, bool, int, int]:
    """(array, transpose flag, row stride, batch stride) without copying a matrix that
    is a transposed view of a contiguous one."""
    if not a.flags.c_contiguous:
        t = np.swapaxes(a, -1, -2)
        a, trans = (t, not trans) if t.flags.c_contiguous else (np.ascontiguousarray(a), trans)
    batch_stride = a.shape[-1] * a.shape[-2] if a.ndim == 3 else 0
    return a, trans, a.shape[-1], batch_stride


_GEMM = {np.dtype(np.float32): lib.mg_gemm_batch_f32, np.dtype(np.float64):
         lib.mg_gemm_batch_f64}


def matmul(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b): a (M, K) or (K, M) when trans_a, b (K, N) or (N, K) when trans_b;
    3-d operands are batched, a 2-d one is shared. Returns c (M, N) or (B, M, N)."""
    # The common case (two contiguous matrices of one float dtype) is checked inline:
    # at n = 128 the full check would cost a tenth of the product. Anything else, and
    # every error, goes through check_matmul.
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 == b.ndim
            and a.dtype is b.dtype and a.dtype in _GEMM and a.flags.c_contiguous
            and b.flags.c_contiguous):
        (m, k), (kb, n) = a.shape[::-1] if trans_a else a.shape, \
            b.shape[::-1] if trans_b else b.shape
        if k == kb and m and n and k:
            out, ct = np.empty((m, n), dtype=a.dtype), _CTYPES[a.dtype]
            code = _GEMM[a.dtype](trans_a, trans_b, 1, m, n, k, 1.0, _from_buffer(ct, a),
                                  a.shape[1], 0, _from_buffer(ct, b), b.shape[1], 0, 0.0,
                                  _from_buffer(ct, out), n, 0)
            if code:
                _raise("matmul", code, f"a{a.shape}, b{b.shape}")
            return out
    m, n, k = check_matmul(a, b, trans_a, trans_b)
    # the 3-d operand's batch, even 0 (check_matmul made two 3-d batches equal)
    batch = a.shape[0] if a.ndim == 3 else (b.shape[0] if b.ndim == 3 else 1)
    shape = (batch, m, n) if max(a.ndim, b.ndim) == 3 else (m, n)
    if 0 in (m, n, k, batch):
        return np.zeros(shape, dtype=a.dtype)
    a, ta, lda, sa = _gemm_operand(a, trans_a)
    b, tb, ldb, sb = _gemm_operand(b, trans_b)
    out = np.empty(shape, dtype=a.dtype)
    code = _GEMM[a.dtype](ta, tb, batch, m, n, k, 1.0, _ptr(a), lda, sa, _ptr(b), ldb, sb,
                          0.0, _ptr(out), n, m * n)
    if code:
        _raise("matmul", code, f"a{a.shape}, b{b.shape}")
    return out


def _conv_args(x, w, stride, padding) -> tuple:
    (sh, sw), (ph, pw) = _pair("conv2d", "stride", stride), _pair("conv2d", "padding",
                                                                    padding)
    return (*x.shape, w.shape[0], *w.shape[2:], sh, sw, ph, pw)


def conv2d_forward(x, w, b, stride, padding):
    """y (N, F, OH, OW) = conv of x (N, C, H, W) with w (F, C, KH, KW) plus b (F,)."""
    check_conv2d(x, w, b, stride, padding)
    if x.size == 0 or w.size == 0:
        return numpy_ref.conv2d_forward(x, w, b, stride, padding)
    x, w, b = _c(x), _c(w), _c(b)
    args = _conv_args(x, w, stride, padding)
    oh, ow = conv_out_shape(x.shape, w.shape, args[-4:-2], args[-2:])
    y = np.empty((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    code = _fn("conv2d_forward", x.dtype)(_ptr(x), _ptr(w), _ptr(b), _ptr(y), *args)
    _raise("conv2d_forward", code, f"x{x.shape}, w{w.shape}")
    return y


def conv2d_winograd_forward(x, w, b, padding, relu=False, tile=DEFAULT_TILE):
    """y (N, F, OH, OW) = conv of x (N, C, H, W) with w (F, C, 3, 3) plus b (F,) at stride
    1 by Winograd F(tile x tile, 3x3) (csrc/winograd.c), then ReLU when relu."""
    ph, pw = check_conv2d_winograd(x, w, b, padding, tile)
    if x.size == 0 or w.size == 0:
        return numpy_ref.conv2d_winograd_forward(x, w, b, padding, relu, tile)
    x, w, b = _c(x), _c(w), _c(b)
    n, c, h, wd = x.shape
    y = np.empty((n, w.shape[0], h + 2 * ph - 2, wd + 2 * pw - 2), dtype=x.dtype)
    code = _fn("conv2d_winograd_forward", x.dtype)(_ptr(x), _ptr(w), _ptr(b), _ptr(y), n, c,
                                                   h, wd, w.shape[0], ph, pw, int(relu), tile)
    _raise("conv2d_winograd_forward", code, f"x{x.shape}, w{w.shape}")
    return y


def conv2d_winograd_backward_weight(x, dy, padding, tile=DEFAULT_TILE):
    """dw (F, C, 3, 3) of the 3x3 stride-1 conv of x (N, C, H, W) for upstream dy
    (N, F, OH, OW), by Winograd F(tile x tile, 3x3) (csrc/winograd.c)."""
    ph, pw = check_conv2d_winograd_backward_weight(x, dy, padding, tile)
    if x.size == 0 or dy.size == 0:
        return numpy_ref.conv2d_winograd_backward_weight(x, dy, padding, tile)
    x, dy = _c(x), _c(dy)
    n, c, h, wd = x.shape
    dw = np.empty((dy.shape[1], c, 3, 3), dtype=x.dtype)
    code = _fn("conv2d_winograd_backward_weight", x.dtype)(_ptr(x), _ptr(dy), _ptr(dw), n, c,
                                                           h, wd, dy.shape[1], ph, pw, tile)
    _raise("conv2d_winograd_backward_weight", code, f"x{x.shape}, dy{dy.shape}")
    return dw


def conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True,
                    need_db=True):
    """(dx, dw, db) of conv2d for upstream dy (N, F, OH, OW); None where not needed."""
    check_conv2d_backward(x, w, dy, stride, padding)
    args = _conv_args(x, w, stride, padding)
    if x.size == 0 or w.size == 0:
        return numpy_ref.conv2d_backward(x, w, dy, args[-4:-2], args[-2:], need_dx,
                                         need_dw, need_db)
    x, w, dy = _c(x), _c(w), _c(dy)
    dx = np.empty_like(x) if need_dx else None
    dw = np.empty_like(w) if need_dw else None
    db = np.empty(w.shape[0], dtype=x.dtype) if need_db else None
    code = _fn("conv2d_backward", x.dtype)(_ptr(x), _ptr(w), _ptr(dy), _ptr(dx), _ptr(dw),
                                           _ptr(db), *args)
    _raise("conv2d_backward", code, f"x{x.shape}, w{w.shape}, dy{dy.shape}")
    return dx, dw, db


def maxpool2d_forward(x, kernel, stride):
    """(y, argmax) of max-pooling x (N, C, H, W); argmax int64 flat h * W + w."""
    check_pool("maxpool2d", x, kernel, stride)
    (kh, kw), (sh, sw) = _pair("maxpool2d", "kernel_size", kernel), _pair("pool", "stride", stride)
    if x.size == 0:
        return numpy_ref.maxpool2d_forward(x, (kh, kw), (sh, sw))
    x = _c(x)
    shape = (*x.shape[:2], *pool_out_shape(x.shape, (kh, kw), (sh, sw)))
    y, argmax = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    code = _fn("maxpool2d_forward", x.dtype)(_ptr(x), _ptr(y), _ptr(argmax), *x.shape,
                                             kh, kw, sh, sw)
    _raise("maxpool2d_forward", code, f"x{x.shape}")
    return y, argmax


def maxpool2d_backward(dy, argmax, x_shape):
    """dx of x_shape: zeros with dy (N, C, OH, OW) accumulated at argmax."""
    shape = check_maxpool2d_backward(dy, argmax, x_shape)
    if dy.size == 0 or 0 in shape:
        return np.zeros(shape, dtype=dy.dtype)
    dy, argmax = _c(dy), _c(argmax)
    dx = np.empty(shape, dtype=dy.dtype)
    code = _fn("maxpool2d_backward", dy.dtype)(_ptr(dy), _ptr(argmax), _ptr(dx), *shape,
                                               *dy.shape[2:])
    _raise("maxpool2d_backward", code, f"argmax outside the {shape[2]}x{shape[3]} plane")
    return dx


def avgpool2d_forward(x, kernel, stride):
    """y (N, C, OH, OW): the mean of each window of x (N, C, H, W)."""
    check_pool("avgpool2d", x, kernel, stride)
    (kh, kw), (sh, sw) = _pair("avgpool2d", "kernel_size", kernel), _pair("pool", "stride", stride)
    if x.size == 0:
        return numpy_ref.avgpool2d_forward(x, (kh, kw), (sh, sw))
    x = _c(x)
    y = np.empty((*x.shape[:2], *pool_out_shape(x.shape, (kh, kw), (sh, sw))), x.dtype)
    code = _fn("avgpool2d_forward", x.dtype)(_ptr(x), _ptr(y), *x.shape, kh, kw, sh, sw)
    _raise("avgpool2d_forward", code, f"x{x.shape}")
    return y


def avgpool2d_backward(dy, x_shape, kernel, stride):
    """dx of x_shape: each dy / (KH * KW) spread over its window."""
    shape, (kh, kw), (sh, sw) = check_avgpool2d_backward(dy, x_shape, kernel, stride)
    if dy.size == 0:
        return np.zeros(shape, dtype=dy.dtype)
    dy, dx = _c(dy), np.empty(shape, dtype=dy.dtype)
    code = _fn("avgpool2d_backward", dy.dtype)(_ptr(dy), _ptr(dx), *shape, kh, kw, sh, sw)
    _raise("avgpool2d_backward", code, f"dy{dy.shape}")
    return dx


def _ncs(x: np.ndarray) -> tuple[int, int, int]:
    return x.shape[0], x.shape[1], (x.shape[2] * x.shape[3] if x.ndim == 4 else 1)


def _inplace(a: np.ndarray, dtype) -> np.ndarray:
    """a itself when C can update it in place, else a contiguous copy of dtype."""
    ok = a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    return a if ok else np.ascontiguousarray(a, dtype=dtype)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum,
                      eps):
    """(y, mean, invstd) of batch norm over x (N, C) or (N, C, H, W); in training the
    running statistics (C,) are updated in place."""
    check_batchnorm(x, gamma, beta, running_mean, running_var)
    n, c, s = _ncs(x)
    if training and n * s < 2:
        raise ValueError(f"batchnorm: training needs more than one value per channel, "
                         f"got x{x.shape}")
    if x.size == 0:
        return numpy_ref.batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                           training, momentum, eps)
    x, gamma, beta = _c(x), _c(gamma), _c(beta)
    rm, rv = _inplace(running_mean, x.dtype), _inplace(running_var, x.dtype)
    y, mean, invstd = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
    code = _fn("batchnorm_forward", x.dtype)(
        _ptr(x), _ptr(gamma), _ptr(beta), _ptr(rm), _ptr(rv), int(bool(training)),
        float(momentum), float(eps), _ptr(y), _ptr(mean), _ptr(invstd), n, c, s)
    if code:
        _raise("batchnorm_forward", code, f"x{x.shape}, eps {eps}")
    for given, used in ((running_mean, rm), (running_var, rv)):
        if used is not given:
            given[...] = used
    return y, mean, invstd


def batchnorm_backward(dy, x, gamma, mean, invstd, training):
    """(dx, dgamma, dbeta) of batch norm; through the batch statistics when training."""
    check_batchnorm_backward(dy, x, gamma, mean, invstd)
    if x.size == 0:
        return numpy_ref.batchnorm_backward(dy, x, gamma, mean, invstd, training)
    dy, x, gamma, mean, invstd = map(_c, (dy, x, gamma, mean, invstd))
    dx, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    code = _fn("batchnorm_backward", x.dtype)(
        _ptr(dy), _ptr(x), _ptr(gamma), _ptr(mean), _ptr(invstd), int(bool(training)),
        _ptr(dx), _ptr(dgamma), _ptr(dbeta), *_ncs(x))
    if code:
        _raise("batchnorm_backward", code, f"x{x.shape}")
    return dx, dgamma, dbeta


def _rows(z, *others) -> bool:
    """z a C-contiguous float matrix (N, F) and each of others None or a C-contiguous
    array of z's dtype: a Linear layer's epilogue, whose full check (check_bias_relu)
    would cost as much as the pass itself at batch 128."""
    return (type(z) is np.ndarray and z.ndim == 2 and z.dtype in _GEMM
            and z.flags.c_contiguous and all(
                a is None or (type(a) is np.ndarray and a.dtype is z.dtype
                              and a.flags.c_contiguous) for a in others))


def bias_relu_forward(z, b):
    """z (N, F, ...) overwritten with relu(z + b[f]) and returned (b (F,) or None)."""
    if _rows(z, b) and z.flags.writeable and (b is None or b.shape == z.shape[1:]):
        (n, f), s = z.shape, 1
    else:
        n, f, s = check_bias_relu("bias_relu_forward", z, b, inplace=True)
    code = _fn("bias_relu_forward", z.dtype)(_ptr(z), _ptr(_c(b)), n, f, s)
    if code:
        _raise("bias_relu_forward", code, f"z{z.shape}")
    return z


def bias_relu_backward(dy, y, need_db=True):
    """(dz, db): dz = dy * (y > 0), db (F,) its sum over all axes but 1 (or None)."""
    if _rows(dy, y) and y.shape == dy.shape:
        (n, f), s = dy.shape, 1
    else:
        n, f, s = check_bias_relu("bias_relu_backward", dy, y=y)
        dy, y = _c(dy), _c(y)
    dz = np.empty_like(dy)
    db = np.empty(f, dtype=dy.dtype) if need_db else None
    code = _fn("bias_relu_backward", dy.dtype)(_ptr(dy), _ptr(y), _ptr(dz), _ptr(db), n, f,
                                               s)
    if code:
        _raise("bias_relu_backward", code, f"dy{dy.shape}")
    return dz, db
