"""Real nbgrader as a first-class flow: generate_assignment -> submitted/ -> autograde ->
generate_feedback -> export, in one course for every assignment, with three students each:
the instructor version (full marks), the blank release (zero) and a typical wrong answer (the
last answer's sign flipped: it keeps its shape points and loses exactly its value points).
nbgrader's own feedback must say what its score says: a test cell that scored its points shows
no error, one that scored zero shows the self-check's error saying what is wrong.

nbgrader runs the notebooks without the course's sandbox: this checks that an honest class is
graded right, not that a clever student is stopped (see book/instructor_guide.md).
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / "grading.py").exists())
SIGN = (
    "{i}return (tuple(-v for v in _right) if isinstance(_right, tuple) else\n"
    "{i}        {{k: -v for k, v in _right.items()}} if isinstance(_right, dict) else -_right)"
)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _last_answer(nb):
    return [c for c in nb.cells if _meta(c).get("solution")][-1]


def _wrong(nb):
    """The last answer returns minus its result (a sign mistake: same shapes, wrong values)."""
    nb = nbformat.from_dict(nb)
    cell = _last_answer(nb)
    lines = cell.source.split("\n")
    begin = next(i for i, ln in enumerate(lines) if ln.strip() == "### BEGIN SOLUTION")
    end = max(i for i, ln in enumerate(lines) if ln.strip() == "### END SOLUTION")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    k = max(i for i in range(begin, end) if lines[i].startswith(indent + "return "))
    lines[k] = lines[k].replace("return ", "_right = ", 1)
    lines.insert(end, SIGN.format(i=indent))
    cell.source = "\n".join(lines)
    return nb


def _expected(a: str) -> dict[str, float]:
    """{student: score} nbgrader must give (the wrong answer keeps all but its value tests' points)."""
    nb = nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4)
    tests = [_meta(c) for c in nb.cells if _meta(c).get("grade")]
    full = sum(t["points"] for t in tests)
    name = _meta(_last_answer(nb))["grade_id"]
    lost = sum(
        t["points"]
        for t in tests
        if t["grade_id"].startswith(f"test_{name}_") and not t["grade_id"].endswith(("_shape", "_shapes"))
    )
    assert lost > 0, a
    return {"teacher": full, "blank": 0.0, "wrong": full - lost}


def _nbgrader(course: Path, *args: str) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, " ".join(args) + "\n" + proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("nbgrader")
    release = tmp / "release"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(release)],
        check=True,
        capture_output=True,
    )  # also writes source/*/selfcheck/, which nbgrader copies
    course = tmp / "course"
    shutil.copytree(
        ROOT / "instructor",
        course,
        ignore=shutil.ignore_patterns(
            "release", "submitted", "autograded", "feedback", "gradebook.db", "__pycache__"
        ),
    )
    _nbgrader(course, "generate_assignment", "*", "--force")
    for a in ASSIGNMENTS:
        source = nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4)
        blank = nbformat.read(course / "release" / a / f"{a}.ipynb", as_version=4)
        for student, nb in (("teacher", source), ("blank", blank), ("wrong", _wrong(source))):
            (course / "submitted" / student / a).mkdir(parents=True)
            nbformat.write(nb, course / "submitted" / student / a / f"{a}.ipynb")
    _nbgrader(course, "autograde", "*", "--force")
    _nbgrader(course, "generate_feedback", "*", "--force")
    _nbgrader(course, "export")
    return course


def test_the_release_nbgrader_generates_is_ours(course):
    """nbgrader's generate_assignment writes what tools/release.py writes, self-check included."""
    ours = course.parent / "release"
    for a in ASSIGNMENTS:
        theirs = course / "release" / a
        files = sorted(str(p.relative_to(ours / a)) for p in (ours / a).rglob("*") if p.is_file())
        assert files == sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*") if p.is_file()), a
        assert all((theirs / f).read_bytes() == (ours / a / f).read_bytes() for f in files), a


def test_nbgrader_scores_blank_zero_wrong_its_shape_points_and_the_instructor_full(course):
    rows = list(csv.DictReader(open(course / "grades.csv")))
    got = {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}
    for a in ASSIGNMENTS:
        for student, score in _expected(a).items():
            assert got[(a, student)] == score, (a, student, got[(a, student)], score)


def _cells(feedback_html: str) -> list[tuple[str, float, float, str]]:
    """(grade_id, score, max, text of the cell's outputs) of each graded cell in nbgrader's feedback."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", feedback_html))
    parts = re.split(r"Grade cell:\s+(\S+)", text)[1:]
    out = []
    for gid, body in zip(parts[::2], parts[1::2]):
        score = re.search(r"Score:\s+([\d.]+)\s*/\s*([\d.]+)", body)
        out.append((gid, float(score.group(1)), float(score.group(2)), body))
    return out


def test_nbgrader_feedback_says_what_its_score_says(course):
    for a in ASSIGNMENTS:
        for student in ("teacher", "blank", "wrong"):
            page = (course / "feedback" / student / a / f"{a}.html").read_text()
            cells = _cells(page)
            assert len(cells) >= 4, (a, student)
            for gid, score, mx, body in cells:
                failed = "SelfCheckFailed" in body
                assert (score == mx) != failed, (a, student, gid, score, body[:500])
                if student == "blank":
                    assert "not answered yet" in body, (a, gid)
                if failed:
                    assert "not yet right" in body
