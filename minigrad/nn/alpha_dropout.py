"""Alpha dropout (Klambauer et al. 2017): dropout that keeps SELU's fixed point."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..random import get_rng
from ..tensor import Tensor, as_tensor
from .functional import SELU_ALPHA, SELU_SCALE
from .module import Module

# SELU's negative saturation value -lambda * alpha: a dropped unit takes it, so a
# dropped input looks like a unit at rest rather than a zero
_ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA


def alpha_dropout(x: Any, p: float = 0.5, training: bool = False,
                  rng: np.random.Generator | None = None) -> Tensor:
    """PyTorch's alpha dropout. Klambauer, Unterthiner, Mayr & Hochreiter,
    "Self-normalizing neural networks", NeurIPS 2017, section 3 ("alpha dropout").

    In training, with a' = -1.7581 (SELU's saturation value), d ~ Bernoulli(1 - p)
    per element, a = ((1 - p) * (1 + p * a'^2))^(-1/2) and b = -a * a' * p:
        y = a * (d * x + (1 - d) * a') + b
    which keeps zero mean and unit variance of a standard-normal input. p == 0 or
    eval: the identity; p == 1: zeros (as PyTorch). x: any shape; returns its shape.
    Raises ValueError for p outside [0, 1].
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: p must be in [0, 1], got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = (get_rng(rng).random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * _ALPHA_PRIME ** 2))
    shift = (1.0 - keep) * (a * _ALPHA_PRIME) - a * _ALPHA_PRIME * p
    # the mask and the shift are constants: dy/dx = a * d, one multiply in backward
    return x * Tensor._wrap(keep * x.dtype.type(a)) + Tensor._wrap(shift.astype(x.dtype))


class AlphaDropout(Module):
    """Alpha dropout for SELU networks (see ``alpha_dropout``); the identity in eval.
    Raises ValueError for p outside [0, 1]."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"AlphaDropout: p must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return alpha_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
