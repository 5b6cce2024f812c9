"""Gradient checking by central finite differences, with verdicts that never lie.

For a scalar function E of an array A, entry (i, j) of the numerical gradient is

    (E(A + h e_ij) - E(A - h e_ij)) / (2 h),

whose error is O(h^2) (truncation) plus O(eps |E| / h) (round-off). The forward
difference (E(A + h e_ij) - E(A)) / h (``scheme="forward"``) has truncation error O(h) only.

:func:`gradcheck` compares a supplied gradient G with the numerical N **entry by entry**;
each entry gets an :class:`EntryVerdict` and every parameter one of three verdicts (``VERDICTS``):

* ``"ok"`` — every entry agrees: |G_ij - N_ij| <= tol (|G_ij| + |N_ij|) where N_ij is above
  its round-off bound noise_ij = 10 eps max|E| / h, or |G_ij - N_ij| <= noise_ij, and the
  entries judged only within round-off are too small (in norm) to change the relative error by tol;
* ``"mismatch"`` — some entry disagrees although the reference is reliable there;
* ``"inconclusive"`` — the reference cannot decide, with the reason (``REASONS``):
  ``"kink"`` (E is not smooth within h of A along that entry, and G lies between its one-sided
  slopes: a ReLU or max switching inside the step), ``"resolution"`` (the gradient is below what
  central differences resolve at this h and scale of E: a change of E by h times the gradient
  is lost in E's own rounding) or ``"float32"`` (the same, caused by float32 round-off; a
  :class:`Float32Warning` is issued whenever A is float32).

An entry that disagrees is probed at four more points (A + t e_ij, t = -h, -h/2, 0, h/2, h):
the fourth difference detects a kink, and Richardson extrapolation (4 N(h/2) - N(h)) / 3 removes
the h^2 truncation before the disagreement is confirmed. An entry along which E does not change
at all is re-measured at a step FLAT_STEP_FACTOR h: if E is still exactly flat there, its
round-off bound shrinks accordingly (a dead ReLU unit). Differences that are all zero do not make
a zero gradient correct (a saturated network, whose gradient is tiny but not zero, gives them
too): only when E is also unchanged at the far step FAR_STEP does it not depend on the entries.

The printed report (``str(report)``) shows only what the maths determines, so that it is the
same on every CPU, BLAS kernel and thread count: an error at round-off level is printed as a bound
(``<= 1e-06`` for a passing parameter), a value only to the digits its round-off cannot change
(:data:`DIGIT_MARGIN`), and the worst entry only for a mismatch or a kink, where it is decided by
the disagreement, not by round-off.
"""

from __future__ import annotations

import inspect
import math
import textwrap
import warnings
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from enum import IntEnum

import numpy as np

from ._checks import as_float_array

__all__ = [
    "numerical_gradient",
    "central_differences",
    "relative_error",
    "entry_errors",
    "compare",
    "Comparison",
    "GradcheckReport",
    "gradcheck",
    "Float32Warning",
    "warn_float32",
    "VERDICTS",
    "REASONS",
    "EntryVerdict",
    "error_text",
    "value_text",
    "determined_argmax",
    "parameter_name",
    "common_scale",
    "frobenius_norm",
    "ROUNDOFF_ULPS",
    "DIGIT_MARGIN",
    "RICHARDSON_NOISE",
]

VERDICTS = ("ok", "mismatch", "inconclusive")
REASONS = ("kink", "resolution", "float32")


class EntryVerdict(IntEnum):
    """The state of one entry of a gradient after :func:`compare` (``Comparison.status``)."""

    AGREES = 0  #: |G - N| <= tol (|G| + |N|), and N is above its round-off
    WITHIN_ROUNDOFF = 1  #: |G - N| <= round-off of N: judged only in norm (see ``"resolution"``)
    INCONCLUSIVE_KINK = 2  #: a kink of E within h, G between the one-sided slopes: undecidable
    MISMATCH = 3  #: a disagreement confirmed after Richardson extrapolation
    MISMATCH_AT_KINK = 4  #: a kink of E within h, and G outside the one-sided slopes


