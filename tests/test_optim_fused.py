"""The fused Numba optimizer kernels (minigrad/optim/fused.py) against the numpy
rule they replace: every optimizer and option over 25 steps in float32 and float64
(and against torch.optim in float64), non-finite gradients, state dicts passed
between the two paths, the fallbacks (layout, dtype, no Numba, the environment
switch), and the kernels interpreted with NUMBA_DISABLE_JIT=1.

The trajectories against torch.optim in float32 are tests/test_optim.py's, run on
both paths there."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from tests.helpers import torch
from tests.test_optim import CASES, STEPS

pytest.importorskip("numba", reason="the fused optimizer kernels need Numba")

SHAPES = [(13, 7), (7,), (1,), (3, 13)]  # odd sizes: vector loops plus remainders


def _weights(dtype, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.8, 0.8, s).astype(dtype) for s in SHAPES]


def _grads(dtype, steps=STEPS, seed=4):
    """Per step, per parameter: a gradient, with a few exact zeros (eps paths)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        gs = [rng.normal(0, 0.5, s).astype(dtype) for s in SHAPES]
        gs[0][0, :3] = 0
        out.append(gs)
    return out


def run(cls, kwargs, fused, dtype=np.float32, steps=STEPS, grads=None, opt_hook=None):
    """Parameters after each step when the gradients of _grads are applied."""
    params = [mg.Tensor(w, requires_grad=True, dtype=dtype) for w in _weights(dtype)]
    opt = cls(params, fused=fused, **kwargs)
    assert opt.fused is fused
    trajectory = []
    for t, gs in enumerate(grads if grads is not None else _grads(dtype, steps)):
        if opt_hook:
            opt = opt_hook(t, opt, params)
        for p, g in zip(params, gs):
            p.grad = mg.Tensor._wrap(g.copy())
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


