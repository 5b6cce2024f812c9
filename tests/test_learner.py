"""The learner's routes: the learner's install (`pip install -e ".[notebooks]"`, made by
`python3 dev.py test` as .venv-learner) and a notebook downloaded from the site's zip.

Every chapter running in the learner's install is nbval's second pass (tools/nbval_elsewhere.py);
JupyterLab itself is tests/test_jupyterlab.py. Here: what that install holds and lacks, and that a
downloaded notebook installs the package from the wheel beside it with no repository and no index.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbval_elsewhere  # noqa: E402
import notebooks_zip  # noqa: E402

LEARNER = Path(os.environ.get("BACKPROP_LEARNER_VENV", ROOT / ".venv-learner"))
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
TOOLCHAIN = ["myst_nb", "jupyter_book", "sphinx", "nbgrader", "pytest", "nbval", "playwright"]


@pytest.fixture(scope="module")
def learner_python() -> Path:
    python = LEARNER / "bin" / "python"
    if not python.exists():
        pytest.fail(f"no learner's install at {LEARNER}: `python3 dev.py test` creates it")
    return python


def importable(python: Path, modules: list[str]) -> dict[str, bool]:
    code = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    out = subprocess.run([str(python), "-c", code, *modules], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def chapter_imports() -> set[str]:
    """Top-level modules imported by the chapters' code cells (IPython magics skipped)."""
    names = set()
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(
                line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def test_the_learners_install_has_what_the_chapters_import_and_none_of_the_toolchain(learner_python):
    needed = sorted(chapter_imports() - set(sys.stdlib_module_names))
    assert "backprop" in needed and "numpy" in needed
    have = importable(learner_python, needed + ["jupyterlab", "jupyterlab_myst", "ipykernel"] + TOOLCHAIN)
    assert [m for m in needed + ["jupyterlab", "jupyterlab_myst", "ipykernel"] if not have[m]] == []
    assert [m for m in TOOLCHAIN if have[m]] == [], "the learner's install must not need the book toolchain"


def test_jupyterlab_loads_jupyterlab_myst(learner_python):
    """`jupyter labextension list` flags an extension built for another JupyterLab with an X and
    never loads it (jupyterlab-myst 2.7.0 on JupyterLab 4.6): the pin must keep it loadable."""
    out = subprocess.run(
        [str(learner_python.parent / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = out.stdout + out.stderr
    line = next(l for l in text.splitlines() if "jupyterlab-myst" in l)
    assert "enabled" in line and "OK" in line and "not compatible" not in text, text


def _venv_seeing(tmp: Path, site_packages: Path) -> Path:
    """A new venv whose sys.path also holds `site_packages` (numpy, matplotlib, ipykernel ... as on
    Colab) but not the course's package: a .pth line adds the folder, and the .pth files inside it
    (the editable install of backprop) are not processed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp)], check=True)
    python = tmp / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(own, "learner.pth").write_text(f"{site_packages}\n")
    return python


def test_a_downloaded_notebook_installs_the_package_from_the_wheel_beside_it(learner_python, tmp_path):
    """The site's zip, unpacked anywhere: its first cell pip-installs backprop-three-ways from the
    wheel in the zip with no package index (PIP_NO_INDEX) and no repository, and the chapter then
    runs top to bottom in that kernel."""
    names = notebooks_zip.write_zip(tmp_path / "notebooks.zip")
    assert sorted(n for n in names if n.endswith(".ipynb")) == [p.name for p in CHAPTERS]
    unpacked = tmp_path / "download"
    zipfile.ZipFile(tmp_path / "notebooks.zip").extractall(unpacked)
    site = subprocess.run(
        [str(learner_python), "-c", "import numpy, pathlib; print(pathlib.Path(numpy.__file__).parents[1])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    python = _venv_seeing(tmp_path / "venv", Path(site))
    assert not importable(python, ["backprop"])["backprop"]

    first = nbformat.read(unpacked / CHAPTERS[0].name, as_version=4).cells[0]
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run([str(python), "-m", "ensurepip", "--default-pip"], check=True, capture_output=True)
    run = subprocess.run(
        [str(python), "-c", first.source], cwd=unpacked, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    where = subprocess.run(
        [str(python), "-c", "import backprop; print(backprop.__course__, backprop.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0] == "backprop-three-ways" and where[1].startswith(str(tmp_path / "venv")), where

    from nbclient import NotebookClient

    with_kernel = tmp_path / "jupyter"
    nbval_elsewhere.write_kernelspec(with_kernel, tmp_path / "venv")
    os.environ["JUPYTER_PATH"], saved = str(with_kernel), os.environ.get("JUPYTER_PATH")
    try:
        nb = nbformat.read(unpacked / CHAPTERS[0].name, as_version=4)
        NotebookClient(
            nb,
            timeout=300,
            kernel_name=nbval_elsewhere.KERNEL,
            resources={"metadata": {"path": str(unpacked)}},
        ).execute()
    finally:
        os.environ.pop("JUPYTER_PATH") if saved is None else os.environ.__setitem__("JUPYTER_PATH", saved)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
