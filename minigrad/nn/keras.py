"""The Keras workflow on every Module: ``compile`` / ``fit`` / ``evaluate`` /
``predict``, ``layers``, ``get_layer``, a layer ``name``, ``get_weights`` /
``set_weights``, ``build`` and ``summary()`` without a shape once the model has seen data.

Training lives in minigrad.train, a layer above nn, so nn never imports it: train
registers its driver here when it is imported (``register_trainer``), and
``import minigrad`` always imports train. The driver has ``compile(model, optimizer,
loss, metrics)`` (checks everything, returns the compiled config) and ``fit`` /
``evaluate`` / ``predict(model, compiled, x, ...)``.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

__all__ = ["KerasMixin", "register_trainer"]


def register_trainer(driver: Any) -> None:
    """Called once by minigrad.train at import: the object that runs fit & co."""
    KerasMixin._trainer = driver


def _snake(name: str) -> str:
    """"BatchNorm2d" -> "batch_norm2d", "Conv2d" -> "conv2d" (Keras-like layer names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class _Layers:
    """``model.layers`` (Keras): the direct sub-modules, in order. A non-data
    descriptor, so a module that assigns its own ``self.layers`` (PyTorch code often
    keeps a ModuleList under that name) gets its attribute back, as it expects."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self if obj is None else list(obj.children())


class KerasMixin:
    """Keras's Model/Layer API, inherited by Module. Semantics are mg.train's."""

    _trainer: ClassVar[Any] = None

    # ----- inspection ---------------------------------------------------------------
    @property
    def name(self) -> str:
        """The name given (``layer.name = "dense"``), else the class name in snake case
        ("linear", "conv2d"); ``get_layer`` numbers repeats Keras-style."""
        given = self.__dict__.get("_name")
        return given if given is not None else _snake(type(self).__name__)

    @name.setter
    def name(self, value: str) -> None:
        # stored as given: a PyTorch-style module may keep its own `self.name = ...`
        object.__setattr__(self, "_name", value)

    layers = _Layers()

    def _layer_names(self) -> list[tuple[str, Any]]:
        """(Keras-style unique name, layer) for each direct child: a repeated name gets
        "_1", "_2", ... in order ("linear", "linear_1")."""
        counts: dict[str, int] = {}
        out = []
        for layer in self.layers:
            base = layer.name
            k = counts.get(base, 0)
            counts[base] = k + 1
            out.append((base if k == 0 else f"{base}_{k}", layer))
        return out

    def get_layer(self, name: str | None = None, index: int | None = None) -> Any:
        """A sub-module by ``index`` into ``layers``, or by ``name``: a Keras-style name
        from ``_layer_names`` ("linear_1"), or a PyTorch path ("0", "fc1",
        "features.2"). Raises ValueError when nothing matches."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: pass exactly one of name or index")
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} out of range for a model with "
                                 f"{len(layers)} layers")
            return layers[index]
        named = dict(self._layer_names())
        if name in named:
            return named[name]
        paths = dict(self.named_modules())
        if name and name in paths:
            return paths[name]
        raise ValueError(f"get_layer: no layer named {name!r}; layers are "
                         f"{list(named)}, paths {[p for p in paths if p]}")

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer, layer by layer (Keras's order: weight,
        bias, then running mean and variance), in minigrad's (PyTorch's) layout: a
        Keras Dense kernel is this Linear weight transposed."""
        return list(self.state_dict().values())

    def set_weights(self, weights: list) -> None:
        """Write arrays in get_weights' order and shapes. Raises ValueError for a wrong
        count or shape."""
        keys = list(self.state_dict().keys())
        if len(weights) != len(keys):
            raise ValueError(f"set_weights: the model has {len(keys)} weight arrays "
                             f"({keys}), got {len(weights)}")
        self.load_state_dict({k: np.asarray(getattr(w, "data", w))
                              for k, w in zip(keys, weights)})

    # ----- shapes -------------------------------------------------------------------
    def build(self, input_shape: tuple) -> "KerasMixin":
        """Keras's build: ``input_shape`` with its batch axis first (None or a size),
        e.g. (None, 784). Runs one forward on zeros to check the shape and remembers it
        for summary(). Returns self."""
        shape = tuple(input_shape)
        if len(shape) < 2:
            raise ValueError(f"build: input_shape needs a batch axis first, e.g. (None, 784), "
                             f"got {input_shape!r}")
        self._remember_input(shape[1:])
        from .summary import summary  # summary imports module, which imports this file
        summary(self, shape[1:])
        return self

    def _remember_input(self, sample_shape: tuple) -> None:
        object.__setattr__(self, "_input_shape", tuple(int(d) for d in sample_shape))

    def _note_input(self, x: Any) -> None:
        """Remember the sample shape of an array or Tensor, or of a DataLoader over
        arrays."""
        arrays = getattr(getattr(x, "dataset", None), "arrays", None)
        data = arrays[0] if arrays else x
        data = data if isinstance(data, np.ndarray) else getattr(data, "data", None)
        if isinstance(data, np.ndarray) and data.ndim >= 1:
            self._remember_input(data.shape[1:])

    def summary(self, input_shape: tuple | None = None, flops: bool = False) -> None:
        """Print the Keras-like table of mg.nn.summary. input_shape excludes the batch
        axis; without it, the shape of the last build / fit / evaluate / predict.
        Raises RuntimeError when no shape is known yet."""
        from .summary import summary
        shape = input_shape if input_shape is not None else self.__dict__.get("_input_shape")
        if shape is None:
            raise RuntimeError(f"{type(self).__name__}.summary: the input shape is unknown; "
                               "pass summary(input_shape) (without the batch axis), call "
                               "build((None, ...)) or fit/evaluate/predict first")
        print(summary(self, tuple(shape), flops=flops))

    # ----- the Keras workflow -------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Any = None) -> None:
        """Keras's compile: optimizer a name ("adam", "sgd", ... with Keras's defaults,
        see mg.optim.by_name) or an Optimizer; loss a name of mg.nn.loss_names() or a
        callable (outputs, targets); metrics names ("accuracy", ...) or callables.
        Everything is checked here. Raises ValueError / TypeError."""
        compiled = self._driver("compile").compile(self, optimizer, loss, metrics)
        object.__setattr__(self, "_compiled", compiled)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None,
            epochs: int = 1, verbose: Any = "auto", callbacks: Any = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: Any = None, seed: int | None = None) -> Any:
        """mg.train.fit with the compiled loss, optimizer and metrics; returns History."""
        self._note_input(x)
        return self._driver("fit").fit(self, self._compiled_or_raise("fit"), x, y,
                                       batch_size=batch_size, epochs=epochs, verbose=verbose,
                                       callbacks=callbacks, validation_split=validation_split,
                                       validation_data=validation_data, shuffle=shuffle,
                                       class_weight=class_weight, seed=seed)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", return_dict: bool = False) -> Any:
        """Loss and metrics: a float (loss only), [loss, metric, ...] or a dict."""
        self._note_input(x)
        return self._driver("evaluate").evaluate(self, self._compiled_or_raise("evaluate"),
                                                 x, y, batch_size=batch_size,
                                                 return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> np.ndarray:
        """The outputs (N, ...) as a numpy array, in eval mode under no_grad."""
        self._note_input(x)
        return self._driver("predict").predict(self, x, batch_size=batch_size)

    def _driver(self, what: str) -> Any:
        if KerasMixin._trainer is None:
            raise RuntimeError(f"{type(self).__name__}.{what}: minigrad.train is not "
                               "imported (import minigrad does it)")
        return KerasMixin._trainer

    def _compiled_or_raise(self, what: str) -> Any:
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            raise RuntimeError(f"{type(self).__name__}.{what}: call model.compile("
                               "optimizer=..., loss=...) first")
        return compiled
