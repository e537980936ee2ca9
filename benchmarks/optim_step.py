"""Time of one optimizer step for the 784-300-100-10 MLP (266,610 parameters):
minigrad's fused Numba kernels (the default) and its numpy rule (fused=False) next
to torch.optim (foreach=False, default, foreach=True), all measured side by side in
the same run on one thread, plus the fused path fed transposed weight gradients and
the rules written as textbook numpy expressions (temporaries, the 'before' of the
in-place numpy rule). The last column is the largest |difference| of the weights
between the fused and the numpy path after 20 steps.

    python -m benchmarks.optim_step [--rounds 300] [--stat median|min] [--json PATH]

Prints a markdown table of microseconds per step (median by default).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy/numba load: single-thread comparison

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import optim  # noqa: E402

from benchmarks.common import write_results  # noqa: E402

SHAPES = [(300, 784), (300,), (100, 300), (100,), (10, 100), (10,)]

# name -> (minigrad class, torch name, kwargs shared by both)
CASES = {
    "SGD": (optim.SGD, "SGD", dict(lr=0.01)),
    "SGD momentum": (optim.SGD, "SGD", dict(lr=0.01, momentum=0.9)),
    "SGD nesterov + wd": (optim.SGD, "SGD", dict(lr=0.01, momentum=0.9, nesterov=True,
                                                 weight_decay=1e-4)),
    "RMSprop": (optim.RMSprop, "RMSprop", dict()),
    "RMSprop centered+mom": (optim.RMSprop, "RMSprop", dict(centered=True, momentum=0.9)),
    "Adam": (optim.Adam, "Adam", dict()),
    "Adam amsgrad": (optim.Adam, "Adam", dict(amsgrad=True)),
    "AdamW": (optim.AdamW, "AdamW", dict()),
    "Adagrad": (optim.Adagrad, "Adagrad", dict()),
}


def _weights_and_grads():
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-0.05, 0.05, s).astype(np.float32) for s in SHAPES]
    grads = [rng.normal(0, 1e-2, s).astype(np.float32) for s in SHAPES]
    return weights, grads


def minigrad_step(cls, kwargs, fused=None, transposed=False):
    """opt.step of minigrad (fused: the optimizer's flag); transposed: the 2-d
    gradients are F-ordered, the layout a hand-written ``x @ W.T`` could leave in
    W.grad (F.linear / nn.Linear give C order), copied once per step."""
    weights, grads = _weights_and_grads()
    params = [mg.Tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        if transposed and g.ndim == 2:
            g = np.ascontiguousarray(g.T).T
        p.grad = mg.Tensor._wrap(g)
    return cls(params, fused=fused, **kwargs).step


def torch_step(torch, name, kwargs, foreach):
    weights, grads = _weights_and_grads()
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    opt = getattr(torch.optim, name)(params, foreach=foreach, **kwargs)

    def step():
        with torch.no_grad():
            opt.step()
    return step


def _textbook_sgd(p, g, s, kw, lr):
    if "weight_decay" in kw:
        g = g + kw["weight_decay"] * p
    if "momentum" in kw:
        s["m"] = kw["momentum"] * s["m"] + g
        g = g + kw["momentum"] * s["m"] if kw.get("nesterov") else s["m"]
    p -= lr * g


def _textbook_rmsprop(p, g, s, kw, lr):
    s["v"] = 0.99 * s["v"] + 0.01 * g * g
    if kw.get("centered"):
        s["a"] = 0.99 * s["a"] + 0.01 * g
        d = g / (np.sqrt(s["v"] - s["a"] * s["a"]) + 1e-8)
    else:
        d = g / (np.sqrt(s["v"]) + 1e-8)
    if kw.get("momentum"):
        s["m"] = d = kw["momentum"] * s["m"] + d
    p -= lr * d


def _textbook_adam(p, g, s, kw, lr, decoupled=False):
    if decoupled:
        p *= 1 - lr * 1e-2
    s["m"] = 0.9 * s["m"] + 0.1 * g
    s["v"] = v = 0.999 * s["v"] + 0.001 * g * g
    if kw.get("amsgrad"):
        v = s["vmax"] = np.maximum(s["vmax"], v)
    m_hat = s["m"] / (1 - 0.9 ** s["t"])
    v_hat = v / (1 - 0.999 ** s["t"])
    p -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def _textbook_adagrad(p, g, s, kw, lr):
    s["v"] = s["v"] + g * g
    p -= lr * g / (np.sqrt(s["v"]) + 1e-10)


TEXTBOOK = {"SGD": (_textbook_sgd, 0.01), "RMSprop": (_textbook_rmsprop, 1e-2),
            "Adam": (_textbook_adam, 1e-3), "Adagrad": (_textbook_adagrad, 1e-2),
            "AdamW": (lambda *a: _textbook_adam(*a, decoupled=True), 1e-3)}


def textbook_step(case):
    """The rule as plain numpy expressions, a new array per operation (the 'before'
    of minigrad's in-place updates)."""
    _, name, kw = CASES[case]
    rule, default_lr = TEXTBOOK[name]
    lr = kw.get("lr", default_lr)
    weights, grads = _weights_and_grads()
    state = [dict(t=0, m=np.zeros_like(w), v=np.zeros_like(w), vmax=np.zeros_like(w),
                  a=np.zeros_like(w)) for w in weights]

    def step():
        for p, g, s in zip(weights, grads, state):
            s["t"] += 1
            rule(p, g, s, kw, lr)
    return step


def fused_max_error(cls, kwargs, steps: int = 20) -> float:
    """Largest |difference| of the weights between the fused and the numpy path
    after `steps` steps on the same gradients."""
    fused, reference = minigrad_step(cls, kwargs, True), minigrad_step(cls, kwargs, False)
    for _ in range(steps):
        fused()
        reference()
    pairs = zip(fused.__self__.param_groups[0]["params"],
                reference.__self__.param_groups[0]["params"])
    return max(float(np.max(np.abs(a.data - b.data))) for a, b in pairs)


def time_us(fns: dict, rounds: int, stat, warmup: int = 5) -> dict:
    """stat (median or min) of the microseconds per call, the contenders interleaved
    round by round so that load from other processes hits them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    runs = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            runs[k].append(time.perf_counter() - start)
    return {k: stat(v) * 1e6 for k, v in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="min is the robust figure on a machine shared with others")
    parser.add_argument("--json", default="bench_results/optim_step.json")
    args = parser.parse_args()
    stat = statistics.median if args.stat == "median" else min
    import torch
    torch.set_num_threads(1)
    mg.set_num_threads(1)
    n = sum(math.prod(s) for s in SHAPES)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"One optimizer step, {n:,} float32 parameters in {len(SHAPES)} tensors "
          f"(784-300-100-10 MLP), 1 thread, {args.stat} of {args.rounds} interleaved runs, "
          f"µs. numpy {np.__version__}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, load average {load}.\n")
    print("| optimizer | minigrad fused | minigrad numpy | fused, transposed weight grads "
          "| torch foreach=False | torch default | torch foreach=True "
          "| numpy textbook (temporaries) | fused / torch default | numpy / torch default "
          "| numpy / fused | max abs diff fused vs numpy, 20 steps |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = {}
    for case, (cls, name, kw) in CASES.items():
        t = time_us({"fu": minigrad_step(cls, kw, True),
                     "mg": minigrad_step(cls, kw, False),
                     "fuT": minigrad_step(cls, kw, True, transposed=True),
                     "tf": torch_step(torch, name, kw, False),
                     "td": torch_step(torch, name, kw, None),
                     "tt": torch_step(torch, name, kw, True),
                     "np": textbook_step(case)}, args.rounds, stat)
        print(f"| {case} | {t['fu']:.0f} | {t['mg']:.0f} | {t['fuT']:.0f} | {t['tf']:.0f} "
              f"| {t['td']:.0f} | {t['tt']:.0f} | {t['np']:.0f} | {t['fu'] / t['td']:.2f} "
              f"| {t['mg'] / t['td']:.2f} | {t['mg'] / t['fu']:.1f} "
              f"| {fused_max_error(cls, kw):.1e} |")
        rows[case] = {"fused_us": t["fu"], "numpy_us": t["mg"], "torch_default_us": t["td"]}
    write_results(args.json, "optim_step", {"stat": args.stat, "rows": rows})


if __name__ == "__main__":
    main()
