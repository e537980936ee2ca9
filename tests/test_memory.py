"""Long training loops keep the resident memory flat, and the tape frees itself by
reference counting: no cycle outlives a training step (so memory never waits for the
cyclic garbage collector)."""
import gc
import os
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F

RSS_LIMIT_MB = 50.0


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4))


def _cnn(channels: int):
    return nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(channels, channels, 3),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(channels * 2 * 2, 4))


def _step(model, opt, x, y):
    out = model(x)
    loss = F.cross_entropy(out, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.item())


def _rss_growth(model, opt, batches, steps: int, warmup: int = 50) -> float:
    """RSS growth in MB over ``steps`` steps after a warm-up (which fills the
    allocator's pools, the optimizer state and the kernels' workspaces)."""
    for i in range(warmup):
        _step(model, opt, *batches[i % len(batches)])
    gc.collect()
    before = rss_mb()
    for i in range(steps):
        _step(model, opt, *batches[i % len(batches)])
    gc.collect()
    return rss_mb() - before


def _batches(shape, n=8, batch=16):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((batch,) + shape).astype(np.float32),
             rng.integers(0, 4, batch)) for _ in range(n)]


# The long loops run on the default backend (C when built) to stay within ~40 s on a
# busy 2-core machine; test_every_backend_rss_flat (slow) repeats them on each backend.
def test_mlp_5000_steps_rss_flat(record_property):
    backend_name = mg.backend.get_backend()
    model = _mlp()
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    growth = _rss_growth(model, opt, _batches((20,)), steps=5000)
    record_property("rss_growth_mb", growth)
    print(f"MLP 5000 steps on {backend_name}: RSS growth {growth:.2f} MB")
    assert growth < RSS_LIMIT_MB, f"RSS grew by {growth:.1f} MB over 5000 steps"


def test_cnn_500_steps_rss_flat(record_property):
    backend_name = mg.backend.get_backend()
    model = _cnn(channels=4)
    opt = mg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    growth = _rss_growth(model, opt, _batches((1, 12, 12), batch=8), steps=500)
    record_property("rss_growth_mb", growth)
    print(f"CNN 500 steps on {backend_name}: RSS growth {growth:.2f} MB")
    assert growth < RSS_LIMIT_MB, f"RSS grew by {growth:.1f} MB over 500 steps"


@pytest.mark.slow
def test_every_backend_rss_flat(backend_name):
    mlp = _mlp()
    growth = _rss_growth(mlp, mg.optim.Adam(mlp.parameters()), _batches((20,)), steps=5000)
    cnn = _cnn(channels=4)
    growth += _rss_growth(cnn, mg.optim.Adam(cnn.parameters()), _batches((1, 12, 12)),
                          steps=500)
    print(f"MLP 5000 + CNN 500 steps on {backend_name}: RSS growth {growth:.2f} MB")
    assert growth < RSS_LIMIT_MB


@pytest.mark.slow
def test_cnn_full_size_500_steps_rss_flat(backend_name):
    """The CLI's CNN size (28x28 images, 16 channels, batch 64)."""
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((64, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, 64)) for _ in range(4)]
    growth = _rss_growth(model, opt, batches, steps=500, warmup=20)
    print(f"full-size CNN 500 steps on {backend_name}: RSS growth {growth:.2f} MB")
    assert growth < RSS_LIMIT_MB


@pytest.mark.parametrize("make", [_mlp, lambda: _cnn(4)], ids=["mlp", "cnn"])
def test_training_step_leaves_no_reference_cycles(backend_name, make):
    model = make()
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    shape = (20,) if make is _mlp else (1, 12, 12)
    x, y = _batches(shape, n=1)[0]
    _step(model, opt, x, y)  # optimizer state and caches exist before measuring
    gc.collect()
    gc.disable()
    try:
        out = model(x)
        loss = F.cross_entropy(out, y)
        refs = [weakref.ref(out), weakref.ref(loss)]
        nodes = [weakref.ref(t._ctx) for t in (out, loss) if t._ctx is not None]
        opt.zero_grad()
        loss.backward()
        opt.step()
        del out, loss
        # Reference counting alone must free the graph of the step.
        alive = [r for r in refs + nodes if r() is not None]
        assert not alive, f"{len(alive)} graph objects outlive the step: {alive[:3]}"
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"the step left {found} objects in reference cycles"


def test_gradient_tape_frees_its_graph(backend_name):
    x = mg.tensor(np.ones((8, 5), np.float32), requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        with mg.GradientTape() as tape:
            y = (x * 2.0).tanh().sum()
        ref = weakref.ref(y)
        (g,) = [tape.gradient(y, [x])[0]]
        del y, tape
        assert ref() is None, "the tape keeps its target alive"
        found = gc.collect()
    finally:
        gc.enable()
    assert g.shape == x.shape
    assert found == 0, f"the tape left {found} objects in reference cycles"


# ----- C workspaces of short-lived threads ----------------------------------------------
_THREAD_CHURN = """
import threading, numpy as np, minigrad as mg
from minigrad.backend import c as cb
from tests.test_memory import rss_mb
mg.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 64, 56, 56)).astype(np.float32)
w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
def conv():  # im2col workspace 7 MB per image, plus GEMM panels, in every thread
    y = cb.conv2d_forward(x, w, None, (1, 1), (1, 1))
    cb.conv2d_backward(x, w, y, (1, 1), (1, 1))
def churn(n):
    for _ in range(n):
        t = threading.Thread(target=conv)
        t.start()
        t.join()
conv()
start = rss_mb()
churn(5)  # the allocator's arenas and glibc's thread-stack cache fill up here
warm = rss_mb()
churn(60)
end = rss_mb()
print(warm - start, end - warm)
"""


@pytest.mark.skipif("c" not in mg.backend.available(), reason="no C backend")
def test_c_workspaces_freed_at_thread_exit():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", _THREAD_CHURN], cwd=root, check=True,
                         capture_output=True, text=True, timeout=300).stdout.split()
    warmup_growth, growth = float(out[0]), float(out[1])
    print(f"RSS: +{warmup_growth:.1f} MB over the first 5 threads, +{growth:.1f} MB over "
          "60 more")
    assert growth < 20.0, f"60 short-lived threads grew RSS by {growth:.1f} MB"


@pytest.mark.skipif("c" not in mg.backend.available(), reason="no C backend")
def test_c_release_workspaces_returns_memory():
    from minigrad.backend import c as cb
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 56, 56)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    y = cb.conv2d_forward(x, w, None, (1, 1), (1, 1))
    cb.conv2d_backward(x, w, y, (1, 1), (1, 1))
    before = rss_mb()
    cb.release_workspaces()
    released = before - rss_mb()
    # the im2col matrix of one image alone is 64 * 9 * 56 * 56 * 4 bytes = 7.2 MB
    assert released > 5.0, f"release_workspaces gave back {released:.1f} MB"
    np.testing.assert_array_equal(cb.conv2d_forward(x, w, None, (1, 1), (1, 1)), y)
