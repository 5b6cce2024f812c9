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

:func:`attend` and :func:`attend_backward` are the same lines for any number of leading
(batch, head) axes and any boolean mask; :mod:`~backprop.layers.multihead_attention` runs
all its heads through them. A query whose row of the mask allows no key at all gets
P = 0 on that row (see :func:`masked_softmax`): its output row is 0 and no gradient flows
through it, instead of the 0/0 = NaN of a plain softmax over -inf scores.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validate import as_array, check_cache, check_dout

__all__ = [
    "forward",
    "backward",
    "AttentionCache",
    "causal_mask",
    "row_softmax_backward",
    "masked_softmax",
    "attend",
    "attend_backward",
]


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
    """dSc from dP through P = row-wise softmax(Sc): P * (dP - rowsum(P * dP)).

    Rows lie along the last axis; any leading axes are batch axes. A row of P that is 0
    (a query with no key, see :func:`masked_softmax`) gives a row of dSc that is 0."""
    return P * (dP - np.sum(P * dP, axis=-1, keepdims=True))


def masked_softmax(Sc: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """P = softmax of each row of Sc (last axis) over the entries where ``allowed`` is True.

    Sc (..., T, S); ``allowed`` boolean, broadcastable to Sc, or None (every entry allowed).
    Disallowed entries get P = 0. A row with no allowed entry has no softmax (0/0); its P is
    defined as 0, as ``jax.nn.softmax(Sc, where=allowed)`` does, never NaN.
    """
    if allowed is not None:
        Sc = np.where(allowed, Sc, -np.inf)
    m = Sc.max(axis=-1, keepdims=True)
    if allowed is not None:
        m = np.where(m == -np.inf, 0.0, m)  # a row with no key: exp(-inf - 0) = 0, no NaN
    E = np.exp(Sc - m)  # exp(-inf) = 0 on masked entries
    Z = E.sum(axis=-1, keepdims=True)
    return E / (Z if allowed is None else np.where(Z > 0, Z, 1.0))


def attend(
    Q: np.ndarray, K: np.ndarray, V: np.ndarray, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(out, P) with P = masked_softmax(Q K^T / sqrt(d), allowed) and out = P V.

    Q (..., T, d), K (..., S, d), V (..., S, d_v) with the same leading axes; returns
    out (..., T, d_v) and P (..., T, S). No checks: callers validate their inputs.
    """
    Sc = (Q @ np.swapaxes(K, -1, -2)) / math.sqrt(Q.shape[-1])  # a Python float keeps float32
    P = masked_softmax(Sc, allowed)
    return P @ V, P


def attend_backward(
    dout: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray, P: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ, dK, dV) of :func:`attend` from dout (..., T, d_v): the module docstring's lines."""
    dV = np.swapaxes(P, -1, -2) @ dout
    dSc = row_softmax_backward(P, dout @ np.swapaxes(V, -1, -2)) / math.sqrt(Q.shape[-1])
    return dSc @ K, np.swapaxes(dSc, -1, -2) @ Q, dV


def forward(Q, K, V, causal: bool = False) -> tuple[np.ndarray, AttentionCache]:
    """out = softmax(Q K^T / sqrt(d)) V, (T, d_v); with causal=True, s > t is masked."""
    Q = as_array(Q, "Q", 2, "(T, d): one row per query position")
    K = as_array(K, "K", 2, "(S, d): one row per key position")
    V = as_array(V, "V", 2, "(S, d_v): one row per key position")
    if K.shape[1] != Q.shape[1]:
        raise ValueError(
            f"K has shape {K.shape} but Q has shape {Q.shape}: queries and keys "
            f"need the same width d, K must have shape ({K.shape[0]}, {Q.shape[1]})"
        )
    if V.shape[0] != K.shape[0]:
        raise ValueError(
            f"V has shape {V.shape} but K has shape {K.shape}: one value row per "
            f"key, V must have shape ({K.shape[0]}, d_v)"
        )
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    # causal: every row keeps key 0, so masked_softmax never meets a row with no key here
    out, P = attend(Q, K, V, causal_mask(Q.shape[0], K.shape[0]) if causal else None)
    return out, AttentionCache(Q, K, V, P)


def backward(dout, cache: AttentionCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dQ (T, d), dK (S, d), dV (S, d_v)) from dout = dE/d(out) (T, d_v)."""
    check_cache(cache, AttentionCache, "attention")
    Q, K, V, P = cache
    dout = check_dout(dout, (Q.shape[0], V.shape[1]))
    return attend_backward(dout, Q, K, V, P)
