"""Layers: Linear, Conv2d, pooling, batch norm, dropout, shape layers, Normalization.

Weights use PyTorch's layout and names (Linear weight (out, in), Conv2d weight
(C_out, C_in, KH, KW), bias, running_mean, running_var) so state dicts map one to one.
Every layer checks its input and raises ShapeError (a ValueError) naming itself, the expected and
the actual shape.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..backend._check import _pair
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor
from . import functional as F
from . import init as initializers
from . import constraints, regularizers
from .module import Module, Parameter


def _shape_error(layer: Module, expected: str, x: Tensor) -> ShapeError:
    return ShapeError(f"{layer!r}: expected input of shape {expected}, got "
                      f"{tuple(x.shape)}")


class Identity(Module):
    """Returns its input (what fuse_batchnorm puts in place of a folded BN)."""

    def forward(self, x: Any) -> Any:
        return x


class _Weighted(Module):
    """Shared by Linear and Conv2d: weight/bias creation, the activation applied after
    the bias, the regularizers and the constraints."""

    _live_config = ("activation",)  # mg.nn.fuse sets it on a built layer

    def _build(self, weight_shape: tuple[int, ...], bias: bool, weight_init: Any,
               bias_init: Any, activation: Any, kernel_regularizer: Any,
               bias_regularizer: Any, activity_regularizer: Any, dtype: Any,
               kernel_constraint: Any = None, bias_constraint: Any = None) -> None:
        w_init, b_init = initializers.for_layer(weight_shape, weight_init, bias_init)
        self.weight = Parameter(w_init(weight_shape, dtype=dtype), dtype=dtype)
        self.bias = (Parameter(b_init((weight_shape[0],), dtype=dtype), dtype=dtype)
                     if bias else None)
        self.activation = _activation(type(self).__name__, activation)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        # on the Parameter, where every optimizer's step() applies it (constraints.py)
        self.kernel_constraint = self.weight.constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if self.bias is not None:
            self.bias.constraint = self.bias_constraint

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, with ``bias`` as it is now (fuse_batchnorm gives a
        bias-free layer one)."""
        return {**super().get_config(), "bias": self.bias is not None}

    def _activation_name(self) -> str | None:
        """The activation when it is a name (F applies it, "relu" fused), else None."""
        return self.activation if isinstance(self.activation, str) else None

    def _finish(self, y: Tensor) -> Tensor:
        """Apply a Module activation, then record reg(y) / batch size for
        regularization_loss (Keras: on the layer's output, after the activation)."""
        if isinstance(self.activation, Module):
            y = self.activation(y)
        if self.activity_regularizer is not None:
            self._activity_losses[:] = [self.activity_regularizer(y) / float(y.shape[0])]
        return y

    def _activation_repr(self) -> str:
        return f", activation={self.activation!r}" if isinstance(self.activation, str) else ""


def _activation(who: str, activation: Any) -> str | Module | None:
    """None, a name of F.ACTIVATIONS or a Module (kept as a child, so it shows in repr
    and its parameters train); anything else raises TypeError."""
    if activation is None or isinstance(activation, Module):
        return activation
    if isinstance(activation, str):
        return F.check_activation(who, activation)
    raise TypeError(f"{who}: activation must be None, a name or a Module, got "
                    f"{type(activation).__name__}")


