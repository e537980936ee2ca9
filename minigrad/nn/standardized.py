"""Standardized: a model that standardizes its own input, (x - mean) / std."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import records
from ..tensor import Tensor, as_tensor
from .module import Module


class Standardized(Module):
    """``net((x - mean) / std)``: images stay uint8 in memory; fit casts each batch to
    float32 and this scales it, so no float copy of the dataset ever exists.
    mean/std are plain floats kept in the model's config; ``net`` holds every weight
    (its state dict has PyTorch's Sequential names). The CLI's models are built so,
    and a saved one loads with plain mg.load_model."""

    def __init__(self, net: Module, mean: float, std: float):
        super().__init__()
        self.net, self.mean, self.inv_std = net, float(mean), 1.0 / float(std)

    def forward(self, x: Any) -> Any:
        x = as_tensor(x)
        if x.dtype.kind == "f" and not records(x):
            # the two ops' float operations on one new array (training input never
            # records): one allocation and pass fewer per step, the same bits
            y = np.subtract(x.data, np.asarray(self.mean, x.dtype))
            np.multiply(y, np.asarray(self.inv_std, x.dtype), out=y)
            return self.net(Tensor._wrap(y))
        return self.net((x - self.mean) * self.inv_std)
