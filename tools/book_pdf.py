"""The whole book as one PDF, printed by Chromium from one HTML page (run by `python3 dev.py build`).

    python tools/book_pdf.py assemble SITE            # SITE/book/whole_book.html: every page in toc order
    python tools/book_pdf.py print SITE OUT.pdf       # print it (A4) and delete the page again

`assemble` runs before tools/finish_site.cjs (which typesets the maths of every page, this one
included); `print` opens the page (served from 127.0.0.1) in Debian's chromium through Playwright with print media, checks
that no code block or formula is wider than the printed column (code wraps in print, see
book/_static/custom.css), writes the PDF and removes the page so the site holds only the PDF.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = "book/whole_book.html"
CHROMIUM = Path("/usr/bin/chromium")
ARTICLE = re.compile(r'(<article class="bd-article">)(.*?)(</article>)', re.S)

# Elements (code blocks, formulas, tables, figures) cut in print: a box that clips its content
# (overflow not visible) and holds more than its width, or content that reaches past the right edge
# of the printed column. (A visible overflow of a few pixels inside the column, such as the bar of
# an in-line \overline, is not cut.)
CUT_OFF_JS = """() => { const right = document.querySelector('article').getBoundingClientRect().right;
  return Array.from(document.querySelectorAll('article pre, article mjx-container, article table, article img'))
  .filter(e => (getComputedStyle(e).overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1) ||
               e.getBoundingClientRect().left + Math.max(e.scrollWidth, e.getBoundingClientRect().width) > right + 1)
  .map(e => e.tagName.toLowerCase() + ': ' + (e.textContent || e.getAttribute('src') || '').slice(0, 60)); }"""


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    return [f.removesuffix(".md").removesuffix(".ipynb") for f in files]


def assemble(site: Path) -> Path:
    """Concatenate the article of every toc page into a copy of the first page."""
    pages = toc_pages()
    articles, styles = [], []
    for name in pages:
        html = (site / f"{name}.html").read_text(encoding="utf-8")
        m = ARTICLE.search(html)
        if not m:
            raise SystemExit(f"book_pdf: no <article> in {name}.html")
        body = m.group(2)
        # pages already finished by an earlier build carry typeset maths and its stylesheet
        styles += re.findall(r'<style id="mathjax-svg">.*?</style>', html, re.S)
        # everything open in print: collapsed cells and solution dropdowns
        body = body.replace("<details class=", "<details open class=")
        body = re.sub(r'class="([^"]*\b(?:solution|exercise)\b[^"]*)\bdropdown\b', r'class="\1', body)
        # ids are unique per page only: prefix them with the page (not MathJax's glyph ids, which
        # name the same glyph on every page and which the formulas' <use href> point to)
        stem = name.split("/")[-1]
        body = re.sub(r'\bid="((?!MJX-)[^"]+)"', lambda i: f'id="{stem}--{i.group(1)}"', body)
        articles.append(f'<section class="whole-book-page" data-page="{name}">{body}</section>')
    first = (site / f"{pages[0]}.html").read_text(encoding="utf-8")
    first = re.sub(r'<style id="mathjax-svg">.*?</style>', "", first, flags=re.S)
    whole = ARTICLE.sub(lambda m: m.group(1) + "\n".join(articles) + m.group(3), first, count=1)
    whole = whole.replace(
        "</head>",
        "\n".join(s.replace('id="mathjax-svg"', 'class="mathjax-svg"') for s in styles) + "\n</head>",
        1,
    )
    out = site / PAGE
    out.write_text(whole, encoding="utf-8")
    return out


def print_pdf(site: Path, pdf: Path) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import sync_playwright

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    # served from this machine, as a reader gets it
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    page_file = site / PAGE
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 800, "height": 1100})
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith((base, "data:")) else r.abort()
        )
        page.goto(base + PAGE, wait_until="load")
        if page.locator("#behaviour-loader").count():  # theme scripts load after `load`
            page.wait_for_function("document.documentElement.dataset.behaviour === 'ready'")
        page.emulate_media(media="print")
        # A4 with 15 mm margins is 180 mm = 680 CSS px wide: check the layout at that width
        page.set_viewport_size({"width": 680, "height": 1100})
        cut = page.evaluate(CUT_OFF_JS)
        page.evaluate("document.fonts.ready.then(() => true)")  # the text's fonts, laid out
        page.wait_for_timeout(500)
        page.evaluate("document.fonts.ready.then(() => true)")
        page.pdf(
            path=str(pdf),
            format="A4",
            print_background=True,
            margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"},
        )
        browser.close()
    httpd.shutdown()
    httpd.server_close()
    page_file.unlink()
    if cut:
        print(
            "book_pdf: wider than the printed column (scaled or cut in the PDF):\n  " + "\n  ".join(cut[:40])
        )
    print(f"book_pdf: {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)")


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "assemble":
        print(f"book_pdf: {assemble(Path(argv[1]))}")
        return 0
    if len(argv) >= 3 and argv[0] == "print":
        print_pdf(Path(argv[1]), Path(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
