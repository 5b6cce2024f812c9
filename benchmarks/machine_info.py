"""The machine and the optional contenders: CPU, BLAS, versions, and the load while we measure.

PyTorch and HIPS autograd are optional (``pip install -e ".[bench]"``): ``torch`` / ``autograd``
are None when missing, and the sections skip those contenders with a message.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from bench_env import BENCH_ENV

try:
    import torch
except ImportError:
    torch = None
try:
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = anp = None


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def machine() -> dict:
    """CPU, cores, versions, BLAS (via threadpoolctl) and the benchmark's environment settings."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "env": dict(BENCH_ENV),
    }
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            b = blas[0]
            info["blas"] = (
                f"{b.get('internal_api')} {b.get('version')} "
                f"({b.get('architecture')}, {b.get('num_threads')} threads)"
            )
            info["blas_threads"] = b.get("num_threads")
    except ImportError:
        cfg = np.show_config(mode="dicts")
        info["blas"] = str(cfg.get("Build Dependencies", {}).get("blas", {}).get("name"))
    info.setdefault("blas_threads", os.cpu_count())
    info["torch"] = torch.__version__ if torch is not None else None
    info["autograd"] = _version("autograd") if autograd is not None else None
    info["scikit-learn"] = _version("scikit-learn")
    return info


class LoadMonitor:
    """The 1-minute load average at the start, at the end and its maximum, sampled every period_s."""

    def __init__(self, period_s: float = 2.0) -> None:
        self.period_s, self.samples = period_s, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.period_s):
                return

    def __enter__(self) -> LoadMonitor:
        self.t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        self.wall_s = time.perf_counter() - self.t0

    def summary(self) -> dict:
        return {"start": self.samples[0], "end": self.samples[-1], "max": max(self.samples)}
