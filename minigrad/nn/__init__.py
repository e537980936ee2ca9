"""Neural-network layers, activations, initializers, regularizers, losses, summary and
batch-norm folding (NCHW layout, PyTorch weight layout and state-dict names)."""
from . import constraints, functional, init, regularizers
from .activations import (ELU, GELU, SELU, LeakyReLU, LogSoftmax, Mish, PReLU, ReLU, RReLU,
                          Sigmoid, SiLU, Softmax, Softplus, Swish, Tanh)
from .alpha_dropout import AlphaDropout, alpha_dropout
from .config import register_module
from .fusion import fuse, fuse_batchnorm
from .keras_losses import (binary_crossentropy, categorical_crossentropy,
                           sparse_categorical_crossentropy)
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Identity, Linear,
                     MaxPool2d, Normalization)
from .init import set_default_init
from .loss_modules import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                           L1Loss, MSELoss, NLLLoss)
from .loss_registry import get_loss, loss_names
from .module import Module, ModuleList, Parameter, Sequential, clone
from .reshape import Flatten, Reshape, Unflatten
from .standardized import Standardized
from .summary import count_parameters, summary
# The rest of the PyTorch op set (issue 17); Conv2d's dilation / groups and the
# pools' padding / ceil_mode are arguments of the layers classes above.
from .activations_extra import (CELU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid, ReLU6,
                                Softmin, Softsign)
from .attention import MultiheadAttention
from .conv_extra import ConvTranspose2d
from .pool_extra import AdaptiveAvgPool2d
from .upsample import Upsample

__all__ = ["AlphaDropout", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "BatchNorm2d",
           "Conv2d", "CrossEntropyLoss", "Dropout", "ELU", "Flatten", "GELU", "HuberLoss",
           "Identity", "L1Loss", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss",
           "MaxPool2d", "Mish", "Module", "ModuleList", "NLLLoss", "Normalization",
           "PReLU", "Parameter", "RReLU", "ReLU", "Reshape", "SELU", "Sequential",
           "SiLU", "Sigmoid", "Softmax", "Softplus", "Standardized", "Swish", "Tanh",
           "Unflatten",
           "alpha_dropout", "binary_crossentropy", "categorical_crossentropy", "clone",
           "constraints", "count_parameters", "functional", "fuse", "fuse_batchnorm",
           "get_loss", "init", "loss_names", "register_module", "regularizers",
           "set_default_init", "sparse_categorical_crossentropy", "summary",
           "AdaptiveAvgPool2d", "CELU", "ConvTranspose2d", "Hardsigmoid", "Hardswish",
           "Hardtanh", "LogSigmoid", "MultiheadAttention", "ReLU6", "Softmin", "Softsign",
           "Upsample"]
