"""Losses over a batch: columns are examples, the loss is the mean over the B columns.

Each loss maps the network output S (m, B) and targets Y (m, B) to a float E and
gives dE/dS (m, B). Cross-entropy is *fused* with its output activation: it is
computed from the pre-activation V (log-sum-exp, stable for any |v|) and its
gradient with respect to V is simply (S - Y) / B.
"""
from __future__ import annotations

import numpy as np

from .activations import log_softmax

__all__ = ["half_squared_error", "half_squared_error_grad", "cross_entropy_from_logits", "check_probability_targets", "LOSSES"]

LOSSES = ("half_squared_error", "cross_entropy")


def half_squared_error(S: np.ndarray, Y: np.ndarray) -> float:
    """E = (1/B) sum_b 1/2 ||s_b - y_b||^2 for S, Y of shape (m, B)."""
    R = S - Y
    return float(0.5 * np.sum(R * R) / S.shape[1])


def half_squared_error_grad(S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The gradient grad_S E = (S - Y) / B, shape (m, B) of S."""
    return (S - Y) / S.shape[1]


def cross_entropy_from_logits(V: np.ndarray, Y: np.ndarray, output: str) -> float:
    """Mean cross-entropy from the pre-activations V (m, B).

    output="softmax": E = -(1/B) sum_b y_b^T log softmax(v_b) (Y one-hot or probabilities per column);
    output="sigmoid": E = -(1/B) sum [y log s + (1 - y) log(1 - s)] entry by entry, with
    log s = -log(1 + e^{-v}) computed as -logaddexp(0, -v), so no overflow.
    """
    B = V.shape[1]
    if output == "softmax":
        return float(-np.sum(Y * log_softmax(V)) / B)
    if output == "sigmoid":
        log_s, log_1ms = -np.logaddexp(0, -V), -np.logaddexp(0, V)
        return float(-np.sum(Y * log_s + (1 - Y) * log_1ms) / B)
    raise ValueError(f"cross_entropy is fused with a softmax or sigmoid output, not {output!r}")


def check_probability_targets(Y: np.ndarray, output: str) -> None:
    """Raise ``ValueError`` unless Y (m, B) holds probabilities (columns summing to 1 for softmax).

    min/max and one column sum are single passes, so the check stays cheap for large batches.
    """
    if Y.min() < 0 or Y.max() > 1:
        raise ValueError("cross-entropy targets Y must lie in [0, 1]")
    if output == "softmax" and float(np.abs(Y.sum(axis=0) - 1).max()) > 1e-5:
        raise ValueError("with a softmax output each column of Y must sum to 1 (one-hot or a probability vector)")
