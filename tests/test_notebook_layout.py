"""Notebooks made for screens and for wherever a learner opens them: what the site shows fits its
column; figures are SVG (the site) with a PNG beside it (JupyterLab draws no SVG in an untrusted,
i.e. freshly downloaded, notebook) and alt text; the Markdown uses no MyST role that only the book
build understands (JupyterLab with jupyterlab-myst shows `{glue:text}`, `{ref}`, `{doc}` as raw
text: numbers in prose are `VALUE<!-- glue:NAME -->`, links are plain Markdown links); no cell
imports the book toolchain (a chapter runs with the learner's install); every notebook starts
with the install cell (tools/sync_install_cell.py).

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
    spec = importlib.util.spec_from_file_location(
        "sync_install_cell", ROOT / "tools" / "sync_install_cell.py"
    )
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
            if "text/plain" in out.data and not any(
                k.startswith("image/") or k == "text/html" for k in out.data
            ):
                texts.append(out.data["text/plain"])
        elif out.output_type == "error":
            texts.append(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(out.traceback)))
    return texts


def too_wide(text: str, limit: int = LINE_LENGTH) -> list[str]:
    return [line for line in text.splitlines() if len(line.expandtabs(4)) > limit]


# Roles that the book understands and JupyterLab (jupyterlab-myst), Colab and GitHub do not.
BOOK_ONLY_ROLES = {
    "glue": "write the value, then <!-- glue:NAME --> (tools/prose_numbers.py)",
    "ref": "a Markdown link [text](page.ipynb#heading-anchor) or [text](#label)",
    "doc": "a Markdown link [text](page.ipynb)",
    "eval": "the book does not execute notebooks: see glue",
    "numref": "a Markdown link",
}


def book_only_roles(markdown: str) -> list[tuple[str, str]]:
    roles = re.findall(r"\{([a-z]+)(?::[a-z]+)?\}`", markdown)
    return [(r, BOOK_ONLY_ROLES[r]) for r in roles if r in BOOK_ONLY_ROLES]


def figure_problems(i: int, cell) -> list[str]:
    """A figure output: an SVG (transparent) with a PNG of the same figure beside it, alt text."""
    problems = []
    for out in cell.get("outputs", []):
        mimes = {m for m in out.get("data", {}) if m.startswith("image/")}
        if not mimes:
            continue
        if mimes != {"image/svg+xml", "image/png"}:
            problems.append(
                f"cell {i}: figure as {sorted(mimes)}, not SVG + PNG "
                '(%config InlineBackend.figure_formats = ["svg", "png"])'
            )
        if "image/svg+xml" in mimes:
            data = out.data["image/svg+xml"]
            svg = data if isinstance(data, str) else base64.b64decode(data).decode()
            patch = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="([^"]*)"', svg)
            if patch and re.search(r"fill:\s*#ffffff", patch.group(1)):
                problems.append(
                    f"cell {i}: SVG figure with a white background "
                    "(savefig.transparent / rcParams['savefig.transparent'] = True)"
                )
    has_figure = any(m.startswith("image/") for out in cell.get("outputs", []) for m in out.get("data", {}))
    if has_figure and len(cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "").strip()) < 10:
        problems.append(
            f'cell {i}: figure without alt text (cell metadata {{"mystnb": '
            '{"image": {"alt": "what the figure shows"}}})'
        )
    return problems


def layout_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything in one notebook that breaks the rules above (cell numbers count from 0)."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        problems += [
            f"cell {i}: code line of {len(line)} > {LINE_LENGTH} characters: {line[:50]!r}…"
            for line in too_wide(cell.source)
        ]
        for text in text_outputs(cell):
            problems += [
                f"cell {i}: output line of {len(line)} > {LINE_LENGTH} characters: {line[:50]!r}…"
                for line in too_wide(text)
            ]
        problems += figure_problems(i, cell)
        if re.search(r"^\s*(from|import)\s+(myst_nb|jupyter_book|sphinx)\b", cell.source, re.M):
            problems.append(f"cell {i}: imports the book toolchain (use backprop.show.glue)")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            problems += [
                f"cell {i}: MyST role {{{role}}} (JupyterLab shows it raw): {hint}"
                for role, hint in book_only_roles(cell.source)
            ]
    return problems


def test_layout_rules_catch_what_they_should():
    """The checker itself, on a made-up notebook: each rule fires once, a clean notebook passes."""
    nb = nbformat.v4.new_notebook()
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    white = '<svg><g id="patch_1">\n<path d="M 0 0 L 1 1" style="fill: #ffffff"/></g></svg>'
    svg_png = nbformat.v4.new_output(
        "display_data", data={"image/svg+xml": white, "image/png": "iVBORw0KGgo="}
    )
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1  # " + "y" * 80),
        nbformat.v4.new_code_cell("print()", outputs=[nbformat.v4.new_output("stream", text="z" * 81)]),
        nbformat.v4.new_code_cell("plot()", outputs=[png]),
        nbformat.v4.new_code_cell("plot()", outputs=[svg_png]),
        nbformat.v4.new_code_cell("from myst_nb import glue"),
        nbformat.v4.new_markdown_cell("{glue:text}`acc:.1f` and {ref}`x` and {doc}`y`, {eq}`z`"),
    ]
    problems = layout_problems(nb)
    assert [p.split(":")[0] for p in problems] == (
        ["cell 0", "cell 1", "cell 2", "cell 2", "cell 3", "cell 3", "cell 4"] + ["cell 5"] * 3
    ), problems
    good_svg = '<svg><g id="patch_1">\n<path d="M 0 0 L 1 1" style="fill: none"/></g></svg>'
    good = nbformat.v4.new_code_cell(
        "plot()",
        outputs=[
            nbformat.v4.new_output(
                "display_data", data={"image/svg+xml": good_svg, "image/png": "iVBORw0KGgo="}
            )
        ],
    )
    good.metadata["mystnb"] = {"image": {"alt": "A curve that falls to zero."}}
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        good,
        nbformat.v4.new_markdown_cell("97.8<!-- glue:acc --> %, [the rule](notation.md#the-shape-rule)"),
    ]
    assert layout_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_fits_the_column_reads_anywhere_and_has_described_figures(path):
    problems = layout_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_starts_with_the_install_cell_for_repository_url(path):
    tool = _load_tool()
    nb = nbformat.read(path, as_version=4)
    assert tool.in_sync(nb, tool.repository_url()), (
        f"{path.name}: first cell is not the install cell for repository.url; "
        "run `python tools/sync_install_cell.py`"
    )


def _run_install_cell(source: str, cwd: Path, monkeypatch) -> list:
    """Run the cell's code in `cwd` with pip replaced by a recorder; returns pip's commands."""
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **k: calls.append(cmd))
    monkeypatch.chdir(cwd)
    exec(compile(source, "install-cell", "exec"), {})
    return calls


class _Missing:
    """An import hook under which `import backprop` fails until `installed` is set (a fake pip)."""

    def __init__(self):
        self.installed = False

    def find_spec(self, name, path=None, target=None):
        if name == "backprop" and not self.installed:
            raise ModuleNotFoundError("No module named 'backprop'")
        return None


def test_install_cell_installs_only_when_the_package_is_missing(monkeypatch, tmp_path):
    """The cell's code, run here: with the package installed it calls no pip (and prints nothing);
    with `backprop` missing it pip-installs the distribution backprop-three-ways with the
    chapters' extra from git+repository.url, or from a wheel beside the notebook when there is
    one; PyPI's unrelated `backprop` is refused with a message. Syncing twice changes nothing;
    a changed url updates the cell in place."""
    import sys
    import types

    tool = _load_tool()
    url = tool.repository_url()
    source = tool.install_source(url)
    assert all(len(line) <= LINE_LENGTH for line in source.splitlines())
    assert _run_install_cell(source, tmp_path, monkeypatch) == []

    hook = _Missing()
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "backprop")
    calls = []

    def pip(cmd, **kw):  # "installs": from now on the import succeeds
        calls.append(cmd)
        hook.installed = True

    monkeypatch.setattr("subprocess.check_call", pip)
    exec(compile(source, "install-cell", "exec"), {})
    assert [c[1:] for c in calls] == [
        ["-m", "pip", "install", "-q", f"backprop-three-ways[chapters] @ git+{url}"]
    ]

    wheel = tmp_path / "backprop_three_ways-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    hook.installed, calls[:] = False, []
    monkeypatch.delitem(sys.modules, "backprop", raising=False)
    exec(compile(source, "install-cell", "exec"), {})
    assert calls[0][-1] == f"backprop-three-ways[chapters] @ {wheel.resolve().as_uri()}"

    monkeypatch.setitem(sys.modules, "backprop", types.ModuleType("backprop"))  # PyPI's backprop
    with pytest.raises(ImportError, match="another package"):
        exec(compile(source, "install-cell", "exec"), {})

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")]
    )
    assert tool.sync(nb, url) and tool.in_sync(nb, url) and not tool.sync(nb, url)
    assert len(nb.cells) == 3 and nb.cells[1].source == "# T"
    assert tool.sync(nb, "https://example.org/fork") and len(nb.cells) == 3
    assert "git+https://example.org/fork" in nb.cells[0].source
