"""The Numba backend: twins of the numpy reference kernels, written as plain Python
loops and jitted lazily (compiled on first use, cached on disk), one module per kernel
family as minitorch splits its fast_ops:

    gemm       matmul, and the single-thread GEMM the convolutions share
    microkernel  the GEMM's register-tile micro-kernel (LLVM vector IR, an intrinsic)
    conv       conv2d forward / backward: im2col + GEMM, or at stride 1
    conv_implicit  the implicit GEMM (and the direct kernel for few taps) of one image
    winograd   conv2d_winograd_forward / _backward_weight: Winograd F(2x2 or 4x4, 3x3)
               on the GEMM above (winograd_transforms: its tile transforms)
    pool       max- and average-pooling
    batchnorm  batch norm over (N, C) and (N, C, H, W)
    bias_act   the fused bias + ReLU epilogue
    threads    thread count (from OMP_NUM_THREADS) and the parallel-size threshold
    jit        the njit flavours and the floating-point policy

Contracts in ``backend/interface.py``. Each public kernel checks its arguments with
``backend/_check.py`` exactly as the other backends do, makes operands contiguous,
allocates outputs and calls a jitted ``_<op>_impl``. With ``NUMBA_DISABLE_JIT=1`` the
same loops run as plain Python.
"""
from __future__ import annotations

from .batchnorm import batchnorm_backward, batchnorm_forward
from .bias_act import bias_relu_backward, bias_relu_forward
from .conv import conv2d_backward, conv2d_forward
from .gemm import matmul
from .pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .threads import get_num_threads, set_num_threads
from .winograd import conv2d_winograd_backward_weight, conv2d_winograd_forward

__all__ = ["avgpool2d_backward", "avgpool2d_forward", "batchnorm_backward",
           "batchnorm_forward", "bias_relu_backward", "bias_relu_forward",
           "conv2d_backward", "conv2d_forward", "conv2d_winograd_backward_weight",
           "conv2d_winograd_forward",
           "get_num_threads", "matmul",
           "maxpool2d_backward", "maxpool2d_forward", "set_num_threads"]
