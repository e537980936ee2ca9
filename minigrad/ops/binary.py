"""Elementwise binary math beyond + - * / **: fmod, remainder, logaddexp.

Inputs broadcast as numpy does; the engine sums gradients back to each input's shape.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function


class _Remainder(Function):
    """a - round(a / b) * b for the class's rounding: the gradient is dy for a and
    -dy * round(a / b) for b (zero almost everywhere except through the quotient)."""

    rule = "da = dy; db = -dy * round(a / b)"
    _remainder = _round = None

    def forward(self, ctx, a, b):
        ctx.save(a, b)
        return type(self)._remainder(a, b)

    def backward(self, ctx, dy):
        a, b = ctx.saved
        db = -dy * type(self)._round(a / b) if ctx.needs_input_grad[1] else None
        return dy, db


class Fmod(_Remainder):
    """C's fmod: a - trunc(a / b) * b, the sign of a (torch.fmod)."""

    rule = "da = dy; db = -dy * trunc(a / b)"
    _remainder, _round = staticmethod(np.fmod), staticmethod(np.trunc)


class Remainder(_Remainder):
    """Python's %: a - floor(a / b) * b, the sign of b (torch.remainder)."""

    rule = "da = dy; db = -dy * floor(a / b)"
    _remainder, _round = staticmethod(np.remainder), staticmethod(np.floor)


class LogAddExp(Function):
    """log(e^a + e^b) without overflow."""

    rule = "da = dy * exp(a - y); db = dy * exp(b - y)"

    def forward(self, ctx, a, b):
        y = np.logaddexp(a, b)
        ctx.save(a, b, y)
        return y

    def backward(self, ctx, dy):
        a, b, y = ctx.saved
        return dy * np.exp(a - y), dy * np.exp(b - y)
