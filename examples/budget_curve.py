"""How much street do N cameras see? The library API, step by step.

Load a tile, build candidate sites and street demand, cast the rays once, then solve for
several budgets from the same coverage matrix and draw the coverage-versus-budget curve.
The same steps are in ``budget_curve.ipynb`` as a notebook.

Run:  python examples/budget_curve.py [TILE.gml ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import placement
from placement import optimise
from placement.camera import PRESETS
from placement.sites import combine_sites, make_options, pole_sites, road_edge_sites

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "citygml" / "sample_city.gml"


def budget_curve(
    paths: list[Path], budgets: list[int], out: Path, *, time_limit_s: float = 5.0
) -> list[dict[str, float]]:
    """Solve max coverage for each budget; write curve.json, curve.svg and a 3D picture."""
    out.mkdir(parents=True, exist_ok=True)
    # 1. Load the city: buildings, roads, poles, in metres.
    city = placement.read_citygml(paths)
    print(f"loaded {len(city.features)} features in {city.crs}, ground from {city.ground_source}")

    # 2. Candidate sites (new poles along road edges + existing PLATEAU poles) and options.
    camera = PRESETS["fullhd-103"]
    sites = combine_sites(
        pole_sites(city, mount_height_m=camera.height_m),
        road_edge_sites(city, mount_height_m=camera.height_m, spacing_m=20.0),
    )
    options = make_options(sites, camera, headings=8)

    # 3. Street demand: points 1.5 m above the road surface every 2 m.
    demand = placement.sample_demand(city, spacing_m=2.0, target_height_m=1.5)
    print(f"{len(sites)} sites, {len(options)} camera options, {len(demand)} street points")

    # 4. Visibility once: a sparse matrix of the best DORI level per (option, point).
    coverage = placement.compute_coverage(city.view_blockers(), options, demand, camera, workers=2)
    print(f"{coverage.matrix.nnz:,} visible (option, point) pairs")

    # 5. Solve for several budgets from the same matrix.
    total = float(demand.weight.sum())
    rows = []
    plan = None
    for b in budgets:
        plan = optimise.max_coverage(
            coverage.matrix,
            demand.weight,
            options.cost,
            budget=b,
            site=options.site,
            max_per_site=2,
            time_limit=time_limit_s,
            seed=0,
        )
        rows.append(
            {
                "budget": b,
                "cameras": len(plan.chosen),
                "covered_fraction": plan.objective / total,
                "bound_fraction": plan.bound / total,
                "gap": plan.gap,
            }
        )
        print(
            f"budget {b:3d}: {100 * plan.objective / total:5.1f}% of street seen "
            f"(bound {100 * plan.bound / total:5.1f}%, gap {100 * plan.gap:.2f}%)"
        )
    (out / "curve.json").write_text(json.dumps(rows, indent=2))
    (out / "curve.svg").write_text(curve_svg(rows))

    # 6. Render the largest budget's plan.
    if plan is not None:
        from placement import render
        from placement.pipeline import chosen_levels

        chosen = np.asarray(plan.chosen)
        # The best level a chosen camera sees each point at (0: none; pass k for k cameras).
        levels = chosen_levels(coverage.matrix, chosen, len(demand))
        scene = render.scene_from(
            city, demand, levels, options, chosen, camera, title=f"{len(chosen)} cameras"
        )
        render.render_png(scene, out / "scene.png")
    return rows


def curve_svg(rows: list[dict[str, float]], width: int = 480, height: int = 300) -> str:
    """A small line chart of covered fraction (and its proven bound) against budget."""
    pad = 40
    bmax = max(r["budget"] for r in rows) or 1

    def xy(b: float, f: float) -> str:
        x = pad + (width - 2 * pad) * b / bmax
        y = height - pad - (height - 2 * pad) * f
        return f"{x:.1f},{y:.1f}"

    ours = " ".join(xy(r["budget"], r["covered_fraction"]) for r in rows)
    bound = " ".join(xy(r["budget"], min(1.0, r["bound_fraction"])) for r in rows)
    ticks = "".join(
        f'<text x="{pad - 6}" y="{height - pad - (height - 2 * pad) * f + 4:.0f}" '
        f'text-anchor="end" font-size="11">{int(100 * f)}%</text>'
        for f in (0, 0.25, 0.5, 0.75, 1.0)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="white"/>{ticks}'
        f'<polyline points="{bound}" fill="none" stroke="#999" stroke-dasharray="4 3"/>'
        f'<polyline points="{ours}" fill="none" stroke="#1b7837" stroke-width="2"/>'
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="12">'
        f"cameras (budget)</text>"
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">'
        f"street weight seen (green) and proven bound (grey)</text></svg>"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path, default=[SAMPLE])
    ap.add_argument("--out", type=Path, default=Path("out/budget_curve"))
    ap.add_argument("--budgets", default="1,2,4,6,8,12")
    args = ap.parse_args()
    budget_curve(args.paths, [int(b) for b in args.budgets.split(",")], args.out)


if __name__ == "__main__":
    main()
