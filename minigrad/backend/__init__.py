"""Backend registry: one switch between the numpy reference, C and Numba kernels.

The ops of the engine call ``minigrad.backend.current()`` and nothing else, so a
kernel runs in whichever backend is selected at the moment of the call.
``set_backend`` sets the process-wide default; ``with use(name):`` overrides it in the
calling thread only (a context variable), so a thread's block never changes what
another thread runs.

Backends are listed once, in ``_BACKENDS`` (name -> module), in the order the default
is chosen. A backend may define any subset of ``interface.KERNELS``: the kernels it
lacks are served by the numpy reference, with one warning listing them when it loads.
``current()`` returns that backend's dispatch table (``Kernels``), built once per
backend, so a call costs one attribute lookup.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import threading
import warnings
from types import ModuleType
from typing import Any, Iterator

from .algorithm import (choose_conv_algorithm, conv_algorithm, get_conv_algorithm,
                        set_conv_algorithm)
from .interface import KERNELS

REFERENCE = "numpy"
# The one list of backends: name -> module (relative to this package, or a module
# object given to register()), in the order the default is picked.
_BACKENDS: dict[str, str | ModuleType] = {"c": ".c", "numba": ".numba",
                                          "numpy": ".numpy_ref"}
_loaded: dict[str, "Kernels"] = {}
_errors: dict[str, str] = {}
_lock = threading.RLock()  # loading and the first default choice happen once
_default: "Kernels | None" = None  # set_backend: the process-wide choice
_override: contextvars.ContextVar["Kernels | None"] = contextvars.ContextVar(
    "minigrad_backend", default=None)  # use(): this thread's choice, over the default


class Kernels:
    """The kernels one backend serves: an attribute per name in ``KERNELS``, bound to
    the backend's own function, or to the numpy reference's where it has none.

    ``name`` is the backend, ``module`` its module (other attributes, such as
    ``set_num_threads``, are looked up there), ``served_by`` maps each kernel to the
    backend that runs it, ``fallbacks`` lists the kernels the reference serves.
    """

    def __init__(self, name: str, module: Any, reference: Any):
        self.name, self.module = name, module
        self.served_by: dict[str, str] = {}
        for kernel in KERNELS:
            fn = getattr(module, kernel, None)
            owner = name if callable(fn) else REFERENCE
            setattr(self, kernel, fn if callable(fn) else getattr(reference, kernel))
            self.served_by[kernel] = owner
        self.fallbacks = [k for k, owner in self.served_by.items() if owner != name]

    def __getattr__(self, attr: str) -> Any:
        # Called only for what is not a kernel; "module" itself missing means a
        # half-built object (copy, pickle), which must not recurse.
        if attr == "module" or attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.module, attr)

    def __repr__(self) -> str:
        own = len(KERNELS) - len(self.fallbacks)
        return f"<Kernels {self.name!r}: {own}/{len(KERNELS)} own kernels>"


def _import(name: str) -> Any:
    source = _BACKENDS[name]
    if isinstance(source, str):
        return importlib.import_module(source, package=__name__)
    return source


def _load(name: str) -> Kernels | None:
    """The dispatch table of a backend, built once; None (and the reason remembered
    for the error messages) when it cannot be imported or has no kernel at all."""
    with _lock:
        if name in _loaded or name in _errors:
            return _loaded.get(name)
        try:
            module = _import(name)
        except Exception as exc:  # a missing extension or numba must never break import
            _errors[name] = f"{type(exc).__name__}: {exc}"
            return None
        reference = module if name == REFERENCE else _import(REFERENCE)
        table = Kernels(name, module, reference)
        if len(table.fallbacks) == len(KERNELS):
            _errors[name] = f"backend {name!r} defines none of the kernels {list(KERNELS)}"
            return None
        if table.fallbacks:
            warnings.warn(f"minigrad backend {name!r} lacks the kernels {table.fallbacks}; "
                          f"they run on the {REFERENCE!r} reference", RuntimeWarning,
                          stacklevel=4)
        if _threads is not None and hasattr(module, "set_num_threads"):
            module.set_num_threads(_threads)
        _loaded[name] = table
        return table


def _why_not(name: str) -> str:
    reason = _errors.get(name, "unknown reason")
    if name == "c":
        return (f"the C extension minigrad._C is not usable ({reason}); build it with "
                "'make build' or 'pip install -e .' (needs a C compiler and cffi)")
    return f"backend {name!r} is not usable ({reason})"


def register(name: str, source: str | ModuleType) -> None:
    """Add (or replace) backend ``name``: a module object, or an importable module
    path, defining any subset of ``interface.KERNELS``; the rest fall back to the
    numpy reference. It is chosen only by name (``use``, ``set_backend``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"register: name must be a non-empty string, got {name!r}")
    if name == REFERENCE:
        raise ValueError(f"register: {REFERENCE!r} is the reference and cannot be replaced")
    with _lock:
        _BACKENDS[name] = source
        _forget(name)


