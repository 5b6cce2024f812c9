"""Grade submitted notebooks in sandboxes, with verdicts decided outside the students' kernels.

    python3 dev.py autograde SUBMISSIONS [--out autograded] [--jobs N] [--assignment NAME ...]
                             [--student KEY ...] [--timeout 30] [--force] [--secret HEX]
                             [--fresh-inputs per-submission|per-student] [--unsafe] [--source DIR]
                             [--scheduler ADDRESS]

SUBMISSIONS is nbgrader's layout ``SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb`` (its
``submitted/`` folder works as it is), an LMS bulk-download zip, or a folder with such zips
(see tools/grading/intake.py; links are never followed, students of any alphabet are kept apart,
of several copies the newest is graded). Every notebook of every assignment that someone
submitted (or each ``--assignment``) is graded for every student (or each ``--student``):

1. the submission's outputs are cleared (nbgrader's ClearOutput); read-only and test cells are
   restored from instructor/source by grade_id; each test cell becomes a probe that calls the
   student's function on fresh inputs, seeded from the course secret, the student, the
   assignment and (by default) the submitted file, so a resubmission gets new inputs — see
   instructor/AUTHORING.md;
2. the notebook runs with nbgrader's Execute preprocessor (every output stream capped) in a kernel
   inside a bubblewrap sandbox (no network, read-only student copy of backprop without its
   reference modules, no view of instructor/ or other submissions, private /tmp, CPU/memory/
   process/output limits, a capped tmpfs as its only host folder);
3. the grader process decodes each probe's answers and compares them with expected values it
   computes itself from the reference (backprop.diagnose names the mistake); a memory test is
   measured from outside the kernel (its memory cgroup).

A class released with ``release --roster`` is graded per student: each against their own
variant, drawn again from the course secret among the variants recorded in the gradebook at
release (grading/variants.py); answers right for another variant and wrong for one's own are
named in the feedback. OUT/similarity.csv lists pairs of students whose answer cells are alike
(copydetect's winnowing fingerprints) and pairs where one's answers fit the other's variant.

With ``--scheduler ADDRESS`` every notebook is one task of that Dask scheduler, graded by its
workers (other machines with the same repository, install and bubblewrap; tools/grading/
cluster.py) instead of ``--jobs`` processes here; everything else is the same.

Results go to OUT/gradebook.sqlite as each notebook finishes (seeds and the secret stay there);
a rerun skips what is graded (unchanged file, same seed) unless ``--force``, and regrades what the
grader itself failed on; Ctrl-C loses at most the notebooks in flight. Reports (scores.csv,
students.csv, questions.csv, grades_lms.csv, grades_moodle_<assignment>.csv,
feedback/<student>.html|.json) are written from the whole gradebook; readable executed notebooks
(tests in words, no probes, no inputs) are in OUT/executed/<student>/<assignment>/. Without
bubblewrap the grader refuses to run unless ``--unsafe``.

Exit code 0 when everything was graded (even with zero points), 1 on a bad argument or
instructor-side problem, 2 when no sandbox is available, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grading import cluster, reports, sandbox, similarity, spec, variants, worker
from grading import gradebook as gb
from grading import intake as intake_mod
from grading.students import DuplicateStudent

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
OUT = ROOT / "autograded"
WORKER = Path(__file__).resolve().parent / "grading" / "worker.py"


class GradingError(Exception):
    """A bad argument or an instructor-side problem (named in the message)."""


def source_notebooks(source: Path) -> dict[str, list[str]]:
    if not source.is_dir():
        raise GradingError(f"source folder {source} does not exist")
    return {
        a.name: sorted(p.name for p in a.glob("*.ipynb"))
        for a in sorted(source.iterdir())
        if a.is_dir() and not a.name.startswith((".", "_"))
    }


class Workers:
    """N long-lived worker processes (tools/grading/worker.py) on this machine, one sandbox slot each
    (grading.cluster.Cluster is the same interface over a Dask cluster)."""

    def __init__(self, n: int):
        self.tmp = Path(f"/tmp/bpg-{os.getpid()}")  # short: ZeroMQ ipc socket paths are limited
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sel, self.procs, self.busy = selectors.DefaultSelector(), {}, {}
        # sandbox slots unique on the machine (uid 60000 + slot, cgroup per slot): two grading
        # runs at the same time never share a user id or kill each other's kernels
        self.base = (os.getpid() % 100000) * 64
        for slot in range(n):
            self._start(slot)

    def _start(self, slot: int) -> None:
        p = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.tmp / f"worker{slot}.log", "ab"),
            text=True,
            bufsize=1,
            start_new_session=True,
        )  # Ctrl-C reaches the grader, which stops them
        self.procs[slot] = p
        self.sel.register(p.stdout, selectors.EVENT_READ, slot)

    def free(self) -> int:
        """How many more notebooks to send now (idle workers)."""
        return len(self.procs) - len(self.busy)

    def send(self, job) -> None:
        slot = next(s for s in self.procs if s not in self.busy)
        job.task.slot, job.task.workdir = self.base + slot, str(self.tmp / f"w{slot}")
        self.busy[slot] = job
        self.procs[slot].stdin.write(job.task.to_json() + "\n")
        self.procs[slot].stdin.flush()

    def results(self, timeout: float = 1.0):
        """Yield (job, result) for finished jobs; a dead worker's job gets a zero result."""
        for key, _ in self.sel.select(timeout):
            slot = key.data
            line = self.procs[slot].stdout.readline()
            job = self.busy.pop(slot, None)
            if line:
                if job is not None:
                    yield job, json.loads(line)["result"]
                continue
            self.sel.unregister(self.procs[slot].stdout)
            self.procs[slot].wait()
            sandbox.kill_slot(self.base + slot)
            sandbox.unmount_under(self.tmp / f"w{slot}")
            self._start(slot)
            if job is not None:
                yield (
                    job,
                    worker.lost(
                        job.task,
                        "the grader's worker process died while grading this notebook "
                        "(far too much output or memory?); every question of it scores zero",
                    ),
                )

    def stop(self) -> None:
        for slot, p in self.procs.items():
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass
            sandbox.kill_slot(self.base + slot)
            sandbox.remove_slot(self.base + slot)
        sandbox.remove_tree(self.tmp)


