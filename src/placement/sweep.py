"""How much street do N cameras see? One run per budget, and the curve they make.

:func:`sweep` makes one run of :func:`placement.pipeline.run` per budget, with the same
options otherwise, into ``budget-<B>/`` folders of ``out_dir`` (each a complete run: its
summary.json reproduces it with ``placement run ... --budget B``). The stages before the
optimiser (load, halo, sites, demand, visibility) do not depend on the budget, so they run
once (:func:`placement.pipeline.prepare`) and each budget only optimises and writes.
Beside the folders it writes ``sweep.csv`` (one row per budget), ``sweep.svg`` (covered
share and proven bound against budget) and ``sweep.md`` (the table, the chart, and what
each step of budget adds). Everything is staged and moved in at the end: a sweep that
fails leaves ``out_dir`` as it was.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from placement.citygml._sources import input_paths
from placement.errors import OptionError
from placement.pipeline import (
    RunOptions,
    _Notes,
    check_before_work,
    finish,
    prepare,
    result_entries,
)
from placement.report import percent

#: Budgets one sweep may run (each is a whole run).
MAX_BUDGETS = 50
#: The largest budget (a trillion yen): its folder name stays short.
MAX_BUDGET = 1e12


#: Columns of sweep.csv.
SWEEP_COLUMNS = (
    "budget",
    "cameras",
    "new",
    "existing",
    "cost",
    "covered_fraction_weighted",
    "bound_fraction_weighted",
    "gap",
    "status",
    "added_per_unit",
    "covered_points",
    "covered_street_m",
    "objective",
    "bound",
    "repeatable",
    "seconds",
    "folder",
)


def check_budgets(budgets: Sequence[float]) -> list[float]:
    """The budgets in rising order; one-line :class:`OptionError` on a bad list."""
    if not budgets:
        raise OptionError("--budgets needs at least one budget, e.g. 10,20,40")
    out: list[float] = []
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not math.isfinite(b):
            raise OptionError(f"--budgets must be numbers, got {b!r}")
        if b < 0:
            raise OptionError(f"--budgets must be >= 0, got {budget_text(b)}")
        if b > MAX_BUDGET:
            raise OptionError(f"--budgets: at most {MAX_BUDGET:.0e} each, got {b:g}")
        out.append(float(b))
    if len(set(out)) != len(out):
        again = next(b for i, b in enumerate(out) if b in out[:i])
        raise OptionError(f"--budgets lists {budget_text(again)} twice")
    if len(out) > MAX_BUDGETS:
        raise OptionError(f"--budgets: at most {MAX_BUDGETS} budgets, got {len(out)}")
    return sorted(out)


def budget_text(budget: float) -> str:
    """A budget written out whole, as short as it can be and unlike any other budget's:
    ``10``, ``2.5``, ``1000000``, ``1000001`` (not ``1e+06``: money budgets in yen)."""
    return np.format_float_positional(float(budget), trim="-")


def folder_name(budget: float) -> str:
    """``budget-10``, ``budget-2.5``, ``budget-1500000``."""
    return f"budget-{budget_text(budget)}"


def sweep(
    paths: str | Path | Sequence[str | Path],
    opts: RunOptions,
    budgets: Sequence[float],
    *,
    out_dir: str | Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``opts`` at each budget into ``out_dir/budget-<B>/``; write the curve beside.

    Parameters
    ----------
    paths : CityGML files, folders or zips, as for :func:`placement.pipeline.run`.
    opts : every option but the goal: ``cover`` must be None (the budget is swept).
    budgets : the budgets, in cameras or money as ``opts`` counts costs.
    out_dir : the folder for the budget folders and sweep.csv / .svg / .md.
    progress : called as ``progress(stage, done, total)``; stages are named
        ``"budget B: load"`` and so on.

    Returns
    -------
    The rows of sweep.csv, budget rising.
    """
    from placement import io

    if opts.cover is not None:
        raise OptionError("--cover does not go with a sweep: it sweeps the budget")
    todo = check_budgets(budgets)
    if todo[0] == 0 and opts.existing_file is None:
        raise OptionError(
            "--budgets 0 chooses nothing: it scores the cameras of --existing FILE alone"
        )
    out = Path(out_dir)
    check_before_work(dataclasses.replace(opts, budget=todo[-1]), out)
    paths = input_paths(paths)
    rows: list[dict[str, Any]] = []
    shared = "all budgets"

    def report(label: str) -> Callable[[str, int, int], None]:
        def step(stage_name: str, done: int, total: int) -> None:
            if progress is not None:
                progress(f"{label}: {stage_name}", done, total)

        return step

    with io.staged_output(out, retire=result_entries(out)) as stage:
        # Everything up to the rays is the same at every budget: made once, and each run's
        # summary.json and report.md still carry its warnings and timings.
        with _Notes() as notes:
            prep = prepare(paths, opts, report(shared))
        extra = {"sweep": {"budgets": todo, "shared_stages": list(prep.timings)}}
        for b in todo:
            label = f"budget {budget_text(b)}"
            try:
                with _Notes() as own:
                    own.messages.extend(notes.messages)
                    result = finish(
                        prep,
                        dataclasses.replace(opts, budget=b),
                        out_dir=stage / folder_name(b),
                        progress=report(label),
                        notes=own.messages,
                        extra=extra,
                    )
            except OptionError as e:  # a write that failed names the hidden staging folder
                if str(stage) not in str(e):
                    raise
                raise OptionError(
                    str(e)
                    .replace(str(stage / folder_name(b)), str(out))
                    .replace(str(stage), str(out))
                ) from None
            rows.append(_row(b, result.summary, rows[-1] if rows else None, prep.timings))
        _write_csv(stage / "sweep.csv", rows)
        (stage / "sweep.svg").write_text(curve_svg(rows), "utf-8")
        (stage / "sweep.md").write_text(_markdown(rows, opts, prep.timings), "utf-8")
    return rows


