"""The notebook that is run, and the copy of it that is kept.

``prepare``: nbgrader's ClearOutput clears the submission; every read-only cell (setup, text) and
every test cell is taken from the instructor source by grade_id (what nbgrader's OverwriteCells
does with its gradebook), a deleted one is put back after the source cell before it; the student's
own cells keep their order. A duplicated answer cell is kept (both run; the later definition
wins) and noted; a duplicated read-only or test cell is dropped. Each test cell becomes a *probe*
(kernel/probe.py), which calls the student's function on the grader's fresh inputs and displays
the answers (MIME) for the grader to judge; a memory test gets one probe cell per input.

``kept_copy``: the executed notebook as the student or a TA may read it: each test cell shows
the test as written in the source and its result in words; the probes, their inputs, the
answers they sent and whatever the functions printed while graded are not in it.
"""

from __future__ import annotations

import json
import re

import nbformat

from .kernel.probe import MIME

CASE_KEY = "grading_case"  # cell metadata: which input a memory test's probe cell runs


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell) -> bool:
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution")


def is_restored(cell) -> bool:
    """Cells taken from the source: tests and read-only (locked) cells that are not answers."""
    m = meta(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and bool(m.get("grade") or m.get("locked"))


def probe_sources(grade_id: str, call: str, per_case: int | None = None) -> list[str]:
    """The code of a test's probe cell(s): one, or one per input when ``per_case`` inputs are
    measured separately."""
    head = (
        f"# {grade_id}: graded outside this kernel on inputs you have not seen\n"
        "from selfcheck.probe import send_answers\n"
    )
    if per_case is None:
        return [head + f"send_answers({grade_id!r}, {call!r}, globals())\n"]
    return [head + f"send_answers({grade_id!r}, {call!r}, globals(), case={k})\n" for k in range(per_case)]


def description(cell) -> str:
    """What a test cell tests, in words: its leading comment lines ("# graded on ...: G has the
    shape of W" -> "G has the shape of W")."""
    words = []
    for line in cell.source.split("\n"):
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = " ".join(words)
    return re.sub(r"^graded on [^:]*:\s*", "", text).strip()


def _restored(src, probes: dict[str, list[str]]) -> list:
    cell = nbformat.from_dict(dict(src))
    if cell.cell_type != "code":
        return [cell]
    cell.outputs, cell.execution_count = [], None
    sources = probes.get(meta(cell).get("grade_id"))
    if not sources:
        return [cell]
    cells = []
    for k, code in enumerate(sources):
        c = nbformat.from_dict(dict(cell))
        c.metadata = nbformat.from_dict({**cell.metadata, **({CASE_KEY: k} if len(sources) > 1 else {})})
        c.source, c["id"] = code, f"{cell.get('id', 'test')}-{k}" if k else cell.get("id", "test")
        cells.append(c)
    return cells


def _merge(nb, originals: dict, answers: set, probes: dict) -> tuple[list, list, set]:
    """The submission's cells with read-only and test cells restored: (cells, notes, seen ids)."""
    notes, cells, seen = [], [], set()
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if gid in originals:
            if gid in seen:
                notes.append(f"the read-only cell {gid!r} appears twice; the copy was removed")
                continue
            cells += _restored(originals[gid], probes)
        elif gid in answers:
            if gid in seen:
                notes.append(
                    f"the answer cell {gid!r} appears twice; both ran in order (the later one counts)"
                )
            cells.append(cell)
        else:
            if gid and meta(cell).get("grade"):
                cell.metadata["nbgrader"] = {**meta(cell), "grade": False}
                notes.append(f"a cell with the unknown grade_id {gid!r} is not graded")
            cells.append(cell)
        seen.add(gid)
    return cells, notes, seen


def _put_back(source_nb, cells: list, originals: dict, seen: set, probes: dict) -> list[str]:
    """Insert the read-only and test cells the submission lacks after their source predecessor."""
    notes, order = [], [meta(c).get("grade_id") for c in source_nb.cells]
    for k, src in enumerate(source_nb.cells):
        gid = meta(src).get("grade_id")
        if gid not in originals or gid in seen:
            continue
        at = 0
        for prev in reversed(order[:k]):
            idx = [i for i, c in enumerate(cells) if prev and meta(c).get("grade_id") == prev]
            if idx:
                at = idx[-1] + 1
                break
        cells[at:at] = _restored(src, probes)
        seen.add(gid)
        if is_test(src):
            notes.append(f"the test cell {gid!r} was missing and was put back")
        elif src.cell_type == "code":
            notes.append(f"the read-only cell {gid!r} was missing or changed type and was restored")
    return notes


def prepare(source_nb, submission_nb, probes: dict[str, list[str]]) -> tuple:
    """(notebook to run, notes). ``probes``: {test grade_id: probe cell sources}. Arguments unchanged."""
    from nbgrader.preprocessors import ClearOutput

    nb = nbformat.from_dict(submission_nb)
    nb, _ = ClearOutput().preprocess(nb, {})
    originals = {meta(c)["grade_id"]: c for c in source_nb.cells if is_restored(c)}
    answers = {
        meta(c)["grade_id"] for c in source_nb.cells if meta(c).get("solution") and meta(c).get("grade_id")
    }
    cells, notes, seen = _merge(nb, originals, answers, probes)
    notes += _put_back(source_nb, cells, originals, seen, probes)
    notes += [
        f"the answer cell {gid!r} is missing (its function may still be defined elsewhere)"
        for gid in sorted(answers - seen)
    ]
    nb.cells = cells
    nb.metadata["kernelspec"] = source_nb.metadata.get(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    return nb, notes


def payloads(cell, grade_id: str) -> list[dict]:
    """The answers a probe cell displayed for ``grade_id`` (the last such output counts)."""
    found = []
    for out in cell.get("outputs", []):
        data = out.get("data", {}) if out.get("output_type") in ("display_data", "execute_result") else {}
        p = data.get(MIME)
        if isinstance(p, str):
            try:
                p = json.loads(p)
            except ValueError:
                p = None
        if isinstance(p, dict) and p.get("grade_id") == grade_id and isinstance(p.get("results"), list):
            found = p["results"]
    return found


def kept_copy(nb, source_nb, questions: list[dict]):
    """The executed notebook as kept: test cells in words with their results (see module doc)."""
    tests = {meta(c)["grade_id"]: c for c in source_nb.cells if is_test(c)}
    results = {q["grade_id"]: q for q in questions}
    out = nbformat.from_dict(nb)
    cells = []
    for cell in out.cells:
        gid = meta(cell).get("grade_id")
        if gid in tests and cell.metadata.get(CASE_KEY, 0):
            continue  # a memory test's further probe cells
        if gid in tests:
            cell = nbformat.from_dict(dict(tests[gid]))
            cell.execution_count = None
            q = results.get(gid, {})
            line = (
                f"{gid}: {q.get('points', 0):g} / {q.get('max_points', 0):g} — {q.get('status', 'not run')}"
                + (f" — {q['message']}" if q.get("message") else "")
            )
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
        elif cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if MIME not in o.get("data", {})]
        cells.append(cell)
    out.cells = cells
    return out


REFERENCE_WORDS = re.compile(
    r"\b(subscript|jacobian|differential|checking|numerical_gradient|gradcheck|"
    r"diagnose|mlp|MLP|engine|gradients|importlib|__import__|grad_W|seed_mistakes)\b"
)


def scan(cell_source: str, own_names: set[str]) -> list[str]:
    """Words of an answer cell that point at the course's reference (a hint for the feedback)."""
    code = "\n".join(line.split("#", 1)[0] for line in cell_source.split("\n"))
    hits = set()
    for line in code.split("\n"):
        if re.search(r"\b(import|from)\b|backprop|\.gradients\(|__import__|importlib", line):
            hits |= {m for m in REFERENCE_WORDS.findall(line)} - own_names
    return sorted(hits)