class Linear(_Weighted):
    """y = activation(x @ weight.T + bias). x: (..., in_features) -> (..., out_features).

    Arguments after bias are keyword-only (PyTorch's positional order for the first
    three). weight_init / bias_init: an initializer or its name; None takes the default
    of set_default_init (Keras: Glorot-uniform weight, zero bias); "pytorch" is
    PyTorch's U(+-1/sqrt(in_features)) for weight and bias. activation: None, a name
    ("relu" runs fused with the bias, one op LinearReLU) or a Module.
    kernel_constraint / bias_constraint: nn.constraints applied after every optimizer
    step (Keras)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 weight_init: str | Callable | None = None,
                 bias_init: str | Callable | None = None, activation: Any = None,
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, dtype: Any = np.float32,
                 kernel_constraint: Any = None, bias_constraint: Any = None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: features must be positive, got in_features="
                             f"{in_features}, out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._build((self.out_features, self.in_features), bias, weight_init, bias_init,
                    activation, kernel_regularizer, bias_regularizer, activity_regularizer,
                    dtype, kernel_constraint, bias_constraint)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise _shape_error(self, f"(N, {self.in_features})", x)
        return self._finish(F.linear(x, self.weight, self.bias, self._activation_name()))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}" + self._activation_repr())


class Conv2d(_Weighted):
    """2-d cross-correlation, then the activation. x: (N, in_channels, H, W) ->
    (N, out_channels, OH, OW); weight (out_channels, in_channels / groups, KH, KW).
    padding an int, a pair, "valid" or "same" (stride 1 only); dilation spaces the
    kernel taps; groups convolves channel groups separately (groups = in_channels is
    depthwise). The arguments up to bias may be positional (PyTorch's order); the
    rest are keyword-only, with the meaning they have on Linear ("relu" runs as one
    op Conv2dReLU, per group)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, *, weight_init: str | Callable | None = None,
                 bias_init: str | Callable | None = None, activation: Any = None,
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, dtype: Any = np.float32,
                 kernel_constraint: Any = None, bias_constraint: Any = None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} and out_channels "
                             f"{out_channels} must divide by groups={groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size)
        self.stride = _pair("Conv2d", "stride", stride)
        self.dilation, self.groups = _pair("Conv2d", "dilation", dilation), int(groups)
        if min(self.dilation) < 1:
            raise ValueError(f"Conv2d: dilation must be >= 1, got {dilation!r}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride "
                             f"{self.stride}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"Conv2d: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
        self.padding = padding if isinstance(padding, str) else \
            _pair("Conv2d", "padding", padding)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._build(shape, bias, weight_init, bias_init, activation, kernel_regularizer,
                    bias_regularizer, activity_regularizer, dtype, kernel_constraint,
                    bias_constraint)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        (kh, kw), (dh, dw), pad = self.kernel_size, self.dilation, self.padding
        kh, kw = (kh - 1) * dh + 1, (kw - 1) * dw + 1  # the kernel's span
        ph, pw = (0, 0) if isinstance(pad, str) else pad
        if (x.ndim != 4 or x.shape[1] != self.in_channels
                or (pad != "same" and (x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw))):
            raise _shape_error(self, f"(N, {self.in_channels}, H >= {kh - 2 * ph}, "
                                     f"W >= {kw - 2 * pw})", x)
        return self._finish(F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                                     self.dilation, self.groups,
                                     activation=self._activation_name()))

    def extra_repr(self) -> str:
        extra = "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        extra += "" if self.groups == 1 else f", groups={self.groups}"
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}" + extra
                + self._activation_repr())


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(name, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(name, "stride", stride)
        if min(self.kernel_size + self.stride) <= 0:
            raise ValueError(f"{name}: kernel_size and stride must be positive, got "
                             f"{self.kernel_size}, {self.stride}")
        self.padding, self.ceil_mode = _pair(name, "padding", padding), bool(ceil_mode)
        if any(not 0 <= p <= k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding must be in [0, kernel_size // 2], got "
                             f"{self.padding} for kernel_size {self.kernel_size}")

    def _check(self, x: Tensor) -> Tensor:
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if x.ndim != 4 or x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise _shape_error(self, f"(N, C, H >= {kh - 2 * ph}, W >= {kw - 2 * pw})", x)
        return x

    def extra_repr(self) -> str:
        extra = "" if self.padding == (0, 0) else f", padding={self.padding}"
        extra += ", ceil_mode=True" if self.ceil_mode else ""
        return f"kernel_size={self.kernel_size}, stride={self.stride}" + extra


class MaxPool2d(_Pool2d):
    """Max over windows as PyTorch (padding with -inf, ceil_mode), then the named
    activation (None: none). x: (N, C, H, W). activation="relu" runs as one op
    MaxPool2dReLU; it equals MaxPool2d after ReLU (what mg.nn.fuse makes of ReLU ->
    MaxPool2d) on a quarter of the elements for 2x2 windows. ceil_mode and activation
    are keyword-only (PyTorch's fourth positional argument is dilation)."""

    _live_config = ("activation",)  # mg.nn.fuse sets it on a built layer

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                 ceil_mode: bool = False, activation: str | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.activation = F.check_activation("MaxPool2d", activation)

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(self._check(as_tensor(x)), self.kernel_size, self.stride,
                            self.padding, ceil_mode=self.ceil_mode,
                            activation=self.activation)

    def extra_repr(self) -> str:
        act = "" if self.activation is None else f", activation={self.activation!r}"
        return super().extra_repr() + act


class AvgPool2d(_Pool2d):
    """Mean over windows as PyTorch: padding with zeros that count in the divisor when
    count_include_pad, ceil_mode as MaxPool2d. x: (N, C, H, W)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(self._check(as_tensor(x)), self.kernel_size, self.stride,
                            self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        extra = "" if self.count_include_pad else ", count_include_pad=False"
        return super().extra_repr() + extra


class _BatchNorm(Module):
    """gamma * (x - mean) / sqrt(var + eps) + beta per channel (Ioffe & Szegedy, 2015);
    batch statistics in training, running ones in eval (PyTorch momentum). Then the
    named activation (keyword-only, None: none); "relu" runs as one op BatchNormReLU
    (what mg.nn.fuse makes of BatchNorm -> ReLU)."""

    ndims: tuple[int, ...] = ()
    _live_config = ("activation",)  # mg.nn.fuse sets it on a built layer

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype: Any = np.float32, *, activation: str | None = None):
        super().__init__()
        name = type(self).__name__
        self.activation = F.check_activation(name, activation)
        if num_features <= 0:
            raise ValueError(f"{name}: num_features must be positive, got {num_features}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.weight = Parameter(np.ones(num_features), dtype=dtype)
        self.bias = Parameter(np.zeros(num_features), dtype=dtype)
        self.register_buffer("running_mean", Tensor(np.zeros(num_features), dtype=dtype))
        self.register_buffer("running_var", Tensor(np.ones(num_features), dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise _shape_error(self, self._expected(), x)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps, self.activation)

    def extra_repr(self) -> str:
        act = "" if self.activation is None else f", activation={self.activation!r}"
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}" + act


class BatchNorm1d(_BatchNorm):
    """x: (N, C) or (N, C, L)."""

    ndims = (2, 3)

    def _expected(self) -> str:
        return f"(N, {self.num_features}) or (N, {self.num_features}, L)"


class BatchNorm2d(_BatchNorm):
    """x: (N, C, H, W)."""

    ndims = (4,)

    def _expected(self) -> str:
        return f"(N, {self.num_features}, H, W)"


class Dropout(Module):
    """Inverted dropout: zero with probability p and scale by 1/(1-p) in training;
    the identity in eval."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Normalization(Module):
    """(x - mean) / max(std, 1e-7) per feature of the last axis, with mean and variance
    learned from data by ``adapt(x)`` (Keras preprocessing Normalization)."""

    def __init__(self, mean: Any = None, variance: Any = None) -> None:
        """mean and variance (F,) may be given instead of calling adapt; a saved
        state dict also loads into a Normalization built with them (or adapted)."""
        super().__init__()
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither")
        if mean is not None:
            self._set(np.asarray(mean, dtype=np.float64), np.asarray(variance, np.float64))

    def _set(self, mean: np.ndarray, variance: np.ndarray) -> None:
        if mean.ndim != 1 or mean.shape != variance.shape or (variance < 0).any():
            raise ValueError(f"Normalization: mean and variance must be (F,) with "
                             f"variance >= 0, got shapes {mean.shape} and {variance.shape}")
        self.register_buffer("mean", Tensor(mean))
        self.register_buffer("variance", Tensor(variance))

    def get_config(self) -> dict[str, Any]:
        """The adapted statistics (they are the layer's state, not only arguments)."""
        if "mean" not in self._buffer_names:
            return {}
        return {"mean": self.mean.data.copy(), "variance": self.variance.data.copy()}

    def adapt(self, x: Any) -> "Normalization":
        """Compute the per-feature mean and variance of x (..., F) over every other axis."""
        a = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
        if a.ndim < 1 or a.size == 0:
            raise ValueError(f"Normalization.adapt: needs a non-empty array (..., F), got "
                             f"shape {a.shape}")
        flat = a.reshape(-1, a.shape[-1])
        self._set(flat.mean(axis=0), flat.var(axis=0))
        return self

    def forward(self, x: Any) -> Tensor:
        if "mean" not in self._buffer_names:
            raise RuntimeError("Normalization: call adapt(x) on training data first (or "
                               "pass mean= and variance=)")
        x = as_tensor(x)
        n = self.mean.shape[0]
        if x.ndim < 1 or x.shape[-1] != n:
            raise _shape_error(self, f"(..., {n})", x)
        std = np.maximum(np.sqrt(self.variance.data), 1e-7).astype(x.dtype)
        return (x - self.mean.data.astype(x.dtype)) / std