def _not_submitted(source: Path, assignment: str, notebook: str) -> dict:
    import nbformat

    nb = nbformat.read(source / assignment / notebook, as_version=4)
    return {
        "questions": worker.zero(nb, "", status="not submitted"),
        "answer_errors": [],
        "notes": [f"{notebook} was not submitted"],
    }


class Progress:
    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done, self.t0, self.enabled = total, 0, time.monotonic(), enabled
        self.tty = sys.stderr.isatty()
        self.last_line = -1.0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.t0
        rate = self.done / elapsed * 60 if elapsed > 0 else 0.0
        eta = (self.total - self.done) / (rate / 60) if rate > 0 else 0.0
        bar = "#" * int(30 * self.done / max(self.total, 1))
        line = (
            f"[{bar:<30}] {self.done}/{self.total} notebooks  {rate:.1f}/min  "
            f"ETA {int(eta // 60)}m{int(eta % 60):02d}s  {label}"
        )
        if self.tty:
            print(
                "\r" + line[:120].ljust(120),
                end="" if self.done < self.total else "\n",
                file=sys.stderr,
                flush=True,
            )
        elif self.done == self.total or time.monotonic() - self.last_line > 10:
            print(line, file=sys.stderr, flush=True)
            self.last_line = time.monotonic()


@dataclass
class Job:
    """A notebook to grade, with what stays on the instructor's side (the file's hash, the intake notes)."""

    task: worker.Task
    sha: str
    notes: list[str]


def variant_of(book: gb.Gradebook, key: str, student: str, assignment: str) -> str:
    """The student's variant: drawn from the secret among those the class was released with
    (``release --roster``); "" when the assignment was released as one common version."""
    released = book.variant_list(assignment)
    return variants.draw(key, student, assignment, released) if released else ""


