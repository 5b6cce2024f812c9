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
from test_grader_assignments import _grading

_grading()  # tools/grading as `grading`
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
    sys.modules["selfcheck"] = stub  # the setup cells import it; the test cells are not run
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


def _cases(test: spec.Test, seed: int = SEED) -> list[dict]:
    """The fresh cases of a test; for a memory test the self-check's small ones (the grader's are
    MBs: their memory is measured in test_grader_adversarial.py)."""
    if test.peak_memory is not None and test.examples is not None:
        return [spec.quantize(c) for c in test.examples(spec.rng_for(seed, test.grade_id))]
    return spec.cases(test, seed)


def _verdicts(checks: spec.Spec, functions: dict, seed: int = SEED) -> dict[str, bool]:
    """{grade_id: passed on every fresh case} as the grader judges (memory not measured here)."""
    out = {}
    for gid, test in checks.tests.items():
        cases = _cases(test, seed)
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
        assert every[0].replacements == (), a  # the common release is the notebook as written
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
    text = lambda n, kind: [c.source for c in n.cells if c.cell_type == kind]  # noqa: E731
    assert text(nb, "markdown") != text(plain, "markdown"), "the text does not change with the variant"
    answers = lambda n: [c.source for c in n.cells if notebook.meta(c).get("solution")]  # noqa: E731
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
        for case in _cases(test) if test.mistakes else []:
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


def _differs(test: spec.Test, a: str, other: str) -> bool:
    """True when ``other``'s reference gives other numbers than ``test``'s on its fresh cases."""
    theirs = variants.checks(SOURCE / a, other).tests[test.grade_id]
    for case in _cases(test)[:2]:
        mine = test.expected(**case)
        try:
            alt = theirs.expected(**case)
        except ValueError:  # the other variant's layer cannot take these inputs
            return True
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
    others = [
        variants.draw("another secret", s, "subscripts", variants.names(SOURCE / "subscripts")) for s in names
    ]
    assert others != [
        variants.draw("a course secret", s, "subscripts", variants.names(SOURCE / "subscripts"))
        for s in names
    ]


def _release(tmp_path, *args) -> subprocess.CompletedProcess:
    """tools/release.py with ARGS, its output and gradebook under tmp_path (not checked)."""
    cmd = [sys.executable, ROOT / "tools" / "release.py", *args, "--out", tmp_path / "out"]
    cmd += ["--gradebook", tmp_path / "gb.sqlite"]
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True)


def test_a_variant_whose_text_is_missing_from_the_notebook_is_an_error(tmp_path):
    import shutil

    src = tmp_path / "source" / "subscripts"
    shutil.copytree(SOURCE / "subscripts", src, ignore=shutil.ignore_patterns("selfcheck"))
    text = (
        (src / "grading.py")
        .read_text()
        .replace('("s = sigma(v)", "s = tanh(v)")', '("s = sigma(w)", "s = tanh(v)")')
    )
    (src / "grading.py").write_text(text)
    with pytest.raises(variants.VariantError, match=r"variant 'tanh'.*'s = sigma\(w\)'"):
        variants.render(nbformat.read(src / "subscripts.ipynb", as_version=4), variants.get(src, "tanh"))
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nann\n")
    proc = _release(tmp_path, "--source", tmp_path / "source", "--roster", roster)
    assert proc.returncode == 1 and "s = sigma(w)" in proc.stderr and not (tmp_path / "out" / "ann").exists()


def test_a_roster_without_a_student_column_or_with_a_duplicate_is_refused(tmp_path):
    for text, said in (("name\nann\n", "no 'student' column"), ("student\nann\nAnn\n", "same student")):
        roster = tmp_path / "roster.csv"
        roster.write_text(text)
        proc = _release(tmp_path, "subscripts", "--roster", roster)
        assert proc.returncode == 1 and said in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------- similarity
