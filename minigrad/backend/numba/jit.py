"""How the Numba kernels are compiled: three flavours of ``numba.njit``, all cached on
disk so a new process does not recompile.

Floating point: fastmath stays off (NaN propagates, no reassociation), except that
the GEMM's update may contract a * b + c into one fused multiply-add, as the C kernels
do: twice the multiply-adds per cycle, one rounding instead of two. Nothing here
allows reassociation, so a sum keeps the order it is written in.
"""
from __future__ import annotations

import numba

jit = numba.njit(cache=True, fastmath=False)
parallel_jit = numba.njit(cache=True, fastmath=False, parallel=True)
fma_jit = numba.njit(cache=True, fastmath={"contract"})
