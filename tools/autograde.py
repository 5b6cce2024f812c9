"""Grade submitted notebooks locally against the instructor sources (no nbgrader database needed).

    python tools/autograde.py SUBMISSIONS [--source instructor/source] [--out autograded]
                              [--timeout 30] [--assignment NAME ...]

Layout (the same as nbgrader's ``submitted/`` folder, so that folder can be graded as it is):

    SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb

``<assignment>/<notebook>.ipynb`` is the path of a notebook under the source folder
(instructor/source). For every student and every assignment that at least one student submitted
(or every ``--assignment`` given), each source notebook is graded:

1. the submission is read (a file that is not a notebook gets zero, with a note), its outputs are
   cleared (nbgrader's ClearOutput) and duplicated grade_ids dropped (nbgrader's DeduplicateIds);
2. every test cell and read-only cell is restored from the instructor source, matched by grade_id,
   so the hidden tests are back and edited tests count for nothing; a deleted test cell is
   appended at the end; the student's answer cells are kept;
3. the notebook runs with nbclient in a fresh kernel (working directory: a temporary folder),
   cell by cell with a per-cell timeout. An error does not stop the run; a cell that runs out of
   time is interrupted (the rest still runs); if the kernel dies, the cells not run get zero;
4. each test cell is scored by nbgrader's own rule (nbgrader.utils.determine_grade): full points
   unless it raised an error or wrote to stderr; its points come from the source, never from the
   submission.

Written to OUT (default autograded/, gitignored):

    scores.csv                           one row per student and assignment: score, max_score
    questions.csv                        one row per student and test cell (grade_id): points, status, message
    feedback/<student>.md, .json         per question: points, status and the failing test's message
                                         (the hidden tests' messages come from backprop.diagnose)
    executed/<student>/<assignment>/<notebook>.ipynb   the graded notebooks, with outputs

Exit code 0 when every submission was graded (even with zero points), 1 on a bad argument.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
OUT = ROOT / "autograded"


@dataclass
class Question:
    """The result of one autograder test cell."""

    grade_id: str
    max_points: float
    points: float = 0.0
    status: str = "not run"       # passed | failed | timeout | not run | manual
    message: str = ""


@dataclass
class NotebookResult:
    assignment: str
    notebook: str                 # path under the assignment folder, e.g. "subscripts.ipynb"
    questions: list[Question]
    notes: list[str] = field(default_factory=list)
    answer_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def max_score(self) -> float:
        return sum(q.max_points for q in self.questions)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    m = _nbgrader(cell)
    return bool(m.get("grade")) and not m.get("solution")


def _is_restored(cell) -> bool:
    """Cells the grader takes from the source: autograder tests and read-only cells."""
    m = _nbgrader(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and bool(m.get("grade") or m.get("locked"))


def _error_text(output) -> str:
    return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()


def _explain(output) -> str:
    """A one-line, student-facing message for an error output of a test cell."""
    ename, evalue = output.get("ename", ""), output.get("evalue", "")
    if ename == "NotImplementedError":
        return "not answered: the answer cell still raises NotImplementedError"
    if ename == "NameError":
        return f"{_error_text(output)} (did the answer cell run without error?)"
    if ename == "AssertionError" and evalue:
        return evalue
    return _error_text(output)


def prepare(source_nb, submission_nb) -> tuple:
    """The notebook to run: the submission with every test and read-only cell restored from the source.

    Returns (notebook, notes). Neither argument is modified.
    """
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds
    nb = nbformat.from_dict(submission_nb)
    resources: dict = {}
    for step in (ClearOutput, DeduplicateIds):
        nb, resources = step().preprocess(nb, resources)
    originals = {_nbgrader(c)["grade_id"]: c for c in source_nb.cells if _is_restored(c)}
    known_ids = {_nbgrader(c).get("grade_id") for c in source_nb.cells if _nbgrader(c).get("grade_id")}
    notes, present = [], set()
    for i, cell in enumerate(nb.cells):
        gid = _nbgrader(cell).get("grade_id")
        if gid in originals:
            src = originals[gid]
            nb.cells[i] = nbformat.from_dict({**src, "outputs": [], "execution_count": None}
                                             if src.cell_type == "code" else dict(src))
            present.add(gid)
        elif gid and gid not in known_ids and _nbgrader(cell).get("grade"):
            cell.metadata["nbgrader"] = {**_nbgrader(cell), "grade": False}   # an unknown test is not scored
            notes.append(f"cell with unknown grade_id {gid!r} is not graded")
    for src in source_nb.cells:
        gid = _nbgrader(src).get("grade_id")
        if _is_test(src) and gid not in present:
            nb.cells.append(nbformat.from_dict({**src, "outputs": [], "execution_count": None}))
            notes.append(f"test cell {gid!r} was missing from the submission; it was restored at the end")
        elif _nbgrader(src).get("solution") and gid not in {_nbgrader(c).get("grade_id") for c in nb.cells}:
            notes.append(f"answer cell {gid!r} is missing from the submission")
    nb.metadata["kernelspec"] = source_nb.metadata.get("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                                       "language": "python"})
    return nb, notes


def _client_class():
    """nbclient's NotebookClient, noting which cells ran out of time (nbclient only logs it)."""
    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        timed_out: set

        async def _async_handle_timeout(self, timeout, cell=None):
            if cell is not None:
                self.timed_out.add(id(cell))
            return await super()._async_handle_timeout(timeout, cell)

    return GradingClient


