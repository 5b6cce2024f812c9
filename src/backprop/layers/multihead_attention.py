"""Multi-head self-attention, batched and batch-first, with causal and key-padding masks.

X (B, T, d): B sequences of T positions with d features. Wq, Wk, Wv, Wo (d, d) are applied
as ``torch.nn.Linear`` does (X W^T, no bias); ``heads`` = h divides d, d_k = d / h.
The same function as ``torch.nn.MultiheadAttention(d, h, bias=False, batch_first=True)``
with ``in_proj_weight = [Wq; Wk; Wv]`` stacked, ``out_proj.weight = Wo``: head j uses the
features j d_k .. (j + 1) d_k - 1 of the projections (row block j of each W).

Forward, with the shape after every step:

    Q = X Wq^T,  K = X Wk^T,  V = X Wv^T                    (B, T, d)
    Qs = split(Q), Ks = split(K), Vs = split(V)             (B, h, T, d_k)
        split(Y) = Y.reshape(B, T, h, d_k).transpose(0, 2, 1, 3):
        split(Y)[b, j, t, k] = Y[b, t, j d_k + k]
    Sc = Qs Ks^T / sqrt(d_k)                                (B, h, T, T)
    P  = softmax of each row of Sc over the allowed keys    (B, h, T, T)
    Os = P Vs                                               (B, h, T, d_k)
    C  = merge(Os)                                          (B, T, d)
        merge(Z) = Z.transpose(0, 2, 1, 3).reshape(B, T, d):  the heads side by side
    out = C Wo^T                                            (B, T, d)

Key s is allowed for query t unless ``key_padding[b, s]`` is True, and (with ``causal``)
only if s <= t. The heads are independent attentions: P and the products over (T, T) are
those of :mod:`~backprop.layers.attention`, run once for all (b, j) by its
:func:`~backprop.layers.attention.attend`.

**The head bookkeeping, derived.** split and merge only move entries: each is a permutation
of the B T d numbers, and merge is the inverse of split. A permutation pi of entries keeps
the Frobenius product when applied to both sides, pi(A) : pi(B) = A : B, so with
G_C = dE/dC

    dE = G_C : dC = G_C : merge(dOs) = split(G_C) : split(merge(dOs)) = split(G_C) : dOs,

hence dOs = split(G_C): the gradient of a reshape/transpose is the inverse reshape/transpose
of the gradient, and likewise dQ = merge(dQs) for Qs = split(Q).

Backward, with G = dE/d(out) (B, T, d) and sums over all rows (b, t):

    dC = G Wo,              dWo = sum_{b,t} G^T C       (= G_flat^T C_flat, (d, d))
    dOs = split(dC)                                     (B, h, T, d_k)
    dQs, dKs, dVs = attention backward of each head     (B, h, T, d_k)
        (dVs = P^T dOs, dSc = P * (dP - rowsum(P * dP)) with dP = dOs Vs^T,
         dQs = dSc Ks / sqrt(d_k), dKs = dSc^T Qs / sqrt(d_k))
    dQ = merge(dQs), dK = merge(dKs), dV = merge(dVs)   (B, T, d)
    dWq = sum_{b,t} dQ^T X  (and dWk, dWv alike),  dX = dQ Wq + dK Wk + dV Wv.

**A query with no key.** With a key-padding mask (alone, or with ``causal`` and padding
at the start of a sequence) a query t may have no key left to attend to. Its softmax
would be 0/0; here its row of P is 0 instead, so its row of ``out`` is exactly 0 and no
gradient flows through it: that output is the constant 0, whose derivative is 0, and
backward returns exactly that. ``cache.no_key`` (B, T) marks these queries. (PyTorch 2.13's
``scaled_dot_product_attention`` and ``nn.MultiheadAttention(..., need_weights=False)`` give
the same 0, as does ``jax.nn.softmax(Sc, where=allowed)``; ``nn.MultiheadAttention`` with its
default ``need_weights=True`` gives NaN.) The cache stores P: B h T^2 numbers, the T^2-per-head
memory of attention.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_array, check_cache, check_dout
from .attention import attend, attend_backward, causal_mask

__all__ = ["forward", "backward", "MultiheadCache", "split_heads", "merge_heads", "allowed_keys"]


class MultiheadCache(NamedTuple):
    """What backward needs: X (B, T, d), the four W (d, d), the heads Qs, Ks, Vs (B, h, T, d_k),
    P (B, h, T, T), the merged head outputs C (B, T, d); ``no_key`` (B, T) is True for a
    query that had no key to attend to (its output row is 0)."""

    X: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    Wv: np.ndarray
    Wo: np.ndarray
    Qs: np.ndarray
    Ks: np.ndarray
    Vs: np.ndarray
    P: np.ndarray
    C: np.ndarray
    no_key: np.ndarray


def split_heads(Y: np.ndarray, heads: int) -> np.ndarray:
    """(B, T, d) -> (B, h, T, d_k): entry [b, j, t, k] is Y[b, t, j d_k + k]."""
    B, T, d = Y.shape
    return Y.reshape(B, T, heads, d // heads).transpose(0, 2, 1, 3)


def merge_heads(Z: np.ndarray) -> np.ndarray:
    """(B, h, T, d_k) -> (B, T, h d_k), the inverse of :func:`split_heads` (heads side by side)."""
    B, h, T, d_k = Z.shape
    return Z.transpose(0, 2, 1, 3).reshape(B, T, h * d_k)


def allowed_keys(B: int, T: int, causal: bool, key_padding: np.ndarray | None) -> np.ndarray:
    """Boolean (B, 1, T, T), True where query t of sequence b may attend to key s
    (broadcast over the heads): not padded, and s <= t if ``causal``."""
    allowed = np.ones((B, 1, T, T), dtype=bool)
    if causal:
        allowed &= causal_mask(T, T)
    if key_padding is not None:
        allowed &= ~key_padding[:, None, None, :]
    return allowed


def check_inputs(X, Ws, heads, causal, key_padding) -> tuple:
    """Validated X (B, T, d), the four W (d, d), heads, causal, key_padding (B, T) or None."""
    X = as_array(X, "X", 3, "(B, T, d): B sequences of T positions, d features")
    B, T, d = X.shape
    Ws = tuple(as_array(W, name, 2, f"({d}, {d})") for name, W in zip(("Wq", "Wk", "Wv", "Wo"), Ws))
    for name, W in zip(("Wq", "Wk", "Wv", "Wo"), Ws):
        if W.shape != (d, d):
            raise ValueError(
                f"{name} has shape {W.shape} but X of shape {X.shape} has d = {d} "
                f"features: {name} must have shape ({d}, {d})"
            )
    if isinstance(heads, (bool, np.bool_)) or not isinstance(heads, (int, np.integer)):
        raise TypeError(f"heads must be a positive int, got {heads!r}")
    if heads < 1 or d % heads:
        raise ValueError(
            f"heads must be a positive divisor of d = {d} (each head gets d / heads "
            f"features), got heads = {heads}"
        )
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    if key_padding is not None:
        key_padding = np.asarray(key_padding)
        if key_padding.dtype != bool:
            raise TypeError(
                f"key_padding must be a boolean array, True at padded positions, got "
                f"dtype {key_padding.dtype} (additive float masks are not accepted)"
            )
        if key_padding.shape != (B, T):
            raise ValueError(
                f"key_padding has shape {key_padding.shape} but X has shape "
                f"{X.shape}: key_padding must have shape ({B}, {T})"
            )
    return X, Ws, int(heads), bool(causal), key_padding


def forward(
    X, Wq, Wk, Wv, Wo, heads: int = 1, causal: bool = False, key_padding=None
) -> tuple[np.ndarray, MultiheadCache]:
    """out (B, T, d) = merge(attention of each head) Wo^T, X (B, T, d), each W (d, d).

    ``key_padding`` (B, T) boolean, True at padded positions (no query attends to them).
    """
    X, (Wq, Wk, Wv, Wo), h, causal, key_padding = check_inputs(
        X, (Wq, Wk, Wv, Wo), heads, causal, key_padding
    )
    B, T, _ = X.shape
    Qs, Ks, Vs = (split_heads(X @ W.T, h) for W in (Wq, Wk, Wv))  # (B, h, T, d_k)
    allowed = allowed_keys(B, T, causal, key_padding)  # (B, 1, T, T)
    Os, P = attend(Qs, Ks, Vs, allowed)  # (B, h, T, d_k)
    C = merge_heads(Os)  # (B, T, d)
    no_key = ~allowed[:, 0].any(axis=-1)  # (B, T)
    return C @ Wo.T, MultiheadCache(X, Wq, Wk, Wv, Wo, Qs, Ks, Vs, P, C, no_key)


def backward(dout, cache: MultiheadCache) -> tuple[np.ndarray, ...]:
    """(dX (B, T, d), dWq, dWk, dWv, dWo (d, d)) from dout = dE/d(out) (B, T, d)."""
    check_cache(cache, MultiheadCache, "multihead_attention")
    X, Wq, Wk, Wv, Wo, Qs, Ks, Vs, P, C, _ = cache
    G = check_dout(dout, X.shape)
    rows = ((0, 1), (0, 1))  # sum over b and t
    dWo = np.tensordot(G, C, axes=rows)  # (d, d)
    dOs = split_heads(G @ Wo, Qs.shape[1])  # (B, h, T, d_k)
    dQ, dK, dV = (merge_heads(g) for g in attend_backward(dOs, Qs, Ks, Vs, P))  # (B, T, d)
    dX = dQ @ Wq + dK @ Wk + dV @ Wv
    return (
        dX,
        np.tensordot(dQ, X, axes=rows),
        np.tensordot(dK, X, axes=rows),
        np.tensordot(dV, X, axes=rows),
        dWo,
    )
