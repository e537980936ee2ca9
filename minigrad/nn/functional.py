"""mg.nn.functional: activations, linear/conv/pool/batch-norm/dropout and the losses.

Activations that composing existing ops would make unstable or slow are primitives
here (forward and backward side by side); the rest are composites. Every activation
stays finite in value and gradient at |x| = 50 and beyond.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import ops
from ..autograd import Function
from ..errors import ShapeError
from ..ops.elementwise import stable_sigmoid
from ..random import get_rng
from ..tensor import Tensor, as_tensor
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                     cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ----- primitives -----------------------------------------------------------------
class LeakyRelu(Function):
    """x if x > 0 else slope * x; slope is a number or an array broadcasting to x
    (RReLU's per-element random slopes)."""

    def forward(self, ctx, x, slope=0.01):
        slope = np.asarray(slope, dtype=x.dtype)
        pos = x > 0
        ctx.save(pos, slope)
        return np.where(pos, x, x * slope)

    def backward(self, ctx, dy):
        pos, slope = ctx.saved
        return np.where(pos, dy, dy * slope)


class PRelu(Function):
    """x if x > 0 else a * x with a learned slope a broadcasting to x."""

    def forward(self, ctx, x, a):
        pos = x > 0
        ctx.save(x, a, pos)
        return np.where(pos, x, a * x)

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

    def backward(self, ctx, dy):
        pos, neg = ctx.saved
        return ctx.scale * dy * np.where(pos, 1.0, neg + ctx.alpha).astype(dy.dtype)


@functools.lru_cache(maxsize=1)
def _erf_ufunc():
    """erf as a ufunc: math.erf compiled by Numba (numpy has none), or vectorized
    math.erf when Numba is missing (exact, slower)."""
    try:
        import numba

        @numba.vectorize(["float32(float32)", "float64(float64)"])
        def erf(v):
            return math.erf(v)
        return erf
    except Exception:  # numba absent or unusable: stay correct, be slower
        return np.vectorize(math.erf, otypes=[np.float64])


def erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(_erf_ufunc()(x), dtype=x.dtype)


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
        cdf = 0.5 * (1 + erf(x / math.sqrt(2.0)))
        ctx.save(xc, cdf)
        ctx.approximate = "none"
        return (x * cdf).astype(x.dtype, copy=False)

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

    def backward(self, ctx, dy):
        (y,) = ctx.saved
        return dy - np.exp(y) * dy.sum(axis=ctx.axis, keepdims=True)


class Pad2d(Function):
    """Zero padding of the last two axes by ((top, bottom), (left, right))."""

    def forward(self, ctx, x, pads):
        ctx.pads = pads
        widths = [(0, 0)] * (x.ndim - 2) + [tuple(pads[0]), tuple(pads[1])]
        return np.pad(x, widths)

    def backward(self, ctx, dy):
        (t, b), (left, r) = ctx.pads
        return dy[..., t:dy.shape[-2] - b, left:dy.shape[-1] - r]


# ----- activations ------------------------------------------------------------------
def relu(x: Any) -> Tensor:
    return ops.Relu.apply(as_tensor(x))


def leaky_relu(x: Any, alpha: float = 0.01) -> Tensor:
    return LeakyRelu.apply(as_tensor(x), slope=float(alpha))


def prelu(x: Any, weight: Tensor) -> Tensor:
    """weight: (1,) shared or (C,) per channel (axis 1 of x)."""
    x = as_tensor(x)
    if weight.shape[0] != 1 and x.ndim > 2:
        weight = weight.reshape(weight.shape[0], *([1] * (x.ndim - 2)))
    return PRelu.apply(x, weight)


def rrelu(x: Any, lower: float = 1 / 8, upper: float = 1 / 3, training: bool = False,
          rng: np.random.Generator | None = None) -> Tensor:
    """Randomized leaky ReLU (Xu et al., 2015): slopes ~ U(lower, upper) per element in
    training, the fixed mean slope (lower + upper) / 2 otherwise."""
    x = as_tensor(x)
    if not training:
        return LeakyRelu.apply(x, slope=(lower + upper) / 2)
    slope = get_rng(rng).uniform(lower, upper, x.shape).astype(x.dtype)
    return LeakyRelu.apply(x, slope=slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return Elu.apply(as_tensor(x), alpha=float(alpha))


def selu(x: Any) -> Tensor:
    """scale * elu(x, alpha) with the constants of Klambauer et al. (2017)."""
    return Elu.apply(as_tensor(x), alpha=SELU_ALPHA, scale=SELU_SCALE)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(as_tensor(x), approximate=approximate)


def swish(x: Any, beta: Any = 1.0) -> Tensor:
    """x * sigmoid(beta x) (Ramachandran et al., 2017); beta may be a Parameter."""
    x = as_tensor(x)
    if not isinstance(beta, Tensor) and beta == 1.0:
        return x * x.sigmoid()  # SiLU: one multiply fewer
    return x * (x * beta).sigmoid()


def silu(x: Any) -> Tensor:
    return swish(x, 1.0)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(as_tensor(x), beta=float(beta), threshold=float(threshold))


def mish(x: Any) -> Tensor:
    """x * tanh(softplus(x)) (Misra, 2019)."""
    x = as_tensor(x)
    return x * softplus(x).tanh()


def tanh(x: Any) -> Tensor:
    return as_tensor(x).tanh()


def sigmoid(x: Any) -> Tensor:
    return as_tensor(x).sigmoid()


def softmax(x: Any, axis: int = -1) -> Tensor:
    return Softmax.apply(as_tensor(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(as_tensor(x), axis=axis)


# ----- layers as functions ------------------------------------------------------------
def linear(x: Any, weight: Tensor, bias: Tensor | None = None, relu: bool = False
           ) -> Tensor:
    """x (..., in) @ weight (out, in).T + bias (out,), through the GEMM transpose flag;
    relu=True returns relu of that with the bias and ReLU fused in one pass."""
    return ops.Linear.apply(as_tensor(x), weight, bias, relu=relu)


def _pair(name: str, what: str, v: Any) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, (int, np.integer)) for n in pair):
        raise ValueError(f"{name}: {what} must be an int or a pair of ints, got {v!r}")
    return int(pair[0]), int(pair[1])


def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, relu: bool = False) -> Tensor:
    """Cross-correlation as PyTorch. x: (N, C, H, W), weight: (F, C, KH, KW), bias:
    (F,) or None; padding an int, a pair, "valid" (0) or "same" (stride 1 only; an
    even kernel gets the extra row/column at the bottom/right, as PyTorch).
    Returns (N, F, OH, OW), or its ReLU, fused, with relu=True. Raises ValueError on
    mismatched shapes."""
    from ..ops import conv

    x = as_tensor(x)
    sh, sw = _pair("conv2d", "stride", stride)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ShapeError(f"conv2d: weight expects {weight.shape[1]} input channels in x "
                         f"(N, C, H, W), got x{x.shape}, w{weight.shape}")
    kh, kw = weight.shape[2:]
    if padding == "valid":
        padding = 0
    if padding == "same":
        if (sh, sw) != (1, 1):
            raise ValueError(f"conv2d: padding='same' needs stride 1, got stride "
                             f"{(sh, sw)}")
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
        extra_h, extra_w = (kh - 1) % 2, (kw - 1) % 2
        if extra_h or extra_w:
            x = Pad2d.apply(x, pads=((0, extra_h), (0, extra_w)))
    elif isinstance(padding, str):
        raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', "
                         f"got {padding!r}")
    else:
        ph, pw = _pair("conv2d", "padding", padding)
    return conv.Conv2d.apply(x, weight, bias, stride=(sh, sw), padding=(ph, pw), relu=relu)


