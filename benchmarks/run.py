#!/usr/bin/env python3
"""Benchmark of the package: the three-way cost story and the MLP against the hardware limit.

    .venv/bin/python benchmarks/run.py            # sections 1-4, writes benchmarks/results.{json,md}
    .venv/bin/python benchmarks/run.py --loop     # also: clean site build + full tests in a fresh clone
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats (a smoke test; results not written)

Everything is measured in ONE run and reported as RATIOS: absolute times on a shared 2-core machine
drift by up to 1.7x between runs, ratios within a run stay within a few percent. Contenders are
interleaved (round after round, in a shuffled order), each sample times a batch of calls long enough
to be well above the clock resolution; a ratio is the median over the rounds of the ratio of the two
contenders' times in the same round, and the tables show each contender's median time. PyTorch and HIPS autograd are optional
(``pip install -e ".[bench]"``): a contender whose package is missing is skipped with a message.

Sections: 1 seed example (W 5x4) by every path; 2 scaling of the Jacobian path against the differential
path (time and bytes, fitted growth exponents); 3 MLP 784-256-128-10 against the GEMM floor and PyTorch;
4 digits training (time, held-out accuracy) against scikit-learn and per-step time against PyTorch;
5 (--loop) the project's own loop.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# Idle BLAS/OpenMP worker threads that spin after their work slow whichever library runs next
# (numpy's OpenBLAS and PyTorch's OpenMP pool share the 2 cores). Set before numpy/torch load.
BENCH_ENV = {"OPENBLAS_THREAD_TIMEOUT": "1", "OMP_WAIT_POLICY": "PASSIVE"}
if os.environ.get("BENCH_ENV_OVERRIDE"):  # experiments only: e.g. '{"OMP_WAIT_POLICY": ""}'
    BENCH_ENV.update(json.loads(os.environ["BENCH_ENV_OVERRIDE"]))
    BENCH_ENV = {k: v for k, v in BENCH_ENV.items() if v}
if os.environ.get("BENCH_CHILD") != "torch-alone" and any(os.environ.get(k) != v for k, v in BENCH_ENV.items()):
    os.environ.update(BENCH_ENV)
    os.execv(sys.executable, [sys.executable, *sys.argv])

import numpy as np  # noqa: E402

import backprop  # noqa: E402
from backprop import differential, jacobian, seed, subscript  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

try:
    import torch
except ImportError:  # optional contender
    torch = None
try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # optional contender
    autograd = anp = None

QUICK = False
PAUSE_S = 0.002


def note(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------
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


def compare(contenders: dict, rounds: int = 41, sample_s: float = 0.004, seed_: int = 0) -> dict:
    """Interleaved medians: {name: {"median_s", "q1_s", "q3_s", "calls_per_sample", "samples"}}.

    Each round runs every contender once (one sample = a batch of calls), in a shuffled order,
    so slow drifts of the machine hit all contenders alike.
    """
    if QUICK:
        rounds = max(5, rounds // 5)
    ks = {name: _calibrate(fn, sample_s) for name, fn in contenders.items()}
    samples = {name: [] for name in contenders}
    order = list(contenders)
    rng = random.Random(seed_)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            fn, k = contenders[name], ks[name]
            time.sleep(PAUSE_S)  # let the previous contender's worker threads go idle (not timed)
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            samples[name].append((time.perf_counter() - t0) / k)
    out = {}
    for name, s in samples.items():
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        out[name] = {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3),
                     "calls_per_sample": ks[name], "samples": len(s),
                     "per_round_s": [float(v) for v in s]}
    return out


def paired(res: dict, a: str, b: str) -> float:
    """Median over rounds of time(a) / time(b) within the same round: a slow spell of the machine
    that hits one round hits both contenders of the ratio."""
    ra, rb = np.asarray(res[a]["per_round_s"]), np.asarray(res[b]["per_round_s"])
    return float(np.median(ra / rb))


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


# ----------------------------------------------------------------------------------------------
# machine
# ----------------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "env": dict(BENCH_ENV)}
    try:
        from threadpoolctl import threadpool_info
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            b = blas[0]
            info["blas"] = f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, {b.get('num_threads')} threads)"
            info["blas_threads"] = b.get("num_threads")
    except ImportError:
        cfg = np.show_config(mode="dicts")
        info["blas"] = str(cfg.get("Build Dependencies", {}).get("blas", {}).get("name"))
    info.setdefault("blas_threads", os.cpu_count())
    info["torch"] = torch.__version__ if torch is not None else None
    info["autograd"] = _version("autograd") if autograd is not None else None
    try:
        import sklearn
        info["scikit-learn"] = sklearn.__version__
    except ImportError:
        info["scikit-learn"] = None
    return info


def _version(dist: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return None


GEMM_SECONDS: dict[str, float] = {}  # fastest 1024^2 matmul seen, per dtype (to spot a busy machine)


def warm_up_gemm() -> None:
    """First GEMMs with the normal thread count (a first single-threaded sgemm can stay slow)."""
    rng = np.random.default_rng(0)
    for dt in (np.float64, np.float32):
        A = rng.standard_normal((1024, 1024)).astype(dt)
        for _ in range(5):
            t0 = time.perf_counter()
            A @ A
            t = time.perf_counter() - t0
            GEMM_SECONDS[np.dtype(dt).name] = min(t, GEMM_SECONDS.get(np.dtype(dt).name, np.inf))


# ----------------------------------------------------------------------------------------------
# 1. the seed example
# ----------------------------------------------------------------------------------------------
def _bare_differential(W, x, y):
    """The differential formula G = ((s - s*s) * (s - y)) x^T as inline numpy, with no input checks."""
    s = 1.0 / (1.0 + np.exp(-(W @ x)))
    return ((s - s * s) * (s - y)) @ x.T


def seed_contenders() -> tuple[dict, list]:
    """Every way to get G for the question's example, and the optional ones that are missing."""
    W, x, y = seed.example()
    c = {
        "subscript.grad_W (loops)": lambda: subscript.grad_W(W, x, y),
        "subscript.grad_W_einsum": lambda: subscript.grad_W_einsum(W, x, y),
        "jacobian.grad_W (3-D dv/dW)": lambda: jacobian.grad_W(W, x, y),
        "jacobian.grad_W_vec (Kronecker)": lambda: jacobian.grad_W_vec(W, x, y),
        "differential.grad_W (Diag form)": lambda: differential.grad_W(W, x, y),
        "differential.grad_W_hadamard": lambda: differential.grad_W_hadamard(W, x, y),
        "differential formula, inline numpy, no checks": lambda: _bare_differential(W, x, y),
    }
    skipped = []
    if torch is not None:
        Wt = torch.tensor(W, requires_grad=True)
        xt, yt = torch.tensor(x), torch.tensor(y)

        def torch_grad():
            E = 0.5 * ((torch.sigmoid(Wt @ xt) - yt) ** 2).sum()
            return torch.autograd.grad(E, Wt)[0]
        c["PyTorch CPU autograd"] = torch_grad
    else:
        skipped.append("PyTorch (not installed)")
    if autograd is not None:
        def E_hips(W_):
            s = 1.0 / (1.0 + anp.exp(-anp.dot(W_, x)))
            r = s - y
            return 0.5 * anp.sum(r * r)
        hips = autograd.grad(E_hips)
        c["HIPS autograd"] = lambda: hips(W)
    else:
        skipped.append("HIPS autograd (not installed)")
    return c, skipped


