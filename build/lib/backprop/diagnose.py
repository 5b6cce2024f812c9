"""A gradient checker that says *what* is wrong, not only *that* something is wrong.

A hand-derived gradient G is compared with a trusted one G_true (e.g. from central
differences). Typical mistakes leave a recognisable trace:

    G = G_true^T          transposed (e.g. x delta^T instead of delta x^T)
    G = -G_true           wrong sign (y - s instead of s - y)
    G = c G_true          scaled (c = 2: the 1/2 of E = 1/2 ||s - y||^2 forgotten)
    G = M                 a known wrong answer M, e.g. (s - y) x^T: sigma' forgotten

"Equals" means a relative error ||G - M|| / (||G|| + ||M||) <= tol (and, for "correct", no
entry off by more than tol relative to itself), so round-off never matters. "correct" is tested
first: a right gradient is never reported as a mistake, even when G_true is symmetric or zero;
the supplied exact mistakes are tested after transposed and sign but before "scaled".
:func:`check_gradient` adds "inconclusive" wherever finite differences cannot decide.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ._checks import as_float_array
from .activations import sigmoid
from .checking import (Float32Warning, _first_parameter, _scale, compare, entry_errors, numerical_gradient,
                       relative_error)
from .seed import forward

__all__ = ["Diagnosis", "KINDS", "diagnose", "check_gradient", "seed_mistakes", "MISTAKE_EXPLANATIONS"]

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
    """The verdict on a gradient: ``kind`` (one of ``KINDS`` or a key of ``mistakes``), a
    ``message`` for the student, the norm ``relative_error`` ||G - G_true|| / (||G|| + ||G_true||)
    (inf when it is not defined), for kind "scaled" the ``factor`` c with G = c G_true, for kind
    "inconclusive" the ``reason`` ("kink", "resolution" or "float32", see
    :mod:`backprop.checking`), and ``worst`` = (index, analytic, numeric) of the worst entry with
    its entrywise relative error ``entry_error``. Truthy exactly when kind == "correct"."""

    kind: str
    message: str
    relative_error: float
    factor: float | None = None
    reason: str | None = None
    worst: tuple | None = None
    entry_error: float | None = None

    def __bool__(self) -> bool:
        return self.kind == "correct"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


#: Kinds :func:`diagnose` and :func:`check_gradient` return (besides the keys of ``mistakes``).
KINDS = ("non_finite", "correct", "transposed", "wrong_sign", "scaled", "shape", "wrong",
         "inconclusive")


def _as_gradient(G, name: str) -> np.ndarray:
    """G as a float array; finite values are NOT required (non-finite G is a diagnosis)."""
    if isinstance(G, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array; pass a plain ndarray (e.g. {name}.filled(...))")
    arr = np.asarray(G)
    if arr.dtype.kind != "f" or arr.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must hold float32 or float64 numbers, got dtype {arr.dtype}; "
                        f"convert it explicitly, e.g. {name}.astype(float)")
    return arr.astype(np.float64, copy=False)


def _same(G: np.ndarray, M: np.ndarray, tol: float, atol: float = 0.0) -> bool:
    return G.shape == M.shape and (relative_error(G, M) <= tol or _norm(G - M) <= atol)


def _norm(A: np.ndarray) -> float:
    """||A|| (Frobenius) without overflow or underflow in the squares."""
    s = _scale(A)
    return float(np.linalg.norm(A / s)) * s


def _matches(G: np.ndarray, M: np.ndarray, tol: float, atol: float) -> bool:
    """G equals the pattern M: in norm and entry by entry."""
    return _same(G, M, tol) and not _bad_entries(G, M, tol, atol).any()


def _bad_entries(G: np.ndarray, G_true: np.ndarray, tol: float, atol: float) -> np.ndarray:
    """Entries whose disagreement exceeds tol relative to the entry (and round-off of the array)."""
    floor = 1e3 * float(np.finfo(np.float64).eps) * float(np.abs(G_true).max(initial=0.0)) + atol
    return np.abs(G - G_true) > tol * (np.abs(G) + np.abs(G_true)) + floor


def _worst(G: np.ndarray, G_true: np.ndarray) -> tuple[tuple, float]:
    ee = entry_errors(G, G_true)
    key = np.abs(G - G_true) * (1 + ee)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(key)), G.shape)) if G.shape else ()
    return (idx, float(G[idx]), float(G_true[idx])), float(ee[idx])


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
             atol: float = 0.0, mask=None) -> Diagnosis:
    """Compare a gradient G with the correct G_true and name the mistake, if any.

    G, G_true: float arrays (G_true finite; G_true's shape is the right one, e.g. (m, n) for dE/dW).
    ``mistakes``: optional known wrong answers {name: array}; their names become kinds.
    ``tol``: "equal" means relative error <= tol, in norm AND entry by entry (an entry counts as
    wrong when |G_ij - G_true_ij| > tol (|G_ij| + |G_true_ij|) + 1000 eps max|G_true| + atol);
    ``atol``: G also counts as correct when ||G - G_true|| <= atol and no entry is wrong.
    ``mask`` (bool, shape of G_true): compare only these entries (:func:`check_gradient` leaves
    out entries whose reference is undecidable, e.g. at a kink).

    Kinds, tested in this order (:func:`check_gradient` adds "inconclusive"): "non_finite"
    (G has NaN/inf); "correct"; "transposed" (G = G_true^T); "wrong_sign" (G = -G_true);
    a key of ``mistakes`` (an exact pattern wins over "scaled": e.g. a missing sigma' with
    m = 1 is also a multiple of G_true); "scaled" (G = c G_true, c != 0, 1, ``factor`` = c); "shape" (shape differs from G_true's and none of the above);
    "wrong" (anything else; the message and ``worst`` name the worst entry).
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

    if G.shape != G_true.shape:
        return _shape_diagnosis(G, G_true, mistakes, tol, atol)

    err = relative_error(G, G_true)
    worst, worst_err = _worst(G, G_true)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != G_true.shape:
            raise ValueError(f"mask has shape {mask.shape}, expected {G_true.shape}")
        G, G_true = G * mask, G_true * mask
        mistakes = {k: M * mask if M.shape == mask.shape else M for k, M in mistakes.items()}

    def verdict(kind: str, message: str, factor: float | None = None) -> Diagnosis:
        return Diagnosis(kind, message, err, factor, worst=worst, entry_error=worst_err)

    bad = _bad_entries(G, G_true, tol, atol)
    if not bad.any() and (relative_error(G, G_true) <= tol or _norm(G - G_true) <= atol):
        return verdict("correct", f"your gradient is correct (relative error {err:.2e} <= {tol:.0e}, "
                       f"worst entry {worst_err:.1e})")
    if G_true.ndim == 2 and G.shape[0] == G.shape[1]:
        m2 = np.ones(G.shape, bool) if mask is None else (mask & mask.T)
        if _matches(G * m2, G_true.T * m2, tol, atol):
            return verdict("transposed", "your gradient is the transpose of the correct one: entry (i, j) "
                           "holds dE/dw_ji; check the order of the outer product (delta x^T, not x delta^T)")
    s = _scale(G, G_true)                               # exact; keeps tiny or huge squares finite
    norm_true2 = float(np.sum((G_true / s) ** 2))
    if norm_true2 > 0 and np.any(G != 0) and _matches(G, -G_true, tol, atol):
        return verdict("wrong_sign", "your gradient has the wrong sign: it points downhill, so gradient "
                       "descent would climb (look for y - s where s - y belongs, or a minus sign "
                       "lost in the chain rule)")
    for key, M in mistakes.items():
        if M.shape == G.shape and _matches(G, M, tol, atol) and not _same(M, G_true, tol, atol):
            return verdict(key, _mistake_message(key))
    if norm_true2 > 0 and np.any(G != 0):
        c = float(np.sum((G / s) * (G_true / s))) / norm_true2   # the least-squares factor of G ~ c G_true
        if np.isfinite(c) and c != 0 and _matches(G, c * G_true, tol, atol):
            return verdict("scaled", _scale_message(c, tol), c)
    if not np.any(G != 0):
        return verdict("wrong", "your gradient is zero everywhere but the correct one is not "
                       "(is the gradient computed at all, or overwritten?)")
    if norm_true2 == 0:
        return verdict("wrong", "the correct gradient is zero here, but yours is not "
                       f"(largest entry {float(np.max(np.abs(G))):.3g})")
    idx, g, n = worst
    n_bad = int(bad.sum())
    few = f"{n_bad} of {bad.size} entries are wrong; " if n_bad < bad.size else ""
    return verdict("wrong", f"your gradient is wrong (relative error {err:.2e}, worst entry "
                   f"{worst_err:.1e} > {tol:.0e}) and matches no typical mistake; {few}the largest "
                   f"disagreement is at entry {idx}: yours {g:.6g}, correct {n:.6g}")


def _shape_diagnosis(G, G_true, mistakes, tol, atol) -> Diagnosis:
    T = G_true.T
    if G.shape == T.shape:
        err = relative_error(G, T)
        if err <= tol:
            return Diagnosis("transposed", f"your gradient is the transpose of the correct one: it has shape "
                             f"{G.shape} but a gradient has the shape of its variable, {G_true.shape}", err)
    for key, M in mistakes.items():
        if M.shape == G.shape and _same(G, M, tol):
            return Diagnosis(key, _mistake_message(key), float("inf"))
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


def check_gradient(f: Callable[[np.ndarray], float], A, G, *, mistakes: Mapping[str, np.ndarray] | None = None,
                   h: float = 1e-6, tol: float = 1e-6, atol: float | None = None) -> Diagnosis:
    """Diagnose G as the gradient of the scalar f at A, with G_true from central differences.

    The comparison is :func:`backprop.checking.compare` (entry by entry, round-off bound
    noise_ij = 10 eps max|f| / h per entry, ``atol`` overrides it), and round-off or a kink
    never decides the verdict:

    * "correct" — every entry agrees (see :mod:`backprop.checking`), with the worst entry named;
    * "inconclusive" (``reason`` "kink", "resolution" or "float32") — the reference cannot decide:
      a kink of f within h of A where G lies between the one-sided slopes, or a gradient below
      what central differences resolve (a larger h, a scaled E or float64 decides it);
    * otherwise a mistake, named by :func:`diagnose` on the entries whose reference is reliable,
      with the tolerance widened to the reference's accuracy (2 noise / ||G_true||); a gradient
      right in norm but wrong in some entry is "wrong" and the entry is named.

    Kinds: ``KINDS`` (and the keys of ``mistakes``). Warns (Float32Warning) when A is float32.
    """
    A = as_float_array(A, "A")
    G_arr = _as_gradient(G, "G")
    if A.dtype == np.float32:
        warnings.warn("checking in float32: central differences resolve only about 3 digits; "
                      "use h ~ 1e-2 and tol ~ 1e-3, or better cast to float64", Float32Warning,
                      stacklevel=2)
    if G_arr.shape != A.shape or not np.all(np.isfinite(G_arr)):
        return diagnose(G_arr, numerical_gradient(f, A, h), mistakes=mistakes, tol=tol)
    c = compare(f, A, G_arr, h=h, tol=tol, noise=atol, name=_first_parameter(f))
    N = c.numerical
    worst, entry_err = (c.worst, c.analytic, c.numeric), float(entry_errors(G_arr, N)[c.worst])
    if c.verdict == "ok":
        loose = int((c.status == 1).sum())
        note = f"; {loose} tiny entries agree to within round-off" if loose else ""
        return Diagnosis("correct", f"your gradient is correct (relative error {c.relative_error:.2e}, "
                         f"worst entry {c.max_entry_error:.1e} <= {tol:.0e}{note})", c.relative_error,
                         worst=worst, entry_error=entry_err)
    if c.verdict == "inconclusive":
        return Diagnosis("inconclusive", "cannot judge: " + c.why(),
                         c.relative_error, reason=c.reason, worst=worst, entry_error=entry_err)
    reliable = (c.status != 2) & (c.status != 4)          # kinks: the reference is unreliable
    n_true = float(np.linalg.norm(N * reliable))
    noise = float(np.linalg.norm(c.noise * reliable))
    wide = max(tol, 2 * noise / n_true) if n_true > 0 else tol
    d = diagnose(G_arr, N, mistakes=mistakes, tol=wide, atol=2 * float(c.noise.max()),
                 mask=None if reliable.all() else reliable)
    if d.kind == "correct":          # right in norm, wrong in an entry the norm hides
        d = Diagnosis("wrong", f"your gradient is wrong at entry {c.worst}: yours {c.analytic:.6g}, "
                      f"numerical {c.numeric:.6g} (entry error {entry_err:.1e} > {tol:.0e}), although "
                      f"the relative error of the whole array is only {c.relative_error:.1e}",
                      c.relative_error)
    return Diagnosis(d.kind, d.message, c.relative_error, d.factor, worst=worst, entry_error=entry_err)


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
