"""The book builds with warnings as errors, and every page of _toc.yml is in the site."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part["chapters"]:
            files.append(ch["file"])
            files += [s["file"] for s in ch.get("sections", [])]
    return files


def test_every_toc_page_is_built(site):
    for f in toc_files():
        assert (site / f"{f}.html").exists(), f


def test_every_book_page_is_in_the_toc():
    listed = set(toc_files())
    for p in (ROOT / "book").rglob("*"):
        if p.suffix in (".md", ".ipynb") and ".ipynb_checkpoints" not in p.parts:
            assert str(p.relative_to(ROOT).with_suffix("")) in listed, f"{p} is not in _toc.yml"
