"""The GEMM floor of a training epoch: the time of exactly the matrix products that one
epoch of a model made of Linear layers performs, on the same backend and threads, with
nothing else (no bias, activation, loss, optimizer, data or autograd). The epoch's
time over its floor is what the rest of the engine costs.

The products are read off the model, walking its Linear layers in order (module
order is the order of application for the Sequential models benchmarked): per step,
for a layer with weight W (out, in) on a batch of B rows,

    forward  y  = x @ W.T     (B, in) x (out, in)^T
    backward dW = dy.T @ x    (B, out)^T x (B, in)    when W is trained
             dx = dy @ W      (B, out) x (out, in)    when anything before the layer
                                                      is trained (the first layer's
                                                      dx is never computed)

through ``minigrad.ops.matmul.gemm``, the call the Linear op itself makes.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import numpy as np


def _trained(m: Any) -> bool:
    return any(p.requires_grad for _, p in m._own_parameters())


def linear_only(model: Any) -> bool:
    """Whether the model's Linear layers make all of its matrix products: no other
    module owns a weight of 2 or more axes (a convolution's kernel, an attention's
    projections); 1-d weights (batch norm) are elementwise work."""
    from minigrad.nn import Linear
    return any(isinstance(m, Linear) for m in model.modules()) and not any(
        p.ndim >= 2 for m in model.modules() if not isinstance(m, Linear)
        for _, p in m._own_parameters())


def linear_gemms(model: Any, batch: int) -> list[tuple[tuple, tuple, bool, bool]]:
    """The GEMMs of one training step of ``model`` on ``batch`` rows, in the order the
    step runs them (forward layer by layer, then backward in reverse): a list of
    (shape of a, shape of b, trans_a, trans_b), one per product ``op(a) @ op(b)``.
    Raises ValueError when the model has no Linear layer."""
    from minigrad.nn import Linear
    forward, backward, upstream = [], [], False
    for m in model.modules():
        if isinstance(m, Linear):
            out, inp = m.weight.shape
            forward.append(((batch, inp), (out, inp), False, True))
            step = []
            if upstream:
                step.append(((batch, out), (out, inp), False, False))
            if m.weight.requires_grad:
                step.append(((batch, out), (batch, inp), True, False))
            backward = step + backward
        upstream = upstream or _trained(m)
    if not forward:
        raise ValueError(f"linear_gemms: {type(model).__name__} has no Linear layer")
    return forward + backward


def epoch_batches(n: int, batch: int) -> dict[int, int]:
    """{batch size: number of steps} of one epoch over n samples (the last step takes
    the remainder, as fit does)."""
    sizes = {batch: n // batch}
    if n % batch:
        sizes[n % batch] = sizes.get(n % batch, 0) + 1
    return {b: k for b, k in sizes.items() if k}


def _step_runner(model: Any, batch: int, rng: np.random.Generator) -> Callable[[], None]:
    """One step's GEMMs on random operands of the model's dtype (the values do not
    change the time; standard normals keep clear of denormals)."""
    from minigrad.ops.matmul import gemm
    dtype = next(iter(model.parameters())).data.dtype
    calls = [(rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype),
              ta, tb) for sa, sb, ta, tb in linear_gemms(model, batch)]

    def run() -> None:
        for a, b, ta, tb in calls:
            gemm(a, b, ta, tb)
    return run


def gemm_floor(model: Any, n: int, batch: int, rounds: int = 7, budget: float = 1.0,
               seed: int = 0) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the GEMMs of one epoch of ``model`` over n
    samples: per batch size, the median over ``rounds`` of the mean time of a run of
    steps (about ``budget`` seconds in all, so a burst of load on the shared machine
    moves one round, not the result), times the epoch's number of such steps. CPU
    time is the steadier measure when other processes share the cores. Runs on the
    current backend and thread count, inside the allocator tuning that fit runs
    under (outside it, each product's output above 128 KiB would be a fresh mmap
    whose pages fault in at every call, a cost the epoch does not pay)."""
    from minigrad._malloc import tuned_allocator
    with tuned_allocator():
        return _floor(model, n, batch, rounds, budget, seed)


def _floor(model: Any, n: int, batch: int, rounds: int, budget: float, seed: int
           ) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    wall = cpu = 0.0
    for size, steps in epoch_batches(n, batch).items():
        run = _step_runner(model, size, rng)
        run()  # warm-up: page in the operands and outputs
        t0 = time.perf_counter()
        run()
        once = max(time.perf_counter() - t0, 1e-6)
        per_round = max(1, min(steps, int(budget / rounds / once)))
        walls, cpus = [], []
        for _ in range(rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                run()
            walls.append((time.perf_counter() - t0) / per_round)
            cpus.append((time.process_time() - c0) / per_round)
        wall += statistics.median(walls) * steps
        cpu += statistics.median(cpus) * steps
    return wall, cpu
