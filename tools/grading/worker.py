"""Grade one notebook: prepare it, run it in a sandboxed kernel (nbgrader's Execute), judge the probes.

Used in-process (``grade``) or as a long-lived worker process (``python -m``-free: run this file;
it reads one JSON task per line on stdin and answers one JSON result per line), so a class is
graded by a few workers that each import nbgrader once and only start a sandboxed kernel per
notebook. A task: {student, assignment, notebook, submission, source, seed, executed, timeout,
slot, unsafe, workdir}. A result: {questions: [...], notes: [...], answer_errors: [...], seconds}.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import nbformat

if __package__ in (None, ""):                      # run as a script: tools/ is sys.path[0]'s parent
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "grading"

from . import notebook as nbmod            # noqa: E402
from . import sandbox, spec, student_package  # noqa: E402

MAX_OUTPUT = 2 * 2**20          # bytes of output kept per notebook (the rest is dropped, noted)
SKIP = {"grading.py", "__pycache__"}
_specs: dict[str, spec.Spec] = {}
_packages: dict[str, Path] = {}


def _execute_class():
    from nbgrader.preprocessors import Execute

    class SandboxedExecute(Execute):
        """nbgrader's Execute (an error reply becomes an error output) with an output budget."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.started: set[int] = set()
            self.output_bytes = 0
            self.dropped = 0

        def preprocess_cell(self, cell, resources, index):
            self.started.add(index)
            return super().preprocess_cell(cell, resources, index)

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            if self.output_bytes + size > MAX_OUTPUT and msg.get("msg_type") != "error":
                self.dropped += size
                return None
            self.output_bytes += size
            return super().output(outs, msg, display_id, cell_index)

    return SandboxedExecute


def _spec(source: Path) -> spec.Spec:
    key = str(source)
    if key not in _specs:
        _specs[key] = spec.load(source)
    return _specs[key]


def _student_package(allowed: dict, base: Path) -> Path:
    key = student_package.key(allowed)
    if key not in _packages:
        _packages[key] = student_package.build(sandbox.package_dir(), allowed, base / f"pkg-{key}")
    return _packages[key]


def zero(source_nb, message: str, status: str = "not run") -> list[dict]:
    return [{"grade_id": nbmod.meta(c)["grade_id"], "max_points": float(nbmod.meta(c).get("points", 0)),
             "points": 0.0, "status": status, "message": message}
            for c in source_nb.cells if nbmod.meta(c).get("grade")]


def grade(task: dict) -> dict:
    """Grade one submission; never raises for a bad submission (zero points with a note)."""
    t0 = time.monotonic()
    source = Path(task["source"])
    src_path = source / task["notebook"]
    source_nb = nbformat.read(src_path, as_version=4)
    result = {"notes": [], "answer_errors": [], "questions": zero(source_nb, "not run")}
    sub = task.get("submission")
    if not sub or not Path(sub).exists():
        result["questions"] = zero(source_nb, "not submitted")
        result["notes"].append(f"{task['notebook']} was not submitted")
        return result
    try:
        sub_nb = nbformat.read(sub, as_version=4)
        nbformat.validate(sub_nb)
    except Exception as err:
        result["questions"] = zero(source_nb, "the file is not a notebook")
        result["notes"].append(f"{task['notebook']} could not be read as a notebook (not valid notebook JSON: "
                               f"{type(err).__name__}: {str(err)[:200]}); every question of it scores zero")
        return result
    try:
        result.update(_grade(task, source, source_nb, sub_nb))
    except Exception as err:       # a grader bug must not stop the class: zero with a note
        result["questions"] = zero(source_nb, "could not be graded")
        result["notes"].append(f"{task['notebook']} could not be graded ({type(err).__name__}: {str(err)[:300]}); "
                               "tell the instructor")
    result["seconds"] = round(time.monotonic() - t0, 2)
    return result


