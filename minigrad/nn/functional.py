"""mg.nn.functional: activations, linear/conv/pool/batch-norm/dropout and the losses.

Activations that composing existing ops would make unstable or slow are primitives
(nn/activation_ops.py, forward and backward side by side); the rest are composites.
Every activation stays finite in value and gradient at |x| = 50 and beyond.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..autograd import Function
from ..backend._check import _pair
from ..errors import ShapeError
from ..functions import concat
from ..ops.reduce import torch_names
from ..random import get_rng
from ..tensor import Tensor, as_tensor
from . import conv_extra, pool_extra
from .activation_ops import (SELU_ALPHA, SELU_SCALE, Elu, Gelu, LeakyRelu, LogSoftmax,
                             PRelu, Softmax, Softplus)
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                     cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss)

# ----- primitives -----------------------------------------------------------------
class Pad2d(Function):
    """Zero padding of the last two axes by ((top, bottom), (left, right))."""

    def forward(self, ctx, x, pads):
        ctx.pads = pads
        widths = [(0, 0)] * (x.ndim - 2) + [tuple(pads[0]), tuple(pads[1])]
        return np.pad(x, widths)

    rule = "dx = the unpadded centre of dy"

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


@torch_names
def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / sum e^x along axis (PyTorch's dim= too)."""
    return Softmax.apply(as_tensor(x), axis=axis)


@torch_names
def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along axis (PyTorch's dim= too)."""
    return LogSoftmax.apply(as_tensor(x), axis=axis)


# Activations by name, for the activation= argument of linear, conv2d, max_pool2d and the
# layers (Keras's Dense(activation=...)). "relu" runs fused with the op before it.
ACTIVATIONS = {"relu": relu, "leaky_relu": leaky_relu, "elu": elu, "selu": selu,
               "gelu": gelu, "silu": silu, "tanh": tanh, "sigmoid": sigmoid,
               "softplus": softplus}


def check_activation(who: str, activation: str | None) -> str | None:
    """activation itself when it is None or a name in ACTIVATIONS; else ValueError."""
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f"{who}: activation must be None or one of {sorted(ACTIVATIONS)}, "
                         f"got {activation!r}")
    return activation


def _activate(who: str, y: Tensor, activation: str | None) -> Tensor:
    return y if check_activation(who, activation) is None else ACTIVATIONS[activation](y)


