"""The ``placement`` command line: inspect, run, view.

A thin layer: it parses options, calls the library, prints, and turns every library error into
one line on stderr and a non-zero exit (2 for bad input or options, 1 for an internal error).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from placement import __version__
from placement.errors import PlacementError

log = logging.getLogger("placement")

EXIT_USER = 2
EXIT_INTERNAL = 1


def _fail(message: str, code: int) -> None:
    click.echo(f"placement: error: {message}", err=True)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``timeout``, a CI job cancelled, a terminal closed): the command
    stops as on Ctrl-C, its staged outputs removed, and exits with 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` while a command runs (Python's
    default ends the process at once and leaves a staging folder of results behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pid = os.getpid()

    def stop(signum: int, frame: Any) -> None:
        if os.getpid() != pid:  # a forked child (the LP bound phase): end as by default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    signums = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    # A signal already ignored stays so (`nohup placement run ...` must survive the hangup).
    before = {n: signal.getsignal(n) for n in signums}
    before = {n: h for n, h in before.items() if h is not signal.SIG_IGN}
    for n in before:
        signal.signal(n, stop)
    try:
        yield
    finally:
        for n, handler in before.items():
            signal.signal(n, handler)


@contextmanager
def _errors(verbose: int) -> Iterator[None]:
    try:
        with _stop_on_signals():
            yield
    except PlacementError as e:
        _fail(str(e).splitlines()[0] if str(e) else type(e).__name__, EXIT_USER)
    except Terminated as e:
        _fail(f"stopped by {signal.Signals(e.signum).name}", 128 + e.signum)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except MemoryError:
        _fail("out of memory (try a larger --demand-spacing-m or fewer --headings)", EXIT_INTERNAL)
    except Exception as e:  # an internal error: one line unless -v asks for the traceback
        if verbose:
            raise
        _fail(
            f"internal error: {type(e).__name__}: {e} (placement -v COMMAND ... shows where)",
            EXIT_INTERNAL,
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="placement")
@click.option("-v", "--verbose", count=True, help="More log output; -vv for debug.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Where to put security cameras in a PLATEAU 3D city model."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    # One handler, on the stderr of this call (a script or test may call main() again).
    for old in [h for h in log.handlers if h.get_name() == "placement-cli"]:
        log.removeHandler(old)
    handler = logging.StreamHandler()
    handler.set_name("placement-cli")
    handler.setFormatter(logging.Formatter("placement: %(levelname)s: %(message)s"))
    handler.setLevel(level)
    log.addHandler(handler)
    # Warnings are made even when -q hides them: summary.json and report.md record them.
    log.setLevel(min(level, logging.WARNING))
    ctx.obj = {"verbose": verbose, "quiet": quiet}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (stable schema).")
@click.option(
    "--crs",
    default=None,
    help="Metric CRS of the output, e.g. EPSG:6674 (default: the JGD2011 zone of the data). "
    "One that stretches distances at the data by over 1 % (EPSG:3857) is refused.",
)
@click.pass_context
def inspect(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, crs: str | None) -> None:
    """What a CityGML file, folder or PLATEAU zip holds once loaded.

    Prints counts per CityGML class, the LOD used per class, bounds in metres, the CRS,
    triangles, where the ground height came from, and warnings.
    """
    verbose = ctx.obj["verbose"]
    with _errors(verbose):
        from placement.citygml import read_citygml, summarize

        _require_exist(paths)
        city = read_citygml(list(paths), crs=crs)
        info = summarize(city)
        if as_json:
            click.echo(json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False))
            return
        _print_inspect(info)


def _print_inspect(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)  # lines whole when piped: grep, not a pager
    t = Table(title="Loaded features", show_lines=False)
    t.add_column("class")
    t.add_column("features", justify="right")
    t.add_column("LOD used")
    for cls, n in sorted(info["counts"].items()):
        lods = info.get("lod", {}).get(cls, {})
        t.add_row(cls, str(n), ", ".join(f"{k}: {v}" for k, v in sorted(lods.items())))
    console.print(t)
    b = info["bounds_m"]
    console.print(f"CRS: {info['crs']} (from {info.get('source_crs', '?')})")
    if info["triangles"]:
        # + 0.0: no "-0.0" for a height a hair below zero.
        x0, y0, z0, x1, y1, z1 = (round(v, 1) + 0.0 for v in b)
        console.print(
            f"bounds: x {x0:.1f}..{x1:.1f}  y {y0:.1f}..{y1:.1f}  "
            f"z {z0:.1f}..{z1:.1f} m ({b[3] - b[0]:.0f} x {b[4] - b[1]:.0f} m)"
        )
    else:  # e.g. furniture drawn only as LOD0 lines: features, but nothing to see or block
        console.print("bounds: none (no surface geometry: nothing to block a view or to watch)")
    console.print(f"triangles: {info['triangles']:,}   poles: {info.get('poles', 0)}")
    if any(k in info.get("triangles_by_kind", {}) for k in ("road", "sidewalk")):
        console.print(f"ground heights: {info.get('ground_source', '?')}")
    else:
        console.print("ground heights: n/a (no roads to set on the ground)")
    console.print(f"warnings: {info['warnings']}   skipped features: {info['skipped']}")
    for w in info.get("warning_messages", [])[:10]:
        console.print(f"  [yellow]warning[/]: {w}")


def _require_exist(paths: tuple[Path, ...]) -> None:
    from placement.errors import InputFileError

    for p in paths:
        if not p.exists():
            raise InputFileError(f"{p}: no such file or folder")


_RUN_HELP = {
    "budget": "Maximise coverage with at most this many new cameras (or this much money when sites have costs); 0 scores the --existing cameras alone. Default 10.",
    "cover": "Instead, the cheapest set covering this fraction (0-1] of the coverable street weight.",
}


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (created; files replaced atomically).",
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help=(
        "TOML file of run options (keys as in summary.json 'options'), or a run's "
        "summary.json to repeat it; command-line options win."
    ),
)
@click.option("--budget", type=float, default=None, help=_RUN_HELP["budget"])
@click.option("--cover", type=float, default=None, help=_RUN_HELP["cover"])
@click.option(
    "--camera",
    "camera",
    default=None,
    help="Camera preset (fullhd-103, 4k-90, tele-30, ptz-360) [default: fullhd-103].",
)
@click.option(
    "--camera-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Camera TOML file (fields of placement.Camera).",
)
@click.option(
    "--mount-height-m",
    type=float,
    default=None,
    help="Lens height above ground, metres [default: the camera's, 6 m].",
)
@click.option(
    "--headings",
    type=int,
    default=None,
    help="Headings offered per site, evenly spaced from north [default: 8].",
)
@click.option(
    "--tilts-deg",
    default=None,
    help="Comma-separated tilts below the horizon, degrees [default: the camera's].",
)
@click.option(
    "--crs",
    default=None,
    help="Metric CRS, e.g. EPSG:6674 [default: the JGD2011 zone of the data]. One that "
    "stretches distances at the data by over 1 % (EPSG:3857) is refused.",
)
@click.option(
    "--spacing-m",
    type=float,
    default=None,
    help="Distance between candidate poles along road edges, metres [default: 20].",
)
@click.option(
    "--inset-m",
    type=float,
    default=None,
    help="How far in from the road's outer edge the candidate poles stand, metres [default: 0.5].",
)
@click.option(
    "--road-edge-sites/--no-road-edge-sites",
    default=None,
    help="Propose new poles along road edges, or not [default: on].",
)
@click.option(
    "--plateau-poles/--no-plateau-poles",
    default=None,
    help="Offer existing PLATEAU poles (frn) as sites, or not [default: on].",
)
@click.option(
    "--pole-cost",
    type=float,
    default=None,
    help="Cost of a camera on an existing PLATEAU pole [default: 1].",
)
@click.option(
    "--new-pole-cost", type=float, default=None, help="Cost of a camera on a new pole [default: 1]."
)
@click.option(
    "--sites",
    "sites_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Extra candidate sites: CSV (lon,lat[,mount_height_m,heading_deg,tilt_deg,cost,id]) "
    "or GeoJSON points.",
)
@click.option(
    "--existing",
    "existing_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Cameras already installed (same format, heading_deg required; a run's cameras.csv "
    "or cameras.geojson reads back as the same cameras); kept at no cost, under their own "
    "ids. The candidate site a camera stands on keeps its other headings.",
)
@click.option(
    "--priority",
    "priority_file",
    type=click.Path(path_type=Path),
    default=None,
    help="GeoJSON polygons with a 'weight' property multiplying the demand inside (school routes ...).",
)
@click.option(
    "--demand-spacing-m",
    type=float,
    default=None,
    help="Street sampling grid spacing, metres [default: 2].",
)
@click.option(
    "--target-height-m",
    type=float,
    default=None,
    help="Height of the watched point above the road, metres [default: 1.5, a face]; "
    "near 0 the road itself (kerbs, folds of lifted roads) hides a few points.",
)
@click.option(
    "--sidewalk-weight",
    type=float,
    default=None,
    help="Weight of a sidewalk point (carriageway points weigh --road-weight) [default: 1].",
)
@click.option(
    "--road-weight", type=float, default=None, help="Weight of a carriageway point [default: 1]."
)
@click.option(
    "--weigh-by",
    type=click.Choice(["area", "length"]),
    default=None,
    help="Street points count by the area of street they stand for (wide roads weigh more "
    "per metre) or by its length (every metre of street the same, lane or avenue; weights "
    "are street metres times any road, sidewalk or priority weight) [default: area].",
)
@click.option(
    "--k",
    type=int,
    default=None,
    help="Cameras that must see a point for it to count (redundancy) [default: 1].",
)
@click.option(
    "--min-level",
    type=click.Choice(["detection", "observation", "recognition", "identification"]),
    default=None,
    help="DORI level a point must be seen at [default: detection].",
)
@click.option(
    "--max-per-site",
    type=int,
    default=None,
    help="Most cameras (headings) on one pole, installed ones included [default: no limit].",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=float,
    default=None,
    help="Optimiser time limit, seconds [default: 30].",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed (results repeat for a seed; summary.json says 'repeatable': false "
    "if the time limit stopped a search phase early) [default: 0].",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Processes for loading, threads for ray casting [default: 2]. The optimiser works "
    "beside its search on a second core either way (its bounds, on problems large enough).",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Visibility cache folder [default: $PLACEMENT_CACHE, else $XDG_CACHE_HOME/placement or ~/.cache/placement].",
)
@click.option(
    "--cache/--no-cache",
    "use_cache",
    default=None,
    help="Read and write the visibility cache, or neither [default: on].",
)
@click.option(
    "--render/--no-render",
    default=None,
    help="Draw the picture: scene.png, scene.html and scene.npz (--no-render: none, so no "
    "placement view) [default: on].",
)
@click.option(
    "--html/--no-html", default=None, help="Write scene.html (--no-html skips it) [default: on]."
)
@click.option(
    "--halo",
    multiple=True,
    metavar="auto|off|PATH",
    help="Neighbouring tiles whose buildings occlude too (never sites, streets or drawn): 'auto' finds the bldg (and veg, brid, cons, and tran: a street that runs on into the next tile is no dead end) files of the adjacent mesh codes beside the inputs, for the kinds the inputs have; 'off'; or a .gml file or folder (repeat for more) [default: auto].",
)
@click.pass_context
def run(
    ctx: click.Context, /, paths: tuple[Path, ...], out_dir: Path, config: Path | None, **kw: Any
) -> None:
    """Choose camera sites on a tile and write the results.

    Loads PATHS (CityGML files, folders or PLATEAU zips), proposes sites, samples the
    streets, casts rays, optimises, and writes to --out: summary.json, cameras.geojson,
    coverage.geojson, coverage_areas.geojson, views.geojson, cameras.csv, streets.csv,
    report.md, scene.png, scene.html, scene.npz.

    -q / -v go before the command: placement -q run ...
    """
    verbose, quiet = ctx.obj["verbose"], ctx.obj["quiet"]
    with _errors(verbose):
        from placement.pipeline import RunOptions, check_before_work
        from placement.pipeline import run as run_pipeline

        _require_exist(paths)
        overrides = _overrides(kw)
        opts = RunOptions.from_toml(config, **overrides) if config else RunOptions(**overrides)
        check_before_work(opts, out_dir)  # before the progress bars start
        with _progress(quiet) as report:
            result = run_pipeline(list(paths), opts, out_dir=out_dir, progress=report)
        if not quiet:
            _print_result(result.summary, out_dir)


def _overrides(kw: dict[str, Any]) -> dict[str, Any]:
    from placement.errors import OptionError

    out: dict[str, Any] = {}
    for key, raw in kw.items():
        value = raw
        if value is None:
            continue
        if key == "halo":
            if value:  # click gives () when the option is absent
                out[key] = tuple(str(v) for v in value)
            continue
        if key == "tilts_deg":
            try:
                value = tuple(float(t) for t in str(raw).split(",") if t.strip())
                if not value:
                    raise ValueError
            except ValueError:
                raise OptionError(
                    f"--tilts-deg must be comma-separated numbers, got {raw!r}"
                ) from None
        if isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    if quiet:
        yield lambda stage, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    labels = {
        "load": "Loading CityGML",
        "halo": "Loading halo",
        "sites": "Proposing sites",
        "demand": "Sampling streets",
        "visibility": "Casting rays",
        "optimise": "Optimising",
        "write": "Writing outputs",
    }
    tasks: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        transient=False,
        console=Console(stderr=True),
    ) as bar:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=None)
            if total > 0:
                bar.update(tasks[stage], completed=done, total=total)

        yield report


#: Priority areas listed on the terminal (report.md lists them all).
_AREA_ROWS = 5


def _print_result(summary: dict[str, Any], out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from placement.report import percent

    console = Console(soft_wrap=True)
    plan = summary["plan"]
    cov = summary["coverage"]
    t = Table(title=f"placement {summary['problem'].replace('_', ' ')}", show_header=True)
    t.add_column("")
    t.add_column("value", justify="right")
    t.add_row(
        "cameras chosen", f"{plan['chosen']} ({plan['existing']} existing, {plan['new']} new)"
    )
    t.add_row("cost of new cameras", f"{plan['cost']:g}")
    if summary.get("warnings"):
        skipped = summary.get("city", {}).get("skipped", 0)
        t.add_row(
            "load warnings", f"{summary['warnings']:,} ({skipped:,} features skipped; report.md)"
        )
    k = cov.get("k", 1)
    by_k = f", {k} cameras" if k > 1 else ""
    t.add_row(
        f"street covered ({cov['min_level']}+{by_k})",
        f"{percent(cov['covered_fraction'], '')} of points, "
        f"{percent(cov['covered_fraction_weighted'], '')} of weight",
    )
    if "street_m" in cov:
        t.add_row(
            "  street length",
            f"{cov['covered_street_m']:,.0f} m of {cov['street_m']:,.0f} m",
        )
    if "covered_fraction_coverable" in plan:
        t.add_row("  of the coverable weight", percent(plan["covered_fraction_coverable"], ""))
    t.add_row(f"coverable at all{by_k}", f"{percent(cov['coverable_fraction'], '')} of points")
    for name, lv in cov["by_level"].items():
        points = f"{lv['points']:,} point{'' if lv['points'] == 1 else 's'}"
        t.add_row(f"  {name}", f"{points} ({percent(lv['fraction'], '')})")
    areas = summary.get("priority_areas", [])
    for a in areas[:_AREA_ROWS]:
        label = f"priority area {a['area']}" + (f" ({a['name']})" if a["name"] else "")
        seen = (
            f"{percent(a['covered_fraction'], '')} of its weight"
            if a["weight"] > 0
            else "no street points in it"
            if not a["points"]
            else f"{a['points']:,} points, all of weight 0"
        )
        t.add_row(label, seen)
    if len(areas) > _AREA_ROWS:
        t.add_row(f"  and {len(areas) - _AREA_ROWS} more areas", "see report.md")
    bound = plan.get("bound")
    gap = plan.get("gap")
    t.add_row(
        "objective / proven bound",
        f"{plan.get('objective', float('nan')):.6g} / {bound:.6g}" if bound is not None else "-",
    )
    t.add_row(
        "gap to optimal",
        f"{100 * gap:.2f}% ({plan.get('status', '?')})" if gap is not None else "-",
    )
    cut = plan.get("clock_cut") or []
    if cut:
        t.add_row(
            "repeatable",
            f"no: the time limit stopped {', '.join(cut)} early (raise --time-limit)",
        )
    for stage_name, secs in summary.get("timings_s", {}).items():
        t.add_row(f"time: {stage_name}", f"{secs:.2f} s")
    console.print(t)
    console.print(f"results in {out_dir}/")


def _sweep(
    ctx: click.Context,
    /,
    paths: tuple[Path, ...],
    out_dir: Path,
    config: Path | None,
    budgets: str,
    **kw: Any,
) -> None:
    """Run the optimiser at several budgets and draw coverage against budget.

    One complete run per budget into --out/budget-<B>/ (the rays are cast once and read
    from the cache after, unless --no-cache), with the same options otherwise, and beside
    them sweep.csv, sweep.svg (covered share and proven bound against budget) and
    sweep.md. A --config file's budget or cover is left out.

    -q / -v go before the command: placement -q sweep ...
    """
    verbose, quiet = ctx.obj["verbose"], ctx.obj["quiet"]
    with _errors(verbose):
        from placement.errors import OptionError
        from placement.pipeline import RunOptions, check_before_work
        from placement.sweep import check_budgets, sweep

        try:
            values = [float(b) for b in budgets.split(",") if b.strip()]
        except ValueError:
            raise OptionError(
                f"--budgets must be comma-separated numbers, got {budgets!r}"
            ) from None
        _require_exist(paths)
        overrides = _overrides(kw)
        # The sweep sets the budgets: a config's goal is left out (with a warning).
        why = "a sweep takes its budgets from --budgets"
        goal = {"budget": why, "cover": why}
        opts = (
            RunOptions.from_toml(config, ignore=goal, **overrides)
            if config
            else RunOptions(**overrides)
        )
        # Checked before the progress display starts (the sweep checks them again).
        todo = check_budgets(values)
        check_before_work(dataclasses.replace(opts, budget=todo[-1]), out_dir)
        with _sweep_progress(quiet) as report:
            rows = sweep(list(paths), opts, values, out_dir=out_dir, progress=report)
        if not quiet:
            _print_sweep(rows, out_dir)


@contextmanager
def _sweep_progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """One line per budget, naming the stage it is at."""
    if quiet:
        yield lambda stage, done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    with Progress(
        SpinnerColumn(finished_text="done"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:

        def report(stage: str, done: int, total: int) -> None:
            budget, _, name = stage.partition(": ")
            if budget not in tasks:
                for t in tasks.values():  # the runs go one after the other
                    bar.update(t, total=1, completed=1)
                tasks[budget] = bar.add_task(budget, total=None)
            bar.update(tasks[budget], description=f"{budget}: {name}")

        yield report
        for t in tasks.values():
            bar.update(t, total=1, completed=1)


def _print_sweep(rows: list[dict[str, Any]], out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from placement.report import percent
    from placement.sweep import budget_text

    t = Table(title="placement sweep: street seen against budget")
    columns = ("budget", "cameras", "covered (weighted)", "proven bound", "gap", "status")
    for name in (*columns, "repeatable"):
        t.add_column(name, justify="left" if name in ("status", "repeatable") else "right")
    for r in rows:
        bound = r["bound_fraction_weighted"]
        t.add_row(
            budget_text(r["budget"]),
            str(r["cameras"]),
            percent(r["covered_fraction_weighted"], ""),
            "-" if bound is None else percent(bound, ""),
            f"{100 * r['gap']:.2f}%",
            r["status"],
            "yes" if r["repeatable"] else "no (clock)",
        )
    console = Console(soft_wrap=True)
    console.print(t)
    console.print(f"results in {out_dir}/ (sweep.md, sweep.csv, sweep.svg, budget-*/)")


# `placement sweep` takes every option of `placement run` but the goal.
sweep_command = click.Command(
    "sweep",
    callback=click.pass_context(_sweep),
    help=_sweep.__doc__,
    short_help="Run at several budgets; coverage against budget.",
    params=[
        *(p for p in run.params if p.name not in ("budget", "cover")),
        click.Option(
            ["--budgets"],
            required=True,
            help="Comma-separated budgets, in cameras or in the units of the costs, e.g. 10,20,40,80.",
        ),
    ],
)
main.add_command(sweep_command)


@main.command()
@click.argument("result_dir", type=click.Path(path_type=Path))
@click.option(
    "--screenshot",
    type=click.Path(path_type=Path),
    default=None,
    help="Render off-screen to this PNG instead of opening a window (.png is added to a "
    "name without a suffix, and written in lower case).",
)
@click.pass_context
def view(ctx: click.Context, result_dir: Path, screenshot: Path | None) -> None:
    """Show the 3D scene of a `placement run` result folder (or of a scene .npz file)."""
    with _errors(ctx.obj["verbose"]):
        from placement import render
        from placement.errors import InputFileError, OptionError

        if result_dir.is_file() and result_dir.suffix.lower() == ".npz":
            # A scene file named as such is drawn as it is, whatever its name.
            scene_file = result_dir
            result_dir = result_dir.parent
        else:
            scene_file = result_dir / "scene.npz"
        if not result_dir.is_dir():
            what = "is a file, not a run's folder" if result_dir.exists() else "no such folder"
            raise InputFileError(f"{result_dir}: {what}")
        if not scene_file.exists():
            why = "not a placement run folder?"
            if (result_dir / "summary.json").exists():
                why = "the run was made with --no-render; run it again without it"
            elif (result_dir / "sweep.md").exists():
                runs = sorted(
                    p.name for p in result_dir.glob("budget-*") if (p / "summary.json").is_file()
                )
                why = f"a sweep's folder: view one of its runs, {', '.join(runs) or 'budget-*'}"
            raise InputFileError(f"{result_dir}: no scene.npz here ({why})")
        if screenshot is not None:
            screenshot = _png_path(screenshot)
        scene = render.Scene.load(scene_file)
        no_window = None if screenshot is not None else _no_display()
        if no_window:
            raise OptionError(
                f"no display to open a window on ({no_window}): give --screenshot "
                f"FILE.png, or open {result_dir / 'scene.html'} in a browser"
            )
        try:
            render.show(scene, screenshot=screenshot)
        except OSError as e:  # the disk refused the picture (full, read only)
            if screenshot is None or e.filename is None:
                raise
            raise OptionError(
                f"--screenshot {screenshot}: cannot write: {e.strerror or e}"
            ) from None
        if screenshot is not None:
            click.echo(f"wrote {screenshot}")


def _png_path(path: Path) -> Path:
    """The PNG ``--screenshot`` names (``.png`` added to a name without a suffix), checked
    before anything is drawn."""
    from placement.errors import OptionError

    if path.is_dir():
        raise OptionError(f"--screenshot {path}: is a folder; give a file name ending in .png")
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    elif path.suffix.lower() == ".png":
        path = path.with_suffix(".png")  # the writer knows the lower-case suffix only
    if path.suffix != ".png":
        raise OptionError(f"--screenshot {path}: the picture is a PNG; give a name ending in .png")
    if path.is_dir():
        raise OptionError(f"--screenshot {path}: is a folder; give a file name ending in .png")
    if not path.absolute().parent.is_dir():
        raise OptionError(f"--screenshot {path}: the folder {path.parent} does not exist")
    if not os.access(path.absolute().parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise OptionError(f"--screenshot {path}: cannot write there (permission or read-only)")
    return path


def _no_display() -> str | None:
    """Why no window can open (None: it can). On Linux and other X11 systems a window needs
    a display: a local X display whose socket is there, or a remote one that answers (VTK
    itself only warns on a bad one, and the command would end as if it had shown it)."""
    if sys.platform in ("win32", "darwin") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "DISPLAY is not set"
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return None  # a form we do not know: let VTK try
    import socket

    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in (path, "\0" + path):  # the socket file, or Linux's abstract one
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.settimeout(2)
                    sock.connect(address)
                    return None
            except OSError:
                continue
        return f"DISPLAY={display}: no X server there"
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=2):
            return None
    except OSError:
        return f"DISPLAY={display}: no X server answers"


if __name__ == "__main__":  # pragma: no cover
    main()