#: One evaluation of E is trusted to ROUNDOFF_ULPS eps |E|: a sum of many rounded terms loses a
#: few units in the last place, so noise_ij = ROUNDOFF_ULPS eps max|E| / h bounds N_ij's round-off.
#: When E is a sum of terms that cancel (E = u : f(A) for a VJP check), its round-off follows the
#: size of the terms, not of their sum: such an E carries ``E.roundoff_scale`` = sum |u * f(A)|,
#: used in place of |E| where it is larger (see :func:`roundoff_scale`).
ROUNDOFF_ULPS = 10
#: A printed value keeps only digits DIGIT_MARGIN times coarser than its round-off bound, and a
#: worst entry is named only where the disagreements differ by more than DIGIT_MARGIN round-off
#: bounds: the last bits of another CPU, BLAS kernel or thread count then cannot change the text.
DIGIT_MARGIN = 1e3
#: An entry along which E is exactly flat at +-h is re-measured at +-FLAT_STEP_FACTOR h (at most
#: FLAT_STEP_MAX): flat there too, |dE/da| is below round-off / (FLAT_STEP_FACTOR h).
FLAT_STEP_FACTOR = 1e3
FLAT_STEP_MAX = 1e-2
#: When E is flat along every entry even at that step, the entries are tried at +-FAR_STEP: E that is
#: still exactly unchanged does not depend on them (a zero gradient is then correct), whereas a
#: saturated sigmoid (pre-activations ~ 40, gradient ~ 1e-18) wakes up at such a step.
FAR_STEP = 1e3
#: Kink test on the four slopes S_k of E between t = -h, -h/2, 0, h/2, h (see :func:`_probe`).
SLOPE_ROUNDOFF_ULPS = 4  # a slope is a difference of two evaluations over h/2: 4 eps max|E| / (h/2)
KINK_SPREAD = 25  # the slopes must spread over 25 times their round-off to show a kink at all
KINK_CURVATURE = 0.1  # a kink makes max|second difference of S| >= spread / 3; smooth E, O(h^2)
KINK_SLOPE_MARGIN = 0.01  # G may lie 1 % of the spread outside the sampled one-sided slopes
KINK_NOISE_MARGIN = 4  # ... and 4 round-off bounds of N_ij (the slopes are noisy too)
#: Richardson's estimate (4 N(h/2) - N(h)) / 3 carries (4 * 2 + 1) / 3 = 3 round-off bounds.
RICHARDSON_NOISE = 3

FLOAT32_MESSAGE = (
    "checking in float32: central differences resolve only about 3 digits; "
    "use h ~ 1e-2 and tol ~ 1e-3, or better cast to float64"
)


class Float32Warning(UserWarning):
    """Finite differences in float32 resolve only about 3 digits of a gradient."""


def warn_float32(stacklevel: int = 2) -> None:
    """Issue the :class:`Float32Warning` (at the caller's caller with the default stacklevel)."""
    warnings.warn(FLOAT32_MESSAGE, Float32Warning, stacklevel=stacklevel + 1)


# -- central differences ----------------------------------------------------------------------


def _values_along(f, A: np.ndarray, t: float, entries) -> np.ndarray:
    """f(A + t e_idx) for each idx of ``entries``; A (a private copy) is restored after each call."""
    out = np.empty(len(entries))
    for k, idx in enumerate(entries):
        old = A[idx]
        A[idx] = old + t
        try:
            out[k] = _scalar(f(A))
        finally:
            A[idx] = old
    return out


def _values_far(f, A: np.ndarray, t: float, entries) -> np.ndarray:
    """Like :func:`_values_along` for a step far outside f's usual domain: NaN wherever f fails or
    overflows there, and no warning reaches the caller."""
    out = np.full(len(entries), np.nan)
    for k, idx in enumerate(entries):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                out[k] = _values_along(f, A, t, [idx])[0]
            except (ArithmeticError, ValueError):
                pass
    return out


def _all_entries(A: np.ndarray) -> list[tuple[int, ...]]:
    return list(np.ndindex(A.shape))


def numerical_gradient(
    f: Callable[[np.ndarray], float], A, h: float = 1e-6, scheme: str = "central"
) -> np.ndarray:
    """Finite-difference gradient of the scalar ``f`` at ``A``; returns a float64 array of A's shape.

    ``scheme="central"`` (default): (f(A + h e) - f(A - h e)) / (2h), error O(h^2);
    ``scheme="forward"``: (f(A + h e) - f(A)) / h, error O(h); ``scheme="backward"``:
    (f(A) - f(A - h e)) / h. ``f`` is called with a perturbed *copy* of A; A is never modified.
    """
    A = as_float_array(A, "A").copy()
    _check_h(h)
    if scheme not in ("central", "forward", "backward"):
        raise ValueError(f"scheme must be 'central', 'forward' or 'backward', got {scheme!r}")
    if scheme == "central":
        return _measure(f, A, h, None).N
    entries = _all_entries(A)
    if scheme == "forward":
        f_0 = _scalar(f(A))
        diff, step = _values_along(f, A, h, entries) - f_0, h
    else:
        f_0 = _scalar(f(A))
        diff, step = f_0 - _values_along(f, A, -h, entries), h
    return (diff / step).reshape(A.shape)


# -- relative errors and norms ----------------------------------------------------------------