def _row(
    budget: float,
    summary: dict[str, Any],
    before: dict[str, Any] | None,
    shared: dict[str, float] | None = None,
) -> dict[str, Any]:
    plan = summary["plan"]
    cov = summary["coverage"]
    shared_ = shared or {}
    total = float(cov.get("total_weight") or 0.0)
    frac = float(cov["covered_fraction_weighted"])
    bound = float(plan["bound"])
    added = None
    if before is not None and budget > before["budget"]:
        added = (frac - before["covered_fraction_weighted"]) / (budget - before["budget"])
    return {
        "budget": budget,
        "cameras": int(plan["chosen"]),
        "new": int(plan["new"]),
        "existing": int(plan["existing"]),
        "cost": float(plan["cost"]),
        "covered_fraction_weighted": frac,
        # The bound is on the objective: the weight covered, as the fraction is.
        "bound_fraction_weighted": min(1.0, bound / total) if total > 0 else None,
        "gap": float(plan["gap"]),
        "status": str(plan["status"]),
        "added_per_unit": added,
        "covered_points": int(cov["covered_points"]),
        "covered_street_m": cov.get("covered_street_m"),
        "objective": float(plan["objective"]),
        "bound": bound,
        "repeatable": bool(plan.get("repeatable", True)),
        # The budget's own stages (optimise, write); the shared ones ran once (sweep.md).
        "seconds": round(
            sum(float(v) for k, v in summary.get("timings_s", {}).items() if k not in shared_),
            3,
        ),
        "folder": folder_name(budget),
    }


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=SWEEP_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r[k] is None else r[k] for k in SWEEP_COLUMNS})


