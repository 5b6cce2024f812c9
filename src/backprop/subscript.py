"""Approach 1 — subscripts: one weight at a time.

With v_k = sum_j w_kj x_j, s_k = sigma(v_k) and E = 1/2 sum_k (s_k - y_k)^2,
the chain rule over the intermediate variables v_1..v_m gives

    dE/dw_ij = sum_k  dE/ds_k * ds_k/dv_k * dv_k/dw_ij
             = sum_k (s_k - y_k) sigma'(v_k) delta_ki x_j
             = (s_i - y_i) sigma'(v_i) x_j,

since dv_k/dw_ij = delta_ki x_j (only v_i contains w_ij).

As in all three approach modules: inputs are checked where they enter (:func:`backprop.seed.forward`
and ``backprop._checks``), sigma'(v) is written s - s**2 as in the derivation (it cancels for large
v; :func:`backprop.activations.sigmoid_prime` is the stable form), and every G is returned by
:func:`backprop.seed.shape_like_W`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_entry, as_index
from .seed import Forward, forward, shape_like_W

__all__ = ["dv_dw", "dE_dw", "chain_terms", "grad_W", "grad_W_einsum"]


def dv_dw(f: Forward, k: int, i: int, j: int) -> float:
    """dv_k/dw_ij = delta_ki * x_j (Kronecker delta); k, i < m and j < n are integers."""
    if type(f) is not Forward:
        raise TypeError(f"f must be the Forward of seed.forward(W, x, y), got {type(f).__name__}")
    m, n = f.s.shape[0], f.x.shape[0]
    if not (
        type(k) is int and type(i) is int and type(j) is int and 0 <= k < m and 0 <= i < m and 0 <= j < n
    ):  # the loops' case is kept cheap
        k, i, j = as_index(k, "k", m), as_index(i, "i", m), as_index(j, "j", n)
    return float(f.x[j, 0]) if k == i else 0.0


def _dE_dw(f: Forward, i: int, j: int) -> float:
    total = 0.0
    for k in range(f.s.shape[0]):
        dE_ds_k = f.s[k, 0] - f.y[k, 0]
        ds_dv_k = f.s[k, 0] - f.s[k, 0] ** 2  # sigma'(v_k) = s_k - s_k^2
        total += dE_ds_k * ds_dv_k * dv_dw(f, k, i, j)
    return float(total)


def grad_W(W, x, y) -> np.ndarray:
    """G = dE/dW, shape (m, n) like W, filled entry by entry with loops."""
    f = forward(W, x, y)
    m, n = np.shape(W)
    G = np.empty((m, n))
    for i in range(m):
        for j in range(n):
            G[i, j] = _dE_dw(f, i, j)
    return shape_like_W(G, W)


def grad_W_einsum(W, x, y) -> np.ndarray:
    """The same sum over k with np.einsum:
    G_ij = sum_k (s_k - y_k) sigma'(v_k) delta_ki x_j."""
    f = forward(W, x, y)
    m = f.s.shape[0]
    r, sp, xv = (f.s - f.y)[:, 0], (f.s - f.s**2)[:, 0], f.x[:, 0]
    G = np.einsum("k,k,ki,j->ij", r, sp, np.eye(m), xv)
    return shape_like_W(G, W)


def dE_dw(W, x, y, i: int, j: int) -> float:
    """One entry dE/dw_ij, summing the chain rule over every v_k (the delta removes all k != i)."""
    f = forward(W, x, y)
    return _dE_dw(f, *as_entry(i, j, np.shape(W)))


def chain_terms(W, x, y, i: int, j: int) -> np.ndarray:
    """The m terms of the chain-rule sum for dE/dw_ij, shape (m,).

    Term k is dE/ds_k * ds_k/dv_k * dv_k/dw_ij = (s_k - y_k) sigma'(v_k) delta_ki x_j, so every
    term but k = i is zero; the terms add up to :func:`dE_dw`.
    """
    f = forward(W, x, y)
    i, j = as_entry(i, j, np.shape(W))
    s, r = f.s[:, 0], (f.s - f.y)[:, 0]
    return np.array([r[k] * (s[k] - s[k] ** 2) * dv_dw(f, k, i, j) for k in range(f.s.shape[0])])
