"""Which algorithm a convolution runs: ``conv_algorithm("auto" | "gemm" | "winograd")``.

"gemm" is conv2d_forward/_backward (implicit GEMM, direct or im2col + GEMM, csrc/conv2d.c);
"winograd" is conv2d_winograd_forward, F(2x2, 3x3), for 3x3 stride-1 layers only (its
dx is the same kernel run on dy; dw stays on the GEMM path); "auto" picks per layer by
``choose_conv_algorithm``, the one place the rule lives. The choice is read when a
Conv2d op runs forward, recorded in its ctx (``ctx.algorithm``), and shown by
explain_backward.
"""
from __future__ import annotations

import contextvars

ALGORITHMS = ("auto", "gemm", "winograd")
_default = "auto"  # set_conv_algorithm: the process-wide choice
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "minigrad_conv_algorithm", default=None)  # conv_algorithm(): this thread's choice


def _check(name: str, caller: str) -> str:
    if name not in ALGORITHMS:
        raise ValueError(f"{caller}: algorithm must be one of {ALGORITHMS}, got {name!r}")
    return name


class conv_algorithm:  # noqa: N801  (a function to its callers, a context manager too)
    """``conv_algorithm("winograd")`` forces the algorithm in this thread from now on;
    ``with conv_algorithm("gemm"): ...`` forces it for the block, then restores the
    previous choice. Other threads keep theirs (a context variable). A forced
    "winograd" applies to the layers it can run (3x3, stride 1); the others use "gemm".
    Raises ValueError for an unknown name."""

    def __init__(self, name: str):
        self._token = _override.set(_check(name, "conv_algorithm"))

    def __enter__(self) -> "conv_algorithm":
        return self

    def __exit__(self, *exc) -> None:
        _override.reset(self._token)


def set_conv_algorithm(name: str) -> None:
    """The process-wide default (initially "auto"), for threads that chose none."""
    global _default
    _default = _check(name, "set_conv_algorithm")


def get_conv_algorithm() -> str:
    """The algorithm asked for in this thread: "auto", "gemm" or "winograd"."""
    chosen = _override.get()
    return _default if chosen is None else chosen


def winograd_applies(w_shape, stride) -> bool:
    """Whether conv2d_winograd_forward can run a layer: a 3x3 kernel at stride 1."""
    return tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)


# The "auto" rule: Winograd F(2x2, 3x3) on the C backend when both channel counts are
# at least WINOGRAD_MIN_CHANNELS. Measured on the 2-core EPYC, 1 thread, N=128,
# float32, interleaved medians on a busy shared machine (noisy, +-10%):
#   kernel forward, Winograd / implicit GEMM time: 32->64 14x14 0.63, 64->64 14x14
#   0.60, 32->32 28x28 0.85, 16->32 28x28 0.93-0.98 (a wash), 1->32 28x28 2-4 (the
#   16 GEMMs over C = 1 channel are all packing);
#   Conv2d op (benchmarks/conv_algorithms.py), 32->64 14x14: forward 0.75-0.83, forward
#   + backward (dx by Winograd, dw by GEMM) 0.79-0.91.
# The Numba twin measured slower than Numba's implicit GEMM even at 32->64 (forward
# 1.16x, forward + backward 1.21x), so Numba and numpy keep "gemm" under "auto".
WINOGRAD_MIN_CHANNELS = 32
WINOGRAD_AUTO_BACKENDS = ("c",)


def choose_conv_algorithm(w_shape, stride, backend: str) -> str:
    """"gemm" or "winograd" for a conv with weight shape w_shape (F, C, KH, KW) and
    stride (sh, sw) on the named backend, by this thread's choice."""
    if not winograd_applies(w_shape, stride):
        return "gemm"
    chosen = get_conv_algorithm()
    if chosen != "auto":
        return chosen
    wide = min(w_shape[0], w_shape[1]) >= WINOGRAD_MIN_CHANNELS
    return "winograd" if wide and backend in WINOGRAD_AUTO_BACKENDS else "gemm"
