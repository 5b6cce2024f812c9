"""The built site in a real browser (Debian's chromium driven by Playwright), served from 127.0.0.1.

Every page: maths typeset by MathJax (no errors, no raw $$ left), every image loaded, no
JavaScript error, no request that fails or leaves the machine. Plus: an exercise solution opens
on click, a collapsed setup cell opens on click, the search page finds "Jacobian", and the site
also works opened from disk (file://). Screenshots of a chapter go to _build/screenshots/.

Chromium is never downloaded: `python3 dev.py test` installs Debian's package when missing.
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1"}
TIMEOUT_MS = 15_000

# Text a reader sees, without code listings and without MathJax's own output.
VISIBLE_TEXT_JS = """() => {
  const root = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode(n) {
    for (let e = n.parentElement; e; e = e.parentElement) {
      if (['PRE', 'CODE', 'SCRIPT', 'STYLE', 'MJX-CONTAINER'].includes(e.tagName)) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT;
  }});
  let text = '';
  while (walker.nextNode()) text += walker.currentNode.nodeValue;
  return text;
}"""

# Wait for every <img> (lazy ones too) and return the ones that did not load.
BROKEN_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => {
    if (img.loading === 'lazy') img.loading = 'eager';
    return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; setTimeout(r, 10000); });
  }));
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src'));
}"""

# Figures wider than the text column (they would overflow or force sideways scrolling).
OVERSIZED_IMAGES_JS = """() => {
  const article = document.querySelector('article');
  if (!article) return [];
  const right = article.getBoundingClientRect().right + 1;
  return Array.from(article.querySelectorAll('img'))
    .filter(img => img.getBoundingClientRect().right > right)
    .map(img => img.getAttribute('src') + ' (' + Math.round(img.getBoundingClientRect().width) + ' px)');
}"""

# Resolve when MathJax has typeset the page (or null when the page has no maths).
MATHJAX_DONE_JS = """async () => {
  if (!document.querySelector('.math')) return null;
  for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return {loaded: false};
  await MathJax.startup.promise;
  return {
    loaded: true,
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.math mjx-container').length,
    errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
  };
}"""


