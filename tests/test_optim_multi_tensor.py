"""The multi-tensor Adam/AdamW step of the C backend (csrc/adam.c through
minigrad/optim/multi_tensor.py) against the numpy rule (fused=False, the reference),
the per-parameter Numba kernels (the numba backend) and torch.optim.Adam/AdamW: bit
for bit over several steps, with weight decay (coupled and decoupled), amsgrad,
mixed shapes and dtypes, parameters without a gradient at some steps (so different
step counts), a constraint, state dicts moved between the paths, and the kernel's
argument checks."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.optim import multi_tensor
from tests.helpers import torch

pytest.importorskip("numba", reason="the fused optimizer path needs Numba")
pytestmark = pytest.mark.skipif("c" not in mg.backend.available(),
                                reason="the C extension is not built")

# mixed shapes: a matrix, odd vectors (vector loops plus remainders), one element
SHAPES = [(37, 29), (29,), (1,), (5, 3, 7), (300,)]
STEPS = 6
CASES = {
    "adam": (optim.Adam, "Adam", dict(lr=1e-2)),
    "adam_wd": (optim.Adam, "Adam", dict(lr=1e-2, weight_decay=0.1)),
    "adam_amsgrad_wd": (optim.Adam, "Adam", dict(lr=3e-3, amsgrad=True, weight_decay=0.05)),
    "adamw": (optim.AdamW, "AdamW", dict(lr=1e-2, weight_decay=0.1)),
    "adamw_amsgrad": (optim.AdamW, "AdamW", dict(lr=1e-2, amsgrad=True,
                                                 betas=(0.8, 0.99), eps=1e-6)),
}


def _trajectory(cls, kwargs, path, dtype=np.float32, skip=None, hook=None, shapes=SHAPES):
    """Parameters after each step. path: "numpy" (fused=False), "numba" (the Numba
    kernels, one call per parameter) or "c" (the multi-tensor kernel). skip(t, i):
    parameter i gets no gradient at step t."""
    rng = np.random.default_rng(5)
    params = [mg.nn.Parameter(rng.uniform(-0.7, 0.7, s), dtype=dtype)
              for s in shapes]
    opt = cls(params, fused=path != "numpy", **kwargs)
    out = []
    with mg.backend.use("numba" if path == "numpy" else path):
        for t in range(STEPS):
            for i, p in enumerate(params):
                g = rng.normal(0, 0.5, p.shape).astype(dtype)
                g.ravel()[:2] = 0  # exact zeros: the eps path
                p.grad = None if skip and skip(t, i) else mg.Tensor._wrap(g)
            if hook:
                opt = hook(t, opt, params)
            opt.step()
            out.append([p.data.copy() for p in params])
    return out


def _same(a, b):
    for t, (sa, sb) in enumerate(zip(a, b)):
        for i, (pa, pb) in enumerate(zip(sa, sb)):
            np.testing.assert_array_equal(pa, pb, err_msg=f"step {t + 1}, parameter {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", list(CASES))
def test_multi_tensor_equals_numpy_and_numba_bit_for_bit(case, dtype):
    cls, _, kwargs = CASES[case]
    c = _trajectory(cls, kwargs, "c", dtype)
    _same(c, _trajectory(cls, kwargs, "numpy", dtype))
    _same(c, _trajectory(cls, kwargs, "numba", dtype))


@pytest.mark.parametrize("case", list(CASES))
def test_multi_tensor_follows_torch(case):
    T = torch()
    cls, name, kwargs = CASES[case]
    mine = _trajectory(cls, kwargs, "c", np.float64)
    rng = np.random.default_rng(5)
    params = [T.tensor(rng.uniform(-0.7, 0.7, s), requires_grad=True) for s in SHAPES]
    opt = getattr(T.optim, name)(params, foreach=False, **kwargs)
    for t in range(STEPS):
        for p in params:
            g = rng.normal(0, 0.5, tuple(p.shape))
            g.ravel()[:2] = 0
            p.grad = T.from_numpy(g)
        opt.step()
        for i, p in enumerate(params):
            np.testing.assert_allclose(mine[t][i], p.detach().numpy(), rtol=1e-12,
                                       atol=1e-14, err_msg=f"step {t + 1}, param {i}")


def test_multi_tensor_runs_one_call_per_bucket(monkeypatch):
    calls = []
    run = multi_tensor.Batch.run

    def counting(self, cache):
        calls.append(sum(len(m) for _, _, m in self._buckets.values()))
        run(self, cache)
    monkeypatch.setattr(multi_tensor.Batch, "run", counting)
    _trajectory(optim.Adam, {}, "c")
    assert calls == [len(SHAPES)] * STEPS  # every parameter, in one batch per step
    calls.clear()
    _trajectory(optim.Adam, {}, "numba")
    assert calls == []  # the numba backend keeps the per-parameter kernels


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_large_tensors_split_over_threads_bit_for_bit(threads):
    """Tensors past the kernel's threshold (2**15 elements) are cut into one share per
    thread, at multiples of 64 elements; shares and the tail must not change a bit."""
    shapes = [(181, 200), (7,), (1 << 15,)]
    kwargs = dict(lr=1e-2, amsgrad=True, weight_decay=0.1)
    before = mg.get_num_threads()
    mg.set_num_threads(threads)
    try:
        c = _trajectory(optim.AdamW, kwargs, "c", shapes=shapes)
    finally:
        mg.set_num_threads(before)
    _same(c, _trajectory(optim.AdamW, kwargs, "numpy", shapes=shapes))


def test_missing_gradients_give_separate_step_counts():
    skip = lambda t, i: (t + i) % 3 == 0  # noqa: E731
    c = _trajectory(optim.Adam, dict(lr=1e-2), "c", skip=skip)
    _same(c, _trajectory(optim.Adam, dict(lr=1e-2), "numpy", skip=skip))


def test_constraint_sees_the_updated_parameter():
    def hook(t, opt, params):
        if t == 0:
            params[0].constraint = lambda w: np.clip(w, -0.2, 0.2)
        return opt
    c = _trajectory(optim.AdamW, dict(lr=0.05), "c", hook=hook)
    _same(c, _trajectory(optim.AdamW, dict(lr=0.05), "numpy", hook=hook))
    assert np.abs(c[-1][0]).max() <= 0.2


@pytest.mark.parametrize("first,second", [("c", "numpy"), ("numpy", "c")])
def test_state_dict_moves_between_paths(first, second):
    """Halfway, a new optimizer of the other path loads the state dict: the run goes
    on as if uninterrupted (the pointer arrays follow the loaded moments)."""
    kwargs = dict(lr=1e-2, amsgrad=True, weight_decay=0.01)

    def hook(t, opt, params):
        if t != STEPS // 2:
            return opt
        new = optim.Adam(params, fused=second != "numpy", **kwargs)
        new.load_state_dict(opt.state_dict())
        return new
    ref = _trajectory(optim.Adam, kwargs, "numpy")
    with mg.backend.use("c"):
        _same(_trajectory(optim.Adam, kwargs, first, hook=hook), ref)


def test_kernel_rejects_bad_arguments():
    from minigrad import _C
    ffi, lib = _C.ffi, _C.lib
    h = np.zeros(8, np.float32)
    hp = ffi.from_buffer("float[]", h)
    assert lib.mg_adam_multi_f32(-1, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL,
                                 ffi.NULL, hp, 0, 0, 0) == -1
    assert lib.mg_adam_multi_f32(0, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL,
                                 ffi.NULL, hp, 0, 0, 0) == 0  # nothing to do
    a = np.zeros(4, np.float32)
    ptr = ffi.new("float *[]", [ffi.from_buffer("float[]", a)])
    nulls = ffi.new("float *[]", [ffi.NULL])
    size = ffi.new("long[]", [4])
    assert lib.mg_adam_multi_f32(1, ptr, ptr, ptr, ptr, ffi.NULL, size, hp, 0, 0, 1) == -1
    assert lib.mg_adam_multi_f32(1, ptr, nulls, ptr, ptr, ffi.NULL, size, hp, 0, 0, 0) == -1
    assert lib.mg_adam_multi_f32(1, ptr, ptr, ptr, ptr, ffi.NULL,
                                 ffi.new("long[]", [-4]), hp, 0, 0, 0) == -1
