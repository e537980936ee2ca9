"""Kernel contracts shared by every backend (numpy reference, C, Numba).

Every backend module defines the functions named in ``KERNELS`` with exactly these
signatures. The callers (``minigrad.ops``) pass C-contiguous float32 or float64 arrays
of one dtype; backends still check what they receive, because a user may call them
directly. Outputs are freshly allocated (or taken from a backend workspace) and
returned; inputs are never modified, except the running statistics of batch norm and
the z that bias_relu_forward overwrites (its callers own that fresh product).

matmul(a, b, trans_a=False, trans_b=False) -> c
    a: (M, K), or (K, M) read as its transpose when trans_a; b: (K, N), or (N, K) when
    trans_b. 3-d operands are batched: a (B, M, K), b (B, K, N) -> (B, M, N); a 2-d
    operand beside a 3-d one is shared by every batch entry. c is overwritten.

conv2d_forward(x, w, b, stride, padding) -> y
    x: (N, C, H, W); w: (F, C, KH, KW); b: (F,) or None; stride, padding: (int, int).
    Zero padding, cross-correlation as PyTorch. y: (N, F, OH, OW) with
    OH = (H + 2 * ph - KH) // sh + 1.

conv2d_backward(x, w, dy, stride, padding, need_dx=True, need_dw=True, need_db=True)
    -> (dx, dw, db); each is None when not needed. db: (F,) = dy summed over N, OH, OW.

conv2d_winograd_forward(x, w, b, padding, relu=False, tile=4) -> y
    conv2d_forward at stride 1 for w: (F, C, 3, 3) only, by Winograd F(tile x tile,
    3x3), tile 2 or 4 (backend/winograd_ref.py states the algorithm), then max(y, 0)
    when relu. Differs from the direct method by rounding only (float32: <= 1e-4 of
    max |y|; csrc/winograd.c states the measured error).
    Which layers use it: ``backend.conv_algorithm`` (minigrad/backend/algorithm.py).

conv2d_winograd_backward_weight(x, dy, padding, tile=4) -> dw
    dw (F, C, 3, 3) of that conv for upstream dy (N, F, OH, OW), by the same transforms
    (the transpose of the forward's map in w); rounding as the forward.

maxpool2d_forward(x, kernel, stride) -> (y, argmax)
    x: (N, C, H, W); kernel, stride: (int, int); no padding, floor mode.
    argmax: int64 array of y's shape holding the flat index h * W + w, inside its
    (n, c) plane, of the first maximum of each window. NaN wins (propagates).

maxpool2d_backward(dy, argmax, x_shape) -> dx
    dx: zeros of x_shape with dy scattered (accumulated) at argmax.

avgpool2d_forward(x, kernel, stride) -> y
avgpool2d_backward(dy, x_shape, kernel, stride) -> dx

batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
    -> (y, mean, invstd)
    x: (N, C) or (N, C, H, W), statistics per channel C over every other axis.
    training: the batch mean and biased variance normalise x; running_mean and
    running_var (C,) are updated in place: r = (1 - momentum) * r + momentum * batch,
    where the variance fed to running_var is the unbiased one (n / (n - 1)).
    Not training: the running statistics normalise x and are left alone.
    mean, invstd: (C,), the statistics used (invstd = 1 / sqrt(var + eps)).

batchnorm_backward(dy, x, gamma, mean, invstd, training) -> (dx, dgamma, dbeta)
    training: through the batch statistics; otherwise the statistics are constants.

bias_relu_forward(z, b) -> z
    z: (N, F) or (N, F, H, W), the fresh output of a Linear or Conv2d; b: (F,) or None.
    z is overwritten with relu(z + b) (b along axis 1) and returned: the layer's bias
    and its ReLU in one pass. relu keeps NaN (as np.maximum(v, 0)).

bias_relu_backward(dy, y, need_db=True) -> (dz, db)
    dz = dy * (y > 0) for the ReLU output y (dy's shape); db: (F,) = dz summed over
    every axis but 1, or None when not needed.
"""

KERNELS = (
    "matmul",
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_winograd_forward",
    "conv2d_winograd_backward_weight",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "bias_relu_forward",
    "bias_relu_backward",
)