HONEST = {  # six students' own ways to answer subscripts (the notebook as written: sigma)
    "ana": None,  # the solution as written
    "ben": """def dE_dw(W, x, y, i, j):
    v = W @ x
    s = 1 / (1 + np.exp(-v))
    return float((s[i, 0] - y[i, 0]) * s[i, 0] * (1 - s[i, 0]) * x[j, 0])
---
def grad_W(W, x, y):
    s = 1 / (1 + np.exp(-(W @ x)))
    delta = (s - y) * s * (1 - s)
    return delta @ x.T""",
    "cem": """def dE_dw(W, x, y, i, j):
    return grad_W(W, x, y)[i, j].item()
---
def grad_W(W, x, y):
    out = 1.0 / (1.0 + np.exp(-np.einsum("ij,jk->ik", W, x)))
    return np.einsum("i,j->ij", ((out - y) * (out - out**2))[:, 0], x[:, 0])""",
    "dua": """import math
def dE_dw(W, x, y, i, j):
    vi = sum(W[i, q] * x[q, 0] for q in range(W.shape[1]))
    si = 1.0 / (1.0 + math.exp(-vi))
    return (si - y[i, 0]) * si * (1.0 - si) * x[j, 0]
---
def grad_W(W, x, y):
    rows, cols = W.shape
    return np.array([[dE_dw(W, x, y, r, c) for c in range(cols)] for r in range(rows)])""",
    "eli": """def sig(t):
    return 1 / (1 + np.exp(-t))

def dE_dw(W, x, y, i, j):
    G = grad_W(W, x, y)
    return float(G[i][j])
---
def grad_W(W, x, y):
    a = sig(W.dot(x)).ravel()
    err = a - y.ravel()
    return np.outer(err * a * (1 - a), x.ravel())""",
    "fay": """def dE_dw(W, x, y, i, j):
    v = (W @ x)[:, 0]
    s = np.exp(v) / (1 + np.exp(v))
    dsdv = np.exp(-v) / (1 + np.exp(-v)) ** 2
    terms = [(s[k] - y[k, 0]) * dsdv[k] * (x[j, 0] if k == i else 0.0) for k in range(len(v))]
    return float(np.sum(terms))
---
def grad_W(W, x, y):
    G = np.empty(W.shape)
    for (i, j), _ in np.ndenumerate(W):
        G[i, j] = dE_dw(W, x, y, i, j)
    return G""",
}
# a copy of ben's answers with other names, other comments and other spacing
COPY = """def dE_dw(W, x, y, i, j):
    pre = W @ x                       # the pre-activation
    out = 1 / (1 + np.exp(-pre))
    return float((out[i, 0] - y[i, 0]) * out[i, 0] * (1 - out[i, 0]) * x[j, 0])
---
def grad_W(W, x, y):
    # my own derivation
    out = 1 / (1 + np.exp(-(W @ x)))
    d = (out - y) * out * (1 - out)
    return d @ x.T"""


def _with_answers(nb, text: str | None):
    nb = nbformat.from_dict(nb)
    if text is None:
        return nb
    cells = [c for c in nb.cells if notebook.meta(c).get("solution")]
    for cell, body in zip(cells, text.split("---\n")):
        cell.source = body
    return nb


def test_a_planted_copy_pair_heads_similarity_csv(tmp_path):
    from grading import similarity

    source_nb = _notebook("subscripts", "sigmoid")
    class_ = {**HONEST, "gus": COPY}
    nbs = {s: _with_answers(source_nb, t) for s, t in class_.items()}
    for s, nb in nbs.items():  # every answer is right
        assert all(_verdicts(spec.load(SOURCE / "subscripts"), _functions(nb)).values()), s
    code = {s: similarity.own_code(nb, source_nb) for s, nb in nbs.items()}
    data = {
        "subscripts": {
            "code": code,
            "skeleton": similarity._skeleton(SOURCE / "subscripts", "subscripts.ipynb"),
        }
    }
    rows = similarity.write(data, [], tmp_path / "similarity.csv")
    table = list(csv.reader(open(tmp_path / "similarity.csv")))
    assert table[0] == ["assignment", "student_a", "student_b", "similarity", "reason"]
    assert table[1][:3] == ["subscripts", "ben", "gus"] and float(table[1][3]) >= similarity.THRESHOLD, table
    assert "copydetect" in table[1][4]
    pairs = similarity.code_pairs(code, data["subscripts"]["skeleton"])
    honest = {p: v for p, v in pairs.items() if "gus" not in p}
    assert max(honest.values()) < pairs["ben", "gus"], sorted(pairs.items(), key=lambda kv: -kv[1])[:4]
    assert rows == table[1:]


