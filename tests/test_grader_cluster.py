"""Grading on a Dask cluster (tools/grading/cluster.py, ``autograde --scheduler``): a real
``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (random ports, one thread each, no
dashboard), workers killed while they grade, a worker that cannot sandbox.

The grader needs bubblewrap as root (``python3 dev.py test`` installs it), like test_grader_adversarial.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
SOURCE = ROOT / "instructor" / "source"
BIN = Path(sys.executable).parent
ASSIGNMENTS = ["subscripts", "differentials"]  # the two smallest notebooks
SECRET = "c1a55"
START_TIMEOUT = 180  # a worker's start on a loaded 2-core machine


# ------------------------------------------------------------------------------------- a class
def _blank(cell) -> str:
    """An answer cell as released: each solution region replaced by ``raise NotImplementedError()``
    (what nbgrader's ClearSolutions, run by tools/release.py, does with it)."""
    out, inside = [], False
    for line in cell.source.split("\n"):
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + "raise NotImplementedError()")
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    """ada: the instructor solutions; bob: every answer blank; cy: the last answer blank."""
    subs = tmp_path_factory.mktemp("class") / "subs"
    for a in ASSIGNMENTS:
        honest = nbformat.read(SOURCE / a / f"{a}.ipynb", as_version=4)
        blank, partial = nbformat.from_dict(honest), nbformat.from_dict(honest)
        answers = [c for c in blank.cells if c.metadata.get("nbgrader", {}).get("solution")]
        for cell in answers:
            cell.source = _blank(cell)
        [c for c in partial.cells if c.metadata.get("nbgrader", {}).get("solution")][-1].source = answers[
            -1
        ].source
        for student, nb in (("ada", honest), ("bob", blank), ("cy", partial)):
            (subs / student / a).mkdir(parents=True)
            nbformat.write(nb, subs / student / a / f"{a}.ipynb")
    return subs


# ------------------------------------------------------------------------------------- a cluster
def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(TOOLS), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    env.update(extra)
    return env


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:  # the command itself: it closes its workers, which clean up
        with contextlib.suppress(OSError):
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _wait_workers(address: str, n: int) -> None:
    """Until the scheduler has exactly ``n`` workers (earlier tests' workers gone, these joined)."""
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        deadline = time.monotonic() + START_TIMEOUT
        while len(client.nthreads()) != n:
            assert time.monotonic() < deadline, f"{len(client.nthreads())} workers, not {n}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """One ``dask scheduler`` for the module (one failure allowed per task); yields its address."""
    tmp = tmp_path_factory.mktemp("scheduler")
    file = tmp / "scheduler.json"
    proc = subprocess.Popen(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(file),
        ],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "scheduler.log", "w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not file.exists():
            assert time.monotonic() < deadline and proc.poll() is None, (tmp / "scheduler.log").read_text()
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole
        yield json.loads(file.read_text())["address"]
    finally:
        _stop([proc])


@contextlib.contextmanager
def dask_workers(address: str, tmp: Path, workers: list[dict]):
    """``dask worker`` processes (``workers``: one environment override each), joined; yields them."""
    tmp.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                f"w{k}",
                "--preload",
                "grading.cluster",
            ],
            env=_env(**extra),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / f"w{k}.log", "w"),
            start_new_session=True,
        )
        for k, extra in enumerate(workers)
    ]
    try:
        _wait_workers(address, len(workers))
        yield procs
    finally:
        _stop(procs)
        _wait_workers(address, 0)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _grading_process(nanny: int) -> int | None:
    """The worker process under a ``dask worker`` (its nanny) while it runs a sandboxed kernel, else None."""
    for proc in _children(nanny):
        stack = _children(proc)
        while stack:
            pid = stack.pop()
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"bwrap" in cmd and b"ipykernel_launcher" in cmd:
                return proc
            stack += _children(pid)
    return None


class Killer(threading.Thread):
    """Kills a worker while it grades, ``times`` times: the whole ``dask worker`` (a machine lost) or
    only its worker process (its nanny starts a new one)."""

    def __init__(self, nanny: subprocess.Popen, times: int = 1, whole: bool = True):
        super().__init__(daemon=True)
        self.nanny, self.times, self.whole = nanny, times, whole
        self.killed: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while len(self.killed) < self.times and not self.stop.is_set():
            pid = _grading_process(self.nanny.pid)
            if pid is None:
                time.sleep(0.05)
                continue
            if self.whole:
                os.killpg(self.nanny.pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
            self.killed.append(pid)
            while pid in _children(self.nanny.pid) and not self.stop.is_set():
                time.sleep(0.05)

    def clean(self) -> None:
        """What a killed worker leaves on its machine: its slot's cgroups and folder."""
        sandbox = _autograde().sandbox
        for pid in self.killed:
            slot = (pid % 100000) * 64
            sandbox.kill_slot(slot)
            sandbox.remove_slot(slot)
            sandbox.remove_tree(Path(f"/tmp/bpg-{pid}-0"))


