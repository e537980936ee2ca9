"""The compiled affine warp (data/_warp.py) against the numpy resampler it replaces
(geometric.resample): the same float32 arithmetic in the same order, so equal to the
bit, for nearest and bilinear, float32/float64/uint8 images, 1 and 3 channels, odd
sizes, maps that read far outside the image, and non-contiguous input."""
import numpy as np
import pytest

from minigrad.data import RandomAffine, RandomZoom, _warp, geometric


def _numpy_warp(monkeypatch, *args):
    with monkeypatch.context() as m:
        m.setattr(_warp, "enabled", lambda: False)
        return geometric.warp_affine(*args)


def _maps(rng, n):
    forward = geometric._rotations(rng.uniform(-3.2, 3.2, n))
    forward = forward @ np.stack([np.ones(n), rng.uniform(-0.5, 0.5, n),
                                  rng.uniform(-0.5, 0.5, n), np.ones(n)], 1).reshape(n, 2, 2)
    forward *= rng.uniform(0.3, 2.5, n)[:, None, None]   # zoom far in and far out
    return forward, np.rint(rng.uniform(-12, 12, (n, 2)))


@pytest.mark.skipif(not _warp.enabled(), reason="NUMBA_DISABLE_JIT: no compiled warp")
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (3, 3, 9, 14), (2, 2, 1, 7)], ids=str)
def test_compiled_warp_equals_numpy_resampler(monkeypatch, interpolation, dtype, shape):
    rng = np.random.default_rng(sum(shape))
    x = (rng.random(shape) * 255).astype(dtype)
    forward, shift = _maps(rng, shape[0])
    fill = 7
    got = geometric.warp_affine(x, forward, shift, interpolation, fill)
    want = _numpy_warp(monkeypatch, x, forward, shift, interpolation, fill)
    assert got.dtype == want.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    assert (got == fill).any(), "the maps should read outside the image somewhere"


@pytest.mark.skipif(not _warp.enabled(), reason="NUMBA_DISABLE_JIT: no compiled warp")
def test_compiled_warp_reads_non_contiguous_batches(monkeypatch):
    rng = np.random.default_rng(3)
    big = rng.random((6, 2, 20, 30)).astype(np.float32)
    x = big[::2, :, :, ::2]                     # strided on the batch and on the rows
    forward, shift = _maps(rng, len(x))
    got = geometric.warp_affine(x, forward, shift, "bilinear", -1.0)
    np.testing.assert_array_equal(got, _numpy_warp(monkeypatch, x, forward, shift,
                                                   "bilinear", -1.0))


def test_transforms_draw_the_same_batch_either_way(monkeypatch):
    x = np.random.default_rng(4).random((8, 1, 28, 28)).astype(np.float32)
    for make in (lambda: RandomAffine(15, (0.1, 0.1), (0.9, 1.1), 10, seed=2),
                 lambda: RandomZoom(0.2, seed=2)):
        compiled = make()(x)
        with monkeypatch.context() as m:
            m.setattr(_warp, "enabled", lambda: False)
            reference = make()(x)
        np.testing.assert_array_equal(compiled, reference)
