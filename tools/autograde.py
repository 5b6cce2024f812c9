"""Grade submitted notebooks in sandboxes, with verdicts decided outside the students' kernels.

    python3 dev.py autograde SUBMISSIONS [--out autograded] [--jobs N] [--assignment NAME ...]
                             [--timeout 30] [--force] [--secret HEX] [--unsafe] [--source DIR]

SUBMISSIONS is nbgrader's layout ``SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb`` (its
``submitted/`` folder works as it is), an LMS bulk-download zip, or a folder with such zips
(see tools/grading/intake.py). Every notebook of every assignment that someone submitted (or
each ``--assignment``) is graded for every student:

1. the submission's outputs are cleared (nbgrader's ClearOutput); read-only and test cells are
   restored from instructor/source by grade_id; each test cell becomes a probe that calls the
   student's function on fresh inputs (seeded per student and assignment from the course
   secret in the gradebook) — see instructor/AUTHORING.md;
2. the notebook runs with nbgrader's Execute preprocessor in a kernel inside a bubblewrap
   sandbox (no network, read-only student copy of backprop without its reference modules, no
   view of instructor/ or other submissions, private /tmp, CPU/memory/process/output limits);
3. the grader process decodes each probe's answers and compares them with expected values it
   computes itself from the reference (backprop.diagnose names the mistake).

Results go to OUT/gradebook.sqlite as each notebook finishes; a rerun skips what is graded
(unchanged file, same seed) unless ``--force``; Ctrl-C loses at most the notebooks in flight.
Reports (scores.csv, questions.csv, grades_lms.csv, feedback/<student>.html|.json) are written
from the whole gradebook; executed notebooks are in OUT/executed/<student>/<assignment>/.
Without bubblewrap the grader refuses to run unless ``--unsafe``.

Exit code 0 when everything was graded (even with zero points), 1 on a bad argument or
instructor-side problem, 2 when no sandbox is available, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path

from grading import gradebook as gb
from grading import intake as intake_mod
from grading import reports, sandbox, spec

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
OUT = ROOT / "autograded"
WORKER = Path(__file__).resolve().parent / "grading" / "worker.py"


class GradingError(Exception):
    """A bad argument or an instructor-side problem (named in the message)."""


def source_notebooks(source: Path) -> dict[str, list[str]]:
    if not source.is_dir():
        raise GradingError(f"source folder {source} does not exist")
    return {a.name: sorted(p.name for p in a.glob("*.ipynb"))
            for a in sorted(source.iterdir()) if a.is_dir() and not a.name.startswith((".", "_"))}


class Workers:
    """N long-lived worker processes (tools/grading/worker.py), one sandbox slot each."""

    def __init__(self, n: int, tmp: Path):
        self.tmp, self.sel, self.procs, self.busy = tmp, selectors.DefaultSelector(), {}, {}
        # sandbox slots unique on the machine (uid 60000 + slot, cgroup per slot): two grading
        # runs at the same time never share a user id or kill each other's kernels
        self.base = (os.getpid() % 100000) * 64
        for slot in range(n):
            self._start(slot)

    def _start(self, slot: int) -> None:
        p = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(self.tmp / f"worker{slot}.log", "ab"), text=True, bufsize=1,
                             start_new_session=True)     # Ctrl-C reaches the grader, which stops them
        self.procs[slot] = p
        self.sel.register(p.stdout, selectors.EVENT_READ, slot)

    def free(self) -> list[int]:
        return [s for s in self.procs if s not in self.busy]

    def send(self, slot: int, task: dict) -> None:
        task = {**task, "slot": self.base + slot, "workdir": str(self.tmp / f"w{slot}")}
        self.busy[slot] = task
        self.procs[slot].stdin.write(json.dumps(task) + "\n")
        self.procs[slot].stdin.flush()

    def results(self, timeout: float = 1.0):
        """Yield (task, result) for finished tasks; a dead worker's task gets a zero result."""
        for key, _ in self.sel.select(timeout):
            slot = key.data
            line = self.procs[slot].stdout.readline()
            task = self.busy.pop(slot, None)
            if line:
                yield task, json.loads(line)["result"]
                continue
            self.sel.unregister(self.procs[slot].stdout)
            self.procs[slot].wait()
            sandbox.kill_slot(self.base + slot)
            self._start(slot)
            if task is not None:
                yield task, {"questions": None, "answer_errors": [],
                             "notes": ["the grader's worker process died while grading this notebook "
                                       "(far too much output or memory?); every question of it scores zero"]}

    def stop(self) -> None:
        for slot, p in self.procs.items():
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass
            sandbox.kill_slot(self.base + slot)
            sandbox.remove_slot(self.base + slot)


