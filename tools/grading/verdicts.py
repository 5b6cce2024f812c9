"""The verdict on one case of a test: the probe's answer against the grader's expected value.

Decided in the grader process, never in the student's kernel. ``backprop.diagnose`` names the
mistake (transposed, sign, a factor, a named wrong answer ...); the words here call the value
what the test calls it (``noun``: a gradient, a Jacobian, the values ...) and never quote an
expected number or an input's value: a message says what is wrong, not what is right.
"""

from __future__ import annotations

import numpy as np

from .kernel.wire import Unreadable, read_answer
from .spec import Test

RAISED = {
    "NotImplementedError": "not answered: the function still raises NotImplementedError",
    "KeyboardInterrupt": "did not finish within the time limit (an endless loop?)",
}


def _kind(diagnosis) -> str:
    """The diagnosis' kind as a lower-case word (a str or an enum member alike)."""
    kind = getattr(diagnosis, "kind", "wrong")
    return str(getattr(kind, "name", kind)).lower()


def _mistakes(test: Test, case: dict) -> tuple[dict, dict]:
    """({name: wrong array}, {name: explanation}) of the test's named mistakes for ``case``."""
    if test.mistakes is None:
        return {}, {}
    arrays, words = {}, {}
    for name, value in test.mistakes(**case).items():
        if isinstance(value, tuple):
            value, words[name] = value
        arrays[name] = np.asarray(value, dtype=np.float64)
    return arrays, words


def _twice_or_half(c: float | None) -> bool:
    return c is not None and (abs(c - 2) < 1e-6 or abs(c - 0.5) < 1e-6)


def _scaled(noun: str, c: float | None) -> str:
    if c is not None and abs(c - 2) < 1e-6:
        return f"your {noun} is twice the right one: a forgotten 1/2 (of E = 1/2 ||s - y||^2)?"
    if c is not None and abs(c - 0.5) < 1e-6:
        return f"your {noun} is half the right one: an extra factor 1/2?"
    return (
        f"your {noun} is a constant multiple of the right one: a factor is wrong or missing "
        "(a 1/2, a batch size B used twice or not at all, a minus sign?)"
    )


def _wrong(noun: str, got: np.ndarray, want: np.ndarray, test: Test) -> str:
    if not np.any(got):
        return f"your {noun} is zero everywhere, but the right one is not (is it computed at all?)"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    off = ~np.isclose(got, want, rtol=test.tol, atol=max(test.atol, 1e-12 * scale))
    return (
        f"your {noun} has the right shape but wrong values, and matches no typical mistake "
        f"({int(off.sum())} of {off.size} entries differ)"
    )


def _named(kind: str, words: dict, noun: str) -> str | None:
    words = {k.lower(): v for k, v in words.items()}  # _kind lower-cases ('..._by_P' -> '..._by_p')
    if kind in words:
        return words[kind]
    from backprop.diagnose import MISTAKE_EXPLANATIONS

    if kind in MISTAKE_EXPLANATIONS:
        return MISTAKE_EXPLANATIONS[kind].replace("your gradient", f"your {noun}", 1)
    return None


def _values(got: np.ndarray, want, test: Test, case: dict, named: bool = True) -> tuple[bool, str]:
    from backprop.diagnose import diagnose

    want = np.asarray(want, dtype=np.float64)
    noun = test.noun
    arrays, words = _mistakes(test, case) if named else ({}, {})
    if got.shape != want.shape:
        if (
            got.size == want.size
            and want.size
            and np.allclose(got.reshape(want.shape), want, rtol=test.tol, atol=test.atol)
        ):
            return True, "right numbers in the wrong shape (the shape test counts that)"
        transposed = got.shape == want.T.shape and np.allclose(got, want.T, rtol=test.tol, atol=test.atol)
        return False, (
            f"your {noun} has shape {got.shape}, but it must have shape {want.shape}"
            + ("; it is the transpose of the right one" if transposed else "")
        )
    d = diagnose(got, want, mistakes=arrays or None, tol=test.tol, atol=test.atol)
    if d:
        return True, ""
    kind = _kind(d)
    if kind == "non_finite":
        return False, (
            f"your {noun} contains NaN or infinite entries: look for an overflow (exp of a "
            "large number), a division by zero or log(0)"
        )
    if kind == "transposed":
        return (
            False,
            f"your {noun} is the transpose of the right one (entry (i, j) holds what belongs at (j, i))",
        )
    if kind == "wrong_sign":
        return False, (
            f"your {noun} has the wrong sign (look for y - s where s - y belongs, or a minus "
            "sign lost in the chain rule)"
        )
    if kind == "scaled" and want.size == 1 and not _twice_or_half(getattr(d, "factor", None)):
        return False, _wrong(noun, got, want, test)  # any two numbers are multiples: no hint in it
    if kind == "scaled":
        return False, _scaled(noun, getattr(d, "factor", None))
    return False, _named(kind, words, noun) or _wrong(noun, got, want, test)