def _pool(name: str, op: type, x: Any, kernel_size: Any, stride: Any, **fused: Any
          ) -> Tensor:
    x = as_tensor(x)
    kernel = _pair(name, "kernel_size", kernel_size)
    strides = kernel if stride is None else _pair(name, "stride", stride)
    if x.ndim != 4 or x.shape[2] < kernel[0] or x.shape[3] < kernel[1]:
        raise ShapeError(f"{name}: expects x (N, C, H, W) with H >= {kernel[0]} and "
                         f"W >= {kernel[1]}, got x{x.shape}")
    return op.apply(x, kernel=kernel, stride=strides, **fused)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, relu: bool = False) -> Tensor:
    """Max over kernel_size windows (no padding, floor mode); stride defaults to the
    kernel. x: (N, C, H, W). relu=True returns max_pool2d(relu(x)), computed as the
    ReLU of the pooled output (equal, values and gradients, and 4x fewer elements)."""
    from ..ops import pool
    return _pool("max_pool2d", pool.MaxPool2d, x, kernel_size, stride, relu=relu)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    from ..ops import pool
    return _pool("avg_pool2d", pool.AvgPool2d, x, kernel_size, stride)


def _stat_tensor(name: str, v: Any, channels: int, dtype: Any) -> Tensor:
    """A running statistic as a Tensor sharing the caller's memory (so the kernel's
    in-place update reaches the caller's array or buffer)."""
    if v is None:
        return Tensor._wrap(np.zeros(channels, dtype=dtype) if name == "running_mean"
                            else np.ones(channels, dtype=dtype))
    return v if isinstance(v, Tensor) else Tensor._wrap(v)


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization over axis 1 of x (N, C), (N, C, L) or (N, C, H, W).

    Training: batch statistics (biased variance) normalise x, and running_mean /
    running_var (Tensors or arrays, (C,)) are updated in place with PyTorch's
    momentum and the unbiased variance. Eval: the running statistics are used.
    """
    from ..ops import norm

    x = as_tensor(x)
    if x.ndim not in (2, 3, 4):
        raise ShapeError(f"batch_norm: expects x (N, C), (N, C, L) or (N, C, H, W), "
                         f"got x{x.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: eval mode needs running_mean and running_var")
    c = x.shape[1]
    mean = _stat_tensor("running_mean", running_mean, c, x.dtype)
    var = _stat_tensor("running_var", running_var, c, x.dtype)
    gamma = weight if weight is not None else Tensor._wrap(np.ones(c, dtype=x.dtype))
    beta = bias if bias is not None else Tensor._wrap(np.zeros(c, dtype=x.dtype))
    shape = x.shape
    if x.ndim == 3:  # (N, C, L) is (N, C, L, 1) for the kernel
        x = x.reshape(*shape, 1)
    y = norm.BatchNorm.apply(x, gamma, beta, running_mean=mean, running_var=var,
                             training=bool(training), momentum=momentum, eps=eps)
    return y.reshape(shape) if len(shape) == 3 else y


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: in training each element is zeroed with probability p and the
    kept ones scaled by 1 / (1 - p), so eval is the identity."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    # float32 draws: half the random bits, same distribution at this resolution
    keep = get_rng(rng).random(x.shape, dtype=np.float32) >= p
    return x * Tensor._wrap(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))
from .functional_extra import *  # noqa: E402,F401,F403 (the PyTorch op set; see there)
