"""The C kernels' own thread pool (csrc/workers.c): every threaded kernel gives the same
result at 1 and 2 threads (the same bits where the split leaves each sum's order as it
is), nested jobs run on their thread, concurrent Python threads and a forked child get
correct results, no worker starts at import, and idle workers sleep instead of spinning
(the point of the pool: OpenMP's workers spun between kernels)."""
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.skipif("c" not in mg.backend.available(), reason="no C backend")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def c():
    from minigrad.backend import c as cmod
    return cmod


def at_threads(c, n, fn):
    before = c.get_num_threads()
    c.set_num_threads(n)
    try:
        return fn()
    finally:
        c.set_num_threads(before)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# Each case is large enough to take its threaded path (GEMM past MG_GEMM_PAR_MIN, bias +
# ReLU past MG_ACT_PARALLEL_MIN, batch norm (N, C) with N * C >= 65536). All of these
# split whole rows, planes, channels or images, so each output is summed in one order.
def _cases():
    r = np.random.default_rng(0)
    x, w, dy = rand(r, 4, 8, 14, 14), rand(r, 16, 8, 3, 3), rand(r, 4, 16, 14, 14)
    xp = rand(r, 8, 16, 28, 28)
    bn = rand(r, 512, 128)
    return {
        "gemm": lambda c: c.matmul(rand(r, 128, 784), rand(r, 300, 784), False, True),
        "gemm_tall": lambda c: c.matmul(rand(r, 1000, 96), rand(r, 96, 40)),
        "gemm_batch": lambda c: c.matmul(rand(r, 6, 40, 50), rand(r, 6, 50, 30)),
        "conv_forward": lambda c: c.conv2d_forward(x, w, rand(r, 16), (1, 1), (1, 1)),
        "conv_backward_dx": lambda c: c.conv2d_backward(x, w, dy, (1, 1), (1, 1),
                                                        need_dw=False, need_db=False)[0],
        "maxpool": lambda c: c.maxpool2d_forward(xp, (2, 2), (2, 2)),
        "maxpool_3x3": lambda c: c.maxpool2d_forward(xp, (3, 3), (2, 2)),
        "maxpool_backward": lambda c: c.maxpool2d_backward(
            rand(r, 8, 16, 14, 14), c.maxpool2d_forward(xp, (2, 2), (2, 2))[1], xp.shape),
        "avgpool": lambda c: c.avgpool2d_forward(xp, (3, 3), (2, 2)),
        "avgpool_backward": lambda c: c.avgpool2d_backward(rand(r, 8, 16, 13, 13), xp.shape,
                                                           (3, 3), (2, 2)),
        "batchnorm_nc": lambda c: c.batchnorm_forward(bn, np.ones(128, np.float32),
                                                      np.zeros(128, np.float32),
                                                      np.zeros(128, np.float32),
                                                      np.ones(128, np.float32), True, 0.1,
                                                      1e-5),
        "batchnorm_nchw": lambda c: c.batchnorm_forward(xp, np.ones(16, np.float32),
                                                        np.zeros(16, np.float32),
                                                        np.zeros(16, np.float32),
                                                        np.ones(16, np.float32), True, 0.1,
                                                        1e-5),
        "batchnorm_backward": lambda c: c.batchnorm_backward(
            bn[::-1].copy(), bn, np.ones(128, np.float32), bn.mean(0), 1 / bn.std(0), True),
        "bias_relu_rows": lambda c: c.bias_relu_forward(rand(r, 512, 300), rand(r, 300)),
        "bias_relu_planes": lambda c: c.bias_relu_forward(xp.copy(), rand(r, 16)),
        "bias_relu_backward_rows": lambda c: c.bias_relu_backward(bn, bn[::-1].copy()),
        "bias_relu_backward_planes": lambda c: c.bias_relu_backward(xp, xp[::-1].copy()),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
def test_kernel_same_bits_at_1_and_2_threads(c, name):
    # a fresh set of cases for each run: the same operands from the same seed
    one = at_threads(c, 1, lambda: as_tuple(_cases()[name](c)))
    two = at_threads(c, 2, lambda: as_tuple(_cases()[name](c)))
    for u, v in zip(one, two):
        np.testing.assert_array_equal(u, v)


def test_conv_backward_weights_close_at_1_and_2_threads(c):
    """dw and db are summed per thread and the partials added after: other rounding."""
    r = np.random.default_rng(1)
    x, w, dy = rand(r, 4, 8, 14, 14), rand(r, 16, 8, 3, 3), rand(r, 4, 16, 14, 14)
    one, two = (at_threads(c, n, lambda: c.conv2d_backward(x, w, dy, (1, 1), (1, 1)))
                for n in (1, 2))
    for u, v in zip(one, two):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-4)


def test_pool_nested_job_runs_on_its_thread(c):
    out = c.ffi.new("int[12]")
    assert c.lib.mg_pool_selftest(4, out) == 0
    # part t: tid t, 1 thread available inside it, its nested parts all on its thread
    assert list(out) == [v for t in range(4) for v in (t, 1, 1)]


