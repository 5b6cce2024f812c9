"""Approach 2 — tensors: build every Jacobian, then contract.

Layout: numerator layout. The Jacobian of an output a in R^p with respect to an
input b in R^q has shape (p, q) with entry [k, l] = da_k/db_l; so dE/ds is a
row (1, m). For a matrix input the Jacobian keeps one axis per index:
dv/dW has shape (m, m, n) with entry [k, i, j] = dv_k/dw_ij = delta_ki x_j.

    dE/dW[i, j] = sum_k sum_l  dE/ds[0, l] * ds/dv[l, k] * dv/dW[k, i, j]

As in all three approach modules: inputs are checked where they enter (:func:`backprop.seed.forward`
and ``backprop._checks``), sigma'(v) is written s - s**2 as in the derivation (it cancels for large
v; :func:`backprop.activations.sigmoid_prime` is the stable form), and every G is returned by
:func:`backprop.seed.shape_like_W`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, as_positive_int, as_strict_column, check_same_shape
from .seed import forward, shape_like_W

__all__ = [
    "dE_ds",
    "ds_dv",
    "dv_dW",
    "unfold",
    "dv_dvecW",
    "vec",
    "grad_W",
    "grad_W_vec",
    "grad_W_denominator",
]


def dE_ds(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row (1, m): dE/ds = (s - y)^T for E = 1/2 ||s - y||^2; s, y columns (m, 1) of one shape."""
    s, y = as_strict_column(s, "s"), as_strict_column(y, "y")
    check_same_shape(s, y, "s", "y")
    return (s - y).T


def ds_dv(s: np.ndarray) -> np.ndarray:
    """(m, m) Jacobian of s = sigma(v): Diag(s - s**2), diagonal because s_k depends on v_k only.

    s: column (m, 1) (rows and 1-D vectors are refused)."""
    s = as_strict_column(s, "s")
    return np.diag((s - s**2)[:, 0])


def dv_dW(x: np.ndarray, m: int) -> np.ndarray:
    """The 3-D Jacobian of v = W x: shape (m, m, n), entry [k, i, j] = delta_ki x_j; x column (n, 1)."""
    x, m = as_strict_column(x, "x"), as_positive_int(m, "m")
    n = x.shape[0]
    T = np.zeros((m, m, n), dtype=x.dtype)
    for k in range(m):
        T[k, k, :] = x[:, 0]  # only the slice i = k is non-zero
    return T


def unfold(T: np.ndarray, order: str = "C") -> np.ndarray:
    """Flatten the weight axes of a 3-D Jacobian T (p, m, n) into a matrix (p, m*n).

    Row k of the result lists dv_k/dw_ij for every weight. ``order="C"`` puts the weights row by
    row of W (column i*n + j, good for pictures); ``order="F"`` puts them in vec(W) order (column
    j*m + i), which turns dv_dW(x, m) into dv_dvecW(x, m).
    """
    T = as_float_array(T, "T", ndim=3)
    if order not in ("C", "F"):
        raise ValueError(f'order must be "C" (rows of W) or "F" (vec(W), columns of W), got {order!r}')
    p, m, n = T.shape
    return T.reshape(p, m * n, order=order) if order == "C" else T.transpose(0, 2, 1).reshape(p, m * n)


def vec(A: np.ndarray) -> np.ndarray:
    """Stack the columns of A (m, n) (column-major), giving a column (m*n, 1)."""
    A = as_float_array(A, "A", ndim=2)
    return A.reshape(-1, 1, order="F")


def dv_dvecW(x: np.ndarray, m: int) -> np.ndarray:
    """(m, m*n) Jacobian of v with respect to vec(W): x^T kron I_m (since vec(W x) = (x^T kron I) vec(W)).

    x: column (n, 1); m: positive int."""
    x, m = as_strict_column(x, "x"), as_positive_int(m, "m")
    return np.kron(x.T, np.eye(m))


def grad_W(W, x, y) -> np.ndarray:
    """G = dE/dW (m, n): the row dE/ds @ ds/dv, contracted with the 3-D dv/dW over k."""
    f = forward(W, x, y)
    m = f.s.shape[0]
    dE_dv = dE_ds(f.s, f.y) @ ds_dv(f.s)  # (1, m)
    G = np.tensordot(dE_dv[0], dv_dW(f.x, m), axes=(0, 0))  # sum over k -> (m, n)
    return shape_like_W(G, W)


def grad_W_vec(W, x, y) -> np.ndarray:
    """The same G through vec(W): (dE/ds ds/dv)(x^T kron I) is a (1, m*n) row = vec(G)^T; reshape back."""
    f = forward(W, x, y)
    m, n = f.s.shape[0], f.x.shape[0]
    row = dE_ds(f.s, f.y) @ ds_dv(f.s) @ dv_dvecW(f.x, m)  # (1, m*n)
    return shape_like_W(row.reshape(m, n, order="F"), W)


def grad_W_denominator(W, x, y) -> np.ndarray:
    """The same G in denominator layout: every Jacobian transposed, the chain read right to left.

    dE/ds is the column (m, 1) = s - y, ds/dv is [l, k] = ds_k/dv_l (the transpose of ds_dv; equal
    here since it is diagonal), dv/dW is [i, j, k] = dv_k/dw_ij, and dE/dv = (ds/dv)(dE/ds) is a column.
    """
    f = forward(W, x, y)
    m = f.s.shape[0]
    dE_ds_col = f.s - f.y  # (m, 1)
    dE_dv_col = ds_dv(f.s).T @ dE_ds_col  # (m, 1): the order is reversed
    T_den = dv_dW(f.x, m).transpose(1, 2, 0)  # (m, n, m): [i, j, k]
    G = np.tensordot(T_den, dE_dv_col[:, 0], axes=(2, 0))  # sum over k -> (m, n)
    return shape_like_W(G, W)
