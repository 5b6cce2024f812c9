"""Numbers in prose come from cells: `VALUE<!-- glue:NAME -->` matches `backprop.show.glue(NAME, VALUE)`
(tools/prose_numbers.py), and tools/execute_notebooks.py keeps the two in step."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import prose_numbers  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _record(name: str, text: str):
    return nbformat.v4.new_output(
        "display_data",
        data={prose_numbers.GLUE_MIME: repr(text)},
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    )


def test_show_glue_writes_what_prose_numbers_reads(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from backprop import show

    shell = InteractiveShell.instance()
    seen = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: seen.append((data, metadata))
    show.glue("acc", "97.8")
    ((data, metadata),) = seen
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "", outputs=[nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
            )
        ]
    )
    assert prose_numbers.recorded(nb) == {"acc": "97.8"}
    with pytest.raises(TypeError, match="format"):
        show.glue("acc", 97.8)


def test_problems_and_rewrite():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "Accuracy 97.8<!-- glue:acc --> %; loss 0.1<!-- glue:loss -->; and <!-- glue:nothing -->."
            ),
            nbformat.v4.new_code_cell(
                "", outputs=[_record("acc", "97.8"), _record("loss", "0.2"), _record("unused", "1")]
            ),
        ]
    )
    found = prose_numbers.problems(nb)
    assert len(found) == 3 and "loss" in found[0] and "nothing" in found[1] and "unused" in found[2], found
    assert prose_numbers.rewrite(nb, {"acc": "97.8"}, {"acc": "98.1"}) == ["acc"]
    assert nb.cells[0].source.startswith("Accuracy 98.1<!-- glue:acc --> %")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_prose_quotes_what_the_cells_record(path):
    found = prose_numbers.problems(nbformat.read(path, as_version=4))
    assert not found, f"{path.name}:\n" + "\n".join(found)
