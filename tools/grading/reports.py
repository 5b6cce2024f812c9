"""Reports written from the whole gradebook (so a partial run never loses another assignment's).

OUT/scores.csv          student, assignment, score, max_score
OUT/questions.csv       one row per student and test: points, status, message, seed
OUT/grades_lms.csv      Canvas's gradebook-import columns (Student, ID, SIS User ID, SIS Login ID,
                        Section, one column per assignment); Moodle imports it too (map "ID" or
                        "SIS Login ID" to the user field that holds the student key)
OUT/feedback/<student>.html, .json   per question: points and the reason
"""
from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path


def _g(x: float) -> str:
    return f"{x:g}"


def write(rows: list[dict], intake_notes: dict[str, list[str]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[dict]] = {}
    for r in rows:
        by_student.setdefault(r["student"], []).append(r)
    assignments = sorted({r["assignment"] for r in rows})
    totals = {}
    for s, rs in by_student.items():
        for r in rs:
            t = totals.setdefault((s, r["assignment"]), [0.0, 0.0])
            t[0] += r["score"]
            t[1] += r["max_score"]
    _atomic_csv(out / "scores.csv", ["student", "assignment", "score", "max_score"],
                [[s, a, _g(sc), _g(mx)] for (s, a), (sc, mx) in sorted(totals.items())])
    _atomic_csv(out / "questions.csv",
                ["student", "assignment", "notebook", "grade_id", "points", "max_points", "status", "message", "seed"],
                [[r["student"], r["assignment"], r["notebook"], q["grade_id"], _g(q["points"]), _g(q["max_points"]),
                  q["status"], q["message"], r["seed"]] for r in rows for q in r["questions"]])
    maxima = {a: max((mx for (s, aa), (_, mx) in totals.items() if aa == a), default=0) for a in assignments}
    lms = []
    for s in sorted(by_student):
        uid = re.search(r"_(\d+)$", s)
        lms.append([s, uid.group(1) if uid else s, "", s, ""] +
                   [_g(totals[(s, a)][0]) if (s, a) in totals else "" for a in assignments])
    _atomic_csv(out / "grades_lms.csv", ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] +
                [f"{a} ({_g(maxima[a])} points)" for a in assignments],
                [["Points Possible", "", "", "", ""] + [_g(maxima[a]) for a in assignments]] + lms)
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    for s, rs in by_student.items():
        data = {"student": s, "score": sum(r["score"] for r in rs), "max_score": sum(r["max_score"] for r in rs),
                "notes": intake_notes.get(s, []), "notebooks": rs}
        _atomic_text(fb / f"{s}.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        _atomic_text(fb / f"{s}.html", feedback_html(s, rs, intake_notes.get(s, [])))


def feedback_html(student: str, rs: list[dict], notes: list[str]) -> str:
    e = html.escape
    score, mx = sum(r["score"] for r in rs), sum(r["max_score"] for r in rs)
    parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>Feedback for {e(student)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:auto;padding:1rem;line-height:1.5}"
             "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem;text-align:left;"
             "vertical-align:top}.passed{color:#075e07}.failed,.timeout,.not-run{color:#8b0000}</style></head><body>",
             f"<h1>Feedback for {e(student)}</h1>", f"<p>Total: <strong>{_g(score)} / {_g(mx)}</strong> points</p>"]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for r in rs:
        parts.append(f"<h2>{e(r['assignment'])}/{e(r['notebook'])}: {_g(r['score'])} / {_g(r['max_score'])}</h2>")
        if r.get("notes"):
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in r["notes"]) + "</ul>")
        parts.append("<table><tr><th>test</th><th>points</th><th>result</th></tr>")
        for q in r["questions"]:
            cls = q["status"].replace(" ", "-")
            msg = f" — {e(q['message'])}" if q["message"] else ""
            parts.append(f"<tr><td><code>{e(q['grade_id'])}</code></td><td>{_g(q['points'])} / "
                         f"{_g(q['max_points'])}</td><td class=\"{cls}\">{e(q['status'])}{msg}</td></tr>")
        parts.append("</table>")
        if r.get("answer_errors"):
            parts.append("<p>Errors raised by your cells:</p><ul>"
                         + "".join(f"<li><code>{e(x)}</code></li>" for x in r["answer_errors"]) + "</ul>")
        parts.append(f"<p><small>Fresh inputs drawn with seed {e(str(r['seed']))}.</small></p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _atomic_csv(path: Path, header: list[str], rows: list[list]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    tmp.replace(path)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
