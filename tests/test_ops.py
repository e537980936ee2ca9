"""Every core op: gradient vs central differences (float64) and value + gradient vs
PyTorch, on random shapes with broadcasting, size-1 and 0-d cases."""
import numpy as np
import pytest

import minigrad as mg
from helpers import assert_close, torch

R = np.random.default_rng(7)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def rnd(*shape):
    return R.standard_normal(shape)


def away_from_zero(*shape):
    x = R.uniform(0.3, 2.0, shape)
    return x * R.choice([-1.0, 1.0], shape)


# name -> (minigrad fn, torch fn, input arrays)
CASES = {
    "add_broadcast": (lambda a, b: a + b, lambda a, b: a + b, [rnd(3, 4), rnd(4)]),
    "add_scalar_0d": (lambda a, b: a + b, lambda a, b: a + b, [rnd(), rnd(2, 1)]),
    "sub_broadcast": (lambda a, b: a - b, lambda a, b: a - b, [rnd(2, 1, 3), rnd(4, 1)]),
    "mul_broadcast": (lambda a, b: a * b, lambda a, b: a * b, [rnd(3, 1), rnd(1, 5)]),
    "div_broadcast": (lambda a, b: a / b, lambda a, b: a / b, [rnd(2, 3), pos(3)]),
    "rdiv_const": (lambda a: 2.0 / a, lambda a: 2.0 / a, [pos(4)]),
    "rsub_const": (lambda a: 1.0 - a, lambda a: 1.0 - a, [rnd(4)]),
    "neg": (lambda a: -a, lambda a: -a, [rnd(2, 3)]),
    "pow_const": (lambda a: a ** 3, lambda a: a ** 3, [rnd(3, 2)]),
    "pow_frac": (lambda a: a ** 0.5, lambda a: a ** 0.5, [pos(5)]),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, [pos(3, 2), rnd(2)]),
    "exp": (mg.exp, lambda a: a.exp(), [rnd(3, 4)]),
    "log": (mg.log, lambda a: a.log(), [pos(3, 4)]),
    "sqrt": (mg.sqrt, lambda a: a.sqrt(), [pos(6)]),
    "abs": (mg.abs, lambda a: a.abs(), [away_from_zero(2, 5)]),
    "tanh": (mg.tanh, lambda a: a.tanh(), [rnd(3, 3)]),
    "sigmoid": (mg.sigmoid, lambda a: a.sigmoid(), [rnd(3, 3) * 4]),
    "relu": (mg.relu, lambda a: a.relu(), [away_from_zero(4, 3)]),
    "sum_all": (lambda a: a.sum(), lambda a: a.sum(), [rnd(3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [rnd(3, 4, 2)]),
    "sum_keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True),
                     lambda a: a.sum(dim=(0, 2), keepdim=True), [rnd(3, 4, 2)]),
    "mean_axis": (lambda a: a.mean(axis=-1), lambda a: a.mean(dim=-1), [rnd(2, 5)]),
    "mean_0d": (lambda a: a.mean(), lambda a: a.mean(), [rnd()]),
    "max_axis": (lambda a: a.max(axis=0), lambda a: a.amax(dim=0), [rnd(4, 3)]),
    "min_keepdims": (lambda a: a.min(axis=1, keepdims=True),
                     lambda a: a.amin(dim=1, keepdim=True), [rnd(4, 3)]),
    "max_ties": (lambda a: a.max(), lambda a: a.amax(), [np.array([1.0, 3.0, 3.0, 2.0])]),
    "var_pop": (lambda a: a.var(axis=0), lambda a: a.var(dim=0, correction=0), [rnd(5, 3)]),
    "var_unbiased": (lambda a: a.var(ddof=1), lambda a: a.var(correction=1), [rnd(6)]),
    "std": (lambda a: a.std(axis=1), lambda a: a.std(dim=1, correction=0), [rnd(3, 5)]),
    "reshape": (lambda a: a.reshape(4, 3) * mg.tensor(np.arange(12.).reshape(4, 3),
                                                      dtype=np.float64),
                lambda a: a.reshape(4, 3) * torch().arange(12.).double().reshape(4, 3),
                [rnd(2, 6)]),
    "transpose": (lambda a: a.transpose() @ a, lambda a: a.T @ a, [rnd(3, 2)]),
    "permute": (lambda a: a.permute(2, 0, 1).reshape(-1) * mg.tensor(
        np.arange(24.), dtype=np.float64),
                lambda a: a.permute(2, 0, 1).reshape(-1) * torch().arange(24.).double(),
                [rnd(2, 3, 4)]),
    "swapaxes": (lambda a: a.swapaxes(0, 2).sum(axis=0), lambda a: a.transpose(0, 2).sum(0),
                 [rnd(2, 3, 4)]),
    "matmul_2d": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(3, 4), rnd(4, 5)]),
    "matmul_vec": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(3, 4), rnd(4)]),
    "matmul_vec_left": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(4), rnd(4, 2)]),
    "matmul_dot": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(5), rnd(5)]),
    "matmul_batched": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(2, 3, 4), rnd(2, 4, 5)]),
    "matmul_bcast": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(2, 3, 4), rnd(4, 2)]),
    "matmul_bcast_left": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(3, 4), rnd(2, 4, 2)]),
    "matmul_4d": (lambda a, b: a @ b, lambda a, b: a @ b, [rnd(2, 1, 3, 4), rnd(3, 4, 2)]),
    "matmul_transposed_view": (lambda a, b: a.T @ b.T, lambda a, b: a.T @ b.T,
                               [rnd(4, 3), rnd(5, 4)]),
    "getitem_slice": (lambda a: a[1:, ::2], lambda a: a[1:, ::2], [rnd(4, 5)]),
    "getitem_int_array_repeat": (lambda a: a[np.array([0, 2, 0, 0])],
                                 lambda a: a[[0, 2, 0, 0]], [rnd(3, 2)]),
    "getitem_pairs": (lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])],
                      lambda a: a[[0, 1, 1], [2, 0, 2]], [rnd(2, 3)]),
    "getitem_scalar": (lambda a: a[1, 2], lambda a: a[1, 2], [rnd(2, 3)]),
    "concat": (lambda a, b: mg.concat([a, b, a], axis=1),
               lambda a, b: torch().cat([a, b, a], dim=1), [rnd(2, 3), rnd(2, 1)]),
    "stack": (lambda a, b: mg.stack([a, b], axis=1),
              lambda a, b: torch().stack([a, b], dim=1), [rnd(2, 3), rnd(2, 3)]),
    "where": (lambda a, b: mg.where(a > 0, a, b), lambda a, b: torch().where(a > 0, a, b),
              [away_from_zero(3, 4), rnd(4)]),
    "maximum": (mg.maximum, torch_max := (lambda a, b: torch().maximum(a, b)),
                [rnd(3, 4), rnd(4)]),
    "minimum": (mg.minimum, lambda a, b: torch().minimum(a, b), [rnd(3, 1), rnd(3, 4)]),
    "maximum_ties": (mg.maximum, lambda a, b: torch().maximum(a, b),
                     [np.array([1.0, 2.0]), np.array([1.0, 0.0])]),
    "clip": (lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7),
             [np.array([-1.0, -0.2, 0.1, 0.69, 1.5])]),
    "clip_low_only": (lambda a: mg.clip(a, 0.0), lambda a: a.clamp(min=0.0),
                      [away_from_zero(5)]),
    "flatten": (lambda a: a.flatten(1) @ mg.tensor(np.ones((12, 2)), dtype=np.float64),
                lambda a: a.flatten(1) @ torch().ones(12, 2).double(), [rnd(2, 3, 4)]),
    "used_twice": (lambda a: a * a + a.exp() * a, lambda a: a * a + a.exp() * a,
                   [rnd(3)]),
    "chain": (lambda a, b: ((a @ b).tanh() * 3 - b.sum()).relu().mean(),
              lambda a, b: ((a @ b).tanh() * 3 - b.sum()).relu().mean(),
              [rnd(4, 3), rnd(3, 2)]),
}


