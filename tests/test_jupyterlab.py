"""A chapter opened the way a learner opens it: JupyterLab from the learner's install (.venv-learner,
made by `python3 dev.py test`), as book/run_it_yourself.md says, driven through its UI by Playwright
in Debian's chromium.

Before running anything (a freshly cloned notebook is untrusted: JupyterLab draws no SVG then)
every figure shows, and no Markdown cell shows raw MyST (a directive fence, an option line, a
role, `$$`) — jupyterlab-myst renders the exercises, the collapsed solutions and the maths. Then
Run → Run All Cells: every cell runs without an error output, and the figures still show.
The notebook is a copy in a temporary folder (JupyterLab saves what it runs).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEARNER = Path(os.environ.get("BACKPROP_LEARNER_VENV", ROOT / ".venv-learner"))
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHAPTER = "04_differentials.ipynb"  # exercises, solutions, equations, links, a figure
RAW_MYST = ["```{", ":::{", "{glue", "{ref}", "{doc}", "{eq}", ":label:", ":class:", "$$", "<!--"]
SETTINGS = {  # render every cell (JupyterLab 4 otherwise only renders the cells in view)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab (learner's install) serving a copy of book/ on 127.0.0.1, with its own config."""
    jupyter = LEARNER / "bin" / "jupyter"
    if not jupyter.exists():
        pytest.fail(f"no learner's install at {LEARNER}: `python3 dev.py test` creates it")
    tmp = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "book", tmp / "book")
    for name, value in SETTINGS.items():
        (tmp / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / "settings" / name).write_text(json.dumps(value))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_DATA_DIR": str(tmp / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws"),
        "PATH": f"{LEARNER / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    port = free_port()
    proc = subprocess.Popen(
        [
            str(jupyter),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--allow-root",
            f"--ServerApp.root_dir={tmp / 'book'}",
            f"--LabApp.user_settings_dir={tmp / 'settings'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "lab.log", "w"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            import urllib.request

            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
    yield url, tmp
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def page(lab):
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is needed at {CHROMIUM} (python3 dev.py test installs it)")
    from playwright.sync_api import sync_playwright

    url, _ = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 1000})
        tab.goto(f"{url}/lab/tree/{CHAPTER}")
        tab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        # .myst: a Markdown cell rendered by jupyterlab-myst (JupyterLab's own renderer makes
        # .jp-RenderedMarkdown, which shows every directive as a code block)
        tab.wait_for_function(
            "() => { const n = document.querySelectorAll('.jp-MarkdownCell').length;"
            " return n > 5 && document.querySelectorAll('.jp-MarkdownCell .myst').length === n; }",
            timeout=60_000,
        )
        settled(tab)
        yield tab
        browser.close()


def settled(tab, polls: int = 3) -> None:
    """Wait until the number of rendered outputs stops changing (the last replies have arrived)."""
    count, same = -1, 0
    while same < polls:
        now = tab.eval_on_selector_all(".jp-OutputArea-output", "els => els.length")
        same, count = (same + 1, count) if now == count else (0, now)
        time.sleep(1)


def markdown_texts(tab) -> list[str]:
    return tab.eval_on_selector_all(".jp-MarkdownCell .myst", "els => els.map(e => e.innerText)")


def figures(tab) -> list[dict]:
    """Every image output: whether it is drawn (an <img> or <svg> with a size), once each has loaded."""
    tab.wait_for_function(
        "[...document.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete)", timeout=30_000
    )
    return tab.eval_on_selector_all(
        ".jp-OutputArea-output img, .jp-OutputArea-output svg",
        "els => els.map(e => ({tag: e.tagName, w: e.getBoundingClientRect().width,"
        " ok: e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0)}))",
    )


def figure_cells(tab) -> int:
    return tab.eval_on_selector_all(
        ".jp-OutputArea-output", "els => els.filter(e => /<Figure size/.test(e.innerText)).length"
    )


def test_the_chapter_reads_without_raw_myst_before_anything_runs(page):
    texts = markdown_texts(page)
    raw = [(m, t[:80]) for t in texts for m in RAW_MYST if m in t]
    assert raw == [], raw
    plain = page.eval_on_selector_all(".jp-MarkdownCell .jp-RenderedMarkdown", "els => els.length")
    assert plain == 0, "Markdown cells rendered without jupyterlab-myst"
    solutions = page.eval_on_selector_all(
        "details.myst-exercise", "els => els.map(e => [e.open, e.innerText])"
    )
    assert solutions and all(t.startswith("Solution to") for _, t in solutions), solutions
    assert not any(is_open for is_open, _ in solutions), "a solution is open: the learner should try first"
    assert page.eval_on_selector_all(
        ".myst-exercise-title", "els => els.filter(e => /^Exercise/.test(e.innerText)).length"
    )


def test_figures_show_in_the_untrusted_notebook(page):
    drawn = figures(page)
    assert drawn and all(f["ok"] and f["w"] > 100 for f in drawn), drawn
    assert figure_cells(page) == 0, "a figure shows as '<Figure size …>' text"


def test_run_all_cells_through_the_menu(page):
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText);"
        " return p.length > 0 && p.every(t => /\\[\\d+\\]/.test(t)); }",
        timeout=300_000,
    )
    settled(page)
    errors = page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'],"
        " .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']",
        "els => els.map(e => e.innerText.slice(0, 300))",
    )
    assert errors == [], errors
    drawn = figures(page)
    assert drawn and all(f["ok"] and f["w"] > 100 for f in drawn), drawn
