"""Learning-rate schedules: callables from the optimizer step (counted from 0; the
first update uses schedule(0)) to a learning rate. Keras semantics where Keras has
the schedule (ExponentialDecay, PiecewiseConstant, CosineDecay), PyTorch's StepLR for
StepDecay and OneCycleLR for OneCycle; pass one as an optimizer's ``lr``."""
from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Sequence

import numpy as np


def _number(name: str, key: str, value: Any, low: float = 0.0, strict: bool = False,
            high: float | None = None) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.number))
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > low if strict else v >= low) and (
            high is None or v <= high)
    if not ok:
        bound = f"{'>' if strict else '>='} {low}" + ("" if high is None else
                                                      f" and <= {high}")
        raise ValueError(f"{name}: {key} must be a finite number {bound}, got {value!r}")
    return float(value)


class LearningRateSchedule:
    """Base: ``schedule(step) -> float``; subclasses define ``_value(step)``.
    Raises ValueError for a negative, NaN or non-numeric step."""

    def __call__(self, step: int) -> float:
        name = type(self).__name__
        ok = not isinstance(step, bool) and isinstance(step, (int, float, np.number))
        if not ok or not math.isfinite(step) or step < 0:
            raise ValueError(f"{name}: step must be a number >= 0, got {step!r}")
        return float(self._value(step))

    def _value(self, step: float) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (Keras): ``type(s)(**s.get_config())`` rebuilds s."""
        return dict(vars(self))


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """{"schedule": class name, "config": constructor arguments}: plain data that
    mg.save can store (optimizer state dicts hold schedules this way)."""
    if type(schedule) not in SERIALIZABLE:
        raise ValueError(f"serialize: {type(schedule).__name__} cannot be stored as data "
                         f"(a LambdaSchedule holds a Python function)")
    return {"schedule": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(data: dict[str, Any]) -> LearningRateSchedule:
    """The schedule that ``serialize`` described."""
    name = data.get("schedule") if isinstance(data, dict) else None
    if name not in _SERIALIZABLE:
        raise ValueError(f"deserialize: unknown schedule {name!r}; one of "
                         f"{sorted(_SERIALIZABLE)}")
    return _SERIALIZABLE[name](**data.get("config", {}))


def is_serialized(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"schedule", "config"}


class ExponentialDecay(LearningRateSchedule):
    """lr(t) = initial * decay_rate ^ (t / decay_steps), with floor(t / decay_steps)
    as the exponent when staircase (Keras ExponentialDecay)."""

    def __init__(self, initial: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False):
        n = "ExponentialDecay"
        self.initial = _number(n, "initial", initial)
        self.decay_steps = _number(n, "decay_steps", decay_steps, strict=True)
        self.decay_rate = _number(n, "decay_rate", decay_rate, strict=True)
        self.staircase = bool(staircase)

    def _value(self, step: float) -> float:
        p = step / self.decay_steps
        return self.initial * self.decay_rate ** (math.floor(p) if self.staircase else p)


class PowerDecay(LearningRateSchedule):
    """lr(t) = initial / (1 + t / s) ^ c  (power scheduling; with c=1 it is Keras's
    InverseTimeDecay with decay_steps=s, decay_rate=1)."""

    def __init__(self, initial: float, s: float, c: float = 1.0):
        self.initial = _number("PowerDecay", "initial", initial)
        self.s = _number("PowerDecay", "s", s, strict=True)
        self.c = _number("PowerDecay", "c", c)

    def _value(self, step: float) -> float:
        return self.initial / (1.0 + step / self.s) ** self.c


class StepDecay(LearningRateSchedule):
    """lr(t) = initial * gamma ^ floor(t / step_size)  (PyTorch StepLR)."""

    def __init__(self, initial: float, step_size: int, gamma: float = 0.1):
        self.initial = _number("StepDecay", "initial", initial)
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) \
                or step_size < 1:
            raise ValueError(f"StepDecay: step_size must be an int >= 1, got "
                             f"{step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _number("StepDecay", "gamma", gamma)

    def _value(self, step: float) -> float:
        return self.initial * self.gamma ** (int(step) // self.step_size)


class PiecewiseConstant(LearningRateSchedule):
    """values[0] while t <= boundaries[0], values[i] while boundaries[i-1] < t <=
    boundaries[i], values[-1] after the last boundary (Keras PiecewiseConstantDecay).
    boundaries: strictly increasing; len(values) == len(boundaries) + 1."""

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]):
        n = "PiecewiseConstant"
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{n}: needs one more value than boundaries, got "
                             f"{len(boundaries)} boundaries {boundaries} and "
                             f"{len(values)} values {values}")
        self.boundaries = [_number(n, "boundary", b) for b in boundaries]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{n}: boundaries must be strictly increasing, got "
                             f"{boundaries}")
        self.values = [_number(n, "value", v) for v in values]

    def _value(self, step: float) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]


class CosineDecay(LearningRateSchedule):
    """Keras CosineDecay (Loshchilov & Hutter, "SGDR", ICLR 2017), optional linear
    warmup (Goyal et al. 2017).

    Without warmup_target (warmup_steps is then ignored, as in Keras):
        lr(t) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(t, D) / D)) + alpha)
    With warmup_target, W = warmup_steps:
        lr(t) = initial + (warmup_target - initial) * t / W              for t < W
        lr(t) = warmup_target * ((1 - alpha) * 0.5 * (1 + cos(pi * u / D)) + alpha)
                with u = min(t, W + D) - W                                otherwise
    where D = decay_steps.
    """

    def __init__(self, initial: float, decay_steps: int, alpha: float = 0.0,
                 warmup_steps: int = 0, warmup_target: float | None = None):
        n = "CosineDecay"
        self.initial = _number(n, "initial", initial)
        self.decay_steps = _number(n, "decay_steps", decay_steps, strict=True)
        self.alpha = _number(n, "alpha", alpha, high=1.0)
        self.warmup_steps = _number(n, "warmup_steps", warmup_steps)
        self.warmup_target = (None if warmup_target is None else
                              _number(n, "warmup_target", warmup_target))

    def _decayed(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _value(self, step: float) -> float:
        if self.warmup_target is None:
            return self._decayed(min(step, self.decay_steps), self.initial)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial
            return self.initial + delta * step / self.warmup_steps
        return self._decayed(step - self.warmup_steps, self.warmup_target)


class OneCycle(LearningRateSchedule):
    """The learning rate of PyTorch's OneCycleLR (Smith & Topin, "Super-convergence",
    2018; two phases, momentum not cycled). With T = total_steps, lr0 = max_lr /
    div_factor, lr_min = lr0 / final_div_factor and E = pct_start * T - 1:
        lr(t) = anneal(lr0, max_lr, t / E)                      for t <= E
        lr(t) = anneal(max_lr, lr_min, (t - E) / (T - 1 - E))   otherwise
    where anneal(a, b, u) = b + (a - b) / 2 * (1 + cos(pi * u)) ("cos") or
    a + (b - a) * u ("linear"). Steps past T - 1 keep lr(T - 1) (PyTorch raises).
    Raises ValueError for total_steps < 2, pct_start outside [0, 1] or with
    pct_start * total_steps == 1 (a warm-up of zero length), an unknown
    anneal_strategy, or non-positive factors.
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        n = "OneCycle"
        self.max_lr = _number(n, "max_lr", max_lr)
        if isinstance(total_steps, bool) or not isinstance(
                total_steps, (int, np.integer)) or total_steps < 2:
            raise ValueError(f"{n}: total_steps must be an int >= 2, got {total_steps!r}")
        self.total_steps = int(total_steps)
        self.pct_start = _number(n, "pct_start", pct_start, high=1.0)
        if self.pct_start * self.total_steps == 1:
            raise ValueError(f"{n}: pct_start * total_steps must not be 1 (a warm-up of "
                             f"zero length), got {pct_start!r} * {total_steps!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{n}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor = _number(n, "div_factor", div_factor, strict=True)
        self.final_div_factor = _number(n, "final_div_factor", final_div_factor,
                                        strict=True)

    def _anneal(self, start: float, end: float, u: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * u) + 1)
        return (end - start) * u + start

    def _value(self, step: float) -> float:
        step = min(step, self.total_steps - 1)
        initial = self.max_lr / self.div_factor
        warm_end = self.pct_start * self.total_steps - 1
        if step <= warm_end:
            return self._anneal(initial, self.max_lr, step / warm_end)
        last = self.total_steps - 1
        return self._anneal(self.max_lr, initial / self.final_div_factor,
                            (step - warm_end) / (last - warm_end))


class LambdaSchedule(LearningRateSchedule):
    """lr(t) = fn(t) for any callable fn; its result is checked to be a finite
    number >= 0 (ValueError naming the step otherwise)."""

    def __init__(self, fn: Callable[[int], float]):
        if not callable(fn):
            raise ValueError(f"LambdaSchedule: fn must be callable, got {fn!r}")
        self.fn = fn

    def _value(self, step: float) -> float:
        return _number("LambdaSchedule", f"fn({step!r})", self.fn(step))


# The schedules that are plain data (all but LambdaSchedule), by class and by name.
SERIALIZABLE = (ExponentialDecay, PowerDecay, StepDecay, PiecewiseConstant, CosineDecay,
                OneCycle)
_SERIALIZABLE = {cls.__name__: cls for cls in SERIALIZABLE}
