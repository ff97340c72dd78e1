"""Writing coverage.geojson for many demand points: string assembly vs json.dumps of dicts.

Baseline: the obvious implementation, one dict per point passed to ``json.dumps``.
Prints a markdown table of medians over several runs and the ratio to the baseline.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from placement import io
from placement.crs import to_lonlat
from placement.model import Demand, SurfaceKind

RUNS = 5


def make(n: int, k: int) -> tuple[Demand, sp.csr_matrix, list[str]]:
    rng = np.random.default_rng(0)
    xyz = np.column_stack([rng.uniform(-1e3, 1e3, n), rng.uniform(-1e3, 1e3, n), np.full(n, 1.5)])
    demand = Demand(xyz, np.zeros(n), np.ones(n), np.full(n, SurfaceKind.ROAD, np.int8), 2.0)
    m = sp.random(k, n, density=0.01, random_state=1, format="csr")
    m.data = rng.integers(1, 5, m.nnz).astype(np.float64)
    return demand, m.astype(np.int8).tocsr(), io.camera_ids(k)


def baseline(path: Path, demand: Demand, m: sp.csr_matrix, ids: list[str]) -> None:
    lon, lat = to_lonlat(demand.xyz[:, 0], demand.xyz[:, 1], "EPSG:6674")
    csc = m.tocsc()
    level = csc.max(axis=0).toarray().ravel()
    feats = []
    for j in range(len(demand)):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        lv = int(level[j])
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(lon[j], 7), round(lat[j], 7), round(demand.xyz[j, 2], 2)],
                },
                "properties": {
                    "index": j,
                    "z_m": round(float(demand.xyz[j, 2]), 2),
                    "ground_z_m": round(float(demand.ground_z[j]), 2),
                    "weight": float(demand.weight[j]),
                    "kind": SurfaceKind(int(demand.kind[j])).name.lower(),
                    "seen_by": [ids[r] for r in rows],
                    "level": lv or None,
                    "level_name": io.LEVEL_NAMES[lv - 1] if lv else None,
                },
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def ours(path: Path, demand: Demand, m: sp.csr_matrix, ids: list[str]) -> None:
    io.write_coverage_geojson(path, crs="EPSG:6674", demand=demand, seen_by=m, ids=ids)


def median_time(fn: Callable[..., None], *args: object) -> float:
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    print("| points | cameras | baseline json.dumps (s) | write_coverage_geojson (s) | ratio |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.geojson"
        for n, k in ((10_000, 50), (100_000, 300)):
            demand, m, ids = make(n, k)
            b = median_time(baseline, path, demand, m, ids)
            o = median_time(ours, path, demand, m, ids)
            print(f"| {n:,} | {k} | {b:.3f} | {o:.3f} | {b / o:.1f}x faster |")


if __name__ == "__main__":
    main()
