"""Variants, keys and similarity (issue 27): every variant of every assignment, in-process (fast),
then one sandboxed grading run over a small class released with ``release --roster``.

In-process, for every (assignment, variant): the notebook is written for the variant (text and
solution differ from the notebook as written); its solution passes its own self-check and the
grader's verdicts on fresh inputs (the self-check agrees with the grader); a blank fails both;
each typical mistake the variant declares is named; another variant's solution loses the value
tests whose right answers differ. The sandboxed run checks the same end to end: keys score full
marks, a blank 0, a swapped key loses its value points and is named with the variant it fits,
and a planted copy pair heads similarity.csv.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from test_grader_assignments import _selfcheck_package  # noqa: F401  (imports tools/grading as `grading`)
from grading import notebook, selfcheck, spec, variants, verdicts  # noqa: E402
from grading.kernel import wire  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / "grading.py").exists())
ALL = [(a, v) for a in ASSIGNMENTS for v in variants.names(SOURCE / a)]
MULTI = [a for a in ASSIGNMENTS if len(variants.names(SOURCE / a)) > 1]
SEED = 12345


def _notebook(a: str, v: str):
    path = next((SOURCE / a).glob("*.ipynb"))
    return variants.render(nbformat.read(path, as_version=4), variants.get(SOURCE / a, v))


def _functions(nb) -> dict:
    """What the notebook's setup and answer cells define (its test cells are not run)."""
    import types
    scope, stub = {}, types.ModuleType("selfcheck")
    stub.check = lambda *args: None
    saved = sys.modules.get("selfcheck")
    sys.modules["selfcheck"] = stub            # the setup cells import it; the test cells are not run
    try:
        for cell in nb.cells:
            if cell.cell_type == "code" and not notebook.is_test(cell):
                exec(cell.source, scope)
    finally:
        del sys.modules["selfcheck"]
        if saved is not None:
            sys.modules["selfcheck"] = saved
    answers = {notebook.meta(c)["grade_id"] for c in nb.cells if notebook.meta(c).get("solution")}
    return {k: f for k, f in scope.items() if k in answers or (callable(f) and not k.startswith("_"))}


def _blank(nb) -> dict:
    def raise_(*args, **kwargs):
        raise NotImplementedError()
    answers = {notebook.meta(c)["grade_id"] for c in nb.cells if notebook.meta(c).get("solution")}
    return {**_functions(nb), **{k: raise_ for k in answers}}


def _answers(test: spec.Test, cases: list[dict], functions: dict) -> list[dict]:
    out = []
    for case in cases:
        try:
            out.append({"ok": wire.answer(eval(test.call, {"np": np, **functions, **case}))})
        except Exception as err:
            out.append({"raised": type(err).__name__, "message": str(err)[:300]})
    return out


def _verdicts(checks: spec.Spec, functions: dict, seed: int = SEED) -> dict[str, bool]:
    """{grade_id: passed on every fresh case} as the grader judges (memory not measured here)."""
    out = {}
    for gid, test in checks.tests.items():
        cases = spec.cases(test, seed)[:1] if test.peak_memory else spec.cases(test, seed)
        test = test if test.peak_memory is None else spec.Test(**{**test.__dict__, "peak_memory": None})
        out[gid] = all(verdicts.judge(test, c, r)[0] for c, r in zip(cases, _answers(test, cases, functions)))
    return out


def _selfcheck(tmp_path: Path, a: str, v: str, functions: dict) -> dict[str, str]:
    """{grade_id: '' when check() passes, else its message} with the variant's self-check package."""
    folder = tmp_path / f"{a}-{v}"
    for rel, content in selfcheck.files(SOURCE / a, v).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    sys.path.insert(0, str(folder))
    try:
        for name in [m for m in sys.modules if m == "selfcheck" or m.startswith("selfcheck.")]:
            del sys.modules[name]
        import selfcheck as module
        out = {}
        for gid in variants.checks(SOURCE / a, v).tests:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    module.check(gid, {"np": np, **functions})
                out[gid] = ""
            except module.SelfCheckFailed as err:
                out[gid] = str(err)
        return out
    finally:
        sys.path.remove(str(folder))


# ------------------------------------------------------------------------------- declarations
def test_every_assignment_declares_its_variants_and_a_default_of_the_notebook_as_written():
    for a in ASSIGNMENTS:
        every = variants.all_variants(SOURCE / a)
        assert every[0].replacements == (), a          # the common release is the notebook as written
        assert len({v.name for v in every}) == len(every), a
        default = variants.checks(SOURCE / a, every[0].name)
        plain = spec.load(SOURCE / a)
        assert sorted(default.tests) == sorted(plain.tests), a
        for v in every[1:]:
            assert sorted(variants.checks(SOURCE / a, v.name).tests) == sorted(plain.tests), (a, v.name)


@pytest.mark.parametrize("a, v", ALL)
def test_a_variants_notebook_is_written_for_it(a, v):
    nb, plain = _notebook(a, v), _notebook(a, variants.names(SOURCE / a)[0])
    if v == variants.names(SOURCE / a)[0]:
        return
    text = lambda n, kind: [c.source for c in n.cells if c.cell_type == kind]     # noqa: E731
    assert text(nb, "markdown") != text(plain, "markdown"), "the text does not change with the variant"
    answers = lambda n: [c.source for c in n.cells if notebook.meta(c).get("solution")]   # noqa: E731
    assert answers(nb) != answers(plain), "the solution does not change with the variant"
    assert nb.metadata["backprop_variant"] == {"assignment": a, "name": v}


