"""Module (parameters, buffers and children found from attributes), Parameter, and the
containers ModuleList and Sequential."""
from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ..autograd import no_grad
from ..errors import DTypeError, add_layer_context
from ..tensor import Tensor
from .config import Configurable
from .keras import KerasMixin
from .portable import DeviceMixin

# PyTorch's BatchNorm writes a counter that minigrad does not keep; its state dicts
# must still load, so these entries are skipped.
_IGNORED_SUFFIXES = ("num_batches_tracked",)


class Parameter(Tensor):
    """A float Tensor that a Module owns and trains: requires_grad=True unless frozen.

    Parameter(data, requires_grad=True, dtype=None): integer or bool data becomes
    float32 unless dtype= asks for a non-float type, which raises TypeError.
    """

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None):
        raw = data.data if isinstance(data, Tensor) else data
        if dtype is None and np.asarray(raw).dtype.kind in "iub":
            dtype = np.float32
        super().__init__(data, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise DTypeError(f"Parameter: data must be floating point, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__() + ")"


class RemovableHandle:
    """Returned by register_forward_hook; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module(Configurable, KerasMixin, DeviceMixin):
    """Base of every layer and model.

    Parameters (``Parameter`` attributes), buffers (registered with
    ``register_buffer``) and children (``Module`` attributes, or lists/tuples of
    modules) are discovered from the attributes, in assignment order, so a subclass
    only assigns them in ``__init__`` and defines ``forward``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffer_names", [])
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_hook_counter", 0)
        object.__setattr__(self, "_activity_losses", [])

    def __setattr__(self, name: str, value: Any) -> None:
        if "_buffer_names" not in self.__dict__ and (
                isinstance(value, (Tensor, Module))):
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before "
                               f"assigning {name!r}")
        object.__setattr__(self, name, value)

    # ----- structure ------------------------------------------------------------
    def register_buffer(self, name: str, value: Any) -> None:
        """Keep a non-trained tensor (e.g. running_mean) in the state dict; it never
        requires grad."""
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"{type(self).__name__}.register_buffer: name must be a public "
                             f"identifier (no dots, no leading underscore), got {name!r}")
        t = value if isinstance(value, Tensor) else Tensor(value)
        t.requires_grad_(False)
        setattr(self, name, t)
        if name not in self._buffer_names:
            self._buffer_names.append(name)

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct sub-modules: Module attributes, and items of list/tuple attributes
        (named ``attr.0``, ``attr.1``, ...)."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module (named ``prefix``, "" at the root) and every descendant."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def _own_parameters(self) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter) and not name.startswith("_"):
                yield name, value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, frozen ones included; each once."""
        seen: set[int] = set()
        for prefix, m in self.named_modules():
            for name, p in m._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for prefix, m in self.named_modules():
            for name in m._buffer_names:
                yield (f"{prefix}.{name}" if prefix else name), getattr(m, name)

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """fn(m) on every child (recursively), then on self; returns self (PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients ----------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (batch statistics, dropout on) for this module and below."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @contextlib.contextmanager
    def mode(self, training: bool | None = None) -> Iterator["Module"]:
        """``with model.mode(training=False):`` runs the block with this module and every
        descendant in that mode (None: as they are), then gives each back its own
        previous flag (some may differ, e.g. a BN kept in eval inside a training
        model)."""
        saved = [(m, m.training) for m in self.modules()]
        if training is not None:
            self.train(training)
        try:
            yield self
        finally:
            for m, flag in saved:
                object.__setattr__(m, "training", flag)  # per module: train() recurses

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def freeze(self) -> "Module":
        """Stop training every parameter here (requires_grad=False); parameters()
        still yields them and optimizers skip them. As in PyTorch, a frozen BatchNorm
        in training mode still updates its running statistics: call .eval() on the
        frozen part to keep them fixed (Keras does that implicitly)."""
        for p in self.parameters():
            p.requires_grad = False
        return self

    def unfreeze(self) -> "Module":
        for p in self.parameters():
            p.requires_grad = True
        return self

    # ----- calling -----------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]
                              ) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None
        return value replaces the output. Returns a handle with ``remove()``."""
        key = self._hook_counter
        object.__setattr__(self, "_hook_counter", key + 1)
        self._forward_hooks[key] = hook
        return RemovableHandle(self._forward_hooks, key)

    # ----- regularization ------------------------------------------------------------
    def regularization_loss(self) -> Tensor:
        """Sum of every kernel/bias regularizer on the current weights plus the
        activity regularization of the last forward pass; a scalar Tensor that
        backpropagates (0 when nothing is regularized)."""
        terms: list[Tensor] = []
        for m in self.modules():
            for attr, reg_name in (("weight", "kernel_regularizer"),
                                   ("bias", "bias_regularizer")):
                reg, p = getattr(m, reg_name, None), getattr(m, attr, None)
                if reg is not None and isinstance(p, Parameter):
                    terms.append(reg(p))
            terms.extend(m._activity_losses)
        if not terms:
            dtype = next((p.dtype for p in self.parameters()), np.float32)
            return Tensor(0.0, dtype=dtype)
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    # ----- state --------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters then buffers of each module, under PyTorch's dotted names, as
        copies (later training does not change a saved state)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for prefix, m in self.named_modules():
            for name, p in m._own_parameters():
                state[f"{prefix}.{name}" if prefix else name] = p.data.copy()
            for name in m._buffer_names:
                state[f"{prefix}.{name}" if prefix else name] = getattr(m, name).data.copy()
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> dict:
        """Copy the arrays of ``state`` (ndarrays, Tensors or torch tensors) into the
        parameters and buffers in place, keeping their dtype.

        Raises ValueError naming every missing, unexpected and mis-shaped key (with
        strict=False only shapes are checked). ``num_batches_tracked`` is ignored.
        Returns {"missing": [...], "unexpected": [...]}.
        """
        targets = dict(self.named_parameters())
        targets.update(self.named_buffers())
        given = {k: v for k, v in state.items() if not k.endswith(_IGNORED_SUFFIXES)}
        missing = [k for k in targets if k not in given]
        unexpected = [k for k in given if k not in targets]
        arrays = {k: np.asarray(v.data if isinstance(v, Tensor) else v)
                  for k, v in given.items() if k in targets}
        bad = [f"{k}: expected {tuple(targets[k].shape)}, got {tuple(a.shape)}"
               for k, a in arrays.items() if a.shape != targets[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if bad:
            problems.append("mis-shaped keys [" + "; ".join(bad) + "]")
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + ", ".join(problems))
        with no_grad():
            for k, a in arrays.items():
                targets[k].copy_(a)
        return {"missing": missing, "unexpected": unexpected}

    def __getstate__(self) -> dict:
        # Copies (clone, deepcopy) drop the last forward's activity terms: they hold
        # a graph that belongs to the original.
        state = dict(self.__dict__)
        state["_activity_losses"] = []
        return state

    # ----- display ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules whose children are named "0", "1", ... (as PyTorch)."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        object.__setattr__(self, "_items", [])
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.append: expected a Module, got "
                            f"{type(module).__name__}")
        self._items.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, m in enumerate(self._items):
            yield str(i), m

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._from_items(self._items[index])
        return self._items[index]

    def _from_items(self, items: list) -> "ModuleList":
        return ModuleList(items)

    def __len__(self) -> int:
        return len(self._items)

    def get_config(self) -> dict[str, Any]:
        """The current children (appended ones too), not the constructor's argument."""
        return {"modules": tuple(self._items)}

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)


class Sequential(ModuleList):
    """Applies its modules in order: Sequential(Linear(4, 8), ReLU(), Linear(8, 2)).
    Children are named "0", "1", ... (as PyTorch); indexing, len and append work."""

    def __init__(self, *modules: Module):
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        super().__init__(modules)

    def _from_items(self, items: list) -> "Sequential":
        return Sequential(*items)

    def forward(self, x: Any) -> Any:
        for i, m in enumerate(self._items):
            try:
                x = m(x)
            except (ValueError, TypeError) as exc:
                # Name the failing layer's place ("Sequential.2 (Linear): ...") so a
                # shape error in a deep model points at the layer, not only its type.
                add_layer_context(exc, type(self).__name__, str(i), m)
                raise
        return x


def leaf_modules(model: Module) -> list[tuple[str, Module]]:
    """(name, module) of every module without children, in definition order (the root,
    named by its class, when it has none)."""
    return [(name or type(m).__name__, m) for name, m in model.named_modules()
            if not list(m.children())]


def clone(model: Module) -> Module:
    """An independent deep copy of ``model`` (weights, buffers, mode, hooks), with no
    gradients and no graph attached."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.grad = None
    return twin
