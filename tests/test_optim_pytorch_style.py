"""PyTorch's optimizer patterns: subclassing Optimizer with defaults as given and a
step() over param_groups / state, and the epoch schedulers of lr_scheduler, each
replayed against torch.optim."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import lr_scheduler
from helpers import torch


class HeavyBall(mg.optim.Optimizer):
    """v = rho v + g; p -= lr v, written as a PyTorch user writes it."""

    def __init__(self, params, lr=0.1, rho=0.9):
        super().__init__(params, dict(lr=lr, rho=rho))

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["velocity"] = np.zeros_like(p.data)
                v = state["velocity"]
                v *= group["rho"]
                v += p.grad.data
                p.data -= group["lr"] * v


def _torch_heavy_ball():
    t = torch()

    class TorchHeavyBall(t.optim.Optimizer):
        def __init__(self, params, lr=0.1, rho=0.9):
            super().__init__(params, dict(lr=lr, rho=rho))

        @t.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    if len(state) == 0:
                        state["velocity"] = t.zeros_like(p)
                    state["velocity"].mul_(group["rho"]).add_(p.grad)
                    p.add_(state["velocity"], alpha=-group["lr"])
    return TorchHeavyBall


def test_optimizer_subclass_the_pytorch_way_matches_torch():
    t = torch()
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(5)]
    ours = mg.Tensor(w0, dtype=np.float64, requires_grad=True)
    opt = HeavyBall([ours], lr=0.05, rho=0.8)
    theirs = t.tensor(w0, requires_grad=True)
    topt = _torch_heavy_ball()([theirs], lr=0.05, rho=0.8)
    for g in grads:
        ours.grad = mg.Tensor(g, dtype=np.float64)
        opt.step()
        theirs.grad = t.tensor(g)
        topt.step()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    assert opt.defaults == {"lr": 0.05, "rho": 0.8}  # as given: nothing added
    state = opt.state_dict()
    assert set(state["state"]) == {0} and "velocity" in state["state"][0]
    fresh = HeavyBall([mg.Tensor(w0, dtype=np.float64, requires_grad=True)])
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.state[0]["velocity"], opt.state[0]["velocity"])
    assert fresh.param_groups[0]["rho"] == 0.8


def test_optimizer_state_by_tensor_rejects_a_foreign_tensor():
    opt = HeavyBall([mg.Tensor(np.zeros(2), requires_grad=True)])
    with pytest.raises(KeyError, match="not a parameter of this optimizer"):
        opt.state[mg.Tensor(np.zeros(2))]


def _schedules(make_ours, make_theirs, epochs=12):
    t = torch()
    p = mg.Tensor(np.zeros(2), requires_grad=True)
    opt = mg.optim.SGD([p], lr=0.1)
    ours = make_ours(opt)
    tp = t.zeros(2, requires_grad=True)
    topt = t.optim.SGD([tp], lr=0.1)
    theirs = make_theirs(topt)
    for epoch in range(epochs):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-9,
                                   err_msg=f"epoch {epoch}")
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        topt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("kind", ["step", "multistep", "exponential", "cosine", "lambda"])
def test_lr_scheduler_matches_torch(kind):
    T = torch().optim.lr_scheduler
    make = {
        "step": (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
                 lambda o: T.StepLR(o, step_size=3, gamma=0.5)),
        "multistep": (lambda o: lr_scheduler.MultiStepLR(o, [2, 5], gamma=0.3),
                      lambda o: T.MultiStepLR(o, [2, 5], gamma=0.3)),
        "exponential": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8),
                        lambda o: T.ExponentialLR(o, gamma=0.8)),
        "cosine": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                   lambda o: T.CosineAnnealingLR(o, T_max=5, eta_min=0.01)),
        "lambda": (lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
                   lambda o: T.LambdaLR(o, lambda e: 1 / (1 + e))),
    }[kind]
    _schedules(*make)


def test_lr_scheduler_sets_every_group_and_checks_arguments():
    a = mg.Tensor(np.zeros(2), requires_grad=True)
    b = mg.Tensor(np.zeros(2), requires_grad=True)
    opt = mg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.5]
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.5]
    with pytest.raises(ValueError, match="StepLR: step_size must be an int >= 1, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    sched_opt = mg.optim.SGD([a], lr=mg.optim.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(ValueError, match="has a schedule as its lr"):
        lr_scheduler.ExponentialLR(sched_opt, gamma=0.9)
