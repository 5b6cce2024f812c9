"""Section 3: backprop.MLP 784-256-128-10 (batch 256) against the GEMM floor and PyTorch."""

from __future__ import annotations

import harness
import numpy as np
from machine_info import torch
from mlp_contenders import PASSES, flops, inline, network, numpy_contenders, torch_contenders, torch_mlp
from mlp_report import POLICY, markdown, verdicts  # noqa: F401 (markdown: the section's writer)
from torch_child import policy_check

KEY, TITLE, DEFAULT = "mlp", "`backprop.MLP` against the GEMM floor and PyTorch", True
FULL = {"sizes": [784, 256, 128, 10], "batch": 256, "gemm": 1024}
QUICK = {"sizes": [64, 32, 16, 10], "batch": 32, "gemm": 128}  # the same code on tiny sizes
FB, FWD, MM_FB, MM_F = (
    "backprop.MLP forward+backward",
    "backprop.MLP forward",
    "matmuls alone, forward+backward",
    "matmuls alone, forward",
)
INLINE, T_FB = "same operations inline, no checks, forward+backward", "PyTorch forward+backward"


def heading(ml: dict) -> str:
    return (
        f"`backprop.MLP` {'-'.join(map(str, ml['sizes']))}, batch {ml['batch']}, ReLU + softmax cross-entropy"
    )


def torch_alone(cfg: dict) -> dict:
    """(child process) PyTorch forward+backward over its own N x N matmul, default OpenMP policy."""
    out = {}
    for dtype in (np.float32, np.float64):
        r = harness.compare(
            torch_contenders(cfg["sizes"], cfg["batch"], dtype, cfg["gemm"]), rounds=31, sample_s=0.02
        )
        out[np.dtype(dtype).name] = harness.paired(r, T_FB, f"torch.matmul {cfg['gemm']}x{cfg['gemm']}")
    return out


def run(quick: bool) -> dict:
    cfg = QUICK if quick else FULL
    sizes, B, N = cfg["sizes"], cfg["batch"], cfg["gemm"]
    harness.note(f"\n[3] MLP {'-'.join(map(str, sizes))}, batch {B}, ReLU + softmax cross-entropy")
    fwd_flops, bwd_flops = flops(sizes, B)
    out = {
        "sizes": sizes,
        "batch": B,
        "flops_forward": fwd_flops,
        "flops_backward": bwd_flops,
        "ideal_backward_over_forward": bwd_flops / fwd_flops,
        "dtypes": {},
    }
    if torch is not None:
        torch.set_num_threads(harness.torch_threads())
        out["torch_threads"] = torch.get_num_threads()
    else:
        harness.note("    skipped: PyTorch (not installed)")
    policy = policy_check("mlp_floor", harness.torch_threads(), cfg)
    out["torch_default_policy_check"] = policy
    if policy:
        harness.note(
            f"    PyTorch fwd+bwd / its own {N}^2 matmul, default OpenMP policy (child process): {policy}"
        )
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        out["dtypes"][np.dtype(dtype).name] = one_dtype(dtype, cfg, rng, policy, out, quick)
    out["verdicts"] = [v for d in out["dtypes"].values() for v in d["verdicts"]]
    return out


