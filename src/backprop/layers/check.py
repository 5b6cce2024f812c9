"""Check a layer's backward against central differences, with a random upstream gradient.

For an upstream gradient G of the output's shape, E(inputs) = sum(G * out) is a scalar
whose gradient with respect to each input is exactly what ``backward(G, cache)`` must
return. G is drawn at random: an all-ones G can hide a wrong backward (for batch
normalisation, sum(out) does not even depend on X, so any dX that vanishes passes).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType

import numpy as np

from .. import checking
from ..checking import GradcheckReport

__all__ = ["gradcheck"]


def gradcheck(
    layer: ModuleType,
    *inputs,
    dout=None,
    backward: Callable | None = None,
    seed: int = 0,
    h: float = 1e-6,
    tol: float = 1e-7,
    **options,
) -> GradcheckReport:
    """Check each gradient of ``backward`` (default ``layer.backward``) with
    :func:`backprop.gradcheck` (entrywise verdicts "ok" / "mismatch" / "inconclusive").

    ``inputs`` are the positional inputs of ``layer.forward`` and ``options`` its keyword
    options; ``dout`` defaults to standard normal entries from ``default_rng(seed)``.
    The report's keys are the names of forward's parameters (X, gamma, ... or Q, K, V).
    """
    out, cache = layer.forward(*inputs, **options)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    grads = (backward or layer.backward)(dout, cache)
    if len(grads) != len(inputs):
        raise ValueError(f"backward returned {len(grads)} gradients for {len(inputs)} inputs")
    names = list(inspect.signature(layer.forward).parameters)[: len(inputs)]

    def E(P):  # the scalar G : out, as a function of the dict of inputs
        return float(np.sum(dout * layer.forward(*(P[n] for n in names), **options)[0]))

    E.roundoff_scale = float(np.sum(np.abs(dout * out)))  # E's terms cancel: round-off follows them

    # the course's checker: entry by entry, with "inconclusive" where differences cannot decide
    return checking.gradcheck(E, dict(zip(names, inputs)), dict(zip(names, grads)), h=h, tol=tol)
