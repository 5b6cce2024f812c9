"""Execute notebooks from a clean kernel with nbclient and save them with their outputs.

Each notebook runs with its own folder as working directory, so outputs carry no
machine path. Cells tagged ``raises-exception`` may fail (their error is the point);
any other error stops with a message naming the notebook.

Usage: python tools/execute_notebooks.py book/a.ipynb [book/b.ipynb ...]   (no argument: every book/*.ipynb)
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 600) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:                       # no timestamps: a re-run changes only what changed
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    print(f"executed {path.relative_to(ROOT)}")


def main(args: list[str]) -> None:
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "book").rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    for p in paths:
        execute(p)


if __name__ == "__main__":
    main(sys.argv[1:])
