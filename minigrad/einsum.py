"""mg.einsum: Einstein summation composed from permute, reshape, sum, diagonal and
one batched matmul per pair of operands, so every contraction runs on the backend's
GEMM and differentiates through those ops."""
from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor, _tensors


def _parse(equation: str, n: int) -> tuple[list[str], str]:
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ValueError(f"einsum: ellipsis is not supported, got {equation!r}")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != n:
        raise ValueError(f"einsum: {equation!r} names {len(inputs)} operands, got {n}")
    if not arrow:  # implicit output: the letters used once, in alphabetical order
        letters = "".join(inputs)
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if not all(s.isalpha() for s in inputs + [rhs] if s):
        raise ValueError(f"einsum: subscripts must be letters, got {equation!r}")
    return inputs, rhs


def _diagonals(t: Tensor, sub: str) -> tuple[Tensor, str]:
    """Take the diagonal over every letter repeated within one operand ('ii->i')."""
    for c in sub:
        while sub.count(c) > 1:
            i = sub.index(c)
            j = sub.index(c, i + 1)
            t = t.diagonal(0, i, j)
            sub = sub[:i] + sub[i + 1:j] + sub[j + 1:] + c
    return t, sub


def _sum_out(t: Tensor, sub: str, keep: str) -> tuple[Tensor, str]:
    gone = tuple(i for i, c in enumerate(sub) if c not in keep)
    if not gone:
        return t, sub
    return t.sum(axis=gone), "".join(c for c in sub if c in keep)


def _pair(a: Tensor, sa: str, b: Tensor, sb: str, keep: str) -> tuple[Tensor, str]:
    """Contract two operands to the letters in keep: (B, M, K) @ (B, K, N)."""
    a, sa = _sum_out(a, sa, keep + sb)
    b, sb = _sum_out(b, sb, keep + sa)
    size = {c: n for s, t in ((sa, a), (sb, b)) for c, n in zip(s, t.shape)}
    for c in set(sa) & set(sb):
        if a.shape[sa.index(c)] != b.shape[sb.index(c)]:
            raise ValueError(f"einsum: letter {c!r} has size {a.shape[sa.index(c)]} in "
                             f"a{a.shape} but {b.shape[sb.index(c)]} in b{b.shape}")
    batch = [c for c in sa if c in sb and c in keep]
    inner = [c for c in sa if c in sb and c not in keep]
    rows = [c for c in sa if c not in sb]
    cols = [c for c in sb if c not in sa]
    n = lambda cs: int(np.prod([size[c] for c in cs]))  # noqa: E731
    a = a.permute(*[sa.index(c) for c in batch + rows + inner])
    b = b.permute(*[sb.index(c) for c in batch + inner + cols])
    lead = (n(batch),) if batch else ()
    y = a.reshape(*lead, n(rows), n(inner)) @ b.reshape(*lead, n(inner), n(cols))
    return y.reshape(*[size[c] for c in batch + rows + cols]), "".join(batch + rows + cols)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation as torch.einsum, e.g. "bij,bjk->bik", "ij->ji", "ii->",
    "i,j->ij"; any number of operands, contracted left to right in pairs (each pair a
    matmul). Raises ValueError for an ellipsis, a count mismatch or unequal sizes."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subs, rhs = _parse(equation, len(operands))
    ts = _tensors(operands)
    for t, s in zip(ts, subs):
        if t.ndim != len(s):
            raise ValueError(f"einsum: subscripts {s!r} need {len(s)} dims, got {t.shape}")
    pairs = [_diagonals(t, s) for t, s in zip(ts, subs)]
    acc, sub = pairs[0]
    for k, (t, s) in enumerate(pairs[1:], start=1):
        later = rhs + "".join(s2 for _, s2 in pairs[k + 1:])
        acc, sub = _pair(acc, sub, t, s, later)
    acc, sub = _sum_out(acc, sub, rhs)
    if set(rhs) - set(sub):
        raise ValueError(f"einsum: output letters {rhs!r} not all in the inputs")
    return acc.permute(*[sub.index(c) for c in rhs]) if rhs else acc.reshape(())
