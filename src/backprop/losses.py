"""Losses over a batch: columns are examples, the loss is the mean over the B columns.

Each loss maps the network output S (m, B) and targets Y (m, B) to a float E and
gives dE/dS (m, B). Cross-entropy is *fused* with its output activation: it is
computed from the pre-activation V (log-sum-exp, stable for any |v|) and its
gradient with respect to V is (S - Y) / B for a sigmoid output and, for softmax,
(S diag(1^T Y) - Y) / B: the general gradient, exact whatever the column sums 1^T y_b
are (for targets summing to 1 it is the familiar (S - Y) / B).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_same_shape, refuse_masked
from .activations import log_softmax

__all__ = [
    "half_squared_error",
    "half_squared_error_grad",
    "cross_entropy_from_logits",
    "cross_entropy_grad",
    "check_probability_targets",
    "LOSSES",
]

LOSSES = ("half_squared_error", "cross_entropy")


def half_squared_error(S: np.ndarray, Y: np.ndarray) -> float:
    """E = (1/B) sum_b 1/2 ||s_b - y_b||^2 for S, Y of shape (m, B)."""
    S, Y = _pair(S, Y, "S")
    R = S - Y
    return float(0.5 * np.sum(R * R) / S.shape[1])


def half_squared_error_grad(S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The gradient grad_S E = (S - Y) / B, shape (m, B) of S."""
    S, Y = _pair(S, Y, "S")
    return (S - Y) / S.shape[1]


def cross_entropy_from_logits(V: np.ndarray, Y: np.ndarray, output: str) -> float:
    """Mean cross-entropy from the pre-activations V (m, B).

    output="softmax": E = -(1/B) sum_b y_b^T log softmax(v_b) (Y one-hot or probabilities per column);
    output="sigmoid": E = -(1/B) sum [y log s + (1 - y) log(1 - s)] entry by entry, with
    log s = -log(1 + e^{-v}) computed as -logaddexp(0, -v), so no overflow.
    """
    V, Y = _pair(V, Y, "V")
    B = V.shape[1]
    if output == "softmax":
        return float(-np.sum(Y * log_softmax(V)) / B)
    if output == "sigmoid":
        log_s, log_1ms = -np.logaddexp(0, -V), -np.logaddexp(0, V)
        return float(-np.sum(Y * log_s + (1 - Y) * log_1ms) / B)
    raise ValueError(f"cross_entropy is fused with a softmax or sigmoid output, not {output!r}")


def cross_entropy_grad(S: np.ndarray, Y: np.ndarray, output: str) -> np.ndarray:
    """dE/dV (m, B) of :func:`cross_entropy_from_logits`, given S = softmax(V) or sigmoid(V).

    sigmoid: (S - Y) / B. softmax: (S * (1^T Y) - Y) / B, since the gradient of
    -y^T log softmax(v) is softmax(v) (1^T y) - y; when every column of Y sums to exactly 1 this
    is computed as (S - Y) / B, with the same bits.
    """
    S, Y = _pair(S, Y, "S")
    if output not in ("softmax", "sigmoid"):
        raise ValueError(f"cross_entropy is fused with a softmax or sigmoid output, not {output!r}")
    return _cross_entropy_grad(S, Y, output)


def _cross_entropy_grad(S: np.ndarray, Y: np.ndarray, output: str) -> np.ndarray:
    """:func:`cross_entropy_grad` for arrays already checked (used by :class:`~backprop.MLP`)."""
    Delta = S - Y
    if output == "softmax":
        sums = Y.sum(axis=0)
        if not (sums == 1).all():
            Delta = S * sums - Y
    Delta /= S.shape[1]  # in place: the same numbers as (S - Y) / B
    return Delta


def _pair(S, Y, name: str) -> tuple[np.ndarray, np.ndarray]:
    """S and Y as float arrays of one 2-D shape (m, B); non-finite values pass (a diverged
    network's loss is honestly inf or nan)."""
    refuse_masked(S, name)
    refuse_masked(Y, "Y")
    S, Y = np.asarray(S), np.asarray(Y)
    for a, n in ((S, name), (Y, "Y")):
        if a.dtype.kind != "f" or a.ndim != 2:
            raise TypeError(f"{n} must be a 2-D float array (m, B), got dtype {a.dtype}, shape {a.shape}")
    check_same_shape(S, Y, name, "Y")
    return S, Y


def check_probability_targets(Y: np.ndarray, output: str) -> None:
    """Raise ``ValueError`` unless Y (m, B) holds probabilities (columns summing to 1 for softmax).

    min/max and one column sum are single passes, so the check stays cheap for large batches.
    Column sums within 1e-5 of 1 are accepted; the softmax gradient (:func:`cross_entropy_grad`)
    is exact for any sums, so the loss and its gradient always agree.
    """
    Y = as_float_array(Y, "Y", ndim=2)
    if Y.min() < 0 or Y.max() > 1:
        raise ValueError("cross-entropy targets Y must lie in [0, 1]")
    if output == "softmax" and float(np.abs(Y.sum(axis=0) - 1).max()) > 1e-5:
        raise ValueError(
            "with a softmax output each column of Y must sum to 1 (one-hot or a probability vector)"
        )
