"""Optimizer base: parameter groups, lazy per-parameter state, Keras-style gradient
clipping, weight decay, learning-rate schedules and state dicts.

Subclassing the PyTorch way works: ``super().__init__(params, dict(lr=lr, rho=rho))``
(the defaults as given) and a ``step()`` that reads ``self.param_groups`` and
``self.state[p]`` and writes ``p.data`` in place. The built-in optimizers instead
supply their defaults, a ``_check_group`` that validates one group's
hyperparameters, ``_update(p, g, state, group, lr, scratch)`` which changes ``p``
(the parameter's ndarray) in place with numpy (the reference), and optionally
``_fused_update(i, p, g, state, group, lr)``, the same rule as one Numba pass
through ``self._kernels`` (fused.py).
Everything else lives here.
"""
from __future__ import annotations

import copy
import math
import operator
import os
from functools import partial
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
from . import multi_tensor, schedules
from ._checks import (Schedule, _as_groups, _check_common, _check_param, _checked_lr,
                      _check_lr, _loaded_value, check_number)

__all__ = ["Optimizer", "Schedule", "check_number", "coupled_decay"]


class ParamState(dict):
    """Per-parameter state, keyed by the parameter's index in group order (so state
    dicts carry no references). ``state[p]`` with the parameter Tensor itself also
    works and creates an empty dict on first use, as PyTorch's ``self.state[p]``."""

    def __init__(self, optimizer: "Optimizer", items: Any = ()):
        super().__init__(items)
        self._optimizer = optimizer

    def __getitem__(self, key: Any) -> dict[str, Any]:
        if isinstance(key, Tensor):
            index = self._optimizer._param_index.get(id(key))
            if index is None:
                raise KeyError(f"{self._optimizer._name}.state: the tensor of shape "
                               f"{key.shape} is not a parameter of this optimizer")
            return self.setdefault(index, {})
        return super().__getitem__(key)


