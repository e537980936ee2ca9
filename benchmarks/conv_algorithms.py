"""Conv algorithms side by side, 1 thread: minigrad's Conv2d op with
conv_algorithm("gemm") and ("winograd") against torch.nn.functional.conv2d, on the
MNIST CNN's two 3x3 pad-1 layers (N=128), forward and forward + backward; interleaved
medians (common.median_times). The measurement behind backend/algorithm.py's "auto"
rule. With --kernels, the kernels themselves instead (benchmarks.kernels.conv_case):
the default conv kernels, Winograd F(4x4, 3x3) and F(2x2, 3x3) (y, dx and dw), on the
C and Numba backends next to PyTorch, in ms (median CPU time) and GFLOP/s of the
direct method's flops; --wide adds a 64->64 14x14 layer.
Usage: python -m benchmarks.conv_algorithms [--backend c] [--repeat 10] [--kernels]
[--wide]"""
from __future__ import annotations

import argparse

import numpy as np

from .common import median_times, set_threads

LAYERS = ((1, 32, 28, False), (32, 64, 14, True))  # C, F, H = W, needs dx
WIDE = (64, 64, 14, True)


def _runners(mg, torch, c, f, hw, need_dx, rng):
    import minigrad.nn.functional as F
    x = rng.standard_normal((128, c, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((f, c, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    dy = rng.standard_normal((128, f, hw, hw)).astype(np.float32)
    leaves = [mg.Tensor(a, requires_grad=g) for a, g in ((x, need_dx), (w, True), (b, True))]
    fwd, both = {}, {}
    for algo in ("gemm", "winograd"):
        def forward(algo=algo):
            with mg.backend.conv_algorithm(algo):
                return F.conv2d(*leaves, padding=1)

        def inference(forward=forward):
            with mg.no_grad():
                return forward()

        def step(forward=forward):
            forward().backward(mg.Tensor(dy))
            for t in leaves:
                t.grad = None
        fwd[algo], both[algo] = inference, step
    if torch is not None:
        xt = torch.from_numpy(x).requires_grad_(need_dx)
        wt, bt = (torch.from_numpy(a).requires_grad_() for a in (w, b))
        dyt = torch.from_numpy(dy)

        def torch_fwd():
            with torch.no_grad():
                return torch.nn.functional.conv2d(xt, wt, bt, padding=1)

        def torch_step():
            torch.nn.functional.conv2d(xt, wt, bt, padding=1).backward(dyt)
            for t in (xt, wt, bt):
                t.grad = None
        fwd["torch"], both["torch"] = torch_fwd, torch_step
    return fwd, both


def kernel_table(layers, torch, repeat: int) -> None:
    """benchmarks.kernels' conv cases on the C and Numba backends and PyTorch, printed
    as ms and GFLOP/s per contender with each one's time over PyTorch's, all from the
    median CPU time per call (1 thread: the wall time less the waits for a core on a
    machine shared with other jobs)."""
    import minigrad as mg
    from .kernels import conv_case
    mods = {}
    for name in ("c", "numba"):
        with mg.backend.use(name):
            mods[name] = mg.backend.current()
    rng = np.random.default_rng(0)
    for c, f, hw, need_dx in layers:
        for case in conv_case(128, c, hw, f, need_dx, mods, torch, rng):
            t: dict[str, float] = {}
            median_times(case.run, repeat=repeat, cpu=t)
            cells = "  ".join(f"{k} {v * 1e3:.2f} ms {case.work / v / 1e9:.1f} GF/s"
                              + (f" ({v / t['torch']:.2f}x)" if "torch" in t else "")
                              for k, v in t.items())
            print(f"{case.kernel:28s} {case.shape:36s} {cells}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="c")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--kernels", action="store_true",
                        help="time the kernels (C, Numba, PyTorch) instead of the op")
    parser.add_argument("--wide", action="store_true", help="add a 64->64 14x14 layer")
    args = parser.parse_args(argv)
    import minigrad as mg
    try:
        import torch
    except ImportError:
        torch = None
    set_threads(1)
    rng = np.random.default_rng(0)
    layers = LAYERS + ((WIDE,) if args.wide else ())
    if args.kernels:
        kernel_table(layers, torch, args.repeat)
        return
    with mg.backend.use(args.backend):
        for c, f, hw, need_dx in layers:
            for what, fns in zip(("fwd", "fwd+bwd"), _runners(mg, torch, c, f, hw, need_dx,
                                                               rng)):
                t = median_times(fns, repeat=args.repeat)
                ratios = "  ".join(f"{k}/torch {t[k] / t['torch']:.2f}"
                                   for k in ("gemm", "winograd") if "torch" in t)
                times = "  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in t.items())
                print(f"{c}->{f} {hw}x{hw} N=128 {what:8s} {times}  "
                      f"winograd/gemm {t['winograd'] / t['gemm']:.2f}  {ratios}")


if __name__ == "__main__":
    main()