def section_seed() -> dict:
    note("\n[1] seed example: one dE/dW, W 5x4")
    W, x, y = seed.example()
    G_ref = differential.grad_W(W, x, y)
    c, skipped = seed_contenders()
    for s_ in skipped:
        note(f"    skipped: {s_}")
    # checked equal first
    agree = {}
    for name, fn in c.items():
        G = fn()
        G = G.detach().numpy() if torch is not None and isinstance(G, torch.Tensor) else np.asarray(G)
        err = float(np.max(np.abs(G - G_ref)) / np.max(np.abs(G_ref)))
        agree[name] = err
        if not err < 1e-12:
            raise SystemExit(f"{name} disagrees with differential.grad_W: relative error {err:.2e}")
    res = compare(c, rounds=41, sample_s=0.004)
    for name in c:
        res[name]["max_rel_diff_vs_differential"] = agree[name]
        res[name]["ratio_to_hadamard"] = paired(res, name, "differential.grad_W_hadamard")
        note(f"    {name:48s} {res[name]['median_s'] * 1e6:9.2f} us  x{res[name]['ratio_to_hadamard']:6.2f}")
    out = {"times": res, "skipped": skipped}
    if "PyTorch CPU autograd" in res:
        out["speedup_vs_torch"] = {n: paired(res, "PyTorch CPU autograd", n) for n in
                                   ("differential.grad_W (Diag form)", "differential.grad_W_hadamard",
                                    "differential formula, inline numpy, no checks")}
        # where the package's time goes: its input checks and forward pass (seed.forward)
        f = compare({"seed.forward (checks + forward + E)": lambda: seed.forward(W, x, y),
                     "differential.grad_W_hadamard": lambda: differential.grad_W_hadamard(W, x, y)},
                    rounds=21, sample_s=0.004)
        out["forward_share_of_hadamard"] = paired(f, "seed.forward (checks + forward + E)", "differential.grad_W_hadamard")
        note(f"    speed-up over PyTorch: {out['speedup_vs_torch']}")
        pol = torch_wait_policy_check(int(os.environ.get("BENCH_TORCH_THREADS", "2")), mode="seed")
        if pol and "seed_speedup" in pol:
            out["speedup_vs_torch_default_policy"] = pol["seed_speedup"]
            note(f"    ... PyTorch with its default OpenMP wait policy (child process): {pol['seed_speedup']}")
        note(f"    seed.forward (input checks, forward, E) is {out['forward_share_of_hadamard']:.0%} of grad_W_hadamard")
    return out


