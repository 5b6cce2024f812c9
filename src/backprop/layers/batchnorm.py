"""Batch normalisation (training mode): each row of X normalised over the batch.

X has shape (n, B), columns are examples. For every feature (row) i,

    mu_i = mean_b X_ib,   var_i = mean_b (X_ib - mu_i)^2   (biased: divided by B),
    Xhat = (X - mu) / sqrt(var + eps),   out = gamma * Xhat + beta,

with gamma, beta of shape (n, 1) broadcast along the row, as
``torch.nn.functional.batch_norm(X.T, None, None, gamma, beta, training=True)``.
Backward (derived with differentials in the book), with dXhat = gamma * dout and
r = 1 / sqrt(var + eps), means taken along each row:

    dX = r * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat)),
    dgamma = sum_b dout * Xhat,   dbeta = sum_b dout.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ._validate import as_array, check_cache, check_dout, positive_float

__all__ = ["forward", "backward", "NormCache", "normalise", "normalise_backward"]


class NormCache(NamedTuple):
    """What backward needs: Xhat (n, B), r = 1/sqrt(var + eps), gamma (n, 1), the axis."""

    Xhat: np.ndarray
    r: np.ndarray
    gamma: np.ndarray
    axis: int
    shapes: tuple  # shapes of gamma and beta as given (returned gradients match)


def normalise(X: np.ndarray, axis: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(Xhat, r): X centred and scaled along ``axis`` (biased variance), r = 1/sqrt(var + eps)."""
    centred = X - X.mean(axis=axis, keepdims=True)
    var = np.mean(centred * centred, axis=axis, keepdims=True)
    r = 1.0 / np.sqrt(var + eps)
    return centred * r, r


def normalise_backward(dXhat: np.ndarray, Xhat: np.ndarray, r: np.ndarray, axis: int) -> np.ndarray:
    """dX from dXhat: r * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat)) along ``axis``."""
    return r * (
        dXhat - dXhat.mean(axis=axis, keepdims=True) - Xhat * np.mean(dXhat * Xhat, axis=axis, keepdims=True)
    )


def check_inputs(X, gamma, beta, eps) -> tuple:
    """Validated (X, gamma (n, 1), beta (n, 1), eps, the shapes given) for both normalisations."""
    X = as_array(X, "X", 2, "(n, B): n features, columns are examples")
    n = X.shape[0]
    params = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        p = as_float_array(p, name, ndim=(1, 2))
        if p.shape not in ((n, 1), (n,)):
            raise ValueError(
                f"{name} has shape {p.shape} but X of shape {X.shape} has {n} "
                f"features (rows): {name} must have shape ({n}, 1)"
            )
        params.append(p)
    gamma, beta = params
    eps = positive_float(eps, "eps")
    return X, gamma.reshape(n, 1), beta.reshape(n, 1), eps, (gamma.shape, beta.shape)


def forward(X, gamma, beta, eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    """out = gamma * Xhat + beta, Xhat = X normalised along each row (over the batch).

    X (n, B) with B >= 2, gamma and beta (n, 1); returns out (n, B) and the cache.
    """
    X, gamma, beta, eps, shapes = check_inputs(X, gamma, beta, eps)
    if X.shape[1] < 2:
        raise ValueError(
            f"batchnorm needs at least 2 examples (columns) to normalise over, "
            f"got X of shape {X.shape}: with B = 1 each feature's mean is its one "
            "value and its variance 0, so every normalised value is 0 (out = beta "
            "whatever X) and the gradient dX is 0"
        )
    Xhat, r = normalise(X, 1, eps)
    return gamma * Xhat + beta, NormCache(Xhat, r, gamma, 1, shapes)


def backward(dout, cache: NormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dX (n, B), dgamma, dbeta) from dout = dE/d(out) (n, B); dgamma, dbeta in gamma's shape."""
    check_cache(cache, NormCache, "batchnorm")
    if cache.axis != 1:
        raise TypeError("cache comes from layernorm.forward; pass it to layernorm.backward")
    return backward_along(dout, cache)


def backward_along(dout, cache: NormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward of batchnorm (cache.axis 1) and layernorm (cache.axis 0)."""
    dout = check_dout(dout, cache.Xhat.shape)
    dX = normalise_backward(cache.gamma * dout, cache.Xhat, cache.r, cache.axis)
    dgamma = np.sum(dout * cache.Xhat, axis=1, keepdims=True)
    dbeta = np.sum(dout, axis=1, keepdims=True)
    return dX, dgamma.reshape(cache.shapes[0]), dbeta.reshape(cache.shapes[1])
