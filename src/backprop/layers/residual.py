"""Residual connections: a layer F wrapped as X + F(X), optionally pre-norm X + F(LN(X)).

For a layer F with the protocol of this package (``F.forward(X, *params, **options) ->
(out, cache)``, out of X's shape), ``Residual(F)`` is the layer

    out = X + F(X, params),

and its backward follows from dout = dX + dF: with G = dE/d(out),

    dE = G : dX + G : dF(X)   =>   dX = G + (dF/dX)^T G,   dparams = those of F for G,

i.e. the upstream gradient reaches X twice: unchanged along the identity ("the gradient
highway") and through F's own backward. ``Residual(F, prenorm=True)`` is the pre-norm
form of transformers, out = X + F(LN(X; gamma, beta), params), with gamma, beta (d,) taking
the two places after X (layer norm over the last axis, :mod:`~backprop.layers.layernorm_rows`):

    dX = G + LN^T((dF/dA)^T G),   A = LN(X; gamma, beta).

A Residual is itself a layer: ``forward(X, [gamma, beta,] *params, **options)`` and
``backward(dout, cache) -> (dX, [dgamma, dbeta,] *dparams)``, so it can be checked with
:func:`~backprop.layers.gradcheck` and stacked. :mod:`~backprop.layers.transformer_block`
is two of them.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from .._checks import as_float_array
from . import layernorm_rows
from ._validate import check_cache, check_dout

__all__ = ["Residual", "ResidualCache"]


class ResidualCache(NamedTuple):
    """What backward needs: the cache of F, that of the layer norm (None without pre-norm),
    and X's shape."""

    inner: Any
    norm: Any
    shape: tuple[int, ...]


class Residual:
    """The layer X + F(X, ...) (``prenorm=False``) or X + F(LN(X; gamma, beta), ...).

    ``layer``: a module (or object) with ``forward`` and ``backward`` in this package's
    protocol, whose output has the shape of its first input. ``forward`` and ``backward`` are
    attributes with the signature of ``layer.forward`` (gamma, beta inserted after X), so
    :func:`~backprop.layers.gradcheck` names the gradients as forward names its inputs.
    """

    def __init__(self, layer: ModuleType | Any, prenorm: bool = False) -> None:
        if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
            raise TypeError(f"layer must have forward and backward functions, got {layer!r}")
        if not isinstance(prenorm, (bool, np.bool_)):
            raise TypeError(f"prenorm must be True or False, got {prenorm!r}")
        self.layer, self.prenorm = layer, bool(prenorm)
        name = getattr(layer, "__name__", type(layer).__name__).rsplit(".", 1)[-1]
        self.__name__ = f"Residual({name}{', prenorm=True' if prenorm else ''})"
        params = list(inspect.signature(layer.forward).parameters.values())
        if prenorm:
            norm = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("gamma", "beta")]
            params = params[:1] + norm + params[1:]

        def forward(X, *params, **options):
            return self._forward(X, *params, **options)

        forward.__signature__ = inspect.Signature(params)
        forward.__doc__ = self._forward.__doc__
        self.forward = forward

    def __repr__(self) -> str:
        return self.__name__

    def _forward(self, X, *params, **options) -> tuple[np.ndarray, ResidualCache]:
        """out = X + F(X, params) (or X + F(LN(X; gamma, beta), params)), X's shape."""
        X = as_float_array(X, "X")
        A, norm = X, None
        if self.prenorm:
            if len(params) < 2:
                raise TypeError(f"{self.__name__}.forward needs gamma and beta after X")
            A, norm = layernorm_rows.forward(X, params[0], params[1])
            params = params[2:]
        F, inner = self.layer.forward(A, *params, **options)
        if F.shape != X.shape:
            raise ValueError(
                f"{self.__name__}: the layer's output has shape {F.shape} but X has "
                f"shape {X.shape}; X + F(X) needs them equal"
            )
        return X + F, ResidualCache(inner, norm, X.shape)

    def backward(self, dout, cache: ResidualCache) -> tuple[np.ndarray, ...]:
        """(dX, [dgamma, dbeta,] *dparams of F): dX = G + (dF/dX)^T G, G = dout (X's shape)."""
        check_cache(cache, ResidualCache, self.__name__)
        G = check_dout(dout, cache.shape)
        dA, *dparams = self.layer.backward(G, cache.inner)
        if not self.prenorm:
            return (G + dA, *dparams)
        dX_branch, dgamma, dbeta = layernorm_rows.backward(dA, cache.norm)
        return (G + dX_branch, dgamma, dbeta, *dparams)
