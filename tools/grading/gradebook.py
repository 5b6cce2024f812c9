"""The gradebook: one SQLite file, written as each notebook is graded. It stays with the instructor.

OUT/gradebook.sqlite keeps
* the course secret the fresh inputs are derived from (created at the first run; --secret
  overrides) — with it anyone could compute a student's inputs, so it never leaves this file;
* the students (key, name as received, where it came from, LMS ids);
* a row per graded notebook: its file's SHA-256, the seed of its fresh inputs (so any grade can
  be reproduced), the score and the whole result; a run replaces only the rows it regraded, so a
  run over one assignment or one student keeps everything else;
* the variants each assignment was released with (``release --roster``): a student's variant is
  drawn from the secret among those (grading/variants.py), so nothing is stored per student;
* every note about a student's files (ignored files, links refused ...), kept across runs.

Seeds: SHA-256(secret, student, assignment, and — by default — the submitted file's SHA-256), so a
resubmission (any changed byte) is graded on new inputs: what a submission could learn about its
inputs while it ran is worth nothing for the next one. ``per_student=True`` keeps one seed per
student and assignment (the instructor's choice). Reports (reports.py) are written from here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from pathlib import Path

from .students import Student

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS students (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, origin TEXT NOT NULL, lms TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL, assignment TEXT NOT NULL, notebook TEXT NOT NULL,
    sha256 TEXT NOT NULL, seed TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    result TEXT NOT NULL, graded_at REAL NOT NULL, grader_error INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (student, assignment, notebook));
CREATE TABLE IF NOT EXISTS notes (student TEXT NOT NULL, note TEXT NOT NULL, PRIMARY KEY (student, note));
"""


def sha256(data: bytes | None) -> str:
    return "missing" if data is None else hashlib.sha256(data).hexdigest()


def seed(secret: str, student: str, assignment: str, submission_sha: str = "") -> int:
    """The fresh inputs' seed of one notebook (64 bits of a SHA-256; see the module doc)."""
    text = "\0".join([secret, student, assignment] + ([submission_sha] if submission_sha else []))
    return int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)


class Gradebook:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(results)")}
        if "grader_error" not in columns:  # a gradebook of an earlier version
            self.db.execute("ALTER TABLE results ADD COLUMN grader_error INTEGER NOT NULL DEFAULT 0")
        self.db.commit()
        self.path.chmod(0o600)

    def secret(self, given: str | None = None) -> str:
        """The course secret behind the seeds: ``given``, else the stored one, else a new random one."""
        row = self.db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        value = given or (row[0] if row else secrets.token_hex(16))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('secret', ?)", (value,))
        self.db.commit()
        return value

    def variant_list(self, assignment: str) -> list[str] | None:
        """The variants ``assignment`` was released with to this class (release --roster), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (f"variants:{assignment}",)).fetchone()
        return json.loads(row[0]) if row else None

    def set_variant_list(self, assignment: str, names: list[str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"variants:{assignment}", json.dumps(names))
        )
        self.db.commit()

    def add_students(self, students: list[Student], notes: dict[str, list[str]]) -> None:
        """Record the students and their notes (notes are kept: a later run only adds)."""
        for s in students:
            self.db.execute(
                "INSERT OR REPLACE INTO students VALUES (?, ?, ?, ?)",
                (s.key, s.name, s.origin, json.dumps(dict(s.lms))),
            )
        for key, texts in notes.items():
            self.db.executemany("INSERT OR IGNORE INTO notes VALUES (?, ?)", [(key, t) for t in texts])
        self.db.commit()

    def done(self, student: str, assignment: str, notebook: str, sha: str, seed_: int) -> bool:
        """Graded already from the same file with the same inputs (a grader failure is never done)."""
        row = self.db.execute(
            "SELECT sha256, seed, grader_error FROM results WHERE student=? AND assignment=? AND notebook=?",
            (student, assignment, notebook),
        ).fetchone()
        return row is not None and row[0] == sha and row[1] == str(seed_) and not row[2]

    def record(
        self, student: str, assignment: str, notebook: str, sha: str, seed_: int, result: dict
    ) -> None:
        score = sum(q["points"] for q in result["questions"])
        max_score = sum(q["max_points"] for q in result["questions"])
        self.db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                student,
                assignment,
                notebook,
                sha,
                str(seed_),
                score,
                max_score,
                json.dumps(result, ensure_ascii=False),
                time.time(),
                int(bool(result.get("grader_error"))),
            ),
        )
        self.db.commit()

    def rows(self) -> list[dict]:
        """Every graded notebook: student, assignment, notebook, score, max_score and the result."""
        cur = self.db.execute(
            "SELECT student, assignment, notebook, score, max_score, result FROM results "
            "ORDER BY student, assignment, notebook"
        )
        return [
            {"student": s, "assignment": a, "notebook": n, "score": sc, "max_score": mx, **json.loads(r)}
            for s, a, n, sc, mx, r in cur.fetchall()
        ]

    def students(self) -> dict[str, dict]:
        cur = self.db.execute("SELECT key, name, origin, lms FROM students")
        return {
            k: {"key": k, "name": n, "origin": o, "lms": json.loads(lms)} for k, n, o, lms in cur.fetchall()
        }

    def notes(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for student, note in self.db.execute("SELECT student, note FROM notes ORDER BY rowid"):
            out.setdefault(student, []).append(note)
        return out

    def close(self) -> None:
        self.db.close()
