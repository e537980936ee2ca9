"""``python -m minigrad doctor``: what minigrad runs on and whether it works.

Reports the backend in use and why the others are not, which backend serves each
kernel (a backend lacking one falls back to the numpy reference), how the C extension
was built (compiler flags, SIMD), the CPU's SIMD features, the kernel threads, a
self-test of every kernel of every backend against the numpy reference, and one SGEMM
figure per backend next to numpy's BLAS. The first thing to run when an install misbehaves.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from typing import Any, Callable

import numpy as np

from .. import backend
from ..backend import numpy_ref
from ..backend.interface import KERNELS

_SIMD_FLAGS = ("avx512f", "avx2", "fma", "avx", "sse4_2", "asimd", "neon")


def _cases(rng: np.random.Generator) -> dict[str, Callable[[Any], tuple]]:
    """One small call per kernel, with odd sizes; each maps a backend module to the
    tuple of arrays it returns, so any backend compares with numpy_ref."""
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    a, b, bt = f(17, 13), f(13, 11), f(11, 13)
    a3, b3 = f(3, 5, 7), f(3, 7, 4)
    x, w, cb = f(2, 3, 9, 8), f(4, 3, 3, 3), f(4)
    stride, pad = (2, 1), (1, 1)
    dy = f(*_conv_out(x.shape, w.shape, stride, pad))
    wdy, wdy2 = f(2, 4, 9, 8), f(2, 4, 7, 10)   # Winograd dw's dy at padding 1 and (0, 2)
    px = f(2, 3, 9, 8)
    _, argmax = numpy_ref.maxpool2d_forward(px, (2, 2), (2, 2))
    pdy = f(*argmax.shape)
    ady = f(*numpy_ref.avgpool2d_forward(px, (3, 2), (2, 2)).shape)
    bx, gamma, beta = f(6, 4, 5, 3), f(4), f(4)
    bdy = f(6, 4, 5, 3)
    mean, invstd = bx.mean(axis=(0, 2, 3)), 1 / np.sqrt(bx.var(axis=(0, 2, 3)) + 1e-5)
    rz, rz4, rb, rb4 = f(7, 33), f(3, 4, 5, 3), f(33), f(4)
    ry4 = np.maximum(rz4, 0)

    def bn_forward(k: Any, training: bool) -> tuple:
        rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
        return k.batchnorm_forward(bx, gamma, beta, rm, rv, training, 0.1, 1e-5) + (rm, rv)

    return {
        "matmul": lambda k: (k.matmul(a, b), k.matmul(a, bt, False, True),
                             k.matmul(a.T.copy(), b, True, False), k.matmul(a3, b3)),
        "conv2d_forward": lambda k: (k.conv2d_forward(x, w, cb, stride, pad),),
        "conv2d_backward": lambda k: k.conv2d_backward(x, w, dy, stride, pad),
        "conv2d_winograd_forward": lambda k: (k.conv2d_winograd_forward(x, w, cb, (1, 1)),
                                              k.conv2d_winograd_forward(x, w, None, (0, 2),
                                                                        True)),
        "conv2d_winograd_backward_weight": lambda k: (
            k.conv2d_winograd_backward_weight(x, wdy, (1, 1)),
            k.conv2d_winograd_backward_weight(x, wdy2, (0, 2), tile=2)),
        "maxpool2d_forward": lambda k: k.maxpool2d_forward(px, (2, 2), (2, 2)),
        "maxpool2d_backward": lambda k: (k.maxpool2d_backward(pdy, argmax, px.shape),),
        "avgpool2d_forward": lambda k: (k.avgpool2d_forward(px, (3, 2), (2, 2)),),
        "avgpool2d_backward": lambda k: (k.avgpool2d_backward(ady, px.shape, (3, 2),
                                                              (2, 2)),),
        "batchnorm_forward": lambda k: bn_forward(k, True) + bn_forward(k, False),
        "batchnorm_backward": lambda k: (k.batchnorm_backward(bdy, bx, gamma, mean, invstd,
                                                              True)
                                         + k.batchnorm_backward(bdy, bx, gamma, mean,
                                                                invstd, False)),
        # forward overwrites z: every backend gets its own copy
        "bias_relu_forward": lambda k: (k.bias_relu_forward(rz.copy(), rb),
                                        k.bias_relu_forward(rz4.copy(), rb4),
                                        k.bias_relu_forward(rz4.copy(), None)),
        "bias_relu_backward": lambda k: (k.bias_relu_backward(bdy[:3, :, :5], ry4)
                                         + k.bias_relu_backward(rz, np.maximum(rz, 0),
                                                                False)[:1]),
    }


def _conv_out(xs: tuple, ws: tuple, stride: tuple, pad: tuple) -> tuple:
    oh = (xs[2] + 2 * pad[0] - ws[2]) // stride[0] + 1
    ow = (xs[3] + 2 * pad[1] - ws[3]) // stride[1] + 1
    return xs[0], ws[0], oh, ow


def max_error(got: tuple, want: tuple) -> float:
    """Largest |got - want| relative to max(1, |want|), over every output array."""
    err = 0.0
    for g, r in zip(got, want):
        if g is None or r is None:
            if (g is None) != (r is None):
                return float("inf")
            continue
        g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
        if g.shape != r.shape:
            return float("inf")
        if g.size:
            err = max(err, float(np.max(np.abs(g - r)) / max(1.0, float(np.max(np.abs(r))))))
    return err


def self_test(name: str, tol: float = 1e-4, seed: int = 0) -> list[tuple[str, bool, float,
                                                                          str]]:
    """(kernel, passed, max relative error, note) for every kernel of a backend,
    compared with numpy_ref on small float32 inputs; a kernel the backend lacks is
    served by the reference, noted and not compared."""
    table = backend._load(name)
    if table is None:
        raise RuntimeError(f"doctor: backend {name!r} is not usable: {backend._why_not(name)}")
    cases = _cases(np.random.default_rng(seed))
    out = []
    for kernel, run in cases.items():
        if table.served_by[kernel] != name:
            out.append((kernel, True, 0.0, f"served by the {backend.REFERENCE!r} reference"))
            continue
        try:
            err = max_error(run(table), run(numpy_ref))
            out.append((kernel, err <= tol, err, ""))
        except Exception as exc:  # a broken kernel must be reported, not end the test
            out.append((kernel, False, float("inf"), f"{type(exc).__name__}: {exc}"))
    return out


def sgemm_gflops(matmul: Callable, n: int = 512, repeats: int = 5) -> float:
    """Median GFLOP/s of an n x n x n float32 product (after one warm-up call)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    matmul(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        matmul(a, b)
        times.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


def cpu_simd() -> list[str]:
    """SIMD feature flags of this CPU (Linux /proc/cpuinfo), strongest first."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = set()
            for line in fh:
                if line.startswith(("flags", "Features")):
                    flags.update(line.split(":", 1)[1].split())
    except OSError:
        return []
    return [f for f in _SIMD_FLAGS if f in flags]


def build_info() -> str:
    """The C extension's own description (compiler flags, SIMD, threads), or why not."""
    try:
        from .. import _C
    except Exception as exc:  # not built, or built for another Python
        return f"not available ({type(exc).__name__}: {exc}); build with 'make build'"
    if not hasattr(_C.lib, "mg_build_info"):
        return "built, but without mg_build_info"
    return _C.ffi.string(_C.lib.mg_build_info()).decode()


def _backend_lines() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        active = backend.get_backend()
    env = os.environ.get("MINIGRAD_BACKEND")
    why = (f"MINIGRAD_BACKEND={env}" if env else
           "the default order c > numba > numpy picks the first usable one")
    lines = [f"backend in use: {active} ({why})",
             f"available: {', '.join(backend.available())}"]
    for name in backend._BACKENDS:
        if name not in backend.available():
            lines.append(f"  {name}: not usable: {backend._why_not(name)}")
    lines += [f"  warning: {w.message}" for w in caught]
    return lines


def kernel_table_lines() -> list[str]:
    """Which backend serves each kernel, one column per usable backend."""
    names = backend.available()
    tables = {n: backend.kernel_table(n) for n in names}
    lines = [f"kernels served (column: backend selected; cell: the backend that runs the "
             f"kernel, {backend.REFERENCE!r} where one lacks it):",
             f"  {'kernel':<20}" + "".join(f" {n:<8}" for n in names)]
    for kernel in KERNELS:
        lines.append(f"  {kernel:<20}" + "".join(f" {tables[n][kernel]:<8}" for n in names))
    return [line.rstrip() for line in lines]


def _thread_lines() -> list[str]:
    lines = [f"threads: mg.get_num_threads() = {backend.get_num_threads()} "
             f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
             f"{os.cpu_count()} cores)"]
    for name in backend.available():
        module = backend._load(name).module
        if hasattr(module, "get_num_threads"):
            lines.append(f"  {name} kernels: {module.get_num_threads()} threads")
    return lines


def run(bench: bool = True, size: int = 512, out=None) -> bool:
    """Print the whole report; returns True when every self-test passed."""
    out = out or sys.stdout
    say = lambda s="": print(s, file=out)  # noqa: E731
    import minigrad
    say(f"minigrad {minigrad.__version__} on Python {platform.python_version()}, numpy "
        f"{np.__version__}, {platform.system()} {platform.machine()}")
    for line in _backend_lines() + [f"C extension: {build_info()}",
                                    f"CPU SIMD: {' '.join(cpu_simd()) or 'unknown'}"]:
        say(line)
    for line in _thread_lines() + [""] + kernel_table_lines():
        say(line)
    ok = True
    others = [n for n in backend.available() if n != "numpy"]
    say("")
    say("kernel self-test against numpy_ref (float32, max error relative to max(1, |ref|)):")
    if not others:
        say("  only the numpy reference is available: nothing to compare")
    for name in others:
        for kernel, passed, err, text in self_test(name):
            ok &= passed
            if text.startswith("served by"):
                say(f"  {name:<6} {kernel:<20} not compared: {text}")
                continue
            say(f"  {name:<6} {kernel:<20} {'pass' if passed else 'FAIL'}  max error "
                f"{err:.1e}{'  ' + text if text else ''}")
    if bench:
        say("")
        say(f"SGEMM {size}x{size}x{size} float32, median of 5 (GFLOP/s):")
        say(f"  numpy (BLAS)  {sgemm_gflops(np.matmul, size):8.1f}")
        for name in others:
            say(f"  {name:<13} {sgemm_gflops(backend._load(name).matmul, size):8.1f}")
    say("")
    say("doctor: all kernels agree with the reference" if ok
        else "doctor: SOME KERNELS DISAGREE with the reference (see FAIL above)")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m minigrad doctor``; exit code 0 when all tests pass."""
    parser = argparse.ArgumentParser(prog="python -m minigrad doctor",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--no-bench", action="store_true", help="skip the SGEMM timing")
    parser.add_argument("--size", type=int, default=512, help="SGEMM size (default 512)")
    parser.add_argument("--threads", type=int, help="threads of the C/Numba kernels")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be >= 1, got {args.size}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        backend.set_num_threads(args.threads)
    return 0 if run(bench=not args.no_bench, size=args.size) else 1


if __name__ == "__main__":
    sys.exit(main())
