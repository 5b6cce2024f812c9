"""Spatial batch normalisation (training mode) for images X (B, C, n_h, n_w).

Each channel c is normalised with one mean and one (biased) variance taken over all its
B n_h n_w values — every pixel of every image counts as an example of that channel:

    mu_c = mean_{n,i,j} X[n, c, i, j],   var_c = mean_{n,i,j} (X[n, c, i, j] - mu_c)^2,
    Xhat = (X - mu) / sqrt(var + eps),   out = gamma * Xhat + beta,

with gamma, beta (C,) broadcast over (B, n_h, n_w); exactly
``torch.nn.functional.batch_norm(X, None, None, gamma, beta, training=True, eps=eps)``
(``torch.nn.BatchNorm2d`` in training mode). It is :mod:`~backprop.layers.batchnorm` with the
B n_h n_w values of a channel in the place of a row's B examples, and shares its code: with
r = 1/sqrt(var + eps) and means over the axes (0, 2, 3),

    dX = r * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat)),   dXhat = gamma * dout,
    dgamma_c = sum_{n,i,j} dout * Xhat,   dbeta_c = sum_{n,i,j} dout.

A channel needs at least 2 values: with B n_h n_w = 1 (one 1x1 image) each value is its own
mean, so Xhat = 0 whatever X, out = beta and dX = 0 — an error here, as in PyTorch. One
image (B = 1) with n_h n_w >= 2 is allowed: the statistics are then those of its pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ._validate import as_array, check_cache, check_dout, positive_float
from .batchnorm import normalise, normalise_backward

__all__ = ["forward", "backward", "SpatialNormCache"]

AXES = (0, 2, 3)  # the values of one channel: every image, every pixel


class SpatialNormCache(NamedTuple):
    """What backward needs: Xhat (B, C, n_h, n_w), r = 1/sqrt(var + eps) (1, C, 1, 1), gamma (1, C, 1, 1)."""

    Xhat: np.ndarray
    r: np.ndarray
    gamma: np.ndarray


def check_inputs(X, gamma, beta, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validated X (B, C, n_h, n_w) with B n_h n_w >= 2, gamma and beta as (1, C, 1, 1), eps > 0."""
    X = as_array(X, "X", 4, "(B, C, n_h, n_w): batch-first images")
    B, C, n_h, n_w = X.shape
    params = []
    for name, p in (("gamma", gamma), ("beta", beta)):
        p = as_float_array(p, name)
        if p.shape != (C,):
            raise ValueError(
                f"{name} has shape {p.shape} but X of shape {X.shape} has C = {C} "
                f"channels: {name} must have shape ({C},)"
            )
        params.append(p.reshape(1, C, 1, 1))
    if B * n_h * n_w < 2:
        raise ValueError(
            f"spatial batch norm needs at least 2 values per channel (B n_h n_w >= 2), got "
            f"X of shape {X.shape}: with one value the mean is that value and the "
            "variance 0, so every normalised value is 0 (out = beta whatever X) and "
            "the gradient dX is 0"
        )
    return X, params[0], params[1], positive_float(eps, "eps")


def forward(X, gamma, beta, eps: float = 1e-5) -> tuple[np.ndarray, SpatialNormCache]:
    """out (B, C, n_h, n_w) = gamma * Xhat + beta, each channel normalised over (B, n_h, n_w).

    gamma, beta (C,); eps > 0 (1e-5 as PyTorch).
    """
    X, gamma, beta, eps = check_inputs(X, gamma, beta, eps)
    Xhat, r = normalise(X, AXES, eps)
    return gamma * Xhat + beta, SpatialNormCache(Xhat, r, gamma)


def backward(dout, cache: SpatialNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dX (B, C, n_h, n_w), dgamma (C,), dbeta (C,)) from dout = dE/d(out) (B, C, n_h, n_w)."""
    check_cache(cache, SpatialNormCache, "spatial_batchnorm")
    Xhat, r, gamma = cache
    dout = check_dout(dout, Xhat.shape)
    dX = normalise_backward(gamma * dout, Xhat, r, AXES)
    return dX, np.sum(dout * Xhat, axis=AXES), np.sum(dout, axis=AXES)