# ------------------------------------------------------------------------------------- running
def _autograde():
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import autograde

    return autograde


def _cli(subs: Path, out: Path, *more: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(TOOLS / "autograde.py"),
            str(subs),
            "--out",
            str(out),
            "--secret",
            SECRET,
            "--no-progress",
            *more,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )


def _rows(out: Path) -> dict[tuple, dict]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        rows = db.execute(
            "SELECT student, assignment, notebook, score, result, graded_at, grader_error FROM results"
        ).fetchall()
    return {
        (s, a, n): {**json.loads(r), "score": sc, "graded_at": g, "grader_error": e}
        for s, a, n, sc, r, g, e in rows
    }


def _count(out: Path) -> int:
    if not (out / "gradebook.sqlite").exists():
        return 0
    try:
        with sqlite3.connect(out / "gradebook.sqlite") as db:
            return db.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def _verdicts(row: dict) -> list[tuple]:
    return [(q["grade_id"], q["points"], q["status"], q["message"]) for q in row["questions"]]


@pytest.fixture(scope="module")
def local(klass, tmp_path_factory) -> dict:
    """The same class graded by local worker processes (the reference)."""
    out = tmp_path_factory.mktemp("local") / "out"
    _autograde().autograde(klass, out=out, jobs=2, secret=SECRET, progress=False)
    return _rows(out)


# ------------------------------------------------------------------------------------- tests
def test_a_worker_killed_while_grading_costs_nothing(klass, local, scheduler, tmp_path, monkeypatch):
    """Two workers; one is killed (with its nanny: a machine lost) while it runs a notebook. Every
    notebook is recorded exactly once, with the verdicts of the local run."""
    ag = _autograde()
    recorded = Counter()
    record = ag._record

    def counting(book, job, result, out):
        recorded[(job.task.student, job.task.assignment, job.task.notebook)] += 1
        record(book, job, result, out)

    monkeypatch.setattr(ag, "_record", counting)
    with dask_workers(scheduler, tmp_path / "logs", [{}, {}]) as workers:
        killer = Killer(workers[0])
        killer.start()
        try:
            ag.autograde(klass, out=tmp_path / "out", secret=SECRET, progress=False, scheduler=scheduler)
        finally:
            killer.stop.set()
            killer.join()
            killer.clean()
        assert len(killer.killed) == 1, "the worker was never seen grading"
        assert workers[0].poll() is not None
    assert set(recorded) == set(local) and set(recorded.values()) == {1}, recorded
    got = _rows(tmp_path / "out")
    assert {k: _verdicts(r) for k, r in got.items()} == {k: _verdicts(r) for k, r in local.items()}
    assert {k: r["score"] for k, r in got.items()} == {k: r["score"] for k, r in local.items()}
    scores = {(s, a): r["score"] for (s, a, _), r in got.items()}
    assert all(scores[("ada", a)] > scores[("cy", a)] > scores[("bob", a)] == 0 for a in ASSIGNMENTS), scores


