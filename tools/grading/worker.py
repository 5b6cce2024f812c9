"""Grade one notebook: a self-contained unit of work (a Task in, a plain dict out).

Steps (each a function below): read the submission; draw the fresh inputs; build the notebook to
run (sources restored, probes in place) and the kernel's folder; run it in a sandboxed kernel
with nbgrader's Execute (capped, with the memory tests measured from outside); judge every test
in this process; note the errors the student's cells raised; keep a readable executed copy.

A Task carries everything needed (the submission's text, the seed, the assignment's source
folder, the limits), so it can be sent to a worker process as one JSON line (``main``: one task
per stdin line, one result per stdout line) or pickled to another machine that holds the same
repository. A result is {questions, notes, answer_errors, executed, seconds, kernel_cpu_s,
grader_error}; ``grader_error`` is True when the grader (not the submission) failed, so the
notebook is graded again on the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: tools/ is sys.path[0]'s parent
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "grading"

from . import notebook as nbmod  # noqa: E402
from . import sandbox, selfcheck, spec, student_package, variants, verdicts  # noqa: E402
from .execute import MAX_OUTPUT, CappedExecute, Hooks  # noqa: E402
from .kernel import wire  # noqa: E402

SKIP = {"grading.py", "__pycache__"}
CASES = "_grading_cases"  # kernel/probe.py reads the inputs from here
_specs: dict[tuple, spec.Spec] = {}
_packages: dict[str, Path] = {}


@dataclass
class Task:
    """One notebook to grade (plain data: JSON- and pickle-able)."""

    student: str
    assignment: str
    notebook: str
    submission: str | None  # the notebook file's text as received; None = not submitted
    source: str  # the assignment's folder in instructor/source
    seed: int  # the fresh inputs' seed (never leaves the instructor's side)
    timeout: int = 30  # seconds per cell
    notebook_timeout: float = 180  # seconds per notebook
    slot: int = 0  # sandbox slot: user id 60000 + slot, the slot's cgroups
    workdir: str = "/tmp/bpg-worker"
    unsafe: bool = False
    variant: str = ""  # the student's variant (grading/variants.py); "" = the notebook as written

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Task:
        return cls(**json.loads(text))


def zero(source_nb, message: str, status: str = "not run") -> list[dict]:
    return [
        {
            "grade_id": nbmod.meta(c)["grade_id"],
            "max_points": float(nbmod.meta(c).get("points", 0)),
            "points": 0.0,
            "description": nbmod.description(c),
            "status": status,
            "message": message,
        }
        for c in source_nb.cells
        if nbmod.meta(c).get("grade")
    ]


def lost(task: Task, note: str) -> dict:
    """The result of a notebook whose grader process died while grading it: zero, with ``note``."""
    source_nb = nbformat.read(Path(task.source) / task.notebook, as_version=4)
    return {"questions": zero(source_nb, "the grader's worker died"), "answer_errors": [], "notes": [note]}


def grade(task: Task) -> dict:
    """Grade one submission; never raises for a bad submission (zero points with a note)."""
    t0 = time.monotonic()
    source = Path(task.source)
    source_nb = _source_notebook(source, task)
    result = {
        "notes": [],
        "answer_errors": [],
        "questions": zero(source_nb, "not run"),
        "executed": None,
        "grader_error": False,
    }
    if task.submission is None:
        result["questions"] = zero(source_nb, "", status="not submitted")
        result["notes"].append(f"{task.notebook} was not submitted")
        return result
    sub_nb, why = _read_submission(task.submission)
    if sub_nb is None:
        result["questions"] = zero(source_nb, "the file is not a notebook")
        result["notes"].append(
            f"{task.notebook} could not be read as a notebook ({why}); every question of it scores zero"
        )
        return result
    try:
        result.update(_grade(task, source, source_nb, sub_nb))
    except Exception as err:  # a grader-side failure must not stop the class: zero, retried next run
        result["questions"] = zero(source_nb, "could not be graded")
        result["grader_error"] = True
        result["notes"].append(
            f"{task.notebook} could not be graded ({type(err).__name__}: {str(err)[:300]}); "
            "it will be graded again on the next run; tell the instructor if this stays"
        )
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


def _read_submission(text: str) -> tuple:
    """(notebook, None) or (None, why) — the why names the kind of problem, never the file's content."""
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:
        return None, f"not valid notebook JSON: {type(err).__name__}"
    try:
        nbformat.validate(nb)
    except Exception:
        return None, "not a valid notebook: its structure does not follow the notebook format"
    return nb, None