# ----------------------------------------------------------------------------------------------
# 2. scaling of the Jacobian path against the differential path
# ----------------------------------------------------------------------------------------------
def section_scaling(max_call_s: float = 1.0) -> dict:
    """Growth with m = n on one BLAS thread: the question is how the work grows, not how well it
    parallelises (a two-threaded GEMM is also far more sensitive to other processes on the machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        note("    (threadpoolctl missing: BLAS keeps its default threads)")
        return _section_scaling(max_call_s, blas_threads=None)
    with threadpool_limits(limits=1, user_api="blas"):
        return _section_scaling(max_call_s, blas_threads=1)


def _section_scaling(max_call_s: float, blas_threads) -> dict:
    note(f"\n[2] scaling, batch 1, m = n (BLAS threads: {blas_threads or 'default'})")
    paths = {
        "jacobian.grad_W (3-D dv/dW)": jacobian.grad_W,
        "differential.grad_W (Diag form)": differential.grad_W,
        "differential.grad_W_hadamard": differential.grad_W_hadamard,
    }
    rows = []
    active = dict(paths)
    for m in (16, 32, 64, 128, 256, 512, 1024):
        W, x, y = seed.example(seed=1, m=m, n=m)
        row = {"m": m, "n": m, "time_s": {}, "peak_bytes": {}}
        G_ref = differential.grad_W_hadamard(W, x, y)
        for name, fn in list(active.items()):
            t0 = time.perf_counter()
            G = fn(W, x, y)
            one = time.perf_counter() - t0
            assert np.allclose(G, G_ref, rtol=1e-10, atol=1e-14), name
            row["peak_bytes"][name] = peak_bytes(lambda: fn(W, x, y))
            if one > max_call_s:  # too slow to repeat: keep this one size, then stop growing it
                row["time_s"][name] = one
                del active[name]
        timed = {n: (lambda f=f: f(W, x, y)) for n, f in active.items() if n not in row["time_s"]}
        if timed:
            r = compare(timed, rounds=15 if m >= 256 else 31, sample_s=0.01)
            for n in timed:
                row["time_s"][n] = r[n]["median_s"]
        rows.append(row)
        note(f"    m = n = {m:5d}: " + ", ".join(
            f"{n.split(' ')[0]} {row['time_s'][n] * 1e3:.3f} ms / {row['peak_bytes'][n] / 1e6:.2f} MB"
            for n in row["time_s"]))
        jac = "jacobian.grad_W (3-D dv/dW)"
        if jac not in active and jac in row["time_s"]:
            break
        if row["time_s"].get(jac, 0) * 15 > 4.0:  # the next size (8x) would take too long
            break
    exps = {}
    for name in paths:
        pts = [(r["m"], r["time_s"][name], r["peak_bytes"][name]) for r in rows if name in r["time_s"]]
        big = [p for p in pts if p[0] >= 64][-3:]
        if len(big) >= 2:
            ms, ts, bs = zip(*big)
            exps[name] = {"time": fit_exponent(ms, ts), "bytes": fit_exponent(ms, bs),
                          "fitted_on_m": list(ms),
                          # growth between neighbouring sizes: from overhead-bound (~0) to the asymptote
                          "local_time": [[p2[0], fit_exponent([p1[0], p2[0]], [p1[1], p2[1]])]
                                         for p1, p2 in zip(pts, pts[1:])]}
            note(f"    growth exponents {name}: time m^{exps[name]['time']:.2f}, bytes m^{exps[name]['bytes']:.2f} (m = {list(ms)})")
    return {"rows": rows, "exponents": exps, "blas_threads": blas_threads,
            "note": "exponents fitted by least squares on log-log over the three largest sizes with m >= 64"}


# ----------------------------------------------------------------------------------------------
# 3. MLP 784-256-128-10 against the GEMM floor and PyTorch
# ----------------------------------------------------------------------------------------------
SIZES = [784, 256, 128, 10]


def mlp_flops(sizes, B) -> tuple[int, int]:
    """Exact multiply-add FLOPs (2 per multiply-add) of the matmuls: forward, backward.

    Forward: V_l = W_l X_{l-1} for every layer. Backward: dE/dW_l = Delta_l X_{l-1}^T for every layer,
    W_l^T Delta_l for l >= 2 only (no gradient with respect to the input X).
    """
    layer = [sizes[l] * sizes[l - 1] for l in range(1, len(sizes))]
    fwd = 2 * B * sum(layer)
    bwd = 2 * B * (sum(layer) + sum(layer[1:]))
    return fwd, bwd


def section_mlp(blas_threads: int) -> dict:
    note("\n[3] MLP 784-256-128-10, batch 256, ReLU + softmax cross-entropy")
    B = 256
    fwd_flops, bwd_flops = mlp_flops(SIZES, B)
    ideal_ratio = bwd_flops / fwd_flops
    out = {"sizes": SIZES, "batch": B, "flops_forward": fwd_flops, "flops_backward": bwd_flops,
           "ideal_backward_over_forward": ideal_ratio, "dtypes": {}}
    if torch is not None:
        torch.set_num_threads(int(blas_threads))
        out["torch_threads"] = torch.get_num_threads()
    else:
        note("    skipped: PyTorch (not installed)")
    policy = torch_wait_policy_check(blas_threads)
    out["torch_default_policy_check"] = policy
    if policy:
        note(f"    PyTorch fwd+bwd / its own 1024^2 matmul, default OpenMP policy (child process): {policy}")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        net = backprop.MLP(SIZES, hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
        for k in net.params:
            if k.startswith("b"):
                net.params[k] = (0.1 * rng.standard_normal(net.params[k].shape)).astype(dtype)
        X = rng.standard_normal((SIZES[0], B)).astype(dtype)
        labels = rng.integers(0, SIZES[-1], size=B)
        Y = np.eye(SIZES[-1], dtype=dtype)[:, labels]
        p = net.params
        W1, W2, W3 = p["W1"], p["W2"], p["W3"]
        xs, vs = net.forward(X)
        X1, X2 = xs[1], xs[2]
        D3 = (xs[3] - Y) / B
        D2 = (W3.T @ D3) * (vs[1] > 0)
        D1 = (W2.T @ D2) * (vs[0] > 0)

        def mm_forward():
            W1 @ X
            W2 @ X1
            W3 @ X2

        def mm_backward():
            D3 @ X2.T
            W3.T @ D3
            D2 @ X1.T
            W2.T @ D2
            D1 @ X.T

        def mm_both():
            mm_forward()
            mm_backward()

        b1, b2, b3 = p["b1"], p["b2"], p["b3"]
        from backprop.losses import cross_entropy_from_logits

        def inline_fb():
            """The package's operations written inline: no input checks, no dicts, no layer loop."""
            V1 = W1 @ X
            V1 += b1
            H1 = np.maximum(V1, 0)
            V2 = W2 @ H1
            V2 += b2
            H2 = np.maximum(V2, 0)
            V3 = W3 @ H2
            V3 += b3
            S = backprop.softmax(V3)
            cross_entropy_from_logits(V3, Y, "softmax")
            D = S - Y
            D /= B
            D @ H2.T, D.sum(axis=1, keepdims=True)
            G = W3.T @ D
            G *= V2 > 0
            G @ H1.T, G.sum(axis=1, keepdims=True)
            G1 = W2.T @ G
            G1 *= V1 > 0
            G1 @ X.T, G1.sum(axis=1, keepdims=True)

        c = {"backprop.MLP forward": lambda: net.forward(X),
             "backprop.MLP forward+backward": lambda: net.loss_and_gradients(X, Y),
             "matmuls alone, forward": mm_forward,
             "matmuls alone, forward+backward": mm_both,
             "same operations inline, no checks, forward+backward": inline_fb}
        if torch is not None:
            t_forward, t_fb = torch_mlp(p, X, labels, dtype)
            tdt = torch.float32 if dtype == np.float32 else torch.float64

            E_t, g_t = t_fb()
            E_n, g_n = net.loss_and_gradients(X, Y)
            tol = 1e-4 if dtype == np.float32 else 1e-10
            worst = max(float(np.max(np.abs(g.numpy().reshape(g_n[k].shape) - g_n[k])) / np.max(np.abs(g_n[k])))
                        for k, g in zip(p, g_t))
            if not (abs(E_t.item() - E_n) <= tol * abs(E_n) and worst <= tol):
                raise SystemExit(f"PyTorch and backprop.MLP disagree ({name}): E {E_t.item()} vs {E_n}, grads {worst:.1e}")
            c["PyTorch forward (no_grad)"] = t_forward
            c["PyTorch forward+backward"] = t_fb
            tA = torch.tensor(rng.standard_normal((1024, 1024)), dtype=tdt)
            c["torch.matmul 1024x1024"] = lambda: tA @ tA
        N = 1024  # a large square matmul: the GEMM throughput, interleaved with the contenders
        A = rng.standard_normal((N, N)).astype(dtype)
        c[f"np.matmul {N}x{N} (throughput)"] = lambda: A @ A
        # Another process taking a core makes two-threaded GEMMs wait for each other (up to 10x slower).
        # If the large matmul ran much slower than the fastest one seen, the machine was busy: measure
        # this dtype again (at most 3 attempts; the attempts are recorded).
        attempts = []
        for _ in range(3):
            res = compare(c, rounds=41, sample_s=0.02)
            g = res[f"np.matmul {N}x{N} (throughput)"]
            best = min(GEMM_SECONDS.get(name, np.inf), g["q1_s"])
            GEMM_SECONDS[name] = best
            busy = g["median_s"] > 1.25 * best or g["q3_s"] > 1.5 * g["q1_s"]
            attempts.append({"gemm_median_s": g["median_s"], "gemm_q1_s": g["q1_s"], "gemm_q3_s": g["q3_s"],
                             "fastest_gemm_seen_s": best, "busy": bool(busy)})
            if not busy:
                break
            note(f"    {name}: the machine was busy (1024^2 matmul {g['median_s'] * 1e3:.1f} ms, fastest seen "
                 f"{best * 1e3:.1f} ms): measuring again")
        gemm = 2 * N ** 3 / res[f"np.matmul {N}x{N} (throughput)"]["median_s"]
        floor_f, floor_fb = fwd_flops / gemm, (fwd_flops + bwd_flops) / gemm
        d = {"gemm_flops_per_s": gemm, "gemm_size": N, "attempts": attempts,
             "floor_forward_s": floor_f, "floor_forward_backward_s": floor_fb, "times": res}
        t = {k: v["median_s"] for k, v in res.items()}
        G = f"np.matmul {N}x{N} (throughput)"
        gemm_flop = 2 * N ** 3
        # every ratio is a median over rounds of the ratio within one round (see paired)
        d["ratios"] = {
            "forward / FLOP floor": paired(res, "backprop.MLP forward", G) * gemm_flop / fwd_flops,
            "forward+backward / FLOP floor": paired(res, "backprop.MLP forward+backward", G) * gemm_flop / (fwd_flops + bwd_flops),
            "matmuls alone forward / FLOP floor": paired(res, "matmuls alone, forward", G) * gemm_flop / fwd_flops,
            "matmuls alone forward+backward / FLOP floor": paired(res, "matmuls alone, forward+backward", G) * gemm_flop / (fwd_flops + bwd_flops),
            "forward+backward / matmuls alone": paired(res, "backprop.MLP forward+backward", "matmuls alone, forward+backward"),
            "inline operations / matmuls alone (cost of the elementwise passes)": paired(res, "same operations inline, no checks, forward+backward", "matmuls alone, forward+backward"),
            "forward+backward / inline operations (cost of checks and structure)": paired(res, "backprop.MLP forward+backward", "same operations inline, no checks, forward+backward"),
            "backward / forward (measured)": paired(res, "backprop.MLP forward+backward", "backprop.MLP forward") - 1,
            "backward / forward (matmuls alone)": paired(res, "matmuls alone, forward+backward", "matmuls alone, forward") - 1,
            "backward / forward (ideal FLOPs)": ideal_ratio,
        }
        if torch is not None:
            d["ratios"]["forward+backward / PyTorch"] = paired(res, "backprop.MLP forward+backward", "PyTorch forward+backward")
            d["ratios"]["forward / PyTorch forward"] = paired(res, "backprop.MLP forward", "PyTorch forward (no_grad)")
            d["torch_fb_over_own_matmul_passive"] = paired(res, "PyTorch forward+backward", "torch.matmul 1024x1024")
            if policy and name in policy:
                # PyTorch with its default OpenMP wait policy, scaled by its own matmul timed here
                d["torch_fb_over_own_matmul_default_policy"] = policy[name]
                d["ratios"]["forward+backward / PyTorch (default OpenMP policy, child process)"] = (
                    paired(res, "backprop.MLP forward+backward", "torch.matmul 1024x1024") / policy[name])
        out["dtypes"][name] = d
        note(f"    {name}: GEMM {gemm / 1e9:.1f} GFLOP/s; floor fwd {floor_f * 1e3:.3f} ms, fwd+bwd {floor_fb * 1e3:.3f} ms")
        for k, v in t.items():
            note(f"      {k:36s} {v * 1e3:8.3f} ms")
        for k, v in d["ratios"].items():
            note(f"      {k:46s} {v:6.3f}")
    return out


