"""Gradient checking by central finite differences, with verdicts that never lie.

For a scalar function E of an array A, entry (i, j) of the numerical gradient is

    (E(A + h e_ij) - E(A - h e_ij)) / (2 h),

whose error is O(h^2) (truncation) plus O(eps |E| / h) (round-off). The forward
difference (E(A + h e_ij) - E(A)) / h (``scheme="forward"``) has truncation error O(h) only.

:func:`gradcheck` compares a supplied gradient G with the numerical N **entry by entry**
and gives every parameter one of three verdicts (``VERDICTS``):

* ``"ok"`` — every entry agrees: |G_ij - N_ij| <= tol (|G_ij| + |N_ij|) + noise_ij, where
  noise_ij = 10 eps max|E| / h bounds the round-off of N_ij, and the entries that agree only
  thanks to that allowance are too small (in norm) to change the relative error by tol;
* ``"mismatch"`` — some entry disagrees although the reference is reliable there;
* ``"inconclusive"`` — the reference cannot decide, with the reason (``REASONS``):
  ``"kink"`` (E is not smooth within h of A along that entry, and G lies between its one-sided
  slopes: a ReLU or max switching inside the step), ``"resolution"`` (the gradient is below what
  central differences resolve at this h and scale of E) or ``"float32"`` (the same, caused by
  float32 round-off; a :class:`Float32Warning` is issued whenever A is float32).

An entry that disagrees is probed at four more points (A + t e_ij, t = -h, -h/2, 0, h/2, h):
the fourth difference detects a kink, and Richardson extrapolation (4 N(h/2) - N(h)) / 3 removes
the h^2 truncation before the disagreement is confirmed. The norm relative error
||G - N|| / (||G|| + ||N||) is reported alongside, and the report names the worst entry.
"""
from __future__ import annotations

import inspect
import math
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ._checks import as_float_array

__all__ = ["numerical_gradient", "relative_error", "entry_errors", "compare", "Comparison",
           "GradcheckReport", "gradcheck", "Float32Warning", "VERDICTS", "REASONS"]

VERDICTS = ("ok", "mismatch", "inconclusive")
REASONS = ("kink", "resolution", "float32")


class Float32Warning(UserWarning):
    """Finite differences in float32 resolve only about 3 digits of a gradient."""


def numerical_gradient(f: Callable[[np.ndarray], float], A, h: float = 1e-6,
                       scheme: str = "central") -> np.ndarray:
    """Finite-difference gradient of the scalar ``f`` at ``A``; returns a float64 array of A's shape.

    ``scheme="central"`` (default): (f(A + h e) - f(A - h e)) / (2h), error O(h^2);
    ``scheme="forward"``: (f(A + h e) - f(A)) / h, error O(h); ``scheme="backward"``:
    (f(A) - f(A - h e)) / h. ``f`` is called with a perturbed *copy* of A; A is never modified.
    """
    A = as_float_array(A, "A").copy()
    _check_h(h)
    if scheme not in ("central", "forward", "backward"):
        raise ValueError(f"scheme must be 'central', 'forward' or 'backward', got {scheme!r}")
    N = np.zeros(A.shape, dtype=np.float64)
    f_0 = _scalar(f(A)) if scheme != "central" else 0.0
    for idx in np.ndindex(A.shape):
        old = A[idx]
        A[idx] = old + h if scheme != "backward" else old - h
        f_1 = _scalar(f(A))
        A[idx] = old
        if scheme == "forward":
            N[idx] = (f_1 - f_0) / h
        elif scheme == "backward":
            N[idx] = (f_0 - f_1) / h
        else:
            A[idx] = old - h
            N[idx] = (f_1 - _scalar(f(A))) / (2 * h)
            A[idx] = old
    return N


def relative_error(G, N) -> float:
    """||G - N|| / (||G|| + ||N||) (Frobenius norms); 0 when both are zero. Shapes must match."""
    G, N = np.asarray(G, dtype=np.float64), np.asarray(N, dtype=np.float64)
    if G.shape != N.shape:
        raise ValueError(f"gradient has shape {G.shape} but the numerical gradient has shape {N.shape}")
    s = _scale(G, N)                  # 1 unless the entries are so large or small that squares overflow
    G, N = G / s, N / s
    denom = np.linalg.norm(G) + np.linalg.norm(N)
    return 0.0 if denom == 0 else float(np.linalg.norm(G - N) / denom)


