#!/usr/bin/env python3
"""The project's commands, with only Python 3 needed on a fresh machine.

    python3 dev.py setup      # the learner's install: .venv with the package and JupyterLab
    python3 dev.py build      # build the website into _build/html (warnings are errors)
    python3 dev.py test       # run every test: package, notebooks (nbval, twice), site, browser

Every command first creates or updates the virtual environment .venv/ from pyproject.toml:
`setup` with the learner's install (pip install -e ".[notebooks]"), the others with everything
the book, the tests and the grader need (".[book,test,instructor]"); an install is redone only
when pyproject.toml changes. `python3 dev.py COMMAND -h` describes one command.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LEARNER_VENV = ROOT / ".venv-learner"  # the learner's install only: the tests run chapters in it
LEARNER = "notebooks"
DEVELOPER = "book,test,instructor"
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
BOOK_PDF = "backprop-three-ways.pdf"
NOTEBOOKS_ZIP = "backprop-three-ways-notebooks.zip"

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
# nbgrader's JupyterLab and server extensions (menus, "Create Assignment", "No nbgrader_config.py
# file found") are switched off in .venv: the course grades from the command line
# (`dev.py release` / `dev.py autograde`), and a learner's JupyterLab should show the chapters only.
NBGRADER_UI = (
    ["labextension", "disable", "--level=sys_prefix", "@jupyter/nbgrader"],
    *(
        ["server", "extension", "disable", "--sys-prefix", f"nbgrader.server_extensions.{name}"]
        for name in ("formgrader", "validate_assignment", "assignment_list", "course_list")
    ),
)


def run(cmd: list, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def python(venv: Path = VENV) -> Path:
    return bin_dir(venv) / "python"


# ---------------------------------------------------------------------------------------------
# environments


def setup_venv(venv: Path, extras: str) -> None:
    """Create `venv` and install the package with `extras`, once per pyproject.toml.

    pip never uninstalls, so a venv keeps what an earlier install gave it: the stamp records the
    union of the extras asked for, and a command needing no more than that installs nothing."""
    stamp = venv / ".backprop-setup"
    old = (stamp.read_text().split("\n") + [""])[:2] if stamp.exists() else ["", ""]
    want = ",".join(sorted(set(extras.split(",")) | set(filter(None, old[1].split(",")))))
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if old == [digest, want]:
        return
    if not python(venv).exists():
        run([sys.executable, "-m", "venv", venv])
    py = python(venv)
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    # the distribution was called "backprop" before it was "backprop-three-ways": drop the old one
    subprocess.run([str(py), "-m", "pip", "uninstall", "--quiet", "--yes", "backprop"], capture_output=True)
    run([py, "-m", "pip", "install", "--quiet", "-e", f".[{want}]"], cwd=ROOT)
    if "instructor" in want:
        for args in NBGRADER_UI:
            run([bin_dir(venv) / "jupyter", *args], env=env(venv))
    stamp.write_text(f"{digest}\n{want}")


def env(venv: Path = VENV) -> dict:
    """Environment for tools run from a venv: its bin/ first on PATH, fixed hash seed."""
    e = dict(os.environ)
    e["PATH"] = f"{bin_dir(venv)}{os.pathsep}{e.get('PATH', '')}"
    e["VIRTUAL_ENV"] = str(venv)
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
    raise SystemExit(
        f"dev.py: `{binary}` was not found; it is needed {why}.\n"
        f"Install it (on Debian/Ubuntu: sudo apt-get install {package}) and run again."
    )


def need_chromium() -> None:
    """Debian's chromium at /usr/bin/chromium (the PDF and the browser tests), via apt when root."""
    if not CHROMIUM.exists():
        apt_install("chromium", "chromium", "to print the book to PDF and by the browser tests")
        if not CHROMIUM.exists():
            raise SystemExit(f"dev.py: Debian's chromium is needed at {CHROMIUM}")


def need_bubblewrap() -> None:
    """The grader runs students' notebooks in bubblewrap sandboxes (tools/grading/sandbox.py)."""
    apt_install("bubblewrap", "bwrap", "by the grader's sandbox (dev.py autograde, tests/test_grader_*.py)")


def npm_install() -> None:
    """Install NPM_PACKAGES from the npm registry into node_modules/ unless they are there."""

    def installed(name: str, spec: str) -> bool:
        pkg_json = ROOT / "node_modules" / name / "package.json"
        version = spec.rsplit("@", 1)[-1]
        return pkg_json.exists() and f'"version": "{version}"' in pkg_json.read_text()

    if all(installed(n, v) for n, v in NPM_PACKAGES.items()):
        return
    apt_install(
        "npm", "npm", "to install MathJax (the site's offline maths) and axe-core from the npm registry"
    )
    run(
        [
            "npm",
            "install",
            "--no-save",
            "--no-package-lock",
            "--no-audit",
            "--no-fund",
            "--prefix",
            ROOT,
            *(f"{n}@{v}" for n, v in NPM_PACKAGES.items()),
        ],
        cwd=ROOT,
    )


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


# ---------------------------------------------------------------------------------------------
# commands (each takes the parsed arguments and returns an exit status)


def cmd_setup(args) -> int:
    """The learner's install only (see book/run_it_yourself.md); then: .venv/bin/jupyter lab book/"""
    print(f"ready: {bin_dir(VENV) / 'jupyter'} lab book/")
    return 0


