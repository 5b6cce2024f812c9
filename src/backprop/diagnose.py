"""A gradient checker that says *what* is wrong, not only *that* something is wrong.

A hand-derived gradient G is compared with a trusted one G_true (e.g. from central
differences). Typical mistakes leave a recognisable trace:

    G = G_true^T          transposed (e.g. x delta^T instead of delta x^T)
    G = -G_true           wrong sign (y - s instead of s - y)
    G = c G_true          scaled (c = 2: the 1/2 of E = 1/2 ||s - y||^2 forgotten)
    G = M                 a known wrong answer M, e.g. (s - y) x^T: sigma' forgotten

"Equals" means a relative error ||G - M|| / (||G|| + ||M||) <= tol (and, for "correct", no
entry off by more than tol relative to itself), so round-off never matters; and the messages
print only digits that the round-off of G_true (``roundoff``) cannot change. "correct" is tested
first: a right gradient is never reported as a mistake, even when G_true is symmetric or zero;
the supplied exact mistakes are tested after transposed and sign but before "scaled".
:func:`check_gradient` adds "inconclusive" wherever finite differences cannot decide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass

import numpy as np

from ._checks import as_float_array
from .activations import sigmoid
from .checking import (
    RICHARDSON_NOISE,
    EntryVerdict,
    central_differences,
    common_scale,
    compare,
    determined_argmax,
    entry_errors,
    error_text,
    frobenius_norm,
    parameter_name,
    relative_error,
    value_text,
    warn_float32,
)
from .seed import forward

__all__ = ["Diagnosis", "KINDS", "diagnose", "check_gradient", "seed_mistakes", "MISTAKE_EXPLANATIONS"]

#: Student-facing explanations of the named mistakes returned by :func:`seed_mistakes`.
MISTAKE_EXPLANATIONS: dict[str, str] = {
    "missing_activation_derivative": (
        "your gradient equals (s - y) x^T: the factor sigma'(v) = s - s*s of the activation is missing "
        "(the chain rule passes through s = sigma(v), so (s - y) must be multiplied entrywise by s - s*s)"
    ),
    "sigma_instead_of_sigma_prime": (
        "your gradient equals (s * (s - y)) x^T: you multiplied by sigma(v) = s where its derivative "
        "sigma'(v) = s - s*s belongs"
    ),
    "sigma_prime_at_s": (
        "your gradient uses sigma'(s) = sigma(s)(1 - sigma(s)) instead of sigma'(v) = s - s*s: the derivative "
        "of the activation was evaluated at its output s rather than at its input v"
    ),
    "reshape_instead_of_transpose": (
        "your gradient has the right shape but scrambled entries: it equals x delta^T (shape n x m) "
        "reshaped to m x n; a reshape is not a transpose, write delta x^T (or use .T)"
    ),
}


@dataclass(repr=False)
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
    _: KW_ONLY
    reason: str | None = None
    worst: tuple | None = None
    entry_error: float | None = None

    def __bool__(self) -> bool:
        return self.kind == "correct"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def __repr__(self) -> str:  # the exact numbers are attributes; the text is machine-independent
        extra = f", reason={self.reason!r}" if self.reason else ""
        return f"Diagnosis(kind={self.kind!r}{extra}, message={self.message!r})"


#: Kinds :func:`diagnose` and :func:`check_gradient` return (besides the keys of ``mistakes``).
KINDS = ("non_finite", "correct", "transposed", "wrong_sign", "scaled", "shape", "wrong", "inconclusive")

#: "Equal up to round-off of the array": 1000 eps max|G_true| (a gradient computed another way
#: differs by a few ulps of its largest entries).
ARRAY_ROUNDOFF_ULPS = 1e3
#: A least-squares factor c is "2" or "1/2" to within max(tol, FACTOR_ROUNDOFF) relative: c is a ratio
#: of two sums of squares, good to ~1e-15, so even tol = 0 names an exact factor 2.
FACTOR_ROUNDOFF = 1e-12
#: After a mismatch, check_gradient names the mistake with the tolerance widened to what the
#: reference resolves: REFERENCE_MARGIN round-off bounds (in norm and per entry).
REFERENCE_MARGIN = 2


def _as_gradient(G, name: str) -> np.ndarray:
    """G as a float array; finite values are NOT required (non-finite G is a diagnosis)."""
    if isinstance(G, np.ma.MaskedArray):
        raise TypeError(f"{name} is a masked array; pass a plain ndarray (e.g. {name}.filled(...))")
    arr = np.asarray(G)
    if arr.dtype.kind != "f" or arr.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must hold float32 or float64 numbers, got dtype {arr.dtype}; "
            f"convert it explicitly, e.g. {name}.astype(float)"
        )
    return arr.astype(np.float64, copy=False)


def _same(G: np.ndarray, M: np.ndarray, tol: float, atol: float = 0.0) -> bool:
    return G.shape == M.shape and (relative_error(G, M) <= tol or frobenius_norm(G - M) <= atol)


def _matches(G: np.ndarray, M: np.ndarray, tol: float, atol: float) -> bool:
    """G equals the pattern M: in norm and entry by entry."""
    return _same(G, M, tol) and not _bad_entries(G, M, tol, atol).any()


def _bad_entries(G: np.ndarray, G_true: np.ndarray, tol: float, atol: float) -> np.ndarray:
    """Entries whose disagreement exceeds tol relative to the entry (and round-off of the array)."""
    floor = ARRAY_ROUNDOFF_ULPS * float(np.finfo(np.float64).eps) * float(np.abs(G_true).max(initial=0.0))
    return np.abs(G - G_true) > tol * (np.abs(G) + np.abs(G_true)) + floor + atol


@dataclass
class _Printed:
    """How a diagnosis prints numbers: only digits that G_true's round-off cannot change."""

    G: np.ndarray
    G_true: np.ndarray
    roundoff: np.ndarray  # per entry of G_true
    tol: float

    def error(self, e: float) -> str:
        return _error_text(e, self.G, self.G_true, self.roundoff, self.tol)

    def entry_error(self, idx: tuple) -> str:
        g, n = float(self.G[idx]), float(self.G_true[idx])
        size = abs(g) + abs(n)
        u = 2 * float(self.roundoff[idx])
        return error_text(float(entry_errors(g, n)), u / size if size > 0 else math.inf, self.tol)

    def values(self, idx: tuple) -> tuple[str, str]:
        return value_text(float(self.G[idx])), value_text(float(self.G_true[idx]), float(self.roundoff[idx]))

    def factor(self, c: float) -> str:
        rel = frobenius_norm(self.roundoff) / frobenius_norm(self.G_true) if np.any(self.G_true) else math.inf
        return value_text(c, abs(c) * rel)


