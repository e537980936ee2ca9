"""Learning-rate schedules: values at chosen steps against their formulas, numbers
worked out by hand the way tf.keras computes them, torch's schedulers where torch has
the same schedule, and every bad-input message."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import schedules as S
from tests.helpers import torch

# (schedule, {step: value worked out by hand})
REFERENCE = {
    "exponential": (S.ExponentialDecay(0.1, 10, 0.5),
                    {0: 0.1, 5: 0.1 * math.sqrt(0.5), 10: 0.05, 15: 0.05 * math.sqrt(0.5),
                     30: 0.0125}),
    "exponential_staircase": (S.ExponentialDecay(0.1, 10, 0.5, staircase=True),
                              {0: 0.1, 9: 0.1, 10: 0.05, 19: 0.05, 25: 0.025}),
    "power": (S.PowerDecay(0.01, 20), {0: 0.01, 20: 0.005, 60: 0.0025, 10: 0.01 / 1.5}),
    "power_c2": (S.PowerDecay(0.01, 20, c=2), {0: 0.01, 20: 0.0025, 60: 0.000625}),
    "step": (S.StepDecay(0.1, 30), {0: 0.1, 29: 0.1, 30: 0.01, 59: 0.01, 65: 0.001}),
    "step_gamma": (S.StepDecay(1.0, 2, gamma=0.5), {0: 1.0, 1: 1.0, 2: 0.5, 5: 0.25}),
    "piecewise": (S.PiecewiseConstant([100, 200], [1.0, 0.5, 0.1]),
                  {0: 1.0, 100: 1.0, 101: 0.5, 200: 0.5, 201: 0.1, 10**6: 0.1}),
    "cosine": (S.CosineDecay(0.1, 100), {0: 0.1, 25: 0.05 * (1 + math.sqrt(0.5)),
                                         50: 0.05, 100: 0.0, 150: 0.0}),
    "cosine_alpha": (S.CosineDecay(0.1, 100, alpha=0.1), {0: 0.1, 50: 0.055, 100: 0.01,
                                                         500: 0.01}),
    # warmup_steps without warmup_target is ignored, as in Keras
    "cosine_warmup_ignored": (S.CosineDecay(0.1, 100, warmup_steps=10), {0: 0.1, 50: 0.05}),
    "cosine_warmup": (S.CosineDecay(0.0, 100, warmup_steps=10, warmup_target=0.1),
                      {0: 0.0, 5: 0.05, 10: 0.1, 60: 0.05, 110: 0.0, 200: 0.0}),
    "cosine_warmup_from": (S.CosineDecay(0.02, 40, alpha=0.5, warmup_steps=4,
                                         warmup_target=0.2),
                           {1: 0.065, 3: 0.155, 4: 0.2, 24: 0.15, 44: 0.1, 99: 0.1}),
    "lambda": (S.LambdaSchedule(lambda t: 0.1 / (t + 1)), {0: 0.1, 1: 0.05, 9: 0.01}),
}


@pytest.mark.parametrize("name", list(REFERENCE), ids=list(REFERENCE))
def test_schedule_values_at_chosen_steps(name):
    schedule, expected = REFERENCE[name]
    for step, value in expected.items():
        got = schedule(step)
        assert type(got) is float
        assert got == pytest.approx(value, rel=1e-12, abs=1e-15), f"{name} at step {step}"


@pytest.mark.parametrize("make,formula", [
    (lambda: S.ExponentialDecay(0.3, 7, 0.8),
     lambda t: 0.3 * 0.8 ** (t / 7)),
    (lambda: S.ExponentialDecay(0.3, 7, 0.8, staircase=True),
     lambda t: 0.3 * 0.8 ** (t // 7)),
    (lambda: S.PowerDecay(0.05, 12.5, c=0.75),
     lambda t: 0.05 / (1 + t / 12.5) ** 0.75),
    (lambda: S.StepDecay(0.2, 9, gamma=0.3),
     lambda t: 0.2 * 0.3 ** (t // 9)),
    (lambda: S.CosineDecay(0.4, 50, alpha=0.2),
     lambda t: 0.4 * (0.8 * 0.5 * (1 + math.cos(math.pi * min(t, 50) / 50)) + 0.2)),
], ids=["exponential", "exponential_staircase", "power", "step", "cosine"])
def test_schedule_follows_formula_over_many_steps(make, formula):
    schedule = make()
    for t in range(0, 200, 3):
        assert schedule(t) == pytest.approx(formula(t), rel=1e-12)


def _torch_lrs(make_scheduler, steps, lr):
    T = torch()
    opt = T.optim.SGD([T.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(T.optim.lr_scheduler, opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize("mine,theirs", [
    (S.StepDecay(0.1, 7, gamma=0.5), lambda L, o: L.StepLR(o, step_size=7, gamma=0.5)),
    (S.ExponentialDecay(0.1, 1, 0.9), lambda L, o: L.ExponentialLR(o, gamma=0.9)),
    (S.CosineDecay(0.1, 30), lambda L, o: L.CosineAnnealingLR(o, T_max=30)),
    (S.PiecewiseConstant([9, 19], [0.1, 0.01, 0.001]),
     lambda L, o: L.MultiStepLR(o, milestones=[10, 20], gamma=0.1)),
], ids=["step_lr", "exponential_lr", "cosine_annealing_lr", "multistep_lr"])
def test_schedule_matches_torch_scheduler(mine, theirs):
    steps = 31
    np.testing.assert_allclose([mine(t) for t in range(steps)],
                               _torch_lrs(theirs, steps, 0.1), rtol=1e-9, atol=1e-15)


BAD = [
    (lambda: S.ExponentialDecay(-0.1, 10, 0.5), r"ExponentialDecay: initial must be a "
                                                 r"finite number >= 0.0, got -0\.1"),
    (lambda: S.ExponentialDecay(0.1, 0, 0.5), r"decay_steps must be a finite number > 0.0, "
                                              r"got 0"),
    (lambda: S.ExponentialDecay(0.1, 10, 0), r"decay_rate .* got 0"),
    (lambda: S.PowerDecay(float("nan"), 10), r"PowerDecay: initial .* got nan"),
    (lambda: S.PowerDecay(0.1, -3), r"PowerDecay: s .* got -3"),
    (lambda: S.PowerDecay(0.1, 3, c=-1), r"PowerDecay: c .* got -1"),
    (lambda: S.StepDecay(0.1, 0), r"StepDecay: step_size must be an int >= 1, got 0"),
    (lambda: S.StepDecay(0.1, 2.5), r"step_size .* got 2\.5"),
    (lambda: S.StepDecay(0.1, 3, gamma=-0.1), r"StepDecay: gamma .* got -0\.1"),
    (lambda: S.PiecewiseConstant([10, 20], [1.0, 0.5]),
     r"PiecewiseConstant: needs one more value than boundaries, got 2 boundaries "
     r"\[10, 20\] and 2 values \[1\.0, 0\.5\]"),
    (lambda: S.PiecewiseConstant([20, 10], [1, 2, 3]), r"strictly increasing, got \[20, 10\]"),
    (lambda: S.PiecewiseConstant([10], [1, -2]), r"value .* got -2"),
    (lambda: S.CosineDecay(0.1, 0), r"CosineDecay: decay_steps .* got 0"),
    (lambda: S.CosineDecay(0.1, 10, alpha=1.5), r"alpha must be a finite number >= 0.0 and "
                                                r"<= 1.0, got 1\.5"),
    (lambda: S.CosineDecay(0.1, 10, warmup_steps=-1), r"warmup_steps .* got -1"),
    (lambda: S.CosineDecay(0.1, 10, warmup_target=-1.0), r"warmup_target .* got -1\.0"),
    (lambda: S.LambdaSchedule(0.1), r"LambdaSchedule: fn must be callable, got 0\.1"),
    (lambda: S.LambdaSchedule(lambda t: -1.0)(3), r"LambdaSchedule: fn\(3\) must be a "
                                                  r"finite number >= 0.0, got -1\.0"),
    (lambda: S.LambdaSchedule(lambda t: "x")(0), r"fn\(0\) .* got 'x'"),
    (lambda: S.StepDecay(0.1, 3)(-1), r"StepDecay: step must be a number >= 0, got -1"),
    (lambda: S.CosineDecay(0.1, 3)(float("nan")), r"CosineDecay: step .* got nan"),
]


@pytest.mark.parametrize("make,message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_schedule_bad_input(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_repr_names_its_settings():
    assert repr(S.StepDecay(0.1, 3)) == "StepDecay(initial=0.1, step_size=3, gamma=0.1)"


@pytest.mark.parametrize("schedule", [
    S.ExponentialDecay(0.1, 100, 0.5, staircase=True), S.PowerDecay(0.1, 50.0, 2.0),
    S.StepDecay(0.1, 30, 0.3), S.PiecewiseConstant([10, 20], [0.1, 0.05, 0.01]),
    S.CosineDecay(0.1, 200, alpha=0.1, warmup_steps=20, warmup_target=0.2)],
    ids=lambda s: type(s).__name__)
def test_schedule_in_optimizer_state_survives_save_and_load(tmp_path, schedule):
    p = mg.nn.Parameter(np.ones(3, np.float32))
    opt = mg.optim.Adam([p], lr=schedule)
    path = tmp_path / "opt.ckpt"
    mg.save(opt.state_dict(), str(path))
    fresh = mg.optim.Adam([mg.nn.Parameter(np.ones(3, np.float32))], lr=1.0)
    fresh.load_state_dict(mg.load(str(path)))
    restored = fresh.param_groups[0]["lr"]
    assert type(restored) is type(schedule)
    for step in (0, 5, 15, 25, 150, 400):
        assert restored(step) == schedule(step)


def test_lambda_schedule_is_not_serializable_data():
    with pytest.raises(ValueError, match="LambdaSchedule"):
        S.serialize(S.LambdaSchedule(lambda t: 0.1))
    with pytest.raises(ValueError, match="unknown schedule 'Nope'"):
        S.deserialize({"schedule": "Nope", "config": {}})
