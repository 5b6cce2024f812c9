"""Grading on a Dask distributed cluster: one task per notebook, the gradebook stays here.

``autograde SUBMISSIONS --scheduler ADDRESS`` hands each notebook to a Dask scheduler as one task
(:func:`grade_here`, which runs :func:`worker.grade` on whichever worker the scheduler picks) and
records each result in the gradebook on the instructor's machine as it comes back, exactly as the
local worker processes do (:class:`Cluster` offers the same ``free``/``send``/``results``/``stop``
as ``autograde.Workers``).

What a task carries: the :class:`worker.Task` (the submission's text, the assignment's source
folder relative to the repository, the fresh inputs' seed, the limits) and a fingerprint of
what else decides a grade (that source folder, the grader, the package). Never the course secret:
it stays in the gradebook, and the seed of one notebook tells nothing about another's.

Faults, with Dask's own mechanisms:

* a worker that dies while it grades (killed, machine lost) costs nothing: the scheduler gives
  its tasks to another worker, and the notebook's result comes back (and is recorded) once;
* a notebook whose workers keep dying is given up by the scheduler after its
  ``distributed.scheduler.allowed-failures`` (a ``KilledWorker``): it scores zero with a note;
* a worker that cannot grade as the instructor's machine would (no sandbox, no memory
  measurement for an assignment with a memory test, another version of the grader, the package
  or the assignment) raises :class:`Refused`: the message is shown, the scheduler retires that
  worker, and the task is retried elsewhere; when no worker is left the run stops.

A worker is started from the repository (the same commit and install as the instructor's) with
``PYTHONPATH=tools`` so that this module can be imported there; see the instructor guide,
"Grading on a cluster".
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from . import sandbox, worker

ROOT = Path(__file__).resolve().parents[2]  # the repository: the same on every worker machine
GRADER = Path(__file__).resolve().parent
WINDOW = 2  # tasks per worker thread handed to the scheduler at a time
_lock = threading.Lock()
_slots: dict[int, tuple[int, str]] = {}  # thread id -> (sandbox slot, work folder), this process
_fingerprints: dict[str, str] = {}
_sandbox_reason: list[str | None] = []


class ClusterError(Exception):
    """The cluster cannot grade (no scheduler at the address, every worker refused): named in the message."""


class Refused(Exception):
    """Raised on a worker that cannot grade a task as the instructor's machine would."""

    def __init__(self, address: str, why: str):
        super().__init__(f"the Dask worker {address} refuses to grade: {why}")
        self.address, self.why = address, why

    def __reduce__(self):  # pickled back to the instructor with both fields
        return Refused, (self.address, self.why)


