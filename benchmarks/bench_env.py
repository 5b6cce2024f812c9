"""The benchmark process's thread settings, applied before numpy or torch load (stdlib only).

Idle BLAS/OpenMP worker threads that spin after their work slow whichever library runs next
(numpy's OpenBLAS and PyTorch's OpenMP pool share the cores), so every benchmark process runs with
``BENCH_ENV``; :func:`ensure` re-executes the current script with it when it is missing.
"""

from __future__ import annotations

import json
import os
import sys

BENCH_ENV = {"OPENBLAS_THREAD_TIMEOUT": "1", "OMP_WAIT_POLICY": "PASSIVE"}
if os.environ.get("BENCH_ENV_OVERRIDE"):  # experiments only: e.g. '{"OMP_WAIT_POLICY": ""}'
    BENCH_ENV.update(json.loads(os.environ["BENCH_ENV_OVERRIDE"]))
    BENCH_ENV = {k: v for k, v in BENCH_ENV.items() if v}

#: Set in the child process that times PyTorch with its default OpenMP policy (no re-exec there).
CHILD = "BENCH_CHILD"


def ensure() -> None:
    """Re-execute this script with BENCH_ENV set, unless it is set already (or this is the child)."""
    if "numpy" in sys.modules:
        raise RuntimeError("bench_env.ensure() must run before numpy is imported")
    if os.environ.get(CHILD) or all(os.environ.get(k) == v for k, v in BENCH_ENV.items()):
        return
    os.environ.update(BENCH_ENV)
    os.execv(sys.executable, [sys.executable, *sys.argv])


def clean_env() -> dict[str, str]:
    """The environment without BENCH_ENV and the venv marker: for subprocesses timed as a user runs them."""
    return {k: v for k, v in os.environ.items() if k not in BENCH_ENV and k != "VIRTUAL_ENV"}
