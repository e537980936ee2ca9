"""Primitives of the engine: each a Function with forward and backward side by side."""
from .elementwise import (Abs, Add, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                          Relu, Sigmoid, Sqrt, Sub, Tanh, Where)
from .matmul import Linear, MatMul
from .movement import BroadcastTo, Concat, GetItem, Permute, Reshape, Stack
from .reduce import Max, Mean, Min, Sum, Var

__all__ = ["Abs", "Add", "BroadcastTo", "Clip", "Concat", "Div", "Exp", "GetItem",
           "Linear", "Log", "MatMul", "Max", "Maximum", "Mean", "Min", "Minimum", "Mul",
           "Neg", "Permute", "Pow", "Relu", "Reshape", "Sigmoid", "Sqrt", "Stack", "Sub",
           "Sum", "Tanh", "Var", "Where"]
