"""Argument checks shared by every backend, so each kernel fails the same clear way
before any compiled code sees a bad shape or dtype."""
from __future__ import annotations

import math

import numpy as np

from ..errors import DTypeError, ShapeError

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# The most bytes one kernel buffer (an output, a padded image, an im2col matrix) or one
# index step may span: 2**48 (256 TiB) is more than any 64-bit machine today can map
# (x86-64 user space is 2**47) and far below 2**63, so every offset a kernel forms in
# a signed 64-bit integer (C long, numpy intp, Numba int64) is exact. Sizes are Python
# ints here, which cannot overflow, and are checked before any backend allocates.
MAX_BYTES = 2**48


def check_size(op: str, what: str, dims, itemsize: int, context) -> int:
    """The element count prod(dims) of a buffer an op needs; raises ValueError naming
    the op, the buffer and ``context`` (the shapes and arguments it came from: a str,
    or a function returning it, so the hot path formats nothing) when
    prod(dims) * itemsize exceeds MAX_BYTES."""
    count = math.prod(dims)
    if count * itemsize > MAX_BYTES:
        shape = " x ".join(str(int(d)) for d in dims)
        context = context() if callable(context) else context
        raise ValueError(f"{op}: {context} needs {what} of {shape} = {count} elements "
                         f"({count * itemsize} bytes), more than a kernel buffer may "
                         f"hold (2**48 bytes)")
    return count


def check_sizes(op: str, buffers, itemsize: int, context) -> None:
    """check_size for each (what, dims) of buffers."""
    for what, dims in buffers:
        check_size(op, what, dims, itemsize, context)


def check_float(op: str, **arrays) -> np.dtype:
    """All arrays are ndarrays of one float dtype (float32 or float64); returns it."""
    dtypes = {}
    for name, a in arrays.items():
        if a is None:
            continue
        if not isinstance(a, np.ndarray):
            raise DTypeError(f"{op}: {name} must be a numpy array, got {type(a).__name__}")
        if a.dtype not in FLOATS:
            raise DTypeError(f"{op}: {name} must be float32 or float64, got {a.dtype}")
        dtypes[name] = a.dtype
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise DTypeError(f"{op}: operands must share one dtype, got {listed}")
    return next(iter(dtypes.values()))


def check_matmul(a, b, trans_a: bool, trans_b: bool) -> tuple[int, int, int]:
    """Returns (M, N, K) of op(a) @ op(b)."""
    check_float("matmul", a=a, b=b)
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ShapeError(f"matmul: operands must be 2-d or 3-d, got a{a.shape}, b{b.shape}")
    m, ka = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
    kb, n = (b.shape[-1], b.shape[-2]) if trans_b else b.shape[-2:]
    if ka != kb:
        ta, tb = (".T" if trans_a else ""), (".T" if trans_b else "")
        raise ShapeError(f"matmul: inner dimensions differ, got a{a.shape}{ta} @ "
                         f"b{b.shape}{tb}")
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ShapeError(f"matmul: batch sizes differ, got a{a.shape} @ b{b.shape}")
    batch = a.shape[0] if a.ndim == 3 else (b.shape[0] if b.ndim == 3 else 1)
    if max(a.nbytes, b.nbytes, batch * m * n * a.itemsize) <= MAX_BYTES:
        return m, n, ka   # the common case, without building the list below

    def context():
        return f"a{a.shape} @ b{b.shape}"

    check_sizes("matmul", (("an operand a", a.shape), ("an operand b", b.shape),
                           ("an output", (batch, m, n))), a.itemsize, context)
    return m, n, ka


def _pair(op: str, name: str, v) -> tuple[int, int]:
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2 or not all(isinstance(i, (int, np.integer)) and abs(i) < 2**62
                              for i in t):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints "
                         f"(each below 2**62), got {v!r}")
    return int(t[0]), int(t[1])


