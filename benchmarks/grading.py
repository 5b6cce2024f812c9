"""How fast a class is graded, and whether it is graded right: a small synthetic class through
``tools/autograde.py --jobs 2`` (section 6 of benchmarks/run.py).

Per student and assignment one of: honest (6 in 10), the blank release, a sign mistake (the last
answer returns minus its result), an answer importing the reference, an honest notebook saved
as "<name> (1).ipynb". Ten students give every assignment every kind; each notebook goes through
the real grader (a sandboxed kernel per notebook, two workers). The grades are checked first (a
throughput of wrong grades is worthless); the rate of the steady part of the run (after the
workers' start-up) projects the time of a 200-student class.

Executors (issue 28): the same class is then graded by ``--jobs 1``, ``--jobs 2`` and by one and
two local Dask workers (``--scheduler``: ``dask scheduler`` and ``dask worker --nthreads 1`` on
127.0.0.1 as the instructor guide starts them, before the run), in interleaved rounds; each contender's steady rate (notebooks per
minute after each worker's first notebook) and its ratio to ``--jobs 1`` in the same round, the
median over the rounds. Every run's grades are checked. Standalone:
``python benchmarks/grading.py [--quick] [--students N] [--workdir DIR]`` prints the JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from report import verdict

ROOT = Path(__file__).resolve().parents[1]
KEY = "grading"
TITLE = (
    "Grading throughput (200 students x 4 notebooks, sandboxed, --jobs 2)"  # the heading when not measured
)
DEFAULT = True  # ~19 min on a busy 2-core machine: 90 notebooks, then 3 rounds x 4 executors x 45
STUDENTS, QUICK_STUDENTS = 10, 1
CLASS, TARGET_NOTEBOOKS, TARGET_MIN = 200, 4, 15.0  # 200 students x 4 notebooks in <= 15 min
EXECUTORS = {
    "--jobs 1": ("jobs", 1),
    "--jobs 2": ("jobs", 2),
    "1 Dask worker": ("dask", 1),
    "2 Dask workers": ("dask", 2),
}
EXECUTOR_STUDENTS, EXECUTOR_ROUNDS = 5, 3  # 45 notebooks per contender and round
KINDS = ["blank", "sign", "reference", "renamed"] + ["honest"] * 6  # student s, assignment k: (s+k) % 10
SIGN = (
    "{i}return (tuple(-v for v in _right) if isinstance(_right, tuple) else\n"
    "{i}        {{k: -v for k, v in _right.items()}} if isinstance(_right, dict) else -_right)"
)


def _last_answer(nb):
    cell = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")][-1]
    return cell, cell.metadata["nbgrader"]["grade_id"]


def _variant(nb, kind: str):
    """A made-up student's notebook: the instructor solution with one mistake or trick in its last answer."""
    import nbformat

    nb = nbformat.from_dict(nb)
    cell, name = _last_answer(nb)
    lines = cell.source.split("\n")
    begin = lines.index(next(ln for ln in lines if ln.strip() == "### BEGIN SOLUTION"))
    end = max(i for i, ln in enumerate(lines) if ln.strip() == "### END SOLUTION")
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    if kind == "sign":  # the function's own last return (not a nested one) -> minus it
        k = max(i for i in range(begin, end) if lines[i].startswith(indent + "return "))
        lines[k] = lines[k].replace("return ", "_right = ", 1)
        lines.insert(end, SIGN.format(i=indent))
    elif kind == "reference":
        lines[begin + 1 : end] = [
            f"{indent}import backprop.differential as ref",
            f"{indent}return ref.{name}  # noqa",
        ]
    cell.source = "\n".join(lines)
    return nb


