"""Label encodings: integer class labels to one-hot rows (Keras's to_categorical)."""
from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32"
                   ) -> np.ndarray:
    """One-hot rows for integer labels: y (N,) or (N, 1) -> (N, num_classes), and in
    general y (...) -> (..., num_classes) (Keras, which also drops a trailing axis of
    size 1). num_classes defaults to max(y) + 1.

    Raises TypeError for non-integer labels, ValueError for labels outside
    [0, num_classes) or num_classes < 1.
    """
    arr = np.asarray(getattr(y, "data", y))
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {arr.dtype}")
    if arr.ndim > 1 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if num_classes is None:
        num_classes = int(arr.max()) + 1 if arr.size else 0
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be an int >= 1, got "
                         f"{num_classes!r}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got labels "
                         f"from {arr.min()} to {arr.max()}")
    return np.eye(num_classes, dtype=dtype)[arr.astype(np.intp)]