def conv_out_shape(x_shape, w_shape, stride, padding) -> tuple[int, int]:
    (sh, sw), (ph, pw) = stride, padding
    return ((x_shape[2] + 2 * ph - w_shape[2]) // sh + 1,
            (x_shape[3] + 2 * pw - w_shape[3]) // sw + 1)


def check_conv2d(x, w, b, stride, padding) -> None:
    check_float("conv2d", x=x, w=w, b=b)
    if x.ndim != 4 or w.ndim != 4:
        raise ShapeError(f"conv2d: expects x (N, C, H, W) and w (F, C, KH, KW), "
                         f"got x{x.shape}, w{w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ShapeError(f"conv2d: weight expects {w.shape[1]} input channels, got "
                         f"x{x.shape}, w{w.shape}")
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(f"conv2d: bias must have shape ({w.shape[0]},), got b{b.shape}")
    sh, sw = _pair("conv2d", "stride", stride)
    ph, pw = _pair("conv2d", "padding", padding)
    if sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError(f"conv2d: stride must be >= 1 and padding >= 0, got stride "
                         f"{stride}, padding {padding}")
    if min(x.shape[2] + 2 * ph - w.shape[2], x.shape[3] + 2 * pw - w.shape[3]) < 0:
        raise ShapeError(f"conv2d: kernel {w.shape[2:]} is larger than the padded input "
                         f"x{x.shape} with padding {padding}")
    check_conv2d_sizes(x, w, (sh, sw), (ph, pw))


def check_conv2d_winograd(x, w, b, padding, tile) -> tuple[int, int]:
    """check_conv2d at stride 1, plus the 3x3 kernel Winograd needs and its tile side
    (2 or 4). Returns (ph, pw)."""
    check_conv2d(x, w, b, (1, 1), padding)
    if w.shape[2:] != (3, 3):
        raise ShapeError(f"conv2d_winograd_forward: needs a 3x3 kernel, got w{w.shape}")
    if tile not in (2, 4):
        raise ValueError(f"conv2d_winograd: tile must be 2 or 4, got {tile!r}")
    return _pair("conv2d", "padding", padding)


def check_conv2d_winograd_backward_weight(x, dy, padding, tile) -> tuple[int, int]:
    """check_conv2d_backward for a 3x3 stride-1 kernel of dy's F and x's C, and the
    tile. Returns (ph, pw)."""
    if getattr(dy, "ndim", 0) != 4 or getattr(x, "ndim", 0) != 4:
        raise ShapeError(f"conv2d_winograd_backward_weight: expects x (N, C, H, W) and dy "
                         f"(N, F, OH, OW), got x{np.shape(x)}, dy{np.shape(dy)}")
    w = np.broadcast_to(np.zeros((), dtype=x.dtype), (dy.shape[1], x.shape[1], 3, 3))
    check_conv2d_backward(x, w, dy, (1, 1), padding)
    return check_conv2d_winograd(x, w, None, padding, tile)


def check_conv2d_sizes(x, w, stride, padding) -> None:
    """Every buffer a conv2d backend may form fits MAX_BYTES: the output, the zero-padded
    batch, the batch's im2col matrix (N, C*KH*KW, OH*OW) and a window row's step."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    hp, wp = h + 2 * ph, wd + 2 * pw
    oh, ow = conv_out_shape(x.shape, w.shape, stride, padding)
    largest = max(x.size, w.size, n * f * oh * ow, n * c * hp * wp, n * c * kh * kw * oh * ow,
                  sh * wp, sw)
    if largest * x.itemsize <= MAX_BYTES:
        return   # the common case, without building the list below

    def context():
        return f"x{x.shape}, w{w.shape} with stride {tuple(stride)}, padding {tuple(padding)}"

    check_sizes("conv2d", (("an input", x.shape), ("a weight", w.shape),
                           ("an output", (n, f, oh, ow)), ("a padded input", (n, c, hp, wp)),
                           ("an im2col matrix", (n, c, kh, kw, oh, ow)),
                           ("a row step", (sh, wp)), ("a column step", (sw,))),
                x.itemsize, context)


def pool_out_shape(x_shape, kernel, stride) -> tuple[int, int]:
    (kh, kw), (sh, sw) = kernel, stride
    return (x_shape[2] - kh) // sh + 1, (x_shape[3] - kw) // sw + 1


def check_pool(op: str, x, kernel, stride) -> tuple[tuple[int, int], tuple[int, int]]:
    """x (N, C, H, W) and a window that fits it; returns ((KH, KW), (SH, SW))."""
    check_float(op, x=x)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expects x (N, C, H, W), got x{x.shape}")
    return _pool_window(op, x.shape, kernel, stride, x.itemsize)


def _pool_window(op: str, x_shape, kernel, stride, itemsize: int):
    """The window ((KH, KW), (SH, SW)) after checking it fits x and its sizes fit."""
    kh, kw = _pair(op, "kernel_size", kernel)
    sh, sw = _pair(op, "stride", stride)
    if kh < 1 or kw < 1 or sh < 1 or sw < 1:
        raise ValueError(f"{op}: kernel_size and stride must be >= 1, got kernel_size "
                         f"{kernel}, stride {stride}")
    if kh > x_shape[2] or kw > x_shape[3]:
        raise ShapeError(f"{op}: kernel_size {kernel} is larger than the input "
                         f"x{tuple(x_shape)}")
    check_pool_sizes(op, x_shape, itemsize, (kh, kw), (sh, sw))
    return (kh, kw), (sh, sw)


def check_pool_sizes(op: str, x_shape, itemsize: int, kernel, stride) -> None:
    """x (given by its shape, as the backward kernels are) and the steps between
    windows fit MAX_BYTES."""
    if max(math.prod(x_shape), stride[0] * x_shape[3], stride[1]) * itemsize <= MAX_BYTES:
        return   # the common case, without building the list below

    def context():
        return f"x{tuple(x_shape)} with kernel_size {tuple(kernel)}, stride {tuple(stride)}"

    check_sizes(op, (("an input", x_shape), ("a row step", (stride[0], x_shape[3])),
                     ("a column step", (stride[1],))), itemsize, context)


def check_batchnorm(x, gamma, beta, running_mean, running_var) -> None:
    check_float("batchnorm", x=x, gamma=gamma, beta=beta)
    if x.ndim not in (2, 4):
        raise ShapeError(f"batchnorm: expects x (N, C) or (N, C, H, W), got x{x.shape}")
    c = x.shape[1]
    if c == 0:
        raise ShapeError(f"batchnorm: x{x.shape} has no channels")
    check_size("batchnorm", "an input", x.shape, x.itemsize, lambda: f"x{x.shape}")
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if a.shape != (c,):
            raise ShapeError(f"batchnorm: {name} must have shape ({c},) for x{x.shape}, "
                             f"got {a.shape}")


def check_bias_relu(op: str, z, b=None, y=None, inplace=False) -> tuple[int, int, int]:
    """z (and y, of z's shape): (N, F) or (N, F, ...); b: (F,) or None; inplace: z will
    be overwritten, so it must be writeable and C-contiguous. Returns the (N, F, S)
    sizes the kernels use, S the product of the trailing axes."""
    check_float(op, z=z, b=b, y=y)
    if z.ndim < 2:
        raise ShapeError(f"{op}: expects (N, F) or (N, F, H, W), got {z.shape}")
    if inplace and not (z.flags.c_contiguous and z.flags.writeable):
        raise ValueError(f"{op}: z{z.shape} is overwritten, so it must be a writeable "
                         "C-contiguous array")
    if y is not None and y.shape != z.shape:
        raise ShapeError(f"{op}: dy{z.shape} and y{y.shape} differ")
    if b is not None and b.shape != (z.shape[1],):
        raise ShapeError(f"{op}: bias must have shape ({z.shape[1]},) for {z.shape}, "
                         f"got b{b.shape}")
    return z.shape[0], z.shape[1], math.prod(z.shape[2:])


# ------------------------------------------------------------- backward kernels
# The backward kernels write where their inputs point (argmax) and size their outputs
# from x_shape, so every backend checks these before it allocates or indexes.

def check_x_shape(op: str, dy, x_shape) -> tuple[int, int, int, int]:
    """dy (N, C, OH, OW) float and x_shape (N, C, H, W) of the same N and C; returns
    x_shape as a tuple of ints."""
    check_float(op, dy=dy)
    try:
        shape = tuple(int(v) for v in x_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 4 or dy.ndim != 4 or shape[:2] != dy.shape[:2] or min(shape) < 0:
        raise ShapeError(f"{op}: x_shape must be (N, C, H, W) with dy{dy.shape}'s N and C, "
                         f"got {x_shape!r}")
    check_size(op, "an input gradient", shape, dy.itemsize, f"x_shape {shape}")
    return shape  # type: ignore[return-value]


def check_conv2d_backward(x, w, dy, stride, padding) -> tuple[int, int]:
    """The forward's checks, plus dy of y's shape and x's dtype; returns (OH, OW)."""
    check_conv2d(x, w, None, stride, padding)
    check_float("conv2d_backward", x=x, w=w, dy=dy)
    oh, ow = conv_out_shape(x.shape, w.shape, _pair("conv2d", "stride", stride),
                            _pair("conv2d", "padding", padding))
    expected = (x.shape[0], w.shape[0], oh, ow)
    if dy.shape != expected:
        raise ShapeError(f"conv2d_backward: dy{dy.shape} does not match the output "
                         f"shape {expected} of x{x.shape}, w{w.shape}")
    return oh, ow


def check_maxpool2d_backward(dy, argmax, x_shape) -> tuple[int, int, int, int]:
    """dy and an int64 argmax of one shape (N, C, OH, OW); returns x_shape. Whether each
    index lies inside its plane is check_argmax_range's (or the kernel's) job."""
    shape = check_x_shape("maxpool2d_backward", dy, x_shape)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64:
        raise DTypeError(f"maxpool2d_backward: argmax must be an int64 array, got "
                         f"{getattr(argmax, 'dtype', type(argmax).__name__)}")
    if dy.shape != argmax.shape:
        raise ShapeError(f"maxpool2d_backward: dy{dy.shape} and argmax{argmax.shape} "
                         "differ")
    return shape


def check_argmax_range(argmax, x_shape) -> None:
    """Every index of argmax lies in its (H, W) plane: one outside would write outside
    dx."""
    plane = x_shape[2] * x_shape[3]
    if argmax.size and (argmax.min() < 0 or argmax.max() >= plane):
        raise ShapeError(f"maxpool2d_backward: argmax values must lie in [0, {plane}) "
                         f"for x_shape {tuple(x_shape)}, got [{argmax.min()}, "
                         f"{argmax.max()}]")


def check_avgpool2d_backward(dy, x_shape, kernel, stride):
    """dy of the forward's output shape; returns (x_shape, (KH, KW), (SH, SW))."""
    op = "avgpool2d_backward"
    shape = check_x_shape(op, dy, x_shape)
    kernel, stride = _pool_window(op, shape, kernel, stride, dy.itemsize)
    expected = (*shape[:2], *pool_out_shape(shape, kernel, stride))
    if dy.shape != expected:
        raise ShapeError(f"{op}: dy{dy.shape} does not match the output shape {expected} "
                         f"of x_shape {shape}")
    return shape, kernel, stride


def check_batchnorm_backward(dy, x, gamma, mean, invstd) -> None:
    """dy and x (N, C) or (N, C, H, W) of one shape and float dtype, and gamma, mean,
    invstd (C,)."""
    op = "batchnorm_backward"
    check_float(op, dy=dy, x=x, gamma=gamma, mean=mean, invstd=invstd)
    if x.ndim not in (2, 4) or dy.shape != x.shape:
        raise ShapeError(f"{op}: expects dy and x of one shape (N, C) or (N, C, H, W), "
                         f"got dy{dy.shape}, x{x.shape}")
    check_size(op, "an input", x.shape, x.itemsize, lambda: f"x{x.shape}")
    for name, a in (("gamma", gamma), ("mean", mean), ("invstd", invstd)):
        if a.shape != (x.shape[1],):
            raise ShapeError(f"{op}: {name} must have shape ({x.shape[1]},) for "
                             f"x{x.shape}, got {a.shape}")
