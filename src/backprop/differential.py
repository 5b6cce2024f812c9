"""Approach 3 — differentials: no 3-D object at all.

    dv = dW x,   ds = (S - S^2) dv with S = Diag(s),   dE = (s - y) : ds
    dE = (s - y) : (S - S^2) dW x = (S - S^2)(s - y) x^T : dW

so G = dE/dW = (S - S^2)(s - y) x^T, where A : B = tr(A^T B) is the Frobenius product.

The building blocks :func:`dv`, :func:`ds` and :func:`dE_from_ds` are the three rules above,
one per line of the derivation; :func:`remainder` is E(W + dW) - E(W) - G : dW, which is
O(||dW||^2) exactly when G is the gradient.

As in all three approach modules: inputs are checked where they enter (:func:`backprop.seed.forward`
and ``backprop._checks``), sigma'(v) is written s - s**2 as in the derivation (it cancels for large
v; :func:`backprop.activations.sigmoid_prime` is the stable form), and every G is returned by
:func:`backprop.seed.shape_like_W`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_column, as_float_array, check_same_shape, refuse_masked
from .seed import forward, shape_like_W

__all__ = ["frobenius", "dv", "ds", "dE_from_ds", "dE", "remainder", "grad_W", "grad_W_hadamard"]


def frobenius(A: np.ndarray, B: np.ndarray) -> float:
    """A : B = tr(A^T B) = sum_ij A_ij B_ij (A and B of the same shape)."""
    refuse_masked(A, "A")
    refuse_masked(B, "B")
    A, B = np.asarray(A), np.asarray(B)
    if A.dtype.kind not in "biuf" or B.dtype.kind not in "biuf":
        raise TypeError(f"A : B needs real arrays, got dtypes {A.dtype} and {B.dtype}")
    check_same_shape(A, B, "A", "B")
    return float(np.sum(A * B))


def dv(x: np.ndarray, dW: np.ndarray) -> np.ndarray:
    """dv = dW x for v = W x: dW (m, n), x column (n, 1); returns a column (m, 1). Exact, since v is linear in W."""
    dW = as_float_array(dW, "dW", ndim=2)
    x = as_column(x, "x", length=dW.shape[1])
    return dW @ x


def ds(s: np.ndarray, dv: np.ndarray) -> np.ndarray:
    """ds = (S - S^2) dv = (s - s**2) * dv for s = sigma(v): s and dv columns (m, 1); returns (m, 1)."""
    s, dv = as_float_array(s, "s", ndim=2), as_float_array(dv, "dv", ndim=2)
    check_same_shape(s, dv, "s", "dv")
    return (s - s**2) * dv


def dE_from_ds(s: np.ndarray, y: np.ndarray, ds: np.ndarray) -> float:
    """dE = (s - y) : ds for E = 1/2 ||s - y||^2: s, y, ds columns (m, 1) of one shape."""
    s, y, ds = (as_float_array(a, name, ndim=2) for a, name in ((s, "s"), (y, "y"), (ds, "ds")))
    check_same_shape(s, y, "s", "y")
    check_same_shape(s, ds, "s", "ds")
    return frobenius(s - y, ds)


def dE(W, x, y, dW) -> float:
    """The first-order change dE = G : dW for a small change dW of W (dW has W's shape)."""
    G = grad_W(W, x, y)
    dW = as_float_array(dW, "dW", ndim=2)
    check_same_shape(np.asarray(W), dW, "W", "dW")
    return frobenius(G, dW)


def remainder(W, x, y, dW) -> float:
    """E(W + dW) - E(W) - G : dW: what the first-order prediction misses; O(||dW||^2). dW has W's shape."""
    f = forward(W, x, y)
    dW = as_float_array(dW, "dW", ndim=2)
    check_same_shape(np.asarray(W), dW, "W", "dW")
    return forward(np.asarray(W) + dW, x, y).E - f.E - frobenius(grad_W_hadamard(W, x, y), dW)


def grad_W(W, x, y) -> np.ndarray:
    """G = (S - S^2)(s - y) x^T with S = Diag(s); shape (m, n) like W."""
    f = forward(W, x, y)
    S = np.diag(f.s[:, 0])
    G = (S - S @ S) @ (f.s - f.y) @ f.x.T  # S - S^2 = Diag(s - s**2): the m x m form of sigma'(v)
    return shape_like_W(G, W)


def grad_W_hadamard(W, x, y) -> np.ndarray:
    """The same G without forming S: ((s - s**2) * (s - y)) x^T, O(mn) work."""
    f = forward(W, x, y)
    G = ((f.s - f.s**2) * (f.s - f.y)) @ f.x.T
    return shape_like_W(G, W)
