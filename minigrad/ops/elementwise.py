"""Elementwise primitives, each with its backward right below its forward.

Binary ops broadcast as numpy does; the engine sums their gradients back to each
input's shape, so backward here returns full-size gradients (``broadcasts = True``
tells explain_backward that such a sum is the engine's, and over which axes).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class Add(Function):
    broadcasts = True
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, a, b):
        return a + b

    rule = "da = dy, db = dy"

    def backward(self, ctx, dy):
        return dy, dy


class Sub(Function):
    broadcasts = True
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, a, b):
        return a - b

    rule = "da = dy, db = -dy"

    def backward(self, ctx, dy):
        return dy, -dy


class Mul(Function):
    broadcasts = True

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a * b

    rule = "da = dy * b, db = dy * a"

    def backward(self, ctx, dy):
        a, b = ctx.saved
        da = dy * b if ctx.needs_input_grad[0] else None
        db = dy * a if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    broadcasts = True

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return a / b

    rule = "da = dy / b, db = -dy * a / b^2"

    def backward(self, ctx, dy):
        a, b = ctx.saved
        da = dy / b if ctx.needs_input_grad[0] else None
        db = -dy * a / (b * b) if ctx.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    saved_inputs = ()  # backward needs only shapes

    def forward(self, ctx, x):
        return -x

    rule = "dx = -dy"

    def backward(self, ctx, dy):
        return -dy


class Pow(Function):
    """x ** p for a tensor base and a tensor (often 0-d constant) exponent."""

    broadcasts = True

    def forward(self, ctx, x, p):
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as torch
            y = np.power(x, p)
        ctx.save(x, p, y)
        return y

    rule = "dx = dy * p * x^(p-1), dp = dy * y * log(x)"

    def backward(self, ctx, dy):
        x, p, y = ctx.saved
        dx = dp = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                # p == 0 gives 0, not 0 * x^-1 = NaN at x == 0 (as PyTorch)
                dx = dy * np.where(p == 0, 0.0, p * np.power(x, p - 1))
            if ctx.needs_input_grad[1]:
                # d(x^p)/dp = x^p log x; PyTorch defines it as 0 at x == 0 only for
                # p >= 0, and lets a negative exponent give inf * -inf = -inf there.
                dp = dy * np.where((x == 0) & (p >= 0), 0.0, y * np.log(x))
        return dx, dp


class Exp(Function):
    saved_inputs = ()  # backward reads its output, not the input

    def forward(self, ctx, x):
        y = np.exp(x)
        ctx.save(y)
        return y

    rule = "dx = dy * y  (y = e^x)"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy * y


class Log(Function):
    def forward(self, ctx, x):
        ctx.save(x)
        return np.log(x)

    rule = "dx = dy / x"

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy / x


class Sqrt(Function):
    saved_inputs = ()  # backward reads its output, not the input

    def forward(self, ctx, x):
        y = np.sqrt(x)
        ctx.save(y)
        return y

    rule = "dx = dy / (2y)"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy / (2 * y)


class Abs(Function):
    def forward(self, ctx, x):
        ctx.save(x)
        return np.abs(x)

    rule = "dx = dy * sign(x)"

    def backward(self, ctx, dy):
        (x,) = ctx.saved
        return dy * np.sign(x)


class Tanh(Function):
    saved_inputs = ()  # backward reads its output, not the input

    def forward(self, ctx, x):
        y = np.tanh(x)
        ctx.save(y)            # reusing the output is cheaper and stable
        return y

    rule = "dx = dy * (1 - y^2)"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy * (1 - y * y)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow: only e^-|x| is ever computed."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    saved_inputs = ()  # backward reads its output, not the input

    def forward(self, ctx, x):
        y = stable_sigmoid(x)
        ctx.save(y)
        return y

    rule = "dx = dy * y * (1 - y)"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy * y * (1 - y)


class Relu(Function):
    saved_inputs = ()  # backward reads its output, not the input

    def forward(self, ctx, x):
        y = np.maximum(x, 0)
        ctx.save(y)
        return y

    rule = "dx = dy * [y > 0]"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy * (y > 0)


class Maximum(Function):
    """Elementwise max; at ties each input gets half the gradient (as PyTorch)."""

    broadcasts = True

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return np.maximum(a, b)

    rule = "da = dy * [a >= b], db = dy * [b >= a] (ties split)"

    def backward(self, ctx, dy):
        a, b = ctx.saved
        share = np.where(a == b, 0.5, 1.0).astype(dy.dtype)
        return dy * share * (a >= b), dy * share * (b >= a)


class Minimum(Function):
    broadcasts = True

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return np.minimum(a, b)

    rule = "da = dy * [a <= b], db = dy * [b <= a] (ties split)"

    def backward(self, ctx, dy):
        a, b = ctx.saved
        share = np.where(a == b, 0.5, 1.0).astype(dy.dtype)
        return dy * share * (a <= b), dy * share * (b <= a)


class Where(Function):
    """cond ? a : b; cond is a boolean array and gets no gradient."""

    broadcasts = True
    saved_inputs = (0,)  # backward reads cond only

    def forward(self, ctx, cond, a, b):
        cond = np.asarray(cond, dtype=bool)
        ctx.save(cond)
        return np.where(cond, a, b)

    rule = "da = dy * [cond], db = dy * [not cond]"

    def backward(self, ctx, dy):
        (cond,) = ctx.saved
        return None, np.where(cond, dy, 0), np.where(cond, 0, dy)


class Clip(Function):
    """Clamp to [low, high] (either may be None, not both: ValueError, as PyTorch);
    gradient flows where x is inside."""

    def forward(self, ctx, x, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clip: at least one of low (min) and high (max) must not "
                             "be None")
        ctx.save(x, low, high)
        return np.clip(x, low, high)

    rule = "dx = dy * [low <= x <= high]"

    def backward(self, ctx, dy):
        x, low, high = ctx.saved
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return dy * inside
