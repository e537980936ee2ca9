"""Optimizers: 25-step trajectories against torch.optim, options, parameter groups,
schedules as lr, state-dict resume, frozen parameters, bad input, and the classic
overfit-20-examples sanity check on Fashion-MNIST. The tests that follow a trajectory
run twice: on the numpy rule (fused=False) and on the fused Numba kernels
(fused=True; tests/test_optim_fused.py compares the two paths directly)."""
from __future__ import annotations

import gzip
import math
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from tests.helpers import torch

STEPS = 25


def _numba_imports():
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


# the update path: the numpy rule, or the fused kernels (which need Numba)
FUSED = [pytest.param(False, id="numpy"),
         pytest.param(True, id="fused", marks=pytest.mark.skipif(
             not _numba_imports(), reason="the fused optimizer kernels need Numba"))]
SHAPES = [(8, 5), (8,), (3, 8), (3,)]  # W1, b1, W2, b2 of a 5-8-3 MLP


def _init_weights(seed=7):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.6, 0.6, s).astype(np.float32) for s in SHAPES]


def _data(seed=8):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(16, 5)).astype(np.float32),
            rng.normal(size=(16, 3)).astype(np.float32))


def _mg_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = (mg.Tensor(x) @ w1.T + b1).tanh()
    d = h @ w2.T + b2 - mg.Tensor(y)
    return (d * d).mean()


def _torch_loss(params, x, y):
    T = torch()
    w1, b1, w2, b2 = params
    h = T.tanh(T.from_numpy(x) @ w1.T + b1)
    return ((h @ w2.T + b2 - T.from_numpy(y)) ** 2).mean()


def _groups(params, groups):
    """groups: None (a flat list) or a list of (indices, overrides)."""
    if groups is None:
        return list(params)
    return [{"params": [params[i] for i in idx], **over} for idx, over in groups]


def make_mg(cls, kwargs, groups=None, frozen=(), weights=None, fused=None):
    params = [mg.Tensor(w.copy(), requires_grad=i not in frozen)
              for i, w in enumerate(weights if weights is not None else _init_weights())]
    return params, cls(_groups(params, groups), fused=fused, **kwargs)


def train_mg(params, opt, steps=STEPS, hook=None):
    """Parameters (copies) after each of `steps` full-batch steps on the MLP."""
    x, y = _data()
    out = []
    for t in range(steps):
        if hook:
            hook(t, opt, params)
        opt.zero_grad()
        _mg_loss(params, x, y).backward()
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


def run_mg(cls, kwargs, steps=STEPS, groups=None, frozen=(), hook=None, fused=None):
    return train_mg(*make_mg(cls, kwargs, groups, frozen, fused=fused), steps=steps,
                    hook=hook)


def run_torch(name, kwargs, steps=STEPS, groups=None, frozen=(), lr_lambda=None,
              hook=None, before_step=None):
    """The same in torch.optim; before_step(params) runs between backward and step."""
    T = torch()
    x, y = _data()
    params = [T.tensor(w, requires_grad=i not in frozen)
              for i, w in enumerate(_init_weights())]
    opt = getattr(T.optim, name)(_groups(params, groups), foreach=False, **kwargs)
    sched = T.optim.lr_scheduler.LambdaLR(opt, lr_lambda) if lr_lambda else None
    out = []
    for t in range(steps):
        if hook:
            hook(t, opt, params)
        opt.zero_grad()
        _torch_loss(params, x, y).backward()
        if before_step:
            before_step(params)
        opt.step()
        if sched:
            sched.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