def make_class(folder: Path, students: int) -> list[dict]:
    """Write the submissions under folder/subs; one {student, assignment, kind, answer} per notebook."""
    import nbformat

    source = ROOT / "instructor" / "source"
    rel = folder / "_release"  # a subprocess: tools/grading would clash with this module's name
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(rel)],
        check=True,
        capture_output=True,
    )
    assignments = sorted(p.name for p in source.iterdir() if (p / "grading.py").exists())
    made = []
    for s in range(students):
        for k, a in enumerate(assignments):
            kind = KINDS[(s + k) % len(KINDS)]
            nb = nbformat.read((rel if kind == "blank" else source) / a / f"{a}.ipynb", as_version=4)
            nb = _variant(nb, kind) if kind in ("sign", "reference") else nb
            name = f"{a} (1).ipynb" if kind == "renamed" else f"{a}.ipynb"
            path = folder / "subs" / f"student{s:03d}" / a / name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            made.append(
                {"student": f"student{s:03d}", "assignment": a, "kind": kind, "answer": _last_answer(nb)[1]}
            )
    return made


def wrong_grades(made: list[dict], graded: dict) -> list[str]:
    """What the grader got wrong: honest and renamed full marks, blank zero, the sign mistake losing
    points only on its answer's tests (the feedback naming the sign), the reference import zero on
    exactly those tests (with a note)."""
    wrong = []
    for m in made:
        r = graded.get((m["student"], m["assignment"]))
        label = f"{m['student']}/{m['assignment']} ({m['kind']})"
        if r is None:
            wrong.append(f"{label}: not in the gradebook")
            continue
        qs = {q["grade_id"]: (q["points"], q["max_points"]) for q in r["questions"]}
        mine = sorted(
            g for g in qs if g.startswith(f"test_{m['answer']}_")
        )  # the tests of the changed answer
        others_full = all(p == mx for g, (p, mx) in qs.items() if g not in mine)
        score, full = sum(p for p, _ in qs.values()), sum(mx for _, mx in qs.values())
        lost = sum(qs[g][1] - qs[g][0] for g in mine)
        named = any("wrong sign" in q["message"] for q in r["questions"] if q["grade_id"] in mine)
        if m["kind"] in ("honest", "renamed") and not score == full > 0:
            wrong.append(f"{label}: {score:g} of {full:g}, not full marks")
        elif m["kind"] == "blank" and not (score == 0 < full):
            wrong.append(f"{label}: {score:g} of {full:g}, not zero")
        elif m["kind"] == "sign" and not (mine and others_full and lost > 0 and named):
            wrong.append(
                f"{label}: no points lost on the tests of {m['answer']} ({mine}) with the sign named, "
                "or points lost elsewhere"
            )
        elif m["kind"] == "reference" and not (
            mine
            and others_full
            and all(qs[g][0] == 0 for g in mine)
            and any("reference implementation" in n for n in r["notes"])
        ):
            wrong.append(
                f"{label}: the tests of {m['answer']} ({mine}) not all zero with a note, or others lost"
            )
    return wrong


def _grade(subs: Path, out: Path, jobs: int, scheduler: str | None = None) -> dict:
    """Run the grader once (``--jobs`` here, or on the Dask scheduler at ``scheduler``); its wall and CPU
    time, the finish time of every notebook, what it left behind (of its own local workers)."""
    import resource

    cpu0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    start = time.time()
    where = ["--scheduler", scheduler] if scheduler else ["--jobs", str(jobs)]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools" / "autograde.py"),
            str(subs),
            "--out",
            str(out),
            *where,
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate()
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"autograde failed ({proc.returncode}): {err[-2000:]}")
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        rows = db.execute("SELECT student, assignment, result, graded_at FROM results").fetchall()
    graded = {(s, a): json.loads(r) for s, a, r, _ in rows}
    base = (proc.pid % 100000) * 64  # autograde's sandbox slots (tools/autograde.py, Workers)
    left = [
        str(p)
        for c in ("memory", "pids", "cpuacct")
        for p in (Path("/sys/fs/cgroup") / c / "backprop-grader").glob("slot*")
        if base <= int(p.name[4:]) < base + jobs
    ]
    return {
        "wall": wall,
        "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "graded": graded,
        "finished": sorted(t - start for *_, t in rows),
        "left_behind": left,
    }


