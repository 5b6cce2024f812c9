"""Section 3's verdicts and Markdown: the MLP against the FLOP floor and PyTorch."""

from __future__ import annotations

from report import fmt_b, fmt_t, verdict

POLICY = "forward+backward / PyTorch (default OpenMP policy, child process)"
ELEMENTWISE = "inline operations / matmuls alone (cost of the elementwise passes)"
STRUCTURE = "forward+backward / inline operations (cost of checks and structure)"


def verdicts(name: str, ra: dict) -> list[dict]:
    """The two targets of one dtype, from the ratios of the same run."""
    v = [
        {
            "target": f"{name}: forward+backward ≤ 1.15× the FLOP floor",
            "met": ra["forward+backward / FLOP floor"] <= 1.15,
            "detail": f"{ra['forward+backward / FLOP floor']:.2f}×; the same matmuls alone reach "
            f"{ra['matmuls alone forward+backward / FLOP floor']:.2f}×, the package is "
            f"{ra['forward+backward / matmuls alone']:.2f}× its own matmuls: the elementwise passes "
            f"cost {ra[ELEMENTWISE]:.2f}×, checks and structure {ra[STRUCTURE]:.2f}×",
        }
    ]
    if "forward+backward / PyTorch" in ra:
        worst = max(ra["forward+backward / PyTorch"], ra.get(POLICY, 0.0))
        v.append(
            {
                "target": f"{name}: forward+backward ≤ 1.0× PyTorch",
                "met": worst <= 1.0,
                "detail": ("judged on the slower of two comparisons: " if POLICY in ra else "")
                + f"{ra['forward+backward / PyTorch']:.2f}× against PyTorch in this process"
                + (
                    f", {ra[POLICY]:.2f}× against PyTorch with its default OpenMP wait policy in a child "
                    "process"
                    if POLICY in ra
                    else ""
                ),
            }
        )
    return v


def markdown(ml: dict) -> list[str]:
    dts = list(ml["dtypes"])
    d0 = ml["dtypes"][dts[0]]
    L = [
        f"Matmul FLOPs: forward {ml['flops_forward'] / 1e6:.1f} M, backward {ml['flops_backward'] / 1e6:.1f} M "
        f"(ideal backward/forward = {ml['ideal_backward_over_forward']:.3f}: no gradient with respect to X). "
        f"Floor = FLOPs ÷ throughput of a {d0['gemm_size']}² `np.matmul`, timed interleaved with the contenders."
        + (
            f" PyTorch uses {ml['torch_threads']} threads, like numpy's BLAS."
            if "torch_threads" in ml
            else ""
        ),
        "",
        "| measurement | " + " | ".join(dts) + " |",
        "|---|" + "--:|" * len(dts),
    ]

    def row(label, cell):
        L.append(f"| {label} | " + " | ".join(cell(ml["dtypes"][d]) for d in dts) + " |")

    row("GEMM throughput", lambda d: f"{d['gemm_flops_per_s'] / 1e9:.0f} GFLOP/s")
    row(
        "FLOP floor forward / forward+backward",
        lambda d: f"{fmt_t(d['floor_forward_s'])} / {fmt_t(d['floor_forward_backward_s'])}",
    )
    for k in d0["times"]:
        row(k, lambda d: fmt_t(d["times"][k]["median_s"]))
    for k in d0["ratios"]:
        row(f"ratio: {k}", lambda d: f"{d['ratios'][k]:.2f}")
    for k in d0.get("peak_bytes", {}):
        row(f"peak bytes allocated: {k}", lambda d: fmt_b(d["peak_bytes"][k]))
    L.append("")
    if "pass_share_of_inline" in d0:
        L += [
            "Price of each elementwise pass in context: the share of the inline operations' time that goes "
            "away when that pass alone is left out (timed in the same rounds):",
            "",
            "| pass | " + " | ".join(dts) + " |",
            "|---|" + "--:|" * len(dts),
        ]
        for k in d0["pass_share_of_inline"]:
            row(k, lambda d: f"{100 * d['pass_share_of_inline'][k]:.1f} %")
        L.append("")
    for name in dts:
        d = ml["dtypes"][name]
        att = d.get("attempts", [])
        if len(att) > 1:
            L.append(
                f"- {name}: measured {len(att)} times, because the large matmul ran slow (another process "
                f"on the machine) in {sum(a['busy'] for a in att[:-1])} earlier attempt(s); the table shows "
                "the last one" + (" (still disturbed: read with care)" if att[-1]["busy"] else "") + "."
            )
        ra = d["ratios"]
        vs = d.get("verdicts") or verdicts(name, ra)
        txt = "; ".join(f"{v['target'].split(': ', 1)[1]} — {verdict(v['met'])} ({v['detail']})" for v in vs)
        L.append(
            f"- {name}: {txt}; backward/forward {ra['backward / forward (measured)']:.2f} measured against "
            f"{ra['backward / forward (ideal FLOPs)']:.2f} ideal."
        )
    return L + [""]
