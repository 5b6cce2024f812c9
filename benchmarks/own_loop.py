"""Section 5 (opt-in, ``--loop``): the project's own loop — setup, build, test in a fresh clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import harness
from bench_env import clean_env

KEY, TITLE, DEFAULT = "loop", "The project's own loop", False
ROOT = Path(__file__).resolve().parent.parent
STEPS = ("setup", "build", "test")


def run(quick: bool) -> dict:
    if quick:
        raise harness.Skip(
            "the loop (a fresh clone, its setup, build and tests) is measured only in a full run"
        )
    harness.note("\n[5] the project's own loop, in a fresh clone (its own .venv)")
    tmp = Path(tempfile.mkdtemp(prefix="backprop-loop-"))
    clone = tmp / "repo"
    out = {
        "clone": "fresh git clone of the committed main",
        "commit": None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min_start": os.getloadavg()[0],
    }
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        out["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
        ).stdout.strip()
        for step in STEPS:
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(
                    ["python3", "dev.py", step],
                    cwd=clone,
                    env=clean_env(),
                    capture_output=True,
                    text=True,
                    timeout=1800,
                )
            except subprocess.TimeoutExpired as e:
                proc = subprocess.CompletedProcess(e.cmd, -1, "", "timed out after 1800 s")
            text = proc.stdout + proc.stderr
            out[f"{step}_s"] = time.perf_counter() - t0
            out[f"{step}_returncode"] = proc.returncode
            tail = text.strip().splitlines()[-1:] or [""]
            out[f"{step}_last_line"] = tail[0][:200]
            failed = [ln[:160] for ln in text.splitlines() if ln.startswith(("FAILED", "ERROR "))]
            if failed:
                out[f"{step}_failed"] = failed[:30]
            harness.note(
                f"    python3 dev.py {step}: {out[f'{step}_s']:.1f} s (exit {proc.returncode}) {tail[0][:100]}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def markdown(lp: dict) -> list[str]:
    L = [
        f"Measured {lp.get('date')} (load average {lp.get('load_average_1min_start', float('nan')):.1f} at the "
        f"start) in a fresh clone of commit `{lp.get('commit')}` with its own `.venv` "
        "(`setup` creates it and installs the book, test and instructor extras):",
        "",
        "| command | seconds | exit |",
        "|---|--:|--:|",
    ]
    L += [
        f"| `python3 dev.py {s}` | {lp[f'{s}_s']:.0f} | {lp[f'{s}_returncode']} |"
        for s in STEPS
        if f"{s}_s" in lp
    ]
    L.append("")
    for step in STEPS:
        if lp.get(f"{step}_returncode"):
            L += [
                f"`python3 dev.py {step}` did not pass at that commit; its summary line: "
                f"`{lp.get(f'{step}_last_line', '').strip('= ')}`.",
                "",
            ]
    return L
