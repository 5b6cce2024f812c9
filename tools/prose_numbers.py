"""Numbers in prose that come from cells: ``VALUE<!-- glue:NAME -->`` in Markdown.

A code cell records a value with ``backprop.show.glue("acc", f"{acc:.1f}")`` (an invisible
output in myst_nb's glue format). The prose writes the value literally and names the record in
an HTML comment right after it: ``an accuracy of 97.8<!-- glue:acc --> %``. Every renderer shows
plain text (the book, JupyterLab with or without jupyterlab-myst, Colab, GitHub); the comment is
invisible. ``problems`` lists every disagreement (tests/test_prose_numbers.py); ``rewrite`` is what
tools/execute_notebooks.py does after a run, so that prose follows the cells.
"""

from __future__ import annotations

import ast
import re

import nbformat

GLUE_MIME = "application/papermill.record/text/plain"
MARK = re.compile(r"<!-- glue:([A-Za-z_]\w*) -->")


def recorded(nb: nbformat.NotebookNode) -> dict[str, str]:
    """NAME -> text of every glue record in the notebook's outputs (a name recorded twice raises)."""
    values: dict[str, str] = {}
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None or GLUE_MIME not in out.get("data", {}):
                continue
            if name in values:
                raise ValueError(f"glue name {name!r} recorded twice (again in cell {i})")
            text = ast.literal_eval(out.data[GLUE_MIME])
            values[name] = text if isinstance(text, str) else repr(text)
    return values


def quoted(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, NAME, the Markdown before the marker) for every marker in the prose."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found += [(i, m.group(1), cell.source[: m.start()]) for m in MARK.finditer(cell.source)]
    return found


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Markers with no record or with other text before them, and records the prose never quotes."""
    values = recorded(nb)
    found = []
    for i, name, before in quoted(nb):
        if name not in values:
            found.append(f"cell {i}: <!-- glue:{name} --> names no value recorded by a cell")
        elif not before.endswith(values[name]):
            tail = before[-len(values[name]) - 10 :]
            found.append(
                f"cell {i}: the prose before <!-- glue:{name} --> ({tail!r}) does not end "
                f"with the recorded {values[name]!r}"
            )
    unused = set(values) - {name for _, name, _ in quoted(nb)}
    found += [f"glue record {name!r} is quoted nowhere in the prose" for name in sorted(unused)]
    return found


def rewrite(nb: nbformat.NotebookNode, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """In the prose, replace each ``OLD<!-- glue:NAME -->`` by ``NEW<!-- glue:NAME -->`` where a
    run changed NAME's record from OLD (``before``) to NEW (``after``). Returns the names changed."""
    changed = sorted(n for n in after if n in before and before[n] != after[n])
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for name in changed:
            mark = f"<!-- glue:{name} -->"
            cell.source = cell.source.replace(before[name] + mark, after[name] + mark)
    return changed