def _spec(source: Path, variant: str = "") -> spec.Spec:
    if (str(source), variant) not in _specs:
        _specs[str(source), variant] = variants.checks(source, variant) if variant else spec.load(source)
    return _specs[str(source), variant]


def _source_notebook(source: Path, task: Task):
    """The instructor notebook as the student received it (written for the student's variant)."""
    nb = nbformat.read(source / task.notebook, as_version=4)
    return variants.render(nb, variants.get(source, task.variant)) if task.variant else nb


def _student_package(allowed: dict, base: Path) -> Path:
    key = student_package.key(allowed)
    if key not in _packages:
        _packages[key] = student_package.build(sandbox.package_dir(), allowed, base / f"pkg-{key}")
    return _packages[key]


def _fresh_inputs(checks: spec.Spec, seed: int) -> dict[str, list[dict]]:
    return {gid: spec.cases(test, seed) for gid, test in checks.tests.items()}


def _kernel_files(source: Path, work: Path, cases: dict[str, list[dict]], variant: str = "") -> None:
    """The kernel's working folder: the assignment's files, the self-check package (its code
    fresh from tools/grading/kernel, with the probe) and the fresh inputs, one folder per case."""
    for f in sorted(source.iterdir()):
        if f.name in SKIP or f.suffix == ".ipynb" or f.name.startswith(".") or f.name == selfcheck.PACKAGE:
            continue
        (shutil.copytree if f.is_dir() else shutil.copyfile)(f, work / f.name)
    package = work / selfcheck.PACKAGE
    package.mkdir()
    for p in sorted(selfcheck.KERNEL.glob("*.py")):
        shutil.copyfile(p, package / p.name)
    data = source / selfcheck.PACKAGE / "data.json"  # written by the release (check() is not graded)
    if variant:
        (package / data.name).write_bytes(
            selfcheck.files(source, variant)[f"{selfcheck.PACKAGE}/{data.name}"]
        )
    elif data.is_file():
        shutil.copyfile(data, package / data.name)
    for gid, cs in cases.items():
        for k, case in enumerate(cs):
            wire.save(case, work / CASES / gid / str(k))
    for root, dirs, names in os.walk(work):  # readable by the kernel's user, written by none
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for n in names:
            os.chmod(os.path.join(root, n), 0o644)


def _grade(task: Task, source: Path, source_nb, sub_nb) -> dict:
    checks = _spec(source, task.variant)
    cases = _fresh_inputs(checks, int(task.seed))
    probes = {
        gid: nbmod.probe_sources(gid, t.call, len(cases[gid]) if t.peak_memory else None)
        for gid, t in checks.tests.items()
    }
    nb, notes = nbmod.prepare(source_nb, sub_nb, probes)
    base = Path(task.workdir)
    box = sandbox.Sandbox(
        task.slot,
        base / "work",
        base / "s",
        _student_package(checks.student_package, base),
        sandbox.Limits(),
        unsafe=task.unsafe,
    )
    meter = MemoryHooks(nb, checks, box)
    sandbox.prepare_folders(box)
    try:
        _kernel_files(source, box.work, cases, task.variant)
        run = _run(nb, box, task, meter)
    finally:
        sandbox.kill_slot(box.slot)
        sandbox.release_folders(box)
        meter.forget()
    questions = _judge(source_nb, nb, checks, cases, run, meter)
    notes += run.notes()
    found = _variant_notes(task, source, nb, checks, cases, questions)
    errors, scan_notes = _answer_errors(source_nb, nb)
    executed = nbformat.writes(nbmod.kept_copy(nb, source_nb, questions))
    return {
        "questions": questions,
        "notes": found["notes"] + notes + scan_notes,
        "answer_errors": errors,
        "executed": executed,
        "variant": found["variant"],
        "fits_variant": found["fits"],
        **({"kernel_cpu_s": round(run.kernel_cpu, 3)} if run.kernel_cpu is not None else {}),
    }


