"""Multiplying a chain of Jacobians in reverse or forward order, counting the multiplications.

A deep network with a scalar loss is a chain x_0 -> x_1 -> ... -> x_L -> E. With the Jacobians
J_l = dx_l/dx_{l-1} of shape (n_l, n_{l-1}) (numerator layout) and the row g = dE/dx_L of shape
(1, n_L), the chain rule gives the row

    dE/dx_0 = g J_L J_{L-1} ... J_1            shape (1, n_0).

Matrix multiplication is associative, so any bracketing gives the same numbers, but not the same
work: a product of shapes (a, b) @ (b, c) costs a*b*c scalar multiplications.

* reverse order (backpropagation, vector-Jacobian products): ((g J_L) J_{L-1}) ... J_1,
  every intermediate result is a row: sum_l n_l n_{l-1} multiplications (L n^2 for width n);
* forward order: g (J_L (J_{L-1} ( ... (J_2 J_1)))), every intermediate result is a full
  Jacobian dx_l/dx_0: sum_{l=2..L} n_l n_{l-1} n_0 + n_L n_0 multiplications ((L-1) n^3 + n^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ._checks import as_float_array

__all__ = ["matmul_count", "chain_counts", "chain_product", "ORDERS"]

ORDERS = ("reverse", "forward")


def matmul_count(shape_a: tuple[int, int], shape_b: tuple[int, int]) -> int:
    """Scalar multiplications in a textbook product of shapes (a, b) @ (b, c): a * b * c."""
    (a, b), (b2, c) = shape_a, shape_b
    if b != b2:
        raise ValueError(f"cannot multiply shapes {tuple(shape_a)} and {tuple(shape_b)}: inner sizes differ")
    return int(a) * int(b) * int(c)


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2 or not all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > 0 for k in sizes
    ):
        raise ValueError(f"sizes must list at least two positive integers [n0, ..., nL], got {sizes!r}")
    return [int(k) for k in sizes]


def chain_counts(sizes: Sequence[int]) -> dict[str, int]:
    """Multiplications for dE/dx_0 = g J_L ... J_1 with layer widths ``sizes = [n0, ..., nL]``.

    Returns ``{"reverse": ..., "forward": ...}``, the exact counts of :func:`chain_product`
    without building any matrix.
    """
    n = _check_sizes(sizes)
    L = len(n) - 1
    reverse = sum(n[l] * n[l - 1] for l in range(1, L + 1))  # (1, n_l) @ (n_l, n_{l-1})
    forward = sum(n[l] * n[l - 1] * n[0] for l in range(2, L + 1))  # (n_l, n_{l-1}) @ (n_{l-1}, n_0)
    forward += n[L] * n[0]  # (1, n_L) @ (n_L, n_0)
    return {"reverse": reverse, "forward": forward}


def chain_product(
    g: np.ndarray, jacobians: Sequence[np.ndarray], order: Literal["reverse", "forward"] = "reverse"
) -> tuple[np.ndarray, int]:
    """Return (g J_L ... J_1, number of scalar multiplications used).

    ``g``: row (1, n_L); ``jacobians``: ``[J_1, ..., J_L]`` in layer order, J_l of shape
    (n_l, n_{l-1}). ``order="reverse"`` multiplies from the left (row times matrix, as
    backpropagation does), ``order="forward"`` from the right (matrix times matrix, then g).
    The result is a row (1, n_0).
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if isinstance(jacobians, np.ndarray) or len(jacobians) == 0:
        raise ValueError("jacobians must be a non-empty list [J_1, ..., J_L] of 2-D arrays")
    Js = [as_float_array(J, f"J_{l}", ndim=2) for l, J in enumerate(jacobians, start=1)]
    g = as_float_array(g, "g", ndim=2)
    for l in range(1, len(Js)):
        if Js[l].shape[1] != Js[l - 1].shape[0]:
            raise ValueError(
                f"J_{l + 1} has shape {Js[l].shape} but J_{l} has shape {Js[l - 1].shape}: "
                f"J_{l + 1} needs {Js[l - 1].shape[0]} columns"
            )
    if g.shape != (1, Js[-1].shape[0]):
        raise ValueError(
            f"g must be a row of shape (1, {Js[-1].shape[0]}) to multiply J_{len(Js)} of shape "
            f"{Js[-1].shape}, got {g.shape}"
        )
    count = 0
    if order == "reverse":
        R = g
        for J in reversed(Js):
            count += matmul_count(R.shape, J.shape)
            R = R @ J
        return R, count
    P = Js[0]
    for J in Js[1:]:
        count += matmul_count(J.shape, P.shape)
        P = J @ P
    count += matmul_count(g.shape, P.shape)
    return g @ P, count
