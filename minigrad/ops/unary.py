"""Elementwise math beyond the basics: trigonometric, hyperbolic, erf, log1p, the
rounding family. One row per op: its forward, its derivative and the rule it states.

Each row builds a Function whose backward is ``dy * derivative(x, y)``; ``rule`` is
the backward written out, shown by explain tools and checked by the tests.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Function


@functools.lru_cache(maxsize=None)
def _erf_ufunc():
    """erf as a ufunc (numpy has none): math.erf compiled by Numba on first use, or
    vectorized math.erf when Numba is missing (exact, slower)."""
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


def _unary(name: str, forward, derivative, rule: str) -> type:
    """A Function class: y = forward(x), dx = dy * derivative(x, y)."""

    def fwd(self, ctx, x):
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.asarray(forward(x), dtype=x.dtype)
        ctx.save(x, y)
        return y

    def bwd(self, ctx, dy):
        x, y = ctx.saved
        with np.errstate(invalid="ignore", divide="ignore"):
            return dy * np.asarray(derivative(x, y), dtype=dy.dtype)

    return type(name, (Function,), {"forward": fwd, "backward": bwd, "rule": rule,
                                    "__doc__": f"y = {name.lower()}(x); {rule}",
                                    "__module__": __name__})


def _zero(x, y):
    return np.zeros_like(x)


_SQRT_PI = math.sqrt(math.pi)

Sin = _unary("Sin", np.sin, lambda x, y: np.cos(x), "dx = dy * cos(x)")
Cos = _unary("Cos", np.cos, lambda x, y: -np.sin(x), "dx = -dy * sin(x)")
Tan = _unary("Tan", np.tan, lambda x, y: 1 + y * y, "dx = dy * (1 + tan(x)^2)")
Asin = _unary("Asin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x),
              "dx = dy / sqrt(1 - x^2)")
Acos = _unary("Acos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x),
              "dx = -dy / sqrt(1 - x^2)")
Atan = _unary("Atan", np.arctan, lambda x, y: 1 / (1 + x * x), "dx = dy / (1 + x^2)")
Sinh = _unary("Sinh", np.sinh, lambda x, y: np.cosh(x), "dx = dy * cosh(x)")
Cosh = _unary("Cosh", np.cosh, lambda x, y: np.sinh(x), "dx = dy * sinh(x)")
Asinh = _unary("Asinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1),
               "dx = dy / sqrt(x^2 + 1)")
Acosh = _unary("Acosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1),
               "dx = dy / sqrt(x^2 - 1)")
Atanh = _unary("Atanh", np.arctanh, lambda x, y: 1 / (1 - x * x), "dx = dy / (1 - x^2)")
Log1p = _unary("Log1p", np.log1p, lambda x, y: 1 / (1 + x), "dx = dy / (1 + x)")
Erf = _unary("Erf", erf, lambda x, y: 2 / _SQRT_PI * np.exp(-x * x),
             "dx = dy * 2 / sqrt(pi) * exp(-x^2)")
# Piecewise constant: PyTorch's gradient is 0 everywhere (also at the jumps).
Floor = _unary("Floor", np.floor, _zero, "dx = 0")
Ceil = _unary("Ceil", np.ceil, _zero, "dx = 0")
Round = _unary("Round", np.round, _zero, "dx = 0 (rounds half to even, as PyTorch)")
Trunc = _unary("Trunc", np.trunc, _zero, "dx = 0")
Sign = _unary("Sign", np.sign, _zero, "dx = 0")

__all__ = ["Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh",
           "Erf", "Floor", "Log1p", "Round", "Sign", "Sin", "Sinh", "Tan", "Trunc",
           "erf"]
