"""Shared fixtures. ``site`` builds the book once per test run (shared by xdist workers)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def site() -> Path:
    """Path of the built site _build/html, built by `dev.py build` once per test run.

    Several xdist workers may ask for it; a file lock makes the first one build and the
    others wait and reuse that build (marked with the run id set by `dev.py test`).
    With BACKPROP_SITE=<folder> set, that already built site is tested instead (no build): e.g.
    BACKPROP_SITE=/tmp/build-me/_build/html after `jupyter-book build . --path-output /tmp/build-me`.
    """
    if os.environ.get("BACKPROP_SITE"):
        return Path(os.environ["BACKPROP_SITE"]).resolve()
    run_id = os.environ.get("BACKPROP_TEST_RUN") or f"pid{os.getppid()}"
    (ROOT / "_build").mkdir(exist_ok=True)
    marker = ROOT / "_build" / f".built-for-test-run-{run_id}"
    with open(ROOT / "_build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            for old in (ROOT / "_build").glob(".built-for-test-run-*"):
                old.unlink()
            proc = subprocess.run(
                [sys.executable, str(ROOT / "dev.py"), "build"], cwd=ROOT, capture_output=True, text=True
            )
            if proc.returncode != 0:
                pytest.fail(
                    "book build failed (warnings are errors):\n" + proc.stdout[-6000:] + proc.stderr[-6000:]
                )
            marker.write_text("ok")
    return HTML