def _zero_questions(source: Path, task: dict, status: str, message: str) -> list[dict]:
    import nbformat
    nb = nbformat.read(source / task["assignment"] / task["notebook"], as_version=4)
    return [{"grade_id": c.metadata["nbgrader"]["grade_id"], "max_points": float(c.metadata["nbgrader"]["points"]),
             "points": 0.0, "status": status, "message": message}
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


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
        line = (f"[{bar:<30}] {self.done}/{self.total} notebooks  {rate:.1f}/min  "
                f"ETA {int(eta // 60)}m{int(eta % 60):02d}s  {label}")
        if self.tty:
            print("\r" + line[:120].ljust(120), end="" if self.done < self.total else "\n", file=sys.stderr, flush=True)
        elif self.done == self.total or time.monotonic() - self.last_line > 10:
            print(line, file=sys.stderr, flush=True)
            self.last_line = time.monotonic()


def autograde(submissions: Path, source: Path = SOURCE, out: Path = OUT, timeout: float = 30,
              assignments: list[str] | None = None, jobs: int = 2, force: bool = False, unsafe: bool = False,
              secret: str | None = None, progress: bool = True,
              notebook_timeout: float | None = None) -> dict[str, list[dict]]:
    """Grade; returns {student: [notebook results of this gradebook]} (see reports.py for the files)."""
    submissions, source, out = Path(submissions), Path(source).resolve(), Path(out).resolve()
    if not submissions.exists():
        raise GradingError(f"submissions {submissions} do not exist")
    nbs = source_notebooks(source)
    for a in assignments or []:
        if a not in nbs:
            raise GradingError(f"assignment {a!r} has no source folder {source / a}")
    out.mkdir(parents=True, exist_ok=True)
    stage = out / ".intake"
    shutil.rmtree(stage, ignore_errors=True)
    found = intake_mod.collect(submissions, nbs, stage)
    for note in found.notes.get("_archives", []):
        print(f"autograde: {note}", file=sys.stderr)
    students = sorted(s for s in found.found if not s.startswith("_"))
    todo = assignments or sorted({a for s in students for a in found.found[s]})
    for a in todo:
        try:
            spec.load(source / a)
        except spec.SpecError as err:
            raise GradingError(str(err)) from err
    book = gb.Gradebook(out / "gradebook.sqlite")
    key = book.secret(secret)
    tasks = []
    for student in students:
        for a in todo:
            seed = gb.Gradebook.seed(key, student, a)
            for nb in nbs[a]:
                cand = found.found[student].get(a, {}).get(nb)
                sha = gb.sha256(cand.path if cand else None)
                if not force and book.done(student, a, nb, sha, seed):
                    continue
                tasks.append({"student": student, "assignment": a, "notebook": nb, "seed": seed, "sha": sha,
                              "submission": str(cand.path) if cand else None, "source": str(source / a),
                              "timeout": timeout, "unsafe": unsafe,
                              "notebook_timeout": notebook_timeout or max(120, 6 * timeout),
                              "executed": str(out / "executed" / student / a / nb)})
    bar = Progress(len(tasks), progress)
    if tasks:
        pending = [t for t in tasks if t["submission"]]
        for t in (t for t in tasks if not t["submission"]):   # nothing to run: zero, recorded now
            book.record(t["student"], t["assignment"], t["notebook"], t["sha"], t["seed"],
                        {"questions": _zero_questions(source, t, "not submitted", "not submitted"),
                         "notes": [f"{t['notebook']} was not submitted"], "answer_errors": []})
            bar.step(f"{t['student']}/{t['assignment']}")
        tmp = Path(f"/tmp/bpg-{os.getpid()}")        # short: ZeroMQ ipc socket paths are limited
        tmp.mkdir(parents=True, exist_ok=True)
        workers = Workers(max(1, min(jobs, len(pending) or 1)), tmp) if pending else None
        try:
            while pending or (workers and workers.busy):
                for slot in workers.free():
                    if pending:
                        workers.send(slot, pending.pop(0))
                for task, result in workers.results():
                    if task is None:
                        continue
                    if result.get("questions") is None:
                        result["questions"] = _zero_questions(source, task, "not run", "the grader's worker died")
                    book.record(task["student"], task["assignment"], task["notebook"], task["sha"],
                                task["seed"], result)
                    bar.step(f"{task['student']}/{task['assignment']}")
        finally:
            if workers:
                workers.stop()
            shutil.rmtree(tmp, ignore_errors=True)
            rows = book.rows()
            reports.write(rows, found.notes, out)
            book.close()
    else:
        rows = book.rows()
        reports.write(rows, found.notes, out)
        book.close()
    results: dict[str, list[dict]] = {}
    for r in rows:
        results.setdefault(r["student"], []).append(r)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("submissions", type=Path, help="folder SUBMISSIONS/<student>/<assignment>/<nb>.ipynb or a zip")
    ap.add_argument("--source", type=Path, default=SOURCE, help="instructor source folder (default: instructor/source)")
    ap.add_argument("--out", type=Path, default=OUT, help="report folder (default: autograded/)")
    ap.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    ap.add_argument("--assignment", action="append", dest="assignments", help="grade only this assignment (repeatable)")
    ap.add_argument("--notebook-timeout", type=int, default=None,
                    help="seconds per notebook before its kernel is killed (default max(120, 6 x --timeout))")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks graded in parallel (default 2)")
    ap.add_argument("--force", action="store_true", help="regrade notebooks already in the gradebook")
    ap.add_argument("--secret", help="course secret for the fresh-data seeds (default: the gradebook's)")
    ap.add_argument("--unsafe", action="store_true", help="run without a sandbox (students' code gets your rights)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if not args.unsafe:
        why = sandbox.unavailable_reason()
        if why:
            print(f"autograde: refusing to run students' code without a sandbox: {why}.\n"
                  "Without one, a submission could read the hidden checks, change the package for the next "
                  "student or stop the grader. Pass --unsafe to grade anyway (only for trusted notebooks).",
                  file=sys.stderr)
            return 2
    try:
        results = autograde(args.submissions, args.source, args.out, args.timeout, args.assignments, args.jobs,
                            args.force, args.unsafe, args.secret, not args.no_progress, args.notebook_timeout)
    except GradingError as err:
        print(f"autograde: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nautograde: interrupted; the notebooks graded so far are in the gradebook and the reports; "
              "run the same command again to go on", file=sys.stderr)
        return 130
    for student, rs in results.items():
        if student.startswith("_"):
            continue
        notes = sum(len(r.get("notes", [])) for r in rs)
        print(f"{student}: {sum(r['score'] for r in rs):g} / {sum(r['max_score'] for r in rs):g}"
              + (f"  ({notes} note{'s' if notes != 1 else ''})" if notes else ""))
    print(f"reports in {args.out}: scores.csv, questions.csv, grades_lms.csv, feedback/, executed/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
