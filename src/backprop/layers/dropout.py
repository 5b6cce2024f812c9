"""Inverted dropout: each entry kept with probability 1 - p and scaled by 1 / (1 - p).

For X of any shape, in training mode a mask M of X's shape is drawn from the generator
passed in, entry by entry independently,

    M = keep / (1 - p),   keep ~ Bernoulli(1 - p)   (keep = rng.random(X.shape) >= p),
    out = M * X,

so E[out] = X and nothing needs rescaling at test time (``training=False``: out = X), as
``torch.nn.functional.dropout``. The mask is part of the cache: backward multiplies by the
same M that forward used,

    dX = M * dout,

and a backward that draws a new mask (or forgets the 1 / (1 - p)) computes the gradient of
a different function. p = 1 is refused: it would drop everything, and 1 / (1 - p) is 1/0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array
from ._validate import check_cache, check_dout

__all__ = ["forward", "backward", "DropoutCache"]


class DropoutCache(NamedTuple):
    """The mask M (X's shape, X's dtype): 0 where dropped, 1 / (1 - p) where kept."""

    M: np.ndarray


def check_options(p, rng, training) -> tuple[float, np.random.Generator | None, bool]:
    """Validated (p in [0, 1), the generator, training)."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a number in [0, 1), the probability of dropping, got {p!r}")
    if not 0 <= p < 1:
        raise ValueError(
            f"p must lie in [0, 1), got {p!r}"
            + (": p = 1 drops every entry and the scale 1 / (1 - p) is 1/0" if p == 1 else "")
        )
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}")
    if training and p > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy Generator, e.g. np.random.default_rng(seed), so that "
            f"the mask is reproducible; got {rng!r}"
        )
    return float(p), rng, bool(training)


def forward(
    X, p: float = 0.5, rng: np.random.Generator | None = None, training: bool = True
) -> tuple[np.ndarray, DropoutCache]:
    """out = M * X (X's shape), M drawn from ``rng`` (see the module docstring).

    p: probability of dropping an entry, 0 <= p < 1; rng: the generator the mask is drawn
    from (required in training mode with p > 0); training=False or p = 0: M = 1, out = X.
    """
    X = as_float_array(X, "X")
    p, rng, training = check_options(p, rng, training)
    if training and p > 0:
        M = (rng.random(X.shape) >= p).astype(X.dtype) / X.dtype.type(1 - p)
    else:
        M = np.ones_like(X)
    return M * X, DropoutCache(M)


def backward(dout, cache: DropoutCache) -> tuple[np.ndarray]:
    """(dX,) = (M * dout,), X's shape, with the mask M of the forward pass."""
    check_cache(cache, DropoutCache, "dropout")
    return (cache.M * check_dout(dout, cache.M.shape),)