def execute(nb, timeout: float, kernel_name: str = "python3") -> list[str]:
    """Run every cell of ``nb`` in place (errors allowed, per-cell timeout); returns notes on timeouts/crashes.

    A cell that runs out of time is interrupted and reported as an error (nbclient's
    ``interrupt_on_timeout`` with ``error_on_timeout``), so even a kernel that ignores the
    interrupt costs at most about ``timeout`` seconds (plus nbclient's output wait) per cell.
    """
    from nbclient.exceptions import DeadKernelError
    notes = []
    with tempfile.TemporaryDirectory(prefix="autograde-") as workdir:
        client = _client_class()(
            nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True, record_timing=False,
            shutdown_kernel="immediate",     # a kernel still stuck in a loop is killed, not waited for
            interrupt_on_timeout=True,
            error_on_timeout={"ename": "TimeoutError", "evalue": f"cell did not finish within {timeout:g} s",
                              "traceback": []},
            resources={"metadata": {"path": workdir}})
        client.timed_out = set()
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    cell.metadata["autograde"] = {"status": "crashed"}
                    notes.append(f"the Python kernel died (crashed) while running cell {index + 1}"
                                 f"{_id_suffix(cell)}; the cells after it were not run and score zero")
                    for later in nb.cells[index + 1:]:
                        later.metadata["autograde"] = {"status": "not run"}
                    break
                if id(cell) in client.timed_out:
                    cell.metadata["autograde"] = {"status": "timeout"}
                    notes.append(f"cell {index + 1}{_id_suffix(cell)} did not finish within {timeout:g} s "
                                 "(an endless loop?) and was interrupted")
    return notes


def _id_suffix(cell) -> str:
    gid = _nbgrader(cell).get("grade_id")
    return f" (grade_id {gid!r})" if gid else ""


