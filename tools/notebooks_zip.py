"""Zip every chapter notebook with a wheel of the package, for the download on the first page.

    python tools/notebooks_zip.py TARGET.zip

A learner who downloads the zip and opens a chapter anywhere (their own Jupyter, a university
hub) has no copy of this repository. The first cell of every chapter (tools/sync_install_cell.py)
then installs the package from the wheel that lies beside the notebook, with no network beyond
the package index for its dependencies; the wheel is built here from src/ (`pip wheel --no-deps`).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), str(ROOT)],
        check=True,
    )
    wheels = sorted(folder.glob("backprop_three_ways-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"notebooks_zip: expected one wheel of backprop-three-ways, got {wheels}")
    return wheels[0]


def write_zip(target: Path) -> list[str]:
    """The zip: book/*.ipynb and the wheel, side by side at its top level. Returns the names."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for nb in sorted((ROOT / "book").glob("*.ipynb")):
                z.write(nb, nb.name)
            z.write(wheel, wheel.name)
            return z.namelist()


if __name__ == "__main__":
    names = write_zip(Path(sys.argv[1]))
    print(f"notebooks: {sys.argv[1]} ({len(names) - 1} notebooks and {names[-1]})")
