"""Find the submissions: nbgrader's folder layout, LMS bulk-download zips, renamed files.

Accepted (any mix):

* ``SUBMISSIONS/<student>/<assignment>/<notebook>.ipynb`` — the documented layout, which is also
  nbgrader's ``submitted/`` folder (its ``timestamp.txt`` files are ignored);
* a ``.zip`` (SUBMISSIONS itself, or any zip at its top level): a Canvas bulk download
  (``lastnamefirstname[_LATE]_<userid>_<subid>_<file>``), a Moodle one
  (``<Full Name>_<id>_assignsubmission_file_/<file>``) or a zip of the documented layout;
* browser and LMS copies of a name: ``subscripts (1).ipynb``, ``subscripts-1.ipynb``,
  ``subscripts copy.ipynb`` count as ``subscripts.ipynb`` (the exact name wins, then the newest).

A notebook is matched to its assignment by the folder it is in or, in flat zips, by its name.
Other files are ignored with a note. Zip entries are read by name only (no paths are extracted).
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|-\d+|[\s_]copy(\s*\d+)?)$", re.IGNORECASE)
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<student>.+?)_assignsubmission_[a-z]+_?$")
IGNORED = {"timestamp.txt", ".DS_Store", "Thumbs.db"}


@dataclass
class Candidate:
    path: Path                 # where the bytes are (a file, or the staged copy of a zip entry)
    received: str              # the name it came with
    mtime: float


@dataclass
class Intake:
    #: {student: {assignment: {notebook name: Candidate}}}
    found: dict[str, dict[str, dict[str, Candidate]]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, student: str, text: str) -> None:
        self.notes.setdefault(student, []).append(text)


def student_key(name: str) -> str:
    """A file-name-safe student key (letters, digits, ., _, -)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_") or "unknown"


def base_name(filename: str) -> str:
    """'subscripts (1).ipynb' -> 'subscripts.ipynb' (browser/LMS copy suffixes removed)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        return filename
    prev = None
    while prev != stem:
        prev, stem = stem, COPY_SUFFIX.sub("", stem)
    return f"{stem}.{ext}"


def collect(submissions: Path, notebooks: dict[str, list[str]], stage: Path) -> Intake:
    """Everything submitted. ``notebooks``: {assignment: [notebook names]} of the sources."""
    intake, raw = Intake(), []          # raw: (student, assignment or None, Candidate)
    submissions = Path(submissions)
    zips = [submissions] if submissions.is_file() else sorted(submissions.glob("*.zip"))
    for z in zips:
        raw += _from_zip(z, stage / student_key(z.stem), intake)
    if submissions.is_dir():
        for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
            student = student_key(student_dir.name)
            for f in sorted(student_dir.rglob("*")):
                if not f.is_file() or ".ipynb_checkpoints" in f.parts or f.name in IGNORED:
                    continue
                rel = f.relative_to(student_dir).parts
                assignment = rel[0] if len(rel) > 1 else None
                raw.append((student, assignment, Candidate(f, "/".join(rel), f.stat().st_mtime)))
    by_name = {nb: a for a, nbs in notebooks.items() for nb in nbs}
    for student, assignment, cand in raw:
        intake.found.setdefault(student, {})
        name = Path(cand.received).name
        wanted = base_name(name)
        if not name.endswith(".ipynb"):
            intake.note(student, f"ignored {cand.received!r}: not a notebook (.ipynb)")
            continue
        if assignment not in notebooks:
            assignment = by_name.get(wanted)
        if assignment is None or wanted not in notebooks[assignment]:
            intake.note(student, f"ignored {cand.received!r}: it matches no assignment notebook "
                        f"({', '.join(sorted(by_name))})")
            continue
        slot = intake.found[student].setdefault(assignment, {})
        best = slot.get(wanted)
        if best is None or _better(cand, best, wanted):
            if best is not None:
                intake.note(student, f"{assignment}: {cand.received!r} was graded, not {best.received!r}")
            slot[wanted] = cand
        else:
            intake.note(student, f"{assignment}: {best.received!r} was graded, not {cand.received!r}")
        if Path(slot[wanted].received).name != wanted and slot[wanted] is cand:
            intake.note(student, f"{assignment}: {cand.received!r} was graded as {wanted}")
    return intake


def _better(new: Candidate, old: Candidate, wanted: str) -> bool:
    exact_new, exact_old = Path(new.received).name == wanted, Path(old.received).name == wanted
    if exact_new != exact_old:
        return exact_new
    return new.mtime > old.mtime


def _from_zip(path: Path, stage: Path, intake: Intake) -> list:
    out = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        intake.note("_archives", f"{path.name}: not a readable zip ({err})")
        return out
    with archive:
        for k, info in enumerate(archive.infolist()):
            if info.is_dir():
                continue
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p and p not in (".", "..")]
            if not parts or parts[-1] in IGNORED or "__MACOSX" in parts:
                continue
            student, assignment, name = _parse(parts)
            if info.file_size > 50 * 2**20:
                intake.note(student, f"ignored {parts[-1]!r} in {path.name}: larger than 50 MB")
                continue
            target = stage / f"{k:05d}" / student_key(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            import time
            mtime = time.mktime(info.date_time + (0, 0, -1))
            out.append((student, assignment, Candidate(target, name, mtime)))
    return out


def _parse(parts: list[str]) -> tuple[str, str | None, str]:
    """(student, assignment folder or None, file name) of a zip entry's path parts."""
    if len(parts) >= 2:
        m = MOODLE.match(parts[0])
        if m:
            return student_key(m.group("student")), None, parts[-1]
        if len(parts) >= 3:
            return student_key(parts[-3]), parts[-2], parts[-1]
        return student_key(parts[0]), None, parts[-1]
    m = CANVAS.match(parts[0])
    if m:
        return student_key(f"{m.group('name')}_{m.group('uid')}"), None, m.group("file")
    return "unknown", None, parts[0]