def cmd_build(args) -> int:
    """jupyter-book build of the whole site into _build/html; -W: any warning fails the build."""
    stage_mathjax()
    run(
        [bin_dir(VENV) / "jupyter-book", "build", ROOT, "-W", "-n", "--keep-going", *args.rest],
        cwd=ROOT,
        env=env(),
    )
    finish_site(HTML)
    print(f"site: {HTML / 'index.html'}\nbook: {HTML / BOOK_PDF}")
    return 0


def finish_site(html: Path) -> None:
    """After Jupyter Book: the performance page's figures from benchmarks/results.json, the whole
    book as one page (tools/book_pdf.py), every formula typeset at build time and the theme's
    1.5 MB icon script dropped (tools/finish_site.cjs), then that page printed to PDF by
    Chromium, and a zip of the notebooks with the package's wheel (both downloads on the first
    page)."""
    need_chromium()
    py = python()
    run([py, ROOT / "tools" / "performance_figures.py", html], cwd=ROOT, env=env())
    run([py, ROOT / "tools" / "book_pdf.py", "assemble", html], cwd=ROOT, env=env())
    run(["node", ROOT / "tools" / "finish_site.cjs", html], cwd=ROOT, env=env())
    run([py, ROOT / "tools" / "book_pdf.py", "print", html, html / BOOK_PDF], cwd=ROOT, env=env())
    run([py, ROOT / "tools" / "notebooks_zip.py", html / NOTEBOOKS_ZIP], cwd=ROOT, env=env())


def cmd_test(args) -> int:
    """Every test: pytest over tests/ and book/ (nbval, strict), then nbval again over book/ in
    the learner's install under a second BLAS configuration (tools/nbval_elsewhere.py)."""
    need_bubblewrap()
    need_chromium()
    stage_mathjax()  # site builds inside tests (book, student site) need it
    setup_venv(LEARNER_VENV, LEARNER)
    e = env()
    e.setdefault("BACKPROP_TEST_RUN", f"{os.getpid()}")
    e["BACKPROP_LEARNER_VENV"] = str(LEARNER_VENV)
    here = subprocess.run(
        [str(python()), "-m", "pytest", "-n", "2", "--dist", "loadfile", *args.rest], cwd=ROOT, env=e
    ).returncode
    if args.rest:  # a chosen subset: the second configuration is not asked for
        return here
    elsewhere = subprocess.run(
        [str(python()), ROOT / "tools" / "nbval_elsewhere.py", LEARNER_VENV], cwd=ROOT, env=e
    ).returncode
    return here or elsewhere


def cmd_execute(args) -> int:
    """Execute notebooks top to bottom in a fresh kernel (cwd = the notebook's folder) and save
    them; outputs that differ from the stored ones only by rounding noise are kept as stored."""
    run([python(), ROOT / "tools" / "execute_notebooks.py", *args.notebooks], cwd=ROOT, env=env())
    return 0


def cmd_student_site(args) -> int:
    """The site without solutions (tools/student_site.py [--out DIR] ...) -> DIR/_build/html."""
    stage_mathjax()
    run([python(), ROOT / "tools" / "student_site.py", *args.rest], cwd=ROOT, env=env())
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    html = out.parse_known_args(args.rest)[0].out.resolve() / "_build" / "html"
    run(["node", ROOT / "tools" / "finish_site.cjs", html], cwd=ROOT, env=env())
    return 0


def tool(name: str, sandbox: bool = False):
    """A command that hands its arguments to tools/<name>.py (which documents them: -h)."""

    def cmd(args) -> int:
        if sandbox and "--unsafe" not in args.rest:
            need_bubblewrap()
        run([python(), ROOT / "tools" / f"{name}.py", *args.rest], cwd=ROOT, env=env())
        return 0

    cmd.__doc__ = f"tools/{name}.py: python3 dev.py {name} -h"
    return cmd


class Command(NamedTuple):
    run: Callable[[argparse.Namespace], int]
    extras: str  # what .venv must have installed
    help: str
    passthrough: str = ""  # arguments handed on unparsed, to this program (which has its own -h)


COMMANDS = {
    "setup": Command(cmd_setup, LEARNER, "the learner's install: .venv with the package and JupyterLab"),
    "build": Command(cmd_build, DEVELOPER, "build the website into _build/html", "jupyter-book build"),
    "test": Command(cmd_test, DEVELOPER, "run every test (with arguments: only those tests)", "pytest"),
    "execute": Command(cmd_execute, DEVELOPER, "re-run notebooks from a clean kernel, save them"),
    "student-site": Command(
        cmd_student_site, DEVELOPER, "the site without solutions [--out DIR]", "tools/student_site.py"
    ),
    "release": Command(
        tool("release"), DEVELOPER, "student notebooks from instructor/source -> release/", "tools/release.py"
    ),
    "autograde": Command(
        tool("autograde", sandbox=True),
        DEVELOPER,
        "grade SUBMISSIONS/<student>/<assignment>/<nb>.ipynb in sandboxes",
        "tools/autograde.py",
    ),
}


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python3 dev.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, c in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=c.help + (f" (arguments: {c.passthrough} -h)" if c.passthrough else ""),
            description=c.run.__doc__,
        )
        if name == "execute":
            p.add_argument("notebooks", nargs="*", help="book/NN_topic.ipynb ... (default: every one)")
    if argv[:1] and argv[0] in COMMANDS and COMMANDS[argv[0]].passthrough:
        return argparse.Namespace(command=argv[0], rest=argv[1:])
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    command = COMMANDS[args.command]
    try:
        setup_venv(VENV, command.extras)
        return command.run(args)
    except subprocess.CalledProcessError as err:
        print(f"dev.py {args.command}: command failed with exit code {err.returncode}", file=sys.stderr)
        return err.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
