"""The F.* functions of the PyTorch op set (issue 17), re-exported into
mg.nn.functional by its last line. conv2d, max_pool2d and avg_pool2d here extend
the plain kernel versions (dilation / groups, padding / ceil_mode) and fall back to
them, so F's names keep their old behaviour for the old arguments."""
from ..functions_extra import one_hot, pad
from .activations_extra import (celu, hardsigmoid, hardswish, hardtanh, logsigmoid, relu6,
                                softmin, softsign)
from .attention import scaled_dot_product_attention
from .conv_extra import conv2d, conv_transpose2d
from .pool_extra import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .upsample import interpolate

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "celu", "conv2d", "conv_transpose2d",
           "hardsigmoid", "hardswish", "hardtanh", "interpolate", "logsigmoid",
           "max_pool2d", "one_hot", "pad", "relu6", "scaled_dot_product_attention",
           "softmin", "softsign"]
