"""The table-driven backend registry: partial backends, per-kernel fallback to the
numpy reference with one warning, dispatch tables built once, kernel_table."""
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.backend import interface, numpy_ref


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry for the test: whatever it registers is gone
    afterwards, and the real backends' tables are left as they were."""
    for name in ("_BACKENDS", "_loaded", "_errors"):
        monkeypatch.setattr(mg.backend, name, dict(getattr(mg.backend, name)))
    return mg.backend


def _avgpool_only():
    """A backend that speeds up one kernel only (here: counts its calls)."""
    module = types.ModuleType("fake_avgpool")
    module.calls = 0

    def avgpool2d_forward(x, kernel, stride):
        module.calls += 1
        return numpy_ref.avgpool2d_forward(x, kernel, stride)

    module.avgpool2d_forward = avgpool2d_forward
    return module


def test_backend_registry_partial_backend_serves_its_kernel_and_falls_back(registry, rng):
    fake = _avgpool_only()
    registry.register("fake", fake)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with registry.use("fake"):
            k = registry.current()
            x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
            y = F.avg_pool2d(mg.tensor(x), 2)
            a = rng.standard_normal((4, 5)).astype(np.float32)
            product = (mg.tensor(a) @ mg.tensor(a.T)).data
        with registry.use("fake"):  # loaded once: no second warning
            assert registry.current() is k
    assert fake.calls == 1
    np.testing.assert_allclose(y.data, numpy_ref.avgpool2d_forward(x, (2, 2), (2, 2)))
    np.testing.assert_allclose(product, a @ a.T, rtol=1e-5)
    assert k.avgpool2d_forward is fake.avgpool2d_forward
    assert k.matmul is numpy_ref.matmul
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    lacking = [n for n in interface.KERNELS if n != "avgpool2d_forward"]
    assert f"'fake' lacks the kernels {lacking}" in messages[0]
    assert "numpy" in messages[0]


def test_backend_registry_kernel_table_names_who_serves_each_kernel(registry):
    registry.register("fake", _avgpool_only())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table = registry.kernel_table("fake")
    assert list(table) == list(interface.KERNELS)
    assert table["avgpool2d_forward"] == "fake"
    assert {v for k, v in table.items() if k != "avgpool2d_forward"} == {"numpy"}
    for name in registry.available():
        if name in ("c", "numba", "numpy"):  # the built-in backends are complete
            assert set(registry.kernel_table(name).values()) == {name}
    assert registry.kernel_table() == registry.kernel_table(registry.get_backend())


def test_backend_registry_module_path_and_available_order(registry):
    registry.register("copy", "minigrad.backend.numpy_ref")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complete: no fallback warning
        assert registry.available()[-1] == "copy"
        assert set(registry.kernel_table("copy").values()) == {"copy"}
    assert [n for n in registry.available() if n != "copy"] == [
        n for n in ("c", "numba", "numpy") if n in registry.available()]


def test_backend_registry_dispatch_table_is_built_once(registry):
    with registry.use("numpy"):
        first = registry.current()
        assert registry.current() is first
    with registry.use("numpy"):
        assert registry.current() is first
    assert first.name == "numpy" and first.fallbacks == []


def test_backend_registry_non_kernel_attributes_come_from_the_module(registry):
    for name in registry.available():
        table = registry._load(name)
        if hasattr(table.module, "get_num_threads"):
            assert table.get_num_threads() == table.module.get_num_threads()
        with pytest.raises(AttributeError):
            table.no_such_attribute


def test_backend_registry_errors(registry):
    registry.register("empty", types.ModuleType("empty"))
    with pytest.raises(RuntimeError, match="backend 'empty' is not usable .*defines none"):
        with registry.use("empty"):
            pass
    assert "empty" not in registry.available()
    registry.register("broken", "minigrad.backend.no_such_module")
    with pytest.raises(RuntimeError, match="'broken' is not usable .*ModuleNotFoundError"):
        registry.set_backend("broken")
    with pytest.raises(ValueError, match=r"use: unknown backend 'cuda'; choose one of \["):
        with registry.use("cuda"):
            pass
    with pytest.raises(ValueError, match="'numpy' is the reference"):
        registry.register("numpy", types.ModuleType("x"))
    with pytest.raises(ValueError, match="non-empty string"):
        registry.register("", types.ModuleType("x"))
    registry.unregister("empty")
    assert "empty" not in registry._BACKENDS
    with pytest.raises(ValueError, match="no registered backend 'empty'"):
        registry.unregister("empty")


def test_backend_registry_use_c_without_extension_says_how_to_build():
    code = ("import sys; sys.modules['minigrad._C'] = None\n"
            "import minigrad as mg\n"
            "try:\n"
            "    with mg.backend.use('c'):\n"
            "        pass\n"
            "except RuntimeError as exc:\n"
            "    print(type(exc).__name__, '|', exc)\n"
            "print('c' in mg.backend.available())")
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.strip().splitlines()
    assert first.startswith("BackendError | use: the C extension minigrad._C is not usable")
    assert "make build" in first
    assert second == "False"
