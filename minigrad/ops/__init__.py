"""Primitives of the engine: each a Function with forward and backward side by side."""
from .elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                          Relu, Sigmoid, Sqrt, Sub, Tanh, Where)
from .conv import Conv2d, Conv2dReLU
from .matmul import Linear, LinearReLU, MatMul
from .movement import BroadcastTo, Concat, GetItem, Permute, Reshape, Stack
from .norm import BatchNorm, BatchNormReLU
from .pool import AvgPool2d, MaxPool2d, MaxPool2dReLU
from .reduce import Max, Mean, Min, Sum, Var
# the PyTorch op set (issue 17), one module per family: ops.unary.Sin, ops.index.Gather, ...
from . import binary, conv_transpose, index, reduce_extra, unary  # noqa: E402

__all__ = ["Abs", "Add", "AvgPool2d", "BatchNorm", "BatchNormReLU", "BroadcastTo", "Clip",
           "Concat", "Conv2d", "Conv2dReLU", "Div", "Exp", "GetItem", "Linear", "LinearReLU", "Log",
           "MatMul", "Max", "MaxPool2d", "MaxPool2dReLU", "Maximum", "Mean", "Min",
           "Minimum", "Mul", "Neg", "Permute", "Pow", "Relu", "Reshape", "Sigmoid", "Sqrt",
           "Stack", "Sub", "Sum", "Tanh", "Var", "Where"]
