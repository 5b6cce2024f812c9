"""How long a reader on a slow phone waits for the heaviest page. Section 7 of benchmarks/run.py.

The heaviest page (the chapter with the most formulas) of the built site `_build/html` is
loaded in Debian's chromium (Playwright) from a local server, with a cold cache and the CPU
slowed 4x (CDP `Emulation.setCPUThrottlingRate`, the usual mid-range-phone setting). The maths is
typeset at build time, so the page is readable once its text is painted and its formulas are
drawn in their real glyphs: at the later of the largest contentful paint and the arrival of the
MathJax fonts that the formulas on the first screen use (`loadingdone` events). Since the maths is
set as SVG (tools/finish_site.cjs) its glyphs are paths in the page and no maths font is fetched, so
the fonts column reads 0 and readable is the largest paint; the column stays to catch a regression. DOMContentLoaded and the
`load` event (every image and font; the theme's behaviour scripts load after it) are reported too. Bytes are what the
network layer received for the page and everything it fetched (CDP `encodedDataLength`).

    .venv/bin/python benchmarks/site_load.py [--quick] [SITE_DIR]

tests/test_browser.py imports `measure` and holds every build to the same targets.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KEY = "site_load"
TITLE = "The heaviest page on a slow phone"
DEFAULT = True

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
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
THROTTLE = 4
TARGET_MS = 1500
TARGET_BYTES = 2_000_000

# Recorded from the page's first script on: when each font face arrived (`loadingdone`) and the
# largest contentful paint; also when the DOM is parsed.
INIT_JS = """
window.__readable = {lcp: 0, faces: {}};
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__readable.lcp = e.startTime; })
  .observe({type: 'largest-contentful-paint', buffered: true});
document.fonts.addEventListener('loadingdone', e => {
  for (const f of e.fontfaces) window.__readable.faces[f.family.replace(/["']/g, '')] = performance.now();
});
document.addEventListener('DOMContentLoaded', () => { window.__readable.dom = performance.now(); });
"""
# Readable = the later of the largest paint and the arrival of every MathJax font that the
# formulas on the first screen use (formulas further down need theirs only when scrolled to).
# A character's font-family lists MathJax's zero-width font first and its real font after it;
# every family of the list counts (faces that were never needed never arrive and count 0).
READY_JS = """async () => {
  await new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r));
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const nav = performance.getEntriesByType('navigation')[0], t = window.__readable;
  const used = new Set();
  for (const c of document.querySelectorAll('mjx-c')) {
    const r = c.getBoundingClientRect();
    if (r.top > innerHeight) break;
    if (r.bottom >= 0) for (const f of getComputedStyle(c).fontFamily.split(',')) used.add(f.replace(/["']/g, '').trim());
  }
  const fonts = Math.max(0, ...[...used].map(f => t.faces[f] || 0));
  return {readable_ms: Math.max(fonts, t.lcp), fonts_ms: fonts, lcp_ms: t.lcp, dom_ms: t.dom,
          load_ms: nav.loadEventEnd, first_screen_fonts: [...used].sort()};
}"""


def heaviest_page(site: Path) -> str:
    """The page (relative path) with the most formulas."""
    counts = {
        p.relative_to(site).as_posix(): len(re.findall(r'class="math notranslate', p.read_text("utf-8")))
        for p in site.rglob("*.html")
        if "_static" not in p.relative_to(site).parts
    }
    return max(counts, key=counts.get)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(site: Path):
    """A background http server for `site`; returns (base_url, server)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/", httpd


def measure(browser, url: str, throttle: float = THROTTLE, viewport=(375, 800)) -> dict:
    """One cold load of `url` at `throttle`x CPU slowdown: times in ms and bytes received."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        context.add_init_script(INIT_JS)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        sent, received = set(), {}
        cdp.on("Network.requestWillBeSent", lambda e: sent.add(e["requestId"]))
        cdp.on(
            "Network.loadingFinished", lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"])
        )
        cdp.on("Network.loadingFailed", lambda e: received.__setitem__(e["requestId"], 0))
        page.goto(url, wait_until="load")
        times = page.evaluate(READY_JS)
        for _ in range(100):  # late requests (lazy images, fonts) still count
            if sent <= received.keys():
                break
            page.wait_for_timeout(50)
        return {
            **{k: (round(v, 1) if isinstance(v, (int, float)) else v) for k, v in times.items()},
            "bytes": int(sum(received.values())),
            "requests": len(received),
        }
    finally:
        context.close()


def run(quick: bool, site: Path = SITE) -> dict:
    """Median over rounds of cold throttled loads of the heaviest page (3 rounds quick, 9 full)."""
    missing = (
        f"needs Debian's chromium at {CHROMIUM}"
        if not CHROMIUM.exists()
        else f"no built site at {site}: run `python3 dev.py build` first"
        if not (site / "index.html").exists()
        else None
    )
    if missing:
        try:
            import harness  # benchmarks/run.py's sibling module: the section is skipped, the run goes on
        except ImportError:
            raise SystemExit(missing) from None
        raise harness.Skip(missing)
    from playwright.sync_api import sync_playwright

    page = heaviest_page(site)
    formulas = len(re.findall(r'class="math notranslate', (site / page).read_text("utf-8")))
    base, httpd = serve(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            measure(browser, base + page, throttle=1)  # warm the server and the disk cache
            samples = [measure(browser, base + page) for _ in range(3 if quick else 9)]
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    ready = statistics.median(s["readable_ms"] for s in samples)
    nbytes = statistics.median(s["bytes"] for s in samples)
    return {
        "page": page,
        "formulas": formulas,
        "throttle": THROTTLE,
        "samples": samples,
        "ready_ms_median": round(ready, 1),
        "bytes_median": int(nbytes),
        "verdicts": [
            {
                "target": f"readable in <= {TARGET_MS / 1000:g} s at {THROTTLE}x CPU throttling",
                "met": ready <= TARGET_MS,
                "detail": f"{ready / 1000:.2f} s (median of {len(samples)} cold loads)",
            },
            {
                "target": f"<= {TARGET_BYTES / 1e6:g} MB transferred",
                "met": nbytes <= TARGET_BYTES,
                "detail": f"{nbytes / 1e6:.2f} MB in {samples[0]['requests']} requests",
            },
        ],
    }


def markdown(result: dict) -> list[str]:
    lines = [
        f"`{result['page']}` ({result['formulas']} formulas), cold cache, CPU slowed "
        f"{result['throttle']}x, 375 px wide, served from this machine.",
        "",
        "| readable | HTML parsed | first-screen maths fonts | largest paint | load event | bytes | requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in result["samples"]:
        lines.append(
            f"| {s['readable_ms']:.0f} ms | {s['dom_ms']:.0f} ms | {s['fonts_ms'] or 0:.0f} ms "
            f"| {s['lcp_ms']:.0f} ms | {s['load_ms']:.0f} ms | {s['bytes'] / 1e6:.2f} MB | {s['requests']} |"
        )
    lines.append("")
    lines += [
        f"- {v['target']} — {'**met**' if v['met'] else '**missed**'} ({v['detail']})."
        for v in result["verdicts"]
    ]
    return lines + [""]


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    res = run("--quick" in sys.argv[1:], Path(args[0]).resolve() if args else SITE)
    print("\n".join(markdown(res)))
    print(json.dumps({k: v for k, v in res.items() if k != "samples"}, indent=1))