def _error_text(e: float, G, G_true, roundoff, tol: float) -> str:
    """A relative error of G against G_true as printed (see :func:`backprop.checking.error_text`)."""
    size = frobenius_norm(G) + frobenius_norm(G_true)
    return error_text(e, frobenius_norm(roundoff) / size if size > 0 else math.inf, tol)


def _worst(G: np.ndarray, G_true: np.ndarray, roundoff: np.ndarray) -> tuple[tuple, float]:
    """(index, G entry, G_true entry) of the largest disagreement |G - G_true| (1 + entry error),
    ties within round-off to the first index; and that entry's relative error."""
    ee = entry_errors(G, G_true)
    idx = determined_argmax(np.ones(G.shape, dtype=bool), [(np.abs(G - G_true) * (1 + ee), 4 * roundoff)])
    return (idx, float(G[idx]), float(G_true[idx])), float(ee[idx])


def _scale_message(c: float, tol: float, c_text: str) -> str:
    def near(a: float) -> bool:  # "twice" / "half" within tol (and never closer than 1e-12)
        return abs(c - a) <= max(tol, FACTOR_ROUNDOFF) * abs(a)

    if near(2.0):
        return (
            "your gradient is twice the correct one: you probably forgot the 1/2 — "
            "the derivative of 1/2 ||s - y||^2 is s - y, not 2 (s - y)"
        )
    if near(0.5):
        return (
            "your gradient is half the correct one: an extra factor 1/2 — e.g. the 1/2 of "
            "E = 1/2 ||s - y||^2 kept although differentiating the square already cancelled it"
        )
    if c < 0:
        return (
            f"your gradient is {c_text} times the correct one: the sign is wrong and there is a "
            "constant factor too (look at s - y versus y - s and at constants such as 1/2 or 1/B)"
        )
    return (
        f"your gradient is {c_text} times the correct one: a constant factor is wrong or missing "
        "(look for a 1/2, a batch size B used twice or not at all, or a learning rate inside the gradient)"
    )