def unregister(name: str) -> None:
    """Remove a backend added with ``register`` (ValueError for an unknown name)."""
    global _default
    if name not in _BACKENDS or name == REFERENCE:
        raise ValueError(f"unregister: no registered backend {name!r}")
    with _lock:
        del _BACKENDS[name]
        if _default is not None and _default.name == name:
            _default = None
        _forget(name)


def _forget(name: str) -> None:
    _loaded.pop(name, None)
    _errors.pop(name, None)


def available() -> list[str]:
    """Names of the backends that load, in the order the default is picked."""
    return [n for n in list(_BACKENDS) if _load(n) is not None]


def _resolve(name: str, caller: str) -> Kernels:
    if name not in _BACKENDS:
        raise ValueError(f"{caller}: unknown backend {name!r}; "
                         f"choose one of {sorted(_BACKENDS)}")
    table = _load(name)
    if table is None:
        from ..errors import BackendError
        raise BackendError(f"{caller}: {_why_not(name)}")
    return table


def set_backend(name: str) -> None:
    """Select the process-wide default kernels: "c", "numba", "numpy" or a registered
    name. A thread inside ``use(...)`` keeps that block's backend until it leaves.

    Raises ValueError for an unknown name and RuntimeError when the backend cannot
    be loaded (for "c": the extension is not built).
    """
    global _default
    _default = _resolve(name, "set_backend")


def current() -> Kernels:
    """The dispatch table of the backend in use in this thread: one attribute per
    kernel (see ``Kernels``)."""
    chosen = _override.get()
    if chosen is None:
        chosen = _default or _select_default()
    return chosen


def get_backend() -> str:
    """Name of the backend in use in this thread."""
    return current().name


def kernel_table(name: str | None = None) -> dict[str, str]:
    """{kernel: name of the backend that runs it} for backend ``name`` (default: the
    one in use); a kernel the backend lacks shows the reference, "numpy"."""
    table = current() if name is None else _resolve(name, "kernel_table")
    return dict(table.served_by)


@contextlib.contextmanager
def use(name: str) -> Iterator[None]:
    """``with use("numba"): ...`` runs the block on that backend in this thread only,
    then restores; other threads keep theirs."""
    chosen = _resolve(name, "use")
    previous = _override.get()
    _override.set(chosen)
    try:
        yield
    finally:
        _override.set(previous)


def _select_default() -> Kernels:
    global _default
    with _lock:
        if _default is None:
            _default = _first_choice()
        return _default


def _first_choice() -> Kernels:
    requested = os.environ.get("MINIGRAD_BACKEND")
    if requested:
        return _resolve(requested.strip().lower(), "MINIGRAD_BACKEND")
    for name in list(_BACKENDS):
        table = _load(name)
        if table is not None:
            if name != "c":
                warnings.warn(f"minigrad uses the {name!r} backend: {_why_not('c')}",
                              RuntimeWarning, stacklevel=5)
            return table
    raise RuntimeError("minigrad: no backend could be loaded: " + str(_errors))


_threads: int | None = None


def set_num_threads(n: int) -> None:
    """Threads used by the C (own pool) and Numba kernels, process-wide. Loads every
    backend, so that a kernel module imported directly obeys too (and a backend
    registered later starts with this value)."""
    global _threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an int >= 1, got {n!r}")
    with _lock:
        _threads = n
        for name in list(_BACKENDS):
            table = _load(name)
            if table is not None and hasattr(table.module, "set_num_threads"):
                table.module.set_num_threads(n)


def get_num_threads() -> int:
    """Threads of the kernels: set_num_threads's value, else OMP_NUM_THREADS, else
    every core."""
    if _threads is not None:
        return _threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def release_workspaces() -> None:
    """Free the C kernels' per-thread scratch buffers now, in this thread and the C
    pool's workers (they are also freed when a thread exits); nothing to do without the C
    backend. The next kernel call allocates them again."""
    table = _load("c")
    if table is not None:
        table.module.release_workspaces()


__all__ = ["Kernels", "available", "choose_conv_algorithm", "conv_algorithm", "current",
           "get_backend", "get_conv_algorithm", "get_num_threads", "kernel_table",
           "register", "release_workspaces", "set_backend", "set_conv_algorithm",
           "set_num_threads", "unregister", "use"]
