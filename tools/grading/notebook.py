"""The notebook that is run: the submission with read-only cells restored and tests replaced by probes.

nbgrader's ClearOutput clears the submission; every read-only cell (setup, text) and every test
cell is taken from the instructor source by grade_id (what nbgrader's OverwriteCells does with
its gradebook), a deleted one is put back after the source cell before it; the student's own
cells keep their order. A duplicated answer cell is kept (both run; the later definition wins)
and noted; a duplicated read-only or test cell is dropped. Each test cell becomes a *probe*:
code that evaluates the test's ``call`` on the grader's fresh cases and displays the answers
(mime type MIME) for the grader to judge.
"""
from __future__ import annotations

import json
import re

import nbformat

MIME = "application/vnd.backprop.grading+json"

PROBE = '''# Graded outside this kernel on inputs you have not seen ({grade_id}).
def _grader_probe(cases_json, call, grade_id):
    import base64, json
    import numpy
    from IPython.display import display

    def dec(e):
        if "nd" in e:
            raw = base64.b64decode(e["b64"])
            a = numpy.frombuffer(raw, dtype=numpy.dtype(e["nd"]))
            return a.reshape(e["shape"]).copy()
        if "dict" in e:
            return {{k: dec(v) for k, v in e["dict"].items()}}
        if "list" in e:
            return [dec(v) for v in e["list"]]
        return e["py"]

    def enc(v, depth=0):
        if isinstance(v, dict) and depth < 3:
            return {{"dict": {{str(k): enc(x, depth + 1) for k, x in v.items()}}}}
        try:
            a = numpy.asarray(v, dtype=numpy.float64)
        except Exception as err:
            return {{"bad": f"{{type(v).__name__}} ({{type(err).__name__}}: {{err}})"[:300]}}
        if a.size > {max_entries}:
            return {{"bad": f"an array of {{a.size}} numbers is too large"}}
        return {{"nd": "<f8", "shape": list(a.shape),
                "b64": base64.b64encode(a.astype("<f8").tobytes()).decode()}}

    out = []
    for case in dec(json.loads(cases_json)):
        env = dict(globals())
        env.update(case)
        try:
            out.append({{"ok": enc(eval(call, env))}})
        except BaseException as err:   # KeyboardInterrupt = time limit
            try:
                message = str(err)[:500]
            except BaseException:
                message = "?"
            out.append({{"raised": type(err).__name__, "message": message}})
            if isinstance(err, KeyboardInterrupt):
                break
    payload = {{"grade_id": grade_id, "results": out}}
    display({{"{mime}": payload, "text/plain": "answers sent to the grader"}},
            raw=True)


_grader_probe({cases_json!r},
              {call!r}, {grade_id!r})
del _grader_probe
'''


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell) -> bool:
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution")


def is_restored(cell) -> bool:
    """Cells taken from the source: tests and read-only (locked) cells that are not answers."""
    m = meta(cell)
    return bool(m.get("grade_id")) and not m.get("solution") and bool(m.get("grade") or m.get("locked"))


def probe(grade_id: str, call: str, cases_json: str) -> str:
    from .spec import MAX_ENTRIES
    return PROBE.format(grade_id=grade_id, call=call, cases_json=cases_json, mime=MIME, max_entries=MAX_ENTRIES)


def prepare(source_nb, submission_nb, probes: dict[str, str]) -> tuple:
    """(notebook to run, notes). ``probes``: {test grade_id: probe source}. Arguments unchanged."""
    from nbgrader.preprocessors import ClearOutput
    nb = nbformat.from_dict(submission_nb)
    nb, _ = ClearOutput().preprocess(nb, {})
    originals = {meta(c)["grade_id"]: c for c in source_nb.cells if is_restored(c)}
    answers = {meta(c)["grade_id"] for c in source_nb.cells if meta(c).get("solution") and meta(c).get("grade_id")}
    notes, cells, seen = [], [], {}

    def restored(src):
        cell = nbformat.from_dict(dict(src))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            gid = meta(cell).get("grade_id")
            if gid in probes:
                cell.source = probes[gid]
        return cell

    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if gid in originals:
            if gid in seen:
                notes.append(f"the read-only cell {gid!r} appears twice; the copy was removed")
                continue
            seen[gid] = True
            cells.append(restored(originals[gid]))
        elif gid in answers:
            if gid in seen:
                notes.append(f"the answer cell {gid!r} appears twice; both ran in order (the later one counts)")
            seen[gid] = True
            cells.append(cell)
        else:
            if gid and meta(cell).get("grade"):
                cell.metadata["nbgrader"] = {**meta(cell), "grade": False}
                notes.append(f"a cell with the unknown grade_id {gid!r} is not graded")
            cells.append(cell)
    # put back the read-only and test cells the submission lacks, after their source predecessor
    order = [meta(c).get("grade_id") for c in source_nb.cells]
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
        cells.insert(at, restored(src))
        seen[gid] = True
        if is_test(src):
            notes.append(f"the test cell {gid!r} was missing and was put back")
        elif src.cell_type == "code":
            notes.append(f"the read-only cell {gid!r} was missing or changed type and was restored")
    for gid in sorted(answers - set(seen)):
        notes.append(f"the answer cell {gid!r} is missing (its function may still be defined elsewhere)")
    nb.cells = cells
    nb.metadata["kernelspec"] = source_nb.metadata.get(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb, notes


def payload(cell, grade_id: str) -> dict | None:
    """The answers a probe cell displayed (the last one carrying its grade_id), or None."""
    found = None
    for out in cell.get("outputs", []):
        data = out.get("data", {}) if out.get("output_type") in ("display_data", "execute_result") else {}
        p = data.get(MIME)
        if isinstance(p, str):
            try:
                p = json.loads(p)
            except ValueError:
                p = None
        if isinstance(p, dict) and p.get("grade_id") == grade_id and isinstance(p.get("results"), list):
            found = p
    return found


REFERENCE_WORDS = re.compile(r"\b(subscript|jacobian|differential|checking|numerical_gradient|gradcheck|"
                             r"diagnose|mlp|MLP|engine|gradients|importlib|__import__|grad_W|seed_mistakes)\b")


def scan(cell_source: str, own_names: set[str]) -> list[str]:
    """Words of an answer cell that point at the course's reference (a hint for the feedback)."""
    code = "\n".join(line.split("#", 1)[0] for line in cell_source.split("\n"))
    hits = set()
    for line in code.split("\n"):
        if re.search(r"\b(import|from)\b|backprop|\.gradients\(|__import__|importlib", line):
            hits |= {m for m in REFERENCE_WORDS.findall(line)} - own_names
    return sorted(hits)