def test_pool_four_python_threads_at_once(c):
    """cffi drops the GIL: four callers share one pool; those that find it busy run
    their parts themselves, which gives the same bits as the pool."""
    r = np.random.default_rng(2)
    ops = [(rand(r, 128, 784), rand(r, 300, 784)) for _ in range(4)]
    x, w = rand(r, 4, 8, 14, 14), rand(r, 16, 8, 3, 3)

    def work(i):
        a, b = ops[i]
        return [(c.matmul(a, b, False, True), c.conv2d_forward(x, w, None, 1, 1))
                for _ in range(30)]

    want = at_threads(c, 1, lambda: [work(i)[0] for i in range(4)])
    got = at_threads(c, 2, lambda: list(ThreadPoolExecutor(4).map(work, range(4))))
    for i in range(4):
        for gm, gc in got[i]:
            np.testing.assert_array_equal(gm, want[i][0])
            np.testing.assert_array_equal(gc, want[i][1])


def run_child(code: str, timeout: float = 120) -> str:
    """code in a fresh interpreter without OpenBLAS threads (their own spinning would
    count in the process's CPU time), at 2 kernel threads."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


WORKERS = """
import os
def workers():
    return sum(open(f"/proc/self/task/{t}/comm").read().strip() == "minigrad-pool"
               for t in os.listdir("/proc/self/task"))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_starts_no_thread_at_import():
    out = run_child(WORKERS + """
        import numpy as np, minigrad as mg
        from minigrad.backend import c
        before = workers()
        a = np.ones((256, 256), np.float32)
        c.matmul(a, a)
        print(before, workers(), c.get_num_threads())
    """.replace("\n        ", "\n"))
    assert out.split() == ["0", "1", "2"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_pool_fork_child_runs_kernels():
    """A child forked while another thread is inside a 2-thread kernel (the pool's lock
    may be held, its worker is not copied) runs 2-thread kernels itself."""
    run_child("""
        import os, signal, threading, numpy as np
        from minigrad.backend import c
        r = np.random.default_rng(0)
        a, b = r.standard_normal((128, 784), np.float32), r.standard_normal((784, 300), np.float32)
        want = c.matmul(a, b)
        stop = False
        def busy():
            while not stop:
                c.matmul(a, b)
        t = threading.Thread(target=busy)
        t.start()
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                signal.alarm(30)   # a deadlock ends the child with SIGALRM
                ok = all(np.array_equal(c.matmul(a, b), want) for _ in range(20))
                os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        stop = True
        t.join()
    """)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_sleep_when_idle():
    """After a 2-thread GEMM the process uses (almost) no CPU while Python sleeps: the
    worker spins MG_POOL_SPIN_US, yields its core up to MG_POOL_YIELD_US (2 ms) and then
    waits on a futex. A worker that kept spinning would use ~0.3 s of CPU here. A
    behaviour check, not a speed test."""
    out = run_child(WORKERS + """
        import time, numpy as np
        from minigrad.backend import c
        a = np.ones((128, 784), np.float32)
        b = np.ones((300, 784), np.float32)
        idle = []
        for _ in range(3):
            for _ in range(20):
                c.matmul(a, b, False, True)
            t0 = time.process_time()
            time.sleep(0.3)
            idle.append(time.process_time() - t0)
        print(workers(), min(idle))
    """.replace("\n        ", "\n"))
    started, idle = out.split()
    assert started == "1"      # the GEMM did run on the pool
    assert float(idle) < 0.03, out


def test_pool_jobs_across_sleeps_and_releases(c):
    """Jobs that find the worker spinning, asleep or still finishing the last job, with
    workspace releases (a job every worker runs itself) in between: the claim and wake
    protocol must neither lose a part nor hang."""
    r = np.random.default_rng(4)
    a, b = rand(r, 96, 200), rand(r, 200, 64)
    want = at_threads(c, 1, lambda: c.matmul(a, b))
    gaps = r.choice([0.0, 2e-5, 1e-4, 1e-3], size=400)

    def run():
        for i, gap in enumerate(gaps):
            if gap:
                time.sleep(gap)
            if i % 50 == 49:
                c.release_workspaces()
            np.testing.assert_array_equal(c.matmul(a, b), want)

    at_threads(c, 2, run)


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_at_1_and_2_threads(c, tile):
    """Forward splits whole tile blocks (same bits); dw sums blocks per thread and adds
    the partials after (close)."""
    r = np.random.default_rng(3)
    x, w, b = rand(r, 8, 16, 28, 28), rand(r, 32, 16, 3, 3), rand(r, 32)
    dy = rand(r, 8, 32, 28, 28)
    y1, y2 = (at_threads(c, n, lambda: c.conv2d_winograd_forward(x, w, b, 1, True, tile))
              for n in (1, 2))
    np.testing.assert_array_equal(y1, y2)
    d1, d2 = (at_threads(c, n, lambda: c.conv2d_winograd_backward_weight(x, dy, 1, tile))
              for n in (1, 2))
    np.testing.assert_allclose(d1, d2, rtol=1e-4, atol=1e-3)