def one_dtype(dtype, cfg: dict, rng, policy, out: dict, quick: bool) -> dict:
    name, sizes, B, N = np.dtype(dtype).name, cfg["sizes"], cfg["batch"], cfg["gemm"]
    net, X, labels, Y = network(sizes, B, dtype, rng)
    c = numpy_contenders(net, X, Y)
    p = net.params
    for k, what in PASSES.items():  # the price of each elementwise pass, in context
        c[f"inline, without {what}"] = inline(
            p["W1"], p["W2"], p["W3"], p["b1"], p["b2"], p["b3"], X, Y, frozenset({k})
        )
    if torch is not None:
        t_forward, t_fb = torch_mlp(net.params, X, labels, dtype)
        E_t, g_t = t_fb()
        E_n, g_n = net.loss_and_gradients(X, Y)
        tol = 1e-4 if dtype == np.float32 else 1e-10
        worst = max(
            float(np.max(np.abs(g.numpy().reshape(g_n[k].shape) - g_n[k])) / np.max(np.abs(g_n[k])))
            for k, g in zip(net.params, g_t)
        )
        if not (abs(E_t.item() - E_n) <= tol * abs(E_n) and worst <= tol):
            raise SystemExit(
                f"PyTorch and backprop.MLP disagree ({name}): E {E_t.item()} vs {E_n}, grads {worst:.1e}"
            )
        c["PyTorch forward (no_grad)"], c[T_FB] = t_forward, t_fb
        tA = torch.tensor(
            rng.standard_normal((N, N)), dtype=torch.float32 if dtype == np.float32 else torch.float64
        )
        c[f"torch.matmul {N}x{N}"] = lambda: tA @ tA
    A = rng.standard_normal((N, N)).astype(dtype)  # a large square matmul: the GEMM throughput
    GEMM = f"np.matmul {N}x{N} (throughput)"
    c[GEMM] = lambda: A @ A
    # Another process taking a core makes two-threaded GEMMs wait for each other (up to 10x slower).
    # If the large matmul ran much slower than the fastest one seen, the machine was busy: measure
    # this dtype again (at most 3 attempts; the attempts are recorded).
    attempts = []
    for attempt in range(1 if quick else 3):
        res = harness.compare(c, rounds=41, sample_s=0.005 if quick else 0.02)
        g = res[GEMM]
        best = min(harness.GEMM_SECONDS.get(f"{name} {N}", np.inf), g["q1_s"])
        harness.GEMM_SECONDS[f"{name} {N}"] = best
        busy = g["median_s"] > 1.25 * best or g["q3_s"] > 1.5 * g["q1_s"]
        attempts.append(
            {
                "gemm_median_s": g["median_s"],
                "gemm_q1_s": g["q1_s"],
                "gemm_q3_s": g["q3_s"],
                "fastest_gemm_seen_s": best,
                "busy": bool(busy),
            }
        )
        if not busy or attempt == (0 if quick else 2):
            break
        harness.note(
            f"    {name}: the machine was busy ({N}^2 matmul {g['median_s'] * 1e3:.1f} ms, fastest seen "
            f"{best * 1e3:.1f} ms): measuring again"
        )
    gemm = 2 * N**3 / res[GEMM]["median_s"]
    fwd, bwd = out["flops_forward"], out["flops_backward"]
    d = {
        "gemm_flops_per_s": gemm,
        "gemm_size": N,
        "attempts": attempts,
        "floor_forward_s": fwd / gemm,
        "floor_forward_backward_s": (fwd + bwd) / gemm,
        "times": res,
    }
    d["ratios"] = ratios(res, GEMM, 2 * N**3, fwd, bwd)
    d["peak_bytes"] = {k: harness.peak_bytes(c[k]) for k in (FB, INLINE)}  # tracemalloc, one call
    # share of the inline operations' time that each elementwise pass takes (1 - without / with)
    d["pass_share_of_inline"] = {
        what: 1 - harness.paired(res, f"inline, without {what}", INLINE) for what in PASSES.values()
    }
    if torch is not None:
        P = harness.paired
        d["ratios"]["forward+backward / PyTorch"] = P(res, FB, T_FB)
        d["ratios"]["forward / PyTorch forward"] = P(res, FWD, "PyTorch forward (no_grad)")
        d["torch_fb_over_own_matmul_passive"] = P(res, T_FB, f"torch.matmul {N}x{N}")
        if policy and name in policy:
            # PyTorch with its default OpenMP wait policy, scaled by its own matmul timed here
            d["torch_fb_over_own_matmul_default_policy"] = policy[name]
            d["ratios"][POLICY] = P(res, FB, f"torch.matmul {N}x{N}") / policy[name]
    harness.note(
        f"    {name}: GEMM {gemm / 1e9:.1f} GFLOP/s; floor fwd {d['floor_forward_s'] * 1e3:.3f} ms, "
        f"fwd+bwd {d['floor_forward_backward_s'] * 1e3:.3f} ms"
    )
    for k, v in res.items():
        harness.note(f"      {k:36s} {v['median_s'] * 1e3:8.3f} ms")
    for k, v in d["ratios"].items():
        harness.note(f"      {k:46s} {v:6.3f}")
    d["verdicts"] = verdicts(name, d["ratios"])
    return d


def ratios(res: dict, GEMM: str, gemm_flop: int, fwd: int, bwd: int) -> dict:
    """Every ratio is a median over rounds of the ratio within one round (harness.paired)."""
    P = harness.paired
    return {
        "forward / FLOP floor": P(res, FWD, GEMM) * gemm_flop / fwd,
        "forward+backward / FLOP floor": P(res, FB, GEMM) * gemm_flop / (fwd + bwd),
        "matmuls alone forward / FLOP floor": P(res, MM_F, GEMM) * gemm_flop / fwd,
        "matmuls alone forward+backward / FLOP floor": P(res, MM_FB, GEMM) * gemm_flop / (fwd + bwd),
        "forward+backward / matmuls alone": P(res, FB, MM_FB),
        "inline operations / matmuls alone (cost of the elementwise passes)": P(res, INLINE, MM_FB),
        "forward+backward / inline operations (cost of checks and structure)": P(res, FB, INLINE),
        "backward / forward (measured)": P(res, FB, FWD) - 1,
        "backward / forward (matmuls alone)": P(res, MM_FB, MM_F) - 1,
        "backward / forward (ideal FLOPs)": bwd / fwd,
    }