def score(source_nb, executed_nb) -> tuple[list[Question], list[str]]:
    """Questions (one per source test cell, scored by nbgrader's determine_grade) and errors of answer cells."""
    from nbgrader.utils import determine_grade
    by_id = {_nbgrader(c).get("grade_id"): c for c in executed_nb.cells if _is_test(c)}
    questions = []
    for src in source_nb.cells:
        m = _nbgrader(src)
        if not m.get("grade"):
            continue
        q = Question(m["grade_id"], float(m["points"]))
        questions.append(q)
        if m.get("solution"):
            q.status, q.message = "manual", "graded by hand (not scored by tools/autograde.py)"
            continue
        cell = by_id.get(m["grade_id"])
        state = cell.metadata.get("autograde", {}).get("status") if cell is not None else "not run"
        if cell is None or state in ("not run", "crashed") or cell.get("execution_count") is None and not cell.outputs:
            q.status = "not run"
            q.message = "the kernel crashed during this test" if state == "crashed" else "not run (the kernel had died)"
            continue
        # score with nbgrader's rule, on a copy carrying the source's points
        graded = nbformat.from_dict(cell)
        graded.metadata["nbgrader"] = dict(m)
        points, _ = determine_grade(graded)
        q.points = float(points or 0.0)
        if state == "timeout":
            q.status, q.points = "timeout", 0.0
            q.message = "did not finish within the time limit (an endless loop?)"
        elif q.points >= q.max_points:
            q.status = "passed"
        else:
            q.status = "failed"
            errors = [o for o in cell.outputs if o.output_type == "error"]
            stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            if errors:
                q.message = _explain(errors[0])
            elif stderr:
                q.message = "the test wrote to stderr (a warning counts as a failure): " + stderr[0].text.strip()[:300]
            else:
                q.message = f"partial credit: {q.points:g} of {q.max_points:g}"
    answer_errors = []
    for cell in executed_nb.cells:
        if _nbgrader(cell).get("solution") and cell.cell_type == "code":
            for o in cell.outputs:
                if o.output_type == "error" and o.get("ename") not in ("NotImplementedError",):
                    answer_errors.append(f"answer cell {_nbgrader(cell).get('grade_id')!r}: {_error_text(o)}")
    return questions, answer_errors


def _zero(source_nb) -> list[Question]:
    return [Question(_nbgrader(c)["grade_id"], float(_nbgrader(c)["points"]), status="not run")
            for c in source_nb.cells if _nbgrader(c).get("grade")]


def grade_notebook(source_path: Path, submission: Path, assignment: str, timeout: float,
                   executed_out: Path | None = None) -> NotebookResult:
    """Grade one submitted notebook; never raises for a bad submission (it scores zero with a note)."""
    source_nb = nbformat.read(source_path, as_version=4)
    rel = str(source_path.relative_to(source_path.parents[0]))
    result = NotebookResult(assignment, rel, _zero(source_nb))
    if not submission.exists():
        result.notes.append(f"{rel} was not submitted")
        return result
    try:
        sub_nb = nbformat.read(submission, as_version=4)
    except Exception as err:
        result.notes.append(f"{rel} could not be read as a notebook (not valid notebook JSON: "
                            f"{type(err).__name__}: {str(err)[:200]}); every question of it scores zero")
        return result
    try:
        nb, notes = prepare(source_nb, sub_nb)
        result.notes += notes
        result.notes += execute(nb, timeout, source_nb.metadata.get("kernelspec", {}).get("name", "python3"))
        result.questions, result.answer_errors = score(source_nb, nb)
    except Exception as err:  # the grader must go on with the other submissions
        result.questions = _zero(source_nb)
        result.notes.append(f"{rel} could not be graded ({type(err).__name__}: {str(err)[:300]}); "
                            "every question of it scores zero")
        return result
    if executed_out is not None:   # a copy for the instructor; failing to save it changes no score
        try:
            from nbgrader.preprocessors import LimitOutput
            nb, _ = LimitOutput().preprocess(nb, {})
            executed_out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, executed_out)
        except Exception as err:
            result.notes.append(f"the executed copy of {rel} could not be saved ({type(err).__name__}: {err})")
    return result


