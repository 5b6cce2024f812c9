"""An assignment's grader-side checks (instructor/source/NAME/grading.py) and the verdicts.

``grading.py`` defines STUDENT_PACKAGE and TESTS (see instructor/AUTHORING.md). Here: loading
and validating it, the fresh cases of a test (seeded per student and assignment), the
encoding of values between the grader and the kernel, and the comparison that decides a test.
The decision is made here, in the grader process, from the answers the probe sent; the
expected values are computed here and never enter the student's kernel.
"""
from __future__ import annotations

import base64
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

KINDS = ("values", "shape", "scalar")
KEYS = {"call", "cases", "expected", "kind", "mistakes", "tol", "atol", "compare", "selfcheck"}
MAX_ENTRIES = 10**6


class SpecError(Exception):
    """grading.py is malformed; the message names the file and the test."""


@dataclass
class Test:
    grade_id: str
    call: str
    cases: Callable
    expected: Callable | None = None
    kind: str = "values"
    mistakes: Callable | None = None
    tol: float = 1e-8
    atol: float = 0.0
    compare: Callable | None = None
    selfcheck: bool = True


@dataclass
class Spec:
    path: Path
    student_package: dict
    tests: dict[str, Test] = field(default_factory=dict)


def load(folder: Path) -> Spec:
    """The checks of the assignment in ``folder`` (its grading.py), validated."""
    path = Path(folder) / "grading.py"
    if not path.is_file():
        raise SpecError(f"{path}: missing (every assignment needs its grader-side checks, "
                        "see instructor/AUTHORING.md)")
    module = types.ModuleType(f"grading_spec_{Path(folder).name}")
    module.__file__ = str(path)
    try:       # compiled here, not imported: no __pycache__ is written into the source folder
        exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    except Exception as err:
        raise SpecError(f"{path}: cannot be imported ({type(err).__name__}: {err})") from err
    package = getattr(module, "STUDENT_PACKAGE", None)
    tests = getattr(module, "TESTS", None)
    if not isinstance(package, dict) or not all(v == "*" or isinstance(v, (list, tuple)) for v in package.values()):
        raise SpecError(f"{path}: STUDENT_PACKAGE must be a dict {{'backprop.module': '*' or [names]}}")
    if not isinstance(tests, dict) or not tests:
        raise SpecError(f"{path}: TESTS must be a non-empty dict {{grade_id: dict(call=..., cases=..., ...)}}")
    out = Spec(path, {k: (v if v == "*" else list(v)) for k, v in package.items()})
    for gid, entry in tests.items():
        where = f"{path}: TESTS[{gid!r}]"
        if not isinstance(entry, dict):
            raise SpecError(f"{where} must be a dict")
        unknown = set(entry) - KEYS
        if unknown:
            raise SpecError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(KEYS)})")
        if not isinstance(entry.get("call"), str) or not callable(entry.get("cases")):
            raise SpecError(f"{where}: needs call (a str expression) and cases (a function of rng)")
        try:
            compile(entry["call"], where, "eval")
        except SyntaxError as err:
            raise SpecError(f"{where}: call is not a Python expression: {err}") from err
        if entry.get("compare") is None and not callable(entry.get("expected")):
            raise SpecError(f"{where}: needs expected (a function of the case) or compare")
        if entry.get("kind", "values") not in KINDS:
            raise SpecError(f"{where}: kind must be one of {KINDS}")
        out.tests[gid] = Test(gid, **entry)
    return out


def rng_for(seed: int, grade_id: str) -> np.random.Generator:
    """The generator of a test's fresh cases: one per (student+assignment seed, test)."""
    return np.random.default_rng([seed, zlib.crc32(grade_id.encode())])


def cases(test: Test, seed: int) -> list[dict]:
    made = test.cases(rng_for(seed, test.grade_id))
    if not isinstance(made, list) or not made or not all(isinstance(c, dict) for c in made):
        raise SpecError(f"TESTS[{test.grade_id!r}]: cases(rng) must return a non-empty list of dicts")
    return made


# ------------------------------------------------------------------ values between grader and kernel
def encode(value: Any) -> dict:
    """JSON-able form of a case value (exact: arrays as their bytes)."""
    if isinstance(value, np.ndarray):
        a = np.array(value, order="C")         # (ascontiguousarray would make 0-d arrays 1-d)
        return {"nd": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v) for v in value]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"py": value}
    raise SpecError(f"a case value of type {type(value).__name__} cannot be sent to the kernel")


