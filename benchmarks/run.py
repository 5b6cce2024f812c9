#!/usr/bin/env python3
"""Benchmark of the package: the three-way cost story, the MLP against the hardware limit, and
what users wait on.

    .venv/bin/python benchmarks/run.py              # default sections -> benchmarks/results.{json,md}
    .venv/bin/python benchmarks/run.py --loop       # also section 5: setup, build, tests in a fresh clone
    .venv/bin/python benchmarks/run.py --quick --out /tmp/b   # smoke run on tiny sizes, written to /tmp/b
    .venv/bin/python benchmarks/run.py --only mlp   # one section, merged into the existing results
    .venv/bin/python benchmarks/run.py --render     # rewrite results.md from results.json (no timing)

Everything a section reports is a RATIO of contenders timed in the same interleaved rounds (see
harness.py). One module per section (SECTIONS below); a missing optional module is reported as
"not in this checkout". A section not run keeps its earlier result, which says when it was measured.
"""

from __future__ import annotations

import bench_env

bench_env.ensure()  # BENCH_ENV must be set before numpy or torch load

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import harness  # noqa: E402
import report  # noqa: E402
from machine_info import LoadMonitor, machine, torch  # noqa: E402

HERE = Path(__file__).resolve().parent
#: (number in results.md, module); the last three are written in other branches and may be absent.
SECTIONS = [
    (1, "seed_example"),
    (2, "scaling"),
    (3, "mlp_floor"),
    (4, "digits_training"),
    (5, "own_loop"),
    (6, "grading"),
    (7, "site_load"),
    (8, "cnn_digits"),
]
#: Title of an optional section whose module is absent (its key is the module name).
OPTIONAL = {
    "grading": "Grading throughput",
    "site_load": "The heaviest page at 4× CPU throttling",
    "cnn_digits": "A small CNN on the 8×8 digits",
}


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def load_sections() -> list[tuple[int, str, object | None]]:
    """[(number, key, module or None if its file is absent)], in the order of results.md."""
    out = []
    for number, name in SECTIONS:
        mod = importlib.import_module(name) if (HERE / f"{name}.py").exists() else None
        out.append((number, mod.KEY if mod else name, mod))
    return out


def skipped(res: dict) -> bool:
    """A section that could not run records {"skipped": reason} (a list there names skipped contenders)."""
    return isinstance(res.get("skipped"), str)


def run_section(mod, quick: bool) -> dict:
    with LoadMonitor() as lm:
        try:
            res = mod.run(quick)
        except harness.Skip as e:
            harness.note(f"    skipped: {e}")
            res = {"skipped": str(e)}
    res["measured"] = {"date": now(), "wall_s": lm.wall_s, "quick": quick, "load_average_1min": lm.summary()}
    return res


def wanted(key: str, mod, only: set, args) -> bool:
    """Run this section? --only lists exactly the keys; otherwise every DEFAULT one (and --loop, --all)."""
    if key == "loop" and args.loop:
        return True
    return key in only if only else bool(mod.DEFAULT or args.all)


def earlier(path: Path, keys) -> dict:
    """The sections of an existing results.json, each with the "measured" stamp of its run (results
    written before the stamp existed get their run's date and load average)."""
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    for k in keys:
        v = old.get(k)
        if isinstance(v, dict) and "measured" not in v:
            v["measured"] = {
                "date": v.get("date", old.get("date")),
                "load_average_1min": old.get("load_average_1min"),
            }
    return old


