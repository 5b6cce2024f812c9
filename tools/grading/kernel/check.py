"""The self-check: ``check("test_...")`` says whether an answer is right on a few examples.

It calls the test's expression (e.g. ``grad_W(W, x, y)``) in the notebook on examples drawn at
release with a fixed public seed (never the grading inputs) and compares the shape and a
fingerprint (SHA-256) of the numbers rounded to 6 significant digits with those of the right
answer. ``data.json`` next to this package holds the examples, the shapes and the fingerprints —
not the answers. A right answer prints a line; a wrong one raises ``SelfCheckFailed`` (an
AssertionError) that says what is wrong, so nbgrader's own autograde scores the cell 0.
A memory test also measures the call's peak with tracemalloc (here, in your own kernel; the
course's grader measures it from outside the kernel).
"""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from pathlib import Path

import numpy as np

from .wire import decode

DATA = Path(__file__).resolve().parent / "data.json"
_loaded: dict = {}


class SelfCheckFailed(AssertionError):
    """The answer is not right on a self-check example (the message says how)."""


def fingerprint(a) -> str:
    """SHA-256 of the numbers of ``a`` rounded to 6 significant digits (entries below 1e-9 of the
    largest count as 0)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    words = ["0" if abs(v) <= 1e-9 * scale else f"{v:.5e}" for v in a]
    return hashlib.sha256(",".join(words).encode()).hexdigest()


def _data() -> dict:
    if not _loaded:
        if not DATA.is_file():
            raise SelfCheckFailed(
                f"the self-check has no data ({DATA.name} is missing next to it): "
                "ask for the assignment's files again"
            )
        _loaded.update(json.loads(DATA.read_text()))
    return _loaded


def _wrap(text: str) -> str:
    return textwrap.fill(text, 79, subsequent_indent="    ")


def _scalar(got) -> str:
    a = np.asarray(got)
    if a.ndim == 0:
        return ""
    return f"it must return a single number (a float), but it returned an array of shape {a.shape}" + (
        "; return float(...) of it, or its .item()" if a.size == 1 else ""
    )


def _compare(kind: str, got, shape, fp) -> str:
    """'' when right, else what is wrong."""
    if isinstance(shape, dict):
        if not isinstance(got, dict):
            return f"it must return a dict with the keys {sorted(shape)}, not a {type(got).__name__}"
        if sorted(got) != sorted(shape):
            return f"it must return the keys {sorted(shape)}, not {sorted(got)}"
        for k in sorted(shape):
            why = _compare(kind, got[k], shape[k], fp[k] if fp else None)
            if why:
                return f"{k}: {why}"
        return ""
    try:
        a = np.asarray(got, dtype=np.float64)
    except Exception:
        return f"the answer is not an array of numbers (a {type(got).__name__})"
    if kind == "scalar" and _scalar(got):
        return _scalar(got)
    if list(a.shape) != list(shape):
        if kind == "values" and fp and a.size == int(np.prod(shape)) and fingerprint(a) == fp:
            return f"the numbers are right but the shape is {a.shape}; it must be {tuple(shape)}"
        return f"the shape is {a.shape}; it must be {tuple(shape)}"
    if fp is not None and fingerprint(a) != fp:
        return "the shape is right but the numbers are not"
    return ""


def _call(call: str, scope: dict, case: dict, peak_limit: int | None):
    env = dict(scope)
    env.update(case)
    if peak_limit is None:
        return eval(call, env), None
    import tracemalloc

    tracemalloc.start()
    try:
        got = eval(call, env)
        return got, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _fail(grade_id: str, text: str):
    __tracebackhide__ = True  # noqa: F841
    raise SelfCheckFailed(_wrap(f"{grade_id}: not yet right: {text}")) from None


def check(grade_id: str, scope: dict | None = None) -> None:
    """Say whether the answer tested by ``grade_id`` is right on the examples (raise if not)."""
    __tracebackhide__ = True  # noqa: F841  (IPython shows only the message)
    test = _data()["tests"].get(grade_id)
    if test is None:
        _fail(grade_id, "this test has no self-check data (ask for the assignment's files again)")
    scope = sys._getframe(1).f_globals if scope is None else scope
    for k, ex in enumerate(test["examples"], start=1):
        try:
            got, peak = _call(test["call"], scope, decode(ex["case"]), ex.get("peak_memory"))
        except NotImplementedError:
            _fail(grade_id, "not answered yet (the function still raises NotImplementedError)")
        except Exception as err:
            _fail(grade_id, f"on example {k} ({ex['inputs']}) your code raised {type(err).__name__}: {err}")
        why = _compare(test["kind"], got, ex["shape"], ex.get("fingerprint"))
        if why:
            _fail(grade_id, f"on example {k} ({ex['inputs']}): {why}")
        if peak is not None and peak > ex["peak_memory"]:
            _fail(
                grade_id,
                f"on example {k} ({ex['inputs']}) the right numbers, but the call's peak memory "
                f"was {peak / 2**20:.1f} MiB and at most {ex['peak_memory'] / 2**20:.1f} MiB "
                f"are allowed. {test.get('hint', '')}".rstrip(),
            )
    n = len(test["examples"])
    what = "the shape is right" if test["kind"] == "shape" else "right"
    # one write: a print() writes the line and its newline apart, and a kernel may send them apart
    sys.stdout.write(_wrap(f"{grade_id}: {what} on {n} random example{'s' * (n != 1)}") + "\n")