def _scale(*arrays: np.ndarray) -> float:
    """A power of two near the largest |entry| when that is outside [2^-500, 2^500], else 1.

    Dividing by it is exact and keeps every ratio, and the squares inside a norm then neither
    overflow (entries ~1e200 gave nan) nor underflow (entries ~1e-200 gave ||G|| = 0, so any two
    tiny gradients had relative error 0)."""
    m = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    if m == 0.0 or not math.isfinite(m) or 2.0 ** -500 < m < 2.0 ** 500:
        return 1.0
    return math.ldexp(1.0, math.frexp(m)[1])


def entry_errors(G, N) -> np.ndarray:
    """Entrywise relative error |G_ij - N_ij| / (|G_ij| + |N_ij|), 0 where both are 0; shape of G."""
    G, N = np.asarray(G, dtype=np.float64), np.asarray(N, dtype=np.float64)
    if G.shape != N.shape:
        raise ValueError(f"gradient has shape {G.shape} but the numerical gradient has shape {N.shape}")
    denom = np.abs(G) + np.abs(N)
    return np.divide(np.abs(G - N), denom, out=np.zeros(G.shape), where=denom > 0)


def _check_h(h) -> None:
    if not (isinstance(h, (float, int, np.floating, np.integer)) and not isinstance(h, bool)
            and np.isfinite(h) and h > 0):
        raise ValueError(f"step h must be a positive finite number, got {h!r}")


