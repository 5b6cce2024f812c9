"""How long a class takes to grade: a synthetic class through `tools/autograde.py --jobs 2`. Section 6 of benchmarks/run.py.

The class is made from the instructor solutions: per student and assignment one of honest
(6 in 10), blank release (1), a sign mistake (1), an answer that imports the reference (1) and
an honest notebook saved as "<name> (1).ipynb" (1). Every notebook goes through the real grader
(sandboxed kernel per notebook, two workers). Standalone: ``python benchmarks/grading.py
[--quick] [--students N]`` prints the result as JSON.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:                                   # siblings in benchmarks/ (benchmarks/run.py's harness)
    import harness
    from report import verdict
except ImportError:                    # standalone, before the benchmark package exists
    harness = None

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

ROOT = Path(__file__).resolve().parents[1]
KEY = "grading"
TITLE = "Grading throughput (200 students x 4 notebooks, sandboxed, --jobs 2)"
DEFAULT = False                        # 15 minutes: opt-in (--only grading or --all)
TARGET_MIN = 15.0


class _Skip(Exception):
    pass


Skip = getattr(harness, "Skip", _Skip)


def _variant(nb, kind: str, assignment: str):
    """The notebook of one made-up student: honest, or with one mistake or trick."""
    import nbformat
    nb = nbformat.from_dict(nb)
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    last = answers[-1]
    if kind == "sign":
        lines = last.source.split("\n")
        k = max(i for i, line in enumerate(lines) if line.strip().startswith("return "))
        lines[k] = lines[k].replace("return ", "return -1 * (", 1) + ")"
        last.source = "\n".join(lines)
    elif kind == "reference":
        head = last.source.split("### BEGIN SOLUTION")[0]
        name = last.metadata["nbgrader"]["grade_id"]
        last.source = (head + "### BEGIN SOLUTION\n    import backprop.differential as ref\n"
                       f"    return ref.{name}  # noqa\n    ### END SOLUTION\n")
    return nb


def make_class(folder: Path, students: int) -> int:
    """Write ``students`` made-up students' submissions into folder; returns the notebook count."""
    import nbformat
    source = ROOT / "instructor" / "source"
    rel = folder / "_release"      # a subprocess: tools/grading would clash with this module's name
    subprocess.run([sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(rel)], check=True,
                   capture_output=True)
    assignments = sorted(p.name for p in source.iterdir() if (p / "grading.py").exists())
    kinds = ["honest"] * 6 + ["blank", "sign", "reference", "renamed"]
    count = 0
    for s in range(students):
        for k, a in enumerate(assignments):
            kind = kinds[(s + k) % len(kinds)]
            base = nbformat.read((rel if kind == "blank" else source) / a / f"{a}.ipynb", as_version=4)
            nb = base if kind in ("blank", "honest", "renamed") else _variant(base, kind, a)
            name = f"{a} (1).ipynb" if kind == "renamed" else f"{a}.ipynb"
            path = folder / "subs" / f"student{s:03d}" / a / name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            count += 1
    return count


def run(quick: bool, students: int | None = None, jobs: int = 2, workdir: str | None = None) -> dict:
    try:
        import nbgrader  # noqa: F401
    except ImportError as err:
        raise Skip("nbgrader not installed (pip install -e '.[instructor]')") from err
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        raise Skip("the grader's sandbox needs bubblewrap as root")
    students = students or (1 if quick else 200)
    with (tempfile.TemporaryDirectory(prefix="grading-bench-") if workdir is None
          else _kept(Path(workdir))) as tmp:
        tmp = Path(tmp)
        notebooks = make_class(tmp, students)
        import resource
        load_start = os.getloadavg()[0]
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "autograde.py"), str(tmp / "subs"),
                               "--out", str(tmp / "out"), "--jobs", str(jobs), "--no-progress"],
                              capture_output=True, text=True)
        wall = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        load_end = os.getloadavg()[0]
        if proc.returncode != 0:
            raise RuntimeError(f"autograde failed: {proc.stderr[-2000:]}")
        import csv
        import sqlite3
        rows = list(csv.DictReader(open(tmp / "out" / "scores.csv")))
        with sqlite3.connect(tmp / "out" / "gradebook.sqlite") as db:     # kernels' CPU, from their cgroups
            kernel_cpu = [json.loads(r).get("kernel_cpu_s") for (r,) in db.execute("SELECT result FROM results")]
        if any(k is None for k in kernel_cpu):
            raise Skip("the kernels' CPU time needs the cgroup v1 cpuacct controller")
        grader_cpu = cpu
        cpu = grader_cpu + sum(kernel_cpu)
    graded = len(rows)
    per_min = notebooks / wall * 60
    minutes_800 = 800 / per_min
    ok = minutes_800 <= TARGET_MIN
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "students": students,
            "notebooks": notebooks, "jobs": jobs, "wall_s": round(wall, 1),
            "graded_rows": graded, "notebooks_per_minute": round(per_min, 1),
            "minutes_for_200x4": round(minutes_800, 1),
            "load_average_1min": {"start": load_start, "end": load_end}, "cpus": os.cpu_count(),
            # CPU seconds of the grader and its workers (rusage) and of the sandboxed kernels (their
            # cgroup's cpuacct): independent of the other load on the machine; 200 x 4 on two
            # otherwise idle cores needs about 800 * this / 2
            "cpu_s_per_notebook": round(cpu / notebooks, 2),
            "grader_cpu_s_per_notebook": round(grader_cpu / notebooks, 2),
            "cpu_bound_minutes_for_200x4": round(800 * cpu / notebooks / min(jobs, os.cpu_count() or 1) / 60, 1),
            "verdicts": [{"target": f"200 students x 4 notebooks in <= {TARGET_MIN:g} min", "met": ok,
                          "detail": f"{minutes_800:.1f} min at {per_min:.1f} notebooks per minute; "
                                    f"{cpu / notebooks:.2f} CPU s per notebook "
                                    f"({notebooks} notebooks measured, --jobs {jobs}, load average "
                                    f"{load_start:.1f} -> {load_end:.1f} on {os.cpu_count()} cores)"}]}


class _kept:
    """A work folder that stays (to watch a long run's gradebook fill)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        return self.path

    def __exit__(self, *exc):
        return False


def markdown(result: dict) -> list[str]:
    return ["| students | notebooks | jobs | wall | notebooks / min | 200 x 4 takes |", "|---|---|---|---|---|---|",
            f"| {result['students']} | {result['notebooks']} | {result['jobs']} | {result['wall_s']:.0f} s | "
            f"{result['notebooks_per_minute']:.1f} | {result['minutes_for_200x4']:.1f} min |", "",
            *[f"- {v['target']} — {verdict(v['met'])} ({v['detail']})." for v in result["verdicts"]], ""]


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--students", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", help="keep the class and the reports in this folder")
    args = ap.parse_args()
    print(json.dumps(run(args.quick, args.students, args.jobs, args.workdir), indent=1))
