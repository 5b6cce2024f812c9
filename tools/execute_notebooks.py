"""Execute notebooks from a clean kernel with nbclient and save them with their outputs.

Usage: python tools/execute_notebooks.py book/a.ipynb [book/b.ipynb ...]   (no argument: every book/*.ipynb)

Each notebook runs with its own folder as working directory, so outputs carry no machine path.
Cells tagged ``raises-exception`` may fail (their error is the point); any other error stops
with a message naming the notebook.

Re-running on another machine must not dirty the repository with noise, so after a run

* a figure whose SVG differs from the stored one only in coordinates that moved by less than
  FIGURE_TOLERANCE (the last printed digit of a path, from the last bits of a BLAS result) keeps
  its stored SVG and PNG; any other change (a new curve, a label, a point that moved) replaces it;
* consecutive outputs of one stream are merged (nbconvert's CoalesceStreamsPreprocessor: the
  kernel may split one print into several messages, differently on every run);
* every number the prose quotes (``VALUE<!-- glue:NAME -->`` in a Markdown cell, recorded by
  ``backprop.show.glue(NAME, VALUE)`` in a code cell) is rewritten to the value just recorded.

Text outputs are stored as they come: they are meant to be machine-independent (README,
"Working on notebooks"), and nbval fails on any that is not.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from prose_numbers import recorded, rewrite  # noqa: E402

FIGURE_TOLERANCE = 0.01  # SVG user units (points): far below what a reader can see
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def same_figure(old: str, new: str) -> bool:
    """The two SVG texts are equal but for numbers that differ by < FIGURE_TOLERANCE."""
    if NUMBER.sub("#", old) != NUMBER.sub("#", new):
        return False
    pairs = zip(NUMBER.findall(old), NUMBER.findall(new))
    return all(abs(float(a) - float(b)) < FIGURE_TOLERANCE for a, b in pairs)


def keep_unchanged_figures(old_nb: nbformat.NotebookNode, new_nb: nbformat.NotebookNode) -> int:
    """Put the stored figure outputs back where the new run drew the same figure. Returns how many."""
    kept = 0
    for old_cell, new_cell in zip(old_nb.cells, new_nb.cells):
        if old_cell.cell_type != "code" or old_cell.source != new_cell.source:
            continue
        outs = new_cell.get("outputs", [])
        if len(old_cell.get("outputs", [])) != len(outs):
            continue
        for i, (old, new) in enumerate(zip(old_cell.outputs, outs)):
            old_svg, new_svg = (o.get("data", {}).get("image/svg+xml") for o in (old, new))
            if (
                old_svg
                and new_svg
                and set(old.data) == set(new.data)
                and same_figure(_text(old_svg), _text(new_svg))
            ):
                outs[i] = old
                kept += 1
    return kept


def _text(svg) -> str:
    return "".join(svg) if isinstance(svg, list) else svg


def execute(path: Path, timeout: int = 600) -> None:
    old = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # no timestamps: a re-run changes only what changed
        cell.metadata.pop("execution", None)
    # one stream output per print run, however the kernel's messages happened to be split
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    kept = keep_unchanged_figures(old, nb)
    changed = rewrite(nb, recorded(old), recorded(nb))
    nbformat.write(nb, path)
    print(
        f"executed {path.relative_to(ROOT)}"
        + (f" ({kept} figure(s) unchanged but for rounding, kept as stored)" if kept else "")
        + (f"; prose numbers updated: {', '.join(changed)}" if changed else "")
    )


def main(args: list[str]) -> None:
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "book").rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    for p in paths:
        execute(p)


if __name__ == "__main__":
    main(sys.argv[1:])
