"""Notebooks made for screens: what the site shows fits its column, figures are SVG with alt text,
and every notebook starts with the install cell (tools/sync_install_cell.py).

LINE_LENGTH was measured in Chromium at 1280 px on the built site: with the site's 13px code font
(book/_static/custom.css) a code cell shows 81 characters and a text output 83 without a
sideways scroll (tests/test_browser.py checks the rendered pages themselves). Format notebooks
with `ruff format --line-length 80` and print narrower arrays (np.printoptions(linewidth=80)).
"""
from __future__ import annotations

import base64
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE_LENGTH = 80
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _load_tool():
    spec = importlib.util.spec_from_file_location("sync_install_cell", ROOT / "tools" / "sync_install_cell.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def text_outputs(cell) -> list[str]:
    """The text a reader sees under a code cell: streams, plain text results, tracebacks."""
    texts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            if "text/plain" in out.data and not any(k.startswith("image/") or k == "text/html" for k in out.data):
                texts.append(out.data["text/plain"])
        elif out.output_type == "error":
            texts.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(out.traceback)))
    return texts


def too_wide(text: str, limit: int = LINE_LENGTH) -> list[str]:
    return [line for line in text.splitlines() if len(line.expandtabs(4)) > limit]


def layout_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything in one notebook that breaks the rules above (cell numbers count from 0)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        problems += [f"cell {i}: code line of {len(line)} > {LINE_LENGTH} characters: {line[:50]!r}…"
                     for line in too_wide(cell.source)]
        for text in text_outputs(cell):
            problems += [f"cell {i}: output line of {len(line)} > {LINE_LENGTH} characters: {line[:50]!r}…"
                         for line in too_wide(text)]
        images = [(mime, data) for out in cell.get("outputs", []) for mime, data in out.get("data", {}).items()
                  if mime.startswith("image/")]
        for mime, data in images:
            if mime != "image/svg+xml":
                problems.append(f"cell {i}: {mime} figure (figures are SVG: "
                                '%config InlineBackend.figure_formats = ["svg"])')
            else:
                svg = data if isinstance(data, str) else base64.b64decode(data).decode()
                patch = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="([^"]*)"', svg)
                if patch and re.search(r"fill:\s*#ffffff", patch.group(1)):
                    problems.append(f"cell {i}: SVG figure with a white background "
                                    "(savefig.transparent / rcParams['savefig.transparent'] = True)")
        if images:
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            if len(alt.strip()) < 10:
                problems.append(f'cell {i}: figure without alt text (cell metadata {{"mystnb": '
                                '{"image": {"alt": "what the figure shows"}}})')
    return problems


def test_layout_rules_catch_what_they_should():
    """The checker itself, on a made-up notebook: each rule fires once, a clean notebook passes."""
    nb = nbformat.v4.new_notebook()
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    svg = nbformat.v4.new_output("display_data", data={
        "image/svg+xml": '<svg><g id="patch_1">\n<path d="M 0 0 L 1 1" style="fill: #ffffff"/></g></svg>'})
    nb.cells = [nbformat.v4.new_code_cell("x = 1  # " + "y" * 80),
                nbformat.v4.new_code_cell("print()", outputs=[nbformat.v4.new_output("stream", text="z" * 81)]),
                nbformat.v4.new_code_cell("plot()", outputs=[png]),
                nbformat.v4.new_code_cell("plot()", outputs=[svg])]
    problems = layout_problems(nb)
    assert [p.split(":")[0] for p in problems] == ["cell 0", "cell 1", "cell 2", "cell 2", "cell 3", "cell 3"], problems
    good_svg = nbformat.v4.new_output("display_data", data={
        "image/svg+xml": '<svg><g id="patch_1">\n<path d="M 0 0 L 1 1" style="fill: none"/></g></svg>'})
    good = nbformat.v4.new_code_cell("plot()", outputs=[good_svg])
    good.metadata["mystnb"] = {"image": {"alt": "A curve that falls to zero."}}
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), good]
    assert layout_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_fits_the_column_and_its_figures_are_svg_with_alt_text(path):
    problems = layout_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_starts_with_the_install_cell_for_repository_url(path):
    tool = _load_tool()
    nb = nbformat.read(path, as_version=4)
    assert tool.in_sync(nb, tool.repository_url()), (
        f"{path.name}: first cell is not the install cell for repository.url; "
        "run `python tools/sync_install_cell.py`")


def test_install_cell_installs_only_when_the_package_is_missing(monkeypatch):
    """The cell's code, run here: with the package installed it calls no pip (and prints
    nothing); with `backprop` missing it pip-installs git+repository.url. Syncing twice changes
    nothing; a changed url updates the cell in place."""
    import importlib.util as iu
    import subprocess

    tool = _load_tool()
    url = tool.repository_url()
    source = tool.install_source(url)
    assert all(len(line) <= LINE_LENGTH for line in source.splitlines())
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **k: calls.append(cmd))
    exec(compile(source, "install-cell", "exec"), {})
    assert calls == []
    real_find_spec = iu.find_spec
    monkeypatch.setattr(iu, "find_spec", lambda name, *a: None if name == "backprop" else real_find_spec(name, *a))
    exec(compile(source, "install-cell", "exec"), {})
    assert len(calls) == 1 and calls[0][1:] == ["-m", "pip", "install", "-q", f"git+{url}"], calls
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")])
    assert tool.sync(nb, url) and tool.in_sync(nb, url) and not tool.sync(nb, url)
    assert len(nb.cells) == 3 and nb.cells[1].source == "# T"
    assert tool.sync(nb, "https://example.org/fork") and len(nb.cells) == 3
    assert "git+https://example.org/fork" in nb.cells[0].source
