"""Pairs of students whose answers are suspiciously alike: OUT/similarity.csv.

Two signals, one row per pair and assignment (columns ``assignment, student_a, student_b,
similarity, reason``, the most similar first):

* **code alike**: the code a student wrote (every code cell but the read-only and test cells the
  grader restores) is fingerprinted with copydetect (winnowing of k-grams of the token stream
  with names and comments filtered out, as MOSS does); the skeleton every student received (the
  released answer cells of every variant) is boilerplate and does not count. ``similarity`` is
  the larger of the two shares of a pair's code found in the other's (copydetect's
  per-file similarity); a pair at or above THRESHOLD is listed.
* **another's variant**: a submission whose answers were right for another variant and wrong for
  its own (worker.fits_other) is paired with every student who has that variant and answered
  right what it got wrong (a possible source); the row says so (its similarity is the pair's code
  similarity, however low).

A row is a reason to look, not a verdict: short answers to the same question are alike by
nature, and two students may share a variant by chance (book/instructor_guide.md).
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import nbformat

from . import notebook as nbmod
from . import variants

THRESHOLD = 0.6  # the share of one's code found in the other's (see the instructor guide)
K, WINDOW = 25, 1  # copydetect: k-gram length (filtered characters), winnowing window
COLUMNS = ["assignment", "student_a", "student_b", "similarity", "reason"]


def own_code(nb, source_nb) -> str:
    """The code cells of a submission that are the student's (not restored from the source)."""
    restored = {nbmod.meta(c).get("grade_id") for c in source_nb.cells if nbmod.is_restored(c)}
    return "\n\n".join(
        c.source
        for c in nb.cells
        if c.cell_type == "code"
        and (nbmod.meta(c).get("grade_id") not in restored or not nbmod.meta(c).get("grade_id"))
    )


def _skeleton(folder: Path, notebook: str) -> str:
    """The answer cells as released (every variant): code every student starts from."""
    from nbgrader.preprocessors import ClearSolutions

    parts = []
    for v in variants.all_variants(folder):
        nb, _ = ClearSolutions().preprocess(
            variants.render(nbformat.read(folder / notebook, as_version=4), v), {}
        )
        parts += [c.source for c in nb.cells if c.cell_type == "code" and nbmod.meta(c).get("solution")]
    return "\n\n".join(parts)


def answers(found, nbs: dict, source: Path, assignments: list[str]) -> dict[str, dict]:
    """{assignment: {"code": {student: text}, "skeleton": text}} of every submitted notebook."""
    out = {}
    for a in assignments:
        code, skeleton = {}, []
        for nb_name in nbs[a]:
            source_nb = nbformat.read(source / a / nb_name, as_version=4)
            skeleton.append(_skeleton(source / a, nb_name))
            for student in sorted(found.students):
                cand, _ = found.chosen(student, a, nb_name)
                if cand is None:
                    continue
                try:
                    sub = nbformat.reads(cand.data.decode("utf-8", "replace"), as_version=4)
                except Exception:
                    continue
                code[student] = code.get(student, "") + own_code(sub, source_nb) + "\n\n"
        out[a] = {"code": code, "skeleton": "\n\n".join(skeleton)}
    return out


def _fingerprint(text: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint(
        "answer.py", K, WINDOW, boilerplate=boilerplate, filter=True, language="python", fp=io.StringIO(text)
    )


def code_pairs(code: dict[str, str], skeleton: str) -> dict[tuple[str, str], float]:
    """{(a, b): similarity} for every pair of students with code of their own (a < b)."""
    from copydetect import compare_files

    boiler = list(_fingerprint(skeleton).hashes) if skeleton.strip() else None
    prints = {s: _fingerprint(t, boiler) for s, t in code.items()}
    prints = {s: p for s, p in prints.items() if p.token_coverage > 0}  # nothing of their own: no pair
    out = {}
    for a, b in itertools.combinations(sorted(prints), 2):
        _, (sa, sb), _ = compare_files(prints[a], prints[b])
        out[a, b] = float(max(sa, sb))
    return out


def variant_pairs(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    """(assignment, copier, other, variant): a submission that fits ``variant``, with each student who
    has that variant and whose answers passed the tests the copier's failed (a possible source)."""
    has: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("variant"):
            has.setdefault((r["assignment"], r["variant"]), []).append(r)
    out = []
    for r in rows:
        if not r.get("fits_variant"):
            continue
        failed = {q["grade_id"] for q in r["questions"] if q["status"] == "failed"}
        for other in has.get((r["assignment"], r["fits_variant"]), []):
            passed = {q["grade_id"] for q in other["questions"] if q["status"] == "passed"}
            if other["student"] != r["student"] and failed <= passed:
                out.append((r["assignment"], r["student"], other["student"], r["fits_variant"]))
    return sorted(set(out))


def table(answers_: dict[str, dict], rows: list[dict]) -> list[list]:
    """The rows of similarity.csv, the most similar first."""
    found: dict[tuple, dict] = {}
    sims = {a: code_pairs(d["code"], d["skeleton"]) for a, d in answers_.items()}
    for a, pairs in sims.items():
        for (x, y), sim in pairs.items():
            if sim >= THRESHOLD:
                found[a, x, y] = {
                    "sim": sim,
                    "reasons": [
                        f"code alike: {sim:.0%} of one's answer code is in "
                        "the other's (copydetect fingerprints)"
                    ],
                }
    for a, copier, other, vname in variant_pairs(rows):
        x, y = sorted((copier, other))
        entry = found.setdefault((a, x, y), {"sim": sims.get(a, {}).get((x, y), 0.0), "reasons": []})
        entry["reasons"].insert(
            0, f"{copier}'s answers are right for {other}'s variant '{vname}' and wrong for {copier}'s own"
        )
    ordered = sorted(found.items(), key=lambda kv: (-kv[1]["sim"], kv[0]))
    return [[a, x, y, f"{e['sim']:.3f}", "; ".join(e["reasons"])] for (a, x, y), e in ordered]


def write(answers_: dict[str, dict], rows: list[dict], path: Path) -> list[list]:
    """Write OUT/similarity.csv (atomically); returns its rows."""
    out = table(answers_, rows)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(out)
    tmp.replace(path)
    return out