def decode(data: Any) -> Any:
    """An answer as sent by the probe: float64 arrays, dicts of them; ``Unreadable`` otherwise."""
    if not isinstance(data, dict):
        return Unreadable("malformed answer")
    if "nd" in data:
        try:
            raw = base64.b64decode(data["b64"])
            shape = tuple(int(s) for s in data["shape"])
            a = np.frombuffer(raw, dtype=np.dtype(data["nd"]))
            return a.reshape(shape).astype(np.float64)
        except Exception as err:
            return Unreadable(f"malformed array ({type(err).__name__})")
    if "dict" in data and isinstance(data["dict"], dict):
        return {str(k): decode(v) for k, v in data["dict"].items()}
    if "bad" in data:
        return Unreadable(str(data["bad"])[:300])
    return Unreadable("malformed answer")


@dataclass
class Unreadable:
    why: str


def describe(case: dict) -> str:
    """'W (3, 6), x (6, 1), y (3, 1)' — the inputs of a case, by shape."""
    parts = []
    for k, v in case.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k} {tuple(v.shape)}")
        elif isinstance(v, dict):
            parts.append(f"{k} {{" + ", ".join(f"{kk} {np.shape(vv)}" for kk, vv in v.items()) + "}")
        elif isinstance(v, (int, float, str)):
            parts.append(f"{k} = {v!r}")
    return ", ".join(parts)


# ------------------------------------------------------------------ the verdict
def _shape_of(value) -> Any:
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    return tuple(np.shape(value))


def _values(got: np.ndarray, want, test: Test, case: dict, named: bool = True) -> tuple[bool, str]:
    from backprop.checking import relative_error
    from backprop.diagnose import diagnose
    want = np.asarray(want, dtype=np.float64)
    mistakes = test.mistakes(**case) if (test.mistakes and named) else None
    verdict = diagnose(got, want, mistakes=mistakes, tol=test.tol, atol=test.atol)
    if verdict:
        return True, ""
    if verdict.kind == "shape" and got.size == want.size and want.size:
        if relative_error(got.reshape(want.shape), want) <= test.tol or \
                float(np.linalg.norm(got.reshape(want.shape) - want)) <= test.atol:
            return True, "right numbers in the wrong shape (the shape test counts that)"
    return False, verdict.message


def judge(test: Test, case: dict, result: dict) -> tuple[bool, str]:
    """(passed, message) for one case: the probe's ``result`` against the grader's expectation."""
    if "raised" in result:
        name, msg = result.get("raised", "Error"), str(result.get("message", ""))[:400]
        if name == "NotImplementedError":
            return False, "not answered: the function still raises NotImplementedError"
        if name == "NameError":
            return False, f"NameError: {msg} (is the function defined, and did its cell run without error?)"
        if name == "KeyboardInterrupt":
            return False, "did not finish within the time limit (an endless loop?)"
        return False, f"your function raised {name}: {msg}"
    got = decode(result.get("ok"))
    if isinstance(got, Unreadable):
        return False, f"the answer could not be read as numbers: {got.why}"
    if test.compare is not None:
        ok, message = test.compare(got, **case)
        return bool(ok), str(message or "")
    want = test.expected(**case)
    if test.kind == "shape":
        if _shape_of(got) == _shape_of(want):
            return True, ""
        if isinstance(want, dict):
            if not isinstance(got, dict):
                return False, f"expected a dict with keys {sorted(want)}, got one array of shape {np.shape(got)}"
            if sorted(got) != sorted(want):
                return False, f"expected the keys {sorted(want)}, got {sorted(got)}"
            bad = [k for k in want if _shape_of(got[k]) != _shape_of(want[k])]
            return False, "; ".join(f"{k} must have shape {_shape_of(want[k])}, got {_shape_of(got[k])}" for k in bad)
        return False, f"the answer must have shape {_shape_of(want)}, got {_shape_of(got)}"
    if test.kind == "scalar":
        if isinstance(got, dict) or np.ndim(got) != 0:
            return False, f"must return a single number, got {'a dict' if isinstance(got, dict) else f'an array of shape {np.shape(got)}'}"
        w = float(np.asarray(want))
        if np.isclose(float(got), w, rtol=test.tol, atol=max(test.atol, 1e-300)):
            return True, ""
        return False, f"wrong value: got {float(got):.10g}, but that is not the right number (relative error " \
                      f"{abs(float(got) - w) / max(abs(w), 1e-300):.1e})"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return False, f"expected a dict with keys {sorted(want)}"
        for k, w in want.items():
            if k not in got:
                return False, f"the key {k!r} is missing"
            if isinstance(got[k], (dict, Unreadable)):
                return False, f"{k}: not an array of numbers"
            ok, msg = _values(got[k], w, test, case, named=False)
            if not ok:
                return False, f"{k}: {msg}"
        return True, ""
    if isinstance(got, dict):
        return False, "expected an array, got a dict"
    return _values(got, want, test, case)
