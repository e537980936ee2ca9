"""Weight initializers, called Keras-style: ``init(shape, dtype=np.float32, rng=None)``
returns a new ndarray. Fans are read from minigrad's PyTorch layout (Linear (out, in),
Conv2d (C_out, C_in, KH, KW)): fan_in = shape[1] * receptive field, fan_out =
shape[0] * receptive field. All draws come from ``mg.random.get_rng(rng)``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..random import get_rng

# std of a unit normal truncated to [-2, 2]: dividing by it keeps the requested variance
# (the constant Keras uses in VarianceScaling).
TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight in PyTorch layout; a vector counts as both."""
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _truncated(rng: np.random.Generator, shape: tuple[int, ...], bound: float = 2.0
               ) -> np.ndarray:
    """Standard normal samples redrawn until every one lies in [-bound, bound]."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > bound
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > bound
    return z


class Initializer:
    """Base: subclasses implement ``sample(shape, rng) -> float64 ndarray``."""

    def __call__(self, shape: Any, dtype: Any = np.float32,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)
        if any(n < 0 for n in shape):
            raise ValueError(f"{self!r}: shape must be non-negative, got {shape}")
        return np.asarray(self.sample(shape, get_rng(rng)), dtype=dtype)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def sample(self, shape, rng):
        return np.full(shape, self.value)


class Normal(Initializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        if stddev < 0:
            raise ValueError(f"Normal: stddev must be >= 0, got {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return self.mean + self.stddev * rng.standard_normal(shape)


class Uniform(Initializer):
    """U(minval, maxval); the default is U(-0.05, 0.05)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        if maxval < minval:
            raise ValueError(f"Uniform: maxval must be >= minval, got [{minval}, {maxval}]")
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)


class TruncatedNormal(Initializer):
    """N(mean, stddev^2) with draws beyond 2 stddev redrawn (as Keras)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        if stddev < 0:
            raise ValueError(f"TruncatedNormal: stddev must be >= 0, got {stddev}")
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng):
        return self.mean + self.stddev * _truncated(rng, shape)


class VarianceScaling(Initializer):
    """Variance scale / n with n = fan_in, fan_out or their mean (mode).

    distribution: "truncated_normal" (std sqrt(scale/n) / 0.8796..., cut at 2 std, so
    the variance after truncation is scale/n), "untruncated_normal" (std sqrt(scale/n))
    or "uniform" (limit sqrt(3 scale / n)). Glorot & Bengio (2010), He et al. (2015),
    LeCun et al. (1998) are the special cases below.
    """

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal"):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self.MODES}, "
                             f"got {mode!r}")
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self.DISTRIBUTIONS}, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def variance(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / max(1.0, n)

    def sample(self, shape, rng):
        var = self.variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(var) * rng.standard_normal(shape)
        return math.sqrt(var) / TRUNCATED_STD * _truncated(rng, shape)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix over (shape[0], prod(shape[1:])) times gain (Saxe et
    al., 2014): QR of a Gaussian matrix with the signs of R's diagonal fixed."""

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of 2 or more dims, got {shape}")
        rows, cols = shape[0], int(np.prod(shape[1:]))
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)


zeros = Constant(0.0)
ones = Constant(1.0)
normal = Normal()
uniform = Uniform()
truncated_normal = TruncatedNormal()
glorot_normal = VarianceScaling(1.0, "fan_avg", "untruncated_normal")
glorot_uniform = VarianceScaling(1.0, "fan_avg", "uniform")
he_normal = VarianceScaling(2.0, "fan_in", "untruncated_normal")
he_uniform = VarianceScaling(2.0, "fan_in", "uniform")
lecun_normal = VarianceScaling(1.0, "fan_in", "untruncated_normal")
lecun_uniform = VarianceScaling(1.0, "fan_in", "uniform")
orthogonal = Orthogonal()


def constant(value: float) -> Constant:
    """The initializer that fills with ``value``."""
    return Constant(value)


_BY_NAME: dict[str, Initializer] = {
    "zeros": zeros, "ones": ones, "normal": normal, "random_normal": normal,
    "uniform": uniform, "random_uniform": uniform, "truncated_normal": truncated_normal,
    "glorot_normal": glorot_normal, "xavier_normal": glorot_normal,
    "glorot_uniform": glorot_uniform, "xavier_uniform": glorot_uniform,
    "he_normal": he_normal, "he_uniform": he_uniform, "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform, "orthogonal": orthogonal,
}


