"""Approach 2 — tensors: build every Jacobian, then contract.

Layout: numerator layout. The Jacobian of an output a in R^p with respect to an
input b in R^q has shape (p, q) with entry [k, l] = da_k/db_l; so dE/ds is a
row (1, m). For a matrix input the Jacobian keeps one axis per index:
dv/dW has shape (m, m, n) with entry [k, i, j] = dv_k/dw_ij = delta_ki x_j.

    dE/dW[i, j] = sum_k sum_l  dE/ds[0, l] * ds/dv[l, k] * dv/dW[k, i, j]
"""
from __future__ import annotations

import numpy as np

from .seed import forward, _shape_like_W

__all__ = ["dE_ds", "ds_dv", "dv_dW", "dv_dvecW", "vec", "grad_W", "grad_W_vec"]


def dE_ds(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row (1, m): dE/ds = (s - y)^T for E = 1/2 ||s - y||^2; s, y columns (m, 1)."""
    return (s - y).T


def ds_dv(s: np.ndarray) -> np.ndarray:
    """(m, m) Jacobian of s = sigma(v): Diag(s - s*s), diagonal because s_k depends on v_k only."""
    return np.diag((s - s * s)[:, 0])


def dv_dW(x: np.ndarray, m: int) -> np.ndarray:
    """The 3-D Jacobian of v = W x: shape (m, m, n), entry [k, i, j] = delta_ki x_j; x column (n, 1)."""
    n = x.shape[0]
    T = np.zeros((m, m, n))
    for k in range(m):
        T[k, k, :] = x[:, 0]          # only the slice i = k is non-zero
    return T


def vec(A: np.ndarray) -> np.ndarray:
    """Stack the columns of A (column-major), giving a column (m*n, 1)."""
    return A.reshape(-1, 1, order="F")


def dv_dvecW(x: np.ndarray, m: int) -> np.ndarray:
    """(m, m*n) Jacobian of v with respect to vec(W): x^T kron I_m (since vec(W x) = (x^T kron I) vec(W))."""
    return np.kron(x.T, np.eye(m))


def grad_W(W, x, y) -> np.ndarray:
    """G = dE/dW (m, n): the row dE/ds @ ds/dv, contracted with the 3-D dv/dW over k."""
    f = forward(W, x, y)
    m = f.s.shape[0]
    dE_dv = dE_ds(f.s, f.y) @ ds_dv(f.s)                   # (1, m)
    G = np.tensordot(dE_dv[0], dv_dW(f.x, m), axes=(0, 0))  # sum over k -> (m, n)
    return _shape_like_W(G, W)


def grad_W_vec(W, x, y) -> np.ndarray:
    """The same G through vec(W): (dE/ds ds/dv)(x^T kron I) is a (1, m*n) row = vec(G)^T; reshape back."""
    f = forward(W, x, y)
    m, n = f.s.shape[0], f.x.shape[0]
    row = dE_ds(f.s, f.y) @ ds_dv(f.s) @ dv_dvecW(f.x, m)  # (1, m*n)
    return _shape_like_W(row.reshape(m, n, order="F"), W)