# ------------------------------------------------------------------------------------- running
class MemoryHooks(Hooks):
    """Measures the memory tests from outside the kernel (the slot's memory cgroup).

    Baseline: what the kernel holds after the restored setup cells, before any cell of the
    student's. For each probe cell of a memory test: the peak while it runs. Before either
    reading, the slot's page cache is reclaimed (files read, libraries imported elsewhere), so
    what counts is what the kernel holds itself; without swap that cannot be reclaimed. The extra
    memory of a case is peak - baseline - its inputs' bytes: memory set aside in earlier cells,
    tmpfs files and shared memory all count. A cell in which the kernel reached its memory limit
    is not measured (the peak is then the limit)."""

    def __init__(self, nb, checks: spec.Spec, box: sandbox.Sandbox):
        self.meter = sandbox.MemoryMeter(box.slot) if not box.unsafe else None
        self.cells = {
            i: (nbmod.meta(c)["grade_id"], c.metadata.get(nbmod.CASE_KEY, 0))
            for i, c in enumerate(nb.cells)
            if nbmod.is_test(c)
            and getattr(checks.tests.get(nbmod.meta(c).get("grade_id")), "peak_memory", None)
        }
        restored = [i for i, c in enumerate(nb.cells) if nbmod.is_restored(c) and not nbmod.is_test(c)]
        self.first = next((i for i in range(len(nb.cells)) if i not in restored), len(nb.cells))
        self.baseline: int | None = None
        self.hits: dict[int, int | None] = {}  # cell -> memory limit hits at its start
        self.extra_of: dict[tuple[str, int], float | None] = {}

    def _on(self) -> bool:
        return bool(self.cells) and self.meter is not None and self.meter.available

    def before(self, index: int) -> None:
        if not self._on():
            return
        if index >= self.first and self.baseline is None:
            self.meter.drop_cache()
            self.baseline = self.meter.usage()
        if index in self.cells:
            self.meter.drop_cache()
            self.hits[index] = self.meter.limit_hits()
            self.meter.reset_peak()

    def after(self, index: int) -> None:
        if not (self._on() and index in self.cells):
            return
        peak, hits = self.meter.peak(), self.hits.get(index)
        if None in (peak, hits, self.baseline) or self.meter.limit_hits() != hits:
            self.extra_of[self.cells[index]] = None
            return
        self.extra_of[self.cells[index]] = float(peak - self.baseline)

    def extra(self, grade_id: str, k: int, case: dict) -> float | None:
        """Bytes the kernel held beyond the baseline and the case's inputs at the peak (None: not measured)."""
        raw = self.extra_of.get((grade_id, k))
        return None if raw is None else max(0.0, raw - spec.input_bytes(case))

    def forget(self) -> None:
        if self.meter is not None:
            self.meter.drop_cache()


@dataclass
class Run:
    started: set = field(default_factory=set)
    died: str | None = None
    last: int = -1
    dropped: int = 0
    reconnected: int = 0  # times the kernel's output channel was opened again
    kernel_cpu: float | None = None
    cell_label: str = ""
    log_tail: str = ""  # the end of the kernel's own stdout/stderr, when it died

    def notes(self) -> list[str]:
        out = []
        if self.died:
            where = f"while running {self.cell_label}" if self.cell_label else "before the first cell"
            out.append(
                f"the Python kernel {self.died} {where}; the cells after it were not run and score zero"
                + (f" (the kernel's last words: {self.log_tail!r})" if self.log_tail else "")
            )
        if self.dropped:
            out.append(
                f"the notebook printed more than {MAX_OUTPUT // 2**20} MB; {self.dropped} bytes of output "
                "were dropped"
            )
        if self.reconnected:
            out.append(
                f"the kernel sent a message over {sandbox.Limits.message // 2**20} MB (or the grader "
                "stopped hearing it); its output was reconnected, and what it printed in between is lost"
            )
        return out


def _run(nb, box: sandbox.Sandbox, task: Task, hooks: Hooks) -> Run:
    """Execute ``nb`` in place in a sandboxed kernel, with a watchdog for the whole notebook."""
    from nbclient.exceptions import DeadKernelError

    ex = CappedExecute(
        timeout=task.timeout,
        interrupt_on_timeout=True,
        raise_on_iopub_timeout=False,
        allow_errors=True,
        record_timing=False,
        iopub_timeout=5,
        shutdown_kernel="immediate",
        startup_timeout=60,
        store_widget_state=False,
        hooks=hooks,
    )
    km = sandbox.make_kernel_manager(box)
    done, killed = threading.Event(), threading.Event()

    def watchdog():
        if not done.wait(task.notebook_timeout):
            killed.set()
            sandbox.kill_slot(box.slot)

    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    run = Run()
    try:
        ex.preprocess(nb, {"metadata": {"path": str(box.work)}}, km=km)
    except DeadKernelError:
        run.died = "was killed after the notebook's time limit" if killed.is_set() else "died (crashed)"
    except Exception as err:
        run.died = f"could not run ({type(err).__name__}: {str(err)[:200]})"
    finally:
        done.set()
        dog.join()
        if run.died:
            run.log_tail = _tail(km.kernel_log)
        _stop(ex, km)
    run.started, run.dropped, run.kernel_cpu = ex.started, ex.dropped, sandbox.cpu_seconds(box.slot)
    run.reconnected = ex.reconnected
    run.last = max(ex.started) if ex.started else -1
    if 0 <= run.last < len(nb.cells):
        gid = nbmod.meta(nb.cells[run.last]).get("grade_id")
        run.cell_label = f"cell {run.last + 1}" + (f" (grade_id {gid!r})" if gid else "")
    return run


