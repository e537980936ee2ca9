"""Kernel calls with huge strides, paddings, kernels and sizes (2**31, 2**32, 2**62 and
products that overflow 64 bits), run by tests/test_fuzz_huge_sizes.py in a child
process: `python tests/_huge_cases.py FAMILY BACKEND` prints one JSON line per case,
before and after it runs, so a crash names the case it died in.

Every operand is tiny or a zero-stride view (np.broadcast_to), and every case is
either small or needs a buffer beyond the 2**48-byte limit of minigrad.backend._check:
none is a legitimately huge call, so no case allocates more than a few bytes unless a
check fails to stop it. Cases whose results are small
are also computed, and compared with the numpy reference by the parent test.
"""
from __future__ import annotations

import itertools
import json
import os
import resource
import sys

import numpy as np

HUGE = (2**31, 2**32, 2**62 - 1)
BIG_PAD = (2**31 - 1, 2**31, 2**32, 2**40, 2**61)
AS_LIMIT = 16 << 30  # bytes of address space the child may map


def _arr(shape, dtype=np.float32):
    """Values 1..size in a real array when small, else a zero-stride view of shape."""
    size = 1
    for d in shape:
        size *= d
    if size <= 64:
        return np.arange(1, size + 1, dtype=dtype).reshape(shape)
    return np.broadcast_to(dtype(1), shape)


def conv_cases():
    small = [((1, 1, 2, 2), (1, 1, 1, 1)), ((2, 2, 3, 3), (3, 2, 2, 2)),
             ((1, 1, 5, 4), (2, 1, 3, 1))]
    for (xs, ws), s in itertools.product(small, (1, 2) + HUGE):
        for p in (0, 1) + BIG_PAD:
            yield {"x": xs, "w": ws, "stride": s, "padding": p}
        yield {"x": xs, "w": ws, "stride": (1, s), "padding": (2**31 - 1, 2**16)}
        yield {"x": xs, "w": ws, "stride": (s, 1), "padding": (2**16, 2**32)}
    yield {"x": (1, 1, 2, 2), "w": (1, 1, 1, 1), "stride": 2**32, "padding": 2**31 - 1}
    for big in HUGE[:2]:    # huge (zero-stride) inputs and weights
        yield {"x": (big, 1, 2**10, 2**10), "w": (1, 1, 1, 1), "stride": 1, "padding": 0}
        yield {"x": (1, 1, big, 2**20), "w": (1, 1, 1, 1), "stride": 1, "padding": 0}
        yield {"x": (1, 1, 2, 2**20), "w": (big, 1, 1, 2**20), "stride": 1, "padding": 0}
        yield {"x": (2**20, 2**10, 4, 4), "w": (2**10, 2**10, 1, 1), "stride": 1,
               "padding": big}
    yield {"x": (1, 2**24, 2, 2), "w": (1, 2**24, 2**10, 2**10), "stride": 1,
           "padding": 2**9}
    yield {"x": (2**60, 1, 1, 1), "w": (1, 1, 1, 1), "stride": 1, "padding": 0}
    for k in (2**31, 2**32):    # kernels larger than the input
        yield {"x": (1, 1, 2, 2), "w": (1, 1, k, 1), "stride": 1, "padding": 0}


def pool_cases():
    for op in ("max", "avg"):
        for k, s in itertools.product((1, 2, 3) + HUGE, (1, 2) + HUGE):
            yield {"op": op, "x": (1, 2, 3, 4), "kernel": k, "stride": s}
            yield {"op": op, "x": (2, 1, 2, 2), "kernel": (1, k), "stride": (s, 1)}
        for shape in ((2**31, 1, 2**10, 2**10), (1, 2**32, 2**8, 2**8),
                      (2**20, 2**20, 2**10, 1), (1, 1, 2**46, 2), (2**30, 2**28, 2, 2)):
            yield {"op": op, "x": shape, "kernel": 1, "stride": 1}


def pool_x_shape_cases():
    """The backward kernels given x only by its shape."""
    for op in ("max", "avg"):
        for shape in ((2**20, 2**20, 2**12, 2**12), (2**40, 4, 2**10, 1),
                      (1, 1, 2**31, 2**33)):
            yield {"op": op, "x_shape": shape, "kernel": 1, "stride": 1}