def autograde(submissions: Path, source: Path = SOURCE, out: Path = OUT, timeout: float = 30,
              assignments: list[str] | None = None) -> dict[str, list[NotebookResult]]:
    """Grade every student's submissions; write scores.csv, questions.csv and feedback/; return the results."""
    submissions, source, out = Path(submissions), Path(source), Path(out)
    if not submissions.is_dir():
        raise ValueError(f"submissions folder {submissions} does not exist")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if assignments is None:
        assignments = sorted({a.name for s in students for a in (submissions / s).iterdir()
                              if a.is_dir() and (source / a.name).is_dir()})
    for a in assignments:
        if not (source / a).is_dir():
            raise ValueError(f"assignment {a!r} has no source folder {source / a}")
    for stale in ("executed", "feedback"):   # this run's reports only
        shutil.rmtree(out / stale, ignore_errors=True)
    results: dict[str, list[NotebookResult]] = {}
    for student in students:
        results[student] = []
        for a in assignments:
            for src in sorted(p for p in (source / a).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
                rel = src.relative_to(source / a)
                r = grade_notebook(src, submissions / student / a / rel, a, timeout,
                                   out / "executed" / student / a / rel)
                r.notebook = str(rel)
                results[student].append(r)
    write_reports(results, out)
    return results


def write_reports(results: dict[str, list[NotebookResult]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score"])
        for student, rs in results.items():
            for a in dict.fromkeys(r.assignment for r in rs):
                mine = [r for r in rs if r.assignment == a]
                w.writerow([student, a, f"{sum(r.score for r in mine):g}", f"{sum(r.max_score for r in mine):g}"])
    with open(out / "questions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "notebook", "grade_id", "points", "max_points", "status", "message"])
        for student, rs in results.items():
            for r in rs:
                for q in r.questions:
                    w.writerow([student, r.assignment, r.notebook, q.grade_id, f"{q.points:g}", f"{q.max_points:g}",
                                q.status, q.message])
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    for student, rs in results.items():
        data = {"student": student, "score": sum(r.score for r in rs), "max_score": sum(r.max_score for r in rs),
                "notebooks": [{**{k: v for k, v in asdict(r).items()}, "score": r.score, "max_score": r.max_score}
                              for r in rs]}
        (fb / f"{student}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        (fb / f"{student}.md").write_text(feedback_markdown(student, rs))


def feedback_markdown(student: str, rs: list[NotebookResult]) -> str:
    lines = [f"# Feedback for {student}", "",
             f"Total: {sum(r.score for r in rs):g} / {sum(r.max_score for r in rs):g} points", ""]
    for r in rs:
        lines += [f"## {r.assignment}/{r.notebook}: {r.score:g} / {r.max_score:g}", ""]
        lines += [f"> **Note:** {n}" for n in r.notes] + ([""] if r.notes else [])
        for q in r.questions:
            mark = {"passed": "passed", "failed": "failed", "timeout": "timed out"}.get(q.status, q.status)
            lines.append(f"- `{q.grade_id}`: {q.points:g} / {q.max_points:g} ({mark})" + (f" — {q.message}" if q.message else ""))
        if r.answer_errors:
            lines += ["", "Errors raised by your answer cells:", ""] + [f"- {e}" for e in r.answer_errors]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("submissions", type=Path, help="folder SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb")
    ap.add_argument("--source", type=Path, default=SOURCE, help="instructor source folder (default: instructor/source)")
    ap.add_argument("--out", type=Path, default=OUT, help="report folder (default: autograded/)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per cell (default 30)")
    ap.add_argument("--assignment", action="append", dest="assignments", help="grade only this assignment (repeatable)")
    args = ap.parse_args(argv)
    try:
        results = autograde(args.submissions, args.source, args.out, args.timeout, args.assignments)
    except ValueError as err:
        print(f"autograde: {err}", file=sys.stderr)
        return 1
    for student, rs in results.items():
        notes = sum(len(r.notes) for r in rs)
        print(f"{student}: {sum(r.score for r in rs):g} / {sum(r.max_score for r in rs):g}"
              + (f"  ({notes} note{'s' if notes != 1 else ''})" if notes else ""))
    print(f"reports in {args.out}: scores.csv, questions.csv, feedback/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
