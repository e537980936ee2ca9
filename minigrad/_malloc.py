"""Keep freed activation buffers in the process instead of handing them back to the OS.

A training step allocates and frees the same large arrays every step (activations,
gradients, im2col panels: 1-13 MB each for the MNIST CNN at batch 128). glibc serves
blocks above its mmap threshold with a fresh mmap and unmaps them on free, and trims
the top of the heap above its trim threshold, so every step faults each page of those
arrays in again: about 8,000 page faults of ~2 us per CNN step here, a quarter of the
step. Raising both thresholds once lets malloc reuse the freed blocks; peak RSS does
not change (the same arrays are live at the peak), memory is only returned later.

Only glibc is touched (other libcs keep their defaults), and MINIGRAD_MALLOC_TUNING=0
leaves the allocator alone. Arrays larger than MMAP_THRESHOLD still get their own map.
"""
from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD = 32 << 20   # the largest value every glibc accepts on 64-bit
TRIM_THRESHOLD = 256 << 20  # free memory kept at the top of the heap before trimming

_state = {"tuned": False}


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring). Returns
    whether the allocator was tuned; idempotent."""
    if _state["tuned"]:
        return True
    if os.environ.get("MINIGRAD_MALLOC_TUNING", "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        ok = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
              and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    except (OSError, AttributeError):
        return False
    _state["tuned"] = ok
    return ok


def malloc_tuned() -> bool:
    """Whether tune_malloc changed the allocator in this process."""
    return _state["tuned"]
