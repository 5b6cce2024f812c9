"""Checks shared by the layers: arrays, upstream gradients, caches and integer options.

Every layer validates its inputs before any arithmetic (see :mod:`backprop._checks`),
so a wrong shape, dtype or option fails with a message that names the argument, the
shape it has and the shape it needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import as_float_array

__all__ = ["as_array", "check_dout", "check_cache", "pair", "positive_float"]


def as_array(a, name: str, ndim: int, what: str) -> np.ndarray:
    """A finite float32/float64 array with ``ndim`` dimensions; ``what`` names the axes."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {what}, got shape {arr.shape}")
    return as_float_array(arr, name, ndim=ndim)


def check_dout(dout, shape: tuple[int, ...]) -> np.ndarray:
    """The upstream gradient dE/d(out): finite floats of exactly the output's shape."""
    arr = as_float_array(dout, "dout")
    if arr.shape != tuple(shape):
        raise ValueError(
            f"dout has shape {arr.shape} but the layer's output has shape "
            f"{tuple(shape)}; the upstream gradient must have the output's shape"
        )
    return arr


def check_cache(cache: Any, kind: type, layer: str) -> None:
    """Raise ``TypeError`` unless ``cache`` is what this layer's ``forward`` returned."""
    if not isinstance(cache, kind):
        raise TypeError(
            f"cache must be the second value returned by {layer}.forward "
            f"(a {kind.__name__}), got {type(cache).__name__}"
        )


def pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each at least ``minimum``."""
    items = value if isinstance(value, (tuple, list)) else (value, value)
    ok = len(items) == 2 and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)) for k in items
    )
    if not ok:
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def positive_float(value, name: str) -> float:
    """A finite real number > 0 (e.g. the ``eps`` of a normalisation)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)
