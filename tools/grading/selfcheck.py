"""The students' self-check of an assignment, generated at release from its grading.py.

The self-check is the package ``selfcheck`` next to the released notebook: the modules of
tools/grading/kernel/ (copied as they are) and ``data.json``, written here. For every test the data
holds a few examples drawn with a fixed public seed (never a grading seed; a test's ``examples``
function when it has one, else its ``cases``), the expected shapes and, for values, only a SHA-256
fingerprint of the expected numbers rounded to 6 significant digits (see kernel/check.py). An
example whose expected numbers lie near a rounding boundary is redrawn, so every answer within a
relative 1e-9 of the right one gets the right fingerprint — on any CPU: the inputs are the same
bits everywhere (spec.quantize) and the fingerprints do not depend on the last bits of the
expected values. The data holds no formula and no expected number.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import spec
from .kernel import wire
from .kernel.check import fingerprint

SELF_SEED = 20261201
KERNEL = Path(__file__).resolve().parent / "kernel"
PACKAGE = "selfcheck"  # the name the notebooks import it by


def _robust(a) -> bool:
    """True when every answer within a relative 1e-9 of ``a`` has a's fingerprint."""
    a = np.asarray(a, dtype=np.float64)
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    if np.any((np.abs(a) > 1e-12 * scale) & (np.abs(a) < 1e-6 * scale)):
        return False
    return all(fingerprint(a * f) == fingerprint(a) for f in (1 + 1e-9, 1 - 1e-9))


def _example(test: spec.Test, case: dict) -> dict | None:
    """One example's data, or None when its expected numbers are too near a rounding boundary."""
    want = test.expected(**case)
    parts = want if isinstance(want, dict) else {None: want}
    if test.kind != "shape" and not all(_robust(v) for v in parts.values()):
        return None
    shape = {k: list(np.shape(v)) for k, v in parts.items()}
    prints = {k: fingerprint(v) for k, v in parts.items()}
    ex = {
        "case": wire.encode(case),
        "inputs": spec.describe(case),
        "shape": shape if isinstance(want, dict) else shape[None],
    }
    if test.kind != "shape":
        ex["fingerprint"] = prints if isinstance(want, dict) else prints[None]
    if test.peak_memory is not None:
        ex["peak_memory"] = int(test.peak_memory(**case))
    return ex


def _examples(test: spec.Test, where: Path) -> list[dict]:
    draw = test.examples or test.cases
    for attempt in range(50):
        cases = [spec.quantize(c) for c in draw(np.random.default_rng([SELF_SEED, attempt]))]
        examples = [_example(test, case) for case in cases]
        if all(examples):
            return examples
    raise spec.SpecError(
        f"{where}: TESTS[{test.grade_id!r}]: no self-check examples away from rounding boundaries in 50 draws"
    )


def data(checks: spec.Spec) -> dict:
    """The self-check data of an assignment (JSON-able; the same bytes on every machine)."""
    tests = {
        gid: {"call": t.call, "kind": t.kind, "hint": t.hint, "examples": _examples(t, checks.path)}
        for gid, t in sorted(checks.tests.items())
    }
    return {"assignment": checks.path.parent.name, "tests": tests}


def files(folder: Path, variant: str = "") -> dict[str, bytes]:
    """{path relative to the assignment folder: bytes} of the self-check package of ``folder``
    (of one of its variants; default: the notebook as written)."""
    from . import variants

    out = {f"{PACKAGE}/{p.name}": p.read_bytes() for p in sorted(KERNEL.glob("*.py"))}
    checks = variants.checks(folder, variant) if variant else spec.load(folder)
    text = json.dumps(data(checks), sort_keys=True, indent=0) + "\n"
    out[f"{PACKAGE}/data.json"] = text.encode()
    return out


def write(folder: Path) -> bool:
    """(Re)write ``folder``/selfcheck/ (generated, not committed); True when something changed."""
    changed = False
    target = Path(folder) / PACKAGE
    wanted = files(folder)
    for rel, content in wanted.items():
        path = Path(folder) / rel
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed = True
    for old in target.iterdir() if target.is_dir() else []:
        if old.is_file() and f"{PACKAGE}/{old.name}" not in wanted:
            old.unlink()
            changed = True
    return changed