def _mg_inputs(arrays):
    return [mg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradcheck_float64(name):
    fn, _, arrays = CASES[name]
    assert mg.gradcheck(fn, _mg_inputs(arrays))


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_torch(name):
    th = torch()
    fn, tfn, arrays = CASES[name]
    xs = _mg_inputs(arrays)
    ts = [th.tensor(a, dtype=th.float64, requires_grad=True) for a in arrays]
    y, ty = fn(*xs), tfn(*ts)
    assert_close(y, ty, rtol=1e-10, atol=1e-12, what=f"{name} forward")
    seed = R.standard_normal(ty.shape)
    y.backward(seed)
    ty.backward(th.tensor(seed))
    for i, (x, t) in enumerate(zip(xs, ts)):
        expected = t.grad if t.grad is not None else th.zeros_like(t)
        got = x.grad if x.grad is not None else np.zeros(x.shape)
        assert_close(got, expected, rtol=1e-9, atol=1e-12, what=f"{name} grad {i}")


@pytest.mark.parametrize("name", ["add_broadcast", "matmul_2d", "sigmoid", "chain",
                                  "getitem_int_array_repeat", "var_pop"])
def test_op_float32_matches_float64(name):
    fn, _, arrays = CASES[name]
    x32 = [mg.tensor(a, requires_grad=True) for a in arrays]
    x64 = _mg_inputs(arrays)
    y32, y64 = fn(*x32), fn(*x64)
    assert y32.dtype == np.float32 and y64.dtype == np.float64
    assert_close(y32, y64.data, rtol=1e-4, atol=1e-5)
    y32.sum().backward()
    y64.sum().backward()
    for a, b in zip(x32, x64):
        assert a.grad.dtype == np.float32
        assert_close(a.grad, b.grad.data, rtol=1e-4, atol=1e-4)


def test_sigmoid_extreme_inputs_finite():
    x = mg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    y = x.sigmoid()
    y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    assert y.data[0] == 0.0 and y.data[-1] == 1.0
