"""minigrad: a tape-based reverse-mode autodiff mini-framework over numpy arrays,
with its hot kernels in C (cffi) and Numba behind one backend switch."""
from . import backend, data, errors, ops
from .devices import accelerator, cuda, device, mps
from .tape import GradientTape
from .autograd import (AnomalyError, Function, detect_anomaly, enable_grad,
                       is_grad_enabled, no_grad, set_detect_anomaly)
from .backend import get_num_threads, set_num_threads
from .errors import BackendError, DTypeError, ShapeError
from .functions import (abs, cat, clamp, clip, concat, exp, flatten, log, matmul, max, maximum,
                        mean, min, minimum, mm, permute, relu, reshape, sigmoid, sqrt, stack,
                        std, sum, tanh, transpose, var, where)
from .functions_extra import *  # noqa: F401,F403 (the PyTorch op set: FORWARDED)
from .functions_extra import one_hot, pad
from .creation import (arange, empty, empty_like, eye, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, zeros,
                       zeros_like)
from .einsum import einsum
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .tensor import Tensor, as_tensor, tensor
from . import optim
from . import nn
from .serialization import load, save
from .model_io import load_model, save_model
from . import metrics, train, utils
from . import diagnostics

import numpy as _np

float32 = _np.float32
float64 = _np.float64
__version__ = "0.1.0"
