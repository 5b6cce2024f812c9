#!/usr/bin/env python3
"""The project's two commands (and a few helpers), with only Python 3 needed on a fresh machine.

    python3 dev.py build      # build the website into _build/html (warnings are errors)
    python3 dev.py test       # run every test: package, notebooks (nbval), book build, browser

Both first create or update the virtual environment .venv/ from pyproject.toml
(pip install -e ".[book,test,instructor]"); the install is redone only when
pyproject.toml changes. `build` also installs MathJax from the npm registry into node_modules/
(needs npm) so that the site loads nothing from the network; `test` also needs Debian's
chromium at /usr/bin/chromium for the browser test (installed with apt-get when run as root).
Other commands:

    python3 dev.py execute book/02_subscripts.ipynb ...   # re-run notebooks from a clean kernel, save outputs
    python3 dev.py setup                                  # only create/update .venv
    python3 dev.py student-site [--out DIR]               # the site without solutions (tools/student_site.py)
    python3 dev.py release [ASSIGNMENT ...] [--out DIR]   # student notebooks -> release/ (nbgrader's preprocessors)
    python3 dev.py autograde SUBMISSIONS [--out DIR] [--jobs N]   # grade SUBMISSIONS/<student>/<assignment>/<nb>.ipynb
                                                          # in bubblewrap sandboxes (Debian's bubblewrap, installed as root)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
EXTRAS = "book,test,instructor"
STAMP = VENV / ".backprop-setup"


# npm packages (registry only, never committed), installed with `npm install --no-save` into
# node_modules/ (gitignored):
# - mathjax4 (npm alias of mathjax 4) typesets every formula at build time (tools/finish_site.cjs),
#   as SVG, so pages load no MathJax script and no maths font; its glyph outlines come from
#   @mathjax/mathjax-newcm-font (a dependency of the npm package);
# - mathjax 3 is the browser fallback for sites that are not finished that way (the student site
#   built straight by tools/student_site.py): its files are copied to SITE_ASSETS, a non-_static
#   folder that _config.yml lists in html_static_path (Jupyter Book 1 would inject every .js under
#   a folder named _static into every page), so they land in _build/html/_static/mathjax/;
# - axe-core is the accessibility checker that tests/test_browser.py injects into every page.
NPM_PACKAGES = {"mathjax": "3.2.2", "mathjax4": "npm:mathjax@4.1.3", "axe-core": "4.14.1"}
MATHJAX_VERSION = NPM_PACKAGES["mathjax"]
MATHJAX_PKG = ROOT / "node_modules" / "mathjax"
SITE_ASSETS = ROOT / "node_modules" / ".site-assets"
MATHJAX_PARTS = ["tex-mml-chtml.js", "input", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre"]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")


def run(cmd: list, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def setup() -> None:
    """Create .venv and install the package with the book/test/instructor extras (once per pyproject)."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + EXTRAS.encode()).hexdigest()
    if not PY.exists():
        run([sys.executable, "-m", "venv", VENV])
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([PY, "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]"], cwd=ROOT)
    STAMP.write_text(want)


def env() -> dict:
    """Environment for tools run from the venv: its bin/ first on PATH, no user site, fixed hash seed."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["VIRTUAL_ENV"] = str(VENV)
    e["PYTHONHASHSEED"] = "0"
    return e


def apt_install(package: str, binary: str, why: str) -> None:
    """Install a Debian package with apt-get when `binary` is missing (only as root); else explain."""
    if shutil.which(binary):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        run(["apt-get", "update"])
        run(["apt-get", "install", "-y", "--no-install-recommends", package])
        if shutil.which(binary):
            return
    raise SystemExit(f"dev.py: `{binary}` was not found; it is needed {why}.\n"
                     f"Install it (on Debian/Ubuntu: sudo apt-get install {package}) and run again.")


def npm_install() -> None:
    """Install NPM_PACKAGES from the npm registry into node_modules/ unless they are there."""
    def installed(name: str, spec: str) -> bool:
        pkg_json = ROOT / "node_modules" / name / "package.json"
        version = spec.rsplit("@", 1)[-1]
        return pkg_json.exists() and f'"version": "{version}"' in pkg_json.read_text()

    if all(installed(n, v) for n, v in NPM_PACKAGES.items()):
        return
    apt_install("npm", "npm", "to install MathJax (the site's offline maths) and axe-core from the npm registry")
    run(["npm", "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefix", ROOT,
         *(f"{n}@{v}" for n, v in NPM_PACKAGES.items())], cwd=ROOT)


def stage_mathjax() -> None:
    """Install the npm packages and copy MathJax 3's browser files into SITE_ASSETS/mathjax."""
    npm_install()
    stamp = SITE_ASSETS / ".mathjax-version"
    target = SITE_ASSETS / "mathjax"
    if stamp.exists() and stamp.read_text() == MATHJAX_VERSION and target.is_dir():
        return
    tmp = SITE_ASSETS / "mathjax.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for part in MATHJAX_PARTS:
        src, dst = MATHJAX_PKG / "es5" / part, tmp / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    stamp.write_text(MATHJAX_VERSION)