# ------------------------------------------------------------------------------ on the worker
def _digest(paths: list[Path], base: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.relative_to(base)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def fingerprint(source: Path) -> str:
    """SHA-256 of what decides a grade besides the submission and the seed: the assignment's source
    folder, the grader (tools/grading) and the package the kernels get (backprop)."""
    key = str(source)
    if key not in _fingerprints:
        files = [p for p in Path(source).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        code = [p for p in GRADER.rglob("*.py") if "__pycache__" not in p.parts]
        package = [p for p in sandbox.package_dir().rglob("*.py") if "__pycache__" not in p.parts]
        _fingerprints[key] = hashlib.sha256(
            "".join(
                [_digest(files, Path(source)), _digest(code, GRADER), _digest(package, sandbox.package_dir())]
            ).encode()
        ).hexdigest()
    return _fingerprints[key]


def portable(source: str) -> str:
    """The source folder as a worker finds it: relative to the repository when it is inside it."""
    path = Path(source).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _here(source: str) -> Path:
    return Path(source) if Path(source).is_absolute() else ROOT / source


def _address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:
        return "?"


def _slot() -> tuple[int, str]:
    """This thread's sandbox slot and work folder: unique on the machine (the process id decides, as
    for autograde's own workers), removed when the worker process ends."""
    ident = threading.get_ident()
    with _lock:
        if ident not in _slots:
            k = len(_slots)
            if k >= 64:
                raise RuntimeError("more than 64 grading threads in one worker process")
            _slots[ident] = ((os.getpid() % 100000) * 64 + k, f"/tmp/bpg-{os.getpid()}-{k}")
            if k == 0:
                atexit.register(_clean)
        return _slots[ident]


def _clean() -> None:
    for slot, folder in list(_slots.values()):
        sandbox.kill_slot(slot)
        sandbox.remove_slot(slot)
        sandbox.remove_tree(Path(folder))


def _cannot_grade(task: worker.Task, source: Path, want: str) -> str | None:
    """Why this worker cannot grade ``task`` as the instructor's machine would (None: it can)."""
    if not source.is_dir():
        return f"the assignment's folder {source} is not on this machine (the repository must be there)"
    if fingerprint(source) != want:
        return (
            "its copy of the assignment, the grader or the package differs from the instructor's "
            "(check out the same commit and install on every worker)"
        )
    if task.unsafe:
        return None
    if not _sandbox_reason:
        _sandbox_reason.append(sandbox.unavailable_reason())
    if _sandbox_reason[0]:
        return f"no sandbox here: {_sandbox_reason[0]}"
    if any(t.peak_memory for t in worker._spec(source).tests.values()) and not sandbox.memory_measurable():
        return (
            f"{task.assignment} has a memory test, and this machine cannot measure a kernel's memory "
            "from outside it (no cgroup v1 memory controller)"
        )
    return None


def grade_here(task: worker.Task, want: str) -> dict:
    """The Dask task: grade one notebook in this machine's sandbox (``want``: the instructor's fingerprint)."""
    source = _here(task.source)
    why = _cannot_grade(task, source, want)
    if why:
        raise Refused(_address(), f"{why} (on {socket.gethostname()})")
    slot, folder = _slot()
    return worker.grade(dataclasses.replace(task, source=str(source), slot=slot, workdir=folder))


def dask_setup(worker_) -> None:
    """``dask worker ... --preload grading.cluster``: load the grader when the worker starts (not while
    its first task is unpacked) and say in the worker's log whether it can sandbox."""
    why = sandbox.unavailable_reason()
    _sandbox_reason[:] = [why]
    print(
        f"grading.cluster: {'this worker will refuse every task: no sandbox here: ' + why if why else 'sandbox ok'}",
        file=sys.stderr,
        flush=True,
    )


# ------------------------------------------------------------------------- on the instructor's side
class Cluster:
    """Notebooks graded by the workers of a Dask scheduler (the interface of ``autograde.Workers``)."""

    def __init__(self, address: str, connect_timeout: float = 30):
        from distributed import Client

        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {err}") from err
        self.address, self.busy, self.refused = address, {}, {}
        self.waiting_since: float | None = None

    def free(self) -> int:
        """How many more notebooks to hand to the scheduler now (a few per worker thread)."""
        threads = sum(self.client.nthreads().values())
        if threads == 0:
            self._no_workers()
        else:
            self.waiting_since = None
        return max(0, WINDOW * threads - len(self.busy))

    def _no_workers(self) -> None:
        if self.refused:
            raise ClusterError("no worker of the cluster can grade: " + "; ".join(self.refused.values()))
        if self.waiting_since is None:
            self.waiting_since = time.monotonic()
            print(
                f"autograde: waiting for Dask workers to join the scheduler at {self.address}",
                file=sys.stderr,
                flush=True,
            )

    def send(self, job) -> None:
        task = dataclasses.replace(job.task, source=portable(job.task.source))
        key = (
            f"grade-{job.sha[:12]}-{uuid.uuid4().hex[:8]}"  # the file's hash names it in the scheduler's logs
        )
        future = self.client.submit(grade_here, task, fingerprint(Path(job.task.source)), key=key, pure=False)
        self.busy[future] = job

    def results(self, timeout: float = 1.0):
        """Yield (job, result) for every notebook whose task has ended."""
        from distributed import wait

        if not self.busy:
            time.sleep(timeout)
            return
        try:
            with self.client.as_current():
                done, _ = wait(list(self.busy), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return
        for future in done:
            job = self.busy.pop(future)
            outcome = self._outcome(future, job)
            if outcome is None:  # handed to another worker
                self.busy[future] = job
            else:
                yield job, outcome

    def _outcome(self, future, job) -> dict | None:
        from distributed import KilledWorker

        if future.status == "finished":
            return future.result()
        if future.status != "error":
            raise ClusterError(
                f"the scheduler at {self.address} lost a task ({future.status}); the notebooks "
                "graded so far are recorded: run the same command again to go on"
            )
        err = future.exception()
        if isinstance(err, KilledWorker):
            tries = getattr(err, "allowed_failures", None)
            return worker.lost(
                job.task,
                "every Dask worker that graded this notebook died while grading it"
                + (f" ({tries + 1} tries, the scheduler's allowed-failures + 1)" if tries is not None else "")
                + "; every question of it scores zero",
            )
        if isinstance(err, Refused):
            self._refuse(err)
            future.retry()
            return None
        raise ClusterError(
            f"a Dask worker could not run a grading task ({type(err).__name__}: {str(err)[:300]}); "
            "is it started from the repository with PYTHONPATH=tools (see the instructor guide)?"
        )

    def _refuse(self, err: Refused) -> None:
        """Show the message once and retire the worker: the scheduler gives it no more tasks."""
        worker_address = err.address
        if worker_address not in self.refused:
            self.refused[worker_address] = str(err)
            print(f"autograde: {err}; it is retired from the cluster", file=sys.stderr, flush=True)
        try:
            self.client.retire_workers(workers=[worker_address], close_workers=True)
        except Exception:
            pass
        if not self.client.nthreads():
            raise ClusterError("no worker of the cluster can grade: " + "; ".join(self.refused.values()))

    def stop(self) -> None:
        try:
            if self.busy:
                self.client.cancel(list(self.busy))
            self.client.close(timeout=10)
        except Exception:
            pass