def _jobs(found, nbs: dict, todo: list[str], book: gb.Gradebook, key: str, options: dict) -> list[Job]:
    jobs = []
    for student in sorted(found.students):
        for a in todo:
            variant = variant_of(book, key, student, a)
            for nb in nbs[a]:
                cand, notes = found.chosen(student, a, nb)
                sha = gb.sha256(cand.data if cand else None)
                # a variant is part of the seed's text, so a change of variant is graded again
                seed = gb.seed(
                    key,
                    student,
                    a + (f"/{variant}" if variant else ""),
                    "" if options["per_student"] else sha,
                )
                if not options["force"] and book.done(student, a, nb, sha, seed):
                    continue
                task = worker.Task(
                    student,
                    a,
                    nb,
                    cand.data.decode("utf-8", "replace") if cand else None,
                    str(options["source"] / a),
                    seed,
                    options["timeout"],
                    options["notebook_timeout"],
                    unsafe=options["unsafe"],
                    variant=variant,
                )
                jobs.append(Job(task, sha, notes))
    return jobs


def _record(book: gb.Gradebook, job: Job, result: dict, out: Path) -> None:
    """Store a result (its executed copy as a file) and the intake notes that go with it."""
    t = job.task
    executed = result.pop("executed", None)
    if executed:
        path = out / "executed" / t.student / t.assignment / t.notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(executed, encoding="utf-8")
    result["notes"] = job.notes + result.get("notes", [])
    book.record(t.student, t.assignment, t.notebook, job.sha, t.seed, result)


def _grade_all(
    jobs: list[Job], book: gb.Gradebook, out: Path, jobs_n: int, bar: Progress, scheduler: str | None = None
) -> None:
    """Grade every job on local workers, or as tasks of the Dask scheduler at ``scheduler``; each
    result is recorded here as it returns."""
    pending = [j for j in jobs if j.task.submission is not None]
    for j in (j for j in jobs if j.task.submission is None):  # nothing to run: zero, recorded now
        _record(book, j, _not_submitted(Path(j.task.source).parent, j.task.assignment, j.task.notebook), out)
        bar.step(f"{j.task.student}/{j.task.assignment}")
    if not pending:
        return
    try:
        workers = cluster.Cluster(scheduler) if scheduler else Workers(max(1, min(jobs_n, len(pending))))
        try:
            while pending or workers.busy:
                for _ in range(min(workers.free(), len(pending))):
                    workers.send(pending.pop(0))
                for job, result in workers.results():
                    _record(book, job, result, out)
                    bar.step(f"{job.task.student}/{job.task.assignment}")
        finally:
            workers.stop()
    except cluster.ClusterError as err:
        raise GradingError(str(err)) from err


def autograde(
    submissions: Path,
    source: Path = SOURCE,
    out: Path = OUT,
    timeout: float = 30,
    assignments: list[str] | None = None,
    jobs: int = 2,
    force: bool = False,
    unsafe: bool = False,
    secret: str | None = None,
    progress: bool = True,
    notebook_timeout: float | None = None,
    students: list[str] | None = None,
    per_student: bool = False,
    scheduler: str | None = None,
) -> dict[str, list[dict]]:
    """Grade; returns {student key: [notebook results of this gradebook]} (see reports.py for the files)."""
    submissions, source, out = Path(submissions), Path(source).resolve(), Path(out).resolve()
    if not submissions.exists():
        raise GradingError(f"submissions {submissions} do not exist")
    nbs = source_notebooks(source)
    for a in assignments or []:
        if a not in nbs:
            raise GradingError(f"assignment {a!r} has no source folder {source / a}")
    try:
        found = intake_mod.collect(submissions, nbs)
    except DuplicateStudent as err:
        raise GradingError(str(err)) from err
    for note in found.notes.get("_archives", []):
        print(f"autograde: {note}", file=sys.stderr)
    wanted = _pick_students(found, students)
    todo = assignments or sorted({a for s in wanted for a in found.copies.get(s, {})})
    for a in todo:  # an instructor-side problem stops the run before it starts
        try:
            checks = spec.load(source / a)
        except spec.SpecError as err:
            raise GradingError(str(err)) from err
        if (
            not (unsafe or scheduler)
            and any(t.peak_memory for t in checks.tests.values())
            and not sandbox.memory_measurable()
        ):
            raise GradingError(
                f"{a} has a memory test, and this machine cannot measure a kernel's memory from "
                "outside it (no cgroup v1 memory controller); grade it on a machine that can, or "
                "leave it out with --assignment"
            )
    out.mkdir(parents=True, exist_ok=True)
    book = gb.Gradebook(out / "gradebook.sqlite")
    try:
        book.add_students(
            [found.students[s] for s in wanted], {s: n for s, n in found.notes.items() if s in wanted}
        )
        options = {
            "source": source,
            "timeout": timeout,
            "unsafe": unsafe,
            "force": force,
            "per_student": per_student,
            "notebook_timeout": notebook_timeout or max(120, 6 * timeout),
        }
        work = [
            j for j in _jobs(found, nbs, todo, book, book.secret(secret), options) if j.task.student in wanted
        ]
        try:
            _grade_all(work, book, out, jobs, Progress(len(work), progress), scheduler)
        finally:
            rows = book.rows()
            reports.write(rows, book.students(), book.notes(), out)
        similarity.write(similarity.answers(found, nbs, source, todo), rows, out / "similarity.csv")
    finally:
        book.close()
    results: dict[str, list[dict]] = {}
    for r in rows:
        results.setdefault(r["student"], []).append(r)
    return results


