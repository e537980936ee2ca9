"""Matrix products on the backend GEMM: MatMul (numpy @ semantics), Linear (x @ W.T + b
with W stored (out, in), through the transpose flag, never a copy) and LinearReLU."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..errors import ShapeError


def _operand(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """A contiguous array and a transpose flag: a transposed view of a contiguous
    matrix goes to the GEMM as its base with the flag set instead of being copied."""
    if a.flags.c_contiguous:
        return a, False
    t = np.swapaxes(a, -1, -2)
    if t.flags.c_contiguous:
        return t, True
    return np.ascontiguousarray(a), False


def gemm(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
         trans_b: bool = False) -> np.ndarray:
    """op(a) @ op(b) on the backend for 2-d or 3-d (batched) operands."""
    a2, ta = _operand(a)
    b2, tb = _operand(b)
    return backend.current().matmul(a2, b2, trans_a ^ ta, trans_b ^ tb)


class MatMul(Function):
    """a @ b with numpy's rules: 1-d operands are promoted, batch axes broadcast."""

    def forward(self, ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must be at least 1-d, got a{a.shape} @ "
                             f"b{b.shape}; use * for scalars")
        ka, kb = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ShapeError(f"matmul: inner dimensions differ, got a{a.shape} @ b{b.shape}")
        ctx.save(a, b)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        y = _batched(a2, b2)
        if a.ndim == 1:
            y = y[..., 0, :]
        if b.ndim == 1:
            y = y[..., 0]
        return y

    rule = "da = dy @ b^T, db = a^T @ dy"

    def backward(self, ctx, dy):
        a, b = ctx.saved
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        dy2 = dy  # restore the axes forward dropped for 1-d operands (b's first)
        if b.ndim == 1:
            dy2 = np.expand_dims(dy2, -1)
        if a.ndim == 1:
            dy2 = np.expand_dims(dy2, -2)
        da = db = None
        if ctx.needs_input_grad[0]:
            da = _batched(dy2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                da = da[..., 0, :]  # the engine sums any batch axes away
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:  # shared b: one GEMM over all the rows
                db = gemm(a2.reshape(-1, a2.shape[-1]), dy2.reshape(-1, dy2.shape[-1]),
                          trans_a=True)
            else:
                db = _batched(np.swapaxes(a2, -1, -2), dy2)
            if b.ndim == 1:
                db = db[..., 0]
        return da, db


def _batched(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (..., M, K) @ b (..., K, N) through 2-d or 3-d GEMM calls."""
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b)
    if b.ndim == 2:  # rows of every batch entry share b: fold them into one GEMM
        y = gemm(np.ascontiguousarray(a).reshape(-1, a.shape[-1]), b)
        return y.reshape(*a.shape[:-1], b.shape[-1])
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape(-1, *a.shape[-2:])
    b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape(-1, *b.shape[-2:])
    y = gemm(a3, b3)
    return y.reshape(*batch, a.shape[-2], b.shape[-1])


class Linear(Function):
    """y = x @ w.T + b; x: (..., in), w: (out, in), b: (out,) or None.
    Raises ValueError when the features or the bias do not match w."""

    relu = False  # LinearReLU: the bias and the ReLU in one pass over the product
    fresh_grads = True  # dx, dW (GEMM outputs) and db (a sum) are new arrays

    def forward(self, ctx, x, w, b=None):
        if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
            raise ShapeError(f"linear: weight expects {w.shape[1] if w.ndim == 2 else '?'}"
                             f" input features, got x{x.shape}, w{w.shape}")
        if b is not None and b.shape != (w.shape[0],):
            raise ShapeError(f"linear: bias must have shape ({w.shape[0]},), got "
                             f"b{b.shape}")
        x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
        y = gemm(x2, w, trans_b=True)
        if self.relu:
            backend.current().bias_relu_forward(y, b)
            ctx.save(x2, w, y)
        else:
            if b is not None:
                y += b
            ctx.save(x2, w)
        ctx.shape = x.shape
        return y.reshape(*x.shape[:-1], w.shape[0])

    rule = "dx = dy @ W, dW = dy^T @ x, db = sum_rows(dy)"

    def backward(self, ctx, dy):
        x2, w = ctx.saved[:2]
        dy2 = np.ascontiguousarray(dy).reshape(-1, w.shape[0])
        need_db = len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]
        if self.relu:
            dy2, db = backend.current().bias_relu_backward(dy2, ctx.saved[2], need_db)
        else:
            db = dy2.sum(axis=0) if need_db else None
        dx = gemm(dy2, w).reshape(ctx.shape) if ctx.needs_input_grad[0] else None
        dw = gemm(dy2, x2, trans_a=True) if ctx.needs_input_grad[1] else None
        return dx, dw, db


class LinearReLU(Linear):
    """y = relu(x @ w.T + b), fused: the bias and the ReLU are one pass over the GEMM's
    output (backend.bias_relu_forward), the ReLU mask and the bias gradient one pass
    over dy, instead of the two or three passes of Linear then Relu."""

    rule = "dz = dy * [y > 0], dx = dz @ W, dW = dz^T @ x, db = sum_rows(dz)"
    relu = True
