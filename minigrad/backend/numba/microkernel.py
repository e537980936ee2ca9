"""The GEMM micro-kernel of the Numba backend: c_tile += a_panel @ b_panel for one
MR x NR tile, its accumulators held in registers, the twin of csrc/gemm.c's AVX-512
kernel.

Why an intrinsic and not a loop: Numba leaves LLVM's SLP vectorizer off, so a fixed
MR x NR tile written with scalars stays scalar, and the loop vectorizer only
vectorizes the innermost loop; a tile written as loops over the columns of c (the
previous kernel) vectorizes, but reads and writes its accumulators in memory at every
step of the reduction (C 94-152 GFLOP/s, that kernel 41-93). Here the loop over the
reduction is emitted as LLVM IR with 64-byte vectors (<16 x float>, <8 x double>):
2 * MR accumulators (24 of AVX-512's 32 registers for MR = 12), 2 loads of b and MR
broadcasts of a per step, each product one llvm.fma. Measured alone on this machine
(kc = 256, 1 thread): 163 GFLOP/s float32, 71 float64. The sums are added to c
once, at the end.

The tile follows the vector registers Numba compiles for, as csrc/mg_internal.h's
table does for C: 12 x 2 vectors of 64 bytes with AVX-512 (32 registers), else
6 x 2 vectors of 32 bytes (AVX2's 16 registers: 12 accumulators, 2 values of b, one
broadcast), so no accumulator spills on either.
The sum of each output runs over k in order, one rounding per step (the FMA): the
same order as the reference loop below.

With NUMBA_DISABLE_JIT=1 the reference loop runs in Python.
"""
from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload



def _compiles_for_avx512() -> bool:
    """Whether Numba's target has AVX-512F: NUMBA_CPU_FEATURES if set, else the host
    when Numba compiles for it (NUMBA_CPU_NAME unset or "host")."""
    from llvmlite import binding
    from numba.core import config
    if config.CPU_FEATURES is not None:
        return "+avx512f" in config.CPU_FEATURES.split(",")
    if config.CPU_NAME not in (None, "host"):
        return False
    return bool(binding.get_host_cpu_features().get("avx512f", False))


# rows of a tile and bytes of one vector register; a tile row is two vectors
MR, VECTOR_BYTES = (12, 64) if _compiles_for_avx512() else (6, 32)


def panel_width(like) -> int:
    """NR, the columns of a tile for the dtype of array `like`: two vectors (32
    float32, 16 float64). In jitted code a compile-time constant (an array's itemsize
    is read at run time there, and loops bounded by it did not vectorize)."""
    return 2 * VECTOR_BYTES // like.itemsize


@overload(panel_width)
def _panel_width_constant(like):
    nr = 2 * VECTOR_BYTES // (like.dtype.bitwidth // 8)
    return lambda like: nr


def _tile_product_reference(kc, a, b, c, offset, ldc, accumulate):
    """c[offset + r*ldc + j] (+)= sum over p < kc of a[p*MR + r] * b[p*NR + j]: added
    when accumulate, else written."""
    nr = panel_width(c)
    acc = np.zeros((MR, nr), dtype=c.dtype)
    for p in range(kc):
        acc += np.outer(a[p * MR:(p + 1) * MR], b[p * nr:(p + 1) * nr])
    for r in range(MR):
        row = c[offset + r * ldc:offset + r * ldc + nr]
        row[:] = row + acc[r] if accumulate else acc[r]


def _vector_load(builder, base, offset, vty):
    ptr = builder.gep(base, [offset])
    return builder.load(builder.bitcast(ptr, vty.as_pointer()), align=1)


def _emit_tile_product(context, builder, sig, args):
    """The IR of tile_product: a loop over kc with the accumulators in allocas that
    LLVM's SROA promotes to registers (they never escape)."""
    kc, a_ary, b_ary, c_ary, offset, ldc, accumulate = args
    a_ptr, b_ptr, c_ptr = (context.make_array(ty)(context, builder, value).data
                           for ty, value in zip(sig.args[1:4], (a_ary, b_ary, c_ary)))
    int_types = (sig.args[0], sig.args[4], sig.args[5])
    kc, offset, ldc = (context.cast(builder, value, ty, types.intp)
                       for value, ty in zip((kc, offset, ldc), int_types))
    intp = kc.type
    fty = context.get_value_type(sig.args[3].dtype)
    lanes = VECTOR_BYTES // context.get_abi_sizeof(fty)
    nr = 2 * lanes
    vty = ir.VectorType(fty, lanes)
    fma = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vty, [vty] * 3),
        f"llvm.fma.v{lanes}{'f32' if lanes == 16 else 'f64'}")
    zero = ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes)
    i32 = ir.IntType(32)
    splat = ir.Constant(ir.VectorType(i32, lanes), [ir.Constant(i32, 0)] * lanes)
    undef = ir.Constant(vty, ir.Undefined)
    acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(2)] for _ in range(MR)]
    with cgutils.for_range(builder, kc) as loop:
        b_row = builder.gep(b_ptr, [builder.mul(loop.index, ir.Constant(intp, nr))])
        b_vec = [_vector_load(builder, b_row, ir.Constant(intp, v * lanes), vty)
                 for v in range(2)]
        a_row = builder.gep(a_ptr, [builder.mul(loop.index, ir.Constant(intp, MR))])
        for r in range(MR):
            scalar = builder.load(builder.gep(a_row, [ir.Constant(intp, r)]))
            a_vec = builder.shuffle_vector(
                builder.insert_element(undef, scalar, ir.Constant(i32, 0)), undef, splat)
            for v in range(2):
                builder.store(builder.call(fma, [a_vec, b_vec[v], builder.load(acc[r][v])]),
                              acc[r][v])
    add = context.cast(builder, accumulate, sig.args[6], types.boolean)
    for r in range(MR):
        row = builder.gep(c_ptr, [builder.add(offset, builder.mul(ldc, ir.Constant(intp, r)))])
        for v in range(2):
            ptr = builder.bitcast(builder.gep(row, [ir.Constant(intp, v * lanes)]),
                                  vty.as_pointer())
            total = builder.load(acc[r][v])
            with builder.if_then(add):
                builder.store(builder.fadd(builder.load(ptr, align=1), total), ptr, align=1)
            with builder.if_then(builder.not_(add)):
                builder.store(total, ptr, align=1)
    return context.get_dummy_value()


if numba.config.DISABLE_JIT:
    tile_product = _tile_product_reference
else:
    @intrinsic
    def tile_product(typingctx, kc, a, b, c, offset, ldc, accumulate):
        """c[offset + r*ldc + j] (+)= sum over p < kc of a[p*MR + r] * b[p*NR + j] for
        r < MR, j < NR, added when accumulate (a bool), else written: a (>= kc*MR
        values), b (>= kc*NR) and c 1-d contiguous arrays of one float dtype; kc,
        offset, ldc integers. No bounds are checked: the caller keeps the MR x NR
        tile inside c."""
        arrays = (a, b, c)
        if not all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"
                   and t.dtype == c.dtype for t in arrays):
            return None
        if c.dtype not in (types.float32, types.float64):
            return None
        if not all(isinstance(t, types.Integer) for t in (kc, offset, ldc)):
            return None
        if not isinstance(accumulate, types.Boolean):
            return None
        return types.none(kc, a, b, c, offset, ldc, accumulate), _emit_tile_product
