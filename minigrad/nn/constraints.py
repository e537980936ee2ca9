"""Weight constraints (Keras): projections applied to a parameter after every
optimizer step.

A constraint is a callable ``c(w) -> w'`` on the parameter's ndarray. A layer built
with ``kernel_constraint=`` / ``bias_constraint=`` sets it as the Parameter's
``constraint`` attribute, and every optimizer's ``step()`` writes ``c(p.data)`` back
into ``p`` right after updating ``p`` (frozen or grad-less parameters are not touched).

Axes, in minigrad's layout. Keras's default ``axis=0`` on a Dense kernel (in, out)
means "the weight vector of each output unit"; minigrad's Linear weight is
(out, in), so that vector is a row (axis=1), and for a Conv2d weight (C_out, C_in,
KH, KW) it is a filter, axes (1, 2, 3) (Keras's recommended ``axis=[0, 1, 2]`` for
a (KH, KW, C_in, C_out) kernel). ``axis=None`` (the default here) means exactly that:
every axis but the first, and the whole vector for a 1-d parameter (a bias), as
Keras's axis=0 does on a bias.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .config import Configurable

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "get"]

_EPSILON = 1e-7  # Keras's backend.epsilon(), which keeps a zero vector finite


class Constraint(Configurable):
    """Base: ``__call__(w: ndarray) -> ndarray`` of w's shape and dtype."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as stored: ``type(c)(**c.get_config())``
        rebuilds c."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _axes(name: str, axis: Any) -> int | tuple[int, ...] | None:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                       for a in axes):
        raise ValueError(f"{name}: axis must be None, an int or a tuple of ints, "
                         f"got {axis!r}")
    return tuple(int(a) for a in axes)


def _norms(name: str, w: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """The L2 norms of w over ``axis`` (see the module docstring), kept as dims."""
    if axis is None:
        axis = tuple(range(1, w.ndim)) if w.ndim > 1 else (0,)
    if any(not -w.ndim <= a < w.ndim for a in axis):
        raise ValueError(f"{name}: axis {axis} is out of range for a weight of shape "
                         f"{w.shape}")
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale each weight vector whose L2 norm exceeds max_value to norm max_value
    (Srivastava et al., "Dropout", JMLR 2014, section 5.1). Keras's formula:
        w <- w * clip(n, 0, max_value) / (eps + n),  n = ||w||_2 over ``axis``
    Raises ValueError for max_value <= 0 or a bad axis."""

    def __init__(self, max_value: float = 2.0, axis: Any = None):
        if isinstance(max_value, bool) or not isinstance(max_value, (int, float, np.number)) \
                or not np.isfinite(max_value) or max_value <= 0:
            raise ValueError(f"MaxNorm: max_value must be a finite number > 0, got "
                             f"{max_value!r}")
        self.max_value, self.axis = float(max_value), _axes("MaxNorm", axis)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        n = _norms("MaxNorm", w, self.axis)
        return (w * (np.clip(n, 0, self.max_value) / (_EPSILON + n))).astype(w.dtype)


class NonNeg(Constraint):
    """w <- w * (w >= 0): negative weights become zero (Keras NonNeg)."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """w <- w / (eps + ||w||_2 over ``axis``): each weight vector to unit norm
    (Keras UnitNorm). Raises ValueError for a bad axis."""

    def __init__(self, axis: Any = None):
        self.axis = _axes("UnitNorm", axis)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return (w / (_EPSILON + _norms("UnitNorm", w, self.axis))).astype(w.dtype)


def get(constraint: str | Callable | None) -> Callable | None:
    """None, a callable, or a Keras name ("max_norm", "non_neg", "unit_norm") with
    the defaults. Raises ValueError for anything else."""
    if constraint is None or callable(constraint):
        return constraint
    table = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}
    if isinstance(constraint, str) and constraint.lower() in table:
        return table[constraint.lower()]()
    raise ValueError(f"constraints.get: unknown constraint {constraint!r}; expected None, "
                     f"a callable or one of {sorted(table)}")
