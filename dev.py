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


# MathJax 3 for the site, served from the site itself (no CDN). `npm install --no-save` puts the
# package in node_modules/ (gitignored); the files a page needs are copied to SITE_ASSETS, a
# non-_static folder that _config.yml lists in html_static_path, so they land in
# _build/html/_static/mathjax/ and _config.yml's mathjax_path "mathjax/tex-mml-chtml.js" finds them.
MATHJAX_VERSION = "3.2.2"
MATHJAX_PKG = ROOT / "node_modules" / "mathjax"
SITE_ASSETS = ROOT / "node_modules" / ".site-assets"
MATHJAX_PARTS = ["tex-mml-chtml.js", "input", "output/chtml/fonts/woff-v2", "ui", "a11y", "sre"]
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


def stage_mathjax() -> None:
    """Install MathJax (npm registry) and copy the files the pages load into SITE_ASSETS/mathjax."""
    stamp = SITE_ASSETS / ".mathjax-version"
    target = SITE_ASSETS / "mathjax"
    if stamp.exists() and stamp.read_text() == MATHJAX_VERSION and target.is_dir():
        return
    pkg_json = MATHJAX_PKG / "package.json"
    if not (pkg_json.exists() and f'"version": "{MATHJAX_VERSION}"' in pkg_json.read_text()):
        apt_install("npm", "npm", f"to install MathJax {MATHJAX_VERSION} (the site's offline maths) from the npm registry")
        run(["npm", "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
             "--prefix", ROOT, f"mathjax@{MATHJAX_VERSION}"], cwd=ROOT)
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
    print(f"site: {ROOT / '_build' / 'html' / 'index.html'}")


def student_site(extra_args: list[str]) -> None:
    """The student site (solutions hidden), built by tools/student_site.py with MathJax staged."""
    stage_mathjax()
    run([PY, ROOT / "tools" / "student_site.py", *extra_args], cwd=ROOT, env=env())


def execute(paths: list[str]) -> None:
    """Execute notebooks top to bottom in a fresh kernel (cwd = the notebook's folder) and save them."""
    run([PY, ROOT / "tools" / "execute_notebooks.py", *paths], cwd=ROOT, env=env())


def need_bubblewrap() -> None:
    """The grader runs students' notebooks in bubblewrap sandboxes (tools/grading/sandbox.py)."""
    apt_install("bubblewrap", "bwrap", "by the grader's sandbox (python3 dev.py autograde, tests/test_grader_*.py)")


def test(extra_args: list[str]) -> int:
    """Every test: pytest over tests/ (package, site, browser) and book/ (nbval, strict)."""
    need_bubblewrap()
    if not CHROMIUM.exists():
        apt_install("chromium", "chromium", "by the browser test (tests/test_browser.py)")
        if not CHROMIUM.exists():
            raise SystemExit(f"dev.py: the browser test needs Debian's chromium at {CHROMIUM}")
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
