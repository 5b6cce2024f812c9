"""Activation functions s = f(v) and their backward rules.

Columns are examples: ``v`` has shape (m,) , (m, 1) or (m, B). Elementwise
activations act entry by entry; ``softmax`` acts on each column.

Inputs: real arrays; integers and booleans are promoted to float64 (as numpy's np.exp does),
complex and masked arrays raise ``TypeError``.

Backward rule (a vector-Jacobian product): given the gradient ``g = grad_s E`` (shape of s),
``vjp(v, s, g)`` returns the gradient ``grad_v E`` (shape of v). For an elementwise f this is
``f'(v) * g`` (a Hadamard product, i.e. Diag(f'(v)) g); for softmax it is
``s * (g - sum(s * g))`` per column, i.e. (Diag(s) - s s^T) g.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._checks import as_activation_input

__all__ = [
    "sigmoid",
    "sigmoid_prime",
    "tanh",
    "tanh_prime",
    "relu",
    "relu_prime",
    "identity",
    "identity_prime",
    "softmax",
    "log_softmax",
    "Activation",
    "get_activation",
    "ACTIVATIONS",
]


def sigmoid(v: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-v)), without overflow for any |v|.

    Both exponentials are <= 1: s = exp(min(v, 0)) / (1 + exp(-|v|)), which is 1/(1 + e^-v) for
    v >= 0 and e^v/(1 + e^v) for v < 0 (the same numbers, no overflow). Keeps float32 float32.
    """
    if type(v) is not np.ndarray or v.dtype.kind != "f":
        v = as_activation_input(v)
    return np.exp(np.minimum(v, 0.0)) / (1.0 + np.exp(-np.abs(v)))


def sigmoid_prime(v: np.ndarray) -> np.ndarray:
    """sigma'(v) = sigma(v) sigma(-v) = z / (1 + z)^2 with z = exp(-|v|), accurate for every v.

    Mathematically this is s - s**2 (as the three approach modules write it), but in floating
    point s - s**2 cancels: for v > 0 the factor 1 - s is computed from s ~ 1 and loses all
    relative accuracy (it is exactly 0 for v >~ 37 in float64, v >~ 17 in float32).
    z / (1 + z)^2 has no subtraction at all.
    """
    d = _bell(as_activation_input(v), 1.0)
    return d if d.ndim else d[()]  # a scalar v gives a numpy scalar, as np.exp does


def tanh(v: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(as_activation_input(v))


def tanh_prime(v: np.ndarray) -> np.ndarray:
    """tanh'(v) = 1 - tanh(v)^2 = 4 z / (1 + z)^2 with z = exp(-2|v|), accurate for every v
    (1 - tanh(v)^2 itself cancels to 0 for |v| >~ 19 in float64)."""
    return _bell(as_activation_input(v), 4.0)


def relu(v: np.ndarray) -> np.ndarray:
    """max(v, 0) entry by entry."""
    return np.maximum(as_activation_input(v), 0)


def relu_prime(v: np.ndarray) -> np.ndarray:
    """1 where v > 0, else 0 (the derivative at 0 is taken as 0)."""
    v = as_activation_input(v)
    return (v > 0).astype(v.dtype)


def identity(v: np.ndarray) -> np.ndarray:
    """f(v) = v."""
    return as_activation_input(v)


def identity_prime(v: np.ndarray) -> np.ndarray:
    """f'(v) = 1."""
    return np.ones_like(as_activation_input(v))


def log_softmax(v: np.ndarray) -> np.ndarray:
    """log softmax of each column: v - logsumexp(v), stable for large |v|."""
    v = as_activation_input(v)
    shifted = v - v.max(axis=0, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=0, keepdims=True))  # in place: no extra (m, B) array
    return shifted


def softmax(v: np.ndarray) -> np.ndarray:
    """exp(v) / sum(exp(v)) for each column; the max is subtracted first, so no overflow."""
    v = as_activation_input(v)
    e = v - v.max(axis=0, keepdims=True)
    np.exp(e, out=e)  # in place: same numbers, fewer temporaries
    e /= e.sum(axis=0, keepdims=True)
    return e


@dataclass(frozen=True)
class Activation:
    """An activation s = f(v) with its backward rule ``vjp(v, s, g) -> grad_v E``."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    vjp: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    elementwise: bool = True
    #: Optional faster backward rule with the same numbers as ``vjp`` that may overwrite ``g``
    #: (for callers such as :class:`~backprop.MLP` whose ``g`` is a temporary they own).
    vjp_inplace: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None

    def vjp_overwrite(self, v: np.ndarray, s: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``vjp(v, s, g)``, allowed to reuse ``g``'s memory (g must be an array the caller owns)."""
        if self.vjp_inplace is not None and isinstance(g, np.ndarray) and g.dtype == np.result_type(v, s, g):
            return self.vjp_inplace(v, s, g)
        return self.vjp(v, s, g)


def _elementwise(name: str, f, f_prime_from_vs, inplace=None) -> Activation:
    return Activation(name, f, lambda v, s, g: f_prime_from_vs(v, s) * g, vjp_inplace=inplace)


def _times_into(g: np.ndarray, d) -> np.ndarray:
    """g <- g * d in place; g * d equals d * g bit for bit (multiplication commutes in IEEE arithmetic)."""
    return np.multiply(g, d, out=g)


def _softmax_vjp(v: np.ndarray, s: np.ndarray, g: np.ndarray) -> np.ndarray:
    return s * (g - (s * g).sum(axis=0, keepdims=True))


def _bell(v: np.ndarray, c: float) -> np.ndarray:
    """The derivative of sigma (c = 1) or tanh (c = 4) at v, for the backward rules, without a
    subtraction:
    sigma'(v) = z / (1 + z)^2 with z = exp(-|v|) (c = 1), tanh'(v) = 4 z / (1 + z)^2 with
    z = exp(-2|v|) (c = 4). s - s*s and 1 - s*s would cancel for large |v| (sigma'(40) would
    be exactly 0 in float64); these keep full relative accuracy for every v and never overflow."""
    z = np.asarray(np.abs(v))  # a fresh array (0-d for a scalar v)
    if c != 1.0:
        z *= 2.0
    np.negative(z, out=z)
    np.exp(z, out=z)  # z = exp(-|v|) or exp(-2|v|), in (0, 1]
    d = z + 1.0
    d *= d
    if c != 1.0:
        z *= c
    return np.divide(z, d, out=z)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": _elementwise(
        "sigmoid", sigmoid, lambda v, s: _bell(v, 1.0), lambda v, s, g: _times_into(g, _bell(v, 1.0))
    ),
    "tanh": _elementwise(
        "tanh", tanh, lambda v, s: _bell(v, 4.0), lambda v, s, g: _times_into(g, _bell(v, 4.0))
    ),
    "relu": _elementwise(
        "relu", relu, lambda v, s: (v > 0).astype(v.dtype), lambda v, s, g: _times_into(g, v > 0)
    ),  # g * True = g, g * False = ±0 as before
    "identity": _elementwise(
        "identity", identity, lambda v, s: 1.0, lambda v, s, g: g
    ),  # 1.0 * g is g, bit for bit
    "softmax": Activation("softmax", softmax, _softmax_vjp, elementwise=False),
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name; unknown names raise ``ValueError`` listing the known ones."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
