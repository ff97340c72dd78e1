"""Benchmark of placement.optimise on synthetic spatial instances (and real matrices).

Instances: options and demand points uniform in 1 km x 1 km, an option sees the points
within 40 m with probability 0.6 (level 4..1 by distance), unit weights and costs. For each
size the table shows greedy, our answer, its proven bound, the gap and the time; min cover
runs at 2,000 x 20,000; pysal spopt's MCLP (when installed) is timed at the two smallest
sizes for a speed comparison. When the real PLATEAU tiles are there (../shared/data/plateau
or $PLACEMENT_DATA) the same table follows for the coverage matrices the whole job builds on
Osaka tile 51357353 and on the 3 x 3 block around it, with their weights, costs and sites.

    .venv/bin/python benchmarks/bench_optimise.py [--quick] [--time-limit S] [--repeats N]
    .venv/bin/python benchmarks/bench_optimise.py --tiles only     # just the real tiles
    .venv/bin/python benchmarks/bench_optimise.py --matrix cov.npz --budget 20 50 --target 0.95 1
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from placement.optimise import Plan, max_coverage, min_cover


def spatial_instance(
    n_options: int, n_points: int, *, seed: int, radius_m: float = 40.0, p_visible: float = 0.6
) -> sp.csr_matrix:
    """(n_options, n_points) int8 DORI levels of a random spatial instance."""
    rng = np.random.default_rng(seed)
    opts = rng.random((n_options, 2)) * 1000.0
    pts = rng.random((n_points, 2)) * 1000.0
    d = cKDTree(opts).sparse_distance_matrix(cKDTree(pts), radius_m, output_type="coo_matrix")
    keep = rng.random(d.nnz) < p_visible
    dist = d.data[keep]
    level = (4 - np.minimum(3, (dist / (radius_m / 4)).astype(np.int64))).astype(np.int8)
    return sp.csr_matrix((level, (d.row[keep], d.col[keep])), shape=(n_options, n_points))


def spopt_mclp(A: sp.csr_matrix, budget: int, time_limit: float) -> tuple[float, float] | str:
    """Objective and time of spopt's MCLP on the same 0/1 coverage (unit weights)."""
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError:
        return "not installed"
    cover = (A >= 1).astype(np.int64).T.toarray()  # spopt wants points x facilities
    t = time.perf_counter()
    mclp = MCLP.from_cost_matrix(
        np.where(cover > 0, 0.0, 1.0),
        np.ones(A.shape[1]),
        service_radius=0.5,
        p_facilities=budget,
    )
    mclp.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    el = time.perf_counter() - t
    chosen = [j for j, v in enumerate(mclp.fac_vars) if (v.value() or 0) > 0.5]
    obj = float((cover[:, chosen].sum(axis=1) >= 1).sum()) if chosen else 0.0
    return obj, el


