"""Neural-network layers, activations, initializers, regularizers, losses, summary and
batch-norm folding (NCHW layout, PyTorch weight layout and state-dict names)."""
from . import constraints, functional, init, regularizers
from .activations import (ELU, GELU, SELU, LeakyReLU, LogSoftmax, Mish, PReLU, ReLU, RReLU,
                          Sigmoid, SiLU, Softmax, Softplus, Swish, Tanh)
from .alpha_dropout import AlphaDropout, alpha_dropout
from .fusion import fuse_batchnorm
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten,
                     Identity, Linear, MaxPool2d, Normalization, Reshape, Unflatten)
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss,
                     MSELoss, NLLLoss)
from .module import Module, ModuleList, Parameter, Sequential, clone
from .summary import count_parameters, summary

__all__ = ["AlphaDropout", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "BatchNorm2d",
           "Conv2d", "CrossEntropyLoss", "Dropout", "ELU", "Flatten", "GELU", "HuberLoss",
           "Identity", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss",
           "MaxPool2d", "Mish", "Module", "ModuleList", "NLLLoss", "Normalization",
           "PReLU", "Parameter", "RReLU", "ReLU", "Reshape", "SELU", "Sequential",
           "SiLU", "Sigmoid", "Softmax", "Softplus", "Swish", "Tanh", "Unflatten",
           "alpha_dropout", "clone", "constraints", "count_parameters", "functional",
           "fuse_batchnorm", "init",
           "regularizers", "summary"]