# ----- layers as functions ------------------------------------------------------------
def linear(x: Any, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x (..., in) @ weight (out, in).T + bias (out,), through the GEMM transpose flag,
    then the named activation (None: none). activation="relu" runs as one op,
    ops.LinearReLU, with the bias and the ReLU in one pass."""
    if check_activation("linear", activation) == "relu":
        return ops.LinearReLU.apply(as_tensor(x), weight, bias)
    return _activate("linear", ops.Linear.apply(as_tensor(x), weight, bias), activation)


def _conv_padding(x: Tensor, kernel: tuple, stride: tuple, padding: Any) -> tuple:
    """(x, (ph, pw)) for conv2d's padding: an int, a pair, "valid" (0) or "same"
    (stride 1 only; an even kernel gets its extra row/column at the bottom/right, as
    PyTorch, by padding x here)."""
    if padding == "valid":
        return x, (0, 0)
    if padding != "same":
        if isinstance(padding, str):
            raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
        return x, _pair("conv2d", "padding", padding)
    if stride != (1, 1):
        raise ValueError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
    (kh, kw) = kernel
    extra_h, extra_w = (kh - 1) % 2, (kw - 1) % 2
    if extra_h or extra_w:
        x = Pad2d.apply(x, pads=((0, extra_h), (0, extra_w)))
    return x, ((kh - 1) // 2, (kw - 1) // 2)


def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1, *,
           activation: str | None = None) -> Tensor:
    """Cross-correlation as PyTorch. x: (N, C, H, W), weight: (F, C / groups, KH, KW),
    bias: (F,) or None; padding an int, a pair, "valid" (0) or "same" (stride 1
    only); dilation spaces the kernel taps; groups splits C and F into groups
    convolved separately (groups = C is depthwise). Returns (N, F, OH, OW), then the
    named activation; activation="relu" runs as one op, ops.Conv2dReLU (per group).
    Raises ValueError on mismatched shapes or arguments."""
    x = as_tensor(x)
    if dilation not in (1, (1, 1)):  # the plain conv never pays for these two
        weight = conv_extra.dilate("conv2d", weight, dilation)
    if groups != 1:
        parts = conv_extra.split_groups(x, weight, bias, groups)
        return concat([conv2d(xg, wg, bg, stride, padding, activation=activation)
                       for xg, wg, bg in parts], axis=1)
    stride = _pair("conv2d", "stride", stride)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ShapeError(f"conv2d: weight expects {weight.shape[1]} input channels in x "
                         f"(N, C, H, W), got x{x.shape}, w{weight.shape}")
    x, pads = _conv_padding(x, weight.shape[2:], stride, padding)
    op = ops.Conv2dReLU if check_activation("conv2d", activation) == "relu" else ops.Conv2d
    y = op.apply(x, weight, bias, stride=stride, padding=pads)
    return y if op is ops.Conv2dReLU else _activate("conv2d", y, activation)


def _pool(name: str, op: type, x: Any, kernel_size: Any, stride: Any) -> Tensor:
    x = as_tensor(x)
    kernel = _pair(name, "kernel_size", kernel_size)
    strides = kernel if stride is None else _pair(name, "stride", stride)
    if x.ndim != 4 or x.shape[2] < kernel[0] or x.shape[3] < kernel[1]:
        raise ShapeError(f"{name}: expects x (N, C, H, W) with H >= {kernel[0]} and "
                         f"W >= {kernel[1]}, got x{x.shape}")
    return op.apply(x, kernel=kernel, stride=strides)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
               ceil_mode: bool = False, activation: str | None = None) -> Tensor:
    """Max over kernel_size windows as PyTorch; stride defaults to the kernel, padding
    (at most half the kernel) pads with -inf, ceil_mode keeps a last partial window
    that starts inside x or its left padding. x: (N, C, H, W). The named activation
    is applied to the pooled output; activation="relu" runs as one op,
    ops.MaxPool2dReLU, and equals pooling relu(x) (values and gradients) on a quarter
    of the elements for 2x2 windows. ceil_mode is keyword-only: PyTorch's fifth
    positional argument is dilation, which a pool here does not take."""
    if ceil_mode or padding not in (0, (0, 0)):
        x, kernel_size, stride = pool_extra.pad_for_max(as_tensor(x), kernel_size, stride,
                                                        padding, ceil_mode)
    if check_activation("max_pool2d", activation) == "relu":
        return _pool("max_pool2d", ops.MaxPool2dReLU, x, kernel_size, stride)
    y = _pool("max_pool2d", ops.MaxPool2d, x, kernel_size, stride)
    return _activate("max_pool2d", y, activation)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over kernel_size windows as PyTorch; stride defaults to the kernel. With
    padding (zeros, at most half the kernel) a window divides by its cells in the
    padded input (count_include_pad) or in x only; ceil_mode as max_pool2d.
    x: (N, C, H, W) -> (N, C, OH, OW)."""
    if ceil_mode or padding not in (0, (0, 0)):
        return pool_extra.padded_avg_pool2d(as_tensor(x), kernel_size, stride, padding,
                                            ceil_mode, count_include_pad)
    return _pool("avg_pool2d", ops.AvgPool2d, x, kernel_size, stride)


def _stat_tensor(name: str, v: Any, channels: int, dtype: Any) -> Tensor:
    """A running statistic as a Tensor sharing the caller's memory (so the kernel's
    in-place update reaches the caller's array or buffer)."""
    if v is None:
        return Tensor._wrap(np.zeros(channels, dtype=dtype) if name == "running_mean"
                            else np.ones(channels, dtype=dtype))
    return v if isinstance(v, Tensor) else Tensor._wrap(v)


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5, activation: str | None = None) -> Tensor:
    """Batch normalization over axis 1 of x (N, C), (N, C, L) or (N, C, H, W).

    Training: batch statistics (biased variance) normalise x, and running_mean /
    running_var (Tensors or arrays, (C,)) are updated in place with PyTorch's
    momentum and the unbiased variance. Eval: the running statistics are used.
    Then the named activation (None: none); "relu" runs as one op, ops.BatchNormReLU.
    """
    op = ops.BatchNormReLU if check_activation("batch_norm", activation) == "relu" \
        else ops.BatchNorm
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
    y = op.apply(x, gamma, beta, running_mean=mean, running_var=var,
                 training=bool(training), momentum=momentum, eps=eps)
    y = y.reshape(shape) if len(shape) == 3 else y
    return y if op is ops.BatchNormReLU else _activate("batch_norm", y, activation)


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
