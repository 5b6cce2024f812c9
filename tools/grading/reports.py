"""Reports written from the whole gradebook (so a partial run never loses another assignment's).

OUT/scores.csv          student, assignment, score, max_score (student = the key)
OUT/students.csv        key, name (as received), origin, Canvas user id, Moodle participant id
OUT/questions.csv       one row per student and test: what it tests, points, status, message
OUT/grades_lms.csv      Canvas's gradebook-import columns (Student, ID, SIS User ID, SIS Login ID,
                        Section, one column per assignment): ID is the Canvas user id as it came in
                        the bulk download (empty for students who did not come from Canvas), SIS
                        Login ID the student's folder name for nbgrader's layout
OUT/grades_moodle_<assignment>.csv   Moodle's grading worksheet (Identifier "Participant <id>",
                        Full name, Grade, Maximum Grade) for the students of a Moodle download
OUT/feedback/<key>.html, .json      per question: what it tests, points, and the reason
No report holds a seed or an input: those stay in the gradebook.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path


def _g(x: float) -> str:
    return f"{x:g}"


def write(rows: list[dict], students: dict[str, dict], notes: dict[str, list[str]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[dict]] = {}
    for r in rows:
        by_student.setdefault(r["student"], []).append(r)
    totals: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        t = totals.setdefault((r["student"], r["assignment"]), [0.0, 0.0])
        t[0] += r["score"]
        t[1] += r["max_score"]
    _atomic_csv(
        out / "scores.csv",
        ["student", "assignment", "score", "max_score"],
        [[s, a, _g(sc), _g(mx)] for (s, a), (sc, mx) in sorted(totals.items())],
    )
    _atomic_csv(
        out / "students.csv",
        ["key", "name", "origin", "canvas_user_id", "moodle_participant_id"],
        [
            [
                k,
                v["name"],
                v["origin"],
                v["lms"].get("canvas_user_id", ""),
                v["lms"].get("moodle_participant_id", ""),
            ]
            for k, v in sorted(students.items())
        ],
    )
    _atomic_csv(
        out / "questions.csv",
        [
            "student",
            "assignment",
            "notebook",
            "grade_id",
            "tests",
            "points",
            "max_points",
            "status",
            "message",
        ],
        [
            [
                r["student"],
                r["assignment"],
                r["notebook"],
                q["grade_id"],
                q.get("description", ""),
                _g(q["points"]),
                _g(q["max_points"]),
                q["status"],
                q["message"],
            ]
            for r in rows
            for q in r["questions"]
        ],
    )
    _lms(totals, students, out)
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    for s, rs in by_student.items():
        person = students.get(s, {"key": s, "name": s})
        rs = [{k: v for k, v in r.items() if k not in ("executed", "seed")} for r in rs]
        data = {
            "student": s,
            "name": person["name"],
            "score": sum(r["score"] for r in rs),
            "max_score": sum(r["max_score"] for r in rs),
            "notes": notes.get(s, []),
            "notebooks": rs,
        }
        _atomic_text(fb / f"{s}.json", json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        _atomic_text(fb / f"{s}.html", feedback_html(person, rs, notes.get(s, [])))


def _lms(totals: dict, students: dict[str, dict], out: Path) -> None:
    assignments = sorted({a for _, a in totals})
    maxima = {a: max((mx for (s, aa), (_, mx) in totals.items() if aa == a), default=0) for a in assignments}
    keys = sorted({s for s, _ in totals})
    lms = []
    for s in keys:
        person = students.get(s, {"name": s, "lms": {}, "origin": ""})
        canvas = person["lms"].get("canvas_user_id", "")
        login = person["name"] if not person["lms"] else ""  # a folder's name: nbgrader's student id
        lms.append(
            [person["name"], canvas, "", login, ""]
            + [_g(totals[(s, a)][0]) if (s, a) in totals else "" for a in assignments]
        )
    _atomic_csv(
        out / "grades_lms.csv",
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        + [f"{a} ({_g(maxima[a])} points)" for a in assignments],
        [["Points Possible", "", "", "", ""] + [_g(maxima[a]) for a in assignments]] + lms,
    )
    for a in assignments:
        moodle = [
            (students[s], totals[(s, a)])
            for s in keys
            if (s, a) in totals and students.get(s, {}).get("lms", {}).get("moodle_participant_id")
        ]
        if moodle:
            _atomic_csv(
                out / f"grades_moodle_{a}.csv",
                ["Identifier", "Full name", "Grade", "Maximum Grade"],
                [
                    [f"Participant {p['lms']['moodle_participant_id']}", p["name"], _g(sc), _g(mx)]
                    for p, (sc, mx) in moodle
                ],
            )


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:auto;padding:1rem;line-height:1.5}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3rem;text-align:left;"
    "vertical-align:top}.passed{color:#075e07}.failed,.timeout,.not-run{color:#8b0000}"
)


def _notebook_html(r: dict) -> list[str]:
    e = html.escape
    parts = [f"<h2>{e(r['assignment'])}/{e(r['notebook'])}: {_g(r['score'])} / {_g(r['max_score'])}</h2>"]
    if r.get("notes"):
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in r["notes"]) + "</ul>")
    parts.append("<table><tr><th>test</th><th>what it tests</th><th>points</th><th>result</th></tr>")
    for q in r["questions"]:
        cls = q["status"].replace(" ", "-")
        msg = f" — {e(q['message'])}" if q["message"] else ""
        parts.append(
            f"<tr><td><code>{e(q['grade_id'])}</code></td><td>{e(q.get('description', ''))}</td>"
            f"<td>{_g(q['points'])} / {_g(q['max_points'])}</td>"
            f'<td class="{cls}">{e(q["status"])}{msg}</td></tr>'
        )
    parts.append("</table>")
    if r.get("answer_errors"):
        parts.append(
            "<p>Errors raised by your cells:</p><ul>"
            + "".join(f"<li><code>{e(x)}</code></li>" for x in r["answer_errors"])
            + "</ul>"
        )
    return parts


def feedback_html(person: dict, rs: list[dict], notes: list[str]) -> str:
    e = html.escape
    score, mx = sum(r["score"] for r in rs), sum(r["max_score"] for r in rs)
    who = person["name"] if person["name"] == person["key"] else f"{person['name']} ({person['key']})"
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Feedback for {e(who)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Feedback for {e(who)}</h1>",
        f"<p>Total: <strong>{_g(score)} / {_g(mx)}</strong> points. "
        "Every test ran your functions on inputs you had not seen.</p>",
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for r in rs:
        parts += _notebook_html(r)
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