def _mistake_message(key: str) -> str:
    return MISTAKE_EXPLANATIONS.get(
        key, f"your gradient equals the typical mistake {key.replace('_', ' ')!r}"
    )


_MESSAGES = {
    "transposed": (
        "your gradient is the transpose of the correct one: entry (i, j) holds dE/dw_ji; "
        "check the order of the outer product (delta x^T, not x delta^T)"
    ),
    "wrong_sign": (
        "your gradient has the wrong sign: it points downhill, so gradient descent would "
        "climb (look for y - s where s - y belongs, or a minus sign lost in the chain rule)"
    ),
    "zero": (
        "your gradient is zero everywhere but the correct one is not "
        "(is the gradient computed at all, or overwritten?)"
    ),
}


def _correct_message(tol: float, atol: float) -> str:
    within = f" (or within atol = {atol:.1e} in norm)" if atol > 0 else ""
    return (
        f"your gradient is correct: it agrees with the correct one to a relative {tol:.0e}{within}, "
        "in norm and entry by entry"
    )


def _pattern(G, G_true, mistakes, tol: float, atol: float, mask) -> tuple[str, float | None]:
    """The kind of a same-shape G (see :func:`diagnose`), and the factor for "scaled"."""
    if not _bad_entries(G, G_true, tol, atol).any() and _same(G, G_true, tol, atol):
        return "correct", None
    if G_true.ndim == 2 and G.shape[0] == G.shape[1]:
        m2 = np.ones(G.shape, bool) if mask is None else (mask & mask.T)
        if _matches(G * m2, G_true.T * m2, tol, atol):
            return "transposed", None
    s = common_scale(G, G_true)  # exact; keeps tiny or huge squares finite
    norm_true2 = float(np.sum((G_true / s) ** 2))
    both = norm_true2 > 0 and np.any(G != 0)
    if both and _matches(G, -G_true, tol, atol):
        return "wrong_sign", None
    for key, M in mistakes.items():
        if M.shape == G.shape and _matches(G, M, tol, atol) and not _same(M, G_true, tol, atol):
            return key, None
    if both:
        c = float(np.sum((G / s) * (G_true / s))) / norm_true2  # the least-squares factor of G ~ c G_true
        if np.isfinite(c) and c != 0 and _matches(G, c * G_true, tol, atol):
            return "scaled", c
    return "wrong", None


def _wrong_message(printed: _Printed, err: float, idx: tuple, atol: float) -> str:
    """The message for kind "wrong": which entries, and the largest disagreement (at ``idx``)."""
    G, G_true, tol = printed.G, printed.G_true, printed.tol
    if not np.any(G != 0):
        return _MESSAGES["zero"]
    if not np.any(G_true != 0):
        return (
            "the correct gradient is zero here, but yours is not "
            f"(largest entry {value_text(float(np.max(np.abs(G))))})"
        )
    n_bad = int(_bad_entries(G, G_true, tol, atol).sum())
    few = f"{n_bad} of {G.size} entries are wrong; " if n_bad < G.size else ""
    g, n = printed.values(idx)
    return (
        f"your gradient is wrong (relative error {printed.error(err)}, worst entry "
        f"{printed.entry_error(idx)} > {tol:.0e}) and matches no typical mistake; {few}the largest "
        f"disagreement is at entry {idx}: yours {g}, correct {n}"
    )


