"""Elementwise math beyond the basics: trigonometric, hyperbolic, erf, log1p, the
rounding family. One row per op: its forward, its derivative and the rule it states.

Each row builds a Function whose backward is ``dy * derivative(x, y)``; ``rule`` is
the backward written out, shown by explain tools and checked by the tests.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function


def erf(x: np.ndarray) -> np.ndarray:
    """The error function elementwise in numpy alone (numpy has none; math.erf is
    scalar), so mg.erf and GELU run the same on every backend with nothing to compile
    (numba.vectorize(math.erf) took ~1 s on first use and ~10 us per element under
    NUMBA_DISABLE_JIT). |x| < 2: erf = 2/sqrt(pi) e^(-x^2)
    sum_n 2^n x^(2n+1) / (2n+1)!!, whose terms are all positive (no cancellation;
    Abramowitz & Stegun 7.1.6). Beyond: 1 - erfc(|x|) with erfc's continued fraction
    e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (A&S 7.1.14),
    evaluated bottom-up. The numbers of terms give about 1e-15 relative error for
    float64 input and 1e-9 for float32 (measured against math.erf). Returns x's
    dtype; NaN stays NaN."""
    dtype = np.asarray(x).dtype
    terms, depth = (32, 48) if dtype == np.float64 else (20, 16)
    a = np.abs(np.asarray(x, dtype=np.float64))
    out = np.empty_like(a)
    small = a < 2.0
    z = a[small]
    twice_z2 = 2.0 * z * z
    term, total = z.copy(), z.copy()
    for n in range(1, terms):
        term *= twice_z2
        term *= 1.0 / (2 * n + 1)
        total += term
    out[small] = total * np.exp(-0.5 * twice_z2) * (2.0 / math.sqrt(math.pi))
    z = a[~small]
    f = z.copy()
    for k in range(depth, 0, -1):
        f = z + (0.5 * k) / f
    with np.errstate(over="ignore"):
        out[~small] = 1.0 - np.exp(-z * z) / (math.sqrt(math.pi) * f)
    return np.copysign(out, x).astype(dtype, copy=False)


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
