"""Approach 3 — differentials: no 3-D object at all.

    dv = dW x,   ds = (S - S^2) dv with S = Diag(s),   dE = (s - y) : ds
    dE = (s - y) : (S - S^2) dW x = (S - S^2)(s - y) x^T : dW

so G = dE/dW = (S - S^2)(s - y) x^T, where A : B = tr(A^T B) is the Frobenius product.
"""
from __future__ import annotations

import numpy as np

from .seed import forward, _shape_like_W

__all__ = ["frobenius", "dE", "grad_W", "grad_W_hadamard"]


def frobenius(A: np.ndarray, B: np.ndarray) -> float:
    """A : B = tr(A^T B) = sum_ij A_ij B_ij (A and B of the same shape)."""
    A, B = np.asarray(A), np.asarray(B)
    if A.shape != B.shape:
        raise ValueError(f"A : B needs equal shapes, got {A.shape} and {B.shape}")
    return float(np.sum(A * B))


def dE(W, x, y, dW) -> float:
    """The first-order change dE = G : dW for a small change dW of W (dW has W's shape)."""
    G = grad_W(W, x, y)
    return frobenius(G, np.asarray(dW))


def grad_W(W, x, y) -> np.ndarray:
    """G = (S - S^2)(s - y) x^T with S = Diag(s); shape (m, n) like W."""
    f = forward(W, x, y)
    S = np.diag(f.s[:, 0])
    G = (S - S @ S) @ (f.s - f.y) @ f.x.T
    return _shape_like_W(G, W)


def grad_W_hadamard(W, x, y) -> np.ndarray:
    """The same G without forming S: ((s - s*s) * (s - y)) x^T, O(mn) work."""
    f = forward(W, x, y)
    G = ((f.s - f.s * f.s) * (f.s - f.y)) @ f.x.T
    return _shape_like_W(G, W)
