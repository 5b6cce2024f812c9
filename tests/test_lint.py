"""The project's Python passes its linter and is formatted (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ["src", "tools", "benchmarks", "tests", "dev.py"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("ruff is missing: it comes with the test extra (python3 dev.py test installs it)")
    return subprocess.run([exe, *args, *CODE], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_finds_nothing():
    r = ruff("check", "--no-cache", "--output-format", "concise")
    assert r.returncode == 0, r.stdout + r.stderr


def test_code_is_formatted():
    r = ruff("format", "--no-cache", "--check")
    assert r.returncode == 0, "run `.venv/bin/ruff format` on:\n" + r.stdout + r.stderr
