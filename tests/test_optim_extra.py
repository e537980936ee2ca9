"""Nadam, Adamax, Adadelta against torch.optim (25-step trajectories, weight decay,
parameter groups, state-dict resume, defaults, bad input) and OneCycle against
torch's OneCycleLR at every step."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from tests.helpers import torch
from tests.test_optim import (GROUPS, STEPS, assert_trajectories_close, make_mg, run_mg,
                              run_torch, train_mg)

CASES = {
    "nadam": (optim.Nadam, "NAdam", dict()),
    "nadam_options": (optim.Nadam, "NAdam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                                 momentum_decay=0.01)),
    "nadam_weight_decay": (optim.Nadam, "NAdam", dict(lr=1e-2, weight_decay=0.1)),
    "nadam_decoupled": (optim.Nadam, "NAdam", dict(lr=1e-2, weight_decay=0.3,
                                                   decoupled_weight_decay=True)),
    "adamax": (optim.Adamax, "Adamax", dict()),
    "adamax_options": (optim.Adamax, "Adamax", dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6)),
    "adamax_weight_decay": (optim.Adamax, "Adamax", dict(lr=1e-2, weight_decay=0.1)),
    "adadelta": (optim.Adadelta, "Adadelta", dict()),
    "adadelta_options": (optim.Adadelta, "Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5)),
    "adadelta_weight_decay": (optim.Adadelta, "Adadelta", dict(weight_decay=0.1)),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_optim_extra_trajectory_matches_torch(case):
    cls, name, kwargs = CASES[case]
    mine, ref = run_mg(cls, kwargs), run_torch(name, kwargs)
    assert not np.allclose(mine[-1][0], mine[0][0]), "the weights did not move"
    assert_trajectories_close(mine, ref)


@pytest.mark.parametrize("case", ["nadam", "adamax", "adadelta"])
def test_optim_extra_param_groups_match_torch(case):
    cls, name, kwargs = CASES[case]
    groups = [([0, 1], dict(lr=0.02)), ([2, 3], dict(weight_decay=0.1))]
    assert_trajectories_close(run_mg(cls, kwargs, groups=groups),
                              run_torch(name, kwargs, groups=groups))


def test_optim_extra_defaults_match_torch():
    T = torch()
    p = [T.zeros(1, requires_grad=True)]
    q = [mg.Tensor(np.zeros(1), requires_grad=True)]
    for cls, name in ((optim.Nadam, "NAdam"), (optim.Adamax, "Adamax"),
                      (optim.Adadelta, "Adadelta")):
        mine = cls(q).param_groups[0]
        theirs = getattr(T.optim, name)(p).param_groups[0]
        shared = [k for k in mine if k in theirs and k != "params"]
        assert "lr" in shared and "eps" in shared
        for key in shared:
            assert mine[key] == theirs[key], f"{name}.{key}"


@pytest.mark.parametrize("case", ["nadam_decoupled", "adamax_weight_decay",
                                  "adadelta_options"])
def test_optim_extra_state_dict_resume_is_identical(case):
    cls, _, kwargs = CASES[case]
    straight = run_mg(cls, kwargs, groups=GROUPS)
    params, opt = make_mg(cls, kwargs, GROUPS)
    first = train_mg(params, opt, steps=10)
    saved = opt.state_dict()
    params2, opt2 = make_mg(cls, kwargs, GROUPS, weights=first[-1])
    opt2.load_state_dict(saved)
    rest = train_mg(params2, opt2, steps=STEPS - 10)
    for t, (a, b) in enumerate(zip(straight[10:], rest)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            np.testing.assert_array_equal(pa, pb, err_msg=f"step {t + 11}, parameter {i}")


def test_optim_extra_state_dict_survives_a_file(tmp_path):
    cls, _, kwargs = CASES["nadam"]
    params, opt = make_mg(cls, kwargs)
    train_mg(params, opt, steps=3)
    mg.save(opt.state_dict(), tmp_path / "opt.mg")
    params2, opt2 = make_mg(cls, kwargs)
    opt2.load_state_dict(mg.load(tmp_path / "opt.mg"))
    assert opt2.state[0]["mu_product"] == pytest.approx(opt.state[0]["mu_product"])
    np.testing.assert_array_equal(opt2.state[0]["exp_avg"], opt.state[0]["exp_avg"])


@pytest.mark.parametrize("make,message", [
    (lambda p: optim.Nadam(p, betas=(0.9, 1.0)), r"Nadam: betas\[1\] must be"),
    (lambda p: optim.Nadam(p, momentum_decay=-1), "Nadam: momentum_decay must be"),
    (lambda p: optim.Adamax(p, eps=float("nan")), "Adamax: eps must be"),
    (lambda p: optim.Adamax(p, betas=0.9), "Adamax: betas must be a pair"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Adadelta: rho must be"),
    (lambda p: optim.Adadelta(p, weight_decay=-0.1), "Adadelta: weight_decay must be"),
], ids=["nadam_beta", "nadam_psi", "adamax_eps", "adamax_betas", "adadelta_rho",
        "adadelta_wd"])
def test_optim_extra_bad_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([mg.Tensor(np.zeros(2), requires_grad=True)])


# ----- OneCycle ----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(max_lr=0.1, total_steps=100),
    dict(max_lr=0.1, total_steps=100, anneal_strategy="linear"),
    dict(max_lr=1.0, total_steps=37, pct_start=0.25, div_factor=10.0,
         final_div_factor=100.0),
    dict(max_lr=0.5, total_steps=20, pct_start=0.5, anneal_strategy="linear"),
], ids=["cos", "linear", "odd_steps", "half_linear"])
def test_schedule_onecycle_matches_torch_every_step(kwargs):
    T = torch()
    opt = T.optim.SGD([T.zeros(1, requires_grad=True)], lr=1.0)
    ref = T.optim.lr_scheduler.OneCycleLR(opt, cycle_momentum=False, **kwargs)
    mine = optim.OneCycle(**kwargs)
    for step in range(kwargs["total_steps"]):
        assert mine(step) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12,
                                           abs=1e-15), f"step {step}"
        opt.step()
        ref.step()
    assert mine(kwargs["total_steps"] + 5) == mine(kwargs["total_steps"] - 1)


def test_schedule_onecycle_drives_an_optimizer_and_serializes():
    sched = optim.OneCycle(0.2, 10)
    p = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=sched)
    lrs = []
    for _ in range(10):
        lrs.append(opt.lr)
        (p * p).sum().backward()
        opt.step()
        opt.zero_grad()
    assert lrs == [sched(t) for t in range(10)] and max(lrs) == pytest.approx(0.2)
    again = optim.schedules.deserialize(optim.schedules.serialize(sched))
    assert [again(t) for t in range(10)] == lrs


@pytest.mark.parametrize("kwargs,message", [
    (dict(max_lr=0.1, total_steps=1), "total_steps must be an int >= 2"),
    (dict(max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start must be"),
    (dict(max_lr=0.1, total_steps=10, pct_start=0.1), "zero length"),
    (dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (dict(max_lr=0.1, total_steps=10, div_factor=0), "div_factor"),
], ids=["steps", "pct", "zero_warmup", "strategy", "div"])
def test_schedule_onecycle_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.OneCycle(**kwargs)


@pytest.mark.parametrize("cls", [optim.Nadam, optim.Adamax, optim.Adadelta])
def test_optim_extra_run_the_numpy_rule_and_refuse_fused(cls):
    p = [mg.Tensor(np.zeros(2), requires_grad=True)]
    assert cls(p).fused is False and cls(p, fused=False).fused is False
    with pytest.raises(ValueError, match=f"{cls.__name__}: has no fused kernel"):
        cls(p, fused=True)
