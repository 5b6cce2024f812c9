"""Layer normalisation: each column of X (one example) normalised over its n features.

The computation of :mod:`~backprop.layers.batchnorm` along the other axis: for every
example (column) b, mu_b and var_b (biased) are taken over the rows i = 1..n,

    Xhat = (X - mu) / sqrt(var + eps),   out = gamma * Xhat + beta,

with gamma, beta (n, 1) per feature, as ``torch.nn.functional.layer_norm(X.T, (n,),
gamma, beta)``. Backward: the batch-norm formula with the means taken down each column,

    dX = r * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat)),   dXhat = gamma * dout,

and dgamma = sum_b dout * Xhat, dbeta = sum_b dout (gamma is still shared by the batch).
"""

from __future__ import annotations

import numpy as np

from ._validate import check_cache
from .batchnorm import NormCache, backward_along, check_inputs, normalise

__all__ = ["forward", "backward"]


def forward(X, gamma, beta, eps: float = 1e-5) -> tuple[np.ndarray, NormCache]:
    """out = gamma * Xhat + beta, Xhat = X normalised down each column (over the features).

    X (n, B), gamma and beta (n, 1); returns out (n, B) and the cache.
    """
    X, gamma, beta, eps, shapes = check_inputs(X, gamma, beta, eps)
    Xhat, r = normalise(X, 0, eps)
    return gamma * Xhat + beta, NormCache(Xhat, r, gamma, 0, shapes)


def backward(dout, cache: NormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dX (n, B), dgamma, dbeta) from dout = dE/d(out) (n, B); dgamma, dbeta in gamma's shape."""
    check_cache(cache, NormCache, "layernorm")
    if cache.axis != 0:
        raise TypeError("cache comes from batchnorm.forward; pass it to batchnorm.backward")
    return backward_along(dout, cache)
