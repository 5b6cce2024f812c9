"""An assignment's grader-side checks (instructor/source/NAME/grading.py): loading and fresh cases.

``grading.py`` defines STUDENT_PACKAGE and TESTS (see instructor/AUTHORING.md). Here: loading and
validating it, and the fresh cases of a test, drawn from a generator seeded per test from the
notebook's seed. Every float of a case is rounded to 20 significant bits, so a case is the same
on every machine even where it was computed with exp or a matrix product (whose last bits
differ between CPUs). The verdicts are in :mod:`.verdicts`.
"""

from __future__ import annotations

import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("values", "shape", "scalar")
KEYS = {
    "call",
    "cases",
    "expected",
    "kind",
    "mistakes",
    "tol",
    "atol",
    "peak_memory",
    "hint",
    "noun",
    "examples",
}
BITS = 20


class SpecError(Exception):
    """grading.py is malformed; the message names the file and the test."""


@dataclass
class Test:
    """One entry of TESTS (see instructor/AUTHORING.md for the meaning of each key)."""

    grade_id: str
    call: str
    cases: Callable
    expected: Callable
    kind: str = "values"
    mistakes: Callable | None = None
    tol: float = 1e-8
    atol: float = 0.0
    peak_memory: Callable | None = None  # case -> bytes the call may hold beyond its inputs
    hint: str = ""  # what to do when the memory is too high
    noun: str = "answer"  # what the feedback calls the returned value
    examples: Callable | None = None  # rng -> cases for the self-check (default: cases)


@dataclass
class Spec:
    path: Path
    student_package: dict
    tests: dict[str, Test] = field(default_factory=dict)
    choice: dict = field(default_factory=dict)  # the variant ({dimension: option}; {} = none)


def module(path: Path) -> types.ModuleType:
    """grading.py as a module (executed each time: a grading.py is small)."""
    module = types.ModuleType(f"grading_spec_{path.parent.name}")
    module.__file__ = str(path)
    try:  # compiled here, not imported: no __pycache__ is written into the source folder
        exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    except Exception as err:
        raise SpecError(f"{path}: cannot be imported ({type(err).__name__}: {err})") from err
    return module


_module = module


def _test(where: str, gid: str, entry) -> Test:
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
    if not callable(entry.get("expected")):
        raise SpecError(f"{where}: needs expected (a function of the case's inputs)")
    if entry.get("kind", "values") not in KINDS:
        raise SpecError(f"{where}: kind must be one of {KINDS}")
    if entry.get("peak_memory") is not None and entry.get("kind", "values") != "values":
        raise SpecError(f"{where}: peak_memory goes with kind 'values' (the gradients must be right too)")
    return Test(gid, **entry)


def load(folder: Path, choice: dict | None = None) -> Spec:
    """The checks of the assignment in ``folder`` (its grading.py), validated; for an assignment
    with VARIANTS, those of the variant ``choice`` ({dimension: option}; default: the first options)."""
    path = Path(folder) / "grading.py"
    if not path.is_file():
        raise SpecError(
            f"{path}: missing (every assignment needs its grader-side checks, see instructor/AUTHORING.md)"
        )
    mod = module(path)
    package = getattr(mod, "STUDENT_PACKAGE", None)
    tests, choice = _tests(path, mod, choice)
    if not isinstance(package, dict) or not all(
        v == "*" or isinstance(v, (list, tuple)) for v in package.values()
    ):
        raise SpecError(f"{path}: STUDENT_PACKAGE must be a dict {{'backprop.module': '*' or [names]}}")
    if not isinstance(tests, dict) or not tests:
        raise SpecError(
            f"{path}: TESTS must be a non-empty dict {{grade_id: dict(call=..., cases=..., ...)}}"
        )
    out = Spec(path, {k: (v if v == "*" else list(v)) for k, v in package.items()}, choice=dict(choice or {}))
    for gid, entry in tests.items():
        out.tests[gid] = _test(f"{path}: TESTS[{gid!r}]", gid, entry)
    return out


def _tests(path: Path, mod, choice: dict | None) -> tuple:
    """TESTS, or make_tests(**choice) of an assignment with VARIANTS (see grading/variants.py)."""
    dims = getattr(mod, "VARIANTS", None)
    if not dims:
        if choice:
            raise SpecError(f"{path}: declares no VARIANTS, but the variant {choice} was asked for")
        return getattr(mod, "TESTS", None), {}
    choice = choice or {d: next(iter(opts)) for d, opts in dims.items()}
    if set(choice) != set(dims) or any(o not in dims[d] for d, o in choice.items()):
        raise SpecError(f"{path}: {choice} is not a variant of VARIANTS {{{', '.join(dims)}}}")
    try:
        return mod.make_tests(**choice), dict(choice)
    except Exception as err:
        raise SpecError(f"{path}: make_tests(**{choice}) failed ({type(err).__name__}: {err})") from err


def rng_for(seed: int, grade_id: str) -> np.random.Generator:
    """The generator of a test's fresh cases: one per (notebook seed, test)."""
    return np.random.default_rng([seed, zlib.crc32(grade_id.encode())])


def quantize(value: Any) -> Any:
    """``value`` with every float rounded to BITS significant bits (arrays, dicts, lists)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        mantissa, exponent = np.frexp(value)
        return np.ldexp(np.round(np.ldexp(mantissa, BITS)), exponent - BITS).astype(value.dtype)
    if isinstance(value, (float, np.floating)):
        return type(value)(quantize(np.array(value, dtype=np.float64))[()])
    if isinstance(value, dict):
        return {k: quantize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(quantize(v) for v in value)
    return value


def cases(test: Test, seed: int) -> list[dict]:
    """The fresh cases of ``test`` for a notebook seed (the same on every machine)."""
    made = test.cases(rng_for(seed, test.grade_id))
    if not isinstance(made, list) or not made or not all(isinstance(c, dict) for c in made):
        raise SpecError(f"TESTS[{test.grade_id!r}]: cases(rng) must return a non-empty list of dicts")
    return [quantize(c) for c in made]


def describe(case: dict) -> str:
    """'W (3, 6), x (6, 1), y (3, 1)' — the inputs of a case, by shape (never by value)."""
    parts = []
    for k, v in case.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k} {tuple(v.shape)}")
        elif isinstance(v, dict):
            parts.append(f"{k} {{" + ", ".join(f"{kk} {np.shape(vv)}" for kk, vv in v.items()) + "}")
        elif isinstance(v, (list, tuple)):
            parts.append(f"{k}: {len(v)} values")
        elif isinstance(v, (bool, int, str)):
            parts.append(f"{k} = {v!r}")
    return ", ".join(parts)


def input_bytes(case: dict) -> int:
    """The bytes of a case's arrays (a memory test allows the call to hold its inputs)."""
    if isinstance(case, np.ndarray):
        return int(case.nbytes)
    if isinstance(case, dict):
        return sum(input_bytes(v) for v in case.values())
    if isinstance(case, (list, tuple)):
        return sum(input_bytes(v) for v in case)
    return 0
