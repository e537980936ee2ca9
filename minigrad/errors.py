"""minigrad's error taxonomy, and the layer path a container adds to a message.

Each class subclasses the built-in exception the style guide names for its kind, so
``except ValueError`` / ``pytest.raises(TypeError)`` written before the taxonomy keep
working, while new code can catch exactly the kind it handles:

    ShapeError(ValueError)      operands' shapes do not fit the op or layer
    DTypeError(TypeError)       operands' dtypes are unsupported or mixed
    BackendError(RuntimeError)  a backend is unusable, or a kernel refused its input

Messages name the op or layer, what was expected and what was got, with each operand
written as ``name(shape) dtype``:

    matmul: expected inner dimensions to match, got a(3, 4) float32, b(5, 2) float32

When a layer of a ``Sequential`` raises, the container adds the layer's place in the
model in front (``Sequential.2 (Linear): ...``), see ``add_layer_context``.
"""
from __future__ import annotations

from typing import Any


class ShapeError(ValueError):
    """An operand's shape does not fit the op or layer (also a ValueError)."""


class DTypeError(TypeError):
    """An operand's dtype is unsupported, or float32 and float64 are mixed (also a
    TypeError)."""


class BackendError(RuntimeError):
    """A backend cannot be loaded or a kernel rejected its arguments (also a
    RuntimeError)."""


def add_layer_context(exc: BaseException, container: str, index: str, layer: Any) -> None:
    """Put the failing layer's place in the model in front of exc's message, in place.

    Called by a container (Sequential) for the child ``index`` that raised. Nested
    containers extend the path, so the outermost one leaves
    ``Sequential.1.0 (Linear): <original message>``. Only ValueError/TypeError with a
    single string argument are annotated (the kinds input checks raise); others are
    left untouched so their args keep their meaning."""
    if not isinstance(exc, (ValueError, TypeError)) or len(exc.args) != 1 \
            or not isinstance(exc.args[0], str):
        return
    ctx = getattr(exc, "_mg_layer", None)
    if ctx is None:
        ctx = {"path": [], "layer": type(layer).__name__, "message": exc.args[0]}
        exc._mg_layer = ctx  # type: ignore[attr-defined]
    ctx["path"].insert(0, str(index))
    exc.args = (f"{container}.{'.'.join(ctx['path'])} ({ctx['layer']}): "
                f"{ctx['message']}",)


__all__ = ["BackendError", "DTypeError", "ShapeError", "add_layer_context"]