def run(quick: bool, students: int | None = None, jobs: int = 2, workdir: str | None = None) -> dict:
    try:
        import nbgrader  # noqa: F401
    except ImportError as err:
        raise harness.Skip("nbgrader not installed (pip install -e '.[instructor]')") from err
    if shutil.which("bwrap") is None or os.geteuid() != 0:
        raise harness.Skip("the grader's sandbox needs bubblewrap as root")
    students = students or (QUICK_STUDENTS if quick else STUDENTS)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        tmp = Path(workdir or tmp)
        for old in ("_release", "subs", "out"):
            shutil.rmtree(tmp / old, ignore_errors=True)
        made = make_class(tmp, students)
        g = _grade(tmp / "subs", tmp / "out", jobs)
        kernel = [r.get("kernel_cpu_s") for r in g["graded"].values()]
        if any(k is None for k in kernel):
            raise harness.Skip("the kernels' CPU time needs the cgroup v1 cpuacct controller")
        result = summary(made, g, sum(kernel), jobs, students, load_start)
        result["executors"] = executors(
            tmp / "executors", QUICK_STUDENTS if quick else EXECUTOR_STUDENTS, 1 if quick else EXECUTOR_ROUNDS
        )
    return result


def _steady_rate(finished: list[float], workers: int) -> float:
    """Notebooks per minute after each worker's first notebook (its start-up)."""
    steady = finished[workers - 1 :]
    return (len(steady) - 1) / (steady[-1] - steady[0]) * 60


@contextlib.contextmanager
def _dask(workers: int, tmp: Path):
    """``dask scheduler`` and ``dask worker --nworkers N --nthreads 1 --preload grading.cluster`` on
    127.0.0.1, as the instructor guide starts them; yields the address and the worker processes' pids."""
    from distributed import Client

    dask, file = Path(sys.executable).parent / "dask", tmp / "scheduler.json"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    common = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "start_new_session": True}
    procs = [
        subprocess.Popen(
            [
                str(dask),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            stderr=open(tmp / "scheduler.log", "w"),
            **common,
        ),
        subprocess.Popen(
            [
                str(dask),
                "worker",
                "--scheduler-file",
                str(file),
                "--host",
                "127.0.0.1",
                "--nworkers",
                str(workers),
                "--nthreads",
                "1",
                "--no-dashboard",
                "--preload",
                "grading.cluster",
            ],
            stderr=open(tmp / "workers.log", "w"),
            **common,
        ),
    ]
    try:
        deadline = time.monotonic() + 300
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=300)
            pids = list(client.run(os.getpid).values())
        yield address, pids
    finally:
        for p in reversed(procs):  # the command itself: it closes its workers, which clean up
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)


def _left_by(pids: list[int]) -> list[str]:
    """Sandbox slots and folders of Dask workers that are still there after the workers closed."""
    slots = {pid % 100000 * 64 + k for pid in pids for k in range(64)}
    cgroups = [
        str(p)
        for c in ("memory", "pids", "cpuacct")
        for p in (Path("/sys/fs/cgroup") / c / "backprop-grader").glob("slot*")
        if int(p.name[4:]) in slots
    ]
    return cgroups + [str(p) for pid in pids for p in Path("/tmp").glob(f"bpg-{pid}-*")]


