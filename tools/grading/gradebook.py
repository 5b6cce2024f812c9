"""The gradebook: one SQLite file, a row per graded notebook, written as each one finishes.

OUT/gradebook.sqlite keeps every result of every run (a run over one assignment replaces only
that assignment's rows for the notebooks it regraded), the course secret the fresh-data seeds
are derived from (created at the first run; --secret overrides), and the seed of each grade, so
any grade can be reproduced. Reports (reports.py) are written from it.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL, assignment TEXT NOT NULL, notebook TEXT NOT NULL,
    sha256 TEXT NOT NULL, seed TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    result TEXT NOT NULL, graded_at REAL NOT NULL,
    PRIMARY KEY (student, assignment, notebook));
"""


class Gradebook:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.db.commit()

    def secret(self, given: str | None = None) -> str:
        """The course secret behind the seeds: ``given``, else the stored one, else a new random one."""
        row = self.db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()
        value = given or (row[0] if row else secrets.token_hex(16))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('secret', ?)", (value,))
        self.db.commit()
        return value

    @staticmethod
    def seed(secret: str, student: str, assignment: str) -> int:
        """The fresh-data seed of one student and assignment (64 bits of a SHA-256)."""
        return int(hashlib.sha256(f"{secret}\0{student}\0{assignment}".encode()).hexdigest()[:16], 16)

    def done(self, student: str, assignment: str, notebook: str, sha: str, seed: int) -> bool:
        row = self.db.execute("SELECT sha256, seed FROM results WHERE student=? AND assignment=? AND notebook=?",
                              (student, assignment, notebook)).fetchone()
        return row is not None and row[0] == sha and row[1] == str(seed)

    def record(self, student: str, assignment: str, notebook: str, sha: str, seed: int, result: dict) -> None:
        score = sum(q["points"] for q in result["questions"])
        max_score = sum(q["max_points"] for q in result["questions"])
        self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (student, assignment, notebook, sha, str(seed), score, max_score,
                         json.dumps(result, ensure_ascii=False), time.time()))
        self.db.commit()

    def rows(self) -> list[dict]:
        cur = self.db.execute("SELECT student, assignment, notebook, seed, score, max_score, result FROM results "
                              "ORDER BY student, assignment, notebook")
        return [{"student": s, "assignment": a, "notebook": n, "seed": seed, "score": sc, "max_score": mx,
                 **json.loads(r)} for s, a, n, seed, sc, mx, r in cur.fetchall()]

    def close(self) -> None:
        self.db.close()


def sha256(path: Path | None) -> str:
    if path is None or not Path(path).exists():
        return "missing"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