def matmul_cases():
    for m, n, k in ((2**31, 2**31, 2), (2**24, 2**24, 1), (1, 1, 2**62 // 4),
                    (3, 2, 2**50), (2**32, 2**32, 1)):
        for ta, tb in ((False, False), (True, False), (False, True)):
            yield {"m": m, "n": n, "k": k, "ta": ta, "tb": tb}
    yield {"m": 2, "n": 3, "k": 4, "ta": False, "tb": False, "batch": 2**47}
    yield {"m": 2**20, "n": 2**20, "k": 1, "ta": False, "tb": False, "batch": 2**10}


def batchnorm_cases():
    for shape in ((2**31, 2**16), (2**32, 2**20), (2**20, 2**31), (2**30, 2, 2**10, 2**10),
                  (2, 2**30, 2**8, 2**8), (2**47, 1, 1, 1)):
        for training in (True, False):
            yield {"x": shape, "training": training}


FAMILIES = {"conv2d": conv_cases, "pool": pool_cases, "pool_x_shape": pool_x_shape_cases,
            "matmul": matmul_cases,
            "batchnorm": batchnorm_cases}


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def run_conv(k, case):
    x, w = _arr(case["x"]), _arr(case["w"])
    stride, padding = _pair(case["stride"]), _pair(case["padding"])
    yield lambda: k.conv2d_forward(x, w, None, stride, padding)
    dy = np.ones(k.conv2d_forward(x, w, None, stride, padding).shape, np.float32)
    yield lambda: k.conv2d_backward(x, w, dy, stride, padding)


def run_pool(k, case):
    kernel, stride = _pair(case["kernel"]), _pair(case["stride"])
    if "x_shape" in case:
        shape = case["x_shape"]
        dy = np.broadcast_to(np.float32(1), shape[:2] + (1, 1))
        if case["op"] == "max":
            yield lambda: k.maxpool2d_backward(dy, np.broadcast_to(np.int64(0), dy.shape),
                                               shape)
        else:
            yield lambda: k.avgpool2d_backward(dy, shape, kernel, stride)
        return
    x = _arr(case["x"])
    if case["op"] == "max":
        yield lambda: k.maxpool2d_forward(x, kernel, stride)
        y, arg = k.maxpool2d_forward(x, kernel, stride)
        yield lambda: k.maxpool2d_backward(np.ones_like(y), arg, x.shape)
    else:
        yield lambda: k.avgpool2d_forward(x, kernel, stride)
        y = k.avgpool2d_forward(x, kernel, stride)
        yield lambda: k.avgpool2d_backward(np.ones_like(y), x.shape, kernel, stride)


def run_matmul(k, case):
    m, n, kk, ta, tb = case["m"], case["n"], case["k"], case["ta"], case["tb"]
    batch = (case["batch"],) if "batch" in case else ()
    a = _arr(batch + ((kk, m) if ta else (m, kk)))
    b = _arr(batch + ((n, kk) if tb else (kk, n)))
    yield lambda: k.matmul(a, b, ta, tb)


def run_batchnorm(k, case):
    x, c, training = _arr(case["x"]), case["x"][1], case["training"]
    g, b, rm, rv = (_arr((c,)) for _ in range(4))
    yield lambda: k.batchnorm_forward(x, g, b, rm, rv, training, 0.1, 1e-5)
    ones = np.ones(1, np.float32)
    yield lambda: k.batchnorm_backward(np.broadcast_to(ones, x.shape), x, g, g, g, training)


RUNNERS = {"conv2d": run_conv, "pool": run_pool, "pool_x_shape": run_pool,
           "matmul": run_matmul,
           "batchnorm": run_batchnorm}


def main(family: str, backend: str) -> None:
    # A safety net for the shared machine: were a check to let a huge case through,
    # its allocation fails (MemoryError, reported as a wrong outcome) instead of
    # filling the RAM. Not under AddressSanitizer (tools/asan_test.sh), whose shadow
    # memory needs terabytes of address space; it returns NULL for huge allocations.
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    import minigrad as mg
    mg.backend.set_backend(backend)
    k = mg.backend.current()
    for i, case in enumerate(FAMILIES[family]()):
        print(json.dumps({"i": i, "start": case}), flush=True)
        print(json.dumps({"i": i, **_outcome(k, family, case)}), flush=True)


def _outcome(k, family, case):
    """{"ok": [results as lists]} or {"error": type, "message": ...}. A runner yields
    the calls of a case (forward, then backward on its output)."""
    out = []
    try:
        for call in RUNNERS[family](k, case):
            result = call()
            out.extend(result if isinstance(result, tuple) else [result])
    except Exception as e:  # noqa: BLE001 - the parent judges every outcome
        return {"error": type(e).__name__, "message": str(e)}
    return {"ok": [None if a is None else np.asarray(a).tolist() for a in out]}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
