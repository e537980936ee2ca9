"""Architecture as data: the get_config() / from_config() protocol and the class registry.

A ``Configurable`` (every ``Module``, the regularizers) records the arguments its
constructor was called with, so ``get_config()`` needs no code per layer: a new
constructor argument is saved and restored by itself. A class whose state is not its
constructor arguments (a container, an adapted layer) overrides ``get_config``.

``to_data(obj)`` turns an object into JSON-able data, ``{"class": name, "config":
{...}}`` with nested modules, tuples, dtypes and small arrays tagged; ``from_data``
rebuilds it by calling the constructors of REGISTERED classes only, with data
arguments only, so reading a config can never import or run other code. minigrad's
own classes register themselves; a user's class is registered with
``@mg.nn.register_module``.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np

__all__ = ["Configurable", "from_data", "register_module", "registered", "to_data"]

_REGISTRY: dict[str, type] = {}
_MAX_ARRAY = 1 << 16   # elements; weights belong in the state dict, not the config


def register_module(cls: type) -> type:
    """Make ``cls`` loadable by name (its ``__name__``); usable as a class decorator.

    Raises ValueError when another class already holds the name.
    """
    old = _REGISTRY.get(cls.__name__)
    if old is not None and old is not cls and (old.__module__, old.__qualname__) != (
            cls.__module__, cls.__qualname__):   # a reloaded module re-registers its class
        raise ValueError(f"register_module: the name {cls.__name__!r} is taken by "
                         f"{old.__module__}.{old.__qualname__}; rename "
                         f"{cls.__module__}.{cls.__qualname__}")
    _REGISTRY[cls.__name__] = cls
    return cls


def registered() -> list[str]:
    """The names load_model can rebuild, sorted."""
    return sorted(_REGISTRY)


def _capture(init: Any) -> Any:
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        # the outermost constructor (the instance's own class) records; the
        # super().__init__ calls inside it do not overwrite that
        if "_init_args" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            object.__setattr__(self, "_init_args", dict(list(bound.arguments.items())[1:]))
        init(self, *args, **kwargs)
    return wrapper


class Configurable:
    """Base of objects that can be saved as data: ``get_config()`` returns the keyword
    arguments that rebuild the object (by default those its constructor received)
    and ``from_config(config)`` calls the constructor with them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _capture(cls.__dict__["__init__"])
        if cls.__module__.startswith("minigrad.") and not cls.__name__.startswith("_"):
            register_module(cls)

    #: Constructor arguments kept as attributes that may change after construction
    #: (mg.nn.fuse sets a layer's activation): saved as they are now, not as given.
    _live_config: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, by name (a ``*args`` parameter holds a tuple),
        with the ``_live_config`` ones as they are now."""
        config = dict(self.__dict__.get("_init_args", {}))
        config.update({name: getattr(self, name) for name in type(self)._live_config})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """A new object built from what ``get_config()`` returned."""
        args, kwargs = [], dict(config)
        for p in inspect.signature(cls).parameters.values():
            if p.kind is p.VAR_POSITIONAL and p.name in kwargs:
                args = list(kwargs.pop(p.name))
            elif p.kind is p.VAR_KEYWORD and p.name in kwargs:
                kwargs.update(kwargs.pop(p.name))
        return cls(*args, **kwargs)


def _initializer_name(value: Any) -> str | None:
    from . import init   # the initializer table; imported here as init imports nothing of ours
    name = getattr(value, "__name__", None)
    try:
        return name if name and init.get(name) is value else None
    except (ValueError, KeyError, TypeError):
        return None


def to_data(value: Any, where: str = "model") -> Any:
    """JSON-able data for ``value``; TypeError naming ``where`` if it cannot be stored."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, Configurable):
        name = type(value).__name__
        if _REGISTRY.get(name) is not type(value):
            raise TypeError(f"save_model: {where} is a {type(value).__module__}.{name}, "
                            f"which is not registered; decorate the class with "
                            f"@mg.nn.register_module")
        config = value.get_config()
        return {"class": name, "module": type(value).__module__,   # a hint for errors only
                "config": {k: to_data(v, f"{where}.{name}({k}=...)")
                           for k, v in config.items()}}
    if isinstance(value, (list, tuple)):
        items = [to_data(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: to_data(v, f"{where}[{k!r}]") for k, v in value.items()}}
    if isinstance(value, (np.dtype, type)) and _is_dtype(value):
        return {"dtype": np.dtype(value).name}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and \
            value.size <= _MAX_ARRAY:
        return {"array": value.tolist(), "array_dtype": value.dtype.name}
    name = _initializer_name(value) if callable(value) else None
    if name is not None:
        return name   # the constructors accept an initializer by name
    raise TypeError(f"save_model: cannot store {where} = {value!r} "
                    f"({type(value).__name__}) as data; use names, numbers, tuples, "
                    "registered modules, or give the class get_config()/from_config()")


def _is_dtype(value: Any) -> bool:
    try:
        return np.dtype(value).kind in "biufc"
    except TypeError:
        return False


_TAGS = {"tuple", "dict", "dtype", "array"}


def from_data(data: Any, where: str = "model") -> Any:
    """The object ``to_data`` described. Raises ValueError naming the place of an
    unknown class or a malformed entry, and the class of a config it rejects."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [from_data(v, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict):
        raise ValueError(f"load_model: malformed architecture at {where}: {data!r:.80}")
    if "class" in data:
        return _build(data, where)
    tag = next((k for k in data if k in _TAGS), None)
    if tag == "tuple":
        return tuple(from_data(v, f"{where}[{i}]") for i, v in enumerate(data["tuple"]))
    if tag == "dict":
        return {str(k): from_data(v, f"{where}[{k!r}]") for k, v in data["dict"].items()}
    if tag == "dtype" and _is_dtype(data["dtype"]):
        return np.dtype(data["dtype"]).type
    if tag == "array" and _is_dtype(data.get("array_dtype")):
        return np.asarray(data["array"], dtype=np.dtype(data["array_dtype"]))
    raise ValueError(f"load_model: malformed architecture at {where}: {data!r:.80}")


def _build(data: dict, where: str) -> Any:
    name, config = data.get("class"), data.get("config", {})
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        hint = data.get("module")
        hint = f" (it was defined in {hint}: import that first)" if isinstance(hint, str) \
            else ""
        raise ValueError(f"load_model: unknown class {name!r} at {where}{hint}; known "
                         f"classes: {', '.join(registered())}. Register a custom module "
                         "with @mg.nn.register_module before loading")
    if not isinstance(config, dict):
        raise ValueError(f"load_model: the config of {name} at {where} must be a dict, "
                         f"got {type(config).__name__}")
    kwargs = {str(k): from_data(v, f"{where}.{name}({k}=...)") for k, v in config.items()}
    try:
        return cls.from_config(kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"load_model: cannot rebuild {name} at {where} from its config "
                         f"{sorted(kwargs)}: {exc}") from None