class Optimizer:
    """Base class of every optimizer.

    params: an iterable of Tensors, or of dicts ``{"params": [...], "lr": ..., ...}``
    (parameter groups: a key given in the dict overrides the optimizer's default for
    that group only, as in PyTorch). Parameters with ``requires_grad=False`` (frozen)
    or ``grad is None`` are skipped by ``step()``.

    State (moment estimates, step counts) is created lazily, at a parameter's first
    update, and is keyed by the parameter's index in the flattened group order, so
    ``state_dict()`` loads into a new optimizer built over the same parameters.

    The update of one step, for each parameter, in this order:
      1. g = grad, clipped elementwise to [-clipvalue, clipvalue], or rescaled to
         g * clipnorm / max(||g||_2, clipnorm) (Keras: each tensor by its own norm;
         one of the two at most);
      2. weight decay (coupled ``g += wd * p``, or decoupled for AdamW);
      3. the optimizer's rule;
      4. the parameter's ``constraint`` attribute, if any: p <- constraint(p)
         (mg.nn.constraints, set by a layer's kernel_constraint= / bias_constraint=).
    No gradient is checked for NaN/inf here (that would cost a full extra pass per
    step): ``clip_grad_norm_`` returns the global norm, inf/nan when a gradient is
    not finite, which is the place to notice it and skip the step.

    Memory: besides its state, each parameter updated by the numpy rule gets two
    work arrays of its shape, kept between steps, so that a step allocates nothing;
    the fused kernels need them only to copy or clip a gradient (one array).

    fused: None (default) runs step 3 (with the weight decay) as one compiled Numba
    pass per parameter when Numba imports with its JIT on and the environment
    variable MINIGRAD_FUSED_OPTIM is not "0"; True asks for it (RuntimeError when
    Numba does not import; with NUMBA_DISABLE_JIT=1 the kernels run as slow Python);
    False keeps the numpy rule. Either way a parameter whose dtype is not float32/
    float64, or whose state is not contiguous in its layout, takes the numpy rule,
    and both paths give the same numbers to float rounding (the state dict is the
    same, so one loads into the other). ``opt.fused`` says what was chosen.
    """

    _name = "Optimizer"

    def __init__(self, params: Any, defaults: dict[str, Any], fused: bool | None = None):
        self._kernels = _fused_kernels(self._name, fused)
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._param_index: dict[int, int] = {}  # id(parameter) -> its index
        self.state = ParamState(self)
        self.iterations = 0  # optimizer steps taken; a schedule is called with it
        self._scratch: dict[int, list[np.ndarray]] = {}
        self._flat_views: dict[int, tuple[tuple, Any]] = {}
        self._step_scalars: dict[tuple, np.ndarray] = {}  # of the current step
        self._batch: multi_tensor.Batch | None = None  # deferred updates of this step
        self._pointer_cache = multi_tensor.Cache()
        groups = _as_groups(self._name, params)
        seen: dict[int, int] = {}
        for group in groups:
            self._add_group(group, seen)

    # ----- construction and validation ---------------------------------------------
    def _add_group(self, group: dict[str, Any], seen: dict[int, int]) -> None:
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{self._name}: unknown parameter-group option(s) "
                             f"{sorted(unknown)}; known: {sorted(self.defaults)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{self._name}: parameter group {len(self.param_groups)} "
                             "has an empty parameter list")
        for p in params:
            _check_param(self._name, p, seen, len(seen))
        full = {**self.defaults, **group, "params": params}
        _check_common(self._name, full)
        self._check_group(full)
        self.param_groups.append(full)
        for p in params:
            self._param_index[id(p)] = len(self._param_index)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Append a parameter group (dict with "params" and optional overrides)."""
        if not isinstance(group, dict) or "params" not in group:
            raise ValueError(f"{self._name}.add_param_group: expected a dict with a "
                             f"'params' key, got {type(group).__name__}")
        seen = {id(p): i for i, p in enumerate(self._all_params())}
        self._add_group(dict(group), seen)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's optimizer-specific hyperparameters (subclasses)."""

    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    # ----- learning rate -----------------------------------------------------------
    def _group_lr(self, group: dict[str, Any]) -> float:
        lr = group["lr"]
        if callable(lr):
            value = lr(self.iterations)
            _check_lr(f"{self._name}: schedule at step {self.iterations}", value)
            return float(value)
        return lr

    @property
    def lr(self) -> float:
        """The learning rate of the next step (of the first group; a schedule is
        evaluated at the current step count). Setting it sets every group's lr to
        the given float or schedule, replacing any schedule."""
        return self._group_lr(self.param_groups[0])

    @lr.setter
    def lr(self, value: float | Schedule) -> None:
        value = _checked_lr(self._name, value)
        for group in self.param_groups:
            group["lr"] = value

    # ----- the step ----------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's .grad to None (PyTorch's set_to_none=True)."""
        for p in self._all_params():
            p.grad = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that requires grad and has a gradient, in place,
        bumping its ``_version`` (a backward through a graph recorded before the
        step then raises instead of using the new values).

        closure: optional callable that re-evaluates the model and returns the loss
        (it is called first, and its result returned), as in PyTorch.
        """
        loss = closure() if closure is not None else None
        self._step_scalars.clear()  # groups' hyperparameters may change between steps
        # deferred updates (the C multi-tensor kernel) run before a constraint reads
        # their parameter and at the end, even when a later parameter raises
        self._batch = multi_tensor.batch_for_step() if self._kernels is not None else None
        try:
            self._step_groups()
        finally:
            self._run_batch()
        self.iterations += 1
        return loss

    def _step_groups(self) -> None:
        index = 0
        for group in self.param_groups:
            lr = self._group_lr(group)
            for p in group["params"]:
                i, index = index, index + 1
                if not p.requires_grad or p.grad is None:
                    continue
                g = p.grad.data
                if g.shape != p.data.shape:
                    raise RuntimeError(f"{self._name}.step: parameter {i} has shape "
                                       f"{p.data.shape} but its grad has shape {g.shape}")
                data = p.data
                work = partial(self._work, i, data)  # made only if a copy is needed
                g = _clipped(_in_layout_of(data, g, work), group, work)
                state = self.state.setdefault(i, {})
                if self._kernels is None or not self._fused_update(
                        i, data, g, state, group, lr):
                    self._update(data, g, state, group, lr, self._buffers(i, data))
                constraint = getattr(p, "constraint", None)  # nn.constraints (Keras)
                if constraint is not None:
                    self._run_batch()
                    np.copyto(data, constraint(data))
                p._version += 1  # an in-place write: backward through p's old value raises

    def _run_batch(self) -> None:
        """Run the updates deferred to the multi-tensor kernel (see multi_tensor.py)."""
        if self._batch is not None:
            self._batch.run(self._pointer_cache)

    def _work(self, i: int, p: np.ndarray) -> np.ndarray:
        return self._buffers(i, p)[0]

    def _buffers(self, i: int, p: np.ndarray) -> list[np.ndarray]:
        """Work arrays shaped like parameter i, kept between steps so that a step
        allocates nothing (they are not part of the state dict). The fused kernels
        need none, only a layout copy or clipping of the gradient does."""
        bufs = self._scratch.get(i)
        if bufs is None or bufs[0].shape != p.shape or bufs[0].dtype != p.dtype:
            bufs = [np.empty_like(p), np.empty_like(p)]
            self._scratch[i] = bufs
        return bufs

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], lr: float, scratch: list[np.ndarray]) -> None:
        raise NotImplementedError(f"{self._name} defines no _update")

    def _fused_update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], lr: float) -> bool:
        """The update of ``_update`` for parameter i through the kernels of fused.py;
        False when they do not apply to these arrays (then neither they nor the step
        count have changed; missing state may have been created, as _update would).
        g is laid out like p (``_in_layout_of``), so ``g.ravel(order)`` is a view."""
        return False

    def _flat(self, i: int, p: np.ndarray, *state: np.ndarray | None) -> Any:
        """fused.flat(p, *state) for parameter i, remembered while the same arrays
        come back (the checks and views cost more than the kernel on a bias)."""
        arrays = (p,) + state
        hit = self._flat_views.get(i)
        if hit is not None and len(hit[0]) == len(arrays) and all(
                map(operator.is_, hit[0], arrays)):
            return hit[1]
        found = self._kernels.flat(p, *state)
        self._flat_views[i] = (arrays, found)
        return found

    def _scalars(self, group: dict[str, Any], p: np.ndarray, t: int,
                 values: Callable[[], tuple[float, ...]]) -> np.ndarray:
        """fused.scalars(p, *values()), made once per group, dtype and per-parameter
        step count t in a step: the parameters of a group share it."""
        key = (id(group), p.dtype.char, t)
        h = self._step_scalars.get(key)
        if h is None:
            h = self._step_scalars[key] = self._kernels.scalars(p, *values())
        return h

    @property
    def fused(self) -> bool:
        """Whether step() runs the fused Numba kernels (see the class docstring)."""
        return self._kernels is not None

    # ----- state dicts ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: array or number}}, "param_groups": [{hyper-
        parameters..., "params": [indices]}], "iterations": n}: copies, keyed by the
        parameter's index in group order (no references to the parameters)."""
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            # schedules as plain data, so mg.save can store the dict (a LambdaSchedule
            # or other callable stays an object: in memory only)
            entry = {k: (schedules.serialize(v) if type(v) in schedules.SERIALIZABLE
                         else v) for k, v in group.items() if k != "params"}
            entry["params"] = list(range(start, start + n))
            groups.append(entry)
            start += n
        state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                     for k, v in s.items()} for i, s in self.state.items()}
        return {"state": state, "param_groups": copy.deepcopy(groups),
                "iterations": self.iterations}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load what ``state_dict()`` returned (by this or another optimizer of the
        same class over parameters of the same shapes). Hyperparameters are taken
        from the dict, as in PyTorch; arrays are copied."""
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(
                state_dict):
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups', "
                             f"got {type(state_dict).__name__}")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}: the dict has {len(saved)} parameter groups, this "
                             f"optimizer has {len(self.param_groups)}")
        sizes = [len(g["params"]) for g in saved]
        mine = [len(g["params"]) for g in self.param_groups]
        if sizes != mine:
            raise ValueError(f"{name}: group sizes differ, the dict has {sizes} "
                             f"parameters per group, this optimizer {mine}")
        params = self._all_params()
        state = {}
        for key, entry in state_dict["state"].items():
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"{name}: state for parameter {i}, but there are "
                                 f"{len(params)} parameters")
            state[i] = {k: _loaded_value(name, i, k, v, params[i]) for k, v in entry.items()}
        new_groups = []
        for group, entry in zip(self.param_groups, saved):
            full = {**copy.deepcopy({k: (schedules.deserialize(v)
                                         if schedules.is_serialized(v) else v)
                                         for k, v in entry.items() if k != "params"}),
                    "params": group["params"]}
            _check_common(self._name, full)
            self._check_group(full)
            new_groups.append(full)
        self.param_groups, self.state = new_groups, ParamState(self, state)
        self._flat_views = {}  # holds the replaced arrays
        self._pointer_cache = multi_tensor.Cache()  # so does this
        self.iterations = int(state_dict.get("iterations", 0))

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            opts = ", ".join(f"{k}={v!r}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} params, {opts}")
        return "\n".join(lines + [")"])


# ----- helpers shared by the optimizers ----------------------------------------------
def _fused_kernels(name: str, fused: bool | None) -> Any:
    """The fused.py module when the fused path is chosen, else None. Imported here,
    not at package import: Numba's import takes a few hundred milliseconds."""
    if fused is not None and not isinstance(fused, (bool, np.bool_)):
        raise ValueError(f"{name}: fused must be None, True or False, got {fused!r}")
    if (fused is not None and not fused) or (
            fused is None and os.environ.get("MINIGRAD_FUSED_OPTIM", "1").strip() == "0"):
        return None
    try:
        from . import fused as kernels
    except Exception as exc:  # numba missing or broken: the numpy rule still works
        if fused:
            raise RuntimeError(f"{name}: fused=True needs Numba, which failed to import "
                               f"({type(exc).__name__}: {exc}); pass fused=False or "
                               "install numba") from exc
        return None
    if fused is None and kernels.JIT_DISABLED:
        return None  # interpreted kernels would be ~1000x slower than numpy
    return kernels


