"""Which algorithm a convolution runs: ``conv_algorithm("auto" | "gemm" | "winograd")``.

"gemm" is conv2d_forward/_backward (implicit GEMM, direct or im2col + GEMM, csrc/conv2d.c);
"winograd" is conv2d_winograd_forward and _backward_weight at the kernels' default tile,
F(4x4, 3x3), for 3x3 stride-1 layers only (its dx is the forward run on dy with the
flipped weights); "auto" picks per layer by
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


# The "auto" rule: Winograd on the C backend when both channel counts are at least
# WINOGRAD_MIN_CHANNELS. Measured on the 2-core Xeon (AVX-512), 1 thread, float32,
# CPU time of forward + dx + dw at the kernels (median of 5, the machine shared with
# other jobs; /tmp script in the wt-wino43 report), Winograd F(4x4, 3x3) / GEMM:
#   1->32 28x28 N=128 2.66, 4->16 2.87, 8->16 2.23 (the GEMMs over few channels are
#   all packing, the transforms all overhead); 16->16 28x28 0.79, 16->32 0.76,
#   32->32 28x28 N=64 0.60, 32->64 14x14 N=128 0.56, 64->64 14x14 0.60, 64->128 7x7
#   0.49, 128->128 7x7 0.46: the crossover lies between 8 and 16 channels.
#   F(2x2, 3x3) / GEMM on the same runs: 3.50, 2.87, 2.01, 1.09, 0.98, 0.85, 0.72, 0.70,
#   0.62, 0.62: slower than F(4x4) everywhere Winograd wins, so ops use F(4x4) only.
# The Numba twin measured slower than Numba's implicit GEMM (32->64 14x14 N=128, CPU
# time, 1 thread: forward 31 against 24 ms, dw 44 against 25 ms). After the register-
# tile GEMM and packed Winograd operands (wt-numba, 2026-12-03) both got faster and the
# order stayed: forward 19.4 against 16.1 ms, forward + dx + dw 78.7 against 56.2 ms
# (/tmp bench in the wt-numba report), so Numba and numpy keep "gemm" under "auto".
WINOGRAD_MIN_CHANNELS = 16
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
