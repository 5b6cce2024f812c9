"""The equation registry (tools/equations.py): every display equation labelled, every claim checked
by a cell that asserts it, book/equations.md in sync with the notebooks."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import equations  # noqa: E402


def _tool():
    return equations


def test_the_rules_catch_what_they_should():
    eq = _tool()
    E, C = eq.Equation, eq.Check
    equations = [
        E("book/a", None, "x"),
        E("book/a", "Bad_Label", "y"),
        E("book/a", "def-v", "v = Wx"),
        E("book/a", "claim", "G = 1"),
        E("book/b", "claim", "G = 2"),
        E("book/b", "lonely", "z"),
    ]
    checks = [C("book/a", "c1", ["claim", "nowhere"], True), C("book/b", "c2", ["claim"], False)]
    for c in checks:
        for label in c.labels:
            for e in equations:
                if e.label == label:
                    e.checked_by.append(c.anchor)
    found = eq.problems(equations, checks)
    expected = [
        "has no label",
        "not lowercase",
        "used twice",
        "(lonely) is checked by no cell",
        "'nowhere', which is no equation",
        "asserts nothing",
    ]
    assert len(found) == len(expected) + 1, found  # Bad_Label is also an unchecked claim
    for words in expected:
        assert any(words in p for p in found), (words, found)
    assert eq.problems(
        [E("book/a", "def-v", "v = Wx"), E("book/a", "g", "G")], [C("book/a", "c", ["g"], True)]
    ) == ['book/a: $$\'G\'…$$: claim (g) is checked by no cell (cell metadata "checks": ["g"])']


def test_every_display_equation_is_labelled_and_every_claim_checked():
    eq = _tool()
    found = eq.problems(*eq.registry())
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)


def test_equations_page_is_in_sync_and_in_the_toc():
    eq = _tool()
    equations, _ = eq.registry()
    assert eq.PAGE.read_text(encoding="utf-8") == eq.page(equations), "run python tools/equations.py"
    assert "book/equations" in eq.toc_docs()