def _clipped(g: np.ndarray, group: dict[str, Any],
             out: Callable[[], np.ndarray]) -> np.ndarray:
    """The Keras per-tensor clipping of g (into ``out()`` when it changes anything)."""
    clipvalue, clipnorm = group.get("clipvalue"), group.get("clipnorm")
    if clipvalue is not None:
        return np.clip(g, -clipvalue, clipvalue, out=out())
    if clipnorm is not None:
        # float64 accumulation: a float32 sum of squares overflows for |g| ~ 1e19
        flat = g.ravel()
        norm = math.sqrt(float(np.einsum("i,i->", flat, flat, dtype=np.float64)))
        if norm > clipnorm:  # False for a NaN norm: the NaN then shows in the weights
            return np.multiply(g, clipnorm / norm, out=out())
    return g


def _in_layout_of(p: np.ndarray, g: np.ndarray,
                  out: Callable[[], np.ndarray]) -> np.ndarray:
    """g, copied into ``out()`` when its memory layout (or dtype) differs from p's: a
    transposed weight gradient (as matmul's backward may give) makes every later
    elementwise pass strided, ~5x slower than the one copy."""
    if g.strides == p.strides and g.dtype == p.dtype:
        return g
    work = out()
    np.copyto(work, g)
    return work


def coupled_decay(p: np.ndarray, g: np.ndarray, wd: float,
                  scratch: list[np.ndarray]) -> np.ndarray:
    """g + wd * p (the L2 penalty folded into the gradient) in scratch[0]; g may
    already be scratch[0] (after clipping or a layout copy)."""
    work, tmp = scratch
    if wd == 0:
        return g
    if g is work:
        work += np.multiply(p, wd, out=tmp)
    else:
        np.multiply(p, wd, out=work)
        work += g
    return work
