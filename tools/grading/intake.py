"""Find the submissions: nbgrader's folder layout, LMS bulk-download zips, renamed copies.

Accepted (any mix):

* ``SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb`` — the documented layout, which is also
  nbgrader's ``submitted/`` folder (its ``timestamp.txt`` files are ignored);
* a ``.zip`` (SUBMISSIONS itself, or any zip at its top level): a Canvas bulk download
  (``lastnamefirstname[_LATE]_<user id>_<submission id>_<file>``), a Moodle one
  (``<Full Name>_<participant id>_assignsubmission_file_/<file>``) or a zip of the documented layout;
* browser and LMS copies of a name: ``subscripts (1).ipynb``, ``subscripts-1.ipynb``,
  ``subscripts copy.ipynb`` count as ``subscripts.ipynb``. Of several copies of one notebook the
  newest (file time, or the zip entry's time) is graded; a note lists them and says which and why.

Students are keyed by students.py (any alphabet; a duplicate key stops the intake). The grader runs
as root, so it reads a submission only as its submitter could: it never follows a symbolic link
(anywhere below SUBMISSIONS), reads only regular files with a single hard link (a hard link to
someone else's file is refused), at most 50 MB each, and opens zip entries as data (no paths are
extracted); only files named ``.ipynb`` are read at all, at most 256 MB per student (a zip bomb or a
folder of huge copies cannot fill the grader's memory). Everything refused is noted. The bytes
read are handed on (nothing is read twice).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from .students import Roster, Student, make

COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|-\d+|[\s_]copy(\s*\d+)?)$", re.IGNORECASE)
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_?$")
IGNORED = {"timestamp.txt", ".DS_Store", "Thumbs.db"}
MAX_BYTES = 50 * 2**20  # one file
MAX_STUDENT_BYTES = 256 * 2**20  # everything one student submitted
MAX_DEPTH = 6
MAX_ENTRIES = 200_000


class IntakeError(Exception):
    """The submissions cannot be taken in as they are (the message says why and what to do)."""


@dataclass
class Candidate:
    data: bytes  # the file's bytes
    received: str  # the name it came with (path below the student's folder, or in the zip)
    mtime: float


@dataclass
class Intake:
    roster: Roster = field(default_factory=Roster)
    spent: dict[str, int] = field(default_factory=dict)  # bytes read per student
    #: {student key: {assignment: {notebook name: [Candidate, ...]}}} before choosing
    copies: dict = field(default_factory=dict)
    #: {student key: [notes about files that are not graded]}; "_archives": notes on the zips
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, key: str, text: str) -> None:
        self.notes.setdefault(key, []).append(text)

    def admit(self, key: str, name: str, size: int) -> bool:
        """True when a file of ``size`` bytes named ``name`` may be read for this student (else noted)."""
        if not name.endswith(".ipynb"):
            self.note(key, f"ignored {name!r}: not a notebook (.ipynb)")
            return False
        if size > MAX_BYTES or self.spent.get(key, 0) + size > MAX_STUDENT_BYTES:
            self.note(
                key,
                f"ignored {name!r}: larger than {MAX_BYTES // 2**20} MB, or more than "
                f"{MAX_STUDENT_BYTES // 2**20} MB submitted in all",
            )
            return False
        self.spent[key] = self.spent.get(key, 0) + size
        return True

    @property
    def students(self) -> dict[str, Student]:
        return self.roster.by_key

    def chosen(self, key: str, assignment: str, notebook: str) -> tuple[Candidate | None, list[str]]:
        """The copy to grade (the newest) and the notes that say which and why."""
        return choose(self.copies.get(key, {}).get(assignment, {}).get(notebook, []), notebook)


def base_name(filename: str) -> str:
    """'subscripts (1).ipynb' -> 'subscripts.ipynb' (browser/LMS copy suffixes removed)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        return filename
    prev = None
    while prev != stem:
        prev, stem = stem, COPY_SUFFIX.sub("", stem)
    return f"{stem}.{ext}"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def choose(copies: list[Candidate], wanted: str) -> tuple[Candidate | None, list[str]]:
    """The newest copy (on a tie: the exact name, then the name received last in sorted order)."""
    if not copies:
        return None, []
    ranked = sorted(copies, key=lambda c: (c.mtime, Path(c.received).name == wanted, c.received))
    best = ranked[-1]
    notes = []
    if len(copies) > 1:
        others = ", ".join(f"{c.received!r} ({_when(c.mtime)})" for c in reversed(ranked[:-1]))
        notes.append(
            f"{len(copies)} copies of {wanted} were submitted; the newest, {best.received!r} "
            f"({_when(best.mtime)}), was graded, not {others}"
        )
    elif Path(best.received).name != wanted:
        notes.append(f"{best.received!r} was graded as {wanted}")
    return best, notes