def executors(tmp: Path, students: int, rounds: int) -> dict:
    """Each of EXECUTORS grades one class in every round (the order rotated between rounds)."""
    made = make_class(tmp, students)
    names = list(EXECUTORS)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            kind, n = EXECUTORS[name]
            out = tmp / f"out-{r}-{n}-{kind}"
            if kind == "jobs":
                g = _grade(tmp / "subs", out, n)
            else:
                with _dask(n, tmp / f"dask-{r}-{n}") as (address, pids):
                    g = _grade(tmp / "subs", out, n, address)
                g["left_behind"] += _left_by(pids)
            wrong = wrong_grades(made, g["graded"])
            runs[name].append(
                {
                    "notebooks_per_minute": round(_steady_rate(g["finished"], n), 1),
                    "wall_s": round(g["wall"], 1),
                    "wrong_grades": wrong,
                    "sandboxes_left_behind": g["left_behind"],
                }
            )
            harness.note(f"    {name}: {runs[name][-1]['notebooks_per_minute']} notebooks/min")
    base = runs["--jobs 1"]
    ratios = {
        n: round(
            statistics.median(
                x["notebooks_per_minute"] / b["notebooks_per_minute"] for x, b in zip(runs[n], base)
            ),
            2,
        )
        for n in names
    }
    right = all(not x["wrong_grades"] and not x["sandboxes_left_behind"] for rs in runs.values() for x in rs)
    return {
        "students": students,
        "notebooks": len(made),
        "rounds": rounds,
        "runs": runs,
        "notebooks_per_minute": {
            n: round(statistics.median(x["notebooks_per_minute"] for x in runs[n]), 1) for n in names
        },
        "ratio_to_jobs_1": ratios,
        "all_right": right,
    }


def summary(
    made: list[dict], g: dict, kernel_cpu: float, jobs: int, students: int, load_start: float
) -> dict:
    n, t = len(made), g["finished"]
    wrong = wrong_grades(made, g["graded"])
    steady = t[jobs - 1 :]  # after each worker's first notebook (its start-up)
    rate = (len(steady) - 1) / (steady[-1] - steady[0]) * 60 if len(steady) > 1 else n / g["wall"] * 60
    fixed = max(0.0, g["wall"] - n / rate * 60)  # start-up, intake, reports
    half = len(steady) // 2
    halves = (
        [(len(h) - 1) / (h[-1] - h[0]) * 60 for h in (steady[: half + 1], steady[half:])]
        if half >= 5
        else None
    )
    cpu = (g["cpu"] + kernel_cpu) / n
    per_assignment = n // students
    cores = min(jobs, os.cpu_count() or 1)

    def minutes(notebooks: int) -> float:
        return (fixed + notebooks / rate * 60) / 60

    target, every = CLASS * TARGET_NOTEBOOKS, CLASS * per_assignment
    right = not wrong and not g["left_behind"]
    kinds = {k: sum(m["kind"] == k for m in made) for k in dict.fromkeys(KINDS)}
    load_end = os.getloadavg()[0]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "students": students,
        "assignments": per_assignment,
        "notebooks": n,
        "kinds": kinds,
        "jobs": jobs,
        "cpus": os.cpu_count(),
        "wall_s": round(g["wall"], 1),
        "fixed_s": round(fixed, 1),
        "notebooks_per_minute": round(rate, 1),
        "notebooks_per_minute_halves": [round(h, 1) for h in halves] if halves else None,
        "cpu_s_per_notebook": round(cpu, 2),
        "kernel_cpu_s_per_notebook": round(kernel_cpu / n, 2),
        "wrong_grades": wrong,
        "sandboxes_left_behind": g["left_behind"],
        "projected_minutes": {
            f"{CLASS}x{TARGET_NOTEBOOKS}": round(minutes(target), 1),
            f"{CLASS}x{per_assignment}": round(minutes(every), 1),
            f"{CLASS}x{TARGET_NOTEBOOKS} cpu-bound": round(target * cpu / cores / 60, 1),
        },
        "load_average_1min": {"start": load_start, "end": load_end},
        "verdicts": [
            {
                "target": "every notebook of the class graded right, no sandbox left behind",
                "met": right,
                "detail": (
                    f"{n} notebooks as expected: {', '.join(f'{v} {k}' for k, v in kinds.items())}"
                    if right
                    else "; ".join(wrong + g["left_behind"])[:600]
                ),
            },
            {
                "target": f"{CLASS} students x {TARGET_NOTEBOOKS} notebooks in <= {TARGET_MIN:g} min (projected)",
                "met": right and minutes(target) <= TARGET_MIN,
                "detail": f"{minutes(target):.1f} min = {fixed:.0f} s start-up + {target} notebooks at {rate:.1f} "
                f"per minute, measured on {n} notebooks with --jobs {jobs}; {cpu:.2f} CPU s per notebook "
                f"(start-up included); "
                f"1-minute load average {load_start:.1f} -> {load_end:.1f} on {os.cpu_count()} cores"
                + ("" if right else "; not valid: the grades were wrong"),
            },
        ],
    }


