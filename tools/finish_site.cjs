// Finish a built site: drop the theme's icon script, load its behaviour scripts after the page
// (below), and typeset every formula at build time with MathJax 4 (npm package `mathjax`) as SVG,
// so that pages carry finished maths, load no MathJax script and need no maths web fonts.
//
//     node tools/finish_site.cjs SITE_DIR
//
// `python3 dev.py build` runs it on _build/html after Jupyter Book. For each page it replaces
// Sphinx's `<span class="math ...">\(..\)</span>` and `<div class="math ...">\[..\]</div>` with
// MathJax's SVG plus its hidden MathML (mjx-assistive-mml, read by screen readers), removes the
// MathJax <script> tags and adds the page's own stylesheet. The glyphs are paths (from the npm
// package @mathjax/mathjax-newcm-font), each defined once per page in a hidden <svg> at the start
// of the page's <article> and drawn with <use>: nothing waits for a font file, which was the
// largest part of a slow phone's wait for the first screen (benchmarks/site_load.py).
//
// Display formulas are set as in-line maths in \displaystyle: MathJax 4 then marks the
// break points between top-level terms, so the browser wraps a long formula at the width of the
// screen, as it wraps words. A TeX error fails the build.
"use strict";
const fs = require("fs");
const path = require("path");
const MathJax = require("mathjax4"); // npm alias of mathjax@4 (dev.py NPM_PACKAGES)

const site = path.resolve(process.argv[2] || "_build/html");
// A labelled display equation (`$$ ... $$ (label)`, tools/equations.py) starts with its number,
// <span class="eqno">(4.3)<a class="headerlink" ...>#</a></span>, which is kept as it is.
const MATH = /<(span|div) class="math notranslate nohighlight"((?: id="[^"]*")?)>(\s*<span class="eqno">[^<]*<a [^>]*>[^<]*<\/a><\/span>)?([^<]*)<\/\1>/g;
const MATHJAX_SCRIPTS = [
  /<script>window\.MathJax = [^<]*<\/script>\s*/g,
  /<script[^>]*src="[^"]*mathjax\/tex-mml-chtml\.js[^"]*"[^>]*><\/script>\s*/g,
];
// The theme loads Sphinx's search tools and the whole search index (~100 kB) synchronously in the
// <head> of every page for its search box, and a dozen theme and extension scripts that only add
// behaviour to the finished page (copy buttons, toggles, highlighting, the theme's menus). Even
// deferred they hold up a slow phone: they run before DOMContentLoaded, on the main thread,
// before the first screen is finished (measured with benchmarks/site_load.py when the maths still
// used web fonts: readable after 2.0 s deferred against 1.5 s loaded late, at 4x CPU throttling).
// So they are loaded after the page's `load` event, in their order (async = false), each of
// them checks document.readyState and runs at once. When the last one has run, <html> gets
// data-behaviour="ready" (tests/test_browser.py waits for it). design-tabs.js waits for
// DOMContentLoaded itself, so it keeps its `defer`.
const DEFER = /<script((?: [a-z-]+="[^"]*")*) src="([^"]*(?:_static\/(?:searchtools|language_data|doctools|sphinx_highlight|clipboard\.min|copybutton|scripts\/sphinx-book-theme|togglebutton|design-tabs|solutions)\.js|searchindex\.js)(?:\?[^"]*)?)"><\/script>/g;
const LATE = /<script defer src="([^"]*)"><\/script>\s*/g;

function loadLate(html) {
  const srcs = [];
  html = html.replace(LATE, (m, src) => (/design-tabs\.js/.test(src) ? m : (srcs.push(src), "")));
  if (!srcs.length) return html;
  const loader = `<script id="behaviour-loader">addEventListener("load", () => {` +
    ` const srcs = ${JSON.stringify(srcs)}; srcs.forEach((src, i) => {` +
    ` const e = Object.assign(document.createElement("script"), {src, async: false});` +
    ` if (i === srcs.length - 1) e.onload = () => { document.documentElement.dataset.behaviour = "ready"; };` +
    ` document.body.appendChild(e); }); });</script>`;
  return html.replace("</body>", `${loader}\n</body>`);
}
// The theme's first inline script sets data-theme="auto" and leaves turning "auto" into "light"
// or "dark" to pydata-sphinx-theme.js; since that now runs after `load`, the same resolution is
// done at once in the <head> (as the theme script does it: data-mode, else the system setting),
// so a reader whose system is dark never sees a light page first.
const THEME_SCRIPT = 'document.documentElement.dataset.theme = localStorage.getItem("theme") || "auto";';
const THEME_NOW = THEME_SCRIPT + "\n    { const d = document.documentElement.dataset;" +
  ' d.theme = ["light", "dark"].includes(d.mode) ? d.mode' +
  ' : matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"; }';