def _tail(log, size: int = 300) -> str:
    """The end of the kernel's log, read through the grader's own file object (never by path)."""
    if log is None:
        return ""
    try:
        log.flush()
        log.seek(max(0, log.seek(0, 2) - size))
        return log.read(size).decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def _stop(ex, km) -> None:
    """Stop the kernel and the client's channels (nbclient stops only a client it made itself:
    left running, each notebook's heartbeat thread, zmq context and sockets would stay for good)."""
    try:
        if km.has_kernel:
            from jupyter_core.utils import run_sync

            run_sync(km.shutdown_kernel)(now=True)
    except Exception:
        pass
    try:
        if getattr(ex, "kc", None) is not None:
            ex.kc.stop_channels()
    except Exception:
        pass
    if km.kernel_log is not None:
        km.kernel_log.close()


# ------------------------------------------------------------------------------------- judging
def _probe_cells(nb, checks: spec.Spec) -> dict[str, list[tuple[int, object]]]:
    cells: dict[str, list] = {}
    for index, cell in enumerate(nb.cells):
        gid = nbmod.meta(cell).get("grade_id")
        if gid in checks.tests and nbmod.is_test(cell):
            cells.setdefault(gid, []).append((index, cell))
    return cells


def _no_answers(cells: list, run: Run) -> tuple[str, str] | None:
    """(status, message) when the probe cells of a test sent nothing to judge, else None."""
    indices = [i for i, _ in cells]
    if not any(i in run.started for i in indices) or (
        run.died and min(indices) >= run.last and not any(c.outputs for _, c in cells)
    ):
        return "not run", f"not run: the kernel {run.died or 'stopped'} before this test"
    return None


def _results(cells: list, gid: str) -> list[dict]:
    results = []
    for _, cell in cells:
        results += nbmod.payloads(cell, gid)
    return results


