"""mg.save_model / mg.load_model: a whole model (architecture as data plus weights) in
one file, written atomically through mg.save's format.

The file is an mg.save state ``{"format": MODEL_FORMAT, "architecture": <JSON text>,
"weights": <state dict>, "extra": {...}}``. The architecture is the JSON of
``minigrad.nn.config.to_data(model)``: class names of registered modules and their
constructor arguments, never code. Loading parses that JSON (with a nesting limit),
calls the constructors of registered classes only, then loads the weights strictly,
so a crafted file can at worst fail with a ValueError.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .nn.config import from_data, to_data
from .nn.module import Module
from .serialization import load, loads_json, save

__all__ = ["MODEL_FORMAT", "load_model", "read_model", "save_model"]

MODEL_FORMAT = "minigrad-model/1"
_ARCH_DEPTH = 128   # JSON levels; a module nests ~4, so ~30 levels of containers


def save_model(model: Module, path: str | os.PathLike, extra: dict | None = None) -> None:
    """Write ``model`` (architecture and weights) to exactly ``path``, atomically.

    extra: more mg.save-able state kept beside it (read back by read_model), e.g. an
    optimizer's state dict. Raises TypeError naming the layer and argument that cannot
    be stored as data (an unregistered class, a lambda); the file is then untouched.
    """
    if not isinstance(model, Module):
        raise TypeError(f"save_model: expected a Module, got {type(model).__name__}")
    architecture = json.dumps(to_data(model, type(model).__name__), allow_nan=True)
    save({"format": MODEL_FORMAT, "architecture": architecture,
          "weights": model.state_dict(), "extra": dict(extra or {})}, path)


def model_from_state(state: Any, path: str) -> tuple[Module, dict]:
    """The model and the extra dict from what mg.load read out of a save_model file."""
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise ValueError(f"load_model: {path} is a minigrad state file but not a model "
                         f"written by save_model (format {_format_of(state)!r}); "
                         "read it with mg.load")
    text = state.get("architecture")
    if not isinstance(text, str) or not isinstance(state.get("weights"), dict):
        raise ValueError(f"load_model: {path} is corrupted (no architecture or weights)")
    data = loads_json(text.encode("utf-8"), f"load_model: the architecture in {path}",
                      _ARCH_DEPTH)
    model = from_data(data, "model")
    if not isinstance(model, Module):
        raise ValueError(f"load_model: the architecture in {path} describes a "
                         f"{type(model).__name__}, not a Module")
    try:
        model.load_state_dict(state["weights"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"load_model: the weights in {path} do not fit the "
                         f"architecture: {exc}") from None
    extra = state.get("extra", {})
    return model, (extra if isinstance(extra, dict) else {})


def _format_of(state: Any) -> Any:
    return state.get("format") if isinstance(state, dict) else type(state).__name__


def read_model(path: str | os.PathLike) -> tuple[Module, dict]:
    """``(model, extra)`` from a save_model file; see load_model for the errors."""
    path = os.fspath(path)
    return model_from_state(load(path), path)


def load_model(path: str | os.PathLike) -> Module:
    """The model save_model wrote to ``path``, in training mode, weights loaded.

    Raises FileNotFoundError if absent; ValueError naming the file for a foreign,
    truncated or corrupted file, an unknown (unregistered) class, a config its class
    rejects, or weights that do not fit the architecture.
    """
    return read_model(path)[0]
