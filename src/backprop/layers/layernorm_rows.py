"""Layer normalisation, batch-first: each row (the last axis) normalised over its d features.

X (..., d): (B, T, d) for a batch of sequences, (B, d) for a batch of vectors; gamma and
beta (d,). For every row x of X (one position of one example), mean and (biased) variance
are taken over its d entries,

    Xhat = (X - mu) / sqrt(var + eps),   out = gamma * Xhat + beta   (gamma, beta broadcast),

exactly ``torch.nn.functional.layer_norm(X, (d,), gamma, beta, eps)`` and the transformer's
``LN(X; g, b)``. It is :mod:`~backprop.layers.layernorm` with the examples as rows instead of
columns (batch-first, as in chapter 12), and shares its code: with r = 1/sqrt(var + eps) and
means over the last axis,

    dX = r * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat)),   dXhat = gamma * dout,
    dgamma = sum over every row of dout * Xhat,   dbeta = sum over every row of dout.

d = 1 is refused: a single feature normalised over itself is always 0 (out = beta for every
X, dX = 0), which is never what a model means.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ._validate import check_cache, check_dout, positive_float
from .batchnorm import normalise, normalise_backward

__all__ = ["forward", "backward", "RowNormCache"]


class RowNormCache(NamedTuple):
    """What backward needs: Xhat (..., d), r = 1/sqrt(var + eps) (..., 1), gamma (d,)."""

    Xhat: np.ndarray
    r: np.ndarray
    gamma: np.ndarray


def check_inputs(X, gamma, beta, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validated (X (..., d), gamma (d,), beta (d,), eps)."""
    X = as_float_array(X, "X")
    if X.ndim < 1:
        raise ValueError(f"X must have at least 1 axis (..., d), got shape {X.shape}")
    d = X.shape[-1]
    if d < 2:
        raise ValueError(
            f"X has shape {X.shape}: layer norm over d = {d} feature normalises "
            "every row to 0 (out = beta whatever X, and dX = 0); it needs d >= 2"
        )
    params = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        p = as_float_array(p, name)
        if p.shape != (d,):
            raise ValueError(
                f"{name} has shape {p.shape} but X of shape {X.shape} has d = {d} "
                f"features (last axis): {name} must have shape ({d},)"
            )
        params.append(p)
    return X, params[0], params[1], positive_float(eps, "eps")


def forward(X, gamma, beta, eps: float = 1e-5) -> tuple[np.ndarray, RowNormCache]:
    """out = gamma * Xhat + beta (X's shape), Xhat = each row of X (..., d) normalised.

    gamma, beta (d,); eps > 0 (1e-5 as PyTorch).
    """
    X, gamma, beta, eps = check_inputs(X, gamma, beta, eps)
    Xhat, r = normalise(X, -1, eps)
    return gamma * Xhat + beta, RowNormCache(Xhat, r, gamma)


def backward(dout, cache: RowNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dX (..., d), dgamma (d,), dbeta (d,)) from dout = dE/d(out) of X's shape."""
    check_cache(cache, RowNormCache, "layernorm_rows")
    Xhat, r, gamma = cache
    dout = check_dout(dout, Xhat.shape)
    dX = normalise_backward(gamma * dout, Xhat, r, -1)
    rows = tuple(range(Xhat.ndim - 1))  # every axis but the features
    return dX, np.sum(dout * Xhat, axis=rows), np.sum(dout, axis=rows)
