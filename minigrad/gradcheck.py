"""Central-difference gradient checking in float64."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytic and numeric gradients disagree; the message names the worst element."""


def _project(fn: Callable, inputs: list[Tensor], upstream: list) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not upstream:
        rng = np.random.default_rng(0)
        upstream.append(rng.standard_normal(out.shape))
    return (out * Tensor(upstream[0], dtype=np.float64)).sum()


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Compare backward's gradients of fn(*inputs) with central differences.

    The output (any shape) is projected on a fixed random upstream gradient so every
    output element counts. Inputs are copied to float64; those with requires_grad
    (all float inputs when none has it) are checked. Returns True or raises
    GradcheckError naming the input, the element, and both values.
    """
    xs = [Tensor(np.array(getattr(x, "data", x), dtype=np.float64), dtype=np.float64)
          if np.asarray(getattr(x, "data", x)).dtype.kind == "f"
          else Tensor(getattr(x, "data", x)) for x in inputs]
    flags = [bool(getattr(x, "requires_grad", False)) for x in inputs]
    if not any(flags):
        flags = [x.dtype.kind == "f" for x in xs]
    for x, f in zip(xs, flags):
        x.requires_grad_(f)
    upstream: list = []
    _project(fn, xs, upstream).backward()
    for i, (x, checked) in enumerate(zip(xs, flags)):
        if not checked:
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad.data
        numeric = np.zeros(x.shape)
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs the input
        with no_grad():
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + eps
                plus = _project(fn, xs, upstream).item()
                flat[j] = old - eps
                minus = _project(fn, xs, upstream).item()
                flat[j] = old
                numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and (err.max() > 0 or not np.isfinite(analytic).all()):
            k = np.unravel_index(np.nanargmax(np.where(np.isfinite(err), err, np.inf)),
                                 x.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}) element {tuple(int(v) for v in k)}: "
                f"analytic {analytic[k]:.8g} vs numeric {numeric[k]:.8g} "
                f"(atol {atol}, rtol {rtol})")
    return True