def test_a_notebook_that_keeps_killing_its_workers_scores_zero_after_the_allowed_tries(
    klass, scheduler, tmp_path
):
    """The scheduler allows one failure (DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1): the
    worker process is killed each time it grades the notebook (its nanny starts a new one); after
    the second death the notebook scores zero with a note, the run ends normally, and a rerun does
    not grade it again."""
    subs = tmp_path / "subs"
    (subs / "ada" / "subscripts").mkdir(parents=True)
    nbformat.write(
        nbformat.read(klass / "ada" / "subscripts" / "subscripts.ipynb", as_version=4),
        subs / "ada" / "subscripts" / "subscripts.ipynb",
    )
    ag, out = _autograde(), tmp_path / "out"
    with dask_workers(scheduler, tmp_path / "logs", [{}]) as workers:
        killer = Killer(workers[0], times=3, whole=False)
        killer.start()
        try:
            ag.autograde(subs, out=out, secret=SECRET, progress=False, scheduler=scheduler)
        finally:
            killer.stop.set()
            killer.join()
            killer.clean()
        assert len(killer.killed) == 2, killer.killed
        (row,) = _rows(out).values()
        assert row["score"] == 0 and not row["grader_error"]
        assert any("died while grading" in n and "2 tries" in n for n in row["notes"]), row["notes"]
        ag.autograde(subs, out=out, secret=SECRET, progress=False, scheduler=scheduler)
        assert _rows(out)[("ada", "subscripts", "subscripts.ipynb")]["graded_at"] == row["graded_at"]


def test_a_worker_without_a_sandbox_refuses_with_a_message(klass, local, scheduler, tmp_path, capsys):
    """One worker has no bubblewrap on its PATH: it refuses its tasks (named on the instructor's
    screen), leaves the cluster, and the other worker grades. The command line is interrupted
    (Ctrl-C) after the first results, run again for one student (a partial run: only that student's
    notebooks are added), then for everyone: it goes on, grades nothing twice, and ends with the
    local verdicts and scores.
    With only such a worker the run stops with the reason."""
    no_bwrap, out = {"PATH": str(BIN)}, tmp_path / "out"
    with dask_workers(scheduler, tmp_path / "both", [no_bwrap, {}]):
        cmd = [
            sys.executable,
            str(TOOLS / "autograde.py"),
            str(klass),
            "--out",
            str(out),
            "--secret",
            SECRET,
            "--no-progress",
            "--scheduler",
            scheduler,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not _count(out):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        first = {k: r["graded_at"] for k, r in _rows(out).items()}
        partial = _cli(klass, out, "--scheduler", scheduler, "--student", "ada")
        after_partial = {k: r["graded_at"] for k, r in _rows(out).items()}
        again = _cli(klass, out, "--scheduler", scheduler)
    assert proc.returncode == 130 and "interrupted" in err, err[-3000:]
    assert "refuses to grade: no sandbox here: bubblewrap" in err, err[-3000:]
    assert 1 <= len(first) < len(local)
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert set(after_partial) == set(first) | {k for k in local if k[0] == "ada"}, after_partial
    assert all(after_partial[k] == g for k, g in first.items()), "graded before Ctrl-C, and graded again"
    assert again.returncode == 0, again.stderr[-3000:]
    got = _rows(out)
    assert all(got[k]["graded_at"] == g for k, g in after_partial.items()), (
        "graded in an earlier run, and again"
    )
    assert {k: _verdicts(r) for k, r in got.items()} == {k: _verdicts(r) for k, r in local.items()}
    assert {k: r["score"] for k, r in got.items()} == {k: r["score"] for k, r in local.items()}
    ag = _autograde()
    with dask_workers(scheduler, tmp_path / "alone", [no_bwrap]):
        with pytest.raises(ag.GradingError, match="no worker of the cluster can grade.*bubblewrap"):
            ag.autograde(klass, out=tmp_path / "out2", secret=SECRET, progress=False, scheduler=scheduler)
    assert "refuses to grade" in capsys.readouterr().err


def test_a_worker_with_another_version_refuses_and_tasks_name_sources_portably(tmp_path):
    """No cluster needed: what a worker checks before it grades."""
    cluster = _autograde().cluster
    source = SOURCE / "subscripts"
    assert cluster.portable(str(source)) == "instructor/source/subscripts"
    assert cluster.portable(str(tmp_path)) == str(tmp_path)
    task = _autograde().worker.Task(
        "ada", "subscripts", "subscripts.ipynb", "{}", "instructor/source/subscripts", 1
    )
    want = cluster.fingerprint(source)
    assert cluster._cannot_grade(task, source, want) is None
    assert "differs from the instructor's" in cluster._cannot_grade(task, source, "0" * 64)
    assert "not on this machine" in cluster._cannot_grade(task, tmp_path / "nowhere", want)
