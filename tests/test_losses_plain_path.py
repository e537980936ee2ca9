"""cross_entropy's plain path (no weights, smoothing or ignored rows) gives the general
path's numbers bit for bit: the general path with unit class weights is the reference."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.functional import cross_entropy


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n", [0, 1, 128])
def test_cross_entropy_plain_path_equals_unit_weights(rng, dtype, reduction, n):
    z0 = (rng.standard_normal((n, 10)) * 5).astype(dtype)
    y = rng.integers(0, 10, n)
    out = []
    for weight in (None, np.ones(10, dtype)):
        z = mg.tensor(z0, dtype=dtype, requires_grad=True)
        with np.errstate(invalid="ignore"):
            loss = cross_entropy(z, y, weight=weight, reduction=reduction)
            loss.backward()
        out.append((loss.numpy(), z.grad.numpy()))
    for a, b in zip(*out):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)


def test_cross_entropy_plain_path_label_checks():
    z = mg.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\).*from 0 to 4"):
        cross_entropy(z, np.array([0, 4, 1]))
    # ignore_index rows are exempt from the range check and count for nothing
    loss = cross_entropy(z, np.array([-100, 2, 1]))
    np.testing.assert_allclose(loss.numpy(), np.log(4.0), rtol=1e-6)
