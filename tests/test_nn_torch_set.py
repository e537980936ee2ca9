"""nn items of issue 17 against PyTorch, forward and every gradient, on every backend:
conv2d groups/dilation/depthwise, conv_transpose2d, pooling padding/ceil_mode,
adaptive average pooling, interpolate, the new activations, attention."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch

F = mg.nn.functional
R = np.random.default_rng(5)


def rnd(*shape):
    return R.standard_normal(shape)


def tF():
    return torch().nn.functional


# name -> (minigrad fn, torch fn, inputs); run on every backend
KERNEL_CASES = {
    "conv_groups": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                    lambda x, w, b: tF().conv2d(x, w, b, stride=2, padding=1, groups=2),
                    [rnd(2, 4, 7, 6), rnd(6, 2, 3, 3), rnd(6)]),
    "conv_dilation": (lambda x, w: F.conv2d(x, w, padding=2, dilation=(2, 3)),
                      lambda x, w: tF().conv2d(x, w, padding=2, dilation=(2, 3)),
                      [rnd(1, 3, 9, 10), rnd(4, 3, 3, 2)]),
    "conv_depthwise": (lambda x, w: F.conv2d(x, w, padding=1, groups=3),
                       lambda x, w: tF().conv2d(x, w, padding=1, groups=3),
                       [rnd(2, 3, 5, 5), rnd(3, 1, 3, 3)]),
    "conv_same_dilated": (lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
                          lambda x, w: tF().conv2d(x, w, padding="same", dilation=2),
                          [rnd(1, 2, 6, 7), rnd(3, 2, 3, 3)]),
    "convT_stride_pad_outpad": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: tF().conv_transpose2d(x, w, b, stride=2, padding=1,
                                              output_padding=1),
        [rnd(2, 3, 4, 5), rnd(3, 4, 3, 3), rnd(4)]),
    "convT_plain": (lambda x, w: F.conv_transpose2d(x, w),
                    lambda x, w: tF().conv_transpose2d(x, w), [rnd(1, 2, 3, 3), rnd(2, 1, 2, 2)]),
    "convT_rect_stride": (lambda x, w: F.conv_transpose2d(x, w, stride=(3, 1), padding=(0, 1)),
                          lambda x, w: tF().conv_transpose2d(x, w, stride=(3, 1),
                                                             padding=(0, 1)),
                          [rnd(2, 2, 3, 4), rnd(2, 3, 2, 3)]),
    "convT_groups_dilation": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, groups=2, dilation=2,
                                        output_padding=1),
        lambda x, w: tF().conv_transpose2d(x, w, stride=2, groups=2, dilation=2,
                                           output_padding=1),
        [rnd(1, 4, 3, 3), rnd(4, 3, 3, 3)]),
    "maxpool_pad": (lambda x: F.max_pool2d(x, 3, 2, padding=1),
                    lambda x: tF().max_pool2d(x, 3, 2, padding=1), [rnd(2, 3, 7, 6)]),
    "maxpool_ceil": (lambda x: F.max_pool2d(x, 2, ceil_mode=True),
                     lambda x: tF().max_pool2d(x, 2, ceil_mode=True), [rnd(1, 2, 5, 7)]),
    "maxpool_pad_ceil": (lambda x: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                         lambda x: tF().max_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                         [rnd(1, 2, 6, 8)]),
    "avgpool_pad": (lambda x: F.avg_pool2d(x, 3, 2, padding=1),
                    lambda x: tF().avg_pool2d(x, 3, 2, padding=1), [rnd(2, 3, 7, 6)]),
    "avgpool_pad_nocount": (
        lambda x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
        lambda x: tF().avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
        [rnd(1, 2, 6, 5)]),
    "avgpool_ceil": (lambda x: F.avg_pool2d(x, 2, ceil_mode=True),
                     lambda x: tF().avg_pool2d(x, 2, ceil_mode=True), [rnd(1, 2, 5, 7)]),
    "avgpool_pad_ceil": (lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                         lambda x: tF().avg_pool2d(x, 3, 2, padding=1, ceil_mode=True),
                         [rnd(1, 1, 6, 8)]),
    "adaptive_avg": (lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
                     lambda x: tF().adaptive_avg_pool2d(x, (3, 4)), [rnd(2, 2, 7, 9)]),
    "adaptive_avg_1": (lambda x: F.adaptive_avg_pool2d(x, 1),
                       lambda x: tF().adaptive_avg_pool2d(x, 1), [rnd(2, 3, 5, 4)]),
    "nearest_scale": (lambda x: F.interpolate(x, scale_factor=2),
                      lambda x: tF().interpolate(x, scale_factor=2), [rnd(1, 2, 3, 4)]),
    "nearest_size_down": (lambda x: F.interpolate(x, size=(3, 5)),
                          lambda x: tF().interpolate(x, size=(3, 5)), [rnd(2, 1, 7, 8)]),
    "bilinear": (lambda x: F.interpolate(x, size=(7, 5), mode="bilinear"),
                 lambda x: tF().interpolate(x, size=(7, 5), mode="bilinear",
                                            align_corners=False), [rnd(1, 2, 4, 3)]),
    "bilinear_align": (lambda x: F.interpolate(x, scale_factor=2.5, mode="bilinear",
                                               align_corners=True),
                       lambda x: tF().interpolate(x, scale_factor=2.5, mode="bilinear",
                                                  align_corners=True), [rnd(1, 1, 3, 4)]),
    "bilinear_down": (lambda x: F.interpolate(x, size=(2, 3), mode="bilinear"),
                      lambda x: tF().interpolate(x, size=(2, 3), mode="bilinear"),
                      [rnd(1, 2, 5, 7)]),
}

MASK = np.tril(np.ones((4, 5), dtype=bool), 1)
ACT_AND_ATTN = {
    "relu6": (F.relu6, lambda x: tF().relu6(x), [rnd(3, 4) * 5]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: tF().hardtanh(x, -0.5, 2.0),
                 [rnd(6) * 2]),
    "hardsigmoid": (F.hardsigmoid, lambda x: tF().hardsigmoid(x), [rnd(2, 5) * 4]),
    "hardswish": (F.hardswish, lambda x: tF().hardswish(x), [rnd(2, 5) * 4]),
    "softsign": (F.softsign, lambda x: tF().softsign(x), [rnd(7)]),
    "logsigmoid": (F.logsigmoid, lambda x: tF().logsigmoid(x), [rnd(3, 3) * 30]),
    "celu": (lambda x: F.celu(x, 0.7), lambda x: tF().celu(x, 0.7), [rnd(5) * 3]),
    "softmin": (lambda x: F.softmin(x, dim=0), lambda x: tF().softmin(x, dim=0), [rnd(4, 3)]),
    "one_hot_matmul": (lambda x: F.one_hot(mg.tensor([2, 0, 1]), 3).astype(x.dtype) @ x,
                       lambda x: tF().one_hot(torch().tensor([2, 0, 1]), 3).to(x.dtype) @ x,
                       [rnd(3, 2)]),
    "sdpa": (F.scaled_dot_product_attention, lambda q, k, v: tF().scaled_dot_product_attention(
        q, k, v), [rnd(2, 4, 3), rnd(2, 5, 3), rnd(2, 5, 2)]),
    "sdpa_bool_mask": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, MASK),
                       lambda q, k, v: tF().scaled_dot_product_attention(
                           q, k, v, torch().tensor(MASK)),
                       [rnd(2, 1, 4, 3), rnd(2, 1, 5, 3), rnd(2, 1, 5, 2)]),
    "sdpa_causal_scale": (lambda q, k, v: F.scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=0.3), lambda q, k, v: tF().scaled_dot_product_attention(
        q, k, v, is_causal=True, scale=0.3), [rnd(3, 4, 2), rnd(3, 4, 2), rnd(3, 4, 3)]),
}


def _run(fn, tfn, arrays, dtype, tol):
    t = torch()
    tdt = t.float64 if dtype == np.float64 else t.float32
    xs = [mg.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    ts = [t.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    y, ty = fn(*xs), tfn(*ts)
    assert y.shape == tuple(ty.shape) and y.dtype == dtype
    assert_close(y, ty, rtol=tol, atol=tol, what="forward")
    seed = R.standard_normal(ty.shape)
    y.backward(seed)
    ty.backward(t.tensor(seed, dtype=tdt))
    for i, (x, tt) in enumerate(zip(xs, ts)):
        assert_close(x.grad, tt.grad, rtol=tol, atol=tol, what=f"grad {i}")


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 1e-4)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(KERNEL_CASES))
def test_nn_torch_set_kernels_match_torch(name, dtype, tol, backend_name):
    _run(*KERNEL_CASES[name], dtype, tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-7), (np.float32, 1e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(ACT_AND_ATTN))
def test_nn_torch_set_composites_match_torch(name, dtype, tol):
    _run(*ACT_AND_ATTN[name], dtype, tol)


@pytest.mark.parametrize("name", sorted(set(KERNEL_CASES) | set(ACT_AND_ATTN)))
def test_nn_torch_set_gradcheck(name):
    fn, _, arrays = {**KERNEL_CASES, **ACT_AND_ATTN}[name]
    with mg.backend.use("numpy"):
        assert mg.gradcheck(fn, [mg.tensor(a, dtype=np.float64, requires_grad=True)
                                 for a in arrays])
