"""Batch normalization over the channel axis, on the backend kernels."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function


class BatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel (axis 1).

    x: (N, C) or (N, C, H, W); gamma, beta: (C,) (None means ones / zeros, with no
    gradient). running_mean, running_var: (C,) numpy arrays. Training: the batch mean
    and biased variance normalise x, and the running arrays are updated in place,
    r = (1 - momentum) * r + momentum * batch, with the unbiased batch variance
    (Ioffe & Szegedy 2015; PyTorch's convention). Eval: the running statistics
    normalise x and stay unchanged; backward treats them as constants.
    Raises ValueError for mismatched shapes, for eval without running statistics and
    for training on one value per channel.
    """

    fresh_grads = True  # the backends return new dx, dgamma and dbeta arrays
    relu = False  # BatchNormReLU

    def forward(self, ctx, x, gamma, beta, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        c = x.shape[1] if x.ndim >= 2 else 0
        gamma = np.ones(c, x.dtype) if gamma is None else np.ascontiguousarray(gamma)
        beta = np.zeros(c, x.dtype) if beta is None else np.ascontiguousarray(beta)
        if running_mean is None or running_var is None:
            if not training:
                raise ValueError("batchnorm: eval mode needs running_mean and running_var")
            # Training without running statistics: the kernel updates throwaway arrays.
            running_mean, running_var = np.zeros(c, x.dtype), np.ones(c, x.dtype)
        # A buffer Tensor is updated through its array (ndarray.data is a memoryview).
        if not isinstance(running_mean, np.ndarray):
            running_mean = running_mean.data
        if not isinstance(running_var, np.ndarray):
            running_var = running_var.data
        x = np.ascontiguousarray(x)
        kernels = backend.current()
        y, mean, invstd = kernels.batchnorm_forward(
            x, gamma, beta, running_mean, running_var, bool(training), momentum, eps)
        if self.relu:  # in place on the fresh output: no second array, no second op
            kernels.bias_relu_forward(y, None)
            ctx.save(x, gamma, mean, invstd, y)
        else:
            ctx.save(x, gamma, mean, invstd)
        ctx.training = bool(training)
        return y

    rule = ("dx = invstd * gamma * (dy - mean(dy) - xhat * mean(dy * xhat)), "
            "dgamma = sum(dy * xhat), dbeta = sum(dy)")

    def backward(self, ctx, dy):
        x, gamma, mean, invstd = ctx.saved[:4]
        kernels, dy = backend.current(), np.ascontiguousarray(dy)
        if self.relu:
            dy, _ = kernels.bias_relu_backward(dy, ctx.saved[4], need_db=False)
        dx, dgamma, dbeta = kernels.batchnorm_backward(
            dy, x, gamma, mean, invstd, ctx.training)
        needs = ctx.needs_input_grad
        return (dx if needs[0] else None, dgamma if needs[1] else None,
                dbeta if needs[2] else None)


class BatchNormReLU(BatchNorm):
    """relu(batch_norm(x)), fused: the ReLU runs in place on the kernel's fresh output
    and its mask on dy right before the batch-norm backward, instead of a Relu op with
    its own output array and tape entry. What mg.nn.fuse makes of BatchNorm -> ReLU."""

    rule = ("dz = dy * [y > 0], dx = invstd * gamma * (dz - mean(dz) - xhat * "
            "mean(dz * xhat)), dgamma = sum(dz * xhat), dbeta = sum(dz)")
    relu = True
