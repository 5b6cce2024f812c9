"""The built website as readers get it: self-contained (nothing loaded from the network), every
internal link resolves, launch/download buttons on notebook pages, collapsible setup cells.

Static checks over the HTML of the `site` fixture (tests/conftest.py); tests/test_browser.py
opens the same pages in a real browser.
"""
from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
REPO_PATH = urlsplit(REPO_URL).path.strip("/")  # owner/name
MATHJAX_SCRIPT = "_static/mathjax/tex-mml-chtml.js"

# Attributes through which a page makes the browser fetch something (as opposed to <a href>,
# which is a link a reader may follow).
FETCHING = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "object": ("data",),
    "input": ("src",),
}
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)|@import\s+['\"]([^'\"]+)['\"]")


class Page(HTMLParser):
    """Collects the ids, the fetched resources, the links and the inline code of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.fetched: list[tuple[str, str]] = []  # (tag, url)
        self.links: list[str] = []  # <a href>
        self.inline: list[str] = []  # bodies of <script> and <style>, style="" attributes
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(a[key])
        for attr in FETCHING.get(tag, ()):
            if a.get(attr):
                urls = [u.strip().split()[0] for u in a[attr].split(",")] if attr == "srcset" else [a[attr]]
                self.fetched += [(tag, u) for u in urls if u]
        if tag == "link" and a.get("href"):
            self.fetched.append((f"link rel={a.get('rel', '')}", a["href"]))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh" and "url=" in a.get("content", "").lower():
            self.links.append(re.split(r"(?i)url=", a["content"], maxsplit=1)[1].strip("'\" "))
        if a.get("style"):
            self.inline.append(a["style"])
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.inline.append(data)


def html_files(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


_parsed: dict[Path, Page] = {}


def parse(path: Path) -> Page:
    if path not in _parsed:
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        _parsed[path] = page
    return _parsed[path]


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.scheme not in ("data", "blob")) or url.startswith("//")


def local_target(site: Path, page: Path, url: str) -> tuple[Path, str] | None:
    """(file, fragment) that a relative url on `page` points to; None for mailto:, data: etc."""
    parts = urlsplit(url)
    if parts.scheme or url.startswith("//"):
        return None
    path = unquote(parts.path)
    if not path:
        target = page
    elif path.startswith("/"):
        target = site / path.lstrip("/")
    else:
        target = Path(posixpath.normpath(posixpath.join(page.parent.as_posix(), path)))
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def notebook_pages() -> list[str]:
    """Toc entries that are notebooks, e.g. 'book/02_subscripts'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc.get("parts", []) for ch in part["chapters"]]
    return [f for f in files if (ROOT / f"{f}.ipynb").exists()]


# ---------------------------------------------------------------- nothing from the network


def test_pages_fetch_nothing_from_the_network(site):
    """No script, stylesheet, font, image or frame comes from outside (links to outside are fine)."""
    pages = html_files(site)
    assert len(pages) > 10, pages
    bad = []
    for path in pages:
        page = parse(path)
        where = path.relative_to(site)
        bad += [f"{where}: <{tag}> {url}" for tag, url in page.fetched if is_external(url)]
        # inline scripts/styles that name a URL would load it at run time (e.g. thebe's CDN copy)
        bad += [f"{where}: inline code names {m}" for code in page.inline
                for m in re.findall(r"https?://[^\s'\"<>)]+", code)]
    assert not bad, "external resources:\n" + "\n".join(bad)


def test_stylesheets_fetch_nothing_from_the_network_and_their_files_exist(site):
    """Every url()/@import in the site's CSS (theme fonts, MathJax fonts) is a local file."""
    css_files = sorted(site.rglob("*.css"))
    assert css_files
    bad = []
    for css in css_files:
        text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        for m in CSS_URL.finditer(text):
            url = (m.group(1) or m.group(2)).strip()
            if url.startswith(("data:", "#")):
                continue
            if is_external(url):
                bad.append(f"{css.relative_to(site)}: {url}")
                continue
            target = (css.parent / unquote(urlsplit(url).path)).resolve()
            if not target.exists():
                bad.append(f"{css.relative_to(site)}: missing {url}")
    assert not bad, "\n".join(bad)


