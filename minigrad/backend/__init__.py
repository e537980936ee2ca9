"""Backend registry: one switch between the numpy reference, C and Numba kernels.

The ops of the engine call ``minigrad.backend.current()`` and nothing else, so a
kernel runs in whichever backend is selected at the moment of the call.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from types import ModuleType
from typing import Iterator

from .interface import KERNELS

_MODULES = {"numpy": "numpy_ref", "c": "c", "numba": "numba"}
_loaded: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}
_active: ModuleType | None = None
_active_name: str | None = None


def _load(name: str) -> ModuleType | None:
    """Import a backend once; remember why it failed so errors can say it."""
    if name in _loaded:
        return _loaded[name]
    if name in _errors:
        return None
    try:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    except Exception as exc:  # a missing extension or numba must never break import
        _errors[name] = f"{type(exc).__name__}: {exc}"
        return None
    missing = [k for k in KERNELS if not callable(getattr(module, k, None))]
    if missing:
        _errors[name] = f"backend {name!r} lacks kernels {missing}"
        return None
    _loaded[name] = module
    return module


def _why_not(name: str) -> str:
    reason = _errors.get(name, "unknown reason")
    if name == "c":
        return (f"the C extension minigrad._C is not usable ({reason}); build it with "
                "'make build' or 'pip install -e .' (needs a C compiler and cffi)")
    return f"backend {name!r} is not usable ({reason})"


def available() -> list[str]:
    """Names of the backends that import and provide every kernel."""
    return [n for n in ("c", "numba", "numpy") if _load(n) is not None]


def set_backend(name: str) -> None:
    """Select the kernels used from now on: "c", "numba" or "numpy".

    Raises ValueError for an unknown name and RuntimeError when the backend cannot
    be loaded (for "c": the extension is not built).
    """
    global _active, _active_name
    if name not in _MODULES:
        raise ValueError(f"set_backend: unknown backend {name!r}; "
                         f"choose one of {sorted(_MODULES)}")
    module = _load(name)
    if module is None:
        from ..errors import BackendError
        raise BackendError(f"set_backend: {_why_not(name)}")
    _active, _active_name = module, name


def get_backend() -> str:
    """Name of the backend in use."""
    if _active is None:
        _select_default()
    return _active_name  # type: ignore[return-value]


def current() -> ModuleType:
    """The module of the backend in use (its functions are the kernels)."""
    if _active is None:
        _select_default()
    return _active  # type: ignore[return-value]


@contextlib.contextmanager
def use(name: str) -> Iterator[None]:
    """``with use("numba"): ...`` runs the block on that backend, then restores."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def _select_default() -> None:
    requested = os.environ.get("MINIGRAD_BACKEND")
    if requested:
        set_backend(requested.strip().lower())
        return
    for name in ("c", "numba", "numpy"):
        if _load(name) is not None:
            if name != "c":
                warnings.warn(f"minigrad uses the {name!r} backend: {_why_not('c')}",
                              RuntimeWarning, stacklevel=3)
            set_backend(name)
            return
    raise RuntimeError("minigrad: no backend could be loaded: " + str(_errors))


__all__ = ["available", "current", "get_backend", "set_backend", "use"]


_threads: int | None = None


def set_num_threads(n: int) -> None:
    """Threads used by the C (OpenMP) and Numba kernels."""
    global _threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    _threads = n
    for name in ("c", "numba"):
        module = _load(name)
        if module is not None and hasattr(module, "set_num_threads"):
            module.set_num_threads(n)


def get_num_threads() -> int:
    """Threads of the kernels: set_num_threads's value, else OMP_NUM_THREADS, else
    every core."""
    if _threads is not None:
        return _threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


__all__ += ["get_num_threads", "set_num_threads"]