def _non_finite_diagnosis(G: np.ndarray) -> Diagnosis:
    bad = int(np.size(G) - np.count_nonzero(np.isfinite(G)))
    entries = "entry" if bad == 1 else "entries"
    return Diagnosis(
        "non_finite",
        f"your gradient contains {bad} NaN or infinite {entries}: look for an "
        "overflow (e.g. exp of a large number), a division by zero or log(0)",
        float("inf"),
    )


def diagnose(
    G,
    G_true,
    *,
    mistakes: Mapping[str, np.ndarray] | None = None,
    tol: float = 1e-6,
    atol: float = 0.0,
    mask=None,
    roundoff=0.0,
) -> Diagnosis:
    """Compare a gradient G with the correct G_true and name the mistake, if any.

    G, G_true: float arrays (G_true finite; G_true's shape is the right one, e.g. (m, n) for dE/dW).
    ``mistakes``: optional known wrong answers {name: array}; their names become kinds.
    ``tol``: "equal" means relative error <= tol, in norm AND entry by entry (an entry counts as
    wrong when |G_ij - G_true_ij| > tol (|G_ij| + |G_true_ij|) + 1000 eps max|G_true| + atol);
    ``atol``: G also counts as correct when ||G - G_true|| <= atol and no entry is wrong.
    ``mask`` (bool, shape of G_true): compare only these entries (:func:`check_gradient` leaves
    out entries whose reference is undecidable, e.g. at a kink). ``roundoff`` (a number or an
    array of G_true's shape): how far round-off may have moved G_true's entries; the message then
    prints only digits it cannot change (0: G_true is exact).

    Kinds, tested in this order (:func:`check_gradient` adds "inconclusive"): "non_finite"
    (G has NaN/inf); "correct"; "transposed" (G = G_true^T); "wrong_sign" (G = -G_true);
    a key of ``mistakes`` (an exact pattern wins over "scaled": e.g. a missing sigma' with
    m = 1 is also a multiple of G_true); "scaled" (G = c G_true, c != 0, 1, ``factor`` = c);
    "shape" (shape differs from G_true's and none of the above);
    "wrong" (anything else; the message and ``worst`` name the worst entry).
    """
    G_true = as_float_array(G_true, "G_true").astype(np.float64, copy=False)
    G = _as_gradient(G, "G")
    if not (tol >= 0 and atol >= 0):
        raise ValueError(f"tol and atol must be non-negative, got tol={tol}, atol={atol}")
    mistakes = (
        {} if mistakes is None else {k: _as_gradient(M, f"mistakes[{k!r}]") for k, M in mistakes.items()}
    )
    if not np.all(np.isfinite(G)):
        return _non_finite_diagnosis(G)
    roundoff = np.broadcast_to(np.asarray(roundoff, dtype=np.float64), G_true.shape)
    if G.shape != G_true.shape:
        return _shape_diagnosis(G, G_true, mistakes, tol, roundoff)
    err = relative_error(G, G_true)
    worst, worst_err = _worst(G, G_true, roundoff)
    if mask is not None:
        G, G_true, mistakes = _masked(G, G_true, mistakes, mask)
    kind, factor = _pattern(G, G_true, mistakes, tol, atol, mask)
    printed = _Printed(G, G_true, roundoff, tol)
    if kind == "correct":
        message = _correct_message(tol, atol)
    elif kind == "scaled":
        message = _scale_message(factor, tol, printed.factor(factor))
    elif kind == "wrong":
        message = _wrong_message(printed, err, worst[0], atol)
    elif kind in ("transposed", "wrong_sign"):
        message = _MESSAGES[kind]
    else:
        message = _mistake_message(kind)
    return Diagnosis(kind, message, err, factor, worst=worst, entry_error=worst_err)


