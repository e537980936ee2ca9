"""The doctor: report sections, kernel self-test on every backend, a broken kernel."""
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import interface, numpy_ref
from minigrad.diagnostics import doctor


def test_doctor_main_reports_and_passes(capsys):
    code = doctor.main(["--size", "64"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"backend in use: {mg.backend.get_backend()}" in out
    assert "available: " + ", ".join(mg.backend.available()) in out
    assert "C extension: " in out and "CPU SIMD: " in out
    assert f"mg.get_num_threads() = {mg.get_num_threads()}" in out
    for name in mg.backend.available():
        if name != "numpy":
            for kernel in interface.KERNELS:
                assert f"{name:<6} {kernel:<20} pass" in out
    assert "kernels served" in out
    for name in mg.backend.available():
        served = mg.backend.kernel_table(name)
        assert set(served) == set(interface.KERNELS)
    assert "SGEMM 64x64x64" in out and "numpy (BLAS)" in out
    assert "all kernels agree with the reference" in out


@pytest.mark.parametrize("name", [n for n in mg.backend.available() if n != "numpy"])
def test_doctor_self_test_every_kernel(name):
    rows = doctor.self_test(name)
    assert [r[0] for r in rows] == list(interface.KERNELS)
    assert all(passed for _, passed, _, _ in rows), rows


def test_doctor_reports_a_wrong_kernel(monkeypatch, capsys):
    fake = types.SimpleNamespace(**{k: getattr(numpy_ref, k) for k in interface.KERNELS})
    fake.matmul = lambda a, b, ta=False, tb=False: numpy_ref.matmul(a, b, ta, tb) + 0.01
    fake.conv2d_forward = lambda *args: (_ for _ in ()).throw(RuntimeError("boom"))
    # stand in for numba in a private copy of the registry, restored after the test
    for table in ("_BACKENDS", "_loaded", "_errors"):
        monkeypatch.setattr(mg.backend, table, dict(getattr(mg.backend, table)))
    mg.backend.register("numba", fake)
    rows = {r[0]: r for r in doctor.self_test("numba")}
    assert not rows["matmul"][1] and 1e-4 < rows["matmul"][2] <= 0.01
    assert not rows["conv2d_forward"][1] and "RuntimeError: boom" in rows["conv2d_forward"][3]
    assert rows["maxpool2d_forward"][1]
    assert doctor.main(["--no-bench"]) == 1
    out = capsys.readouterr().out
    assert "numba  matmul               FAIL" in out and "SOME KERNELS DISAGREE" in out
    assert "SGEMM" not in out


def test_doctor_helpers():
    assert doctor.max_error((np.ones(3),), (np.ones(3),)) == 0.0
    assert doctor.max_error((np.ones(3),), (np.ones(4),)) == float("inf")
    assert doctor.max_error((None,), (np.ones(1),)) == float("inf")
    assert doctor.sgemm_gflops(np.matmul, n=32, repeats=2) > 0
    assert isinstance(doctor.cpu_simd(), list)
    with pytest.raises(SystemExit):
        doctor.main(["--size", "0"])
    with pytest.raises(SystemExit):
        doctor.main(["--threads", "0"])
