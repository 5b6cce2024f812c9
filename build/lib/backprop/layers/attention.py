"""Single-head scaled dot-product attention; rows are positions (as in every library).

Q (T, d), K (S, d), V (S, d_v) — usually S = T (self-attention):

    Sc = Q K^T / sqrt(d)   (T, S),   P = softmax of each row of Sc,   out = P V   (T, d_v),

as ``torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=causal)``. With
``causal=True`` position t attends only to positions s <= t (the lower triangle, aligned
at the top left as PyTorch does): Sc[t, s] = -inf for s > t, so P[t, s] = 0 there.

Backward, with dout = dE/d(out) (T, d_v):
    dV = P^T dout,   dP = dout V^T,
    dSc = P * (dP - rowsum(P * dP))   (each row: (Diag(p) - p p^T) dp, never formed),
    dQ = dSc K / sqrt(d),   dK = dSc^T Q / sqrt(d).
Masked entries have P = 0, hence dSc = 0: no gradient flows through them.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validate import as_array, check_cache, check_dout

__all__ = ["forward", "backward", "AttentionCache", "causal_mask", "row_softmax_backward"]


class AttentionCache(NamedTuple):
    """What backward needs: Q, K, V and the attention weights P (T, S)."""

    Q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    P: np.ndarray


def causal_mask(T: int, S: int) -> np.ndarray:
    """Boolean (T, S): True where position t may attend to s, i.e. s <= t."""
    return np.tril(np.ones((T, S), dtype=bool))


def row_softmax_backward(P: np.ndarray, dP: np.ndarray) -> np.ndarray:
    """dSc from dP through P = row-wise softmax(Sc): P * (dP - rowsum(P * dP))."""
    return P * (dP - np.sum(P * dP, axis=1, keepdims=True))


def forward(Q, K, V, causal: bool = False) -> tuple[np.ndarray, AttentionCache]:
    """out = softmax(Q K^T / sqrt(d)) V, (T, d_v); with causal=True, s > t is masked."""
    Q = as_array(Q, "Q", 2, "(T, d): one row per query position")
    K = as_array(K, "K", 2, "(S, d): one row per key position")
    V = as_array(V, "V", 2, "(S, d_v): one row per key position")
    if K.shape[1] != Q.shape[1]:
        raise ValueError(f"K has shape {K.shape} but Q has shape {Q.shape}: queries and keys "
                         f"need the same width d, K must have shape ({K.shape[0]}, {Q.shape[1]})")
    if V.shape[0] != K.shape[0]:
        raise ValueError(f"V has shape {V.shape} but K has shape {K.shape}: one value row per "
                         f"key, V must have shape ({K.shape[0]}, d_v)")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    Sc = (Q @ K.T) / math.sqrt(Q.shape[1])    # a Python float keeps float32 float32
    if causal:
        Sc = np.where(causal_mask(*Sc.shape), Sc, -np.inf)
    E = np.exp(Sc - Sc.max(axis=1, keepdims=True))       # exp(-inf) = 0 on masked entries
    P = E / E.sum(axis=1, keepdims=True)
    return P @ V, AttentionCache(Q, K, V, P)


def backward(dout, cache: AttentionCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ (T, d), dK (S, d), dV (S, d_v)) from dout = dE/d(out) (T, d_v)."""
    check_cache(cache, AttentionCache, "attention")
    Q, K, V, P = cache
    dout = check_dout(dout, (Q.shape[0], V.shape[1]))
    dV = P.T @ dout
    dSc = row_softmax_backward(P, dout @ V.T) / math.sqrt(Q.shape[1])
    return dSc @ K, dSc.T @ Q, dV
