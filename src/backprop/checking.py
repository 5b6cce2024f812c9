"""Gradient checking by central finite differences.

For a scalar function E of an array A, entry (i, j) of the numerical gradient is

    (E(A + h e_ij) - E(A - h e_ij)) / (2 h),

whose error is O(h^2) (truncation) plus O(eps_machine / h) (round-off). The forward
difference (E(A + h e_ij) - E(A)) / h (``scheme="forward"``) has truncation error O(h) only.
Agreement is reported as the relative error ||G - N|| / (||G|| + ||N||).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ._checks import as_float_array

__all__ = ["numerical_gradient", "relative_error", "GradcheckReport", "gradcheck"]


def numerical_gradient(f: Callable[[np.ndarray], float], A, h: float = 1e-6,
                       scheme: str = "central") -> np.ndarray:
    """Finite-difference gradient of the scalar ``f`` at ``A``; returns a float64 array of A's shape.

    ``scheme="central"`` (default): (f(A + h e) - f(A - h e)) / (2h), error O(h^2);
    ``scheme="forward"``: (f(A + h e) - f(A)) / h, error O(h).
    ``f`` is called with a perturbed *copy* of A; A itself is never modified.
    """
    A = as_float_array(A, "A").copy()
    if not h > 0:
        raise ValueError(f"step h must be positive, got {h}")
    if scheme not in ("central", "forward"):
        raise ValueError(f"scheme must be 'central' or 'forward', got {scheme!r}")
    N = np.zeros_like(A, dtype=np.float64)
    f_0 = float(f(A)) if scheme == "forward" else 0.0
    for idx in np.ndindex(A.shape):
        old = A[idx]
        A[idx] = old + h
        f_plus = float(f(A))
        if scheme == "forward":
            A[idx] = old
            N[idx] = (f_plus - f_0) / h
            continue
        A[idx] = old - h
        f_minus = float(f(A))
        A[idx] = old
        N[idx] = (f_plus - f_minus) / (2 * h)
    return N


def relative_error(G, N) -> float:
    """||G - N|| / (||G|| + ||N||) (Frobenius norms); 0 when both are zero. Shapes must match."""
    G, N = np.asarray(G, dtype=np.float64), np.asarray(N, dtype=np.float64)
    if G.shape != N.shape:
        raise ValueError(f"gradient has shape {G.shape} but the numerical gradient has shape {N.shape}")
    denom = np.linalg.norm(G) + np.linalg.norm(N)
    return 0.0 if denom == 0 else float(np.linalg.norm(G - N) / denom)


@dataclass
class GradcheckReport:
    """Relative error per parameter; ``ok`` when every error is at most ``tol``."""

    errors: dict[str, float]
    tol: float
    numerical: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(e <= self.tol for e in self.errors.values())

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    def __str__(self) -> str:
        lines = [f"{'parameter':<10} {'relative error':>15}  (tolerance {self.tol:.0e})"]
        for k, e in self.errors.items():
            lines.append(f"{k:<10} {e:>15.2e}  {'ok' if e <= self.tol else 'MISMATCH'}")
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return self.ok


def gradcheck(f: Callable, params, grads, h: float = 1e-6, tol: float = 1e-6) -> GradcheckReport:
    """Compare supplied gradients with central differences.

    Single array:  ``gradcheck(lambda W: E(W), W, G)`` — f takes the array.
    Dict of arrays: ``gradcheck(lambda p: net.loss(X, Y, params=p), net.params, net.gradients(X, Y))``
    — f takes a dict; each entry is perturbed in a copy, the originals are left untouched.
    Returns a :class:`GradcheckReport` (truthy when every relative error <= tol).
    """
    if isinstance(params, Mapping):
        if not isinstance(grads, Mapping) or set(grads) != set(params):
            raise ValueError(f"grads must be a dict with the keys of params {sorted(params)}")
        base = {k: np.array(v, copy=True) for k, v in params.items()}
        errors, numerical = {}, {}
        for k in params:
            def f_k(A, k=k):
                return f({**base, k: A})
            numerical[k] = numerical_gradient(f_k, base[k], h)
            errors[k] = relative_error(grads[k], numerical[k])
        return GradcheckReport(errors, tol, numerical)
    N = numerical_gradient(f, params, h)
    return GradcheckReport({"A": relative_error(grads, N)}, tol, {"A": N})
