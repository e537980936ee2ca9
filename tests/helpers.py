"""Helpers that replay a computation in PyTorch (float64) and compare."""
from __future__ import annotations

import numpy as np
import pytest


def torch():
    """The torch module, or a skip with the reason (it is a test-only oracle)."""
    return pytest.importorskip("torch", reason="PyTorch is the test oracle; "
                               "pip install -r requirements-test.txt")


def to_torch(a, requires_grad=False):
    t = torch().tensor(np.asarray(a))
    return t.requires_grad_(requires_grad) if t.is_floating_point() else t


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what=""):
    actual = np.asarray(getattr(actual, "data", actual))
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
