"""Section 4: training on scikit-learn's digits — the package against scikit-learn and PyTorch."""

from __future__ import annotations

import os

import harness
from digits_contenders import OURS, STEP, T_STEP, data, step_contenders, trainings
from machine_info import torch
from report import fmt_t, table, verdict
from torch_child import policy_check

from backprop import train

KEY, TITLE, DEFAULT = "digits", "Training on scikit-learn's digits", True


def torch_alone(cfg: dict) -> dict:
    """(child process) PyTorch's step over the package's, default OpenMP policy; PyTorch gets its
    better thread count (a tiny network may run best on one thread)."""
    Xtr, _, ytr, _ = data(cfg)
    sp = {}
    for threads in sorted({1, harness.torch_threads()}):
        torch.set_num_threads(threads)
        st = harness.compare(step_contenders(cfg, Xtr, ytr), rounds=41, sample_s=0.01)
        sp[threads] = harness.paired(st, T_STEP, STEP)
    return {"step_speedup_by_torch_threads": sp, "step_speedup": min(sp.values())}


def run(quick: bool) -> dict:
    harness.note("\n[4] digits training")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise harness.Skip("scikit-learn not installed") from None
    cfg = dict(train.DIGITS_SETTINGS)
    if quick:
        cfg["epochs"] = 1
    harness.note(f"    settings (backprop.train.DIGITS_SETTINGS{', 1 epoch' if quick else ''}): {cfg}")
    Xtr, Xte, ytr, yte = data(cfg)
    out = {
        "settings": cfg,
        "settings_source": "backprop.train.DIGITS_SETTINGS",
        "n_train": len(ytr),
        "n_test": len(yte),
    }
    res = harness.time_once_per_round(trainings(cfg, Xtr, Xte, ytr, yte), reps=2 if quick else 5)
    out["training"] = {
        k: {"times_s": v["times_s"], "accuracy": v["value"], "median_s": v["median_s"]}
        for k, v in res.items()
    }
    for name, v in out["training"].items():
        harness.note(f"    {name:55s} {v['median_s']:.3f} s  held-out accuracy {v['accuracy']:.4f}")
    out["step"] = st = harness.compare(step_contenders(cfg, Xtr, ytr), rounds=41, sample_s=0.01)
    for name, v in st.items():
        harness.note(f"    {name:55s} {v['median_s'] * 1e6:8.1f} us per step")
    if torch is not None:
        out["step_speedup_vs_torch"] = harness.paired(st, T_STEP, STEP)
        harness.note(f"    per-step speed-up over PyTorch: {out['step_speedup_vs_torch']:.2f}")
        pol = policy_check("digits_training", harness.torch_threads(), cfg)
        if pol and "step_speedup" in pol:
            out["step_speedup_vs_torch_default_policy"] = pol["step_speedup"]
            harness.note(
                f"    per-step speed-up over PyTorch, default OpenMP policy (child process): "
                f"{pol['step_speedup']:.2f}"
            )
    else:
        harness.note("    skipped: PyTorch step (not installed)")
    out["verdicts"] = verdicts(out)
    return out


def verdicts(dg: dict) -> list[dict]:
    ours = dg["training"][OURS]
    v = [
        {
            "target": f"≥ 97.5 % held-out accuracy in ≤ 1 s on {os.cpu_count()} cores",
            "met": ours["accuracy"] >= 0.975 and ours["median_s"] <= 1.0,
            "detail": f"{100 * ours['accuracy']:.2f} % in {fmt_t(ours['median_s'])}",
        }
    ]
    if "step_speedup_vs_torch" in dg:
        sp, sp2 = dg["step_speedup_vs_torch"], dg.get("step_speedup_vs_torch_default_policy")
        v.append(
            {
                "target": "≥ 3× faster per step than PyTorch",
                "met": (min(sp, sp2) if sp2 else sp) >= 3,
                "detail": f"{sp:.1f}× in this run"
                + (
                    f"; {sp2:.1f}× in a child process with PyTorch's default OpenMP wait policy"
                    if sp2
                    else ""
                ),
            }
        )
    return v


def markdown(dg: dict) -> list[str]:
    cfg = dg["settings"]
    L = [
        f"Settings from {dg['settings_source']}: "
        + ", ".join(f"{k} = {v}" for k, v in cfg.items())
        + f"; {dg['n_train']} training and {dg['n_test']} held-out images (stratified split).",
        "",
    ]
    L += table(
        ["training run", "median wall time", "held-out accuracy"],
        [(n, fmt_t(v["median_s"]), f"{100 * v['accuracy']:.2f} %") for n, v in dg["training"].items()],
    )
    L += table(
        [f"one SGD step (batch {cfg['batch_size']})", "median time"],
        [(n, fmt_t(v["median_s"])) for n, v in dg["step"].items()],
    )
    L += [
        f"- {v['target']} — {verdict(v['met'])} ({v['detail']})." for v in dg.get("verdicts") or verdicts(dg)
    ]
    return L + [""]