def relative_error(G, N) -> float:
    """||G - N|| / (||G|| + ||N||) (Frobenius norms); 0 when both are zero. Shapes must match."""
    G, N = _same_shape(G, N)
    s = common_scale(G, N)  # 1 unless the entries are so large or small that squares overflow
    G, N = G / s, N / s
    denom = np.linalg.norm(G) + np.linalg.norm(N)
    return 0.0 if denom == 0 else float(np.linalg.norm(G - N) / denom)


def entry_errors(G, N) -> np.ndarray:
    """Entrywise relative error |G_ij - N_ij| / (|G_ij| + |N_ij|), 0 where both are 0; shape of G."""
    G, N = _same_shape(G, N)
    denom = np.abs(G) + np.abs(N)
    return np.divide(np.abs(G - N), denom, out=np.zeros(G.shape), where=denom > 0)


def _same_shape(G, N) -> tuple[np.ndarray, np.ndarray]:
    G, N = np.asarray(G, dtype=np.float64), np.asarray(N, dtype=np.float64)
    if G.shape != N.shape:
        raise ValueError(f"gradient has shape {G.shape} but the numerical gradient has shape {N.shape}")
    return G, N


def common_scale(*arrays: np.ndarray) -> float:
    """A power of two near the largest |entry| when that is outside [2^-500, 2^500], else 1.

    Dividing by it is exact and keeps every ratio, and the squares inside a norm then neither
    overflow (entries ~1e200 gave nan) nor underflow (entries ~1e-200 gave ||G|| = 0, so any two
    tiny gradients had relative error 0)."""
    m = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    if m == 0.0 or not math.isfinite(m) or 2.0**-500 < m < 2.0**500:
        return 1.0
    return math.ldexp(1.0, math.frexp(m)[1])


def frobenius_norm(A) -> float:
    """||A|| (Frobenius) without overflow or underflow in the squares."""
    A = np.asarray(A, dtype=np.float64)
    s = common_scale(A)
    return float(np.linalg.norm(A / s)) * s


# -- input checks -----------------------------------------------------------------------------


def _check_h(h) -> None:
    if not (
        isinstance(h, (float, int, np.floating, np.integer))
        and not isinstance(h, bool)
        and np.isfinite(h)
        and h > 0
    ):
        raise ValueError(f"step h must be a positive finite number, got {h!r}")