// The theme's Font Awesome script (1.5 MB) only turns the icons into SVGs; its stylesheet
// already draws the same icons from the font files, so every page drops the script.
const ICON_SCRIPTS = [
  /<script[^>]*src="[^"]*_static\/scripts\/fontawesome\.js[^"]*"[^>]*><\/script>\s*/g,
  /<link rel="preload" as="script" href="[^"]*_static\/scripts\/fontawesome\.js[^"]*" \/>\s*/g,
];

function pages(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "_static" && e.name !== "_sources") out.push(...pages(p));
    } else if (e.name.endsWith(".html")) out.push(p);
  }
  return out;
}

function unescape(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&");
}

function texOf(kind, raw) {
  let tex = unescape(raw).trim();
  if (kind === "span" && tex.startsWith("\\(") && tex.endsWith("\\)")) tex = tex.slice(2, -2);
  if (kind === "div" && tex.startsWith("\\[") && tex.endsWith("\\]")) tex = tex.slice(2, -2);
  return tex.trim();
}

async function main() {
  const MJ = await MathJax.init({
    loader: { load: ["input/tex", "output/svg", "adaptors/liteDOM", "a11y/assistive-mml"] },
    tex: { packages: { "[-]": ["noundefined"] } },
    svg: { fontCache: "global", linebreaks: { inline: true } },
    startup: { typeset: false },
  });
  const adaptor = MJ.startup.adaptor;
  const errors = [];
  let done = 0;
  let count = 0;
  for (const file of pages(site)) {
    let html = fs.readFileSync(file, "utf8");
    for (const re of ICON_SCRIPTS) html = html.replace(re, "");
    if (!html.includes(THEME_NOW)) html = html.replace(THEME_SCRIPT, THEME_NOW);
    if (!file.endsWith(`${path.sep}search.html`)) html = loadLate(html.replace(DEFER, '<script defer$1 src="$2"></script>'));
    const found = [...html.matchAll(MATH)];
    if (!found.length) {
      fs.writeFileSync(file, html);
      continue;
    }
    MJ.startup.output.fontCache.clearCache();     // this page's glyphs only
    MJ.startup.document.reset();
    const rendered = [];
    for (const [, kind, id, eqno, raw] of found) {
      const tex = texOf(kind, raw);
      const display = kind === "div";
      const node = await MJ.tex2svgPromise(display ? "\\displaystyle " + tex : tex, { display: false });
      let out = adaptor.outerHTML(node);
      const err = out.match(/data-mjx-error="([^"]*)"/);
      if (err) errors.push(`${path.relative(site, file)}: ${err[1]} in ${JSON.stringify(tex)}`);
      // keep the TeX once (on the formula's outermost <g data-mml-node="math">), not on every node
      out = out.replace(/<([a-z-]+)((?:\s+[^\s=>]+(?:="[^"]*")?)*)(\s*\/?)>/g, (m, tag, attrs, end) =>
        / data-mml-node="math"/.test(attrs) ? m : `<${tag}${attrs.replace(/ data-latex="[^"]*"/g, "")}${end}>`);
      if (display) {
        out = out.replace('<mjx-container class="MathJax"', '<mjx-container class="MathJax" display="true"')
          .replace('<mjx-assistive-mml unselectable="on" display="inline">', '<mjx-assistive-mml unselectable="on" display="block">')
          .replace('<math xmlns="http://www.w3.org/1998/Math/MathML"', '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"');
      }
      rendered.push(`<${kind} class="math notranslate nohighlight"${id}>${eqno || ""}${out}</${kind}>`);
    }
    let i = 0;
    let page = html.replace(MATH, () => rendered[i++]);
    for (const re of MATHJAX_SCRIPTS) page = page.replace(re, "");
    const css = adaptor.textContent(MJ.svgStylesheet());
    const glyphs = `<svg xmlns="http://www.w3.org/2000/svg" id="MJX-SVG-global-cache" style="display: none">` +
      `${adaptor.outerHTML(MJ.startup.output.fontCache.getCache())}</svg>`;
    if (!page.includes('<article class="bd-article">')) throw new Error(`finish_site: no <article> in ${file}`);
    page = page.replace('<article class="bd-article">', `<article class="bd-article">\n${glyphs}`);
    page = page.replace("</head>", `<style id="mathjax-svg">${css}</style>\n</head>`);
    fs.writeFileSync(file, page);
    done += 1;
    count += found.length;
  }
  if (errors.length) {
    console.error("finish_site: TeX errors:\n" + errors.join("\n"));
    process.exit(1);
  }
  console.log(`finish_site: ${count} formulas typeset on ${done} pages of ${site}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
