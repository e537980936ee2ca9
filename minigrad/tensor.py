"""Tensor: a numpy array, its gradient, and the tape entry (_ctx) that produced it.

Every method that computes is a one-line forward to a primitive in ``minigrad.ops``.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import autograd, ops
from . import devices as _device
from .errors import DTypeError, ShapeError
from .tensor_methods import MathMethods
from .tensor_shape import ShapeMethods

DTypeLike = Any


def _to_array(data: Any, dtype: DTypeLike = None) -> np.ndarray:
    """Array under minigrad's dtype rules: floats -> float32 unless dtype says
    otherwise, Python integers -> int64, integer arrays keep their dtype (uint8 images
    stay uint8, so errors name the dtype the user has), bools stay bool. No copy when
    nothing changes."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt.kind not in "fiub":
            raise DTypeError(f"tensor: unsupported dtype {dt}")
        return np.asarray(data, dtype=dt)
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    if arr.dtype.kind in "iu":
        return arr if isinstance(data, np.ndarray) else arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b":
        return arr
    raise DTypeError(f"tensor: cannot make a tensor from data of dtype {arr.dtype}")


class Tensor(MathMethods, ShapeMethods):
    """An n-dimensional array that records the ops applied to it for backward.

    Tensor(data, requires_grad=False, dtype=None): data is anything np.asarray takes.
    Floats become float32 unless dtype= says otherwise; Python integers become int64,
    integer arrays keep their dtype; integer tensors cannot require grad.

    ``_version`` counts the in-place writes made through the Tensor API (``t[i] = v``,
    the ``*_`` methods, optimizer steps, ``load_state_dict``); backward compares it
    with the version each op saw. Writes through ``t.data`` are not counted, nor are
    writes through another Tensor sharing the memory (``detach()``, a view).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_version", "__weakref__")
    __array_ufunc__ = None  # make numpy defer: ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: DTypeLike = None):
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx = None
        self.name: str | None = None
        self.requires_grad = False
        self._version = 0
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> "Tensor":
        """Wrap an op's result as it is (keeps float64; no dtype rules, no copy)."""
        t = cls.__new__(cls)
        t.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t.grad, t._ctx, t.name, t.requires_grad, t._version = None, None, None, requires_grad, 0
        return t

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise DTypeError(f"Tensor: only float tensors can require grad, got "
                            f"{self.data.dtype}; create it with dtype=np.float32")
        self.requires_grad = bool(flag)
        return self

    # ----- plain properties -------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    # size (int count, callable as PyTorch's size()) lives in tensor_methods.py
    is_leaf = property(lambda self: self._ctx is None)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python "
                             f"number, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory)."""
        return Tensor._wrap(self.data)

    def astype(self, dtype: DTypeLike) -> "Tensor":
        """A copy in another dtype, cut from the graph unless the dtype is the same."""
        dt = np.dtype(dtype)
        if dt == self.dtype:
            return self
        return Tensor._wrap(self.data.astype(dt))

    # ----- device: the CPU only (minigrad/devices.py) ------------------------------------
    device = property(lambda self: _device.CPU)
    def to(self, *args: Any, **kwargs: Any) -> "Tensor":  # noqa: E301
        dt = _device.parse_to_args("Tensor.to", args, kwargs)
        return self if dt is None else self._cast(dt)  # float dtypes keep the graph
    def cpu(self) -> "Tensor": return self  # noqa: E301
    def cuda(self, *args: Any, **kwargs: Any) -> "Tensor": return self.to("cuda")  # noqa: E301

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    # ----- autograd -----------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad. A scalar seeds 1;
        otherwise pass grad (a Tensor or array of self's shape)."""
        if not self.requires_grad:
            raise RuntimeError(f"backward: this tensor (shape {self.shape}) does not require "
                               "grad and has no graph; set requires_grad=True on the inputs")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be omitted only for a scalar output, "
                                   f"got shape {self.shape}; pass backward(grad)")
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad,
                              dtype=self.dtype)
            if seed.shape != self.shape:
                raise ShapeError(f"backward: grad has shape {seed.shape}, expected the "
                                 f"output's shape {self.shape}")
        autograd.run_backward(autograd.reachable(self), self, seed,
                              retain_graph=retain_graph)

    def _accumulate(self, g: np.ndarray, owned: bool = False) -> None:
        """Add g to .grad. owned: nothing else refers to g (Function.fresh_grads), so a
        first gradient laid out as .grad must be is taken as it is, not copied."""
        if self.grad is None:
            if not (owned and g.dtype == self.dtype and g.flags.c_contiguous
                    and g.flags.writeable):
                g = np.array(g, dtype=self.dtype, copy=True, order="C")
            self.grad = Tensor._wrap(g)
        else:
            self.grad.data = self.grad.data + g

    def zero_grad(self) -> None:
        self.grad = None

    # ----- arithmetic -------------------------------------------------------------
    def _other(self, x: Any) -> "Tensor":
        """The other operand of a binary op, in this tensor's float dtype."""
        if isinstance(x, Tensor):
            if x.dtype.kind != "f" and self.dtype.kind == "f":
                return Tensor._wrap(x.data.astype(self.dtype))
            return x
        if self.dtype.kind == "f":
            return Tensor._wrap(np.asarray(x, dtype=self.dtype))
        return Tensor(x)

    def _promoted(self, other: "Tensor") -> "Tensor":
        if self.dtype.kind != "f" and other.dtype.kind == "f":
            return Tensor._wrap(self.data.astype(other.dtype))
        return self

    def _binary(self, op: type, x: Any, reverse: bool = False) -> "Tensor":
        if isinstance(x, Tensor) and x.data.dtype == self.data.dtype:  # the common case
            return op.apply(x, self) if reverse else op.apply(self, x)
        other = self._other(x)
        me = self._promoted(other)
        return op.apply(other, me) if reverse else op.apply(me, other)

    def __add__(self, x): return self._binary(ops.Add, x)
    def __radd__(self, x): return self._binary(ops.Add, x, reverse=True)
    def __sub__(self, x): return self._binary(ops.Sub, x)
    def __rsub__(self, x): return self._binary(ops.Sub, x, reverse=True)
    def __mul__(self, x): return self._binary(ops.Mul, x)
    def __rmul__(self, x): return self._binary(ops.Mul, x, reverse=True)
    def __truediv__(self, x): return self._binary(ops.Div, x)
    def __rtruediv__(self, x): return self._binary(ops.Div, x, reverse=True)
    def __pow__(self, x): return self._binary(ops.Pow, x)
    def __rpow__(self, x): return self._binary(ops.Pow, x, reverse=True)
    def __matmul__(self, x): return self._binary(ops.MatMul, x)
    def __rmatmul__(self, x): return self._binary(ops.MatMul, x, reverse=True)
    def __neg__(self): return ops.Neg.apply(self)
    def __pos__(self): return self

    def _compare(self, fn, x: Any) -> "Tensor":
        other = x.data if isinstance(x, Tensor) else x
        return Tensor._wrap(fn(self.data, other))

    def __lt__(self, x): return self._compare(np.less, x)
    def __le__(self, x): return self._compare(np.less_equal, x)
    def __gt__(self, x): return self._compare(np.greater, x)
    def __ge__(self, x): return self._compare(np.greater_equal, x)
    def __eq__(self, x): return self._compare(np.equal, x)  # type: ignore[override]
    def __ne__(self, x): return self._compare(np.not_equal, x)  # type: ignore[override]

    def __getitem__(self, index: Any) -> "Tensor":
        return ops.GetItem.apply(self, index=_plain_index(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        index, value = _plain_index(index), _array_of(value)
        self._write("setitem", lambda data: data.__setitem__(index, value))

    # ----- in-place writes: PyTorch semantics, return self, bump _version ---------
    def _write(self, op: str, write: Any) -> "Tensor":
        """Run write(self.data), which changes the array in place, and count it.

        Raises RuntimeError for a tensor that requires grad while grad mode is on
        (the write would not be recorded, so its graph would silently be wrong),
        ValueError when the operand does not broadcast to self's shape, TypeError
        when the result cannot be cast to self's dtype.
        """
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{op}: in-place write into a tensor of shape {self.shape} that requires "
                "grad is not recorded and would corrupt its graph; do it under "
                "mg.no_grad(), or use the out-of-place op")
        try:
            write(self.data)
        except TypeError as exc:
            raise DTypeError(f"{op}: cannot write into a {self.dtype} tensor: {exc}") from exc
        except ValueError as exc:
            raise ShapeError(f"{op}: cannot write into a tensor of shape {self.shape}: "
                             f"{exc}") from exc
        self._version += 1
        return self

    def _ufunc_(self, op: str, fn: Any, *operands: Any) -> "Tensor":
        """self = fn(self, *operands), written in place (fn takes ``out=``)."""
        args = [_array_of(x) for x in operands]
        return self._write(op, lambda data: fn(data, *args, out=data))

    def add_(self, x, alpha=1): return self._ufunc_("add_", np.add, _scaled(x, alpha))
    def sub_(self, x, alpha=1): return self._ufunc_("sub_", np.subtract, _scaled(x, alpha))
    def mul_(self, x): return self._ufunc_("mul_", np.multiply, x)
    def div_(self, x): return self._ufunc_("div_", np.true_divide, x)
    def zero_(self): return self._write("zero_", lambda data: data.fill(0))
    def fill_(self, value): return self._write("fill_", lambda data: data.fill(value))

    def copy_(self, src: Any) -> "Tensor":
        """Copy src into self, broadcast to self's shape and converted to its dtype."""
        b = _array_of(src)
        return self._write("copy_", lambda data: np.copyto(data, b, casting="unsafe"))

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        return self._ufunc_("clamp_", np.clip, min, max)

    # ----- math -------------------------------------------------------------------
    def exp(self): return ops.Exp.apply(self)
    def log(self): return ops.Log.apply(self)
    def sqrt(self): return ops.Sqrt.apply(self)
    def abs(self): return ops.Abs.apply(self)
    def tanh(self): return ops.Tanh.apply(self)
    def sigmoid(self): return ops.Sigmoid.apply(self)
    def relu(self): return ops.Relu.apply(self)
    def clip(self, low=None, high=None): return ops.Clip.apply(self, low=low, high=high)
    def clamp(self, min=None, max=None): return self.clip(min, max)  # noqa: A002,E301
    def maximum(self, x): return self._binary(ops.Maximum, x)
    def minimum(self, x): return self._binary(ops.Minimum, x)

    # reductions (axis= or dim=): in tensor_methods.py

    # ----- shape ------------------------------------------------------------------
    def reshape(self, *shape): return ops.Reshape.apply(self, shape=_shape_arg(shape))
    view = reshape

    def transpose(self, *axes):
        axes = _shape_arg(axes) if axes else tuple(reversed(range(self.ndim)))
        return ops.Permute.apply(self, axes=axes)

    def permute(self, *axes): return ops.Permute.apply(self, axes=_shape_arg(axes))

    def swapaxes(self, a: int, b: int):
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return ops.Permute.apply(self, axes=tuple(axes))

    @property
    def T(self): return self.transpose()

    def flatten(self, start_axis: int = 0, end_axis: int = -1):
        s = self.shape
        if not s:
            return self.reshape(1)
        end = end_axis % len(s)
        merged = int(np.prod(s[start_axis:end + 1]))
        return self.reshape(*s[:start_axis], merged, *s[end + 1:])

    def broadcast_to(self, *shape): return ops.BroadcastTo.apply(self, shape=_shape_arg(shape))


def _shape_arg(args: tuple) -> tuple:
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _array_of(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _scaled(x: Any, alpha: float) -> Any:
    return x if alpha == 1 else np.multiply(_array_of(x), alpha)


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays (integer-array indexing)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def tensor(data: Any, requires_grad: bool = False, dtype: DTypeLike = None) -> Tensor:
    """Same as Tensor(...)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x: Any, dtype: DTypeLike = None) -> Tensor:
    """x itself when it already is a Tensor, else a new one (no grad)."""
    return x if isinstance(x, Tensor) and dtype is None else Tensor(x, dtype=dtype)


def _tensors(xs: Iterable[Any]) -> list[Tensor]:
    xs = [as_tensor(x) for x in xs]
    floats = [x for x in xs if x.dtype.kind == "f"]
    if floats:
        xs = [x if x.dtype.kind == "f" else x._promoted(floats[0]) for x in xs]
    return xs
