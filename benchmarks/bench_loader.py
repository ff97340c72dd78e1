"""Loader speed: ``read_citygml`` vs a bare lxml pass (and plateaukit when available).

For the largest real tiles (and the Osaka 3 x 3 block, also with ``workers=2``) prints a
markdown table: size, loader time (median of ``--runs`` runs), the time of a bare
``lxml.etree.iterparse`` loop that does nothing over every element (the floor any
lxml-based reader pays), their ratio in wall-clock time and in CPU time (steadier when
the machine is shared; not for ``workers=2``, whose work is in other processes), MB/s,
triangles/s, and plateaukit's ``PLATEAUCityGMLParser`` on the same files. Loader and
bare runs alternate, so a change in the machine's load touches both alike.

plateaukit yields buildings and LOD1 roads only (no furniture, no traffic areas), so its
cell also says how many objects it returned: on the furniture and traffic-area tiles it
skips most of what the loader builds, and the comparison is not like for like there.

plateaukit is not a dependency: it runs in whichever interpreter ``$PLATEAUKIT_PYTHON``
names (e.g. a throwaway venv: ``python -m venv /tmp/pk && /tmp/pk/bin/pip install
plateaukit``), else in this one if it can import it; otherwise the column says so.

Usage: ``python benchmarks/bench_loader.py [--runs 5]``. Skips when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from placement.citygml import read_citygml

REPO = Path(__file__).resolve().parents[1]

PLATEAUKIT_SCRIPT = """
import json, statistics, sys, time
from plateaukit.readers.citygml.parsers.city_gml_parser import PLATEAUCityGMLParser
runs = int(sys.argv[1]); out = {}
for arg in sys.argv[2:]:
    ts, cs = [], []
    for _ in range(runs):
        c, t = time.process_time(), time.perf_counter()
        parser = PLATEAUCityGMLParser(target_epsg=6674, codelist_file_map={})
        n = 0
        for p in arg.split(","):
            with open(p, "rb") as f:
                for _ in parser.iterparse(f):
                    n += 1
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    out[arg] = [statistics.median(ts), statistics.median(cs), n]
print(json.dumps(out))
"""


def data_dir() -> Path | None:
    env = os.environ.get("PLACEMENT_DATA")
    for c in [Path(env)] if env else [REPO.parent / "shared" / "data" / "plateau"]:
        if c.is_dir():
            return c
    return None


def bare_pass(paths: list[Path]) -> None:
    for p in paths:
        for _ in etree.iterparse(str(p), events=("end",), huge_tree=True):
            pass


def paired_times(
    load: Callable[[], object], bare: Callable[[], object], runs: int
) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds of ``load`` and ``bare``, run alternately."""
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for i, fn in enumerate((load, bare)):
            c, t = time.process_time(), time.perf_counter()
            fn()
            wall[i].append(time.perf_counter() - t)
            cpu[i].append(time.process_time() - c)
    med = statistics.median
    return med(wall[0]), med(wall[1]), med(cpu[0]), med(cpu[1])


def plateaukit_times(
    cases: dict[str, list[Path]], runs: int
) -> dict[str, tuple[float, float, int]] | str:
    """Median wall and CPU seconds and objects yielded by plateaukit per case, or why
    there are none."""
    python = os.environ.get("PLATEAUKIT_PYTHON", sys.executable)
    args = [",".join(str(p) for p in paths) for paths in cases.values()]
    try:
        res = subprocess.run(
            [python, "-c", PLATEAUKIT_SCRIPT, str(runs), *args],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"failed ({type(exc).__name__})"
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["?"])[-1]
        return "not installed" if "No module named 'plateaukit'" in last else f"failed: {last[:60]}"
    times = json.loads(res.stdout)
    return {
        name: (times[a][0], times[a][1], times[a][2]) for name, a in zip(cases, args, strict=True)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-plateaukit", action="store_true")
    opts = ap.parse_args()
    d = data_dir()
    if d is None:
        print("SKIP: real PLATEAU tiles not found (../shared/data/plateau or $PLACEMENT_DATA)")
        return
    block = [f"5135735{c}" for c in "123"] + [f"5135736{c}" for c in "123"]
    block += [f"5135737{c}" for c in "123"]
    cases: dict[str, list[Path]] = {
        "nusamai/53391597_frn": [d / "nusamai/53391597_frn_6697_op.gml"],
        "osaka/51357353_bldg": [d / "osaka/51357353_bldg_6697_op.gml"],
        "osaka/52350301_tran": [d / "osaka/52350301_tran_6697_op.gml"],
        "osaka/52350301_bldg": [d / "osaka/52350301_bldg_6697_op.gml"],
        "osaka 3x3 block (18 files)": [
            d / "osaka" / f"{c}_{k}_6697_op.gml" for c in block for k in ("bldg", "tran")
        ],
    }
    pk: dict[str, tuple[float, float, int]] | str = (
        "skipped" if opts.no_plateaukit else plateaukit_times(cases, opts.runs)
    )
    rows = [(name, paths, 1) for name, paths in cases.items()]
    block_name = "osaka 3x3 block (18 files)"
    rows.append((f"{block_name}, workers=2", cases[block_name], 2))
    print(f"runs per cell: {opts.runs} (median); python {sys.version.split()[0]}; ", end="")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print(
        "| input | MB | loader s (features) | bare lxml s | ratio | ratio (CPU) | MB/s "
        "| triangles/s | plateaukit s | plateaukit / loader |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, paths, workers in rows:
        mb = sum(p.stat().st_size for p in paths) / 1e6

        def load(paths: list[Path] = paths, workers: int = workers) -> object:
            return read_citygml(paths, workers=workers)

        city = read_citygml(paths, workers=workers)  # warm caches, start the forkserver
        tris = city.occluders.n_triangles + city.roads.n_triangles

        def bare(paths: list[Path] = paths) -> None:
            bare_pass(paths)

        t_load, t_bare, c_load, c_bare = paired_times(load, bare, opts.runs)
        cpu_ratio = f"{c_load / c_bare:.2f}x" if workers == 1 else "-"
        pk_name = name.removesuffix(", workers=2")
        if isinstance(pk, dict):
            pk_t, pk_c, pk_n = pk[pk_name]
            # plateaukit yields buildings and roads (LOD1) only: say how much it read.
            pk_cell = f"{pk_t:.3f} ({pk_n} objects)"
            pk_ratio = f"{pk_t / t_load:.1f}x" + (
                f" ({pk_c / c_load:.1f}x CPU)" if workers == 1 else ""
            )
        else:
            pk_cell, pk_ratio = pk, "-"
        print(
            f"| {name} | {mb:.2f} | {t_load:.3f} ({len(city.features)}) | {t_bare:.3f} "
            f"| {t_load / t_bare:.2f}x "
            f"| {cpu_ratio} | {mb / t_load:.1f} | {tris / t_load:,.0f} | {pk_cell} | {pk_ratio} |"
        )


if __name__ == "__main__":
    main()
