"""Grad mode, tapes, anomaly mode and backend.use() are per thread (contextvars).

Each test forces the overlap that broke the old module globals with Events, so the
interleaving is the same on every run.
"""
import threading

import numpy as np
import pytest

import minigrad as mg

TIMEOUT = 10


class _Thread(threading.Thread):
    """A thread whose exception (or failed assert) is re-raised by join()."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self._fn, self.error, self.result = target, None, None

    def run(self):
        try:
            self.result = self._fn()
        except BaseException as exc:  # re-raised in the main thread
            self.error = exc

    def join(self, timeout=TIMEOUT):
        super().join(timeout)
        assert not self.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def _wait(event):
    assert event.wait(TIMEOUT), "the other thread never signalled"


def test_threads_backward_while_other_thread_in_no_grad():
    inside, done = threading.Event(), threading.Event()

    def b():
        with mg.no_grad():
            inside.set()
            _wait(done)

    tb = _Thread(b)
    tb.start()
    _wait(inside)
    try:
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).sum().backward()  # raised "does not require grad" with a global flag
        np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
        assert mg.is_grad_enabled()
    finally:
        done.set()
        tb.join()


def test_threads_overlapping_no_grad_leave_grad_on():
    # Order that broke the global flag: 1 enters, 2 enters, 1 exits, 2 exits.
    one_in, two_in, one_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with mg.no_grad():
            one_in.set()
            _wait(two_in)
        one_out.set()
        return mg.is_grad_enabled()

    def second():
        _wait(one_in)
        with mg.no_grad():
            two_in.set()
            _wait(one_out)
            assert not mg.is_grad_enabled()
        return mg.is_grad_enabled()

    threads = [_Thread(first), _Thread(second)]
    for t in threads:
        t.start()
    assert [t.join() for t in threads] == [True, True]
    assert mg.is_grad_enabled()
    x = mg.tensor([1.0], requires_grad=True)
    assert (x * 2).requires_grad


def test_threads_start_with_grad_on_even_if_main_is_in_no_grad():
    with mg.no_grad():
        t = _Thread(mg.is_grad_enabled)
        t.start()
        assert t.join() is True
        assert not mg.is_grad_enabled()


def test_threads_tape_records_only_its_own_thread():
    recording, main_done = threading.Event(), threading.Event()

    def b():
        w = mg.tensor([1.0, 2.0], requires_grad=True)
        with mg.GradientTape() as tape:
            recording.set()
            _wait(main_done)
            y = (w * w).sum()
        return [type(e).__name__ for e in tape.entries], tape.gradient(y, w)

    tb = _Thread(b)
    tb.start()
    _wait(recording)
    x = mg.tensor([3.0], requires_grad=True)
    (x.exp() + x).sum()  # main-thread ops: never on b's tape
    main_done.set()
    names, grad = tb.join()
    assert names == ["Mul", "Sum"]
    np.testing.assert_allclose(grad.data, [2.0, 4.0])


def test_threads_anomaly_mode_is_per_thread():
    inside, done = threading.Event(), threading.Event()

    def b():
        with mg.detect_anomaly():
            inside.set()
            _wait(done)
            with pytest.raises(mg.AnomalyError, match="Log"), np.errstate(invalid="ignore"):
                mg.tensor([-1.0]).log()

    tb = _Thread(b)
    tb.start()
    _wait(inside)
    try:
        with np.errstate(invalid="ignore"):
            assert np.isnan(mg.tensor([-1.0]).log().data).all()  # no anomaly check here
    finally:
        done.set()
        tb.join()


def _other_backend():
    others = [n for n in mg.backend.available() if n != "numpy"]
    if not others:
        pytest.skip("only the numpy backend is usable: nothing to tell apart")
    return others[0]


def test_threads_use_in_a_thread_keeps_main_backend():
    other = _other_backend()
    inside, done = threading.Event(), threading.Event()

    def b():
        with mg.backend.use("numpy"):
            inside.set()
            _wait(done)
            return mg.backend.get_backend()

    with mg.backend.use(other):
        tb = _Thread(b)
        tb.start()
        _wait(inside)
        try:
            assert mg.backend.get_backend() == other
            a = np.arange(6, dtype=np.float32).reshape(2, 3)
            np.testing.assert_allclose((mg.tensor(a) @ mg.tensor(a.T)).data, a @ a.T)
        finally:
            done.set()
        assert tb.join() == "numpy"
        assert mg.backend.get_backend() == other


def test_threads_set_backend_is_the_process_default():
    other = _other_backend()
    default = mg.backend.get_backend()
    try:
        mg.backend.set_backend(other)
        seen = _Thread(mg.backend.get_backend)
        seen.start()
        assert seen.join() == other
        with mg.backend.use("numpy"):
            mg.backend.set_backend(other)  # the default changes, this block keeps numpy
            assert mg.backend.get_backend() == "numpy"
    finally:
        mg.backend.set_backend(default)


def test_threads_no_grad_decorator_is_safe_in_two_threads_at_once():
    # One decorated function, entered by two threads that overlap inside it.
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    @mg.no_grad()
    def inside():
        barrier.wait()  # both threads are in the block now
        state = mg.is_grad_enabled()
        barrier.wait()
        return state

    def call():
        return inside(), mg.is_grad_enabled()

    threads = [_Thread(call), _Thread(call)]
    for t in threads:
        t.start()
    assert [t.join() for t in threads] == [(False, True), (False, True)]
    assert mg.is_grad_enabled()
