"""Every backend's backward kernels refuse bad shapes and dtypes with the same error
type and the same message, because every backend calls the same checks in
``backend/_check.py`` (the numpy reference included)."""
import numpy as np
import pytest

import minigrad as mg

BACKENDS = mg.backend.available()
F32, F64, I64 = np.float32, np.float64, np.int64


def _cases():
    x, w = np.ones((2, 3, 6, 6), F32), np.ones((4, 3, 3, 3), F32)
    dy_conv = np.ones((2, 4, 4, 4), F32)
    pooled, arg = np.ones((2, 3, 3, 3), F32), np.zeros((2, 3, 3, 3), I64)
    g = np.ones(3, F32)
    return {
        "conv-dy-shape": ("conv2d_backward", (x, w, dy_conv[:, :3], (1, 1), (0, 0))),
        "conv-dy-dtype": ("conv2d_backward", (x, w, dy_conv.astype(F64), (1, 1), (0, 0))),
        "conv-channels": ("conv2d_backward", (x, w[:, :2], dy_conv, (1, 1), (0, 0))),
        "maxpool-x-shape-3d": ("maxpool2d_backward", (pooled, arg, (2, 3, 6))),
        "maxpool-x-shape-channels": ("maxpool2d_backward", (pooled, arg, (2, 4, 6, 6))),
        "maxpool-argmax-int32": ("maxpool2d_backward",
                                 (pooled, arg.astype(np.int32), (2, 3, 6, 6))),
        "maxpool-argmax-float": ("maxpool2d_backward", (pooled, pooled, (2, 3, 6, 6))),
        "maxpool-argmax-shape": ("maxpool2d_backward", (pooled, arg[:, :, :2], (2, 3, 6, 6))),
        "maxpool-dy-int": ("maxpool2d_backward", (arg, arg, (2, 3, 6, 6))),
        "avgpool-dy-shape": ("avgpool2d_backward", (pooled[:, :, :2], (2, 3, 6, 6), (2, 2),
                                                    (2, 2))),
        "avgpool-kernel-too-large": ("avgpool2d_backward", (pooled, (2, 3, 6, 6), (7, 2),
                                                            (2, 2))),
        "avgpool-stride-zero": ("avgpool2d_backward", (pooled, (2, 3, 6, 6), (2, 2),
                                                       (0, 2))),
        "avgpool-dy-int": ("avgpool2d_backward", (arg, (2, 3, 6, 6), (2, 2), (2, 2))),
        "bn-dy-shape": ("batchnorm_backward", (x[:1], x, g, g, g, True)),
        "bn-3d": ("batchnorm_backward", (x[0], x[0], g, g, g, True)),
        "bn-gamma-shape": ("batchnorm_backward", (x, x, np.ones(4, F32), g, g, True)),
        "bn-invstd-shape": ("batchnorm_backward", (x, x, g, g, g[:2], True)),
        "bn-mixed-dtypes": ("batchnorm_backward", (x, x.astype(F64), g, g, g, False)),
        "bn-int": ("batchnorm_backward", (x.astype(I64), x, g, g, g, True)),
    }


CASES = _cases()


def _error(backend, kernel, args):
    with mg.backend.use(backend):
        fn = getattr(mg.backend.current(), kernel)
        with pytest.raises((TypeError, ValueError)) as info:
            fn(*args)
    return info.type, str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_checks_backward_errors_match_reference(backend, case):
    kernel, args = CASES[case]
    expected_type, expected_message = _error("numpy", kernel, args)
    assert expected_message.startswith(kernel.split("_")[0])  # names the op
    assert _error(backend, kernel, args) == (expected_type, expected_message)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_checks_argmax_outside_its_plane_is_refused(backend):
    dy, argmax = np.ones((1, 2, 2, 2), F32), np.zeros((1, 2, 2, 2), I64)
    argmax[0, 1, 1, 1] = 16  # one past the 4 x 4 plane: it would write into the next
    with mg.backend.use(backend):
        with pytest.raises(ValueError, match=r"maxpool2d_backward.*argmax"):
            mg.backend.current().maxpool2d_backward(dy, argmax, (1, 2, 4, 4))
        argmax[0, 1, 1, 1] = -1
        with pytest.raises(ValueError, match=r"maxpool2d_backward.*argmax"):
            mg.backend.current().maxpool2d_backward(dy, argmax, (1, 2, 4, 4))


def test_kernel_checks_messages_name_op_shapes_and_expectation():
    from minigrad.backend import numpy_ref as ref
    pooled = np.ones((2, 3, 3, 3), F32)
    with pytest.raises(ValueError, match=r"^avgpool2d_backward: dy\(2, 3, 2, 3\) does not "
                                         r"match the output shape \(2, 3, 3, 3\) of "
                                         r"x_shape \(2, 3, 6, 6\)$"):
        ref.avgpool2d_backward(pooled[:, :, :2], (2, 3, 6, 6), (2, 2), (2, 2))
    with pytest.raises(TypeError, match=r"^maxpool2d_backward: argmax must be an int64 "
                                        r"array, got int32$"):
        ref.maxpool2d_backward(pooled, np.zeros((2, 3, 3, 3), np.int32), (2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"^maxpool2d_backward: x_shape must be \(N, C, H, "
                                         r"W\) with dy\(2, 3, 3, 3\)'s N and C, got "
                                         r"\(2, 4, 6, 6\)$"):
        ref.maxpool2d_backward(pooled, np.zeros((2, 3, 3, 3), I64), (2, 4, 6, 6))
