"""Fused optimizer steps: one Numba pass per parameter that reads the gradient and
the state once and writes the parameter and the state once.

The numpy update rules in sgd.py, rmsprop.py, adam.py and adagrad.py are the
reference; each kernel here performs the same float operations in the same order,
in the parameter's dtype (the scalars arrive already cast to it, as numpy casts a
Python float meeting a float32 array), so both paths agree to the last bit or two.
No fastmath (it would reassociate and break that agreement) and
``error_model="numpy"`` (Python's division-by-zero check stops LLVM from
vectorising the loop, ~5x slower). Options are boolean arguments: LLVM hoists
these loop-invariant branches out of the loop, so one compiled kernel per dtype
serves every option without slowing the plain case (RMSprop's two optional
stores are the exception, split by hand; see rmsprop_step).

Kernels take 1-D views (``flat``) of arrays that share one memory order (the
callers in the optimizers fall back to numpy when ``flat`` says the arrays do
not) and their hyperparameters as one small array ``h`` of the same dtype.
They compile on first use and are cached on disk (``cache=True``), so importing
this module costs only Numba's own import. With ``NUMBA_DISABLE_JIT=1`` they run
as plain Python on numpy scalars: correct, far too slow for real use, so the
optimizers pick them then only when asked with ``fused=True``.
"""
from __future__ import annotations

import numpy as np
from numba import config, njit

_JIT = dict(cache=True, fastmath=False, error_model="numpy")

#: Python loops instead of compiled ones (NUMBA_DISABLE_JIT=1)
JIT_DISABLED = bool(config.DISABLE_JIT)


def flat(p: np.ndarray, *state: np.ndarray | None) -> tuple[str, list] | None:
    """(order, 1-D views of p and of each state array) when p is float32/float64 and
    contiguous, and every state array (None passes through as None) is contiguous in
    that same memory order with p's shape and dtype, so that element i is the same
    entry of each; None otherwise (the caller then takes the numpy rule). A gradient
    laid out like p (Optimizer.step sees to it) is flattened with ``g.ravel(order)``.
    """
    if p.dtype.char not in "fd":
        return None
    order = "C" if p.flags.c_contiguous else "F" if p.flags.f_contiguous else None
    if order is None:
        return None
    views = []
    for a in (p,) + state:
        if a is None:
            views.append(None)
            continue
        ok = a.flags.c_contiguous if order == "C" else a.flags.f_contiguous
        if not ok or a.dtype != p.dtype or a.shape != p.shape:
            return None
        views.append(a.ravel(order=order))
    return order, views


def scalars(p: np.ndarray, *values: float) -> np.ndarray:
    """The hyperparameters of one kernel call as one array of p's dtype: cast as
    numpy casts a Python float that meets a float32 array (so the kernel's math is
    the numpy rule's), and one argument instead of many (Numba's dispatch cost grows
    with the number of arguments, and the small tensors of a model are all
    dispatch)."""
    return np.array(values, dtype=p.dtype)


@njit(**_JIT)
def sgd_step(p, g, h, decay):
    """p <- p - lr * (g + wd * p)  (the decay only when ``decay``); h = (lr, wd)."""
    lr, wd = h[0], h[1]
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        p[i] = p[i] - gi * lr


@njit(**_JIT)
def sgd_momentum_step(p, g, buf, h, decay, nesterov, first):
    """The momentum form of SGD; h = (lr, wd, momentum, keep = 1 - dampening).
    first: buf <- g (the buffer's first step, as PyTorch), else buf <- momentum *
    buf + keep * g; d = g + momentum * buf (nesterov) or buf; p <- p - lr * d."""
    lr, wd, momentum, keep = h[0], h[1], h[2], h[3]
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        if first:
            b = gi
        else:
            b = buf[i] * momentum + gi * keep
        buf[i] = b
        d = b
        if nesterov:
            d = b * momentum + gi
        p[i] = p[i] - d * lr


@njit(**_JIT)
def rmsprop_step(p, g, v, a, b, h, decay, centered, use_momentum):
    """h = (lr, wd, alpha, keep = 1 - alpha, eps, momentum). v <- alpha v + keep g^2;
    centered: a <- a + keep (g - a), s = sqrt(v - a^2) + eps, else s = sqrt(v) +
    eps; use_momentum: b <- momentum b + g / s and p <- p - lr b, else p <- p -
    lr g / s. a and b are only read and written under their flags (pass any array
    of p's size otherwise)."""
    # one inlined copy of the loop per pair of flags, each with its flags constant:
    # with both left to LLVM, it hoists only one conditional store out of the loop,
    # and the other keeps the loop scalar (~2x slower)
    if centered and use_momentum:
        _rmsprop_loop(p, g, v, a, b, h, decay, True, True)
    elif centered:
        _rmsprop_loop(p, g, v, a, b, h, decay, True, False)
    elif use_momentum:
        _rmsprop_loop(p, g, v, a, b, h, decay, False, True)
    else:
        _rmsprop_loop(p, g, v, a, b, h, decay, False, False)


@njit(inline="always", **_JIT)
def _rmsprop_loop(p, g, v, a, b, h, decay, centered, use_momentum):
    lr, wd, alpha, keep, eps, momentum = h[0], h[1], h[2], h[3], h[4], h[5]
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        vi = v[i] * alpha + gi * gi * keep
        v[i] = vi
        if centered:
            ai = a[i]
            ai = ai + (gi - ai) * keep
            a[i] = ai
            s = np.sqrt(vi - ai * ai) + eps
        else:
            s = np.sqrt(vi) + eps
        d = gi / s
        if use_momentum:
            d = b[i] * momentum + d
            b[i] = d
        p[i] = p[i] - d * lr


@njit(**_JIT)
def adam_step(p, g, m, v, vmax, h, coupled, decoupled, amsgrad):
    """Adam/AdamW at one step; h = (step_size, bc2_sqrt, beta2, keep1 = 1 - beta1,
    keep2 = 1 - beta2, eps, wd, shrink = 1 - lr wd). decoupled: p <- shrink p;
    coupled: g <- g + wd p; m <- m + keep1 (g - m); v <- beta2 v + keep2 g^2;
    amsgrad: vmax <- max(vmax, v) (NaN propagates, as np.maximum) used for v;
    p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps). vmax is only touched
    under amsgrad."""
    step_size, bc2_sqrt, beta2, keep1 = h[0], h[1], h[2], h[3]
    keep2, eps, wd, shrink = h[4], h[5], h[6], h[7]
    for i in range(p.size):
        pi = p[i]
        if decoupled:
            pi = pi * shrink
        gi = g[i]
        if coupled:
            gi = pi * wd + gi
        mi = m[i]
        mi = mi + (gi - mi) * keep1
        m[i] = mi
        vi = v[i] * beta2 + gi * gi * keep2
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            if vi > vm or vi != vi:
                vm = vi
            vmax[i] = vm
            vi = vm
        denom = np.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi - mi / denom * step_size


@njit(**_JIT)
def adagrad_step(p, g, s, h, decay):
    """h = (clr, wd, eps): s <- s + g^2; p <- p - clr * g / (sqrt(s) + eps)."""
    clr, wd, eps = h[0], h[1], h[2]
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        si = s[i] + gi * gi
        s[i] = si
        p[i] = p[i] - gi / (np.sqrt(si) + eps) * clr
