"""plot_filters: a PNG grid for Conv2d (grey and RGB), Linear rows as images, raw
arrays; shapes refused with a message; matplotlib's global state left alone."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.diagnostics import plot_filters

mpl = pytest.importorskip("matplotlib", reason="plot_filters draws with matplotlib")


def _png(path):
    from matplotlib.image import imread
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def test_plot_filters_conv_grey_grid(tmp_path):
    mg.manual_seed(0)
    conv = nn.Conv2d(2, 6, 3)
    img = _png(plot_filters(conv, tmp_path / "conv.png"))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.05  # something drawn, not a blank page


def test_plot_filters_rgb_linear_and_array(tmp_path):
    mg.manual_seed(0)
    assert _png(plot_filters(nn.Conv2d(3, 4, 5), tmp_path / "rgb.png")).size
    lin = nn.Linear(784, 10)
    assert _png(plot_filters(lin, tmp_path / "lin.png")).size
    assert _png(plot_filters(np.ones((5, 12)), tmp_path / "arr.png",
                             image_shape=(3, 4), title="rows")).size


def test_plot_filters_refuses_shapes_it_cannot_draw(tmp_path):
    with pytest.raises(ValueError, match=r"plot_filters: a Linear weight \(4, 10\) needs "
                                         r"image_shape=\(h, w\) with h \* w == 10"):
        plot_filters(nn.Linear(10, 4), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"expected a Conv2d weight .* got shape \(3,\)"):
        plot_filters(np.zeros(3), tmp_path / "x.png")


def test_plot_filters_changes_no_global_matplotlib_state(tmp_path):
    backend = mpl.get_backend()
    plot_filters(nn.Conv2d(1, 2, 3), tmp_path / "x.png")
    assert mpl.get_backend() == backend
