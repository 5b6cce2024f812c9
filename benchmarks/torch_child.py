"""PyTorch timed in a child process with its default OpenMP wait policy.

The benchmark process runs with ``OMP_WAIT_POLICY=PASSIVE`` (see bench_env), which is fair to
numpy but makes PyTorch's many small parallel regions slower. So every "faster than PyTorch"
verdict also uses a number measured here, in a child process where OpenMP keeps its default
policy (OpenBLAS stays quiet): ``python torch_child.py MODULE`` calls ``MODULE.torch_alone(payload)``
and prints its result as JSON on the last line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bench_env


def policy_check(module: str, threads: int, payload: dict | None = None) -> dict | None:
    """``module.torch_alone(payload)`` run in a child process with PyTorch's default OpenMP policy
    and ``threads`` threads; None (with a message) if PyTorch is missing or the child fails."""
    import harness
    from machine_info import torch

    if torch is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(
        {
            bench_env.CHILD: "1",
            "BENCH_TORCH_THREADS": str(threads),
            "BENCH_QUICK": "1" if harness.QUICK else "",
            "BENCH_PAYLOAD": json.dumps(payload),
        }
    )
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), module], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        harness.note(f"    PyTorch default-policy check failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(module: str) -> int:
    import importlib

    import harness
    from machine_info import torch

    harness.QUICK = bool(os.environ.get("BENCH_QUICK"))
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    harness.warm_up_gemm()
    payload = json.loads(os.environ.get("BENCH_PAYLOAD", "null"))
    print(json.dumps(importlib.import_module(module).torch_alone(payload)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