def assert_trajectories_close(mine, ref, rtol=2e-4, atol=2e-5):
    for t, (a, b) in enumerate(zip(mine, ref)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_allclose(pa, pb, rtol=rtol, atol=atol,
                                       err_msg=f"step {t + 1}, parameter {i}")


# (minigrad class, torch name, kwargs): every option of every optimizer
CASES = {
    "sgd": (optim.SGD, "SGD", dict(lr=0.1)),
    "sgd_momentum": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_dampening": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    "sgd_nesterov_wd": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.8, nesterov=True,
                                               weight_decay=0.05)),
    "rmsprop": (optim.RMSprop, "RMSprop", dict()),
    "rmsprop_alpha": (optim.RMSprop, "RMSprop", dict(lr=3e-3, alpha=0.9, eps=1e-6)),
    "rmsprop_momentum": (optim.RMSprop, "RMSprop", dict(lr=3e-3, momentum=0.9)),
    "rmsprop_centered": (optim.RMSprop, "RMSprop", dict(lr=3e-3, centered=True)),
    "rmsprop_centered_momentum_wd": (optim.RMSprop, "RMSprop", dict(
        lr=3e-3, centered=True, momentum=0.5, weight_decay=0.1)),
    "adam": (optim.Adam, "Adam", dict()),
    "adam_lr_betas": (optim.Adam, "Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    "adam_weight_decay": (optim.Adam, "Adam", dict(lr=1e-2, weight_decay=0.1)),
    "adam_amsgrad": (optim.Adam, "Adam", dict(lr=1e-2, amsgrad=True)),
    "adamw": (optim.AdamW, "AdamW", dict()),
    "adamw_decoupled": (optim.AdamW, "AdamW", dict(lr=1e-2, weight_decay=0.5)),
    "adamw_amsgrad": (optim.AdamW, "AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    "adagrad": (optim.Adagrad, "Adagrad", dict()),
    "adagrad_initial_accumulator": (optim.Adagrad, "Adagrad", dict(
        lr=0.05, initial_accumulator_value=0.1, eps=1e-8)),
    "adagrad_lr_decay_wd": (optim.Adagrad, "Adagrad", dict(lr=0.05, lr_decay=0.05,
                                                           weight_decay=0.1)),
}


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_trajectory_matches_torch(case, fused):
    cls, name, kwargs = CASES[case]
    mine, ref = run_mg(cls, kwargs, fused=fused), run_torch(name, kwargs)
    assert not np.allclose(mine[-1][0], _init_weights()[0]), "the weights did not move"
    assert_trajectories_close(mine, ref)


def test_defaults_match_torch():
    """Every default as torch's, except SGD's lr: DESIGN.md fixes 0.01 (Keras's and
    older torch's value; torch 2.x uses 1e-3)."""
    T = torch()
    p = [T.zeros(1, requires_grad=True)]
    q = [mg.Tensor(np.zeros(1), requires_grad=True)]
    for cls in (optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW, optim.Adagrad):
        mine = cls(q).param_groups[0]
        theirs = getattr(T.optim, cls.__name__)(p).param_groups[0]
        for key, value in mine.items():
            if key in theirs and key != "params" and (cls, key) != (optim.SGD, "lr"):
                assert value == theirs[key], f"{cls.__name__}.{key}"
    assert optim.SGD(q).lr == 0.01


GROUPS = [([0, 1], dict(lr=0.02)), ([2, 3], dict(weight_decay=0.1))]


@pytest.mark.parametrize("cls,name,kwargs", [
    (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    (optim.RMSprop, "RMSprop", dict(lr=3e-3, centered=True)),
    (optim.Adam, "Adam", dict(lr=1e-2)),
    (optim.AdamW, "AdamW", dict(lr=1e-2)),
    (optim.Adagrad, "Adagrad", dict(lr=0.05)),
], ids=["sgd", "rmsprop", "adam", "adamw", "adagrad"])
@pytest.mark.parametrize("fused", FUSED)
def test_param_groups_match_torch(cls, name, kwargs, fused):
    mine = run_mg(cls, kwargs, groups=GROUPS, fused=fused)
    assert_trajectories_close(mine, run_torch(name, kwargs, groups=GROUPS))
    # the groups really differ from a single group with the defaults
    assert not np.allclose(mine[-1][0], run_mg(cls, kwargs)[-1][0])


@pytest.mark.parametrize("fused", FUSED)
def test_frozen_parameter_is_skipped_and_matches_torch(fused):
    mine = run_mg(optim.Adam, dict(lr=1e-2), frozen=(1,), fused=fused)
    assert_trajectories_close(mine, run_torch("Adam", dict(lr=1e-2), frozen=(1,)))
    np.testing.assert_array_equal(mine[-1][1], _init_weights()[1])


def test_parameter_without_grad_is_skipped_and_gets_no_state():
    w = mg.Tensor(np.ones(3), requires_grad=True)
    unused = mg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([w, unused])
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(unused.data, np.ones(2, np.float32))
    assert list(opt.state) == [0]


def test_add_param_group_and_closure():
    w, b = _p(), _p()
    opt = optim.SGD([w], lr=0.5)
    opt.add_param_group({"params": [b], "lr": 0.1})
    with pytest.raises(ValueError, match=r"appears twice \(at positions 0 and 2"):
        opt.add_param_group({"params": [w]})

    def closure():
        opt.zero_grad()
        loss = (w * w).sum() + b.sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(w.data, [0.0, 0.0])  # 1 - 0.5 * 2
    np.testing.assert_allclose(b.data, [0.9, 0.9])  # its group's own lr


def test_zero_grad_sets_none():
    w = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w])
    (w * 2).sum().backward()
    assert w.grad is not None
    opt.zero_grad()
    assert w.grad is None


