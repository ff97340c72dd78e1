"""The whole job on real tiles: time per stage, medians of several runs.

Baseline: the planner's target of about one minute per real tile on this 2-core machine;
the table prints each tile's total as a ratio of 60 s.

Run:  python benchmarks/bench_pipeline.py [--runs 3] [--budget 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from placement.pipeline import RunOptions, run

REPO = Path(__file__).resolve().parents[1]
STAGES = ("load", "halo", "sites", "demand", "visibility", "optimise", "write")


def data_dir() -> Path | None:
    env = os.environ.get("PLACEMENT_DATA")
    d = Path(env) if env else REPO.parent / "shared" / "data" / "plateau"
    return d if d.is_dir() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20)
    ap.add_argument("--time-limit", type=float, default=20.0)
    args = ap.parse_args()
    data = data_dir()
    if data is None:
        print("skipped: real PLATEAU tiles not found (../shared/data/plateau or $PLACEMENT_DATA)")
        return 0
    tiles = {
        "52350301 (LOD2)": [data / "osaka" / f"52350301_{k}_6697_op.gml" for k in ("bldg", "tran")],
        "51357353 (dense LOD1)": [
            data / "osaka" / f"51357353_{k}_6697_op.gml" for k in ("bldg", "tran")
        ],
        "3x3 block 513573xx (18 files)": sorted(data.glob("osaka/513573[5-7][1-3]_*_6697_op.gml")),
    }
    print(f"whole job, budget {args.budget:g}, median of {args.runs} runs, no visibility cache\n")
    head = "| tile | options | points | " + " | ".join(STAGES) + " | total s | total / 60 s | gap |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, paths in tiles.items():
        times: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
        summary: dict[str, object] = {}
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                opts = RunOptions(
                    budget=args.budget,
                    use_cache=False,
                    time_limit_s=args.time_limit,
                    html=True,
                )
                res = run(paths, opts, out_dir=Path(tmp) / "out")
            t = res.summary["timings_s"]
            for s in STAGES:
                times[s].append(float(t.get(s, 0.0)))
            times["total"].append(sum(float(v) for v in t.values()))
            summary = res.summary
        med = {s: statistics.median(v) for s, v in times.items()}
        plan = summary["plan"]
        assert isinstance(plan, dict)
        print(
            f"| {name} | {summary['camera_options']:,} | {summary['coverage']['points']:,} | "  # type: ignore[index]
            + " | ".join(f"{med[s]:.2f}" for s in STAGES)
            + f" | {med['total']:.1f} | {med['total'] / 60:.2f} | {100 * plan['gap']:.2f}% |"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