def torch_mlp(params: dict, X: np.ndarray, labels: np.ndarray, dtype):
    """PyTorch's own idiom for the section-3 network: rows are examples, F.linear (x W^T + b) and the
    fused F.cross_entropy; the same parameters and data as backprop.MLP. Returns (forward, fwd+bwd);
    fwd+bwd returns (E, grads in the order of params)."""
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tp = {k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, dtype=tdt, requires_grad=True)
          for k, v in params.items()}
    tX = torch.tensor(np.ascontiguousarray(X.T), dtype=tdt)  # (B, n0)
    tlab = torch.tensor(labels)
    F = torch.nn.functional

    def logits():
        H = torch.relu(F.linear(tX, tp["W1"], tp["b1"]))
        H = torch.relu(F.linear(H, tp["W2"], tp["b2"]))
        return F.linear(H, tp["W3"], tp["b3"])

    def t_forward():
        with torch.no_grad():
            return torch.softmax(logits(), dim=1)

    def t_fb():
        E = F.cross_entropy(logits(), tlab)
        return E, torch.autograd.grad(E, list(tp.values()))
    return t_forward, t_fb


def _torch_mlp_fns(dtype, B: int = 256):
    """PyTorch forward+backward of the section-3 network, and a 1024^2 matmul."""
    rng = np.random.default_rng(0)
    net = backprop.MLP(SIZES, hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    X = rng.standard_normal((SIZES[0], B)).astype(dtype)
    _, t_fb = torch_mlp(net.params, X, rng.integers(0, SIZES[-1], size=B), dtype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    A = torch.tensor(rng.standard_normal((1024, 1024)), dtype=tdt)
    return {"PyTorch forward+backward": t_fb, "torch.matmul 1024x1024": lambda: A @ A}


def torch_alone() -> dict:
    """Run in a child process with PyTorch's default OpenMP wait policy: PyTorch forward+backward
    relative to its own large matmul (which the wait policy hardly affects), no numpy BLAS work in
    between; or (BENCH_DIGITS set) the digits step of both libraries, interleaved."""
    out = {}
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "2")))
    if os.environ.get("BENCH_MODE") == "seed":
        c, _ = seed_contenders()
        keep = ("PyTorch CPU autograd", "differential.grad_W (Diag form)", "differential.grad_W_hadamard",
                "differential formula, inline numpy, no checks")
        r = compare({k: c[k] for k in keep}, rounds=41, sample_s=0.004)
        out["seed_speedup"] = {k: paired(r, "PyTorch CPU autograd", k) for k in keep[1:]}
        return out
    if os.environ.get("BENCH_DIGITS"):
        cfg = json.loads(os.environ["BENCH_DIGITS"])
        Xtr, _, ytr, _ = _digits_data(cfg)
        sp = {}
        for threads in sorted({1, int(os.environ.get("BENCH_TORCH_THREADS", "2"))}):
            torch.set_num_threads(threads)  # a tiny network may run best on one thread: give PyTorch its best
            st = compare(digits_step_contenders(cfg, Xtr, ytr), rounds=41, sample_s=0.01)
            sp[threads] = paired(st, "PyTorch SGD step (autograd + torch.optim.SGD)", "backprop.MLP SGD step")
        out["step_speedup_by_torch_threads"] = sp
        out["step_speedup"] = min(sp.values())
        return out
    for dtype in (np.float32, np.float64):
        r = compare(_torch_mlp_fns(dtype), rounds=31, sample_s=0.02)
        out[np.dtype(dtype).name] = paired(r, "PyTorch forward+backward", "torch.matmul 1024x1024")
    return out


