"""Who a submission belongs to: a display name as received and a key that survives any alphabet.

The key names the student's files and gradebook rows. It is the name itself when that is already
a plain key (ASCII letters, digits, ``.``, ``_``, ``-``), e.g. nbgrader's student ids; otherwise an
ASCII rendering of the name (accents dropped; empty for 张伟) followed by 8 hex digits of the
SHA-256 of its Unicode NFC form, so Zoë and Zoé, or 张伟 and 李娜, get different keys, and the
same name always the same key (NFC: a name typed on a Mac, whose file names are decomposed, is
the same name). A student from an LMS download is keyed by the LMS's own id, which is unique:
``smithjane_1234`` (Canvas user id 1234), ``Jane_Doe_42`` (Moodle participant 42).

``Roster.add`` refuses two different students with one key (or keys that differ only in
letter case, which collide on a case-insensitive disk) with an error that names both; two folders
whose names are the same in NFC (``Zoë/`` typed on two systems) are refused too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class DuplicateStudent(Exception):
    """Two different students would share a key; the message names both and what to do."""


@dataclass(frozen=True)
class Student:
    key: str  # file names, gradebook rows
    name: str  # as received (display)
    origin: str  # where the name came from, e.g. "folder 'Zoë/'" or "Canvas download x.zip"
    lms: tuple = ()  # (("canvas_user_id", "1234"), ...) as they came in the download

    def lms_id(self, kind: str) -> str:
        return dict(self.lms).get(kind, "")


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._-")[:40]


def key_for(name: str, lms_id: str = "") -> str:
    """The key of a student called ``name`` (with the LMS's unique id, when there is one)."""
    nfc = unicodedata.normalize("NFC", name.strip())
    if lms_id:
        return f"{_ascii(nfc) or 'student'}_{lms_id}"
    if SAFE.match(nfc):
        return nfc
    digest = hashlib.sha256(nfc.encode()).hexdigest()[:8]
    return f"{_ascii(nfc) or 'student'}-{digest}"


def make(name: str, origin: str, **lms: str) -> Student:
    ids = tuple(sorted((k, v) for k, v in lms.items() if v))
    return Student(
        key_for(name, next((v for _, v in ids), "")), unicodedata.normalize("NFC", name.strip()), origin, ids
    )


@dataclass
class Roster:
    """The students found, by key."""

    by_key: dict[str, Student] = field(default_factory=dict)

    def add(self, student: Student) -> Student:
        """The student of this key (``student`` if new); DuplicateStudent if another has it."""
        known = self.by_key.get(student.key)
        if known is not None:
            # one student: the same LMS identity (in any number of downloads), or the same folder
            if (known.name, known.lms) == (student.name, student.lms) and (
                student.lms or known.origin == student.origin
            ):
                return known
            raise DuplicateStudent(
                f"two submissions would be graded as the same student {student.key!r}: {known.name!r} from "
                f"{known.origin} and {student.name!r} from {student.origin}. Nothing was graded. If they are "
                "one student, merge the two into one folder; if not, rename one of them."
            )
        folded = {k.casefold(): k for k in self.by_key}
        if student.key.casefold() in folded:
            other = self.by_key[folded[student.key.casefold()]]
            raise DuplicateStudent(
                f"the students {other.name!r} ({other.origin}) and {student.name!r} ({student.origin}) have keys "
                f"that differ only in letter case ({other.key!r}, {student.key!r}); their files would collide on "
                "a case-insensitive disk. Nothing was graded; rename one of them."
            )
        self.by_key[student.key] = student
        return student
