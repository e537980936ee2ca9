"""Attention with PyTorch's semantics, composed of matmul, softmax and masking:
F.scaled_dot_product_attention and nn.MultiheadAttention (batch_first or not)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..random import get_rng
from ..tensor import Tensor, as_tensor
from .functional import dropout, linear, softmax
from .layers import Linear
from .module import Module, Parameter


def _additive(mask: Any, dtype: Any) -> Tensor:
    """A mask as a float to add to the scores: bool True = attend (0), False = -inf;
    a float mask is added as it is."""
    m = mask if isinstance(mask, Tensor) else Tensor._wrap(np.asarray(mask))
    if m.dtype == np.bool_:
        return Tensor._wrap(np.where(m.data, 0.0, -np.inf).astype(dtype))
    return m if m.dtype == dtype else m.astype(dtype)


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, training: bool = True
                                 ) -> Tensor:
    """softmax(q @ k^T * scale + mask) @ v, as torch's.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading
    axes broadcast. attn_mask: bool (True takes part) or float (added), broadcastable
    to (..., L, S); is_causal masks j > i; scale defaults to 1 / sqrt(E). Dropout
    with dropout_p applies to the attention weights when training."""
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: needs q (..., L, E), k (..., S, "
                         f"E), v (..., S, Ev), got q{q.shape}, k{k.shape}, v{v.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, "
                         "not both")
    scores = (q @ k.swapaxes(-1, -2)) * (scale if scale is not None
                                         else 1.0 / math.sqrt(q.shape[-1]))
    if is_causal:
        attn_mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
    if attn_mask is not None:
        scores = scores + _additive(attn_mask, scores.dtype)
    weights = softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=training)
    return weights @ v


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017) with PyTorch's parameters and
    state-dict names: in_proj_weight (3E, E), in_proj_bias (3E,), out_proj (Linear).

    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) -> (output, weights).
    Inputs (L, N, E), or (N, L, E) with batch_first, or unbatched (L, E). Masks follow
    PyTorch's MultiheadAttention: a bool True marks a position NOT attended to;
    key_padding_mask (N, S), attn_mask (L, S) or (N * heads, L, S); float masks add.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, batch_first: bool = False, dtype: Any = np.float32):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must divide by "
                             f"num_heads {num_heads}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))  # xavier_uniform, as torch
        self.in_proj_weight = Parameter(get_rng().uniform(-bound, bound,
                                                          (3 * embed_dim, embed_dim)),
                                        dtype=dtype)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim), dtype=dtype) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias.data[...] = 0

    def _heads(self, x: Tensor, part: int) -> Tensor:
        """Project with rows [part * E, (part + 1) * E) and split heads: (N, H, L, D)."""
        e = self.embed_dim
        w = self.in_proj_weight[part * e:(part + 1) * e]
        b = None if self.in_proj_bias is None else self.in_proj_bias[part * e:(part + 1) * e]
        n, length = x.shape[:2]
        return linear(x, w, b).reshape(n, length, self.num_heads, -1).permute(0, 2, 1, 3)

    def _mask(self, n: int, lq: int, ls: int, key_padding_mask: Any, attn_mask: Any,
              is_causal: bool, dtype: Any) -> np.ndarray | None:
        """One additive (N, H, L, S) mask: -inf where not attended to."""
        total = np.zeros((n, self.num_heads, lq, ls), dtype=dtype)
        for m, shape in ((attn_mask, None), (key_padding_mask, (n, 1, 1, ls))):
            if m is None:
                continue
            m = np.asarray(getattr(m, "data", m))
            if shape is None:
                shape = (n, self.num_heads, lq, ls) if m.ndim == 3 else (lq, ls)
            m = m.reshape(shape)
            total = total + (np.where(m, -np.inf, 0.0) if m.dtype == np.bool_ else m)
        if is_causal:
            total = total + np.triu(np.full((lq, ls), -np.inf, dtype=dtype), 1)
        if attn_mask is None and key_padding_mask is None and not is_causal:
            return None
        return total.astype(dtype)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False):
        q, k, v = (as_tensor(t) for t in (query, key, value))
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = (t.unsqueeze(1 if not self.batch_first else 0) for t in (q, k, v))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "data",
                                                      key_padding_mask))[None]
        if q.ndim != 3 or q.shape[-1] != self.embed_dim:
            raise ShapeError(f"MultiheadAttention: expects query (L, N, {self.embed_dim}) "
                             f"(or (N, L, E) with batch_first), got {q.shape}")
        if not self.batch_first:
            q, k, v = (t.swapaxes(0, 1) for t in (q, k, v))
        n, lq, ls = q.shape[0], q.shape[1], k.shape[1]
        qh, kh, vh = self._heads(q, 0), self._heads(k, 1), self._heads(v, 2)
        scores = (qh @ kh.swapaxes(-1, -2)) * (1.0 / math.sqrt(qh.shape[-1]))
        mask = self._mask(n, lq, ls, key_padding_mask, attn_mask, is_causal, scores.dtype)
        if mask is not None:
            scores = scores + Tensor._wrap(mask)
        weights = softmax(scores, axis=-1)
        attended = dropout(weights, self.dropout, training=self.training) \
            if self.dropout > 0 else weights
        out = (attended @ vh).permute(0, 2, 1, 3).reshape(n, lq, self.embed_dim)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.swapaxes(0, 1)
        if unbatched:
            out = out.squeeze(1 if not self.batch_first else 0)
        if not need_weights:
            return out, None
        w = weights.mean(axis=1) if average_attn_weights else weights
        return out, (w.squeeze(0) if unbatched else w)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"batch_first={self.batch_first}")
