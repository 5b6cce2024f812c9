"""The position-wise feed-forward layer of a transformer: two dense layers with a ReLU between.

Batch-first, every row of X (the last axis) on its own: X (..., d), W1 (h, d), c1 (h,),
W2 (d_out, h), c2 (d_out,), applied as ``torch.nn.Linear`` does (X W^T + c),

    U = X W1^T + c1   (..., h),   R = relu(U),   out = R W2^T + c2   (..., d_out).

In a transformer block h = 4d and d_out = d. Backward, with G = dout = dE/d(out) and every
sum taken over all rows (all leading axes):

    dR = G W2,   dW2 = sum_rows G^T R,   dc2 = sum_rows G,
    dU = dR * relu'(U)   (relu'(0) taken as 0, as PyTorch and JAX do),
    dX = dU W1,  dW1 = sum_rows dU^T X,  dc1 = sum_rows dU.

(With the rows flattened into a matrix, X of shape (N, d): dW1 = dU^T X is chapter 12's
batch-first dense-layer gradient.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ..activations import relu_prime
from ._validate import check_cache, check_dout

__all__ = ["forward", "backward", "FeedForwardCache"]


class FeedForwardCache(NamedTuple):
    """What backward needs: X (..., d), U (..., h), R = relu(U), W1 (h, d), W2 (d_out, h)."""

    X: np.ndarray
    U: np.ndarray
    R: np.ndarray
    W1: np.ndarray
    W2: np.ndarray


def _matrix(W, name: str, rows: str, columns: int, why: str) -> np.ndarray:
    """W as a 2-D float array with ``columns`` columns (any number of ``rows``), or raise."""
    W = as_float_array(W, name, ndim=2)
    if W.shape[1] != columns:
        raise ValueError(f"{name} has shape {W.shape} but {why}: {name} must have shape ({rows}, {columns})")
    return W


def _vector(c, name: str, n: int, W_name: str) -> np.ndarray:
    c = as_float_array(c, name)
    if c.shape != (n,):
        raise ValueError(
            f"{name} has shape {c.shape} but {W_name} has {n} rows: {name} must have shape ({n},)"
        )
    return c


def forward(X, W1, c1, W2, c2) -> tuple[np.ndarray, FeedForwardCache]:
    """out = relu(X W1^T + c1) W2^T + c2, (..., d_out), of X (..., d); shapes as above."""
    X = as_float_array(X, "X")
    if X.ndim < 1:
        raise ValueError(f"X must have at least 1 axis (..., d), got shape {X.shape}")
    d = X.shape[-1]
    W1 = _matrix(W1, "W1", "h", d, f"X of shape {X.shape} has d = {d} features (last axis)")
    c1 = _vector(c1, "c1", W1.shape[0], "W1")
    W2 = _matrix(W2, "W2", "d_out", W1.shape[0], f"W1 has shape {W1.shape}, so h = {W1.shape[0]}")
    c2 = _vector(c2, "c2", W2.shape[0], "W2")
    U = X @ W1.T + c1
    R = np.maximum(U, 0)
    return R @ W2.T + c2, FeedForwardCache(X, U, R, W1, W2)


def backward(dout, cache: FeedForwardCache) -> tuple[np.ndarray, ...]:
    """(dX, dW1, dc1, dW2, dc2), each of its input's shape, from dout (..., d_out)."""
    check_cache(cache, FeedForwardCache, "feedforward")
    X, U, R, W1, W2 = cache
    G = check_dout(dout, U.shape[:-1] + (W2.shape[0],))
    rows = tuple(range(G.ndim - 1))  # every axis but the features
    dR = G @ W2
    dU = dR * relu_prime(U)
    dW2 = np.tensordot(G, R, axes=(rows, rows))  # sum over the rows of G^T R
    dW1 = np.tensordot(dU, X, axes=(rows, rows))
    return dU @ W1, dW1, dU.sum(axis=rows), dW2, G.sum(axis=rows)