def get(name_or_callable: str | Callable) -> Callable:
    """The initializer named (e.g. "he_normal"), or the callable itself."""
    if callable(name_or_callable):
        return name_or_callable
    if isinstance(name_or_callable, str) and name_or_callable.lower() in _BY_NAME:
        return _BY_NAME[name_or_callable.lower()]
    raise ValueError(f"init.get: unknown initializer {name_or_callable!r}; expected a "
                     f"callable or one of {sorted(_BY_NAME)}")


# ----- PyTorch's in-place initializers ------------------------------------------------
# torch.nn.init's names, signatures and defaults: each fills the Tensor (or ndarray)
# it is given, in place, and returns it. ``generator`` is an np.random.Generator; by
# default the draws come from mg.manual_seed's generator.

def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2)
    for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope = param, default 0.01),
    3/4 for selu. Raises ValueError for another name or a non-numeric slope."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fill(name: str, tensor: Any, values: Callable[[tuple[int, ...]], np.ndarray]) -> Any:
    """Write values(shape) into tensor's array (a Tensor's .data or an ndarray)."""
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        what = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(tensor).__name__
        raise TypeError(f"{name}: expected a float Tensor or ndarray, got {what}")
    np.copyto(data, values(data.shape), casting="same_kind")
    return tensor


def _torch_fans(name: str, tensor: Any) -> tuple[int, int]:
    shape = getattr(tensor, "shape", ())
    if len(shape) < 2:
        raise ValueError(f"{name}: fan in and fan out need a tensor of 2 or more "
                         f"dimensions, got shape {tuple(shape)}")
    return compute_fans(shape)


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fill with U(a, b)."""
    return _fill("uniform_", tensor, lambda s: get_rng(generator).uniform(a, b, s))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """Fill with N(mean, std^2)."""
    return _fill("normal_", tensor,
                 lambda s: mean + std * get_rng(generator).standard_normal(s))


def constant_(tensor: Any, val: float) -> Any:
    """Fill with val."""
    return _fill("constant_", tensor, lambda s: np.full(s, val))


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _torch_fans("xavier_uniform_", tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _torch_fans("xavier_normal_", tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(name: str, tensor: Any, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _torch_fans(name, tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in"
                                                       else fan_out)


def kaiming_uniform_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Any:
    """He et al. (2015): U(-b, b), b = sqrt(3) * gain / sqrt(fan), gain =
    calculate_gain(nonlinearity, a) (a: the leaky_relu slope)."""
    bound = math.sqrt(3.0) * _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Any:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan)."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Saxe et al. (2014): a (semi-)orthogonal matrix over (shape[0], prod(shape[1:]))
    times gain. Raises ValueError for fewer than 2 dimensions."""
    shape = tuple(getattr(tensor, "shape", ()))
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: needs a tensor of 2 or more dimensions, got "
                         f"shape {shape}")
    return _fill("orthogonal_", tensor,
                 lambda s: Orthogonal(gain).sample(s, get_rng(generator)))


# The initializers Linear and Conv2d use when weight_init / bias_init are not given:
# Keras's (glorot_uniform, zeros) or PyTorch's; a process-wide default, as set_backend.
_INIT_SCHEMES = ("keras", "pytorch")
_default_init = {"scheme": "keras"}


def set_default_init(scheme: str) -> None:
    """Make Linear/Conv2d built afterwards initialise as Keras ("keras": Glorot-uniform
    weight, zero bias; the default) or as PyTorch ("pytorch": see weight_init)."""
    if scheme not in _INIT_SCHEMES:
        raise ValueError(f"set_default_init: scheme must be one of {_INIT_SCHEMES}, got "
                         f"{scheme!r}")
    _default_init["scheme"] = scheme


def _pytorch_uniform(fan_in: int) -> Initializer:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's reset_parameters for both the weight
    (kaiming_uniform with a = sqrt(5): bound sqrt(6 / ((1 + 5) fan_in))) and the bias."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return Uniform(-bound, bound)


def for_layer(weight_shape: tuple[int, ...], weight_init: Any, bias_init: Any
              ) -> tuple[Callable, Callable]:
    """The weight and bias initializers: None means the default scheme's; "pytorch" as
    weight_init makes the bias default PyTorch's too."""
    if weight_init is None:
        weight_init = "glorot_uniform" if _default_init["scheme"] == "keras" else "pytorch"
    if bias_init is None:
        bias_init = "pytorch" if weight_init == "pytorch" else "zeros"
    fan_in = compute_fans(weight_shape)[0]
    pick = (lambda i: _pytorch_uniform(fan_in) if i == "pytorch"  # noqa: E731
            else get(i))
    return pick(weight_init), pick(bias_init)