def assert_paths_agree(mine, ref, rtol, atol):
    for t, (a, b) in enumerate(zip(mine, ref)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            assert pa.dtype == pb.dtype
            np.testing.assert_allclose(pa, pb, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"step {t + 1}, parameter {i}")


# CASES of test_optim (every option), plus the Keras clipping on top of a few
MORE = {
    "sgd_momentum_clipnorm": (optim.SGD, None, dict(lr=0.05, momentum=0.9, clipnorm=0.3)),
    "rmsprop_centered_clipvalue": (optim.RMSprop, None, dict(lr=3e-3, centered=True,
                                                             clipvalue=0.2)),
    "adam_clipnorm_wd": (optim.Adam, None, dict(lr=1e-2, clipnorm=0.5, weight_decay=0.1)),
    "adamw_amsgrad_clipvalue": (optim.AdamW, None, dict(lr=1e-2, amsgrad=True,
                                                        clipvalue=0.1)),
    "adagrad_clipvalue": (optim.Adagrad, None, dict(lr=0.05, clipvalue=0.3)),
}
ALL_CASES = {**CASES, **MORE}


@pytest.mark.parametrize("case", list(ALL_CASES), ids=list(ALL_CASES))
def test_fused_matches_numpy_float32(case):
    cls, _, kwargs = ALL_CASES[case]
    fused, ref = run(cls, kwargs, True), run(cls, kwargs, False)
    assert not np.allclose(fused[-1][0], _weights(np.float32)[0]), "no movement"
    # the same float32 operations in the same order: equal to the rounding of a
    # few ulps at most (in practice bit for bit)
    assert_paths_agree(fused, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fused_float64_matches_numpy_and_torch(case):
    cls, name, kwargs = CASES[case]
    fused, ref = run(cls, kwargs, True, np.float64), run(cls, kwargs, False, np.float64)
    assert_paths_agree(fused, ref, rtol=1e-13, atol=1e-15)
    T = torch()
    params = [T.tensor(w, requires_grad=True) for w in _weights(np.float64)]
    opt = getattr(T.optim, name)(params, foreach=False, **kwargs)
    theirs = []
    for gs in _grads(np.float64):
        for p, g in zip(params, gs):
            p.grad = T.tensor(g)
        opt.step()
        theirs.append([p.detach().numpy().copy() for p in params])
    assert_paths_agree(fused, theirs, rtol=1e-10, atol=1e-12)


NONFINITE = {"sgd_nesterov_wd": CASES["sgd_nesterov_wd"],
             "rmsprop_centered_momentum_wd": CASES["rmsprop_centered_momentum_wd"],
             "adam_amsgrad": CASES["adam_amsgrad"], "adamw_amsgrad": CASES["adamw_amsgrad"],
             "adagrad": CASES["adagrad"]}


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("case", list(NONFINITE), ids=list(NONFINITE))
def test_nonfinite_gradients_spread_alike(case):
    """A NaN or inf in a gradient reaches the same weights and state on both paths
    (amsgrad's running max keeps a NaN, as np.maximum does)."""
    cls, _, kwargs = NONFINITE[case]
    grads = _grads(np.float32, steps=6)
    grads[2][0][1, 1], grads[3][0][4, 2], grads[2][3][0, 0] = np.nan, np.inf, -np.inf
    fused = run(cls, kwargs, True, grads=grads)
    ref = run(cls, kwargs, False, grads=grads)
    assert np.isnan(fused[-1][0]).any()
    for t, (a, b) in enumerate(zip(fused, ref)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_array_equal(np.isnan(pa), np.isnan(pb), f"step {t + 1} p{i}")
    assert_paths_agree(fused, ref, rtol=1e-6, atol=1e-7)


RESUME = ("sgd_nesterov_wd", "rmsprop_centered_momentum_wd", "adam_amsgrad",
          "adamw_amsgrad", "adagrad_initial_accumulator")


@pytest.mark.parametrize("first,second", [(True, False), (False, True)],
                         ids=["fused_to_numpy", "numpy_to_fused"])
@pytest.mark.parametrize("case", RESUME, ids=RESUME)
def test_state_dict_moves_between_paths(case, first, second):
    """Ten steps on one path, the state dict loaded into a new optimizer on the other
    path, fifteen more: the trajectory of fifteen more steps without stopping."""
    cls, _, kwargs = CASES[case]
    straight = run(cls, kwargs, first)

    def switch(t, opt, params):
        if t != 10:
            return opt
        sd = opt.state_dict()
        new = cls(params, fused=second, **kwargs)
        new.load_state_dict(sd)
        assert new.fused is second and new.state_dict()["iterations"] == 10
        return new

    resumed = run(cls, kwargs, first, opt_hook=switch)
    assert_paths_agree(resumed, straight, rtol=1e-6, atol=1e-7)


def test_state_dicts_have_the_same_keys_on_both_paths():
    for case in RESUME:
        cls, _, kwargs = CASES[case]
        dicts = []
        for fused in (True, False):
            params = [mg.Tensor(w, requires_grad=True) for w in _weights(np.float32)]
            opt = cls(params, fused=fused, **kwargs)
            for p, g in zip(params, _grads(np.float32, 1)[0]):
                p.grad = mg.Tensor._wrap(g)
            opt.step()
            dicts.append(opt.state_dict())
        assert {i: sorted(s) for i, s in dicts[0]["state"].items()} == {
            i: sorted(s) for i, s in dicts[1]["state"].items()}, case
        assert dicts[0]["param_groups"] == dicts[1]["param_groups"], case


# ----- fallbacks and the switch ------------------------------------------------------
def _step_once(cls, data, state_order=None, **kwargs):
    w = mg.Tensor._wrap(data)
    w.requires_grad = True
    opt = cls([w], **kwargs)
    pattern = np.arange(data.size).reshape(data.shape) % 7 - 3.5  # differ, never 0
    for k in range(3):
        w.grad = mg.Tensor._wrap((pattern * (0.1 * (k + 1))).astype(data.dtype))
        opt.step()
        if state_order and k == 0:  # the state as a state dict from elsewhere might be
            sd = opt.state_dict()
            for s in sd["state"].values():
                for key, v in s.items():
                    if isinstance(v, np.ndarray):
                        s[key] = np.asarray(v, order=state_order)
            opt.load_state_dict(sd)
    return w.data


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop, optim.Adam, optim.Adagrad],
                         ids=lambda c: c.__name__)
def test_unfusable_layouts_and_dtypes_take_the_numpy_rule(cls):
    kw = dict(momentum=0.9) if cls in (optim.SGD, optim.RMSprop) else {}
    base = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    # a strided view, F-ordered data, F-ordered state for C-ordered data, float16
    for make, order in [(lambda: base.copy()[:, ::2], None),
                        (lambda: np.asfortranarray(base), None),
                        (lambda: base.copy(), "F"),
                        (lambda: base.astype(np.float16), None)]:
        a = _step_once(cls, make(), order, fused=True, **kw)
        b = _step_once(cls, make(), order, fused=False, **kw)
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert not np.array_equal(a, make())


def test_flat_accepts_only_one_contiguous_order_and_dtype():
    from minigrad.optim.fused import flat
    c = np.zeros((4, 6), np.float32)
    order, views = flat(c, np.ones_like(c), None)
    assert order == "C" and views[2] is None and views[1].shape == (24,)
    views[0][7] = 5.0  # views, not copies
    assert c[1, 1] == 5.0
    f = np.asfortranarray(c)
    assert flat(f, np.zeros_like(f))[0] == "F"
    assert flat(c, f) is None and flat(f, c) is None
    assert flat(c, c.astype(np.float64)) is None
    assert flat(c[:, ::2]) is None
    assert flat(c.astype(np.float16)) is None
    assert flat(c, np.zeros((6, 4), np.float32)) is None
    assert flat(np.zeros((), np.float64))[1][0].shape == (1,)


def test_environment_switch_and_flag(monkeypatch):
    from minigrad.optim import fused as kernels
    w = [mg.Tensor(np.ones(2), requires_grad=True)]
    monkeypatch.delenv("MINIGRAD_FUSED_OPTIM", raising=False)
    if not kernels.JIT_DISABLED:
        assert optim.Adam(w).fused is True  # Numba imports (the module was not skipped)
    monkeypatch.setenv("MINIGRAD_FUSED_OPTIM", "0")
    assert optim.Adam(w).fused is False
    assert optim.SGD(w, fused=True).fused is True  # the argument wins
    assert optim.RMSprop(w, fused=np.bool_(False)).fused is False
    with pytest.raises(ValueError, match=r"Adagrad: fused must be None, True or False, "
                                         r"got 'yes'"):
        optim.Adagrad(w, fused="yes")


def test_without_numba_fused_none_falls_back_and_true_is_refused(monkeypatch):
    import minigrad.optim as package
    monkeypatch.delattr(package, "fused", raising=False)
    monkeypatch.setitem(sys.modules, "minigrad.optim.fused", None)  # import fails
    w = [mg.Tensor(np.ones(2), requires_grad=True)]
    opt = optim.AdamW(w)
    assert opt.fused is False
    w[0].grad = mg.Tensor(np.ones(2))
    opt.step()
    with pytest.raises(RuntimeError, match=r"AdamW: fused=True needs Numba, which failed "
                                           r"to import.*pass fused=False"):
        optim.AdamW(w, fused=True)


_INTERPRETED = textwrap.dedent("""
    import numpy as np, minigrad as mg
    from minigrad import optim
    from minigrad.optim import fused
    assert fused.JIT_DISABLED
    cases = [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
             (optim.SGD, dict(lr=0.1)),
             (optim.RMSprop, dict(centered=True, momentum=0.5, weight_decay=0.1)),
             (optim.Adam, dict(amsgrad=True, weight_decay=0.1)),
             (optim.AdamW, dict(lr=0.01)),
             (optim.Adagrad, dict(lr_decay=0.1, initial_accumulator_value=0.1))]
    for cls, kw in cases:
        assert cls([mg.Tensor(np.ones(1), requires_grad=True)], **kw).fused is False
        out = []
        for flag in (True, False):
            rng = np.random.default_rng(0)
            w = mg.Tensor(rng.normal(size=(3, 5)), requires_grad=True)
            opt = cls([w], fused=flag, **kw)
            for _ in range(4):
                w.grad = mg.Tensor(rng.normal(size=(3, 5)))
                opt.step()
            out.append(w.data)
        assert np.abs(out[0] - out[1]).max() <= 1e-6, (cls.__name__, kw, out)
    print("ok")
""")


def test_kernels_interpreted_with_jit_disabled():
    """NUMBA_DISABLE_JIT=1: the default is the numpy rule, and fused=True runs the
    kernels as Python and gives the same weights."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env.pop("MINIGRAD_FUSED_OPTIM", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", _INTERPRETED], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_kernels_compile_to_vector_loops():
    """Each kernel, compiled with the module's options, holds vector float stores in
    its LLVM IR: a check in the loop that stops vectorisation (a division-by-zero
    error model, a branch LLVM cannot hoist) costs 2-5x. Compiled afresh without
    the disk cache, whose code cannot be inspected."""
    import re

    from numba import njit

    from minigrad.optim import fused
    options = {**fused._JIT, "cache": False}
    f32 = [np.ones(64, np.float32) for _ in range(5)]
    p, g, m, v, w = f32
    h = np.full(9, 0.5, np.float32)
    calls = {"sgd_step": (p, g, h, True),
             "sgd_momentum_step": (p, g, m, h, True, True, False),
             "rmsprop_step": (p, g, v, m, w, h, True, True, True),
             "adam_step": (p, g, m, v, w, h, True, False, True),
             "adagrad_step": (p, g, m, h, True)}
    for name, args in calls.items():
        kernel = njit(**options)(getattr(fused, name).py_func)
        kernel(*args)
        ir = kernel.inspect_llvm(kernel.signatures[0])
        assert re.search(r"store <\d+ x float>", ir), f"{name}: no vector stores"


@pytest.mark.parametrize("fused,arrays", [(True, 2), (False, 4)], ids=["fused", "numpy"])
def test_first_adam_step_allocates_state_and_work_arrays_only_as_needed(fused, arrays):
    """Adam's state is two arrays of the parameter's size; the numpy rule adds two
    work arrays, the fused kernel none (no clipping, gradient already C-ordered)."""
    import tracemalloc

    for shape in ((3,), (200, 100)):  # the first loads the kernel (not traced)
        w = mg.Tensor(np.ones(shape), requires_grad=True)
        w.grad = mg.Tensor(np.full(shape, 0.5))
        opt = optim.Adam([w], fused=fused)
        if len(shape) == 1:
            opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert arrays * w.data.nbytes <= peak < (arrays + 0.5) * w.data.nbytes, peak