def run_max(
    A: sp.csr_matrix, budget: float, time_limit: float, repeats: int
) -> tuple[Plan, float, str]:
    """The run with the median gap, the median time, and the gap in per cent (with its range
    over the runs when they differ)."""
    plans, times = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        plans.append(max_coverage(A, budget=budget, time_limit=time_limit, seed=0))
        times.append(time.perf_counter() - t)
    plans.sort(key=lambda p: p.gap)
    mid, low, high = (f"{100 * p.gap:.2f}" for p in (plans[len(plans) // 2], plans[0], plans[-1]))
    return (
        plans[len(plans) // 2],
        statistics.median(times),
        mid if low == high else f"{mid} ({low}-{high})",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller instances, short limits")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per solve")
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per instance: the median-gap run, the gaps' range, the median time",
    )
    ap.add_argument("--matrix", type=Path, help="a scipy.sparse .npz coverage matrix to solve")
    ap.add_argument(
        "--budget", type=float, nargs="+", default=[20, 50], help="budgets for --matrix"
    )
    ap.add_argument(
        "--target", type=float, nargs="+", default=[0.95, 1.0], help="min cover targets"
    )
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt comparison")
    ap.add_argument(
        "--tiles",
        choices=("with", "only", "no"),
        default="with",
        help="real PLATEAU tiles' matrices (when ../shared/data/plateau exists): also, only, none",
    )
    args = ap.parse_args()
    if args.tiles == "only":
        real_tiles(args.time_limit)
        return

    if args.matrix is not None:
        A = sp.csr_matrix(sp.load_npz(args.matrix))
        print(f"matrix {args.matrix}: {A.shape[0]} options x {A.shape[1]} points, nnz {A.nnz}\n")
        _header()
        for b in args.budget:
            plan, t, gap = run_max(A, b, args.time_limit, args.repeats)
            _row(f"{A.shape[0]} x {A.shape[1]}", b, plan, t, gap)
        print()
        _min_header()
        for target in args.target:
            _min_row(min_cover(A, target=target, time_limit=args.time_limit), target)
        return

    if args.quick:
        sizes = [(500, 5_000, 15), (2_000, 20_000, 60)]
        tl = min(args.time_limit, 10.0)
    else:
        sizes = [
            (500, 5_000, 15),
            (2_000, 20_000, 60),
            (5_000, 50_000, 150),
            (10_000, 100_000, 300),
        ]
        tl = args.time_limit
    instances = {(n, m): spatial_instance(n, m, seed=1) for n, m, _ in sizes}

    print(f"## max_coverage (time limit {tl:g} s, median of {args.repeats} run(s))\n")
    _header()
    for n, m, b in sizes:
        plan, t, gap = run_max(instances[(n, m)], b, tl, args.repeats)
        _row(f"{n:,} x {m:,}", b, plan, t, gap)

    A = instances[(2_000, 20_000)]
    print(f"\n## min_cover of all coverable points, 2,000 x 20,000 (time limit {tl:g} s)\n")
    _min_header()
    _min_row(min_cover(A, target=1.0, time_limit=tl), 1.0)

    if args.tiles == "with" and not args.quick:
        real_tiles(tl)
    if args.no_spopt:
        return
    print(f"\n## spopt MCLP (CBC via PuLP, time cap {tl:g} s) vs ours, same instances\n")
    print(
        "| instance | budget | spopt objective | spopt time s | our objective | our time s "
        "| speed-up |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, m, b in sizes[:2]:
        A = instances[(n, m)]
        res = spopt_mclp(A, b, tl)
        plan, t, _ = run_max(A, b, tl, args.repeats)
        if isinstance(res, str):
            print(f"| {n:,} x {m:,} | {b} | {res} | | {plan.objective:g} | {t:.2f} | |")
        else:
            print(
                f"| {n:,} x {m:,} | {b} | {res[0]:g} | {res[1]:.2f} | {plan.objective:g} | "
                f"{t:.2f} | {res[1] / t:.1f}x |"
            )


# Budgets, min cover targets and budgets with redundancy (k = 2: two cameras on every point
# that counts) solved on each real tile's coverage matrix.
TILE_RUNS = {
    "Osaka 51357353 (dense LOD1)": (
        "51357353_*_6697_op.gml",
        (100, 200, 300, 400, 600),
        (0.95, 1.0),
        (10, 100, 400),
    ),
    "Osaka 3 x 3 block 513573xx": (
        "513573[5-7][1-3]_*_6697_op.gml",
        (50, 100, 200, 300, 400),
        (0.9,),
        (200,),
    ),
}


def real_tiles(time_limit: float) -> None:
    """max_coverage and min_cover on the coverage matrices the whole job builds on real tiles.

    The matrices come from :func:`placement.pipeline.run` with its default options (its own
    optimisation is cut to 1 s and not timed); weights, costs and sites are the job's.
    """
    from bench_pipeline import data_dir  # a sibling script: same data folder rule
    from placement.pipeline import RunOptions, run

    data = data_dir()
    if data is None:
        print("\nreal tiles skipped: not found (../shared/data/plateau or $PLACEMENT_DATA)")
        return
    for name, (pattern, budgets, targets, k2_budgets) in TILE_RUNS.items():
        paths = sorted((data / "osaka").glob(pattern))
        if not paths:
            print(f"\n{name} skipped: no {pattern} in {data / 'osaka'}")
            continue
        job = run(paths, RunOptions(time_limit_s=1.0, use_cache=False, render=False, html=False))
        A = sp.csr_matrix(job.coverage.matrix)
        w, c = job.demand.weight, job.options.cost
        site, existing = job.options.site, job.options.existing
        print(
            f"\n## {name}: {A.shape[0]:,} options x {A.shape[1]:,} street points, "
            f"nnz {A.nnz:,} (time limit {time_limit:g} s)\n"
        )
        _header()
        for b, k in [(b, 1) for b in budgets] + [(b, 2) for b in k2_budgets]:
            t = time.perf_counter()
            plan = max_coverage(
                A, w, c, budget=b, k=k, time_limit=time_limit, site=site, existing=existing
            )
            label = f"{A.shape[0]:,} x {A.shape[1]:,}" + (f", k = {k}" if k > 1 else "")
            _row(label, b, plan, time.perf_counter() - t)
        print()
        _min_header()
        for target in targets:
            mc = min_cover(
                A, w, c, target=target, time_limit=time_limit, site=site, existing=existing
            )
            _min_row(mc, target)


def _header() -> None:
    print("| instance | budget | greedy | ours | bound | gap % | time s | method |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")


def _min_header() -> None:
    print("| target | greedy cost | cost | bound | gap % | time s | method |")
    print("|---:|---:|---:|---:|---:|---:|---|")


def _min_row(mc: Plan, target: float) -> None:
    print(
        f"| {target:g} | {mc.greedy_objective:g} | {mc.objective:g} | {mc.bound:g} | "
        f"{100 * mc.gap:.2f} | {mc.time_s:.1f} | {_method(mc)} |"
    )


def _row(name: str, budget: float, plan: Plan, t: float, gap: str | None = None) -> None:
    gap = f"{100 * plan.gap:.2f}" if gap is None else gap
    print(
        f"| {name} | {budget:g} | {plan.greedy_objective:g} | {plan.objective:g} | "
        f"{plan.bound:g} | {gap} | {t:.2f} | {_method(plan)} |"
    )


def _method(plan: Plan) -> str:
    """The plan's method, and the phases the clock stopped (a rerun may choose otherwise)."""
    cut = f" [clock stopped: {', '.join(plan.clock_cut)}]" if plan.clock_cut else ""
    return plan.method + cut


if __name__ == "__main__":
    main()
