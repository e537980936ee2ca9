"""The F.* functions of the PyTorch op set (issue 17) that have no kernel of their own
here, re-exported into mg.nn.functional by its last line (conv2d, max_pool2d and
avg_pool2d, with dilation / groups and padding / ceil_mode, live in functional.py)."""
from ..functions_extra import one_hot, pad
from .activations_extra import (celu, hardsigmoid, hardswish, hardtanh, logsigmoid, relu6,
                                softmin, softsign)
from .attention import scaled_dot_product_attention
from .conv_extra import conv_transpose2d
from .pool_extra import adaptive_avg_pool2d
from .upsample import interpolate

__all__ = ["adaptive_avg_pool2d", "celu", "conv_transpose2d", "hardsigmoid", "hardswish",
           "hardtanh", "interpolate", "logsigmoid", "one_hot", "pad", "relu6",
           "scaled_dot_product_attention", "softmin", "softsign"]