def test_step_does_not_modify_grad():
    w = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w], weight_decay=0.5, clipvalue=0.1)
    (w * 3).sum().backward()
    opt.step()
    np.testing.assert_array_equal(w.grad.data, np.full(3, 3, np.float32))


ALL = [optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW, optim.Adagrad]


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("cls", ALL, ids=[c.__name__ for c in ALL])
@pytest.mark.parametrize("kwargs", [dict(), dict(weight_decay=0.1, clipnorm=0.5)],
                         ids=["plain", "decay_clip"])
def test_transposed_grad_gives_the_same_update(cls, kwargs, fused, rng):
    """matmul's backward may hand a weight its gradient as a transposed (F-ordered)
    view; the optimizer copies it into the parameter's layout first."""
    w0, g = rng.normal(size=(5, 7)), rng.normal(size=(7, 5)).astype(np.float32).T
    ws = [mg.Tensor(w0, requires_grad=True) for _ in range(2)]
    ws[0].grad, ws[1].grad = mg.Tensor._wrap(g), mg.Tensor._wrap(np.ascontiguousarray(g))
    assert not ws[0].grad.data.flags.c_contiguous
    opts = [cls([w], fused=fused, **kwargs) for w in ws]
    for _ in range(3):
        for opt in opts:
            opt.step()
    np.testing.assert_array_equal(ws[0].data, ws[1].data)
    assert not np.array_equal(ws[0].data, w0.astype(np.float32))


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_step_allocates_no_arrays(case, fused, rng):
    """After the first step (state and work arrays created), a step writes in place:
    traced allocations stay far below one parameter-sized array."""
    import tracemalloc

    cls, _, kwargs = CASES[case]
    w = mg.Tensor(rng.normal(size=(100, 300)), requires_grad=True)
    w.grad = mg.Tensor._wrap(rng.normal(size=(300, 100)).astype(np.float32).T)
    opt = cls([w], fused=fused, **kwargs)
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < w.data.nbytes // 20, f"{peak} bytes allocated by one step"


@pytest.mark.parametrize("fused", FUSED)
def test_float64_parameters_stay_float64(fused):
    w = mg.Tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    for cls in (optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW, optim.Adagrad):
        opt = cls([w], weight_decay=0.1, fused=fused)
        (w * w).sum().backward()
        opt.step()
        w.grad = None
        assert w.data.dtype == np.float64 and all(
            v.dtype == np.float64 for s in opt.state.values() for v in s.values()
            if isinstance(v, np.ndarray))


