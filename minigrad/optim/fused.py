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
serves every option without slowing the plain case.

Kernels take 1-D views (``flat``) of arrays that share one memory order; the
callers in the optimizers fall back to numpy when ``flat`` says the arrays do not.
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


def flat(p: np.ndarray, *others: np.ndarray | None) -> list[np.ndarray] | None:
    """1-D views of p and of each array in ``others`` (None passes through), all in
    one memory order so that element i is the same entry of each; None when p is
    not float32/float64, or any array is not contiguous in p's order or of p's
    dtype (the caller then takes the numpy path)."""
    if p.dtype not in (np.float32, np.float64):
        return None
    order = "C" if p.flags.c_contiguous else "F" if p.flags.f_contiguous else None
    if order is None:
        return None
    views = []
    for a in (p,) + others:
        if a is None:
            views.append(None)
            continue
        ok = a.flags.c_contiguous if order == "C" else a.flags.f_contiguous
        if not ok or a.dtype != p.dtype or a.shape != p.shape:
            return None
        views.append(a.ravel(order=order))
    return views


@njit(**_JIT)
def sgd_step(p, g, lr, wd, decay):
    """p <- p - lr * (g + wd * p)  (the decay only when ``decay``)."""
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        p[i] = p[i] - gi * lr


@njit(**_JIT)
def sgd_momentum_step(p, g, buf, lr, wd, momentum, keep, decay, nesterov, first):
    """The momentum form of SGD; keep = 1 - dampening. first: buf <- g (the
    buffer's first step, as PyTorch), else buf <- momentum * buf + keep * g;
    d = g + momentum * buf (nesterov) or buf; p <- p - lr * d."""
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
def rmsprop_step(p, g, v, a, b, lr, wd, alpha, keep, eps, momentum, decay, centered,
                 use_momentum):
    """v <- alpha v + keep g^2 (keep = 1 - alpha); centered: a <- a + keep (g - a),
    s = sqrt(v - a^2) + eps, else s = sqrt(v) + eps; use_momentum: b <- momentum b
    + g / s and p <- p - lr b, else p <- p - lr g / s. a and b are only read and
    written under their flags (pass any array of p's size otherwise)."""
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
        if use_momentum:
            bi = b[i] * momentum + gi / s
            b[i] = bi
            p[i] = p[i] - bi * lr
        else:
            p[i] = p[i] - gi / s * lr


@njit(**_JIT)
def adam_step(p, g, m, v, vmax, step_size, bc2_sqrt, beta2, keep1, keep2, eps, wd,
              shrink, coupled, decoupled, amsgrad):
    """Adam/AdamW at one step: decoupled: p <- shrink * p (shrink = 1 - lr wd);
    coupled: g <- g + wd p; m <- m + keep1 (g - m); v <- beta2 v + keep2 g^2;
    amsgrad: vmax <- max(vmax, v) (NaN propagates, as np.maximum) used for v;
    p <- p - step_size * m / (sqrt(v) / bc2_sqrt + eps)."""
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
def adagrad_step(p, g, s, clr, wd, eps, decay):
    """s <- s + g^2; p <- p - clr * g / (sqrt(s) + eps)."""
    for i in range(p.size):
        gi = g[i]
        if decay:
            gi = p[i] * wd + gi
        si = s[i] + gi * gi
        s[i] = si
        p[i] = p[i] - gi / (np.sqrt(si) + eps) * clr