def _scalar(value) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "fiu":
        raise ValueError(f"the function must return a real scalar, got {arr.dtype} of shape {arr.shape}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError("the function returned NaN or inf: the check needs finite values")
    return out


def _checked(A, G, h, tol, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A (a private copy) and G (float64) after the checks of :func:`compare`'s arguments."""
    A = as_float_array(A, name).copy()
    _check_h(h)
    if not (isinstance(tol, (float, int, np.floating)) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    G = np.asarray(G)
    if G.dtype.kind != "f" or G.dtype.char not in "fd":
        raise TypeError(f"the gradient of {name} must be float32 or float64, got dtype {G.dtype}")
    if G.shape != A.shape:
        raise ValueError(
            f"the gradient of {name} has shape {G.shape} but {name} has shape {A.shape}; "
            "a gradient has the shape of its variable"
        )
    return A, G.astype(np.float64)


# -- printing only what the maths determines --------------------------------------------------


def _decade_above(x: float) -> str:
    return f"{10.0 ** math.ceil(math.log10(x)):.0e}"


def error_text(e: float, roundoff: float, tol: float, passed: bool = False) -> str:
    """A relative error as printed: the same text on every CPU, BLAS kernel and thread count.

    ``roundoff`` bounds how far round-off can move ``e``. A passing error (``passed``, e <= tol)
    prints as ``<= tol``; an error DIGIT_MARGIN times above its round-off with two digits; a
    smaller one as the bound ``< 1e-05`` that round-off cannot cross; and ``-`` when round-off
    leaves nothing to say.
    """
    if not math.isfinite(e):
        return "inf" if e > 0 else "nan"
    if passed and e <= tol:
        return f"<= {tol:.0e}"
    if roundoff == 0 or (e > 0 and e >= DIGIT_MARGIN * roundoff):
        return f"{e:.1e}"
    return f"< {_decade_above(DIGIT_MARGIN * roundoff)}" if DIGIT_MARGIN * roundoff < 1 else "-"


def _digits(v: float, roundoff: float) -> int:
    """Significant digits of v (at most 4) that a perturbation DIGIT_MARGIN x roundoff cannot change."""
    if v == 0 or roundoff == 0 or not math.isfinite(v):
        return 4
    return min(4, math.floor(math.log10(abs(v) / (DIGIT_MARGIN * roundoff))) + 1)


def value_text(v: float, roundoff: float = 0.0, table: bool = False) -> str:
    """A gradient entry as printed: only digits that round-off cannot change (``0 ± 1e-05`` if none).

    ``table``: exponent notation (``-3.966e-03``) for columns, else the shortest (``-0.003966``).
    """
    p = _digits(v, roundoff)
    if p < 1:
        return f"0 ± {_decade_above(DIGIT_MARGIN * roundoff)}"
    return f"{v:.{p - 1}e}" if table else f"{v:.{p}g}"


# -- one comparison ---------------------------------------------------------------------------


@dataclass
class _Differences:
    """E at A and at A +- h e_ij for every entry, N and its round-off bound (mutable: probes refine)."""

    f: Callable
    A: np.ndarray
    h: float
    eps: float
    f0: float
    plus: np.ndarray
    minus: np.ndarray
    N: np.ndarray
    noise: np.ndarray
    noise_given: bool
    flat: np.ndarray = field(default=None)  # entries flat at +-FLAT_STEP_FACTOR h too


def _measure(f, A: np.ndarray, h: float, noise: float | None) -> _Differences:
    """Central differences of f at A, with noise_ij = ROUNDOFF_ULPS eps max|E| / h (or ``noise``)."""
    eps = float(np.finfo(A.dtype).eps)
    f0 = _scalar(f(A))
    entries = _all_entries(A)
    plus = _values_along(f, A, h, entries).reshape(A.shape)
    minus = _values_along(f, A, -h, entries).reshape(A.shape)
    if noise is None:
        size = np.maximum(np.maximum(abs(plus), abs(minus)), max(abs(f0), roundoff_scale(f)))
        bound = ROUNDOFF_ULPS * eps * size / h
    else:
        bound = np.full(A.shape, float(noise))
    return _Differences(
        f,
        A,
        h,
        eps,
        f0,
        plus,
        minus,
        (plus - minus) / (2 * h),
        bound,
        noise is not None,
        np.zeros(A.shape, dtype=bool),
    )


def roundoff_scale(f) -> float:
    """The size of the terms the scalar f sums (``f.roundoff_scale``), 0 when f does not say.

    Set it on an E that contracts an output with an upstream gradient, E = u : out, to
    sum |u * out|: its rounding is that large even where the terms cancel and E is small."""
    return float(getattr(f, "roundoff_scale", 0.0))


def central_differences(
    f: Callable[[np.ndarray], float], A, h: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """The central-difference gradient N of the scalar f at A and the round-off bound of each of its
    entries, ROUNDOFF_ULPS eps max|f| / h (both float64, of A's shape); A is not modified."""
    A = as_float_array(A, "A").copy()
    _check_h(h)
    m = _measure(f, A, h, None)
    return m.N, m.noise


def _classify(G: np.ndarray, N: np.ndarray, noise: np.ndarray, tol: float) -> np.ndarray:
    """First verdict per entry: agrees (N above round-off), within round-off, or disputed."""
    d = np.abs(G - N)
    agrees = d <= tol * (np.abs(G) + np.abs(N))
    resolved = np.abs(N) > noise  # N = 0 or round-off says nothing about the entry
    return np.select(
        [agrees & resolved, agrees | (d <= noise)],
        [EntryVerdict.AGREES, EntryVerdict.WITHIN_ROUNDOFF],
        EntryVerdict.MISMATCH,
    ).astype(np.int64)


def _probe(m: _Differences, idx: tuple, g: float, tol: float) -> tuple[EntryVerdict, float]:
    """Verdict on one disputed entry and its refined N, from E at t = -h, -h/2, 0, h/2, h.

    The four slopes S_k of E between those points lie on a line when E is smooth (their second
    difference is O(h^2)); one kink anywhere inside makes that second difference at least a
    third of their spread, and can move the central difference by at most half the spread.
    """
    h, n, noise = m.h, float(m.N[idx]), float(m.noise[idx])
    fph, fmh = (float(_values_along(m.f, m.A, t, [idx])[0]) for t in (h / 2, -h / 2))
    D = np.array([m.minus[idx], fmh, m.f0, fph, m.plus[idx]])
    S = np.diff(D) / (h / 2)
    spread = float(S.max() - S.min())
    noise_S = SLOPE_ROUNDOFF_ULPS * m.eps * float(np.abs(D).max()) / (h / 2)
    if spread > KINK_SPREAD * noise_S and float(np.abs(np.diff(S, 2)).max()) > KINK_CURVATURE * spread:
        margin = tol * (abs(g) + abs(n)) + KINK_NOISE_MARGIN * noise + KINK_SLOPE_MARGIN * spread
        inside = S.min() - margin <= g <= S.max() + margin
        return (EntryVerdict.INCONCLUSIVE_KINK if inside else EntryVerdict.MISMATCH_AT_KINK), n
    richardson = (4 * (fph - fmh) / h - n) / 3
    if abs(g - richardson) <= tol * (abs(g) + abs(richardson)) + noise:
        return EntryVerdict.AGREES, richardson  # the disagreement was truncation
    return EntryVerdict.MISMATCH, richardson


def _flat_step(h: float) -> float:
    return min(FLAT_STEP_FACTOR * h, FLAT_STEP_MAX)


def _remeasure_flat(m: _Differences, G: np.ndarray, status: np.ndarray) -> None:
    """Entries along which E is exactly flat at +-h: measured again at a larger step.

    Flat there too (a dead ReLU, an unused input), the entry's round-off bound shrinks to that
    of the larger step, and a G entry above it is a mismatch. Otherwise the bound stays that of h.
    """
    big = _flat_step(m.h)
    flat = (status == EntryVerdict.WITHIN_ROUNDOFF) & (m.plus == m.f0) & (m.minus == m.f0)
    entries = list(zip(*np.nonzero(flat)))
    if m.noise_given or big <= m.h or not entries:
        return
    up, down = _values_along(m.f, m.A, big, entries), _values_along(m.f, m.A, -big, entries)
    for k, idx in enumerate(entries):
        if up[k] == m.f0 == down[k]:
            m.flat[idx] = True
            m.noise[idx] = ROUNDOFF_ULPS * m.eps * abs(m.f0) / big
            if abs(G[idx]) > m.noise[idx]:
                status[idx] = EntryVerdict.MISMATCH


def _remeasure_far(m: _Differences, G: np.ndarray, status: np.ndarray) -> None:
    """When E is exactly flat along every entry at +-FLAT_STEP_FACTOR h: measured again at +-FAR_STEP.

    Flat there as well, E does not depend on the entry (an unused input): a zero G entry agrees.
    A saturated network, whose tiny gradient is not zero, changes at that step and stays unresolved.
    """
    entries = list(zip(*np.nonzero(m.flat & (G == 0))))
    up, down = _values_far(m.f, m.A, FAR_STEP, entries), _values_far(m.f, m.A, -FAR_STEP, entries)
    for k, idx in enumerate(entries):
        if up[k] == m.f0 == down[k]:
            status[idx] = EntryVerdict.AGREES


def _settle(m: _Differences, G: np.ndarray, status: np.ndarray, tol: float) -> None:
    """Probe every disputed entry (kink or truncation?) and re-measure the flat ones, in place."""
    for idx in zip(*np.nonzero(status == EntryVerdict.MISMATCH)):
        status[idx], m.N[idx] = _probe(m, idx, float(G[idx]), tol)
    _remeasure_flat(m, G, status)
    if m.flat.all():
        _remeasure_far(m, G, status)


def _verdict(G, m: _Differences, status: np.ndarray, tol: float) -> tuple[str, str | None]:
    """The parameter's verdict and reason from its entries' verdicts (see the module docstring)."""
    if np.any(status >= EntryVerdict.MISMATCH):
        return "mismatch", None
    if np.any(status == EntryVerdict.INCONCLUSIVE_KINK):
        return "inconclusive", "kink"
    unresolved = frobenius_norm(m.noise[status == EntryVerdict.WITHIN_ROUNDOFF])
    if unresolved > tol * (frobenius_norm(G) + frobenius_norm(m.N)):
        return "inconclusive", "float32" if m.A.dtype == np.float32 else "resolution"
    return "ok", None


def determined_argmax(pool: np.ndarray, keys) -> tuple[int, ...]:
    """The first index (C order) of ``pool`` that maximises the keys lexicographically, where two
    values count as equal when they differ by less than DIGIT_MARGIN times their round-off.

    ``keys``: (values, roundoff) pairs of arrays of pool's shape. Entries that only round-off
    separates are ties, and ties go to the first index: the choice is the same on every machine.
    """
    pool = pool.copy()
    for values, roundoff in keys:
        top = float(values[pool].max())
        pool &= values >= top - DIGIT_MARGIN * roundoff
    return tuple(int(i) for i in np.argwhere(pool)[0]) if pool.ndim else ()


def _worst(G, N, noise, status, verdict: str, reason: str | None) -> tuple[int, ...]:
    """The entry the verdict is about: the largest confirmed disagreement (mismatch), the kink
    with the largest disagreement (kink); otherwise the largest entry error (round-off decides it)."""
    if verdict == "mismatch":
        pool = status >= EntryVerdict.MISMATCH
    elif reason == "kink":
        pool = status == EntryVerdict.INCONCLUSIVE_KINK
    else:
        pool = status != EntryVerdict.WITHIN_ROUNDOFF
    if not pool.any():
        pool = np.ones(G.shape, dtype=bool)
    size = np.abs(G) + np.abs(N)
    ee_roundoff = np.divide(2 * noise, size, out=np.full(G.shape, np.inf), where=size > 0)
    return determined_argmax(pool, [(entry_errors(G, N), ee_roundoff), (np.abs(G - N), noise)])


def _non_finite(f, A: np.ndarray, G: np.ndarray, h: float, tol: float, name: str) -> Comparison:
    """A gradient with NaN or inf entries: a mismatch at its first non-finite entry."""
    m = _measure(f, A, h, None)
    bad = ~np.isfinite(G)
    worst = tuple(int(i) for i in np.argwhere(bad)[0]) if A.shape else ()
    status = np.where(bad, EntryVerdict.MISMATCH, EntryVerdict.AGREES).astype(np.int64)
    return Comparison(
        name,
        "mismatch",
        None,
        relative_error=math.inf,
        max_entry_error=math.inf,
        worst=worst,
        analytic=float(G[worst]),
        numeric=float(m.N[worst]),
        numerical=m.N,
        status=status,
        noise=m.noise,
        h=float(h),
        tol=float(tol),
        gradient=G,
    )


def compare(
    f: Callable[[np.ndarray], float],
    A,
    G,
    *,
    h: float = 1e-6,
    tol: float = 1e-6,
    name: str = "A",
    noise: float | None = None,
) -> Comparison:
    """Compare the gradient G of the scalar ``f`` at A with central differences, entry by entry.

    A, G: float arrays of one shape. ``noise`` (optional) replaces the round-off bound of
    each numerical entry, ROUNDOFF_ULPS eps max|f| / h. Returns a :class:`Comparison`; see the
    module docstring for the verdicts. f is called with copies of A; A and G are not modified.
    """
    A, G = _checked(A, G, h, tol, name)
    if not np.all(np.isfinite(G)):  # a mismatch, whatever the reference
        return _non_finite(f, A, G, h, tol, name)
    m = _measure(f, A, h, noise)
    status = _classify(G, m.N, m.noise, tol)
    _settle(m, G, status, tol)
    verdict, reason = _verdict(G, m, status, tol)
    worst = _worst(G, m.N, m.noise, status, verdict, reason)
    counted = status != EntryVerdict.WITHIN_ROUNDOFF
    return Comparison(
        name,
        verdict,
        reason,
        relative_error=relative_error(G, m.N),
        max_entry_error=float(entry_errors(G, m.N)[counted].max(initial=0.0)),
        worst=worst,
        analytic=float(G[worst]),
        numeric=float(m.N[worst]),
        numerical=m.N,
        status=status,
        noise=m.noise,
        h=float(h),
        tol=float(tol),
        gradient=G,
        flat=m.flat,
    )


@dataclass(repr=False)
class Comparison:
    """The entrywise comparison of one gradient G with central differences (see :func:`compare`).

    ``verdict`` is one of ``VERDICTS``; ``reason`` one of ``REASONS`` (inconclusive only) or None;
    ``status`` holds an :class:`EntryVerdict` per entry. ``worst`` is the entry the verdict is
    about (the largest confirmed disagreement, or the kink), with its ``analytic`` and ``numeric``
    values; for "ok" and "resolution" round-off picks it, and the printed text never names it.
    ``noise``: the round-off bound of each numerical entry; ``gradient``: G (float64).
    """

    name: str
    verdict: str
    reason: str | None
    _: KW_ONLY
    relative_error: float
    max_entry_error: float
    worst: tuple[int, ...]
    analytic: float
    numeric: float
    numerical: np.ndarray = field(repr=False)
    status: np.ndarray = field(repr=False)
    noise: np.ndarray = field(repr=False)
    h: float = 1e-6
    tol: float = 1e-6
    gradient: np.ndarray | None = field(default=None, repr=False)
    flat: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def names_worst(self) -> bool:
        """True when the worst entry is decided by the maths (a mismatch or a kink)."""
        return self.verdict == "mismatch" or self.reason == "kink"

    def __repr__(self) -> str:
        at = f", worst={self.worst}" if self.names_worst else ""
        return f"Comparison({self.name!r}, verdict={self.verdict!r}, reason={self.reason!r}{at})"

    def explain(self) -> str:
        """One sentence on the verdict (naming the worst entry for a mismatch or a kink)."""
        return f"{self.name}: {self.verdict} — {self.why()}"

    def why(self) -> str:
        """The reason for the verdict, with the entry it is about where the maths decides one."""
        if self.verdict == "ok":
            return f"every entry agrees to within tol = {self.tol:.0e} (relative)"
        if self.verdict == "mismatch":
            return f"the gradient disagrees with the differences at {self._at()}"
        if self.reason == "kink":
            return (
                f"a kink of E within h = {self.h:g} at {self._at()} (the gradient lies between the "
                f"one-sided slopes); move {self.name} off the kink or use one-sided differences"
            )
        return self._unresolved()

    def values_text(self, table: bool = False) -> tuple[str, str]:
        """The analytic and numeric values at the worst entry, to the digits round-off leaves."""
        u = RICHARDSON_NOISE * float(self.noise[self.worst])
        return value_text(self.analytic, 0.0, table), value_text(self.numeric, u, table)

    def errors_text(self) -> tuple[str, str]:
        """The norm relative error and the worst entry's, as printed (see :func:`error_text`)."""
        G = self.gradient if self.gradient is not None else self.numerical
        size = frobenius_norm(G) + frobenius_norm(self.numerical)
        rho = frobenius_norm(self.noise) / size if size > 0 else math.inf
        norm = error_text(self.relative_error, rho, self.tol, passed=self.ok)
        if self.ok:
            return norm, f"<= {self.tol:.0e}"
        if not self.names_worst:
            return norm, "-"
        if not math.isfinite(self.analytic):
            return norm, "inf"
        size = abs(self.analytic) + abs(self.numeric)
        u = 2 * RICHARDSON_NOISE * float(self.noise[self.worst])
        ee = float(entry_errors(self.analytic, self.numeric))
        return norm, error_text(ee, u / size if size > 0 else math.inf, self.tol)

    def _at(self) -> str:
        g, n = self.values_text()
        return f"entry {self.worst}: analytic {g}, numeric {n}"

    def _unresolved(self) -> str:
        within = self.status == EntryVerdict.WITHIN_ROUNDOFF
        if self.flat is not None and within.any() and np.all(self.flat[within]):
            return (
                f"E does not change at all when these entries move by up to "
                f"{_flat_step(self.h):g}, so the gradient is zero or below "
                f"{float(self.noise[within].max()):.1e} there; differences that are all zero cannot "
                "tell a zero gradient from a tiny one (a saturated network): scale E up, "
                "or check at a point where the gradient is not (nearly) zero"
            )
        what = "float32 round-off" if self.reason == "float32" else "round-off"
        return (
            f"the gradient is below what central differences resolve at h = {self.h:g}: a change "
            f"of E by h times the gradient is lost in E's own rounding ({what} moves each numerical "
            f"entry by up to {float(self.noise.max()):.1e}); use a larger h, scale E up or remove a "
            "large constant part of it, float64, or a tol the reference can decide"
        )

    def cells(self) -> tuple[str, str, str, str, str]:
        """The report's columns for this parameter: norm err, entry err, worst, analytic, numeric."""
        norm, entry = self.errors_text()
        if not self.names_worst:
            return norm, entry, "", "", ""
        return (norm, entry, str(self.worst), *self.values_text(table=True))


# -- the report -------------------------------------------------------------------------------

VERDICT_LABELS = {"ok": "ok", "mismatch": "MISMATCH", "inconclusive": "INCONCLUSIVE"}


@dataclass(repr=False)
class GradcheckReport:
    """Per parameter: the norm relative error, the worst entry and a verdict from ``VERDICTS``.

    Truthy (``ok``) only when every parameter's verdict is "ok"; ``inconclusive`` lists the
    parameters the reference could not decide (never counted as passes). ``str(report)`` is a
    table whose text does not depend on the CPU, BLAS kernel or thread count (see the module
    docstring); the exact numbers are in ``errors`` and ``comparisons``.
    """

    errors: dict[str, float]
    tol: float
    numerical: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    comparisons: dict[str, Comparison] = field(repr=False, default_factory=dict)

    @property
    def verdicts(self) -> dict[str, str]:
        return {k: c.verdict for k, c in self.comparisons.items()}

    @property
    def ok(self) -> bool:
        return all(c.verdict == "ok" for c in self.comparisons.values())

    @property
    def inconclusive(self) -> list[str]:
        return [k for k, c in self.comparisons.items() if c.verdict == "inconclusive"]

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    @property
    def max_entry_error(self) -> float:
        return max(c.max_entry_error for c in self.comparisons.values())

    def __repr__(self) -> str:
        return f"GradcheckReport(tol={self.tol:.0e}, verdicts={self.verdicts})"

    def __str__(self) -> str:
        named = any(c.names_worst for c in self.comparisons.values())
        header = ["param", "norm err", "entry err"] + (["worst", "analytic", "numeric"] if named else [])
        rows = [header + ["verdict"]]
        for k, c in self.comparisons.items():
            cells = list(c.cells())
            rows.append([str(k)] + cells[:2] + (cells[2:] if named else []) + [VERDICT_LABELS[c.verdict]])
        right = {4, 5} if named else set()  # numbers right-aligned, text left-aligned
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) + 1)]
        lines = [f"tolerance {self.tol:.0e} (relative, norm and entry by entry)"]
        lines += [
            "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))
            ).rstrip()
            for r in rows
        ]
        for c in self.comparisons.values():
            if c.verdict == "inconclusive":
                lines += textwrap.wrap(c.explain(), 78, initial_indent="  ", subsequent_indent="    ")
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return self.ok