def heading(r: dict) -> str:
    return (
        f"Grading throughput ({r['notebooks']} notebooks measured, sandboxed, --jobs {r['jobs']}; "
        f"a {CLASS}-student class projected)"
    )


def markdown(r: dict) -> list[str]:
    p = r["projected_minutes"]
    every = f"{CLASS}x{r['assignments']}"
    halves = r.get("notebooks_per_minute_halves")
    return [
        "| class measured | wall | start-up | notebooks / min | CPU / notebook | 200 × 4 takes | "
        f"200 × {r['assignments']} takes |",
        "|---|---|---|---|---|---|---|",
        f"| {r['students']} student{'s' * (r['students'] != 1)} × {r['assignments']} = {r['notebooks']} notebooks"
        " | "
        f"{r['wall_s']:.0f} s | "
        f"{r['fixed_s']:.0f} s | {r['notebooks_per_minute']:.1f} | {r['cpu_s_per_notebook']:.2f} s | "
        f"{p[f'{CLASS}x{TARGET_NOTEBOOKS}']:.1f} min | {p[every]:.1f} min |",
        "",
        "The 200-student times are projections: the start-up plus the notebooks at the measured steady rate"
        + (
            f" (first and second half of the run: {halves[0]:.1f} and {halves[1]:.1f} per minute)"
            if halves
            else ""
        )
        + f"; on {r['cpus']} otherwise idle cores the CPU time alone (start-up included: an upper bound) "
        f"allows 200 × 4 in {p[f'{CLASS}x{TARGET_NOTEBOOKS} cpu-bound']:.1f} min.",
        "",
        *[f"- {v['target']} — {verdict(v['met'])} ({v['detail']})." for v in r["verdicts"]],
        "",
        *executors_markdown(r.get("executors")),
    ]


def executors_markdown(e: dict | None) -> list[str]:
    if not e:
        return []
    rows = [
        f"| {name} | {rate:.1f} | {e['ratio_to_jobs_1'][name]:.2f} | "
        + ", ".join(f"{x['notebooks_per_minute']:.1f}" for x in e["runs"][name])
        + " |"
        for name, rate in e["notebooks_per_minute"].items()
    ]
    return [
        f"Where the notebooks are graded: the same class ({e['notebooks']} notebooks) by local workers "
        f"(`--jobs`) and by local Dask workers (`--scheduler`, one thread each, started before the run), "
        f"{e['rounds']} interleaved round{'s' * (e['rounds'] != 1)}; steady rates (after each worker's first "
        "notebook), medians over the rounds, and the median of the ratios to `--jobs 1` within each round:",
        "",
        "| executor | notebooks / min | ratio to `--jobs 1` | per round |",
        "|---|---|---|---|",
        *rows,
        "",
        f"- every run of every executor graded every notebook right and left no sandbox behind — "
        f"{verdict(e['all_right'])}.",
        "",
    ]


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_STUDENTS} student (a smoke test)")
    ap.add_argument(
        "--students", type=int, default=None, help=f"class size (default {STUDENTS}; 200 for a real class)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workdir", help="keep the class and the reports in this folder")
    args = ap.parse_args()
    print(json.dumps(run(args.quick, args.students, args.jobs, args.workdir), indent=1))
