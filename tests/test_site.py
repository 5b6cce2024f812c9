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
        if (
            tag == "meta"
            and a.get("http-equiv", "").lower() == "refresh"
            and "url=" in a.get("content", "").lower()
        ):
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
        bad += [
            f"{where}: inline code names {m}"
            for code in page.inline
            for m in re.findall(r"https?://[^\s'\"<>)]+", code)
        ]
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


def test_maths_is_typeset_at_build_time(site):
    """tools/finish_site.cjs (run by `dev.py build`) typeset every formula as SVG: no page loads a
    MathJax script or keeps raw TeX in a math element, each page carries its own MathJax stylesheet
    and fetches no maths font (MathJax's tiny zero-width font is inline), and every glyph a formula draws (<use href="#MJX-...">) is defined
    in the page's hidden glyph <svg>."""
    pages_with_math = 0
    bad = []
    for path in html_files(site):
        text = path.read_text(encoding="utf-8")
        if 'class="math notranslate' not in text:
            continue
        pages_with_math += 1
        where = path.relative_to(site)
        scripts = [u for tag, u in parse(path).fetched if tag == "script" and "mathjax" in u.lower()]
        if scripts:
            bad.append(f"{where}: loads {scripts}")
        raw = re.findall(r'class="math notranslate nohighlight"[^>]*>\s*\\[(\[]', text)
        if raw:
            bad.append(f"{where}: {len(raw)} formulas left as TeX")
        css = re.search(r'<style id="mathjax-svg">(.*?)</style>', text, re.S)
        if not css:
            bad.append(f"{where}: no MathJax stylesheet")
        else:
            fetched = [
                u for u in re.findall(r'url\(\s*"?([^")]+)', css.group(1)) if not u.startswith("data:")
            ]
            if fetched:
                bad.append(f"{where}: the MathJax stylesheet fetches {fetched[:3]}")
        defined = set(re.findall(r'<path id="(MJX-[^"]+)"', text))
        used = set(re.findall(r'<use [^>]*href="#(MJX-[^"]+)"', text))
        if not used or used - defined:
            bad.append(f"{where}: {len(used)} glyphs drawn, undefined: {sorted(used - defined)[:5]}")
    assert pages_with_math >= 10
    assert not bad, "\n".join(bad)


def test_pages_do_not_load_the_icon_script(site):
    """The theme's 1.5 MB Font Awesome script is dropped (its stylesheet draws the icons)."""
    bad = [
        str(p.relative_to(site))
        for p in html_files(site)
        if any("fontawesome.js" in u for _, u in parse(p).fetched)
    ]
    assert not bad, bad


def test_whole_book_pdf_and_notebook_zip_are_linked_from_the_first_page(site):
    intro = parse(site / "book" / "intro.html")
    for suffix in (".pdf", ".zip"):
        links = [u for u in intro.links if u.endswith(suffix)]
        assert links, f"no {suffix} download on the first page"
        target, _ = local_target(site, site / "book" / "intro.html", links[0])
        assert target.is_file() and target.stat().st_size > 10_000, target


def test_notebook_zip_holds_every_chapter_with_its_install_cell_and_the_wheel(site):
    """Every chapter as stored, and the package's wheel that their install cell takes from beside
    them (tests/test_learner.py installs from it offline)."""
    import zipfile

    zips = list(site.glob("*.zip"))
    assert len(zips) == 1
    with zipfile.ZipFile(zips[0]) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".ipynb"))
        wheels = [n for n in z.namelist() if n.endswith(".whl")]
        assert names == sorted(p.name for p in (ROOT / "book").glob("*.ipynb")), names
        assert len(wheels) == 1 and wheels[0].startswith("backprop_three_ways-"), z.namelist()
        assert len(z.namelist()) == len(names) + 1
        for name in names:
            assert (
                nbformat.reads(z.read(name).decode(), as_version=4).cells
                == nbformat.read(ROOT / "book" / name, as_version=4).cells
            )


def test_repository_url_is_the_only_place_that_names_the_repository():
    """Launch buttons come from repository.url; the pages that print clone/install commands
    must name the same repository (a fork changes one line and re-runs the sync tool)."""
    for page in ("book/run_it_yourself.md", "README.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        named = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text))
        assert named <= {REPO_URL}, (page, named - {REPO_URL})


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
                bad.append(
                    f"{where} (no file {target.relative_to(site) if target.is_relative_to(site) else target})"
                )
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
    title = next(c for c in stored.cells if c.cell_type == "markdown")
    assert title.source.lstrip().startswith("# ")


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