def parameter_name(f) -> str:
    """The name of f's first parameter (``lambda W: ...`` -> "W"), else "A"."""
    try:
        params = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return "A"
    return params[0] if params and params[0].isidentifier() else "A"


def _upstream(f, params, grads, seed: int):
    """Scalar f and gradients: vector outputs are contracted with a random upstream gradient u."""
    out = f(params if isinstance(params, Mapping) else np.array(params, copy=True))
    arr = np.asarray(out)
    if arr.size == 1 and not callable(grads):
        return f, grads
    if arr.dtype.kind != "f":
        raise ValueError(f"f must return real floats, got dtype {arr.dtype}")
    u = np.random.default_rng(seed).standard_normal(arr.shape)

    def f_u(p):
        y = np.asarray(f(p))
        if y.shape != u.shape:
            raise ValueError(f"f returned shape {y.shape}, first {u.shape}")
        return float(np.sum(u * y))

    f_u.roundoff_scale = float(np.sum(np.abs(u * arr)))

    def vjp(J, k="the parameter"):
        J = np.asarray(J, dtype=np.float64)
        if J.shape[: u.ndim] != u.shape:
            raise ValueError(f"the Jacobian of {k} must have shape {u.shape} + shape of {k}, got {J.shape}")
        return np.tensordot(u, J, axes=u.ndim)

    if callable(grads):
        return f_u, grads(u)
    if isinstance(grads, Mapping):
        return f_u, {k: vjp(J, k) for k, J in grads.items()}
    return f_u, vjp(grads)


