"""A gradient checker that says *what* is wrong, not only *that* something is wrong.

A hand-derived gradient G is compared with a trusted one G_true (e.g. from central
differences). Typical mistakes leave a recognisable trace:

    G = G_true^T          transposed (e.g. x delta^T instead of delta x^T)
    G = -G_true           wrong sign (y - s instead of s - y)
    G = c G_true          scaled (c = 2: the 1/2 of E = 1/2 ||s - y||^2 forgotten)
    G = M                 a known wrong answer M, e.g. (s - y) x^T: sigma' forgotten

"Equals" means a relative error ||G - M|| / (||G|| + ||M||) <= tol, so round-off never
matters. "correct" is tested first: a right gradient is never reported as a mistake,
even when G_true is symmetric or zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ._checks import as_float_array
from .activations import sigmoid
from .checking import numerical_gradient, relative_error
from .seed import forward

__all__ = ["Diagnosis", "diagnose", "check_gradient", "seed_mistakes", "MISTAKE_EXPLANATIONS"]

#: Student-facing explanations of the named mistakes returned by :func:`seed_mistakes`.
MISTAKE_EXPLANATIONS: dict[str, str] = {
    "missing_activation_derivative": (
        "your gradient equals (s - y) x^T: the factor sigma'(v) = s - s*s of the activation is missing "
        "(the chain rule passes through s = sigma(v), so (s - y) must be multiplied entrywise by s - s*s)"),
    "sigma_instead_of_sigma_prime": (
        "your gradient equals (s * (s - y)) x^T: you multiplied by sigma(v) = s where its derivative "
        "sigma'(v) = s - s*s belongs"),
    "sigma_prime_at_s": (
        "your gradient uses sigma'(s) = sigma(s)(1 - sigma(s)) instead of sigma'(v) = s - s*s: the derivative "
        "of the activation was evaluated at its output s rather than at its input v"),
    "reshape_instead_of_transpose": (
        "your gradient has the right shape but scrambled entries: it equals x delta^T (shape n x m) "
        "reshaped to m x n; a reshape is not a transpose, write delta x^T (or use .T)"),
}


@dataclass
class Diagnosis:
    """The verdict on a gradient: ``kind`` (see :func:`diagnose`), a ``message`` for the student,
    the ``relative_error`` ||G - G_true|| / (||G|| + ||G_true||) (inf when it is not defined) and,
    for kind "scaled", the ``factor`` c with G = c G_true. Truthy exactly when kind == "correct"."""

    kind: str
    message: str
    relative_error: float
    factor: float | None = None

    def __bool__(self) -> bool:
        return self.kind == "correct"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def _as_gradient(G, name: str) -> np.ndarray:
    """G as a float array; finite values are NOT required (non-finite G is a diagnosis)."""
    arr = np.asarray(G)
    if arr.dtype.kind != "f" or arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must hold float32 or float64 numbers, got dtype {arr.dtype}; "
                        f"convert it explicitly, e.g. {name}.astype(float)")
    return arr.astype(np.float64, copy=False)


def _same(G: np.ndarray, M: np.ndarray, tol: float, atol: float = 0.0) -> bool:
    return G.shape == M.shape and (relative_error(G, M) <= tol or float(np.linalg.norm(G - M)) <= atol)


def _scale_message(c: float, tol: float) -> str:
    def near(a: float) -> bool:
        return abs(c - a) <= max(tol, 1e-12) * abs(a)
    if near(2.0):
        return ("your gradient is twice the correct one: you probably forgot the 1/2 — "
                "the derivative of 1/2 ||s - y||^2 is s - y, not 2 (s - y)")
    if near(0.5):
        return ("your gradient is half the correct one: an extra factor 1/2 — e.g. the 1/2 of "
                "E = 1/2 ||s - y||^2 kept although differentiating the square already cancelled it")
    if c < 0:
        return (f"your gradient is {c:.6g} times the correct one: the sign is wrong and there is a "
                "constant factor too (look at s - y versus y - s and at constants such as 1/2 or 1/B)")
    return (f"your gradient is {c:.6g} times the correct one: a constant factor is wrong or missing "
            "(look for a 1/2, a batch size B used twice or not at all, or a learning rate inside the gradient)")


def _mistake_message(key: str) -> str:
    return MISTAKE_EXPLANATIONS.get(key, f"your gradient equals the typical mistake {key.replace('_', ' ')!r}")


def diagnose(G, G_true, *, mistakes: Mapping[str, np.ndarray] | None = None, tol: float = 1e-6,
             atol: float = 0.0) -> Diagnosis:
    """Compare a gradient G with the correct G_true and name the mistake, if any.

    G, G_true: float arrays (G_true finite; G_true's shape is the right one, e.g. (m, n) for dE/dW).
    ``mistakes``: optional known wrong answers {name: array}; their names become kinds.
    ``tol``: "equal" means relative error <= tol; ``atol``: G also counts as correct when
    ||G - G_true|| <= atol (useful when G_true is zero up to round-off).

    Kinds, tested in this order (:func:`check_gradient` adds "inconclusive"): "non_finite"
    (G has NaN/inf); "correct"; "transposed" (G = G_true^T); "wrong_sign" (G = -G_true);
    "scaled" (G = c G_true, c != 0, 1, ``factor`` = c);
    a key of ``mistakes``; "shape" (shape differs from G_true's and none of the above);
    "wrong" (anything else; the message gives the relative error and the worst entry).
    """
    G_true = as_float_array(G_true, "G_true").astype(np.float64, copy=False)
    G = _as_gradient(G, "G")
    if not (tol >= 0 and atol >= 0):
        raise ValueError(f"tol and atol must be non-negative, got tol={tol}, atol={atol}")
    mistakes = {} if mistakes is None else {k: _as_gradient(M, f"mistakes[{k!r}]") for k, M in mistakes.items()}

    if not np.all(np.isfinite(G)):
        bad = int(np.size(G) - np.count_nonzero(np.isfinite(G)))
        entries = "entry" if bad == 1 else "entries"
        return Diagnosis("non_finite", f"your gradient contains {bad} NaN or infinite {entries}: "
                         "look for an overflow (e.g. exp of a large number), a division by zero or log(0)",
                         float("inf"))

    def known_mistake(err: float) -> Diagnosis | None:
        for key, M in mistakes.items():
            if _same(G, M, tol) and not _same(M, G_true, tol, atol):
                return Diagnosis(key, _mistake_message(key), err)
        return None

    if G.shape != G_true.shape:
        T = G_true.T
        if G.shape == T.shape:
            err = relative_error(G, T)
            if err <= tol:
                return Diagnosis("transposed", f"your gradient is the transpose of the correct one: it has shape "
                                 f"{G.shape} but a gradient has the shape of its variable, {G_true.shape}", err)
        found = known_mistake(float("inf"))
        if found is not None:
            return found
        hint, err = "", float("inf")
        if G.size == G_true.size:
            err = relative_error(G.reshape(G_true.shape), G_true)
            if err <= tol:
                hint = " Its numbers are right: only the shape is wrong (reshape it, e.g. to a column)."
            elif G.shape == T.shape:
                hint = (" It has the shape of the transpose, but even transposed it is not correct "
                        f"(relative error {relative_error(G, T):.2e}).")
        return Diagnosis("shape", f"your gradient has shape {G.shape} but it must have the shape of the variable, "
                         f"{G_true.shape}.{hint}", err)

    err = relative_error(G, G_true)
    if err <= tol:
        return Diagnosis("correct", f"your gradient is correct (relative error {err:.2e} <= {tol:.0e})", err)
    if float(np.linalg.norm(G - G_true)) <= atol:
        return Diagnosis("correct", f"your gradient is correct: it differs from the reference by "
                         f"{np.linalg.norm(G - G_true):.1e} <= atol = {atol:.1e} (round-off level)", err)
    if G_true.ndim == 2 and _same(G, G_true.T, tol):
        return Diagnosis("transposed", "your gradient is the transpose of the correct one: entry (i, j) holds "
                         "dE/dw_ji; check the order of the outer product (delta x^T, not x delta^T)", err)
    norm_true2 = float(np.sum(G_true * G_true))
    if norm_true2 > 0 and np.any(G != 0):
        if _same(G, -G_true, tol):
            return Diagnosis("wrong_sign", "your gradient has the wrong sign: it points downhill, so gradient "
                             "descent would climb (look for y - s where s - y belongs, or a minus sign "
                             "lost in the chain rule)", err)
        c = float(np.sum(G * G_true)) / norm_true2          # the least-squares factor of G ~ c G_true
        if np.isfinite(c) and c != 0 and _same(G, c * G_true, tol):
            return Diagnosis("scaled", _scale_message(c, tol), err, c)
    found = known_mistake(err)
    if found is not None:
        return found
    if not np.any(G != 0):
        return Diagnosis("wrong", "your gradient is zero everywhere but the correct one is not "
                         "(is the gradient computed at all, or overwritten?)", err)
    if norm_true2 == 0:
        return Diagnosis("wrong", "the correct gradient is zero here, but yours is not "
                         f"(largest entry {float(np.max(np.abs(G))):.3g})", err)
    worst = np.unravel_index(int(np.argmax(np.abs(G - G_true))), G.shape)
    return Diagnosis("wrong", f"your gradient is wrong (relative error {err:.2e} > {tol:.0e}) and matches no typical "
                     f"mistake; the largest disagreement is at entry {tuple(int(i) for i in worst)}", err)


def check_gradient(f: Callable[[np.ndarray], float], A, G, *, mistakes: Mapping[str, np.ndarray] | None = None,
                   h: float = 1e-6, tol: float = 1e-6, atol: float | None = None) -> Diagnosis:
    """Diagnose G as the gradient of the scalar f at A, with G_true from central differences.

    Round-off makes the numerical G_true uncertain by up to about
    ``noise = 10 eps |f(A)| / h * sqrt(A.size)`` (eps of A's dtype; ``atol`` overrides it),
    and round-off must never decide the verdict:

    * if ||G|| and ||G_true|| are both below ``noise`` and the noise is small (<= 1e-6 |f(A)|),
      the gradient is zero up to round-off and G is "correct";
    * a failure with ||G - G_true|| <= noise gets kind "inconclusive" (the reference is too noisy
      to judge: use a larger h, or float64) instead of being reported as a mistake;
    * when the reference is noisier than ``tol`` (relative), a "wrong" verdict is re-examined: a
      mistake pattern (transposed, sign, scale, ``mistakes``) matched to within 2 noise / ||G_true||
      is named.

    Otherwise the result is :func:`diagnose` (G, G_true, mistakes=mistakes, tol=tol).
    """
    A = as_float_array(A, "A")
    G_true = numerical_gradient(f, A, h)
    f0 = abs(float(f(A.copy())))
    noise = 10 * float(np.finfo(A.dtype).eps) * f0 / h * float(np.sqrt(A.size)) if atol is None else float(atol)
    G_arr = _as_gradient(G, "G")
    comparable = bool(np.all(np.isfinite(G_arr))) and G_arr.shape == G_true.shape
    if comparable and noise <= 1e-6 * f0 and float(np.linalg.norm(G_true)) <= noise \
            and float(np.linalg.norm(G_arr)) <= noise:
        return Diagnosis("correct", f"your gradient is correct: it is zero up to round-off (norm <= {noise:.1e}), "
                         "and so is the numerical one", relative_error(G_arr, G_true))
    d = diagnose(G_arr, G_true, mistakes=mistakes, tol=tol)
    n_true = float(np.linalg.norm(G_true))
    if d.kind == "wrong" and n_true > 0 and noise / n_true > tol:
        # the reference is only good to about noise / ||G_true||: name a pattern within that accuracy
        d2 = diagnose(G_arr, G_true, mistakes=mistakes, tol=2 * noise / n_true)
        if d2.kind not in ("correct", "wrong"):
            d = Diagnosis(d2.kind, d2.message, d.relative_error, d2.factor)
    if d.kind not in ("correct", "non_finite") and comparable and float(np.linalg.norm(G_arr - G_true)) <= noise:
        return Diagnosis("inconclusive", f"cannot judge: at step h = {h:g} round-off makes the numerical gradient "
                         f"uncertain by up to {noise:.1e} (norm), as much as its distance "
                         f"{np.linalg.norm(G_arr - G_true):.1e} "
                         "to your gradient; use a larger h (about eps**(1/3) times the size of A's entries) "
                         "or compute in float64", d.relative_error)
    return d


def seed_mistakes(W, x, y) -> dict[str, np.ndarray]:
    """Typical wrong answers for G = dE/dW of the seed network, each of shape (m, n) like W.

    With delta = (s - s*s) * (s - y) the correct G is delta x^T. The mistakes:
    "missing_activation_derivative": (s - y) x^T;
    "sigma_instead_of_sigma_prime": (s * (s - y)) x^T;
    "sigma_prime_at_s": ((sigma(s) - sigma(s)^2) * (s - y)) x^T;
    "reshape_instead_of_transpose": (x delta^T).reshape(m, n).
    (Transposed, sign and constant-factor mistakes are recognised by :func:`diagnose` itself.)
    """
    fw = forward(W, x, y)
    m, n = np.shape(W)
    s, r, xT = fw.s, fw.s - fw.y, fw.x.T
    delta = (s - s * s) * r
    sig_s = sigmoid(s)
    out = {
        "missing_activation_derivative": r @ xT,
        "sigma_instead_of_sigma_prime": (s * r) @ xT,
        "sigma_prime_at_s": ((sig_s - sig_s * sig_s) * r) @ xT,
        "reshape_instead_of_transpose": (fw.x @ delta.T).reshape(m, n),
    }
    dtype = np.asarray(W).dtype
    return {k: v.astype(dtype, copy=False) for k, v in out.items()}