def _pick_students(found, students: list[str] | None) -> list[str]:
    """The keys to grade: all, or those named (by key or by name as received)."""
    if not students:
        return sorted(found.students)
    keys = []
    for want in students:
        match = [k for k, s in found.students.items() if want in (k, s.name)]
        if not match:
            raise GradingError(
                f"no student {want!r} among the submissions (give a key or a name as received)"
            )
        keys += match
    return sorted(set(keys))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    ap.add_argument(
        "submissions", type=Path, help="folder SUBMISSIONS/<student>/<assignment>/<nb>.ipynb or a zip"
    )
    ap.add_argument(
        "--source", type=Path, default=SOURCE, help="instructor source folder (default: instructor/source)"
    )
    ap.add_argument("--out", type=Path, default=OUT, help="report folder (default: autograded/)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    ap.add_argument(
        "--assignment", action="append", dest="assignments", help="grade only this assignment (repeatable)"
    )
    ap.add_argument(
        "--notebook-timeout",
        type=int,
        default=None,
        help="seconds per notebook before its kernel is killed (default max(120, 6 x --timeout))",
    )
    ap.add_argument("--jobs", type=int, default=2, help="notebooks graded in parallel (default 2)")
    ap.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the workers of this Dask scheduler (tcp://HOST:8786) instead of --jobs local "
        "processes; the gradebook stays here (instructor guide: Grading on a cluster)",
    )
    ap.add_argument("--force", action="store_true", help="regrade notebooks already in the gradebook")
    ap.add_argument(
        "--student",
        action="append",
        dest="students",
        help="grade only this student (a key or a name as received; repeatable)",
    )
    ap.add_argument(
        "--fresh-inputs",
        choices=("per-submission", "per-student"),
        default="per-submission",
        help="new fresh inputs for every changed file (default), or one set per student and assignment",
    )
    ap.add_argument("--secret", help="course secret for the fresh inputs' seeds (default: the gradebook's)")
    ap.add_argument(
        "--unsafe", action="store_true", help="run without a sandbox (students' code gets your rights)"
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if not (args.unsafe or args.scheduler):  # with --scheduler, each worker checks its own
        why = sandbox.unavailable_reason()
        if why:
            print(
                f"autograde: refusing to run students' code without a sandbox: {why}.\n"
                "Without one, a submission could read the hidden checks, change the package for the next "
                "student or stop the grader. Pass --unsafe to grade anyway (only for trusted notebooks).",
                file=sys.stderr,
            )
            return 2
    try:
        results = autograde(
            args.submissions,
            args.source,
            args.out,
            args.timeout,
            args.assignments,
            args.jobs,
            args.force,
            args.unsafe,
            args.secret,
            not args.no_progress,
            args.notebook_timeout,
            args.students,
            args.fresh_inputs == "per-student",
            args.scheduler,
        )
    except GradingError as err:
        print(f"autograde: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nautograde: interrupted; the notebooks graded so far are in the gradebook and the reports; "
            "run the same command again to go on",
            file=sys.stderr,
        )
        return 130
    for student, rs in results.items():
        notes = sum(len(r.get("notes", [])) for r in rs)
        print(
            f"{student}: {sum(r['score'] for r in rs):g} / {sum(r['max_score'] for r in rs):g}"
            + (f"  ({notes} note{'s' if notes != 1 else ''})" if notes else "")
        )
    print(
        f"reports in {args.out}: scores.csv, students.csv, questions.csv, grades_lms.csv, similarity.csv, "
        "feedback/, executed/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
