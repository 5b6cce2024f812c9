"""Instructor assignments: release (tools/release.py) and local autograding (tools/autograde.py).

The release is made once per module, the submissions of several made-up students are graded in one
run (instructor versions, blank student versions, a transposed gradient, a crash, invalid JSON)
and a looping one in a second run with a short per-cell timeout.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = ["subscripts", "jacobians", "differentials", "deep_softmax"]


def _load(name: str):
    """Import tools/<name>.py as a module (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module        # the documented importlib recipe (dataclasses need it)
    spec.loader.exec_module(module)
    return module


release_mod = _load("release")
autograde_mod = _load("autograde")


def _source(assignment: str) -> Path:
    return SOURCE / assignment / f"{assignment}.ipynb"


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _hidden_lines(nb) -> tuple[set[str], str]:
    """Lines inside solution / hidden-test regions, and the text of everything outside them."""
    secret, public = set(), []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                if line.strip():
                    secret.add(line.strip())
            else:
                public.append(line)
    return secret, "\n".join(public)


@pytest.fixture(scope="module")
def source_digest() -> dict[str, str]:
    return _tree_digest(ROOT / "instructor")


@pytest.fixture(scope="module")
def released(tmp_path_factory, source_digest) -> Path:
    out = tmp_path_factory.mktemp("release") / "release"
    release_mod.release(SOURCE, out)
    return out


# ------------------------------------------------------------------------------------------ sources
def test_sources_are_an_nbgrader_course_folder():
    assert (ROOT / "instructor" / "nbgrader_config.py").is_file()
    for a in ASSIGNMENTS:
        nb = nbformat.read(_source(a), as_version=4)
        kinds = {"solution": 0, "tests": 0, "hidden": 0}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if not meta:
                continue
            assert set(meta) <= {"grade", "solution", "locked", "grade_id", "points", "schema_version", "task"}
            assert meta["schema_version"] == 3 and isinstance(meta["grade_id"], str)
            if meta["solution"]:
                kinds["solution"] += 1
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            if meta["grade"]:
                kinds["tests"] += 1
                assert meta["locked"] and meta["points"] > 0
                kinds["hidden"] += "### BEGIN HIDDEN TESTS" in cell.source
        assert kinds["solution"] >= 2 and kinds["tests"] >= 4 and kinds["hidden"] >= 2, (a, kinds)
        assert release_mod.validate(_source(a)) == []


# ------------------------------------------------------------------------------------------ release
def test_release_is_leak_free(released):
    for a in ASSIGNMENTS:
        src = nbformat.read(_source(a), as_version=4)
        secret, public = _hidden_lines(src)
        secret = {line for line in secret if line not in public}
        assert len(secret) >= 5, f"{a}: too few solution / hidden-test lines to make the check meaningful"
        out = nbformat.read(released / a / f"{a}.ipynb", as_version=4)
        text = "\n".join(c.source for c in out.cells)
        leaked = sorted(line for line in secret if line in text)
        assert not leaked, f"{a}: the release contains solution or hidden-test lines: {leaked}"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text
        assert "raise NotImplementedError()" in text
        assert all(not c.get("outputs") for c in out.cells if c.cell_type == "code")
        # every graded and solution cell survives with its nbgrader metadata, locked as nbgrader locks them
        src_ids = [c.metadata["nbgrader"]["grade_id"] for c in src.cells if c.metadata.get("nbgrader")]
        out_ids = [c.metadata["nbgrader"]["grade_id"] for c in out.cells if c.metadata.get("nbgrader")]
        assert src_ids == out_ids
        for c in out.cells:
            meta = c.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert c.metadata["editable"] is False and c.metadata["deletable"] is False and "checksum" in meta


def test_release_is_idempotent_and_leaves_sources_untouched(released, source_digest, tmp_path):
    first = _tree_digest(released)
    assert sorted(first) == sorted(f"{a}/{a}.ipynb" for a in ASSIGNMENTS)
    (released / "subscripts" / "stale.txt").write_text("left over from an older release")
    release_mod.release(SOURCE, released)                 # the same folder again
    assert _tree_digest(released) == first
    other = tmp_path / "again"
    release_mod.release(SOURCE, other)                    # and a fresh folder
    assert _tree_digest(other) == first
    assert _tree_digest(ROOT / "instructor") == source_digest


def test_release_equals_nbgrader_generate_assignment(released, tmp_path):
    """The real `nbgrader generate_assignment`, run in a copy of instructor/ with its own config,
    writes byte-for-byte the notebook tools/release.py writes (so the folder works unchanged)."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "instructor", course, ignore=shutil.ignore_patterns("release", "gradebook.db"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", "subscripts", "--force"],
                          cwd=course, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ours = (released / "subscripts" / "subscripts.ipynb").read_bytes()
    assert (course / "release" / "subscripts" / "subscripts.ipynb").read_bytes() == ours


def _broken_source(tmp_path: Path, change) -> Path:
    src = tmp_path / "source"
    shutil.copytree(SOURCE, src)
    path = src / "subscripts" / "subscripts.ipynb"
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    return src


def _drop_end_solution(nb):
    cell = _cell(nb, "grad_W")
    cell.source = "\n".join(line for line in cell.source.split("\n") if "END SOLUTION" not in line)


def _duplicate_id(nb):
    _cell(nb, "test_grad_W_shape").metadata["nbgrader"]["grade_id"] = "test_dE_dw_scalar"


def _no_points(nb):
    del _cell(nb, "test_grad_W_values").metadata["nbgrader"]["points"]


@pytest.mark.parametrize("change, expected", [
    (_drop_end_solution, ["cell 8 (grade_id 'grad_W')", "'BEGIN SOLUTION' without a matching 'END SOLUTION'"]),
    (_duplicate_id, ["cell 9 (grade_id 'test_dE_dw_scalar')", "duplicate grade_id 'test_dE_dw_scalar'"]),
    (_no_points, ["cell 10 (grade_id 'test_grad_W_values')", "graded cell without points"]),
], ids=["begin-without-end", "duplicate-grade-id", "no-points"])
def test_malformed_sources_fail_naming_notebook_and_cell(tmp_path, change, expected):
    src = _broken_source(tmp_path, change)
    out = tmp_path / "out"
    with pytest.raises(release_mod.ReleaseError) as info:
        release_mod.release(src, out)
    message = str(info.value)
    assert "subscripts/subscripts.ipynb" in message
    for part in expected:
        assert part in message
    assert not out.exists() or not any(out.iterdir()), "nothing may be written when validation fails"


def test_release_command_line_reports_problems(tmp_path):
    src = _broken_source(tmp_path, _no_points)
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--source", str(src),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "graded cell without points" in proc.stderr and "test_grad_W_values" in proc.stderr


def test_release_refuses_output_inside_sources(tmp_path):
    with pytest.raises(release_mod.ReleaseError, match="outside the source folder"):
        release_mod.release(SOURCE, SOURCE / "subscripts" / "out")


# ------------------------------------------------------------------------------------------ grading
def _answer(nb, grade_id: str, old: str, new: str):
    cell = _cell(nb, grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """One autograde run over several students; returns (results, report folder)."""
    subs = tmp_path_factory.mktemp("submissions")
    for a in ASSIGNMENTS:
        for student, origin in (("teacher", _source(a)), ("blank", released / a / f"{a}.ipynb")):
            (subs / student / a).mkdir(parents=True)
            shutil.copyfile(origin, subs / student / a / f"{a}.ipynb")
    # a typical wrong answer: the gradient transposed (x delta^T instead of delta x^T)
    nb = nbformat.read(_source("subscripts"), as_version=4)
    _answer(nb, "grad_W", "    return G\n", "    return G.T\n")
    (subs / "transposer" / "subscripts").mkdir(parents=True)
    nbformat.write(nb, subs / "transposer" / "subscripts" / "subscripts.ipynb")
    # another typical mistake: the factor sigma'(v) = S - S^2 forgotten
    nb = nbformat.read(_source("differentials"), as_version=4)
    _answer(nb, "grad_W", "return (S - S @ S) @ (s - y) @ x.T", "return (s - y) @ x.T")
    (subs / "forgetful" / "differentials").mkdir(parents=True)
    nbformat.write(nb, subs / "forgetful" / "differentials" / "differentials.ipynb")
    # a crash: the answer cell kills the interpreter
    nb = nbformat.read(_source("jacobians"), as_version=4)
    _answer(nb, "ds_dv", "    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    import os; os._exit(1)\n")
    (subs / "crasher" / "jacobians").mkdir(parents=True)
    nbformat.write(nb, subs / "crasher" / "jacobians" / "jacobians.ipynb")
    shutil.copytree(subs / "teacher" / "subscripts", subs / "crasher" / "subscripts")
    # not JSON at all
    (subs / "garbled" / "differentials").mkdir(parents=True)
    (subs / "garbled" / "differentials" / "differentials.ipynb").write_text('{"cells": [ this is not json')
    shutil.copytree(subs / "teacher" / "subscripts", subs / "garbled" / "subscripts")
    out = tmp_path_factory.mktemp("autograded")
    results = autograde_mod.autograde(subs, SOURCE, out, timeout=60)
    return results, out


def _by_assignment(results, student):
    return {r.assignment: r for r in results[student]}


def _max_points(assignment: str) -> float:
    nb = nbformat.read(_source(assignment), as_version=4)
    return sum(c.metadata["nbgrader"]["points"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


def test_instructor_versions_score_full_marks(graded):
    results, out = graded
    mine = _by_assignment(results, "teacher")
    assert sorted(mine) == sorted(ASSIGNMENTS)
    for a, r in mine.items():
        assert r.max_score == _max_points(a) > 0
        assert [q.status for q in r.questions] == ["passed"] * len(r.questions), r.questions
        assert r.score == r.max_score and not r.notes
    rows = list(csv.DictReader(open(out / "scores.csv")))
    teacher = {row["assignment"]: row for row in rows if row["student"] == "teacher"}
    assert all(float(teacher[a]["score"]) == float(teacher[a]["max_score"]) == _max_points(a) for a in ASSIGNMENTS)


def test_student_versions_score_zero_without_crashing(graded):
    results, out = graded
    for a, r in _by_assignment(results, "blank").items():
        assert r.score == 0 and r.max_score == _max_points(a)
        assert all(q.status == "failed" and "NotImplementedError" in q.message for q in r.questions), r.questions
    feedback = json.loads((out / "feedback" / "blank.json").read_text())
    assert feedback["score"] == 0 and len(feedback["notebooks"]) == len(ASSIGNMENTS)


def test_transposed_gradient_gets_partial_marks_and_the_diagnosis(graded):
    results, out = graded
    r = _by_assignment(results, "transposer")["subscripts"]
    status = {q.grade_id: q for q in r.questions}
    assert status["test_dE_dw_scalar"].status == status["test_dE_dw_values"].status == "passed"
    assert status["test_grad_W_shape"].status == status["test_grad_W_values"].status == "failed"
    assert 0 < r.score < r.max_score
    assert "transpose of the correct one" in status["test_grad_W_values"].message
    md = (out / "feedback" / "transposer.md").read_text()
    assert "transpose of the correct one" in md and f"{r.score:g} / {r.max_score:g}" in md


def test_missing_activation_derivative_is_named(graded):
    results, out = graded
    r = _by_assignment(results, "forgetful")["differentials"]
    q = {q.grade_id: q for q in r.questions}
    assert q["test_grad_W_shape"].status == "passed" and q["test_grad_W_values"].status == "failed"
    assert "sigma'(v) = s - s*s of the activation is missing" in q["test_grad_W_values"].message
    assert 0 < r.score < r.max_score


def test_crash_and_invalid_json_score_zero_with_a_note_while_others_are_graded(graded):
    results, out = graded
    crashed = _by_assignment(results, "crasher")
    assert crashed["jacobians"].score < crashed["jacobians"].max_score
    assert any("kernel died" in n for n in crashed["jacobians"].notes)
    before = {q.grade_id: q.status for q in crashed["jacobians"].questions}
    assert before["test_dE_ds_shape"] == "passed"            # graded before the crash
    assert before["test_ds_dv_shape"] == before["test_grad_W_values"] == "not run"
    assert crashed["subscripts"].score == crashed["subscripts"].max_score
    garbled = _by_assignment(results, "garbled")
    assert garbled["differentials"].score == 0
    assert any("not valid notebook JSON" in n for n in garbled["differentials"].notes)
    assert garbled["subscripts"].score == garbled["subscripts"].max_score
    md = (out / "feedback" / "garbled.md").read_text()
    assert "not valid notebook JSON" in md


def test_endless_loop_times_out_with_a_note_while_the_rest_is_graded(tmp_path):
    nb = nbformat.read(_source("subscripts"), as_version=4)
    _answer(nb, "dE_dw", "    ### BEGIN SOLUTION\n", "    ### BEGIN SOLUTION\n    while True:\n        pass\n")
    # grad_W that does not call dE_dw, so question 2 is graded despite the loop in question 1
    _answer(nb, "grad_W", "            G[i, j] = dE_dw(W, x, y, i, j)\n",
            "            s = 1 / (1 + np.exp(-(W @ x)))\n"
            "            G[i, j] = ((s - s * s) * (s - y))[i, 0] * x[j, 0]\n")
    subs = tmp_path / "subs"
    (subs / "looper" / "subscripts").mkdir(parents=True)
    nbformat.write(nb, subs / "looper" / "subscripts" / "subscripts.ipynb")
    shutil.copytree(SOURCE / "subscripts", subs / "teacher" / "subscripts")
    results = autograde_mod.autograde(subs, SOURCE, tmp_path / "out", timeout=4)
    looper = {q.grade_id: q for q in results["looper"][0].questions}
    assert looper["test_dE_dw_scalar"].status == looper["test_dE_dw_values"].status == "timeout"
    assert looper["test_dE_dw_scalar"].points == 0
    assert looper["test_grad_W_shape"].status == looper["test_grad_W_values"].status == "passed"
    assert any("did not finish within 4 s" in n for n in results["looper"][0].notes)
    assert results["teacher"][0].score == results["teacher"][0].max_score
    assert "did not finish" in (tmp_path / "out" / "feedback" / "looper.md").read_text()


def test_code_that_ignores_the_interrupt_cannot_hang_the_grader():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        nbformat.v4.new_code_cell("print('never reached while the kernel is busy')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notes = autograde_mod.execute(nb, timeout=1)
    assert [c.metadata["autograde"]["status"] for c in nb.cells] == ["timeout", "timeout"]
    assert len(notes) == 2 and all("did not finish within 1 s" in n for n in notes)


def test_hidden_tests_are_restored_and_edited_tests_do_not_count(released, tmp_path):
    """A student who deletes the visible assertion and whose notebook lacks hidden tests is still tested."""
    nb = nbformat.read(released / "subscripts" / "subscripts.ipynb", as_version=4)
    _answer(nb, "dE_dw", "    # YOUR CODE HERE\n    raise NotImplementedError()", "    return 0.0")
    _cell(nb, "test_dE_dw_scalar").source = "pass"
    subs = tmp_path / "subs"
    (subs / "cheater" / "subscripts").mkdir(parents=True)
    nbformat.write(nb, subs / "cheater" / "subscripts" / "subscripts.ipynb")
    results = autograde_mod.autograde(subs, SOURCE, tmp_path / "out", timeout=60)
    q = {q.grade_id: q for q in results["cheater"][0].questions}
    assert q["test_dE_dw_scalar"].status == "passed"          # 0.0 is a number: the visible test passes
    assert q["test_dE_dw_values"].status == "failed"          # the restored hidden test does not
    assert "zero everywhere" in q["test_dE_dw_values"].message
