"""Pictures of learned filters: a Conv2d's kernels (or a Linear layer's rows seen as
images) as one grid PNG."""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np


def _tiles(weight: np.ndarray, image_shape: tuple[int, int] | None, max_filters: int
           ) -> tuple[np.ndarray, bool]:
    """(tiles (T, h, w) or (T, h, w, 3), rgb) from a Conv2d (C_out, C_in, KH, KW) or
    Linear (out, in) weight."""
    if weight.ndim == 2:
        side = math.isqrt(weight.shape[1])
        shape = image_shape or ((side, side) if side * side == weight.shape[1] else None)
        if shape is None or shape[0] * shape[1] != weight.shape[1]:
            raise ValueError(f"plot_filters: a Linear weight {weight.shape} needs "
                             f"image_shape=(h, w) with h * w == {weight.shape[1]}")
        return weight[:max_filters].reshape(-1, *shape), False
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a Conv2d weight (C_out, C_in, KH, KW) or "
                         f"a Linear weight (out, in), got shape {weight.shape}")
    weight = weight[:max_filters]
    if weight.shape[1] == 3:  # an RGB input layer: one colour tile per filter
        return weight.transpose(0, 2, 3, 1), True
    return weight.reshape(-1, *weight.shape[2:]), False  # one tile per (out, in) pair


def plot_filters(layer: Any, path: str | os.PathLike, max_filters: int = 64,
                 image_shape: tuple[int, int] | None = None, title: str | None = None
                 ) -> str:
    """Write the filters of ``layer`` as a grid PNG (or any format matplotlib infers
    from path) and return the path.

    layer: a Conv2d (one tile per output filter and input channel, rows = output
    filters; an RGB tile per filter when C_in == 3), a Linear layer (each row seen as a
    (h, w) image: square by default, else pass image_shape), or a weight array/Tensor.
    Grey tiles use a diverging map centred on 0, each filter scaled to its own largest
    |weight| (red positive, blue negative); RGB tiles are min-max scaled per filter.
    max_filters: how many output filters to draw. Raises ValueError for other shapes,
    ImportError when matplotlib is missing. Uses matplotlib's object API only: no
    pyplot state or backend is changed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plot_filters needs matplotlib (an optional dependency): "
                          "pip install matplotlib") from exc
    weight = getattr(layer, "weight", layer)
    weight = np.asarray(getattr(weight, "data", weight), dtype=np.float64)
    tiles, rgb = _tiles(weight, image_shape, max_filters)
    per_row = weight.shape[1] if weight.ndim == 4 and not rgb else 0  # input channels
    cols = per_row if 1 < per_row <= 16 else math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    fig = Figure(figsize=(max(2.0, 0.9 * cols), max(2.0, 0.9 * rows + 0.4)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False,
                        gridspec_kw=dict(wspace=0.08, hspace=0.08, top=0.9))
    for ax, tile in zip(axes.flat, tiles):
        if rgb:
            lo, hi = tile.min(), tile.max()
            ax.imshow((tile - lo) / (hi - lo if hi > lo else 1.0), interpolation="nearest")
        else:
            bound = np.abs(tile).max() or 1.0
            ax.imshow(tile, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle(title or f"{type(layer).__name__} filters {tuple(weight.shape)}", fontsize=9)
    fig.savefig(os.fspath(path), dpi=100)
    return os.fspath(path)