def markdown(r: dict, sections) -> str:
    L = report.header(r)
    for number, key, mod in sections:
        res = r.get(key)
        title = OPTIONAL.get(key) if mod is None else mod.TITLE
        if mod is not None and res and not skipped(res) and hasattr(mod, "heading"):
            title = mod.heading(res)
        L += [f"### {number}. {title}", ""]
        if mod is None:
            L += [f"Not measured: benchmarks/{key}.py is not in this checkout.", ""]
        elif res is None:
            L += [
                "Not measured in this run (opt-in: `--loop`)."
                if key == "loop"
                else f"Not measured in this run (`--only {key}` measures it).",
                "",
            ]
        elif skipped(res):
            L += [f"Not measured: {res['skipped']}.", ""]
        else:
            m = res.get("measured") or {}
            if m.get("date") and m["date"] != r["date"] and "date" not in res:
                L += [
                    f"Measured earlier, on {m['date']}, in its own run"
                    + (
                        f" (1-minute load average {m['load_average_1min']['start']:.1f} at the start)"
                        if m.get("load_average_1min")
                        else ""
                    )
                    + ":",
                    "",
                ]
            L += mod.markdown(res)
    return "\n".join(L)


def to_json(o):
    """numpy scalars and arrays in a section's result."""
    return o.item() if hasattr(o, "item") and getattr(o, "ndim", 1) == 0 else o.tolist()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="tiny sizes, few rounds; results written only with --out"
    )
    ap.add_argument(
        "--loop", action="store_true", help="also section 5: setup, build, tests in a fresh clone"
    )
    ap.add_argument("--all", action="store_true", help="also every opt-in section")
    ap.add_argument(
        "--only", default="", help="comma-separated section keys to run (others keep earlier results)"
    )
    ap.add_argument(
        "--out", type=Path, help="folder for results.{json,md} (default: benchmarks/, not with --quick)"
    )
    ap.add_argument(
        "--render", action="store_true", help="only rewrite results.md from results.json (no timing)"
    )
    args = ap.parse_args()
    harness.QUICK = args.quick
    sections = load_sections()
    if args.render:
        folder = args.out or HERE
        (folder / "results.md").write_text(
            markdown(json.loads((folder / "results.json").read_text()), sections) + "\n"
        )
        harness.note(f"wrote {folder / 'results.md'} from {folder / 'results.json'}")
        return 0
    only = {k for k in args.only.split(",") if k}
    unknown = only - {k for _, k, _ in sections}
    if unknown:
        ap.error(f"unknown section keys {sorted(unknown)}; choose from {[k for _, k, _ in sections]}")
    out_dir = args.out or (None if args.quick else HERE)
    with LoadMonitor() as lm:
        harness.warm_up_gemm()
        mach = machine()
        os.environ["BENCH_TORCH_THREADS"] = str(mach["blas_threads"])
        if torch is not None:
            torch.set_num_threads(int(mach["blas_threads"]))  # the same thread count as numpy's BLAS
        harness.note(
            f"machine: {mach['cpu']}, {mach['cores']} cores, numpy {mach['numpy']}, {mach.get('blas')}, "
            f"torch {mach['torch']}"
        )
        r = {
            "date": now(),
            "command": " ".join(["python benchmarks/run.py", *sys.argv[1:]]),
            "quick": args.quick,
            "machine": mach,
        }
        old = earlier(out_dir / "results.json", [k for _, k, _ in sections]) if out_dir else {}
        for _, key, mod in sections:
            if mod is None:
                r[key] = {"skipped": f"benchmarks/{key}.py is not in this checkout"}
            elif wanted(key, mod, only, args):
                r[key] = run_section(mod, args.quick)
            elif old.get(key) is not None:
                r[key] = old[key]
    r["wall_s"] = lm.wall_s
    r["load_average_1min"] = lm.summary()
    r["verdicts"] = [
        {"section": k, **v} for _, k, _ in sections for v in (r.get(k) or {}).get("verdicts", [])
    ]
    harness.note(f"\nwall time {r['wall_s']:.0f} s, 1-minute load average {r['load_average_1min']}")
    if out_dir is None:
        harness.note("(--quick without --out: results not written)")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(r, indent=1, default=to_json) + "\n")
    (out_dir / "results.md").write_text(markdown(r, sections) + "\n")
    harness.note(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