def test_mathjax_is_served_by_the_site(site):
    """Pages with maths load exactly one MathJax script, the site's own copy, with its fonts and
    TeX extensions; no other MathJax file is injected into pages (Jupyter Book 1's _static trap)."""
    assert (site / MATHJAX_SCRIPT).is_file()
    assert (site / "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert (site / "_static/mathjax/input/tex/extensions").is_dir()
    pages_with_math = 0
    for path in html_files(site):
        page = parse(path)
        scripts = [u for tag, u in page.fetched if tag == "script"]
        mathjax = [u for u in scripts if "mathjax" in u.lower()]
        text = path.read_text(encoding="utf-8")
        if 'class="math notranslate' in text:
            pages_with_math += 1
            assert len(mathjax) == 1, (path, mathjax)
            target, _ = local_target(site, path, mathjax[0])
            assert target.resolve() == (site / MATHJAX_SCRIPT).resolve(), (path, mathjax)
        else:
            assert len(mathjax) <= 1, (path, mathjax)
    assert pages_with_math >= 1


# ---------------------------------------------------------------- links


def test_every_internal_link_and_resource_resolves(site):
    """Offline link check: every relative href/src (and #anchor) points to an existing file/id."""
    bad = []
    checked = 0
    for path in html_files(site):
        page = parse(path)
        for url in page.links + [u for _, u in page.fetched]:
            hit = local_target(site, path, url)
            if hit is None:
                continue
            target, fragment = hit
            checked += 1
            where = f"{path.relative_to(site)}: {url}"
            if not target.resolve().is_relative_to(site.resolve()):
                bad.append(f"{where} leaves the site")
            elif not target.is_file():
                bad.append(f"{where} (no file {target.relative_to(site) if target.is_relative_to(site) else target})")
            elif fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                bad.append(f"{where} (no id {fragment!r})")
    assert checked > 100
    assert not bad, "broken internal links:\n" + "\n".join(bad)


# ---------------------------------------------------------------- notebook pages


@pytest.mark.parametrize("name", notebook_pages())
def test_notebook_page_has_binder_colab_and_download_buttons(site, name):
    page = parse(site / f"{name}.html")
    binder = f"https://mybinder.org/v2/gh/{REPO_PATH}/{BRANCH}?urlpath=lab/tree/{name}.ipynb"
    colab = f"https://colab.research.google.com/github/{REPO_PATH}/blob/{BRANCH}/{name}.ipynb"
    assert binder in page.links, [u for u in page.links if "binder" in u]
    assert colab in page.links, [u for u in page.links if "colab" in u]
    download = [u for u in page.links if u.endswith(f"_sources/{name}.ipynb")]
    assert download, "no download-notebook link"
    target, _ = local_target(site, site / f"{name}.html", download[0])
    stored = nbformat.read(target, as_version=4)
    assert stored.cells and stored.cells[0].cell_type == "markdown"


def test_binder_builds_from_the_root_environment_yml():
    """repo2docker uses environment.yml at the root, unless a binder/ folder overrides it."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()
    deps = env["dependencies"]
    assert any(str(d).startswith("python") for d in deps)
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip, "the notebooks import backprop: Binder must install the package"


@pytest.mark.parametrize("name", notebook_pages())
def test_setup_cells_are_collapsed(site, name):
    """Every code cell tagged hide-input is rendered as a closed 'Show code cell source' toggle."""
    nb = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
    tagged = sum(1 for c in nb.cells if "hide-input" in c.metadata.get("tags", []))
    html = (site / f"{name}.html").read_text(encoding="utf-8")
    assert html.count('<details class="admonition hide above-input">') == tagged


@pytest.mark.parametrize("name", [n for n in notebook_pages() if n.startswith("book/")])
def test_chapter_starts_with_what_the_reader_can_do_afterwards(name):
    nb = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    assert first_md.source.lstrip().startswith("# "), "first cell: the `# Title` heading"
    assert "After this chapter you can" in first_md.source


def test_custom_css_is_on_every_page(site):
    for path in html_files(site):
        if path.name == "index.html" and path.parent == site:
            continue  # the redirect page
        assert any(u.split("?")[0].endswith("_static/custom.css") for _, u in parse(path).fetched), path
