"""Shared fixtures: every test starts seeded and on the backend it asks for."""
import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(autouse=True)
def _seeded():
    mg.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(params=mg.backend.available())
def backend_name(request):
    """Runs a test once per usable backend, restoring the previous one after."""
    with mg.backend.use(request.param):
        yield request.param


@pytest.fixture
def kern(backend_name):
    """The kernel module of each usable backend in turn (see backend_name)."""
    return mg.backend.current()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