# ------------------------------------------------------------------------------ reading safely
def read_file(path: Path) -> tuple[bytes | None, float, str]:
    """(bytes, mtime, '') or (None, 0, why): only a regular file with one link, without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        return (
            None,
            0.0,
            "a symbolic link (the grader follows none)"
            if err.errno == errno.ELOOP
            else f"it cannot be opened ({err.strerror})",
        )
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None, 0.0, "not a regular file"
        if st.st_nlink != 1:
            return None, 0.0, "a file with several hard links (it may be someone else's file)"
        if st.st_size > MAX_BYTES:
            return None, 0.0, f"larger than {MAX_BYTES // 2**20} MB"
        return f.read(MAX_BYTES + 1)[:MAX_BYTES], st.st_mtime, ""


def _walk(top: Path, intake: Intake, key: str) -> list[tuple[str, Path]]:
    """(relative name, path) of every file below ``top``, without following links (no recursion)."""
    found, stack, seen = [], [(top, 0)], 0
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            intake.note(
                key, f"could not read the folder {str(folder.relative_to(top)) or '.'} ({err.strerror})"
            )
            continue
        for entry in entries:
            seen += 1
            rel = str(Path(entry.path).relative_to(top))
            if seen > MAX_ENTRIES:
                intake.note(key, f"more than {MAX_ENTRIES} files: the rest was ignored")
                return found
            if entry.is_symlink():
                intake.note(key, f"ignored {rel!r}: a symbolic link (the grader follows none)")
            elif entry.is_dir(follow_symlinks=False):
                if (
                    entry.name != ".ipynb_checkpoints"
                    and not entry.name.startswith(".")
                    and depth < MAX_DEPTH
                ):
                    stack.append((Path(entry.path), depth + 1))
            elif entry.name not in IGNORED:
                found.append((rel, Path(entry.path)))
    return sorted(found)


# ------------------------------------------------------------------------------ the layouts
def collect(submissions: Path, notebooks: dict[str, list[str]]) -> Intake:
    """Everything submitted. ``notebooks``: {assignment: [notebook names]} of the sources."""
    intake, raw = Intake(), []  # raw: (Student, assignment or None, Candidate)
    submissions = Path(submissions)
    if submissions.is_file():
        raw += _from_zip(submissions, submissions.name, intake)
    else:
        for entry in sorted(os.scandir(submissions), key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name in IGNORED:
                continue
            if entry.is_symlink():
                intake.note("_archives", f"ignored {entry.name!r}: a symbolic link (the grader follows none)")
            elif entry.is_dir(follow_symlinks=False):
                raw += _from_folder(Path(entry.path), intake)
            elif entry.name.lower().endswith(".zip"):
                raw += _from_zip(Path(entry.path), entry.name, intake)
    _sort(raw, notebooks, intake)
    return intake


def _from_folder(folder: Path, intake: Intake) -> list:
    student = intake.roster.add(make(folder.name, f"the folder {folder.name!r}"))
    out = []
    for rel, path in _walk(folder, intake, student.key):
        try:
            size = path.lstat().st_size
        except OSError:
            size = 0
        if not intake.admit(student.key, rel, size):
            continue
        data, mtime, why = read_file(path)
        if data is None:
            intake.note(student.key, f"ignored {rel!r}: {why}")
            continue
        parts = Path(rel).parts
        out.append((student, parts[0] if len(parts) > 1 else None, Candidate(data, rel, mtime)))
    return out


def _from_zip(path: Path, label: str, intake: Intake) -> list:
    data, _, why = read_file(path)
    if data is None:
        intake.note("_archives", f"ignored {label!r}: {why}")
        return []
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError) as err:
        intake.note("_archives", f"{label}: not a readable zip ({type(err).__name__})")
        return []
    out = []
    with archive:
        for info in archive.infolist():
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p and p not in (".", "..")]
            if info.is_dir() or not parts or parts[-1] in IGNORED or "__MACOSX" in parts:
                continue
            student, assignment, name = _parse(parts, label)
            student = intake.roster.add(student)
            if stat.S_ISLNK(info.external_attr >> 16):
                intake.note(student.key, f"ignored {name!r} in {label}: a symbolic link")
                continue
            if not intake.admit(student.key, name, info.file_size):
                continue
            with archive.open(info) as f:
                content = f.read(MAX_BYTES + 1)  # the declared size may lie
            if len(content) > MAX_BYTES:
                intake.note(student.key, f"ignored {name!r} in {label}: larger than {MAX_BYTES // 2**20} MB")
                continue
            mtime = time.mktime(info.date_time + (0, 0, -1))
            out.append((student, assignment, Candidate(content, name, mtime)))
    return out


def _parse(parts: list[str], label: str) -> tuple[Student, str | None, str]:
    """(student, assignment folder or None, file name) of a zip entry's path parts."""
    origin = f"the download {label}"
    if len(parts) >= 2:
        m = MOODLE.match(parts[0])
        if m:
            return make(m.group("name"), origin, moodle_participant_id=m.group("pid")), None, parts[-1]
        if len(parts) >= 3:
            return make(parts[-3], f"the folder {parts[-3]!r} in {label}"), parts[-2], parts[-1]
        return make(parts[0], f"the folder {parts[0]!r} in {label}"), None, parts[-1]
    m = CANVAS.match(parts[0])
    if m:
        return make(m.group("name"), origin, canvas_user_id=m.group("uid")), None, m.group("file")
    return make(Path(label).stem, origin), None, parts[0]


def _sort(raw: list, notebooks: dict[str, list[str]], intake: Intake) -> None:
    """File every notebook under its student, assignment and notebook name; note the rest."""
    by_name = {nb: a for a, nbs in notebooks.items() for nb in nbs}
    for student, assignment, cand in raw:
        intake.copies.setdefault(student.key, {})
        wanted = base_name(Path(cand.received).name)
        if assignment not in notebooks:
            assignment = by_name.get(wanted)
        if assignment is None or wanted not in notebooks[assignment]:
            intake.note(
                student.key,
                f"ignored {cand.received!r}: it matches no assignment notebook "
                f"({', '.join(sorted(by_name))})",
            )
            continue
        intake.copies[student.key].setdefault(assignment, {}).setdefault(wanted, []).append(cand)