def _shape_of(value):
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    return tuple(np.shape(value))


def _shape(test: Test, got, want) -> tuple[bool, str]:
    if _shape_of(got) == _shape_of(want):
        return True, ""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return False, f"it must return a dict with the keys {sorted(want)}, not one array"
        if sorted(got) != sorted(want):
            return False, f"it must return the keys {sorted(want)}, not {sorted(got)}"
        bad = [k for k in want if _shape_of(got[k]) != _shape_of(want[k])]
        return False, "; ".join(
            f"{k} must have shape {_shape_of(want[k])}, not {_shape_of(got[k])}" for k in bad
        )
    if isinstance(got, dict):
        return False, f"it must return one array of shape {_shape_of(want)}, not a dict"
    return False, f"your {test.noun} must have shape {_shape_of(want)}, not {_shape_of(got)}"


def _scalar(test: Test, got, want) -> tuple[bool, str]:
    if isinstance(got, dict) or np.ndim(got) != 0:
        shape = "a dict" if isinstance(got, dict) else f"an array of shape {np.shape(got)}"
        fix = (
            "; return float(...) of it, or its .item()"
            if not isinstance(got, dict) and np.size(got) == 1
            else ""
        )
        return False, f"it must return a single number (a float), but it returned {shape}{fix}"
    return _values(np.asarray(got, dtype=np.float64), want, test, {}, named=False)


def _dict_values(test: Test, case: dict, got, want: dict) -> tuple[bool, str]:
    if not isinstance(got, dict):
        return False, f"it must return a dict with the keys {sorted(want)}"
    for k, w in want.items():
        if k not in got:
            return False, f"the key {k!r} is missing"
        if isinstance(got[k], (dict, Unreadable)):
            return False, f"{k}: not an array of numbers"
        ok, msg = _values(got[k], w, test, case, named=False)
        if not ok:
            return False, f"{k}: {msg}"
    return True, ""


def _memory(test: Test, case: dict, extra: float | None) -> tuple[bool, str]:
    if extra is None:
        return False, (
            "inconclusive: the peak memory could not be measured outside the kernel on the "
            "grading machine (no memory cgroup); tell the instructor"
        )
    limit = float(test.peak_memory(**case))
    if extra <= limit:
        return True, (
            f"the kernel held {extra / 2**20:.1f} MiB beyond the inputs at the peak of the call "
            f"(at most {limit / 2**20:.1f} MiB allowed)"
        )
    return False, (
        f"the right numbers, but the kernel held {extra / 2**20:.1f} MiB beyond the inputs at the "
        f"peak of the call, and at most {limit / 2**20:.1f} MiB are allowed. {test.hint}"
    ).rstrip()


def judge(test: Test, case: dict, result: dict, extra_memory: float | None = None) -> tuple[bool, str]:
    """(passed, message) for one case. ``result``: what the probe sent for it; ``extra_memory``: for a
    test with peak_memory, the bytes the kernel held beyond its inputs at the call's peak, measured
    outside the kernel (None: not measured)."""
    if "raised" in result:
        name, msg = str(result.get("raised", "Error")), str(result.get("message", ""))[:300]
        if name in RAISED:
            return False, RAISED[name]
        if name == "NameError":
            return False, f"NameError: {msg} (is the function defined, and did its cell run without error?)"
        return False, f"your function raised {name}: {msg}"
    got = read_answer(result.get("ok"))
    if isinstance(got, Unreadable):
        return False, f"the {test.noun} could not be read as numbers: it is {got.why}"
    want = test.expected(**case)
    if test.kind == "shape":
        return _shape(test, got, want)
    if test.kind == "scalar":
        return _scalar(test, got, want)
    if isinstance(want, dict):
        ok, msg = _dict_values(test, case, got, want)
    elif isinstance(got, dict):
        ok, msg = False, f"it must return one array, not a dict with the keys {sorted(got)}"
    else:
        ok, msg = _values(got, want, test, case)
    if ok and test.peak_memory is not None:
        return _memory(test, case, extra_memory)
    return ok, msg