@pytest.mark.parametrize("a, v", ALL)
def test_each_variants_key_passes_self_check_and_grader_and_a_blank_neither(a, v, tmp_path):
    nb = _notebook(a, v)
    checks = variants.checks(SOURCE / a, v)
    key = _functions(nb)
    assert all(_verdicts(checks, key).values()), _verdicts(checks, key)
    said = _selfcheck(tmp_path, a, v, key)
    assert not any(said.values()), said
    blank = _blank(nb)
    assert not any(_verdicts(checks, blank).values())
    said = _selfcheck(tmp_path, a, v, blank)
    assert all("not answered yet" in m for m in said.values()), said


@pytest.mark.parametrize("a, v", ALL)
def test_each_variants_typical_mistakes_are_named(a, v):
    """Every mistake a variant declares (of an assignment with variants; otherwise at least one)
    is named with its words on a fresh case where it is wrong."""
    checks = variants.checks(SOURCE / a, v)
    named, declared = set(), set()
    for gid, test in checks.tests.items():
        for case in spec.cases(test, SEED) if test.mistakes else []:
            for kind, m in test.mistakes(**case).items():
                wrong, words = m if isinstance(m, tuple) else (m, None)
                declared.add((gid, kind))
                ok, message = verdicts.judge(test, case, {"ok": wire.answer(wrong)})
                if not ok and (words or kind.replace("_", " ")) and (words in message if words else True):
                    named.add((gid, kind))
    if len(variants.names(SOURCE / a)) > 1:
        assert declared and named == declared, (a, v, sorted(declared - named))
    elif declared:
        assert named, (a, v)


@pytest.mark.parametrize("a", MULTI)
def test_another_variants_key_loses_the_value_points_that_differ(a):
    names = variants.names(SOURCE / a)
    for v in names:
        checks = variants.checks(SOURCE / a, v)
        for w in names:
            if w == v:
                continue
            passed = _verdicts(checks, _functions(_notebook(a, w)))
            differ = [gid for gid, t in checks.tests.items() if t.kind != "shape" and _differs(t, a, w)]
            assert differ, (a, v, w)
            assert not any(passed[g] for g in differ), (a, v, w, passed)
            assert all(passed[g] for g, t in checks.tests.items() if t.kind == "shape"), (a, v, w, passed)


def _differs(test: spec.Test, a: str, other: str) -> bool:
    """True when ``other``'s reference gives other numbers than ``test``'s on its fresh cases."""
    theirs = variants.checks(SOURCE / a, other).tests[test.grade_id]
    for case in spec.cases(test, SEED)[:2]:
        mine, alt = test.expected(**case), theirs.expected(**case)
        parts = mine.items() if isinstance(mine, dict) else [(None, mine)]
        for k, value in parts:
            other_value = alt[k] if k is not None else alt
            if np.shape(value) != np.shape(other_value) or not np.allclose(value, other_value, rtol=1e-6):
                return True
    return False


# ------------------------------------------------------------------------------- drawing
def test_thirty_students_get_at_least_three_variants_of_every_assignment_with_variants():
    names = [f"student{k:02d}" for k in range(30)]
    for a in ASSIGNMENTS:
        choices = variants.names(SOURCE / a)
        drawn = {variants.draw("a course secret", s, a, choices) for s in names}
        assert len(drawn) >= min(3, len(choices)), (a, drawn)
        again = {variants.draw("a course secret", s, a, choices) for s in names}
        assert drawn == again
    others = [variants.draw("another secret", s, "subscripts", variants.names(SOURCE / "subscripts"))
              for s in names]
    assert others != [variants.draw("a course secret", s, "subscripts", variants.names(SOURCE / "subscripts"))
                      for s in names]


def test_a_variant_whose_text_is_missing_from_the_notebook_is_an_error(tmp_path):
    import shutil
    src = tmp_path / "source" / "subscripts"
    shutil.copytree(SOURCE / "subscripts", src, ignore=shutil.ignore_patterns("selfcheck"))
    text = (src / "grading.py").read_text().replace('("s = sigma(v)", "s = tanh(v)")',
                                                    '("s = sigma(w)", "s = tanh(v)")')
    (src / "grading.py").write_text(text)
    with pytest.raises(variants.VariantError, match=r"variant 'tanh'.*'s = sigma\(w\)'"):
        variants.render(nbformat.read(src / "subscripts.ipynb", as_version=4), variants.get(src, "tanh"))
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nann\n")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--source", str(tmp_path / "source"),
                           "--roster", str(roster), "--out", str(tmp_path / "out"),
                           "--gradebook", str(tmp_path / "gb.sqlite")], capture_output=True, text=True)
    assert proc.returncode == 1 and "s = sigma(w)" in proc.stderr and not (tmp_path / "out" / "ann").exists()


def test_a_roster_without_a_student_column_or_with_a_duplicate_is_refused(tmp_path):
    for text, said in (("name\nann\n", "no 'student' column"), ("student\nann\nAnn\n", "same student")):
        roster = tmp_path / "roster.csv"
        roster.write_text(text)
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "subscripts", "--roster",
                               str(roster), "--out", str(tmp_path / "out"), "--gradebook",
                               str(tmp_path / "gb.sqlite")], capture_output=True, text=True)
        assert proc.returncode == 1 and said in proc.stderr, proc.stderr