def _masked(G, G_true, mistakes, mask) -> tuple[np.ndarray, np.ndarray, dict]:
    """G, G_true and the mistakes with the entries outside ``mask`` set to 0."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != G_true.shape:
        raise ValueError(f"mask has shape {mask.shape}, expected {G_true.shape}")
    return G * mask, G_true * mask, {k: M * mask if M.shape == mask.shape else M for k, M in mistakes.items()}


def _shape_diagnosis(G, G_true, mistakes, tol, roundoff) -> Diagnosis:
    T = G_true.T
    if G.shape == T.shape:
        err = relative_error(G, T)
        if err <= tol:
            return Diagnosis(
                "transposed",
                f"your gradient is the transpose of the correct one: it has shape "
                f"{G.shape} but a gradient has the shape of its variable, {G_true.shape}",
                err,
            )
    for key, M in mistakes.items():
        if M.shape == G.shape and _same(G, M, tol):
            return Diagnosis(key, _mistake_message(key), float("inf"))
    hint, err = "", float("inf")
    if G.size == G_true.size:
        err = relative_error(G.reshape(G_true.shape), G_true)
        if err <= tol:
            hint = " Its numbers are right: only the shape is wrong (reshape it, e.g. to a column)."
        elif G.shape == T.shape:
            shown = _error_text(relative_error(G, T), G, T, roundoff, tol)
            hint = (
                " It has the shape of the transpose, but even transposed it is not correct "
                f"(relative error {shown})."
            )
    return Diagnosis(
        "shape",
        f"your gradient has shape {G.shape} but it must have the shape of the variable, "
        f"{G_true.shape}.{hint}",
        err,
    )


def check_gradient(
    f: Callable[[np.ndarray], float],
    A,
    G,
    *,
    mistakes: Mapping[str, np.ndarray] | None = None,
    h: float = 1e-6,
    tol: float = 1e-6,
    atol: float | None = None,
) -> Diagnosis:
    """Diagnose G as the gradient of the scalar f at A, with G_true from central differences.

    The comparison is :func:`backprop.checking.compare` (entry by entry, round-off bound
    noise_ij = 10 eps max|f| / h per entry, ``atol`` overrides it), and round-off or a kink
    never decides the verdict:

    * "correct" — every entry agrees (see :mod:`backprop.checking`);
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
        warn_float32(stacklevel=2)
    if G_arr.shape != A.shape or not np.all(np.isfinite(G_arr)):
        N, noise = central_differences(f, A, h)
        return diagnose(G_arr, N, mistakes=mistakes, tol=tol, roundoff=noise)
    c = compare(f, A, G_arr, h=h, tol=tol, noise=atol, name=parameter_name(f))
    worst, entry_err = (c.worst, c.analytic, c.numeric), float(entry_errors(G_arr, c.numerical)[c.worst])
    if c.verdict == "ok":
        return Diagnosis(
            "correct", _correct_message(tol, 0.0), c.relative_error, worst=worst, entry_error=entry_err
        )
    if c.verdict == "inconclusive":
        return Diagnosis(
            "inconclusive",
            "cannot judge: " + c.why(),
            c.relative_error,
            reason=c.reason,
            worst=worst,
            entry_error=entry_err,
        )
    d = _named_mistake(c, G_arr, mistakes, tol)
    return Diagnosis(d.kind, d.message, c.relative_error, d.factor, worst=worst, entry_error=entry_err)


def _named_mistake(c, G: np.ndarray, mistakes, tol: float) -> Diagnosis:
    """The mistake in G after a mismatch, named on the entries where the reference is reliable."""
    N = c.numerical
    reliable = (c.status != EntryVerdict.INCONCLUSIVE_KINK) & (c.status != EntryVerdict.MISMATCH_AT_KINK)
    n_true = frobenius_norm(N * reliable)
    noise = frobenius_norm(c.noise * reliable)
    wide = max(tol, REFERENCE_MARGIN * noise / n_true) if n_true > 0 else tol
    d = diagnose(
        G,
        N,
        mistakes=mistakes,
        tol=wide,
        atol=REFERENCE_MARGIN * float(c.noise.max()),
        mask=None if reliable.all() else reliable,
        roundoff=RICHARDSON_NOISE * c.noise,
    )
    if d.kind != "correct":
        return d
    (g, n), (norm, entry) = c.values_text(), c.errors_text()  # right in norm, wrong in an entry
    return Diagnosis(
        "wrong",
        f"your gradient is wrong at entry {c.worst}: yours {g}, numerical {n} "
        f"(entry error {entry} > {tol:.0e}), although the relative error of the whole "
        f"array is only {norm}",
        c.relative_error,
    )


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