# ----- learning rates and schedules --------------------------------------------------
@pytest.mark.parametrize("cls,name,kwargs", [
    (optim.SGD, "SGD", dict(momentum=0.9)),
    (optim.Adam, "Adam", dict()),
    (optim.RMSprop, "RMSprop", dict(momentum=0.5)),
    (optim.Adagrad, "Adagrad", dict()),
], ids=["sgd", "adam", "rmsprop", "adagrad"])
@pytest.mark.parametrize("fused", FUSED)
def test_schedule_matches_torch_lambdalr(cls, name, kwargs, fused):
    base = 0.05
    factor = lambda t: 0.9 ** t if t < 10 else 0.3  # noqa: E731
    lrs_mine, lrs_torch = [], []
    mine = run_mg(cls, dict(kwargs, lr=optim.LambdaSchedule(lambda t: base * factor(t))),
                  hook=lambda t, o, p: lrs_mine.append(o.lr), fused=fused)
    ref = run_torch(name, dict(kwargs, lr=base), lr_lambda=factor,
                    hook=lambda t, o, p: lrs_torch.append(o.param_groups[0]["lr"]))
    np.testing.assert_allclose(lrs_mine, lrs_torch, rtol=1e-12)
    assert lrs_mine[0] == base  # the first update uses schedule(0)
    assert_trajectories_close(mine, ref)


def test_lr_reads_current_schedule_value_as_float():
    w = mg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=optim.StepDecay(0.1, step_size=2, gamma=0.5))
    seen = []
    for _ in range(5):
        seen.append(opt.lr)
        (w * w).sum().backward()
        opt.step()
        opt.zero_grad()
    assert all(type(v) is float for v in seen)
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.05, 0.05, 0.025])
    assert opt.iterations == 5


def test_setting_lr_midway_matches_torch():
    def set_mine(t, opt, params):
        if t == 10:
            opt.lr = 0.003

    def set_torch(t, opt, params):
        if t == 10:
            opt.param_groups[0]["lr"] = 0.003

    mine = run_mg(optim.Adam, dict(lr=0.02), hook=set_mine)
    assert_trajectories_close(mine, run_torch("Adam", dict(lr=0.02), hook=set_torch))


def test_setting_lr_replaces_schedule_in_every_group():
    w, b = (mg.Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}],
                    lr=optim.ExponentialDecay(0.1, 1, 0.5))
    opt.lr = 0.25
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25] and opt.lr == 0.25


# ----- state dicts -----------------------------------------------------------------
RESUME = {k: CASES[k] for k in ("sgd_nesterov_wd", "rmsprop_centered_momentum_wd",
                                "adam_amsgrad", "adamw_amsgrad",
                                "adagrad_initial_accumulator")}


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("case", list(RESUME), ids=list(RESUME))
def test_state_dict_resume_gives_identical_trajectory(case, fused):
    cls, _, kwargs = RESUME[case]
    kwargs = dict(kwargs, lr=optim.ExponentialDecay(kwargs.get("lr", 1e-2), 5, 0.7))
    straight = run_mg(cls, kwargs, groups=GROUPS, fused=fused)
    params, opt = make_mg(cls, kwargs, GROUPS, fused=fused)
    first = train_mg(params, opt, steps=10)
    saved = opt.state_dict()
    assert saved["iterations"] == 10
    before = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    # a brand-new optimizer over brand-new parameters holding the weights of step 10
    params2, opt2 = make_mg(cls, kwargs, GROUPS, weights=first[-1], fused=fused)
    opt2.load_state_dict(saved)
    rest = train_mg(params2, opt2, steps=STEPS - 10)
    for t, (a, b) in enumerate(zip(straight[10:], rest)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_array_equal(pa, pb, err_msg=f"step {t + 11}, parameter {i}")
    train_mg(params, opt, steps=3)  # the snapshot is a copy: later steps leave it alone
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, before[i][k])


def test_state_dict_is_keyed_by_index_and_holds_no_parameters():
    w, b = (mg.Tensor(np.ones(s), requires_grad=True) for s in ((2, 3), (3,)))
    opt = optim.Adam([w, b])
    ((w @ mg.Tensor(np.ones(3))).sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["state"][0]["exp_avg"].shape == (2, 3) and sd["state"][1]["step"] == 1


def test_load_state_dict_refuses_mismatches():
    w = mg.Tensor(np.ones((2, 3)), requires_grad=True)
    opt = optim.SGD([w], momentum=0.9)
    (w * w).sum().backward()
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has "
                                         r"shape \(2, 3\), the parameter has \(3, 2\)"):
        optim.SGD([mg.Tensor(np.ones((3, 2)), requires_grad=True)]).load_state_dict(sd)
    two = [mg.Tensor(np.ones(1), requires_grad=True) for _ in range(2)]
    with pytest.raises(ValueError, match=r"group sizes differ.*\[1\].*\[2\]"):
        optim.SGD(two).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


