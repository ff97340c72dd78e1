"""The Markdown report of a run (report.md): what a planner reads first.

Rendered from the run summary (the same dictionary as summary.json); keys that are missing
are left out, so the report of a partial or older summary still renders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from placement.io import jsonable
from placement.optimise import LEVEL_NAMES

#: Cameras listed in the report; the rest are in cameras.csv.
MAX_CAMERA_ROWS = 100


def write_report(
    path: Path,
    summary: Mapping[str, Any],
    *,
    picture: str | None,
    cameras: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write a short Markdown report of a run for a planner.

    Parameters
    ----------
    path : the .md file to write.
    summary : the run summary (keys ``version``, ``inputs``, ``options``, ``crs``, ``counts``,
        ``problem``, ``plan``, ``coverage``, ``timings_s``, ``ground_source``, ``warnings``);
        missing keys are left out of the report.
    picture : path of the 3D picture relative to the report, embedded when given.
    cameras : the rows of cameras.csv (:func:`placement.io.camera_rows`), listed under
        "Cameras" (the first :data:`MAX_CAMERA_ROWS`).
    """
    text = render_report(summary, picture=picture, cameras=cameras)
    Path(path).write_text(text, "utf-8")


def render_report(
    summary: Mapping[str, Any],
    *,
    picture: str | None,
    cameras: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The Markdown text of :func:`write_report`."""
    s = jsonable(summary)
    plan = _dict(s.get("plan"))
    cov = _dict(s.get("coverage"))
    counts = _dict(s.get("counts"))
    lines = ["# Camera placement report", ""]
    if s.get("version"):
        lines += [f"placement {s['version']}" + (f", CRS {s['crs']}" if s.get("crs") else ""), ""]

    if picture:
        lines += [f"![3D view of the chosen cameras and the street coverage]({picture})", ""]

    rows: list[tuple[str, str]] = []
    if "chosen" in plan:
        rows.append(("Cameras chosen", _num(plan["chosen"])))
    if "existing" in plan:
        rows.append(("of which existing (kept)", _num(plan["existing"])))
    if "cost" in plan:
        rows.append(("Cost", _num(plan["cost"])))
    k = cov.get("k")
    by_k = f", by {k} cameras" if isinstance(k, int) and k > 1 else ""
    if "covered_fraction_weighted" in cov:
        rows.append((f"Demand covered (weighted{by_k})", percent(cov["covered_fraction_weighted"])))
    if "covered_street_m" in cov and "street_m" in cov:
        rows.append(
            (
                f"Street length covered{by_k}",
                f"{cov['covered_street_m']:,.0f} m of {cov['street_m']:,.0f} m",
            )
        )
    if "covered_fraction_coverable" in plan:
        rows.append(
            (
                f"Of the coverable demand (weighted{by_k})",
                percent(plan["covered_fraction_coverable"]),
            )
        )
    if "covered_fraction" in cov:
        pts = ""
        if "covered_points" in cov and "points" in cov:
            pts = f" ({_num(cov['covered_points'])} of {_num(cov['points'])} points)"
        rows.append((f"Demand covered (points{by_k})", percent(cov["covered_fraction"]) + pts))
    if "coverable_fraction" in cov:
        label = f"Coverable by {k} candidates" if by_k else "Coverable by any candidate"
        rows.append((label, percent(cov["coverable_fraction"])))
    for key, label in (
        ("objective", "Objective"),
        ("bound", "Proven bound"),
        ("gap", "Gap"),
        ("status", "Solver status"),
        ("method", "Method"),
    ):
        if key in plan:
            v = plan[key]
            rows.append((label, percent(v) if key == "gap" else _num(v)))
    cut = plan.get("clock_cut")
    if isinstance(cut, list) and cut:
        rows.append(
            (
                "Repeatable",
                "no: the time limit stopped "
                + ", ".join(str(c) for c in cut)
                + "; a rerun may choose other cameras",
            )
        )
    if rows:
        lines += ["## Result", "", "| | |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        lines.append("")

    lines += _camera_lines(cameras, k if isinstance(k, int) else 1)

    by_level = _dict(cov.get("by_level"))
    if by_level:
        lines += [
            f"## Coverage by DORI level (at or above{by_k})",
            "",
            "Shares are of the demand weight, as in the title. The last column counts each "
            "point at its best level only (the colours of the street in the picture): those "
            "shares add up to the share covered.",
            "",
            "| Level | Points | Weight | Share | Best level here |",
            "|---|---:|---:|---:|---:|",
        ]
        ordered = [n for n in LEVEL_NAMES if n in by_level] + [
            n for n in by_level if n not in LEVEL_NAMES
        ]
        for name in ordered:
            d = _dict(by_level[name])
            lines.append(
                f"| {name} | {_num(d.get('points'))} | {_num(d.get('weight'))} "
                f"| {percent(d.get('fraction_weighted'))} "
                f"| {percent(d.get('best_fraction_weighted'))} |"
            )
        lines.append("")

    streets = _dict(s.get("streets"))
    least = streets.get("least_covered")
    if isinstance(least, list) and least:
        lines += [
            "## Streets left most uncovered",
            "",
            f"{_num(streets.get('total'))} road surfaces with street points: "
            f"{_num(streets.get('not_seen'))} with no point covered, "
            f"{_num(streets.get('fully_covered'))} fully covered. All of them, worst first: "
            "`streets.csv`; their points carry `road_id` in `coverage.geojson`.",
            "",
            "| Road | Class | Points | Covered | Uncovered weight | At (lon, lat) |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in least:
            d = _dict(r)
            lines.append(
                f"| `{d.get('road_id')}` | {d.get('class')} | {_num(d.get('points'))} "
                f"| {percent(d.get('covered_fraction'))} | {_num(d.get('uncovered_weight'))} "
                f"| {_lonlat(d)} |"
            )
        lines.append("")

    areas = s.get("priority_areas")
    if isinstance(areas, list) and areas:
        lines += [
            "## Priority areas",
            "",
            "Coverage inside each `--priority` polygon. Weights include the multipliers: a "
            "point inside several areas weighs the largest of theirs.",
            "",
            "| Area | Name | Its multiplier | Points | Covered points | Covered weight |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for a in areas:
            d = _dict(a)
            share = (
                percent(d.get("covered_fraction"))
                if d.get("weight")
                else "no street points"
                if not d.get("points")
                else "weight 0"
            )
            lines.append(
                f"| {_num(d.get('area'))} | {d.get('name') or ''} | {_num(d.get('multiplier'))} "
                f"| {_num(d.get('points'))} | {_num(d.get('covered_points'))} | {share} |"
            )
        lines.append("")

    if counts:
        lines += ["## Model", "", "| | |", "|---|---:|"]
        lines += [f"| {k.replace('_', ' ')} | {_num(v)} |" for k, v in counts.items()]
        if s.get("ground_source"):
            lines.append(f"| road heights from | {s['ground_source']} |")
        lines.append("")

    timings = _dict(s.get("timings_s"))
    if timings:
        lines += ["## Time per stage", "", "| Stage | Seconds |", "|---|---:|"]
        lines += [f"| {k} | {_num(v, 2)} |" for k, v in timings.items()]
        total = sum(v for v in timings.values() if isinstance(v, (int, float)))
        lines += [f"| **total** | **{total:.2f}** |", ""]

    inputs = s.get("inputs") or []
    if inputs:
        lines += ["## Inputs", ""]
        for p in inputs:
            if isinstance(p, Mapping):
                size = _num(float(p.get("bytes", 0)) / 1e6, 2)
                sha = str(p.get("sha256", ""))[:16]
                lines.append(f"- `{p.get('path', '?')}` ({size} MB, sha256 {sha}...)")
            else:
                lines.append(f"- `{p}`")
        lines.append("")
    halo = _dict(s.get("halo"))
    halo_files = [f for f in halo.get("files") or [] if isinstance(f, Mapping)]
    if halo_files or halo.get("skipped"):
        margin = _num(halo.get("margin_m"), 1)
        kinds = _halo_kinds([str(f.get("path", "")) for f in halo_files])
        lines += [
            "## Neighbouring tiles (halo)",
            "",
            f"Files of the neighbouring tiles ({kinds or 'none read'}); of them only what"
            f" lies within {margin} m of the inputs is used: buildings, vegetation, bridges"
            " and walls as obstacles, roads to tell a street that runs on from one that ends"
            " (no cameras or streets there):",
            "",
        ]
        for f in halo_files:
            sha = str(f.get("sha256", ""))[:16]
            lines.append(
                f"- `{f.get('path', '?')}`: {_num(f.get('kept_triangles'))} of"
                f" {_num(f.get('triangles'))} triangles (sha256 {sha}...)"
            )
        lines += [f"- skipped: {_inline(x)}" for x in halo.get("skipped") or []]
        lines.append("")
    options = _dict(s.get("options"))
    if options:
        lines += ["## Options", "", "| Option | Value |", "|---|---|"]
        lines += [f"| {k} | `{_inline(v)}` |" for k, v in sorted(options.items())]
        lines.append("")
    run_notes = [str(w) for w in (s.get("run_warnings") or [])]
    if run_notes:
        lines += [f"## Run warnings ({len(run_notes)})", ""]
        lines += [f"- {w}" for w in run_notes]
        lines.append("")
    raw = s.get("warnings") or []
    warnings = list(s.get("warning_messages") or ([] if isinstance(raw, int | float) else raw))
    count = int(raw) if isinstance(raw, int | float) else len(warnings)
    if count:
        lines += [f"## Load warnings ({count})", ""]
        lines += [f"- {w}" for w in warnings[:50]]
        if count > len(warnings[:50]):
            lines.append(
                f"- ... and {count - len(warnings[:50])} more (placement inspect lists them)"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _camera_lines(cameras: Sequence[Mapping[str, Any]], k: int) -> list[str]:
    """The "Cameras" section: where each chosen camera goes and what it is worth."""
    if not cameras:
        return []
    alone = "what k cameras see with it only" if k > 1 else "what no other camera sees"
    lines = [
        "## Cameras",
        "",
        "Where each camera goes: the lens position, its height above the ground, where it "
        "looks (heading clockwise from north, tilt below the horizon), the demand weight it "
        f"sees and the weight that stops counting without it ({alone}). All columns, and "
        "the plane coordinates: `cameras.csv`, `cameras.geojson`.",
        "",
        "| Camera | Site | At (lon, lat) | Height (m) | Heading | Tilt | Sees | Without it, lost |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in cameras[:MAX_CAMERA_ROWS]:
        d = jsonable(dict(c))
        name = f"`{d.get('id')}`" + (" (installed)" if d.get("existing") else "")
        lines.append(
            f"| {name} | `{d.get('site_id')}` | {_lonlat(d)} | {_num(d.get('mount_height_m'), 1)} "
            f"| {_num(d.get('heading_deg'), 1)}° | {_num(d.get('tilt_deg'), 1)}° "
            f"| {_num(d.get('covered_weight'), 1)} | {_num(d.get('loss_weight'), 1)} |"
        )
    if len(cameras) > MAX_CAMERA_ROWS:
        lines.append(
            f"| ... and {len(cameras) - MAX_CAMERA_ROWS:,} more in `cameras.csv` | | | | | | | |"
        )
    lines.append("")
    return lines


def _lonlat(d: Mapping[str, Any]) -> str:
    """ "lon, lat" to 6 decimals (about 10 cm), or "" when either is missing."""
    lon, lat = d.get("lon"), d.get("lat")
    return f"{lon:.6f}, {lat:.6f}" if isinstance(lon, float) and isinstance(lat, float) else ""


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _num(v: Any, decimals: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.{decimals}f}"
    return str(v)


def percent(v: Any, sep: str = " ") -> str:
    """A fraction as "12.3 %" ("n/a" when it is not a number). Rounding never makes a share
    look empty or whole when it is not: "<0.1 %" and ">99.9 %"."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "n/a"
    if 0.0 < v < 0.0005:
        return f"<0.1{sep}%"
    if 0.9995 <= v < 1.0:
        return f">99.9{sep}%"
    return f"{100.0 * v:.1f}{sep}%"


def _inline(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return text.replace("|", "\\|").replace("`", "'")


#: What a halo file of each PLATEAU kind holds, for the report.
_HALO_KIND_NAMES = {
    "bldg": "buildings",
    "veg": "vegetation",
    "brid": "bridges",
    "cons": "walls and other structures",
    "tran": "roads",
}


def _halo_kinds(paths: Sequence[str]) -> str:
    """The kinds of the halo files, in words ("buildings, roads"), from their PLATEAU names;
    "other files" for a name that says none."""
    from placement.meshcode import split_tile_name

    found: list[str] = []
    for p in paths:
        parsed = split_tile_name(Path(p).name)
        name = _HALO_KIND_NAMES.get(parsed[1], "other files") if parsed else "other files"
        if name not in found:
            found.append(name)
    order = [*_HALO_KIND_NAMES.values(), "other files"]
    return ", ".join(sorted(found, key=order.index))
