"""Conv2d, MaxPool2d, AvgPool2d and BatchNorm as engine ops: central differences on
the numpy reference (float64), forward and every gradient against PyTorch on every
backend (float64 and float32, running statistics included), and conv against a
composite im2col + matmul built from other engine ops."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, to_torch, torch
from minigrad.ops import AvgPool2d, BatchNorm, Conv2d, MaxPool2d

R = np.random.default_rng(3)
DTYPES = [np.float64, np.float32]


def tols(dtype, reduction=1):
    if dtype == np.float64:
        return dict(rtol=1e-9, atol=1e-9)
    return dict(rtol=2e-4, atol=1e-5 * max(1, reduction) ** 0.5)


def leaf(a, dtype=np.float64):
    return mg.Tensor(np.asarray(a, dtype=dtype), requires_grad=True, dtype=dtype)


def t64(a, requires_grad=True):
    """A float64 torch leaf from any array (float32 cases are replayed in float64)."""
    return to_torch(np.asarray(a, dtype=np.float64), requires_grad)


# ------------------------------------------------------------------------- conv2d

CONV_CASES = {  # name -> x shape, w shape, stride, padding, bias
    "s1_p0_bias": ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (0, 0), True),
    "s1_p1_nobias": ((2, 2, 5, 4), (3, 2, 3, 2), (1, 1), (1, 1), False),
    "s2_p1_bias": ((1, 3, 7, 7), (2, 3, 3, 3), (2, 2), (1, 1), True),
    "s21_p01_nonsquare": ((3, 1, 9, 4), (2, 1, 2, 3), (2, 1), (0, 1), True),
    "1x1_batch1": ((1, 4, 3, 3), (5, 4, 1, 1), (1, 1), (0, 0), False),
}


def conv_inputs(case, dtype):
    xs, ws, _, _, bias = CONV_CASES[case]
    arrays = [R.standard_normal(xs), R.standard_normal(ws) / 3]
    if bias:
        arrays.append(R.standard_normal(ws[0]))
    return [a.astype(dtype) for a in arrays]


def conv_fn(case):
    _, _, stride, padding, _ = CONV_CASES[case]
    return lambda x, w, b=None: Conv2d.apply(x, w, b, stride=stride, padding=padding)


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_gradcheck(case):
    with mg.backend.use("numpy"):
        assert mg.gradcheck(conv_fn(case), conv_inputs(case, np.float64))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_matches_torch(backend_name, case, dtype):
    T = torch()
    arrays = conv_inputs(case, dtype)
    xs = [leaf(a, dtype) for a in arrays]
    y = conv_fn(case)(*xs)
    dy = R.standard_normal(y.shape).astype(dtype)
    y.backward(dy)
    ts = [t64(a) for a in arrays]
    _, ws, stride, padding, bias = CONV_CASES[case]
    ty = T.nn.functional.conv2d(ts[0], ts[1], ts[2] if bias else None, stride, padding)
    ty.backward(t64(dy, False))
    k = int(np.prod(ws[1:]))
    assert y.dtype == dtype
    assert_close(y, ty, **tols(dtype, k), what=f"{backend_name} conv2d forward")
    for name, mine, theirs in zip(("dx", "dw", "db"), xs, ts):
        assert_close(mine.grad, theirs.grad, **tols(dtype, y.size // ws[0]),
                     what=f"{backend_name} conv2d {name}")


def conv_composite(x, w, b, stride, padding):
    """The same convolution from engine ops only: zero padding by concat, one strided
    slice per kernel tap, stacked into im2col columns, and a batched matmul."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    if ph:
        z = mg.Tensor(np.zeros((n, c, ph, wd), x.dtype), dtype=x.dtype)
        x = mg.concat([z, x, z], axis=2)
    if pw:
        z = mg.Tensor(np.zeros((n, c, x.shape[2], pw), x.dtype), dtype=x.dtype)
        x = mg.concat([z, x, z], axis=3)
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    taps = [x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    cols = mg.stack(taps, axis=2).reshape(n, c * kh * kw, oh * ow)
    y = w.reshape(f, c * kh * kw) @ cols
    if b is not None:
        y = y + b.reshape(1, f, 1)
    return y.reshape(n, f, oh, ow)


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_matches_composite_im2col(backend_name, case):
    arrays = conv_inputs(case, np.float64)
    _, _, stride, padding, _ = CONV_CASES[case]
    fused = [leaf(a) for a in arrays]
    plain = [leaf(a) for a in arrays]
    y1 = conv_fn(case)(*fused)
    y2 = conv_composite(*plain, *([None] if len(plain) == 2 else []), stride, padding)
    dy = R.standard_normal(y1.shape)
    y1.backward(dy)
    y2.backward(dy)
    assert_close(y1, y2.data, rtol=1e-10, atol=1e-10, what="conv2d forward")
    for a, b in zip(fused, plain):
        assert_close(a.grad, b.grad.data, rtol=1e-10, atol=1e-10, what="conv2d grad")


def test_conv2d_asks_only_for_the_gradients_it_needs(monkeypatch):
    from minigrad.backend import numpy_ref

    seen = []
    real = numpy_ref.conv2d_backward

    def spy(*args, **kwargs):
        seen.append((kwargs["need_dx"], kwargs["need_dw"], kwargs["need_db"]))
        return real(*args, **kwargs)

    x = mg.Tensor(R.standard_normal((1, 2, 4, 4)), dtype=np.float64)  # no grad wanted
    w, b = leaf(R.standard_normal((3, 2, 3, 3))), leaf(np.zeros(3))
    with mg.backend.use("numpy"):
        # the ops call through the backend's dispatch table, built once
        monkeypatch.setattr(mg.backend.current(), "conv2d_backward", spy)
        Conv2d.apply(x, w, None, stride=(1, 1), padding=(0, 0)).sum().backward()
        Conv2d.apply(x, w, b, stride=(1, 1), padding=(1, 1)).sum().backward()
    assert seen == [(False, True, False), (False, True, True)]
    assert w.grad is not None and x.grad is None and b.grad is not None


def test_conv2d_bad_shapes_name_the_op(backend_name):
    x, w = mg.Tensor(np.ones((1, 3, 5, 5))), mg.Tensor(np.ones((2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: weight expects 4 input channels, got "
                                         r"x\(1, 3, 5, 5\), w\(2, 4, 3, 3\)"):
        Conv2d.apply(x, w, None, stride=(1, 1), padding=(0, 0))


# ------------------------------------------------------------------------ pooling

POOL_CASES = {  # name -> x shape, kernel, stride
    "k2s2": ((2, 3, 6, 4), (2, 2), (2, 2)),
    "k3s1_overlap": ((1, 2, 5, 5), (3, 3), (1, 1)),
    "k23_s12_odd": ((2, 1, 7, 9), (2, 3), (1, 2)),
    "k1_batch1": ((1, 1, 3, 3), (1, 1), (1, 1)),
}
POOLS = {"max": (MaxPool2d, "max_pool2d"), "avg": (AvgPool2d, "avg_pool2d")}


@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool_gradcheck(kind, case):
    xs, kernel, stride = POOL_CASES[case]
    op = POOLS[kind][0]
    with mg.backend.use("numpy"):
        assert mg.gradcheck(lambda x: op.apply(x, kernel=kernel, stride=stride),
                            [R.standard_normal(xs)])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pool_matches_torch(backend_name, kind, case, dtype):
    T = torch()
    xs, kernel, stride = POOL_CASES[case]
    op, torch_name = POOLS[kind]
    a = R.standard_normal(xs).astype(dtype)
    x = leaf(a, dtype)
    y = op.apply(x, kernel=kernel, stride=stride)
    dy = R.standard_normal(y.shape).astype(dtype)
    y.backward(dy)
    tx = t64(a)
    ty = getattr(T.nn.functional, torch_name)(tx, kernel, stride)
    ty.backward(t64(dy, False))
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert_close(y, ty, **tols(dtype), what=f"{backend_name} {kind}pool forward")
    assert_close(x.grad, tx.grad, **tols(dtype), what=f"{backend_name} {kind}pool dx")


def test_maxpool_stride_defaults_to_kernel(backend_name):
    x = mg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(MaxPool2d.apply(x, kernel=(2, 2)).data,
                                  [[[[5.0, 7.0], [13.0, 15.0]]]])


# --------------------------------------------------------------------- batch norm

BN_SHAPES = {"2d": (8, 5), "4d": (3, 4, 5, 3)}


def bn_case(shape, dtype):
    c = shape[1]
    x = (R.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma, beta = R.uniform(0.5, 1.5, c).astype(dtype), R.standard_normal(c).astype(dtype)
    stats = (R.standard_normal(c).astype(dtype), R.uniform(0.5, 2.0, c).astype(dtype))
    return x, gamma, beta, stats


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layout", sorted(BN_SHAPES))
def test_batchnorm_gradcheck(layout, training):
    x, gamma, beta, (rm, rv) = bn_case(BN_SHAPES[layout], np.float64)

    def fn(x, g, b):  # fresh running arrays each call: only the output matters here
        return BatchNorm.apply(x, g, b, running_mean=rm.copy(), running_var=rv.copy(),
                               training=training, momentum=0.1, eps=1e-5)

    with mg.backend.use("numpy"):
        assert mg.gradcheck(fn, [x, gamma, beta])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("layout", sorted(BN_SHAPES))
def test_batchnorm_matches_torch(backend_name, layout, training, dtype):
    T = torch()
    x, gamma, beta, (rm, rv) = bn_case(BN_SHAPES[layout], dtype)
    xs = [leaf(a, dtype) for a in (x, gamma, beta)]
    mine = (rm.copy(), rv.copy())
    y = BatchNorm.apply(*xs, running_mean=mine[0], running_var=mine[1], training=training,
                        momentum=0.2, eps=1e-3)
    dy = R.standard_normal(y.shape).astype(dtype)
    y.backward(dy)
    ts = [t64(a) for a in (x, gamma, beta)]
    trm, trv = t64(rm, False), t64(rv, False)
    ty = T.nn.functional.batch_norm(ts[0], trm, trv, ts[1], ts[2], training=training,
                                    momentum=0.2, eps=1e-3)
    ty.backward(t64(dy, False))
    assert y.dtype == dtype and all(t.grad.dtype == dtype for t in xs)
    n = x.size // x.shape[1]
    assert_close(y, ty, **tols(dtype), what=f"{backend_name} batchnorm forward")
    assert_close(mine[0], trm, **tols(dtype), what="running_mean")
    assert_close(mine[1], trv, **tols(dtype), what="running_var")
    for name, m, t in zip(("dx", "dgamma", "dbeta"), xs, ts):
        assert_close(m.grad, t.grad, **tols(dtype, n), what=f"{backend_name} bn {name}")


def test_batchnorm_without_affine_or_running_stats_in_training(backend_name):
    x = leaf(R.standard_normal((6, 3)))
    y = BatchNorm.apply(x, None, None, training=True)
    var = x.data.var(axis=0)
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(axis=0), var / (var + 1e-5), rtol=1e-10)
    y.backward(R.standard_normal(y.shape))
    assert x.grad is not None and x.grad.shape == (6, 3)


def test_batchnorm_errors_name_the_problem(backend_name):
    x = mg.Tensor(np.ones((4, 3)), dtype=np.float64)
    g = mg.Tensor(np.ones(3), dtype=np.float64)
    with pytest.raises(ValueError, match="eval mode needs running_mean and running_var"):
        BatchNorm.apply(x, g, g, training=False)
    with pytest.raises(ValueError, match=r"batchnorm: gamma must have shape \(3,\)"):
        BatchNorm.apply(x, mg.Tensor(np.ones(2), dtype=np.float64), g,
                        running_mean=np.zeros(3), running_var=np.ones(3), training=True)
    with pytest.raises(ValueError, match="training needs more than one value per channel"):
        BatchNorm.apply(mg.Tensor(np.ones((1, 3)), dtype=np.float64), g, g,
                        running_mean=np.zeros(3), running_var=np.ones(3), training=True)