def test_a_copy_diluted_with_code_of_its_own_still_heads_similarity_csv():
    """A copier who swaps the two answers' order and adds a cell of unrelated helpers of their own
    (to lower the share of the copied code in their notebook) is still found: the similarity is
    the larger share, and all of the source's code is in the copy."""
    from grading import similarity

    source_nb = _notebook("subscripts", "sigmoid")
    first, second = COPY.split("---\n")
    nbs = {s: _with_answers(source_nb, t) for s, t in HONEST.items()}
    diluted = _with_answers(source_nb, second + "---\n" + first)  # grad_W's body where dE_dw's was
    filler = "\n".join(
        f"def helper_{k}(a, b):\n    total = 0\n    for i in range(a):\n        total += i * b + {k}\n"
        f"    return total % {k + 7}\n"
        for k in range(40)
    )
    diluted.cells.append(nbformat.v4.new_code_cell(filler))
    nbs["gus"] = diluted
    code = {s: similarity.own_code(nb, source_nb) for s, nb in nbs.items()}
    assert len(code["gus"]) > 5 * len(code["ben"])  # the copied code is a small share of gus's
    skeleton = similarity._skeleton(SOURCE / "subscripts", "subscripts.ipynb")
    rows = similarity.table({"subscripts": {"code": code, "skeleton": skeleton}}, [])
    assert rows and rows[0][:3] == ["subscripts", "ben", "gus"], rows
    assert float(rows[0][3]) >= similarity.THRESHOLD, rows


# ------------------------------------------------------------------------------- end to end, sandboxed
SECRET = "a test course secret"


def _cover() -> list[str]:
    """Three students whose variants are all different in every assignment (each has three):
    together they cover every variant of every assignment."""
    choices = [variants.names(SOURCE / a) for a in MULTI]
    by_vector = {}
    for k in range(30000):
        name = f"s{k:05d}"
        by_vector.setdefault(tuple(variants.draw(SECRET, name, a, cs) for a, cs in zip(MULTI, choices)), name)
    for first, second in ((x, y) for x in list(by_vector)[:50] for y in by_vector):
        if all(a != b for a, b in zip(first, second)):
            third = tuple(next(c for c in cs if c not in (a, b)) for cs, a, b in zip(choices, first, second))
            if third in by_vector:
                return [by_vector[first], by_vector[second], by_vector[third]]
    raise AssertionError(
        "no three students cover every variant (is there an assignment with more than three?)"
    )


def _tool(*args) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def roster_class(tmp_path_factory):
    """A class released with --roster: keys for students covering every variant, a blank, and a
    student who handed in someone else's key (a different variant) for every assignment."""
    import shutil

    tmp = tmp_path_factory.mktemp("variants")
    cover = _cover()
    mine = {a: variants.draw(SECRET, "swapper", a, variants.names(SOURCE / a)) for a in MULTI}
    roster = tmp / "roster.csv"
    roster.write_text(
        "student,name,lms_id\n"
        + "".join(f"{s},Student {s},{k}\n" for k, s in enumerate(cover + ["blank", "swapper"]))
    )
    out = tmp / "autograded"
    release = ROOT / "tools" / "release.py"
    _tool(
        release,
        *MULTI,
        "--roster",
        roster,
        "--solutions",
        "--out",
        tmp / "keys",
        "--gradebook",
        out / "gradebook.sqlite",
        "--secret",
        SECRET,
    )
    _tool(
        release,
        *MULTI,
        "--roster",
        roster,
        "--out",
        tmp / "students",
        "--gradebook",
        out / "gradebook.sqlite",
    )
    subs = tmp / "submissions"
    for s in cover:
        shutil.copytree(tmp / "keys" / s, subs / s, ignore=shutil.ignore_patterns("selfcheck"))
    shutil.copytree(tmp / "students" / "blank", subs / "blank", ignore=shutil.ignore_patterns("selfcheck"))
    fitted = {}
    for a in MULTI:  # the swapper hands in the key of a student with another variant
        donor = next(s for s in cover if variants.draw(SECRET, s, a, variants.names(SOURCE / a)) != mine[a])
        fitted[a] = variants.draw(SECRET, donor, a, variants.names(SOURCE / a))
        (subs / "swapper" / a).mkdir(parents=True)
        shutil.copyfile(tmp / "keys" / donor / a / f"{a}.ipynb", subs / "swapper" / a / f"{a}.ipynb")
    proc = _tool(ROOT / "tools" / "autograde.py", subs, "--out", out, "--jobs", "2", "--no-progress")
    feedback = {p.stem: json.loads(p.read_text()) for p in (out / "feedback").glob("*.json")}
    return {
        "tmp": tmp,
        "out": out,
        "cover": cover,
        "mine": mine,
        "fitted": fitted,
        "feedback": feedback,
        "stdout": proc.stdout,
    }


