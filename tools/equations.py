"""The equation registry: every display equation labelled, every claim tied to the cells that check it.

    python tools/equations.py            # write book/equations.md (the page "Equations and their checks")
    python tools/equations.py --check    # exit 1 with the problems, or when the page is out of date

Rules (README, "How to add a chapter"; tests/test_equations.py runs them):

* every display equation of the book, ``$$ ... $$ (label)``, carries a label: lowercase words
  joined by hyphens, unique in the book;
* a label that starts with ``def-`` is a definition (notation, the network's equations); every
  other label is a claim;
* a claim is checked by at least one code cell (in any chapter) whose metadata names it,
  ``"checks": ["label", ...]``, and which asserts (an ``assert`` statement or ``assert_…`` call,
  not only a print); a ``checks`` entry must name an equation of the book.

The page lists every equation by chapter as typeset, with a link to it and to each checking
cell. The cell links resolve through tools/sphinx_checks.py, which gives every checking cell an
anchor and a line "Checks (n)" that links back to its equations.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "equations.md"
DISPLAY = re.compile(r"\$\$(?P<tex>.+?)\$\$[ \t]*(?:\((?P<label>[^()\s]*)\))?", re.S)
LABEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ASSERTS = re.compile(r"^\s*assert\b|\bassert_\w*\(|\bassert_allclose\(", re.M)


@dataclass
class Equation:
    doc: str  # docname, e.g. "book/04_differentials"
    label: str | None
    tex: str
    checked_by: list[str] = field(default_factory=list)  # anchor names of checking cells

    @property
    def is_definition(self) -> bool:
        return bool(self.label) and self.label.startswith("def-")


@dataclass
class Check:
    doc: str
    cell_id: str
    labels: list[str]
    asserts: bool

    @property
    def anchor(self) -> str:
        """The Sphinx label tools/sphinx_checks.py gives the cell."""
        return f"check-{self.doc.rsplit('/', 1)[-1]}-{self.cell_id}".lower()


def toc_docs() -> list[str]:
    """Docnames in the order of _toc.yml (the root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    docs = [toc["root"]]
    for part in toc.get("parts", []):
        docs += [c["file"] for c in part.get("chapters", [])]
    return docs


def doc_path(doc: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (doc + suffix)).exists():
            return ROOT / (doc + suffix)
    raise FileNotFoundError(doc)


def markdown_and_checks(doc: str) -> tuple[list[str], list[Check]]:
    path = doc_path(doc)
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")], []
    nb = nbformat.read(path, as_version=4)
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    checks = [
        Check(doc, c.get("id", str(i)), list(c.metadata["checks"]), bool(ASSERTS.search(c.source)))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "checks" in c.metadata
    ]
    return texts, checks


def registry() -> tuple[list[Equation], list[Check]]:
    """Every display equation and every checking cell of the book (the generated page excluded)."""
    equations, checks = [], []
    for doc in toc_docs():
        if ROOT / (doc + ".md") == PAGE:
            continue
        texts, doc_checks = markdown_and_checks(doc)
        equations += [
            Equation(doc, m.group("label") or None, m.group("tex").strip())
            for text in texts
            for m in DISPLAY.finditer(text)
        ]
        checks += doc_checks
    by_label = {e.label: e for e in equations if e.label}
    for c in checks:
        for label in c.labels:
            if label in by_label:
                by_label[label].checked_by.append(c.anchor)
    return equations, checks


def problems(equations: list[Equation], checks: list[Check]) -> list[str]:
    found, seen = [], set()
    for e in equations:
        where = f"{e.doc}: $${e.tex[:60]!r}…$$"
        if not e.label:
            found.append(f"{where} has no label: write $$ … $$ (label)")
            continue
        if not LABEL.match(e.label):
            found.append(f"{where}: label {e.label!r} is not lowercase-words-with-hyphens")
        if e.label in seen:
            found.append(f"{where}: label {e.label!r} is used twice")
        seen.add(e.label)
        if not e.is_definition and not e.checked_by:
            found.append(
                f'{where}: claim ({e.label}) is checked by no cell (cell metadata "checks": ["{e.label}"])'
            )
    for c in checks:
        found += [
            f"{c.doc} cell {c.cell_id}: checks {lab!r}, which is no equation of the book"
            for lab in c.labels
            if lab not in seen
        ]
        if not c.asserts:
            found.append(f"{c.doc} cell {c.cell_id}: checks {c.labels} but asserts nothing")
    return found


def title(doc: str) -> str:
    path = doc_path(doc)
    text = (
        path.read_text(encoding="utf-8")
        if path.suffix == ".md"
        else next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    )
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


def page(equations: list[Equation]) -> str:
    """The Markdown of book/equations.md."""
    lines = [
        "# Equations and their checks",
        "",
        "Every display equation of the book, chapter by chapter, with a link to where it stands "
        "and to each code cell that checks it numerically. Labels that start with `def-` are "
        "definitions; every other equation is a claim, and at least one cell asserts it. This page "
        "is written by `tools/equations.py` from the notebooks (a test keeps it in sync).",
        "",
    ]
    for doc in toc_docs():
        here = [e for e in equations if e.doc == doc and e.label]
        if not here:
            continue
        lines += [f"## {title(doc)}", ""]
        for e in here:
            kind = "definition" if e.is_definition else "claim"
            cells = ", ".join(f"[cell {i + 1}](#{a})" for i, a in enumerate(e.checked_by)) or "—"
            lines += [f"[{kind} `{e.label}`](#{e.label}), checked by {cells}:", "", "$$", e.tex, "$$", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    equations, checks = registry()
    found = problems(equations, checks)
    if "--check" in argv:
        if PAGE.exists() and PAGE.read_text(encoding="utf-8") != page(equations):
            found.append(f"{PAGE.relative_to(ROOT)} is out of date: run python tools/equations.py")
        print("\n".join(found) or f"{len(equations)} equations, {len(checks)} checking cells: ok")
        return 1 if found else 0
    PAGE.write_text(page(equations), encoding="utf-8")
    print(
        f"wrote {PAGE.relative_to(ROOT)}: {len(equations)} equations"
        + (f"; {len(found)} problems (--check lists them)" if found else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