def _scalar(value) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "fiu":
        raise ValueError(f"the function must return a real scalar, got {arr.dtype} of shape {arr.shape}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError("the function returned NaN or inf: the check needs finite values")
    return out


@dataclass
class Comparison:
    """The entrywise comparison of one gradient G with central differences (see :func:`compare`).

    ``verdict`` is one of ``VERDICTS``; ``reason`` one of ``REASONS`` (inconclusive only) or None;
    ``status`` holds per entry 0 = agrees, 1 = agrees only within round-off, 2 = kink
    (undecidable), 3 = confirmed disagreement, 4 = disagreement at a kink (G outside the
    one-sided slopes). ``worst`` is the index of the largest disagreement
    that counts (confirmed ones first), with its ``analytic`` and ``numeric`` values.
    """

    name: str
    verdict: str
    reason: str | None
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

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def explain(self) -> str:
        """One sentence on the verdict, naming the worst entry."""
        return f"{self.name}: {self.verdict} — {self.why()}"

    def why(self) -> str:
        """The reason for the verdict, with the worst entry (index, analytic and numeric value)."""
        at = f"entry {self.worst}: analytic {self.analytic:.6g}, numeric {self.numeric:.6g}"
        if self.verdict == "ok":
            return f"every entry agrees; the worst is {at}"
        if self.verdict == "mismatch":
            return f"the gradient disagrees with the differences at {at}"
        if self.reason == "kink":
            return (f"a kink of E within h = {self.h:g} at {at} (the gradient lies between the "
                    f"one-sided slopes); move {self.name} off the kink or use one-sided differences")
        what = "float32 round-off" if self.reason == "float32" else "round-off"
        n_N, n_noise = float(np.linalg.norm(self.numerical)), float(np.linalg.norm(self.noise))
        good = f"; it resolves about {n_noise / n_N:.0e} relative" if n_N > n_noise else ""
        return (f"the gradient (norm {n_N:.1e}) is below what central differences resolve at "
                f"h = {self.h:g} ({what} {n_noise:.1e}{good}); use a larger h, scale E up, "
                "float64, or a tol the reference can decide")


def compare(f: Callable[[np.ndarray], float], A, G, *, h: float = 1e-6, tol: float = 1e-6,
            name: str = "A", noise: float | None = None) -> Comparison:
    """Compare the gradient G of the scalar ``f`` at A with central differences, entry by entry.

    A, G: float arrays of one shape. ``noise`` (optional) replaces the round-off bound of
    each numerical entry, 10 eps max|f| / h. Returns a :class:`Comparison`; see the module
    docstring for the verdicts. f is called with copies of A; A and G are not modified.
    """
    A = as_float_array(A, name).copy()
    _check_h(h)
    if not (isinstance(tol, (float, int, np.floating)) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    G = np.asarray(G)
    if G.dtype.kind != "f" or G.dtype.char not in "fd":
        raise TypeError(f"the gradient of {name} must be float32 or float64, got dtype {G.dtype}")
    if G.shape != A.shape:
        raise ValueError(f"the gradient of {name} has shape {G.shape} but {name} has shape {A.shape}; "
                         "a gradient has the shape of its variable")
    G = G.astype(np.float64)
    if not np.all(np.isfinite(G)):                       # a mismatch, whatever the reference
        N = numerical_gradient(f, A, h)
        bad = ~np.isfinite(G)
        worst = tuple(int(i) for i in np.argwhere(bad)[0]) if A.shape else ()
        return Comparison(name, "mismatch", None, float("inf"), float("inf"), worst,
                          float(G[worst]), float(N[worst]), N, np.where(bad, 3, 0),
                          np.zeros(A.shape), float(h), float(tol))
    eps = float(np.finfo(A.dtype).eps)
    f0 = _scalar(f(A))
    N, noise_ij = np.zeros(A.shape), np.zeros(A.shape)
    plus, minus = np.zeros(A.shape), np.zeros(A.shape)
    for idx in np.ndindex(A.shape):
        old = A[idx]
        A[idx] = old + h
        plus[idx] = _scalar(f(A))
        A[idx] = old - h
        minus[idx] = _scalar(f(A))
        A[idx] = old
    N = (plus - minus) / (2 * h)
    if noise is None:
        noise_ij = 10 * eps * np.maximum(np.maximum(abs(plus), abs(minus)), abs(f0)) / h
    else:
        noise_ij = np.full(A.shape, float(noise))
    d = np.abs(G - N)
    status = np.where(d <= tol * (np.abs(G) + np.abs(N)), 0, np.where(d <= noise_ij, 1, 3))
    for idx in zip(*np.nonzero(status == 3)):
        status[idx], N[idx] = _probe(f, A, idx, h, f0, plus[idx], minus[idx], G[idx], N[idx],
                                     tol, noise_ij[idx], eps)
    err = relative_error(G, N)
    within_noise = float(np.linalg.norm(noise_ij[status == 1]))
    if np.any(status >= 3):
        verdict, reason = "mismatch", None
    elif np.any(status == 2):
        verdict, reason = "inconclusive", "kink"
    elif within_noise > tol * (np.linalg.norm(G) + np.linalg.norm(N)):
        verdict, reason = "inconclusive", "float32" if A.dtype == np.float32 else "resolution"
    else:
        verdict, reason = "ok", None
    counted = np.where(status >= 3, 2.0, np.where(status == 2, 1.0, 0.0))
    ee = entry_errors(G, N)
    if verdict == "ok":
        counted = np.zeros(A.shape)
    order = np.lexsort((np.abs(G - N).ravel(), np.where(status == 1, 0.0, ee).ravel(), counted.ravel()))
    worst = np.unravel_index(int(order[-1]), A.shape) if A.shape else ()
    worst = tuple(int(i) for i in worst)
    return Comparison(name, verdict, reason, err, float(ee[status != 1].max(initial=0.0)), worst,
                      float(G[worst]), float(N[worst]), N, status, noise_ij, float(h), float(tol))


def _probe(f, A, idx, h, f0, fp, fm, g, n, tol, noise, eps) -> tuple[int, float]:
    """Status (0 agrees, 2 kink, 3 disagrees, 4 disagrees at a kink) and refined N of one entry.

    The four slopes S_k of E between A + t e_ij, t = -h, -h/2, 0, h/2, h, lie on a line when E
    is smooth (their second difference is O(h^2)); one kink anywhere inside makes that second
    difference at least a third of their spread, and can move the central difference by at most
    half the spread.
    """
    old = A[idx]
    A[idx] = old + h / 2
    fph = _scalar(f(A))
    A[idx] = old - h / 2
    fmh = _scalar(f(A))
    A[idx] = old
    D = np.array([fm, fmh, f0, fph, fp])
    S = np.diff(D) / (h / 2)
    spread = float(S.max() - S.min())
    noise_S = 4 * eps * float(np.abs(D).max()) / (h / 2)
    if spread > 25 * noise_S and float(np.abs(np.diff(S, 2)).max()) > 0.1 * spread:
        margin = tol * (abs(g) + abs(n)) + 4 * noise + 0.01 * spread
        inside = S.min() - margin <= g <= S.max() + margin
        return (2 if inside else 4), n
    richardson = (4 * (fph - fmh) / h - n) / 3
    if abs(g - richardson) <= tol * (abs(g) + abs(richardson)) + noise:
        return 0, richardson                               # the disagreement was truncation
    return 3, richardson


@dataclass
class GradcheckReport:
    """Per parameter: the norm relative error, the worst entry and a verdict from ``VERDICTS``.

    Truthy (``ok``) only when every parameter's verdict is "ok"; ``inconclusive`` lists the
    parameters the reference could not decide (never counted as passes).
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

    def __str__(self) -> str:
        lines = [f"tolerance {self.tol:.0e} (relative, norm and entry by entry)",
                 f"{'param':<6}{'norm err':>9}{'entry err':>10}  {'worst':<9}"
                 f"{'analytic':>11}{'numeric':>11}  verdict"]
        for k, c in self.comparisons.items():
            verdict = {"ok": "ok", "mismatch": "MISMATCH"}.get(c.verdict, "INCONCLUSIVE")
            lines.append(f"{k:<6}{c.relative_error:>9.1e}{c.max_entry_error:>10.1e}  "
                         f"{str(c.worst):<9}{c.analytic:>11.3e}{c.numeric:>11.3e}  {verdict}")
        for c in self.comparisons.values():
            if c.verdict == "inconclusive":
                lines += textwrap.wrap(c.explain(), 78, initial_indent="  ", subsequent_indent="    ")
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return self.ok


def _first_parameter(f) -> str:
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

    def vjp(J, k="the parameter"):
        J = np.asarray(J, dtype=np.float64)
        if J.shape[:u.ndim] != u.shape:
            raise ValueError(f"the Jacobian of {k} must have shape {u.shape} + shape of {k}, "
                             f"got {J.shape}")
        return np.tensordot(u, J, axes=u.ndim)

    if callable(grads):
        return f_u, grads(u)
    if isinstance(grads, Mapping):
        return f_u, {k: vjp(J, k) for k, J in grads.items()}
    return f_u, vjp(grads)


def gradcheck(f: Callable, params, grads, h: float = 1e-6, tol: float = 1e-6, *,
              name: str | None = None, seed: int = 0) -> GradcheckReport:
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
    label = name if name is not None else _first_parameter(f)
    f, grads = _upstream(f, params, grads, seed)
    if isinstance(params, Mapping):
        if not isinstance(grads, Mapping) or set(grads) != set(params):
            raise ValueError(f"grads must be a dict with the keys of params {sorted(params)}")
        base = {k: np.array(v, copy=True) for k, v in params.items()}
        comparisons = {}
        for k in params:
            def f_k(A, k=k):
                return f({**base, k: A})
            comparisons[k] = compare(f_k, base[k], grads[k], h=h, tol=tol, name=str(k))
    else:
        comparisons = {label: compare(f, params, grads, h=h, tol=tol, name=label)}
    if any(np.asarray(p).dtype == np.float32 for p in (params.values() if isinstance(params, Mapping)
                                                         else [params])):
        warnings.warn("checking in float32: central differences resolve only about 3 digits; "
                      "use h ~ 1e-2 and tol ~ 1e-3, or better cast to float64", Float32Warning,
                      stacklevel=2)
    return GradcheckReport({k: c.relative_error for k, c in comparisons.items()}, tol,
                           {k: c.numerical for k, c in comparisons.items()}, comparisons)