def torch_wait_policy_check(blas_threads: int, digits: dict | None = None, mode: str = "mlp") -> dict | None:
    """PyTorch's time relative to its own 1024^2 matmul, here (passive OpenMP threads) and in a child
    process with PyTorch's default OpenMP settings; used to make the PyTorch comparison fair."""
    if torch is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # OpenBLAS stays quiet
    env["BENCH_CHILD"] = "torch-alone"
    env["BENCH_TORCH_THREADS"] = str(blas_threads)
    env["BENCH_MODE"] = mode
    if digits is not None:
        env["BENCH_DIGITS"] = json.dumps(digits)
    proc = subprocess.run([sys.executable, __file__, "--torch-alone"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        note(f"    PyTorch default-policy check failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# 4. digits training
# ----------------------------------------------------------------------------------------------
def section_digits() -> dict:
    note("\n[4] digits training")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        note("    skipped: scikit-learn (not installed)")
        return {"skipped": "scikit-learn not installed"}
    from backprop import train as train_mod
    return _digits(train_mod)


def _digits(train_mod) -> dict:
    cfg, source = dict(train_mod.DIGITS_SETTINGS), "backprop.train.DIGITS_SETTINGS"
    note(f"    settings ({source}): {cfg}")
    Xtr, Xte, ytr, yte = _digits_data(cfg)
    out = {"settings": cfg, "settings_source": source, "n_train": len(ytr), "n_test": len(yte)}
    sizes, bs, lr, mom, epochs = cfg["sizes"], cfg["batch_size"], cfg["learning_rate"], cfg["momentum"], cfg["epochs"]

    # --- the package: backprop.train.sgd on backprop.MLP ------------------------------------------
    def train_package_sgd():
        net = backprop.MLP(sizes, hidden=cfg["hidden"], output="softmax", loss="cross_entropy", seed=cfg["seed"])
        train_mod.sgd(net, Xtr.T.copy(), np.eye(10)[:, ytr], learning_rate=lr, batch_size=bs, epochs=epochs,
                      momentum=mom, seed=cfg["seed"])
        return float(np.mean(net.predict(Xte.T).argmax(axis=0) == yte))

    # --- scikit-learn with matched settings -------------------------------------------------------
    def train_sklearn():
        from sklearn.neural_network import MLPClassifier
        import warnings
        from sklearn.exceptions import ConvergenceWarning
        clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation=cfg["hidden"], solver="sgd",
                            learning_rate_init=lr, momentum=mom, nesterovs_momentum=False, batch_size=bs,
                            max_iter=epochs, alpha=0.0, shuffle=True, random_state=cfg["seed"],
                            n_iter_no_change=epochs + 1, tol=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, ytr)
        return float(clf.score(Xte, yte))

    runs = {"backprop.train.sgd on backprop.MLP": train_package_sgd}
    runs["scikit-learn MLPClassifier (sgd, matched settings)"] = train_sklearn
    res = {}
    order = list(runs)
    reps = 3 if QUICK else 5
    for r_ in range(reps):  # interleaved; a full training is long enough to time once per round
        for name in (order if r_ % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            acc = runs[name]()
            res.setdefault(name, {"times_s": [], "accuracy": acc})["times_s"].append(time.perf_counter() - t0)
    for name, v in res.items():
        v["median_s"] = float(np.median(v["times_s"]))
        note(f"    {name:55s} {v['median_s']:.3f} s  held-out accuracy {v['accuracy']:.4f}")
    out["training"] = res

    st = compare(digits_step_contenders(cfg, Xtr, ytr), rounds=41, sample_s=0.01)
    for name, v in st.items():
        note(f"    {name:55s} {v['median_s'] * 1e6:8.1f} us per step")
    out["step"] = st
    if torch is not None:
        out["step_speedup_vs_torch"] = paired(st, "PyTorch SGD step (autograd + torch.optim.SGD)", "backprop.MLP SGD step")
        note(f"    per-step speed-up over PyTorch: {out['step_speedup_vs_torch']:.2f}")
        pol = torch_wait_policy_check(int(os.environ.get("BENCH_TORCH_THREADS", "2")), digits=cfg)
        if pol and "step_speedup" in pol:
            out["step_speedup_vs_torch_default_policy"] = pol["step_speedup"]
            note(f"    per-step speed-up over PyTorch, default OpenMP policy (child process): {pol['step_speedup']:.2f}")
    else:
        note("    skipped: PyTorch step (not installed)")
    return out


def _digits_data(cfg):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=cfg["test_size"],
                            random_state=cfg["seed"], stratify=digits.target)


def digits_step_contenders(cfg: dict, Xtr, ytr) -> dict:
    """One SGD-with-momentum step on one batch: backprop.MLP and PyTorch (same network, same batch)."""
    sizes, bs, lr, mom = cfg["sizes"], cfg["batch_size"], cfg["learning_rate"], cfg["momentum"]
    rng = np.random.default_rng(1)
    idx = rng.choice(len(ytr), size=bs, replace=False)
    net = backprop.MLP(sizes, hidden=cfg["hidden"], output="softmax", loss="cross_entropy", seed=cfg["seed"])
    Xb, Yb = Xtr[idx].T.copy(), np.eye(10)[:, ytr[idx]]
    vel = {k: np.zeros_like(v) for k, v in net.params.items()}

    def step_package():
        _, g = net.loss_and_gradients(Xb, Yb)
        for k, P in net.params.items():
            vel[k] *= mom
            vel[k] -= lr * g[k]
            P += vel[k]
    steps = {"backprop.MLP SGD step": step_package}
    if torch is not None:
        tp = [torch.tensor(net.params[k], requires_grad=True) for k in net.params]
        opt = torch.optim.SGD(tp, lr=lr, momentum=mom)
        tX, tlab = torch.tensor(Xb), torch.tensor(ytr[idx])
        F = torch.nn.functional
        hid = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[cfg["hidden"]]

        def step_torch():
            H = tX
            for l in range(0, len(tp) - 2, 2):
                H = hid(torch.addmm(tp[l + 1], tp[l], H))
            E = F.cross_entropy(torch.addmm(tp[-1], tp[-2], H).T, tlab)
            opt.zero_grad(set_to_none=True)
            E.backward()
            opt.step()
        steps["PyTorch SGD step (autograd + torch.optim.SGD)"] = step_torch
    return steps


# ----------------------------------------------------------------------------------------------
# 5. the project's own loop
# ----------------------------------------------------------------------------------------------
def section_loop() -> dict:
    note("\n[5] the project's own loop, in a fresh clone (its own .venv)")
    tmp = Path(tempfile.mkdtemp(prefix="backprop-loop-"))
    clone = tmp / "repo"
    out = {"clone": "fresh git clone of the committed main", "commit": None,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average_1min_start": os.getloadavg()[0]}
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        out["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone,
                                       capture_output=True, text=True).stdout.strip()
        env = {k: v for k, v in os.environ.items() if k not in BENCH_ENV and k != "VIRTUAL_ENV"}
        for step in ("setup", "build", "test"):
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(["python3", "dev.py", step], cwd=clone, env=env,
                                      capture_output=True, text=True, timeout=1800)
            except subprocess.TimeoutExpired as e:
                proc = subprocess.CompletedProcess(e.cmd, -1, "", "timed out after 1800 s")
            out[f"{step}_s"] = time.perf_counter() - t0
            out[f"{step}_returncode"] = proc.returncode
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
            out[f"{step}_last_line"] = tail[0][:200]
            failed = [ln[:160] for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith(("FAILED", "ERROR "))]
            if failed:
                out[f"{step}_failed"] = failed[:30]
            note(f"    python3 dev.py {step}: {out[f'{step}_s']:.1f} s (exit {proc.returncode}) {tail[0][:100]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def markdown(r: dict) -> str:
    m = r["machine"]
    L = ["<!-- Generated by benchmarks/run.py; do not edit by hand. -->", "",
         f"Measured {r['date']} in one run of `{r['command']}` ({r['wall_s']:.0f} s; "
         f"1-minute load average of the machine {r['load_average_1min']['start']:.1f} at the start, "
         f"{r['load_average_1min']['end']:.1f} at the end).", "",
         "| machine | |", "|---|---|",
         f"| CPU | {m['cpu']}, {m['cores']} cores |",
         f"| Python / numpy | {m['python']} / {m['numpy']} |",
         f"| BLAS (threadpoolctl) | {m.get('blas')} |",
         f"| PyTorch | {m['torch'] or 'not installed'} |",
         f"| HIPS autograd | {m['autograd'] or 'not installed'} |",
         f"| scikit-learn | {m.get('scikit-learn') or 'not installed'} |",
         f"| environment | " + ", ".join(f"`{k}={v}`" for k, v in m["env"].items()) + " |", ""]
    s = r["seed"]
    L += ["### 1. The seed example: one ∂E/∂W (W 5×4)", "",
          "| path | median time | × `grad_W_hadamard` |", "|---|--:|--:|"]
    for name, v in s["times"].items():
        L.append(f"| {name} | {fmt_t(v['median_s'])} | {v['ratio_to_hadamard']:.2f} |")
    L.append("")
    if s.get("skipped"):
        L += ["Skipped: " + ", ".join(s["skipped"]) + ".", ""]
    if "speedup_vs_torch" in s:
        sp = s["speedup_vs_torch"]
        sp2 = s.get("speedup_vs_torch_default_policy") or {}
        best = min(sp["differential.grad_W_hadamard"], sp2.get("differential.grad_W_hadamard", np.inf))

        def both(k):
            return f"{sp[k]:.1f}×" + (f" ({sp2[k]:.1f}× against PyTorch with its default OpenMP wait policy)" if k in sp2 else "")
        L += [f"Target: differential path ≥ 10× faster than PyTorch autograd — {verdict(best >= 10)}: "
              f"`differential.grad_W_hadamard` is {both('differential.grad_W_hadamard')} faster, `differential.grad_W` "
              f"{both('differential.grad_W (Diag form)')}, the bare formula without input checks "
              f"{both('differential formula, inline numpy, no checks')}. "
              f"`seed.forward` (input checks and the forward pass up to s) alone takes "
              f"{s['forward_share_of_hadamard']:.0%} of `grad_W_hadamard`'s time.", ""]
    sc = r["scaling"]
    names = list(sc["exponents"]) or list(sc["rows"][0]["time_s"])
    L += ["### 2. Scaling with the layer size (batch 1, m = n)", "",
          "Median time of one G" + (" with numpy's BLAS limited to one thread" if sc.get("blas_threads") == 1 else "")
          + ", and peak bytes allocated during one call (tracemalloc):", "",
          "| m = n | " + " | ".join(f"time: {n}" for n in names) + " |", "|--:|" + "--:|" * len(names)]
    for row in sc["rows"]:
        L.append(f"| {row['m']} | " + " | ".join(fmt_t(row['time_s'][n]) if n in row['time_s'] else "—" for n in names) + " |")
    L += ["", "| m = n | " + " | ".join(f"bytes: {n}" for n in names) + " |", "|--:|" + "--:|" * len(names)]
    for row in sc["rows"]:
        L.append(f"| {row['m']} | " + " | ".join(_fmt_b(row['peak_bytes'][n]) if n in row['peak_bytes'] else "—" for n in names) + " |")
    L += ["", "Fitted growth exponents p (time or bytes ∝ m^p, least squares on log-log over the three largest "
          "sizes), and the exponent between neighbouring sizes (m/2 → m), which shows the move from "
          "overhead-bound (p ≈ 0) to the asymptotic regime:", "",
          "| path | time ∝ m^p | peak bytes ∝ m^p | fitted on m = | time exponent m/2 → m |", "|---|--:|--:|---|---|"]
    for n, e in sc["exponents"].items():
        loc = ", ".join(f"{p:.1f} ({m})" for m, p in e.get("local_time", []))
        L.append(f"| {n} | {e['time']:.2f} | {e['bytes']:.2f} | {', '.join(map(str, e['fitted_on_m']))} | {loc} |")
    L.append("")
    ml = r["mlp"]
    L += [f"### 3. `backprop.MLP` {'-'.join(map(str, ml['sizes']))}, batch {ml['batch']}, ReLU + softmax cross-entropy", "",
          f"Matmul FLOPs: forward {ml['flops_forward'] / 1e6:.1f} M, backward {ml['flops_backward'] / 1e6:.1f} M "
          f"(ideal backward/forward = {ml['ideal_backward_over_forward']:.3f}: no gradient with respect to X). "
          f"Floor = FLOPs ÷ throughput of a {ml['dtypes'][next(iter(ml['dtypes']))]['gemm_size']}² `np.matmul`, timed interleaved with the contenders."
          + (f" PyTorch uses {ml['torch_threads']} threads, like numpy's BLAS." if "torch_threads" in ml else ""), ""]
    dts = list(ml["dtypes"])
    L += ["| | " + " | ".join(dts) + " |", "|---|" + "--:|" * len(dts)]
    L.append("| GEMM throughput | " + " | ".join(f"{ml['dtypes'][d]['gemm_flops_per_s'] / 1e9:.0f} GFLOP/s" for d in dts) + " |")
    L.append("| FLOP floor forward / forward+backward | " + " | ".join(
        f"{fmt_t(ml['dtypes'][d]['floor_forward_s'])} / {fmt_t(ml['dtypes'][d]['floor_forward_backward_s'])}" for d in dts) + " |")
    for k in ml["dtypes"][dts[0]]["times"]:
        L.append(f"| {k} | " + " | ".join(fmt_t(ml['dtypes'][d]['times'][k]['median_s']) for d in dts) + " |")
    for k in ml["dtypes"][dts[0]]["ratios"]:
        L.append(f"| ratio: {k} | " + " | ".join(f"{ml['dtypes'][d]['ratios'][k]:.2f}" for d in dts) + " |")
    L.append("")
    for d in dts:
        att = ml["dtypes"][d].get("attempts", [])
        if len(att) > 1:
            L.append(f"- {d}: measured {len(att)} times, because the large matmul ran slow (another process "
                     f"on the machine) in {sum(a['busy'] for a in att[:-1])} earlier attempt(s); the table shows the last one"
                     + (" (still disturbed: read with care)" if att[-1]["busy"] else "") + ".")
        ra = ml["dtypes"][d]["ratios"]
        txt = (f"{d}: forward+backward ≤ 1.15× the FLOP floor — {verdict(ra['forward+backward / FLOP floor'] <= 1.15)} "
               f"({ra['forward+backward / FLOP floor']:.2f}×; the same matmuls alone reach "
               f"{ra['matmuls alone forward+backward / FLOP floor']:.2f}×, the package is "
               f"{ra['forward+backward / matmuls alone']:.2f}× its own matmuls: the elementwise passes cost "
               f"{ra['inline operations / matmuls alone (cost of the elementwise passes)']:.2f}×, checks and structure "
               f"{ra['forward+backward / inline operations (cost of checks and structure)']:.2f}×)")
        if "forward+backward / PyTorch" in ra:
            k2 = "forward+backward / PyTorch (default OpenMP policy, child process)"
            worst = max(ra["forward+backward / PyTorch"], ra.get(k2, 0.0))
            txt += (f"; ≤ 1.0× PyTorch — {verdict(worst <= 1.0)} "
                    + ("(judged on the slower of two comparisons: " if k2 in ra else "(")
                    + f"{ra['forward+backward / PyTorch']:.2f}× against PyTorch in this process"
                    + (f", {ra[k2]:.2f}× against PyTorch with its default OpenMP wait policy in a child process"
                       if k2 in ra else "")
                    + ")")
        txt += (f"; backward/forward {ra['backward / forward (measured)']:.2f} measured against "
                f"{ra['backward / forward (ideal FLOPs)']:.2f} ideal.")
        L += [f"- {txt}"]
    L.append("")
    dg = r["digits"]
    L += ["### 4. Training on scikit-learn's digits", ""]
    if "skipped" in dg:
        L += [f"Not measured: {dg['skipped']}.", ""]
    else:
        L += _digits_md(dg)
    lp = r.get("loop")
    L += ["### 5. The project's own loop", ""]
    if not lp:
        L += ["Not measured in this run (opt-in: `--loop`).", ""]
    else:
        L += [f"Measured {lp.get('date')} (load average {lp.get('load_average_1min_start', float('nan')):.1f} at the start) "
              f"in a fresh clone of commit `{lp.get('commit')}` with its own `.venv` "
              "(`setup` creates it and installs the book, test and instructor extras):", "",
              "| command | seconds | exit |", "|---|--:|--:|"]
        for step in ("setup", "build", "test"):
            if f"{step}_s" in lp:
                L.append(f"| `python3 dev.py {step}` | {lp[f'{step}_s']:.0f} | {lp[f'{step}_returncode']} |")
        L.append("")
        for step in ("setup", "build", "test"):
            if lp.get(f"{step}_returncode"):
                L += [f"`python3 dev.py {step}` did not pass at that commit; its summary line: "
                      f"`{lp.get(f'{step}_last_line', '').strip('= ')}`.", ""]
    return "\n".join(L)


def _digits_md(dg: dict) -> list[str]:
    cfg = dg["settings"]
    L = [f"Settings from {dg['settings_source']}: " + ", ".join(f"{k} = {v}" for k, v in cfg.items())
         + f"; {dg['n_train']} training and {dg['n_test']} held-out images (stratified split).", "",
         "| training run | median wall time | held-out accuracy |", "|---|--:|--:|"]
    for name, v in dg["training"].items():
        L.append(f"| {name} | {fmt_t(v['median_s'])} | {100 * v['accuracy']:.2f} % |")
    L += ["", "| one SGD step (batch %d) | median time |" % cfg["batch_size"], "|---|--:|"]
    for name, v in dg["step"].items():
        L.append(f"| {name} | {fmt_t(v['median_s'])} |")
    L.append("")
    ours = next(v for k, v in dg["training"].items() if k.startswith("backprop"))
    ok = ours["accuracy"] >= 0.975 and ours["median_s"] <= 1.0
    L.append(f"- ≥ 97.5 % held-out accuracy in ≤ 1 s on {os.cpu_count()} cores — {verdict(ok)} "
             f"({100 * ours['accuracy']:.2f} % in {fmt_t(ours['median_s'])}).")
    if "step_speedup_vs_torch" in dg:
        sp = dg["step_speedup_vs_torch"]
        sp2 = dg.get("step_speedup_vs_torch_default_policy")
        worst = min(sp, sp2) if sp2 else sp
        L.append(f"- ≥ 3× faster per step than PyTorch — {verdict(worst >= 3)} ({sp:.1f}× in this run"
                 + (f"; {sp2:.1f}× in a child process with PyTorch's default OpenMP wait policy" if sp2 else "")
                 + ").")
    L.append("")
    return L


def _fmt_b(b: float) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= f:
            return f"{b / f:.1f} {unit}"
    return f"{b:.0f} B"


def main() -> int:
    global QUICK
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats; results are not written")
    ap.add_argument("--loop", action="store_true", help="also time a clean site build and the full tests in a fresh clone")
    ap.add_argument("--only", default="seed,scaling,mlp,digits",
                    help="comma-separated sections (results are written only for all four; "
                         "'loop' alone adds section 5 to the committed results)")
    ap.add_argument("--torch-alone", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    QUICK = args.quick
    if args.torch_alone:
        warm_up_gemm()
        print(json.dumps(torch_alone()))
        return 0
    t_start = time.perf_counter()
    load0 = os.getloadavg()[0]  # other processes on the machine disturb two-threaded GEMMs
    warm_up_gemm()
    mach = machine()
    os.environ["BENCH_TORCH_THREADS"] = str(mach["blas_threads"])
    if torch is not None:
        torch.set_num_threads(int(mach["blas_threads"]))  # the same thread count as numpy's BLAS
    note(f"machine: {mach['cpu']}, {mach['cores']} cores, numpy {mach['numpy']}, {mach.get('blas')}, torch {mach['torch']}")
    only = set(args.only.split(","))
    if only == {"loop"}:  # only section 5, merged into the committed results
        r = json.loads((HERE / "results.json").read_text())
        r["loop"] = section_loop()
        (HERE / "results.json").write_text(json.dumps(r, indent=1) + "\n")
        (HERE / "results.md").write_text(markdown(r) + "\n")
        note(f"wrote section 5 into {HERE / 'results.json'} and {HERE / 'results.md'}")
        return 0
    r = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
         "command": "python benchmarks/run.py" + (" --loop" if args.loop else ""),
         "machine": mach}
    r["seed"] = section_seed() if "seed" in only else {"times": {}}
    r["scaling"] = section_scaling() if "scaling" in only else {"rows": [], "exponents": {}}
    r["mlp"] = section_mlp(mach["blas_threads"]) if "mlp" in only else None
    r["digits"] = section_digits() if "digits" in only else {"skipped": "not selected"}
    if args.loop:
        r["loop"] = section_loop()
    elif (HERE / "results.json").exists():  # keep an earlier measurement of section 5 (it has its own date)
        r["loop"] = json.loads((HERE / "results.json").read_text()).get("loop")
    r["wall_s"] = time.perf_counter() - t_start
    r["load_average_1min"] = {"start": load0, "end": os.getloadavg()[0]}
    note(f"\nwall time {r['wall_s']:.0f} s")
    if args.quick or only != {"seed", "scaling", "mlp", "digits"}:
        note("(--quick / --only: results not written)")
        return 0
    (HERE / "results.json").write_text(json.dumps(r, indent=1) + "\n")
    (HERE / "results.md").write_text(markdown(r) + "\n")
    note(f"wrote {HERE / 'results.json'} and {HERE / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