# ----- bad input -------------------------------------------------------------------
def _p():
    return mg.Tensor(np.ones(2), requires_grad=True)


BAD = [
    (lambda: optim.SGD([_p()], lr=-0.1), ValueError, r"SGD: lr must be a finite number "
                                                     r">= 0, got -0\.1"),
    (lambda: optim.Adam([_p()], lr=float("nan")), ValueError, r"Adam: lr .* got nan"),
    (lambda: optim.SGD([_p()], momentum=-0.9), ValueError,
     r"SGD: momentum must be a finite number >= 0, got -0\.9"),
    (lambda: optim.RMSprop([_p()], momentum=-1), ValueError, r"RMSprop: momentum .*-1"),
    (lambda: optim.Adam([_p()], betas=(1.0, 0.999)), ValueError,
     r"Adam: betas\[0\] must be a finite number >= 0 and < 1, got 1\.0"),
    (lambda: optim.AdamW([_p()], betas=(0.9, -0.1)), ValueError, r"AdamW: betas\[1\].*-0\.1"),
    (lambda: optim.Adam([_p()], betas=0.9), ValueError, r"betas must be a pair.*0\.9"),
    (lambda: optim.SGD([_p()], momentum=float("inf")), ValueError, r"momentum .* got inf"),
    (lambda: optim.Adam([_p()], eps=-1e-8), ValueError, r"Adam: eps .* got -1e-08"),
    (lambda: optim.Adagrad([_p()], eps=-1.0), ValueError, r"Adagrad: eps .* got -1\.0"),
    (lambda: optim.RMSprop([_p()], alpha=1.5), ValueError, r"RMSprop: alpha .* got 1\.5"),
    (lambda: optim.Adam([]), ValueError, r"Adam: got an empty parameter list"),
    (lambda: optim.SGD([{"params": []}]), ValueError, r"SGD: parameter group 0 has an "
                                                      r"empty parameter list"),
    (lambda: (lambda p: optim.SGD([p, p]))(_p()), ValueError,
     r"SGD: a parameter appears twice \(at positions 0 and 1, shape \(2,\)\)"),
    (lambda: (lambda p: optim.Adam([{"params": [p]}, {"params": [p]}]))(_p()), ValueError,
     r"appears twice"),
    (lambda: optim.SGD([_p()], momentum=0, nesterov=True), ValueError,
     r"SGD: nesterov requires momentum > 0 and dampening 0, got momentum=0\.0"),
    (lambda: optim.SGD([_p()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"dampening=0\.1"),
    (lambda: optim.SGD([np.ones(2)]), TypeError, r"SGD: parameter 0 is a ndarray, expected "
                                                 r"a minigrad Tensor"),
    (lambda: optim.SGD(_p()), TypeError, r"got a single Tensor; pass \[tensor\]"),
    (lambda: optim.SGD(5), TypeError, r"SGD: params must be an iterable .* got int"),
    (lambda: optim.SGD([mg.Tensor([1, 2])]), TypeError, r"dtype int64"),
    (lambda: optim.SGD([_p()], weight_decay=-1), ValueError, r"weight_decay .* got -1"),
    (lambda: optim.Adam([_p()], clipnorm=0), ValueError, r"clipnorm must be .*> 0.*got 0"),
    (lambda: optim.Adam([_p()], clipvalue=-1.0), ValueError, r"clipvalue .* got -1\.0"),
    (lambda: optim.Adam([_p()], clipvalue=1.0, clipnorm=1.0), ValueError,
     r"only one of clipvalue and clipnorm"),
    (lambda: optim.SGD([{"params": [_p()], "momentun": 0.9}]), ValueError,
     r"unknown parameter-group option\(s\) \['momentun'\]"),
    (lambda: optim.SGD([{"params": [_p()], "lr": -2}]), ValueError, r"got -2"),
    (lambda: optim.Adam([_p()], lr="fast"), ValueError, r"lr must be a number or a "
                                                         r"schedule, got 'fast'"),
]


@pytest.mark.parametrize("make,exc,message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_is_refused_with_message(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_bad_lr_setter_and_bad_schedule_value():
    w = _p()
    opt = optim.SGD([w])
    with pytest.raises(ValueError, match=r"got -1"):
        opt.lr = -1
    opt.lr = lambda t: -0.5 if t >= 1 else 0.1
    (w * w).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match=r"SGD: schedule at step 1: lr .* got -0\.5"):
        opt.step()


def test_grad_shape_mismatch_is_a_runtime_error():
    w = _p()
    opt = optim.SGD([w])
    w.grad = mg.Tensor(np.ones(3))
    with pytest.raises(RuntimeError, match=r"parameter 0 has shape \(2,\) but its grad "
                                           r"has shape \(3,\)"):
        opt.step()


# ----- overfit 20 Fashion-MNIST examples ------------------------------------------
def _read_idx_head(path, count, header):
    """The first `count` records of a gzipped IDX file (only those bytes are inflated)."""
    with gzip.open(path, "rb") as f:
        head = f.read(header)
        dims = [int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(head[3])]
        size = int(np.prod(dims[1:], dtype=np.int64))
        return np.frombuffer(f.read(count * size), np.uint8).reshape(count, *dims[1:])


@pytest.fixture(scope="module")
def twenty_examples():
    root = os.environ.get("MINIGRAD_DATA")
    if not root:
        pytest.skip("MINIGRAD_DATA is not set (the folder holding fashion-mnist/)")
    folder = os.path.join(root, "fashion-mnist")
    images = os.path.join(folder, "train-images-idx3-ubyte.gz")
    if not os.path.exists(images):
        pytest.skip(f"no Fashion-MNIST at {images}")
    x = _read_idx_head(images, 20, 16).reshape(20, 784).astype(np.float32) / 255.0
    y = _read_idx_head(os.path.join(folder, "train-labels-idx1-ubyte.gz"), 20, 8)
    return x, y.astype(np.int64)


def _cross_entropy(logits, onehot):
    """mean over the batch of -log softmax(logits)[target], from mg ops (max-shifted)."""
    z = logits - mg.Tensor(logits.data.max(axis=1, keepdims=True))
    log_probs = z - z.exp().sum(axis=1, keepdims=True).log()
    return -(log_probs * onehot).sum() / logits.shape[0]


@pytest.mark.parametrize("cls,kwargs", [
    (optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.RMSprop, dict(lr=1e-3)),
    (optim.Adam, dict(lr=1e-3)),
    (optim.AdamW, dict(lr=1e-3)),
    (optim.Adagrad, dict(lr=0.05)),
], ids=["sgd", "rmsprop", "adam", "adamw", "adagrad"])
def test_overfits_twenty_fashion_mnist_examples(cls, kwargs, twenty_examples):
    x, y = twenty_examples
    rng = np.random.default_rng(0)
    limits = (1 / math.sqrt(784), 1 / math.sqrt(64))
    params = [mg.Tensor(rng.uniform(-a, a, s), requires_grad=True) for a, s in
              [(limits[0], (64, 784)), (limits[0], (64,)), (limits[1], (10, 64)),
               (limits[1], (10,))]]
    w1, b1, w2, b2 = params
    onehot, xt = mg.Tensor(np.eye(10, dtype=np.float32)[y]), mg.Tensor(x)
    opt = cls(params, **kwargs)
    for _ in range(60):
        opt.zero_grad()
        logits = (xt @ w1.T + b1).relu() @ w2.T + b2
        loss = _cross_entropy(logits, onehot)
        loss.backward()
        opt.step()
    accuracy = float(np.mean(logits.data.argmax(axis=1) == y))
    assert accuracy == 1.0 and loss.item() < 0.2, (accuracy, loss.item())
