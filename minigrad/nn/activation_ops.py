"""The activation primitives of mg.nn.functional whose composites would be unstable or
slow, each a Function with forward and backward side by side."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..ops.elementwise import stable_sigmoid
from ..ops.unary import erf

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class LeakyRelu(Function):
    """x if x > 0 else slope * x; slope is a number or an array broadcasting to x
    (RReLU's per-element random slopes)."""

    def forward(self, ctx, x, slope=0.01):
        slope = np.asarray(slope, dtype=x.dtype)
        pos = x > 0
        ctx.save(pos, slope)
        return np.where(pos, x, x * slope)

    rule = "dx = dy * (1 if x > 0 else slope)"

    def backward(self, ctx, dy):
        pos, slope = ctx.saved
        return np.where(pos, dy, dy * slope)


class PRelu(Function):
    """x if x > 0 else a * x with a learned slope a broadcasting to x."""

    def forward(self, ctx, x, a):
        pos = x > 0
        ctx.save(x, a, pos)
        return np.where(pos, x, a * x)

    rule = "dx = dy * (1 if x > 0 else a), da = sum(dy * x where x <= 0)"

    def backward(self, ctx, dy):
        x, a, pos = ctx.saved
        dx = np.where(pos, dy, a * dy) if ctx.needs_input_grad[0] else None
        da = np.where(pos, 0, x * dy) if ctx.needs_input_grad[1] else None
        return dx, da


class Elu(Function):
    """scale * (x if x > 0 else alpha * (e^x - 1)); expm1 of min(x, 0) never overflows."""

    def forward(self, ctx, x, alpha=1.0, scale=1.0):
        pos = x > 0
        neg = alpha * np.expm1(np.minimum(x, 0))
        ctx.save(pos, neg)
        ctx.alpha, ctx.scale = alpha, scale
        return (scale * np.where(pos, x, neg)).astype(x.dtype, copy=False)

    rule = "dx = dy * scale * (1 if x > 0 else alpha * e^x)  (SELU: fixed alpha, scale)"

    def backward(self, ctx, dy):
        pos, neg = ctx.saved
        return ctx.scale * dy * np.where(pos, 1.0, neg + ctx.alpha).astype(dy.dtype)


class Gelu(Function):
    """x * Phi(x) (approximate="none") or its tanh approximation (Hendrycks & Gimpel)."""

    def forward(self, ctx, x, approximate="none"):
        # Beyond |x| = 20 both forms have saturated (tanh = +-1, Phi = 0 or 1, the pdf
        # underflows to 0); clipping there keeps x**3 and x*x from overflowing.
        xc = np.clip(x, -20, 20)
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (xc + 0.044715 * xc ** 3))
            ctx.save(xc, t)
            ctx.approximate = "tanh"
            return (0.5 * x * (1 + t)).astype(x.dtype, copy=False)
        # in float64: 1 + erf cancels for x << 0, which float32 would round away
        cdf = 0.5 * (1 + erf(x.astype(np.float64) / math.sqrt(2.0)))
        ctx.save(xc, cdf)
        ctx.approximate = "none"
        return (x * cdf).astype(x.dtype, copy=False)

    rule = "dx = dy * (Phi(x) + x * phi(x))  (tanh form: its derivative)"

    def backward(self, ctx, dy):
        xc, s = ctx.saved  # x clipped to [-20, 20]: the terms below vanish beyond
        if ctx.approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * xc * xc)
            g = 0.5 * (1 + s) + 0.5 * xc * (1 - s * s) * inner
        else:
            g = s + xc * np.exp(-0.5 * xc * xc) / math.sqrt(2 * math.pi)
        return (dy * g).astype(dy.dtype, copy=False)


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, linear where beta x > threshold (as PyTorch)."""

    def forward(self, ctx, x, beta=1.0, threshold=20.0):
        z = beta * x
        linear = z > threshold
        ctx.save(z, linear)
        return np.where(linear, x, np.logaddexp(0, z) / beta).astype(x.dtype, copy=False)

    rule = "dx = dy * sigmoid(beta * x)"

    def backward(self, ctx, dy):
        z, linear = ctx.saved
        return np.where(linear, dy, dy * stable_sigmoid(z))


class Softmax(Function):
    """e^x / sum e^x along axis, shifted by the max so exp never overflows."""

    def forward(self, ctx, x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        y = e / e.sum(axis=axis, keepdims=True)
        ctx.save(y)
        ctx.axis = axis
        return y

    rule = "dx = y * (dy - sum(dy * y))"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return y * (dy - (dy * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along axis; backward dy - softmax * sum(dy)."""

    def forward(self, ctx, x, axis=-1):
        z = x - x.max(axis=axis, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        ctx.save(y)
        ctx.axis = axis
        return y

    rule = "dx = dy - softmax(x) * sum(dy)"

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy - np.exp(y) * dy.sum(axis=ctx.axis, keepdims=True)
