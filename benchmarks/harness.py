"""Timing harness shared by every section: interleaved rounds, medians, ratios within one run.

Absolute times on a shared 2-core machine drift by up to 1.7x between runs; ratios of contenders
timed in the same rounds stay within a few percent. So :func:`compare` interleaves the contenders
(every round runs each once, in a shuffled order) and :func:`paired` reports the median over the
rounds of the ratio of two contenders' times in the same round.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc

import numpy as np

QUICK = False  # set by run.py (--quick): fewer rounds everywhere
PAUSE_S = 0.002  # idle time before each sample (not timed): the previous contender's threads sleep
GEMM_SECONDS: dict[str, float] = {}  # fastest n^2 matmul seen, per "dtype n" (to spot a busy machine)


class Skip(Exception):
    """Raised by a section that cannot be measured here (a missing optional package, no browser...)."""


def note(msg: str) -> None:
    print(msg, flush=True)


def torch_threads() -> int:
    """PyTorch's thread count: numpy's BLAS threads (run.py sets BENCH_TORCH_THREADS)."""
    return int(os.environ.get("BENCH_TORCH_THREADS", "2"))


def rounds_for(n: int) -> int:
    """The number of rounds to use: n, or 3 in quick mode (a smoke test of the code, not a measurement)."""
    return 3 if QUICK else n


def _calibrate(fn, sample_s: float) -> int:
    """Calls per sample so that one sample lasts about sample_s (at least 1)."""
    fn()
    k, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        t = time.perf_counter() - t0
        if t >= sample_s or k >= 1 << 20:
            break
        k = max(2 * k, int(k * sample_s / max(t, 1e-9)) + 1)
    return max(1, int(k * sample_s / max(t, 1e-9)))


def compare(contenders: dict, rounds: int = 41, sample_s: float = 0.004, seed: int = 0) -> dict:
    """Interleaved medians: {name: {"median_s", "q1_s", "q3_s", "calls_per_sample", "samples",
    "per_round_s"}}, times per call. One sample = a batch of calls lasting about sample_s."""
    sample_s = min(sample_s, 0.001) if QUICK else sample_s
    ks = {name: _calibrate(fn, sample_s) for name, fn in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    rng = random.Random(seed)
    for _ in range(rounds_for(rounds)):
        rng.shuffle(order)
        for name in order:
            fn, k = contenders[name], ks[name]
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            samples[name].append((time.perf_counter() - t0) / k)
    out = {}
    for name, s in samples.items():
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        out[name] = {
            "median_s": float(med),
            "q1_s": float(q1),
            "q3_s": float(q3),
            "calls_per_sample": ks[name],
            "samples": len(s),
            "per_round_s": [float(v) for v in s],
        }
    return out


def paired(res: dict, a: str, b: str) -> float:
    """Median over rounds of time(a) / time(b) within the same round: a slow spell of the machine
    that hits one round hits both contenders of the ratio."""
    ra, rb = np.asarray(res[a]["per_round_s"]), np.asarray(res[b]["per_round_s"])
    return float(np.median(ra / rb))


def time_once_per_round(runs: dict, reps: int) -> dict:
    """For long calls (>= 0.1 s): each round calls every run once, order reversed every other round.
    Returns {name: {"times_s": [...], "value": last return value, "median_s"}}."""
    res: dict[str, dict] = {}
    order = list(runs)
    for r in range(reps):
        for name in order if r % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            value = runs[name]()
            res.setdefault(name, {"times_s": []})["times_s"].append(time.perf_counter() - t0)
            res[name]["value"] = value
    for v in res.values():
        v["median_s"] = float(np.median(v["times_s"]))
    return res


def peak_bytes(fn) -> int:
    """Peak bytes allocated during one call (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return int(peak - base)


def fit_exponent(ms, ys) -> float:
    """Slope of log y against log m (least squares): y ~ m^p."""
    return float(np.polyfit(np.log(ms), np.log(ys), 1)[0])


def warm_up_gemm(n: int | None = None) -> None:
    """First GEMMs with the normal thread count (a first single-threaded sgemm can stay slow);
    n x n matrices, n = 1024 (256 in quick mode)."""
    n = n or (256 if QUICK else 1024)
    rng = np.random.default_rng(0)
    for dt in (np.float64, np.float32):
        A = rng.standard_normal((n, n)).astype(dt)
        for _ in range(5):
            t0 = time.perf_counter()
            A @ A
            t = time.perf_counter() - t0
            key = f"{np.dtype(dt).name} {n}"
            GEMM_SECONDS[key] = min(t, GEMM_SECONDS.get(key, np.inf))