def _compare_each(f, params: Mapping, grads, h: float, tol: float) -> dict[str, Comparison]:
    """One :func:`compare` per entry of the dict ``params``, the others held at their values."""
    if not isinstance(grads, Mapping) or set(grads) != set(params):
        raise ValueError(f"grads must be a dict with the keys of params {sorted(params)}")
    base = {k: np.array(v, copy=True) for k, v in params.items()}
    comparisons = {}
    for k in params:

        def f_k(A, k=k):
            return f({**base, k: A})

        f_k.roundoff_scale = roundoff_scale(f)
        comparisons[k] = compare(f_k, base[k], grads[k], h=h, tol=tol, name=str(k))
    return comparisons


def gradcheck(
    f: Callable, params, grads, h: float = 1e-6, tol: float = 1e-6, *, name: str | None = None, seed: int = 0
) -> GradcheckReport:
    """Compare supplied gradients with central differences, entry by entry.

    Single array:  ``gradcheck(lambda W: E(W), W, G)`` — f takes the array; the report labels it
    ``name`` (default: the name of f's first parameter, here "W").
    Dict of arrays: ``gradcheck(lambda p: net.loss(X, Y, params=p), net.params, net.gradients(X, Y))``
    — f takes a dict; each entry is perturbed in a copy, the originals are left untouched.
    Vector-valued f (a VJP check): ``grads`` is either a function ``u -> gradient of u : f`` (an
    array, or a dict for dict params) or the full Jacobian(s) of shape f's output + parameter's;
    the check uses one random upstream gradient u ~ N(0, I) drawn with ``seed`` (never the
    all-ones sum, which hides errors that keep the sum of the outputs, as in normalisations).
    Returns a :class:`GradcheckReport` (truthy when every verdict is "ok"; see the module
    docstring for "ok", "mismatch" and "inconclusive"). Warns (:class:`Float32Warning`) when a
    parameter is float32.
    """
    label = name if name is not None else parameter_name(f)
    f, grads = _upstream(f, params, grads, seed)
    if isinstance(params, Mapping):
        comparisons = _compare_each(f, params, grads, h, tol)
        arrays = list(params.values())
    else:
        comparisons = {label: compare(f, params, grads, h=h, tol=tol, name=label)}
        arrays = [params]
    if any(np.asarray(p).dtype == np.float32 for p in arrays):
        warn_float32(stacklevel=2)
    return GradcheckReport(
        {k: c.relative_error for k, c in comparisons.items()},
        tol,
        {k: c.numerical for k, c in comparisons.items()},
        comparisons,
    )
