"""How the Numba kernels are compiled: three flavours of ``numba.njit``, all cached on
disk so a new process does not recompile, and ``wide_vectors`` for the GEMM.

Floating point: fastmath stays off (NaN propagates, no reassociation), except that
the GEMM's update may contract a * b + c into one fused multiply-add, as the C kernels
do: twice the multiply-adds per cycle, one rounding instead of two. Nothing here
allows reassociation, so a sum keeps the order it is written in.
"""
from __future__ import annotations

import numba
from numba import types
from numba.extending import intrinsic

jit = numba.njit(cache=True, fastmath=False)
parallel_jit = numba.njit(cache=True, fastmath=False, parallel=True)
fma_jit = numba.njit(cache=True, fastmath={"contract"})

# LLVM tunes Intel's AVX-512 CPUs (Skylake-X to Emerald Rapids) for 256-bit vectors,
# so loops vectorize on ymm although zmm doubles the multiply-adds per instruction
# (measured: the GEMM micro-kernel 1.3-1.6x faster on zmm with 64-byte aligned rows).
# The preference is a per-function LLVM attribute; setting it here, in the function
# that calls wide_vectors(), leaves Numba's process-wide target and every other
# function alone. Harmless without AVX-512: LLVM never exceeds the widest legal
# vector.
if numba.config.DISABLE_JIT:
    def wide_vectors() -> None:
        """No-op: without the JIT nothing is vectorized."""
else:
    @intrinsic
    def wide_vectors(typingctx):
        """Call first thing in a jitted function: LLVM may vectorize it on 512 bits."""
        def codegen(context, builder, signature, args):
            # llvmlite accepts only the attribute names it lists, not LLVM's string
            # attributes, hence set.add past its check; the IR text is standard.
            set.add(builder.function.attributes, '"prefer-vector-width"="512"')
            return context.get_dummy_value()
        return types.none(), codegen