@pytest.fixture(scope="module")
def server(site):
    """http://127.0.0.1:<free port>/ serving the built site from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"the browser test needs Debian's chromium at {CHROMIUM}: "
                    "`python3 dev.py test` installs it (as root), or `sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Watched:
    """A browser tab that records console errors, page errors, failed requests and any request
    to a host that is not this machine (those are aborted, so nothing leaves the machine)."""

    def __init__(self, browser, viewport=(1280, 900)) -> None:
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"JavaScript error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "file") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.problems.append(f"request to a non-local host: {url}")
            route.abort()

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="load")

    def close(self) -> None:
        self.context.close()


def site_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if "_static" not in p.relative_to(site).parts)


def check_page(tab: Watched, url: str, redirects: bool = False) -> list[str]:
    """Load one page and return what is wrong with it as a reader would see it.
    `redirects`: the page is a <meta http-equiv="refresh"> redirect; check where it lands."""
    tab.problems.clear()
    tab.goto(url)
    if redirects:
        tab.page.wait_for_url(lambda now: now != url, wait_until="load")
    problems = []
    math = tab.page.evaluate(MATHJAX_DONE_JS)
    if math is not None:
        if not math["loaded"]:
            problems.append("MathJax did not load")
        else:
            if math["typeset"] < math["math"]:
                problems.append(f"only {math['typeset']} of {math['math']} formulas typeset")
            if math["errors"]:
                problems.append(f"{math['errors']} MathJax error node(s)")
    text = tab.page.evaluate(VISIBLE_TEXT_JS)
    for raw in ("$$", "\\[", "\\(", "\\begin{"):
        if raw in text:
            i = text.index(raw)
            problems.append(f"raw TeX {raw!r} in visible text: …{text[max(0, i - 40):i + 40]!r}…")
    broken = tab.page.evaluate(BROKEN_IMAGES_JS)
    problems += [f"image did not load: {src}" for src in broken]
    problems += [f"image wider than the text column: {src}" for src in tab.page.evaluate(OVERSIZED_IMAGES_JS)]
    tab.page.wait_for_load_state("networkidle")
    return problems + list(tab.problems)


def test_every_page_reads_cleanly(site, server, browser):
    """Open every page; screenshots of the first chapter with maths and figures."""
    pages = site_pages(site)
    assert len(pages) > 10
    tab = Watched(browser)
    report, with_math, images = {}, [], {}
    try:
        for rel in pages:
            redirects = 'http-equiv="refresh"' in (site / rel).read_text(encoding="utf-8").lower()
            problems = check_page(tab, server + rel, redirects)
            if problems:
                report[rel] = problems
            if tab.page.locator("mjx-container").count():
                with_math.append(rel)
            images[rel] = tab.page.locator("article img").count()
        # a chapter page as a reader sees it: its top, and its first figure
        chapters = [r for r in with_math if r.startswith("book/") and images.get(r)] or with_math
        assert chapters, "no page with typeset maths"
        shots = site.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        chapter = chapters[0]
        tab.goto(server + chapter)
        tab.page.evaluate(MATHJAX_DONE_JS)
        tab.page.screenshot(path=str(shots / "chapter-top.png"))
        if images.get(chapter):
            tab.page.locator("article img").first.scroll_into_view_if_needed()
            tab.page.screenshot(path=str(shots / "chapter-figure.png"))
    finally:
        tab.close()
    assert not report, "\n".join(f"{page}:\n  " + "\n  ".join(p) for page, p in report.items())
    assert (shots / "chapter-top.png").stat().st_size > 10_000


def test_solution_dropdown_opens_on_click(site, server, browser):
    """Every solution on a chapter page is collapsed and opens when its title is clicked (where a
    reader clicks: the middle of the title)."""
    pages = [r for r in site_pages(site)
             if 'class="solution dropdown' in (site / r).read_text(encoding="utf-8")]
    assert pages, "no exercise solution (sphinx-exercise, :class: dropdown) in the site"
    tab = Watched(browser)
    try:
        tab.goto(server + pages[0])
        solutions = tab.page.locator("div.solution.dropdown")
        assert solutions.count() >= 1
        for i in range(solutions.count()):
            body = solutions.nth(i).locator("section").first
            body.wait_for(state="hidden")  # collapsed by default
            solutions.nth(i).locator(".admonition-title").first.click()
            body.wait_for(state="visible")
            assert body.inner_text().strip()
        assert tab.page.url == server + pages[0], "a click followed a link instead of opening"
    finally:
        tab.close()
    assert not tab.problems, tab.problems


def test_collapsed_setup_cell_opens_on_click(site, server, browser):
    pages = [r for r in site_pages(site)
             if 'class="admonition hide above-input"' in (site / r).read_text(encoding="utf-8")]
    if not pages:
        pytest.skip("no cell tagged hide-input in the book yet")
    tab = Watched(browser)
    try:
        tab.goto(server + pages[0])
        details = tab.page.locator("details.hide.above-input").first
        code = details.locator("div.cell_input")
        assert not code.is_visible()
        details.locator("summary").click()
        code.wait_for(state="visible")
        assert code.inner_text().strip()
    finally:
        tab.close()
    assert not tab.problems, tab.problems


def test_search_finds_jacobian(site, server, browser):
    tab = Watched(browser)
    try:
        tab.goto(server + "search.html?q=Jacobian")
        results = tab.page.locator("#search-results ul.search li")
        results.first.wait_for(state="visible")
        texts = results.all_inner_texts()
        assert any("jacobian" in t.lower() for t in texts), texts
    finally:
        tab.close()
    assert not tab.problems, tab.problems


def test_site_opened_from_disk_typesets_maths_and_searches(site, browser):
    """The site opened as files (no server): relative paths, so MathJax and styles load, and the
    search page lists matching pages (its excerpts need a server: browsers block fetching files,
    which book/run_it_yourself.md says)."""
    tab = Watched(browser)
    try:
        pages = [r for r in site_pages(site) if r.startswith("book/")
                 and 'class="math notranslate' in (site / r).read_text(encoding="utf-8")]
        problems = check_page(tab, (site / pages[0]).as_uri())
        tab.goto((site / "search.html").as_uri() + "?q=Jacobian")
        results = tab.page.locator("#search-results ul.search li")
        results.first.wait_for(state="visible")
        assert any("jacobian" in t.lower() for t in results.all_inner_texts())
    finally:
        tab.close()
    assert not problems, problems  # (the search page's failed excerpt fetches are expected)