def _grade(task: dict, source: Path, source_nb, sub_nb) -> dict:
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import LimitOutput
    checks = _spec(source)
    seed = int(task["seed"])
    cases, probes = {}, {}
    for gid, test in checks.tests.items():
        cases[gid] = spec.cases(test, seed)
        probes[gid] = nbmod.probe(gid, test.call, json.dumps(spec.encode(cases[gid])))
    nb, notes = nbmod.prepare(source_nb, sub_nb, probes)
    base = Path(task["workdir"])
    box = sandbox.Sandbox(int(task.get("slot", 0)), base / "work", base / "s", _student_package(checks.student_package, base),
                          sandbox.Limits(), unsafe=bool(task.get("unsafe")))
    sandbox.prepare_folders(box)
    for f in sorted(source.iterdir()):       # the assignment's released files (selfcheck.py, data)
        if f.name not in SKIP and f.suffix != ".ipynb" and not f.name.startswith("."):
            (shutil.copytree if f.is_dir() else shutil.copyfile)(f, box.work / f.name)
            if not box.unsafe:
                os.chown(box.work / f.name, box.uid, box.uid)
    timeout = int(task.get("timeout", 30))
    ex = _execute_class()(timeout=timeout, interrupt_on_timeout=True, raise_on_iopub_timeout=False,
                          allow_errors=True, record_timing=False, iopub_timeout=5, shutdown_kernel="immediate",
                          startup_timeout=60)
    km = sandbox.make_kernel_manager(box)
    deadline = float(task.get("notebook_timeout", max(120, 6 * timeout)))
    killed = threading.Event()

    def watchdog():
        if not done.wait(deadline):
            killed.set()
            sandbox.kill_slot(box.slot)
            try:
                if km.provisioner and km.provisioner.process:
                    km.provisioner.process.kill()
            except Exception:
                pass

    done = threading.Event()
    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    died = None
    try:
        ex.preprocess(nb, {"metadata": {"path": str(box.work)}}, km=km)
    except DeadKernelError:
        died = "killed after the notebook's time limit" if killed.is_set() else "died (crashed)"
    except Exception as err:
        died = f"could not run ({type(err).__name__}: {str(err)[:200]})"
    finally:
        done.set()
        dog.join()
        try:
            if km.has_kernel:
                from jupyter_core.utils import run_sync
                run_sync(km.shutdown_kernel)(now=True)
        except Exception:
            pass
        try:      # nbclient stops the client only of a manager it made itself: left running, each
            if getattr(ex, "kc", None) is not None:   # notebook's heartbeat thread, zmq context
                ex.kc.stop_channels()                 # (2 threads) and sockets stay for good
        except Exception:
            pass
        sandbox.kill_slot(box.slot)
        if km.kernel_log is not None:
            km.kernel_log.close()
    kernel_cpu = sandbox.cpu_seconds(box.slot)
    last = max(ex.started) if ex.started else -1
    if died:
        cell = nb.cells[last] if 0 <= last < len(nb.cells) else None
        gid = nbmod.meta(cell).get("grade_id") if cell is not None else None
        notes.append(f"the Python kernel {died} while running cell {last + 1}"
                     + (f" (grade_id {gid!r})" if gid else "") + "; the cells after it were not run and score zero")
    if ex.dropped:
        notes.append(f"the notebook printed more than {MAX_OUTPUT // 2**20} MB; {ex.dropped} bytes of output were dropped")
    questions = []
    by_id = {}
    for index, cell in enumerate(nb.cells):
        gid = nbmod.meta(cell).get("grade_id")
        if gid in checks.tests and nbmod.is_test(cell):
            by_id[gid] = (index, cell)
    own = {nbmod.meta(c).get("grade_id") for c in source_nb.cells if nbmod.meta(c).get("solution")}
    for src in source_nb.cells:
        m = nbmod.meta(src)
        if not m.get("grade"):
            continue
        q = {"grade_id": m["grade_id"], "max_points": float(m["points"]), "points": 0.0, "status": "failed",
             "message": ""}
        questions.append(q)
        if m.get("solution"):
            q["status"], q["message"] = "manual", "graded by hand"
            continue
        test = checks.tests.get(m["grade_id"])
        index, cell = by_id.get(m["grade_id"], (None, None))
        if test is None or cell is None:
            q["status"], q["message"] = "not run", "no check for this test (tell the instructor)"
            continue
        if index not in ex.started or (died and index >= last and not cell.outputs):
            q["status"], q["message"] = "not run", f"not run: the kernel {died or 'stopped'} before this test"
            continue
        sent = nbmod.payload(cell, m["grade_id"])
        if sent is None:
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            why = (f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:300] if errors else "nothing was sent")
            timed_out = any(o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt") for o in errors)
            q["status"] = "timeout" if timed_out else "failed"
            q["message"] = ("did not finish within the time limit" if timed_out
                            else f"the test could not collect your answers ({why})")
            continue
        results = sent["results"]
        verdicts = []
        for k, case in enumerate(cases[m["grade_id"]]):
            if k >= len(results):
                verdicts.append((False, "no answer for this input (interrupted?)", case))
                continue
            try:
                ok, msg = spec.judge(test, case, results[k])
            except Exception as err:
                ok, msg = False, f"your answer could not be checked ({type(err).__name__}: {str(err)[:200]})"
            verdicts.append((ok, msg, case))
        failed = [(msg, case) for ok, msg, case in verdicts if not ok]
        if not failed:
            q["points"], q["status"] = q["max_points"], "passed"
            q["message"] = next((msg for ok, msg, _ in verdicts if msg), "")
        else:
            msg, case = failed[0]
            q["status"] = "timeout" if "time limit" in msg else "failed"
            q["message"] = msg if msg.startswith("not answered") else \
                f"{msg} (on inputs {spec.describe(case)}; {len(failed)} of {len(verdicts)} inputs wrong)"
    answer_errors, restored_ids = [], {nbmod.meta(c).get("grade_id") for c in source_nb.cells if nbmod.is_restored(c)}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or nbmod.meta(cell).get("grade_id") in restored_ids:
            continue
        label = nbmod.meta(cell).get("grade_id") or f"cell {index + 1}"
        for o in cell.outputs:
            if o.get("output_type") == "error" and o.get("ename") != "NotImplementedError":
                answer_errors.append(f"{label}: {o.get('ename')}: {str(o.get('evalue'))[:300]}")
        words = nbmod.scan(cell.source, own)
        if words:
            notes.append(f"{label} refers to the course's reference implementation ({', '.join(words)}): those "
                         "are not available while grading; answers must compute the result themselves")
    if task.get("executed"):
        try:
            out_nb, _ = LimitOutput().preprocess(nb, {})
            path = Path(task["executed"])
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(out_nb, path)
        except Exception as err:
            notes.append(f"the executed copy could not be saved ({type(err).__name__}: {err})")
    return {"questions": questions, "notes": notes, "answer_errors": answer_errors,
            **({"kernel_cpu_s": round(kernel_cpu, 3)} if kernel_cpu is not None else {})}


def main() -> int:
    """Worker loop: one JSON task per stdin line -> one JSON result per line on the original stdout."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                        # anything else printed goes to stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        res = grade(task)
        out.write(json.dumps({"id": task.get("id"), "result": res}) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
