#!/usr/bin/env python3
"""The project's two commands (and a few helpers), with only Python 3 needed on a fresh machine.

    python3 dev.py build      # build the website into _build/html (warnings are errors)
    python3 dev.py test       # run every test: package, notebooks (nbval), book build, browser

Both first create or update the virtual environment .venv/ from pyproject.toml
(pip install -e ".[book,test,instructor]"); the install is redone only when
pyproject.toml changes. Other commands:

    python3 dev.py execute book/02_subscripts.ipynb ...   # re-run notebooks from a clean kernel, save outputs
    python3 dev.py setup                                  # only create/update .venv
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


def build(extra_args: list[str]) -> None:
    """jupyter-book build of the whole site into _build/html; -W: any warning fails the build."""
    run([BIN / "jupyter-book", "build", ROOT, "-W", "-n", "--keep-going", *extra_args], cwd=ROOT, env=env())
    print(f"site: {ROOT / '_build' / 'html' / 'index.html'}")


def execute(paths: list[str]) -> None:
    """Execute notebooks top to bottom in a fresh kernel (cwd = the notebook's folder) and save them."""
    run([PY, ROOT / "tools" / "execute_notebooks.py", *paths], cwd=ROOT, env=env())


def test(extra_args: list[str]) -> int:
    """Every test: pytest over tests/ (package, site, browser) and book/ (nbval, strict)."""
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
    if cmd not in ("setup", "build", "test", "execute"):
        print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
        return 2
    try:
        setup()
        if cmd == "build":
            build(rest)
        elif cmd == "execute":
            execute(rest)
        elif cmd == "test":
            return test(rest)
    except subprocess.CalledProcessError as err:
        print(f"dev.py {cmd}: command failed with exit code {err.returncode}", file=sys.stderr)
        return err.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
