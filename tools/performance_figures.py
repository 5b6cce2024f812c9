"""The performance page's three figures, drawn from benchmarks/results.json (run by `dev.py build`).

    python tools/performance_figures.py SITE     # -> SITE/_static/performance/{three_ways,mlp,grading}.svg

1. three_ways.svg: time of one gradient against the layer size m = n (log-log), for the 3-D
   Jacobian path and the two differential paths (section "scaling" of the benchmark).
2. mlp.svg: one forward+backward pass of the 784-256-128-10 network at batch 256: the package,
   PyTorch, and the floor (the same matrix products at the machine's GEMM rate), float32 and
   float64 (section "mlp").
3. grading.svg: notebooks graded per minute by local workers (--jobs 1, 2) and by one and two
   local Dask workers (--scheduler), the same class in the same rounds (section "grading",
   its "executors").
Nothing is timed here: the numbers are the committed output of benchmarks/run.py. SVG with a
transparent background (the site puts figures on a light panel in dark mode).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
STYLE = {
    "figure.facecolor": "none",
    "savefig.transparent": True,
    "font.size": 12,
    "svg.fonttype": "none",
    "figure.figsize": (6.4, 4.2),
}


def three_ways(results: dict, out: Path) -> None:
    rows = results["scaling"]["rows"]
    m = [r["m"] for r in rows]
    fig, ax = plt.subplots()
    for (name, label), marker in zip(
        [
            ("jacobian.grad_W (3-D dv/dW)", "Jacobians: 3-D ∂v/∂W"),
            ("differential.grad_W (Diag form)", "differentials, Diag(s) form"),
            ("differential.grad_W_hadamard", "differentials, Hadamard form"),
        ],
        "os^",
    ):
        ax.loglog(m, [r["time_s"][name] for r in rows], marker=marker, label=label)
    ax.set_xlabel("layer size m = n")
    ax.set_ylabel("time of one gradient G (s)")
    ax.set_xticks(m, [str(v) for v in m])
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def mlp(results: dict, out: Path) -> None:
    dtypes = results["mlp"]["dtypes"]
    names = list(dtypes)
    bars = [
        ("backprop.MLP forward+backward", "backprop.MLP"),
        ("PyTorch forward+backward", "PyTorch"),
        (None, "floor (matrix products\nat the GEMM rate)"),
    ]
    fig, ax = plt.subplots()
    width = 0.8 / len(bars)
    for k, (key, label) in enumerate(bars):
        vals = [
            (dtypes[d]["times"][key]["median_s"] if key else dtypes[d]["floor_forward_backward_s"]) * 1e3
            if (key is None or key in dtypes[d]["times"])
            else 0.0
            for d in names
        ]
        ax.bar([i + (k - 1) * width for i in range(len(names))], vals, width, label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("one forward+backward pass (ms)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def grading(results: dict, out: Path) -> None:
    e = results["grading"]["executors"]
    names = list(e["notebooks_per_minute"])
    rates = [e["notebooks_per_minute"][n] for n in names]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bars = ax.barh(range(len(names)), rates, color=["C0", "C0", "C1", "C1"][: len(names)])
    for bar, n in zip(bars, names):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f"  ×{e['ratio_to_jobs_1'][n]:.2f}",
            va="center",
        )
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("notebooks graded per minute (× the rate of --jobs 1)")
    ax.set_xlim(0, max(rates) * 1.25)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else ROOT / "_build" / "html"
    out = site / "_static" / "performance"
    out.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text())
    with plt.rc_context(STYLE):
        three_ways(results, out / "three_ways.svg")
        mlp(results, out / "mlp.svg")
        grading(results, out / "grading.svg")
    print(f"performance figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
