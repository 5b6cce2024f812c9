"""Section 1: the seed example (W 5x4), one dE/dW by every path of the course and by autodiff."""

from __future__ import annotations

import harness
import numpy as np
from machine_info import torch
from report import fmt_t, table, verdict
from seed_contenders import (
    BARE,
    CHECKS,
    DIAG,
    FORWARD,
    HADAMARD,
    TORCH,
    UNCHECKED,
    breakdown_contenders,
    contenders,
)
from torch_child import policy_check

from backprop import differential, seed

KEY, TITLE, DEFAULT = "seed", "The seed example: one ∂E/∂W (W 5×4)", True


def torch_alone(payload) -> dict:
    """(child process) PyTorch's time over the differential paths' times, default OpenMP policy."""
    c, _ = contenders()
    keep = (TORCH, DIAG, HADAMARD, BARE)
    r = harness.compare({k: c[k] for k in keep}, rounds=41, sample_s=0.004)
    return {"seed_speedup": {k: harness.paired(r, TORCH, k) for k in keep[1:]}}


def run(quick: bool) -> dict:
    harness.note("\n[1] seed example: one dE/dW, W 5x4")
    W, x, y = seed.example()
    G_ref = differential.grad_W(W, x, y)
    c, skipped = contenders()
    for s in skipped:
        harness.note(f"    skipped: {s}")
    agree = {}
    for name, fn in c.items():  # the same numbers first
        G = fn()
        G = G.detach().numpy() if torch is not None and isinstance(G, torch.Tensor) else np.asarray(G)
        agree[name] = float(np.max(np.abs(G - G_ref)) / np.max(np.abs(G_ref)))
        if not agree[name] < 1e-12:
            raise SystemExit(f"{name} disagrees with differential.grad_W: relative error {agree[name]:.2e}")
    res = harness.compare(c, rounds=41, sample_s=0.004)
    for name in c:
        res[name]["max_rel_diff_vs_differential"] = agree[name]
        res[name]["ratio_to_hadamard"] = harness.paired(res, name, HADAMARD)
        harness.note(
            f"    {name:48s} {res[name]['median_s'] * 1e6:9.2f} us  x{res[name]['ratio_to_hadamard']:6.2f}"
        )
    out = {"times": res, "skipped": skipped}
    f = harness.compare(breakdown_contenders(W, x, y), rounds=41, sample_s=0.004)
    out["forward_share_of_hadamard"] = harness.paired(f, FORWARD, HADAMARD)
    out["hadamard_over_bare"] = harness.paired(f, HADAMARD, BARE)
    out["breakdown_over_bare"] = {k: harness.paired(f, k, BARE) for k in f}
    harness.note(
        f"    seed.forward is {out['forward_share_of_hadamard']:.0%} of grad_W_hadamard; "
        f"grad_W_hadamard is {out['hadamard_over_bare']:.2f}x the bare formula"
    )
    if TORCH in res:
        out["speedup_vs_torch"] = {n: harness.paired(res, TORCH, n) for n in (DIAG, HADAMARD, BARE)}
        harness.note(f"    speed-up over PyTorch: {out['speedup_vs_torch']}")
        pol = policy_check("seed_example", harness.torch_threads())
        if pol and "seed_speedup" in pol:
            out["speedup_vs_torch_default_policy"] = pol["seed_speedup"]
            harness.note(
                f"    ... PyTorch with its default OpenMP wait policy (child process): {pol['seed_speedup']}"
            )
    out["verdicts"] = verdicts(out)
    return out


def verdicts(s: dict) -> list[dict]:
    v = []
    if "hadamard_over_bare" in s:
        v.append(
            {
                "target": "grad_W_hadamard ≤ 2× the bare formula",
                "met": s["hadamard_over_bare"] <= 2.0,
                "detail": f"{s['hadamard_over_bare']:.2f}×" + bound(s),
            }
        )
    if "speedup_vs_torch" in s:
        sp, sp2 = s["speedup_vs_torch"], s.get("speedup_vs_torch_default_policy") or {}
        best = min(sp[HADAMARD], sp2.get(HADAMARD, np.inf))

        def both(k):
            return f"{sp[k]:.1f}×" + (
                f" ({sp2[k]:.1f}× against PyTorch with its default OpenMP wait policy)" if k in sp2 else ""
            )

        v.append(
            {
                "target": "differential path ≥ 10× faster than PyTorch autograd",
                "met": best >= 10,
                "detail": f"`differential.grad_W_hadamard` is {both(HADAMARD)} faster, `differential.grad_W` "
                f"{both(DIAG)}, the bare formula without input checks {both(BARE)}",
            }
        )
    return v


def bound(s: dict) -> str:
    b = s.get("breakdown_over_bare")
    if not b:
        return ""
    return (
        f"; what bounds it: the input checks alone take {b[CHECKS]:.2f}× the bare formula's time, and "
        f"without any check the same operations still take {b[UNCHECKED]:.2f}× (table below)"
    )


def markdown(s: dict) -> list[str]:
    L = table(
        ["path", "median time", "× `grad_W_hadamard`"],
        [(n, fmt_t(v["median_s"]), f"{v['ratio_to_hadamard']:.2f}") for n, v in s["times"].items()],
    )
    if s.get("skipped"):
        L += ["Skipped: " + ", ".join(s["skipped"]) + ".", ""]
    L += [
        f"- Target: {v['target']} — {verdict(v['met'])}: {v['detail']}."
        for v in s.get("verdicts") or verdicts(s)
    ]
    if "forward_share_of_hadamard" in s:
        L.append(
            f"- `seed.forward` (input checks and the forward pass up to s) alone takes "
            f"{s['forward_share_of_hadamard']:.0%} of `grad_W_hadamard`'s time."
        )
    if s.get("breakdown_over_bare"):
        L += ["", "Where the time of `grad_W_hadamard` goes (each part timed alone, in the same rounds):", ""]
        L += table(
            ["part", "× the bare formula"], [(k, f"{v:.2f}") for k, v in s["breakdown_over_bare"].items()]
        )
    return L + [""]
