"""Put the install cell first in every notebook under book/ (or check that it is there).

    python tools/sync_install_cell.py [--check] [NOTEBOOK ...]     # default: every book/*.ipynb

(with no NOTEBOOK it also rewrites the clone and `pip install git+...` commands of README.md and
book/run_it_yourself.md to the same repository)

A notebook downloaded from the site or opened in Colab runs outside this repository, where the
package `backprop` is not installed. Its first cell therefore installs the package (the
distribution `backprop-three-ways`), only when `import backprop` fails: from the wheel that the
notebooks zip carries beside the notebooks (tools/notebooks_zip.py), else from the repository
named by `repository.url` in _config.yml. It checks `backprop.__course__`, so that PyPI's
unrelated `backprop` is refused with a message instead of being taken for this package. Where
the package is installed (this repository, Binder, nbval) it does nothing and prints nothing. The cell is tagged `remove-cell`, so the website does not show it, and
`install-backprop`, by which this tool finds it again. Re-run the tool after changing
`repository.url` (tests/test_notebook_layout.py fails while any notebook is out of sync).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "install-backprop"
TAGS = ["remove-cell", TAG]
# Pages whose clone and `pip install git+...` commands name the repository.
PAGES = [ROOT / "README.md", ROOT / "book" / "run_it_yourself.md"]
REPO_IN_COMMAND = re.compile(r"(git clone |git\+)(https?://[^\s\"'`]+?)(\.git)?(?=[\s\"'`]|$)", re.M)


def repository_url(config_path: Path = ROOT / "_config.yml") -> str:
    return yaml.safe_load(config_path.read_text())["repository"]["url"].rstrip("/")


def install_source(url: str) -> str:
    """The cell's code: installs the package (with the chapters' other needs, as ranges, so that
    Colab keeps its own numpy) from a wheel beside the notebook (the notebooks zip carries one)
    or else from git+URL, when `import backprop` fails; refuses PyPI's unrelated `backprop`."""
    return (
        "# Installs this book's package `backprop` where it is missing (Colab, a\n"
        "# downloaded notebook): from the wheel beside this notebook if there is one,\n"
        "# else from the book's repository. Does nothing where it is installed.\n"
        "import glob, importlib, pathlib, subprocess, sys\n"
        "\n"
        f'REPO = "git+{url}"\n'
        "\n"
        "\n"
        "def course_package_installed():\n"
        "    try:\n"
        "        import backprop\n"
        "    except ImportError:\n"
        "        return False\n"
        '    if getattr(backprop, "__course__", None) != "backprop-three-ways":\n'
        "        raise ImportError(\n"
        '            "`import backprop` finds another package (PyPI\'s backprop?), not "\n'
        '            "this book\'s: pip uninstall backprop, then restart the kernel"\n'
        "        )\n"
        "    return True\n"
        "\n"
        "\n"
        "if not course_package_installed():\n"
        '    wheels = sorted(glob.glob("backprop_three_ways-*.whl"))\n'
        "    where = pathlib.Path(wheels[-1]).resolve().as_uri() if wheels else REPO\n"
        '    package = f"backprop-three-ways[chapters] @ {where}"\n'
        '    pip = [sys.executable, "-m", "pip", "install", "-q"]\n'
        "    subprocess.check_call([*pip, package])\n"
        "    importlib.invalidate_caches()\n"
        "    assert course_package_installed()"
    )


def install_cell(url: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(install_source(url))
    cell.metadata["tags"] = list(TAGS)
    cell.pop("id", None)
    return cell


def in_sync(nb: nbformat.NotebookNode, url: str) -> bool:
    """True when the first cell is the install cell for `url` (no outputs) and no other is."""
    if not nb.cells:
        return False
    first = nb.cells[0]
    others = [c for c in nb.cells[1:] if TAG in c.metadata.get("tags", [])]
    return (
        first.cell_type == "code"
        and first.source == install_source(url)
        and first.metadata.get("tags", []) == TAGS
        and not first.get("outputs")
        and not others
    )


def sync(nb: nbformat.NotebookNode, url: str) -> bool:
    """Insert or update the install cell in place; returns True when the notebook changed."""
    if in_sync(nb, url):
        return False
    old = [c for c in nb.cells if TAG in c.metadata.get("tags", [])]
    keep_id = old[0].get("id") if old else None
    nb.cells = [c for c in nb.cells if TAG not in c.metadata.get("tags", [])]
    cell = install_cell(url)
    if nb.nbformat == 4 and nb.nbformat_minor >= 5:
        cell["id"] = keep_id or "install-backprop"
    nb.cells.insert(0, cell)
    return True


def sync_page(text: str, url: str) -> str:
    """`text` with every clone / git+ command naming `url` (and `cd NAME` after a clone)."""
    name = url.rsplit("/", 1)[-1]
    text = REPO_IN_COMMAND.sub(lambda m: m.group(1) + url, text)
    return re.sub(r"(git clone \S+\n)cd \S+", lambda m: m.group(1) + f"cd {name}", text)


def notebooks(args: list[str]) -> list[Path]:
    return [Path(a) for a in args] if args else sorted((ROOT / "book").glob("*.ipynb"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = notebooks([a for a in argv if a != "--check"])
    url = repository_url()
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if check:
            if not in_sync(nb, url):
                stale.append(path)
        elif sync(nb, url):
            nbformat.write(nb, path)
            print(f"install cell written: {path}")
    if not [a for a in argv if a != "--check"]:
        for page in PAGES:
            text = page.read_text(encoding="utf-8")
            if sync_page(text, url) != text:
                if check:
                    stale.append(page)
                else:
                    page.write_text(sync_page(text, url), encoding="utf-8")
                    print(f"repository commands updated: {page}")
    if stale:
        print(
            "install cell missing or out of date (run python tools/sync_install_cell.py):\n  "
            + "\n  ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
