"""Section 2: how the Jacobian path and the differential path grow with the layer size (m = n)."""

from __future__ import annotations

import time

import harness
import numpy as np
from report import fmt_b, fmt_t, table

from backprop import differential, jacobian, seed

KEY, TITLE, DEFAULT = "scaling", "Scaling with the layer size (batch 1, m = n)", True
JAC = "jacobian.grad_W (3-D dv/dW)"
PATHS = {
    JAC: jacobian.grad_W,
    "differential.grad_W (Diag form)": differential.grad_W,
    "differential.grad_W_hadamard": differential.grad_W_hadamard,
}


def run(quick: bool) -> dict:
    """Growth on one BLAS thread: the question is how the work grows, not how well it parallelises
    (a two-threaded GEMM is also far more sensitive to other processes on the machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        harness.note("    (threadpoolctl missing: BLAS keeps its default threads)")
        return measure(quick, blas_threads=None)
    with threadpool_limits(limits=1, user_api="blas"):
        return measure(quick, blas_threads=1)


def measure(quick: bool, blas_threads, max_call_s: float = 1.0) -> dict:
    harness.note(f"\n[2] scaling, batch 1, m = n (BLAS threads: {blas_threads or 'default'})")
    rows, active = [], dict(PATHS)
    for m in (16, 32, 64, 128) if quick else (16, 32, 64, 128, 256, 512, 1024):
        W, x, y = seed.example(seed=1, m=m, n=m)
        row = {"m": m, "n": m, "time_s": {}, "peak_bytes": {}}
        G_ref = differential.grad_W_hadamard(W, x, y)
        for name, fn in list(active.items()):
            t0 = time.perf_counter()
            G = fn(W, x, y)
            one = time.perf_counter() - t0
            assert np.allclose(G, G_ref, rtol=1e-10, atol=1e-14), name
            row["peak_bytes"][name] = harness.peak_bytes(lambda: fn(W, x, y))
            if one > max_call_s:  # too slow to repeat: keep this one size, then stop growing it
                row["time_s"][name] = one
                del active[name]
        timed = {n: (lambda f=f: f(W, x, y)) for n, f in active.items() if n not in row["time_s"]}
        if timed:
            r = harness.compare(timed, rounds=15 if m >= 256 else 31, sample_s=0.01)
            row["time_s"].update({n: r[n]["median_s"] for n in timed})
        rows.append(row)
        harness.note(
            f"    m = n = {m:5d}: "
            + ", ".join(
                f"{n.split(' ')[0]} {row['time_s'][n] * 1e3:.3f} ms / {row['peak_bytes'][n] / 1e6:.2f} MB"
                for n in row["time_s"]
            )
        )
        if JAC not in active and JAC in row["time_s"]:
            break
        if row["time_s"].get(JAC, 0) * 15 > 4.0:  # the next size (8x) would take too long
            break
    return {
        "rows": rows,
        "exponents": exponents(rows),
        "blas_threads": blas_threads,
        "note": "exponents fitted by least squares on log-log over the three largest sizes with m >= 64",
    }


def exponents(rows: list[dict]) -> dict:
    """Growth exponents p (y ~ m^p) of time and bytes over the three largest sizes with m >= 64,
    and the local exponent between neighbouring sizes (overhead-bound ~0 -> the asymptote)."""
    exps = {}
    for name in PATHS:
        pts = [(r["m"], r["time_s"][name], r["peak_bytes"][name]) for r in rows if name in r["time_s"]]
        big = [p for p in pts if p[0] >= 64][-3:]
        if len(big) >= 2:
            ms, ts, bs = zip(*big)
            exps[name] = {
                "time": harness.fit_exponent(ms, ts),
                "bytes": harness.fit_exponent(ms, bs),
                "fitted_on_m": list(ms),
                "local_time": [
                    [p2[0], harness.fit_exponent([p1[0], p2[0]], [p1[1], p2[1]])]
                    for p1, p2 in zip(pts, pts[1:])
                ],
            }
            harness.note(
                f"    growth exponents {name}: time m^{exps[name]['time']:.2f}, "
                f"bytes m^{exps[name]['bytes']:.2f} (m = {list(ms)})"
            )
    return exps


def markdown(sc: dict) -> list[str]:
    names = list(sc["exponents"]) or list(sc["rows"][0]["time_s"])
    one = " with numpy's BLAS limited to one thread" if sc.get("blas_threads") == 1 else ""

    def cells(row, key, fmt):
        return [row["m"], *(fmt(row[key][n]) if n in row[key] else "—" for n in names)]

    L = [f"Median time of one G{one}, and peak bytes allocated during one call (tracemalloc):", ""]
    L += table(
        ["m = n", *(f"time: {n}" for n in names)],
        [cells(r, "time_s", fmt_t) for r in sc["rows"]],
        "r" * (len(names) + 1),
    )
    L += table(
        ["m = n", *(f"bytes: {n}" for n in names)],
        [cells(r, "peak_bytes", fmt_b) for r in sc["rows"]],
        "r" * (len(names) + 1),
    )
    L += [
        "Fitted growth exponents p (time or bytes ∝ m^p, least squares on log-log over the three largest "
        "sizes), and the exponent between neighbouring sizes (m/2 → m), which shows the move from "
        "overhead-bound (p ≈ 0) to the asymptotic regime:",
        "",
    ]
    L += table(
        ["path", "time ∝ m^p", "peak bytes ∝ m^p", "fitted on m =", "time exponent m/2 → m"],
        [
            (
                n,
                f"{e['time']:.2f}",
                f"{e['bytes']:.2f}",
                ", ".join(map(str, e["fitted_on_m"])),
                ", ".join(f"{p:.1f} ({m})" for m, p in e.get("local_time", [])),
            )
            for n, e in sc["exponents"].items()
        ],
        align="lrrll",
    )
    return L
