"""Run nbval over every chapter as a learner elsewhere would: the learner's install, another BLAS.

    python tools/nbval_elsewhere.py LEARNER_VENV [more pytest arguments]

The second half of `python3 dev.py test`. The stored outputs were written on one machine; they
must hold on every machine, so this compares them (nbval, strictly, with tests/nbval_sanitize.cfg)
against a fresh run that differs from the first test run in two ways:

* the kernel is LEARNER_VENV's Python, a virtual environment with only the learner's install
  (`pip install -e ".[notebooks]"`: no Jupyter Book, no myst_nb, no nbgrader, no pytest), so a
  chapter that needs the book toolchain or an undeclared package fails here;
* OpenBLAS is told to use another kernel and one thread (OPENBLAS_CORETYPE=Prescott, which runs
  on any x86-64 CPU: no FMA, no AVX; OPENBLAS_NUM_THREADS=1), so the last bits of every BLAS
  result change, as they do on another CPU. An output that prints those bits fails here.

pytest and nbval run from the developer's .venv (they are not in the learner's install); only
the kernel comes from LEARNER_VENV, through a kernelspec written to a temporary JUPYTER_PATH.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "backprop-learner"


def second_blas() -> dict[str, str]:
    """The environment of the second configuration (Prescott only where OpenBLAS has it)."""
    e = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if platform.machine().lower() in ("x86_64", "amd64"):
        e["OPENBLAS_CORETYPE"] = "Prescott"
    return e


def write_kernelspec(jupyter_path: Path, venv: Path) -> None:
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"nbval_elsewhere: no learner's install at {venv} (python3 dev.py test makes it)")
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (learner's install)",
                "language": "python",
            }
        )
    )


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    venv, extra = Path(argv[0]).resolve(), argv[1:]
    with tempfile.TemporaryDirectory(prefix="nbval-elsewhere-") as tmp:
        write_kernelspec(Path(tmp), venv)
        e = {**os.environ, **second_blas(), "JUPYTER_PATH": tmp}
        print(
            "nbval in the learner's install with " + " ".join(f"{k}={v}" for k, v in second_blas().items()),
            flush=True,
        )
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "book",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-kernel-name",
            KERNEL,
            "--nbval-sanitize-with",
            "tests/nbval_sanitize.cfg",
            "-n",
            "2",
            "--dist",
            "loadfile",
            "-q",
            *extra,
        ]
        return subprocess.run(cmd, cwd=ROOT, env=e).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