def _markdown(
    rows: Sequence[dict[str, Any]], opts: RunOptions, shared: Mapping[str, float] | None = None
) -> str:
    k = f", each point by {opts.k} cameras" if opts.k > 1 else ""
    lines = [
        "# Coverage against budget",
        "",
        f"One run per budget, the same options otherwise (seen at {opts.min_level} or "
        f"better{k}). Each run's files are in its folder; its summary.json records every "
        "option it ran with.",
        "",
    ]
    if shared:
        lines += [
            f"The stages before the optimiser ({', '.join(shared)}) do not depend on the "
            f"budget: they ran once for every budget, in {sum(shared.values()):.1f} s.",
            "",
        ]
    lines += [
        "![Covered share and proven bound against budget](sweep.svg)",
        "",
        "| Budget | Cameras | Covered (weighted) | Proven bound | Gap "
        "| Added per unit of budget | Folder |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        added = "" if r["added_per_unit"] is None else f"{100 * r['added_per_unit']:+.2f} pts"
        bound = (
            "" if r["bound_fraction_weighted"] is None else percent(r["bound_fraction_weighted"])
        )
        lines.append(
            f"| {budget_text(r['budget'])} | {r['cameras']} "
            f"| {percent(r['covered_fraction_weighted'])} | {bound} | {percent(r['gap'])} "
            f"| {added} | `{r['folder']}/` |"
        )
    falls = [
        (a["budget"], b["budget"])
        for a, b in itertools.pairwise(rows)
        if b["covered_fraction_weighted"] < a["covered_fraction_weighted"] - 1e-12
    ]
    lines.append("")
    cut = [budget_text(r["budget"]) for r in rows if not r["repeatable"]]
    if cut:
        lines += [
            f"At budget{'s' if len(cut) > 1 else ''} {', '.join(cut)} the time limit stopped "
            "a search before its work was done: a rerun may choose other cameras (raise "
            "--time-limit for a repeatable answer). The other runs repeat exactly.",
            "",
        ]
    else:
        lines += ["Every run repeats exactly from its summary.json.", ""]
    if falls:
        lo, hi = falls[0]
        lines += [
            f"At budget {budget_text(hi)} the answer covers less than at {budget_text(lo)}: "
            "the search stopped "
            "short there (see its gap); raise --time-limit.",
            "",
        ]
    return "\n".join(lines)


def curve_svg(rows: Sequence[dict[str, Any]], width: int = 560, height: int = 340) -> str:
    """A line chart of the covered share (green) and its proven bound (grey, dashed)
    against the budget, with axes, ticks and a dot per run."""
    left, right, top, bottom = 56, 20, 36, 48
    bmax = max(float(r["budget"]) for r in rows) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(b: float) -> float:
        return left + plot_w * b / bmax

    def y(f: float) -> float:
        return top + plot_h * (1.0 - min(max(f, 0.0), 1.0))

    ours = [(x(r["budget"]), y(r["covered_fraction_weighted"])) for r in rows]
    bound = [
        (x(r["budget"]), y(r["bound_fraction_weighted"]))
        for r in rows
        if r["bound_fraction_weighted"] is not None
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14">'
        "Street seen (green) and proven bound (grey) against budget</text>",
    ]
    parts += [
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(f):.1f}" y2="{y(f):.1f}" '
        'stroke="#ddd"/>'
        f'<text x="{left - 6}" y="{y(f) + 4:.1f}" text-anchor="end" font-size="11">'
        f"{100 * f:.0f} %</text>"
        for f in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    parts += [
        f'<text x="{x(b):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
        f'font-size="11">{budget_text(b)}</text>'
        for b in _ticks(bmax)
    ]
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#333"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#333"/>'
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 10}" text-anchor="middle" '
        'font-size="12">budget (cameras, or cost)</text>'
    )
    if bound:
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in bound)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#888" stroke-dasharray="5 3"/>')
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in ours)
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#1b7837" stroke-width="2"/>')
    parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#1b7837"/>' for a, b in ours]
    parts.append("</svg>")
    return "".join(parts) + "\n"


def _ticks(bmax: float) -> list[float]:
    """Round tick values from 0 to ``bmax``, about five of them."""
    raw = bmax / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    n = math.floor(bmax / step * (1 + 1e-9))  # 0.5 // 0.1 is 4.0 in floats
    return [round(i * step, 12) for i in range(n + 1)]
