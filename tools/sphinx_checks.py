"""Sphinx extension: every code cell that checks equations gets an anchor and a line naming them.

A code cell whose notebook metadata says ``"checks": ["label", ...]`` (tools/equations.py) is, on
the site, preceded by a small line "Checks (4.3), (4.5)" whose numbers link to the equations, and
carries the label ``check-<notebook>-<cell id>`` so that book/equations.md can link to it. Listed
in _config.yml under ``sphinx.local_extensions``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform


@lru_cache(maxsize=64)
def _cell_ids(path: str, mtime: float) -> tuple[str, ...]:
    nb = nbformat.read(path, as_version=4)
    return tuple(c.get("id", str(i)) for i, c in enumerate(nb.cells))


def anchor(docname: str, cell_id: str) -> str:
    """The label of a checking cell (the same as tools/equations.py's Check.anchor)."""
    return f"check-{docname.rsplit('/', 1)[-1]}-{cell_id}".lower()


class CheckingCells(SphinxTransform):
    default_priority = 500

    def apply(self) -> None:
        path = Path(self.env.doc2path(self.env.docname))
        if path.suffix != ".ipynb":
            return
        ids = _cell_ids(str(path), path.stat().st_mtime)
        for cell in list(self.document.findall(nodes.container)):
            labels = (cell.get("cell_metadata") or {}).get("checks")
            if cell.get("nb_element") != "cell_code" or not labels:
                continue
            name = anchor(self.env.docname, ids[cell["cell_index"]])
            target = nodes.target("", "", ids=[name], names=[name])
            self.document.note_explicit_target(target)
            line = nodes.paragraph("", "Checks ", classes=["equation-checks"])
            for k, label in enumerate(labels):
                line += nodes.Text(", " if k else "")
                line += addnodes.pending_xref(
                    "",
                    nodes.Text(label),
                    refdomain="math",
                    reftype="eq",
                    reftarget=label,
                    refdoc=self.env.docname,
                    refwarn=True,
                )
            cell.parent.insert(cell.parent.index(cell), [target, line])


def setup(app):
    app.add_transform(CheckingCells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