def build(extra_args: list[str]) -> None:
    """jupyter-book build of the whole site into _build/html; -W: any warning fails the build."""
    stage_mathjax()
    run([BIN / "jupyter-book", "build", ROOT, "-W", "-n", "--keep-going", *extra_args], cwd=ROOT, env=env())
    finish_site(HTML)
    print(f"site: {HTML / 'index.html'}\nbook: {HTML / BOOK_PDF}")


BOOK_PDF = "backprop-three-ways.pdf"


def finish_site(html: Path) -> None:
    """After Jupyter Book: the performance page's figures from benchmarks/results.json, the whole book as one page (tools/book_pdf.py), every formula typeset
    at build time and the theme's 1.5 MB icon script dropped (tools/finish_site.cjs), then that
    page printed to PDF by Chromium, and a zip of the notebooks (both downloads on the first page)."""
    need_chromium()
    run([PY, ROOT / "tools" / "performance_figures.py", html], cwd=ROOT, env=env())
    run([PY, ROOT / "tools" / "book_pdf.py", "assemble", html], cwd=ROOT, env=env())
    run(["node", ROOT / "tools" / "finish_site.cjs", html], cwd=ROOT, env=env())
    run([PY, ROOT / "tools" / "book_pdf.py", "print", html, html / BOOK_PDF], cwd=ROOT, env=env())
    notebooks_zip(html / NOTEBOOKS_ZIP)


NOTEBOOKS_ZIP = "backprop-three-ways-notebooks.zip"


def notebooks_zip(target: Path) -> None:
    """Every chapter notebook as stored (outputs and the install cell included), in one zip."""
    import zipfile

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for nb in sorted((ROOT / "book").glob("*.ipynb")):
            z.write(nb, nb.name)
    print(f"notebooks: {target}")


def need_chromium() -> None:
    """Debian's chromium at /usr/bin/chromium (the PDF and the browser test), via apt when root."""
    if not CHROMIUM.exists():
        apt_install("chromium", "chromium", "to print the book to PDF and by the browser test")
        if not CHROMIUM.exists():
            raise SystemExit(f"dev.py: Debian's chromium is needed at {CHROMIUM}")


def student_site(extra_args: list[str]) -> None:
    """The student site (solutions hidden), built by tools/student_site.py with MathJax staged."""
    stage_mathjax()
    run([PY, ROOT / "tools" / "student_site.py", *extra_args], cwd=ROOT, env=env())
    out = Path(extra_args[1]) if extra_args[:1] == ["--out"] and len(extra_args) > 1 else ROOT / "_build" / "student"
    run(["node", ROOT / "tools" / "finish_site.cjs", out.resolve() / "_build" / "html"], cwd=ROOT, env=env())


def execute(paths: list[str]) -> None:
    """Execute notebooks top to bottom in a fresh kernel (cwd = the notebook's folder) and save them."""
    run([PY, ROOT / "tools" / "execute_notebooks.py", *paths], cwd=ROOT, env=env())


def need_bubblewrap() -> None:
    """The grader runs students' notebooks in bubblewrap sandboxes (tools/grading/sandbox.py)."""
    apt_install("bubblewrap", "bwrap", "by the grader's sandbox (python3 dev.py autograde, tests/test_grader_*.py)")


def test(extra_args: list[str]) -> int:
    """Every test: pytest over tests/ (package, site, browser) and book/ (nbval, strict)."""
    need_bubblewrap()
    need_chromium()
    stage_mathjax()  # site builds inside tests (book, student site) need it
    e = env()
    e.setdefault("BACKPROP_TEST_RUN", f"{os.getpid()}")
    proc = subprocess.run([str(PY), "-m", "pytest", "-n", "2", "--dist", "loadfile", *extra_args],
                          cwd=ROOT, env=e)
    return proc.returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd not in ("setup", "build", "test", "execute", "student-site", "release", "autograde"):
        print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
        return 2
    try:
        setup()
        if cmd == "build":
            build(rest)
        elif cmd == "execute":
            execute(rest)
        elif cmd == "student-site":
            student_site(rest)
        elif cmd in ("release", "autograde"):     # instructor tools, see book/instructor_guide.md
            if cmd == "autograde" and "--unsafe" not in rest:
                need_bubblewrap()
            run([PY, ROOT / "tools" / f"{cmd}.py", *rest], cwd=ROOT, env=env())
        elif cmd == "test":
            return test(rest)
    except subprocess.CalledProcessError as err:
        print(f"dev.py {cmd}: command failed with exit code {err.returncode}", file=sys.stderr)
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