def _nb(roster_class, student: str, a: str) -> dict:
    return next(n for n in roster_class["feedback"][student]["notebooks"] if n["assignment"] == a)


def test_roster_release_writes_one_version_per_student_and_keeps_the_roster_columns(roster_class):
    tmp = roster_class["tmp"]
    rows = list(csv.DictReader(open(tmp / "students" / "roster.csv")))
    assert (
        list(rows[0])[:3] == ["student", "name", "lms_id"]
        and rows[0]["name"] == f"Student {rows[0]['student']}"
    )
    for row in rows:
        for a in MULTI:
            v = variants.draw(SECRET, row["student"], a, variants.names(SOURCE / a))
            assert row[a] == v
            student = nbformat.read(tmp / "students" / row["student"] / a / f"{a}.ipynb", as_version=4)
            key = nbformat.read(tmp / "keys" / row["student"] / a / f"{a}.ipynb", as_version=4)
            assert student.metadata["backprop_variant"]["name"] == v
            assert "### BEGIN SOLUTION" in json.dumps(key) and "### BEGIN SOLUTION" not in json.dumps(student)
            assert (
                tmp / "students" / row["student"] / a / "selfcheck" / "data.json"
            ).read_bytes() == selfcheck.files(SOURCE / a, v)["selfcheck/data.json"]
    assert len({r[a] for r in rows}) >= 2


def test_every_key_scores_full_marks_graded_as_its_student(roster_class):
    seen = set()
    for s in roster_class["cover"]:
        for a in MULTI:
            nb = _nb(roster_class, s, a)
            assert nb["score"] == nb["max_score"] > 0, (s, a, nb["questions"])
            v = variants.draw(SECRET, s, a, variants.names(SOURCE / a))
            assert nb["variant"] == v and any(f"variant '{v}'" in n for n in nb["notes"])
            seen.add((a, v))
    assert seen == {(a, v) for a in MULTI for v in variants.names(SOURCE / a)}


def test_a_blank_scores_zero(roster_class):
    for a in MULTI:
        nb = _nb(roster_class, "blank", a)
        assert nb["score"] == 0 < nb["max_score"], nb["questions"]


def test_a_swapped_key_loses_its_value_points_and_is_named_with_the_pair(roster_class):
    table = list(csv.DictReader(open(roster_class["out"] / "similarity.csv")))
    for a in MULTI:
        nb = _nb(roster_class, "swapper", a)
        lost = [q for q in nb["questions"] if q["points"] == 0]
        assert lost and all(
            q["points"] == q["max_points"] for q in nb["questions"] if "shape" in q["grade_id"]
        )
        assert nb["fits_variant"] == roster_class["fitted"][a]
        assert any(
            f"variant '{roster_class['fitted'][a]}'" in n and "not for yours" in n for n in nb["notes"]
        )
        assert all("another version" in q["message"] for q in lost if "values" in q["grade_id"])
        holders = {
            s
            for s in roster_class["cover"]
            if variants.draw(SECRET, s, a, variants.names(SOURCE / a)) == roster_class["fitted"][a]
        }
        listed = {
            r["student_a"] if r["student_b"] == "swapper" else r["student_b"]
            for r in table
            if r["assignment"] == a
            and "swapper" in (r["student_a"], r["student_b"])
            and "swapper's answers are right for" in r["reason"]
        }
        assert listed == holders, (a, listed, holders)
    assert "similarity.csv" in roster_class["stdout"]