def _why_nothing(cells: list) -> tuple[str, str]:
    errors = [o for _, c in cells for o in c.outputs if o.get("output_type") == "error"]
    if any(o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt") for o in errors):
        return "timeout", "did not finish within the time limit"
    why = f"{errors[0].get('ename')}: {str(errors[0].get('evalue'))[:200]}" if errors else "nothing was sent"
    return "failed", f"the test could not collect your answers ({why})"


def _judge_test(
    test: spec.Test, cases: list[dict], results: list[dict], meter: MemoryHooks
) -> tuple[str, str]:
    outcomes = []
    for k, case in enumerate(cases):
        if k >= len(results):
            outcomes.append((False, "no answer for this input (interrupted?)", case))
            continue
        extra = meter.extra(test.grade_id, k, case) if test.peak_memory else None
        try:
            ok, msg = verdicts.judge(test, case, results[k], extra)
        except Exception as err:
            ok, msg = False, f"your answer could not be checked ({type(err).__name__}: {str(err)[:200]})"
        outcomes.append((ok, msg, case))
    failed = [(msg, case) for ok, msg, case in outcomes if not ok]
    if not failed:
        return "passed", next((msg for ok, msg, _ in outcomes if msg), "")
    msg, case = failed[0]
    status = "timeout" if "time limit" in msg else "failed"
    if msg.startswith(("not answered", "did not finish")):
        return status, msg
    return status, f"{msg} (on inputs {spec.describe(case)}; {len(failed)} of {len(outcomes)} inputs wrong)"


def _judge(source_nb, nb, checks: spec.Spec, cases: dict, run: Run, meter: MemoryHooks) -> list[dict]:
    probes = _probe_cells(nb, checks)
    questions = []
    for src in source_nb.cells:
        m = nbmod.meta(src)
        if not m.get("grade"):
            continue
        q = {
            "grade_id": m["grade_id"],
            "max_points": float(m["points"]),
            "points": 0.0,
            "description": nbmod.description(src),
            "status": "failed",
            "message": "",
        }
        questions.append(q)
        test, cells = checks.tests.get(m["grade_id"]), probes.get(m["grade_id"])
        if m.get("solution"):
            q["status"], q["message"] = "manual", "graded by hand"
        elif test is None or not cells:
            q["status"], q["message"] = "not run", "no check for this test (tell the instructor)"
        elif _no_answers(cells, run):
            q["status"], q["message"] = _no_answers(cells, run)
        elif not _results(cells, m["grade_id"]):
            q["status"], q["message"] = _why_nothing(cells)
        else:
            q["status"], q["message"] = _judge_test(
                test, cases[m["grade_id"]], _results(cells, m["grade_id"]), meter
            )
            q["points"] = q["max_points"] if q["status"] == "passed" else 0.0
    return questions


def _fits(test: spec.Test | None, cases: list[dict], results: list[dict]) -> bool:
    """True when ``results`` are right for ``test`` (another variant's) on every case (memory aside)."""
    if test is None or test.kind == "shape" or len(results) < len(cases):
        return False
    test = replace(test, peak_memory=None)
    try:
        return all(verdicts.judge(test, case, results[k], None)[0] for k, case in enumerate(cases))
    except Exception:  # the other variant's reference cannot take these inputs
        return False


def fits_other(
    source: Path, own: str, nb, checks: spec.Spec, cases: dict, questions: list[dict]
) -> str | None:
    """Another variant whose right answers every failed value test gave (None: none does)."""
    failed = [
        q["grade_id"]
        for q in questions
        if q["status"] == "failed" and getattr(checks.tests.get(q["grade_id"]), "kind", "shape") != "shape"
    ]
    if not failed:
        return None
    probes = _probe_cells(nb, checks)
    for v in variants.all_variants(source):
        if v.name == own:
            continue
        other = _spec(source, v.name)
        if all(_fits(other.tests.get(g), cases[g], _results(probes.get(g, []), g)) for g in failed):
            return v.name
    return None


def _variant_notes(
    task: Task, source: Path, nb, checks: spec.Spec, cases: dict, questions: list[dict]
) -> dict:
    """The student's variant (named in a note) and another variant the answers fit, if any."""
    if not task.variant:  # the common release: everyone has the notebook as written
        return {"variant": "", "fits": None, "notes": []}
    own = task.variant
    notes = [
        f"graded against your own version of {task.assignment}: variant '{own}' "
        f"({variants.get(source, own).describe()})"
    ]
    fits = fits_other(source, own, nb, checks, cases, questions)
    if fits:
        text = (
            f"these answers are right for another version of {task.assignment} (variant '{fits}': "
            f"{variants.get(source, fits).describe()}), not for yours ('{own}')"
        )
        notes.append(text + "; the instructor has been told")
        for q in questions:
            if q["status"] == "failed":
                q["message"] += f" — {text}"
    return {"variant": own, "fits": fits, "notes": notes}


def _answer_errors(source_nb, nb) -> tuple[list[str], list[str]]:
    """The errors the student's own cells raised, and notes on answers that name the reference."""
    restored = {nbmod.meta(c).get("grade_id") for c in source_nb.cells if nbmod.is_restored(c)}
    own = {nbmod.meta(c).get("grade_id") for c in source_nb.cells if nbmod.meta(c).get("solution")}
    errors, notes = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or nbmod.meta(cell).get("grade_id") in restored:
            continue
        label = nbmod.meta(cell).get("grade_id") or f"cell {index + 1}"
        errors += [
            f"{label}: {o.get('ename')}: {str(o.get('evalue'))[:300]}"
            for o in cell.outputs
            if o.get("output_type") == "error" and o.get("ename") != "NotImplementedError"
        ][:3]
        words = nbmod.scan(cell.source, own)
        if words:
            notes.append(
                f"{label} refers to the course's reference implementation ({', '.join(words)}): those "
                "are not available while grading; answers must compute the result themselves"
            )
    return errors[:20], notes


def main() -> int:
    """Worker loop: one JSON task per stdin line -> one JSON result per line on the original stdout."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr
    for line in sys.stdin:
        if line.strip():
            task = Task.from_json(line)
            out.write(json.dumps({"result": grade(task)}) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
