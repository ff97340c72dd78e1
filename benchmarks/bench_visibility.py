"""Visibility throughput on real PLATEAU tiles: the pipeline against raw Embree and trimesh.

Scenes (buildings + roads): the LOD2 Osaka tile 52350301, the dense LOD1 tile 51357353 and
the Osaka 3x3 block (the nine 513573xx tiles, 18 files). Sites and demand are the
pipeline's defaults (``pipeline.build_sites`` with default ``RunOptions``: PLATEAU poles
and road edges every 20 m; ``sample_demand``: every 2 m at 1.5 m), 8 headings, the default
camera. Prints the problem size, then a markdown table:

- raw embreex OCCLUDED throughput on the pipeline's own segments, in its order (scene
  built beforehand, one call, one core): the baseline; next to it the same segments
  through the pipeline's own Embree binding alone (no filters);
- pipeline segments/s with workers=1 and workers=2 (the whole ``compute_coverage`` call:
  key, planning, Embree scene build, filters, rays, CSR assembly; cache off; workers=2
  forced onto two threads with ``min_parallel_pairs=0``);
- trimesh's pure-numpy ray engine (``RayMeshIntersector``, needs rtree) on a small sample
  of the same segments, and the pipeline's speed-up over it.

Times are medians of ``--runs`` runs, after one warm-up call (numba loads the compiled
kernel from its cache once per process). Skips with a message when the tiles are absent.

    .venv/bin/python benchmarks/bench_visibility.py [--runs 3] [--trimesh-sample 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

TILES = {
    "52350301 (LOD2)": ["52350301_bldg_6697_op.gml", "52350301_tran_6697_op.gml"],
    "51357353 (LOD1, dense)": ["51357353_bldg_6697_op.gml", "51357353_tran_6697_op.gml"],
    "Osaka 3x3 block (513573xx)": [
        f"513573{r}{c}_{kind}_6697_op.gml"
        for r in "567"
        for c in "123"
        for kind in ("bldg", "tran")
    ],
}


def data_dir() -> Path | None:
    env = os.environ.get("PLACEMENT_DATA")
    cands = [Path(env)] if env else []
    cands.append(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "plateau")
    for c in cands:
        if (c / "osaka").is_dir():
            return c / "osaka"
    return None


def embreex_scene(vertices: np.ndarray, faces: np.ndarray) -> Any:
    """embreex's own scene of the mesh: the baseline's."""
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=vertices, indices=faces)
    return scene


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def numpy_engine(engine: object, s64: np.ndarray, d64: np.ndarray, l64: np.ndarray) -> np.ndarray:
    """Clear segments by trimesh's pure-numpy engine: every hit along the ray, kept if
    it is nearer than the segment's end."""
    _, ray, loc = engine.intersects_id(  # type: ignore[attr-defined]
        s64, d64, multiple_hits=True, return_locations=True
    )
    dist = np.linalg.norm(loc - s64[ray], axis=1)
    blocked = np.zeros(s64.shape[0], bool)
    blocked[ray[dist <= l64[ray]]] = True
    return ~blocked


def pipeline_segments(task: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every segment ``compute_coverage`` tests, in its order (starts, dirs, lengths),
    recorded by the pipeline's own kernel."""
    from placement.visibility._chunks import _run_chunk
    from placement.visibility._embree import Scene
    from placement.visibility._task import _site_ranges

    scene = Scene(task.vertices, task.faces)
    parts = []
    n_sites = task.sites.shape[0]
    for lo in range(0, n_sites, 500):
        hi = min(lo + 500, n_sites)
        _, start, stop = _site_ranges(task, lo, hi)
        seg = np.zeros((max(1, int((stop - start).sum())), 7), np.float32)
        out = _run_chunk(task, scene, (0, lo, hi), seg)
        parts.append(seg[: int(out[5]["segments_tested"])])
    seg = np.concatenate(parts)
    return seg[:, :3].copy(), seg[:, 3:6].copy(), seg[:, 6].copy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trimesh-sample", type=int, default=300)
    ap.add_argument("--only", default="", help="run only the scenes whose label has this text")
    args = ap.parse_args()

    folder = data_dir()
    if folder is None:
        print("SKIP: real PLATEAU tiles not found (../shared/data/plateau or $PLACEMENT_DATA)")
        return 0
    try:
        from placement.citygml import read_citygml
        from placement.demand import sample_demand
        from placement.pipeline import RunOptions, build_sites
        from placement.sites import make_options
    except ImportError as exc:
        print(f"SKIP: a pipeline stage is missing ({exc})")
        return 0
    import trimesh

    from placement.camera import Camera
    from placement.visibility import compute_coverage
    from placement.visibility._embree import OCCLUDED1, Scene
    from placement.visibility._kernel import clear_segments
    from placement.visibility._task import _make_task

    cam = Camera()
    rows = []
    for label, names in TILES.items():
        if args.only not in label:
            continue
        paths = [folder / n for n in names]
        if not all(p.exists() for p in paths):
            print(f"SKIP {label}: {', '.join(str(p) for p in paths if not p.exists())} missing")
            continue
        city = read_citygml(paths)
        sites = build_sites(city, cam, RunOptions())
        options = make_options(sites, cam, headings=8)
        demand = sample_demand(city)
        mesh = city.occluders

        # The pipeline's own segments, in its order, rebuilt with its filter code.
        task = _make_task(mesh, options, demand, cam)
        starts, dirs, lengths = pipeline_segments(task)
        n_seg = int(lengths.shape[0])
        scene = embreex_scene(task.vertices, task.faces)

        def raw(
            scene: Any = scene,
            s: np.ndarray = starts,
            d: np.ndarray = dirs,
            ln: np.ndarray = lengths,
        ) -> Any:
            return scene.run(s, d, dists=ln.copy(), query="OCCLUDED")

        raw()  # warm up
        t_raw = median_time(raw, args.runs)
        t_bvh = median_time(partial(Scene, task.vertices, task.faces), args.runs)
        ours = Scene(task.vertices, task.faces)
        clear_ours = np.ones(n_seg, bool)

        def raw_ours(
            sc: Any = ours,
            out: np.ndarray = clear_ours,
            s: np.ndarray = starts,
            d: np.ndarray = dirs,
            ln: np.ndarray = lengths,
        ) -> None:
            clear_segments(OCCLUDED1, sc.handle, s, d, ln, out)

        raw_ours()
        assert np.array_equal(clear_ours, np.asarray(raw()) < 0)
        t_ours = median_time(raw_ours, args.runs)

        cov = compute_coverage(mesh, options, demand, cam, workers=1)
        assert cov.stats["segments_tested"] == n_seg, (cov.stats["segments_tested"], n_seg)
        t_w1 = median_time(
            partial(compute_coverage, mesh, options, demand, cam, workers=1), args.runs
        )
        w2 = partial(compute_coverage, mesh, options, demand, cam, workers=2, min_parallel_pairs=0)
        t0 = time.perf_counter()
        cov2 = w2()
        t_w2_first = time.perf_counter() - t0
        assert (cov2.matrix != cov.matrix).nnz == 0
        t_w2 = median_time(w2, args.runs)
        by_default = compute_coverage(mesh, options, demand, cam, workers=2).stats["workers"] > 1

        # trimesh's pure-numpy engine on a sample of the same segments.
        rng = np.random.default_rng(0)
        k = min(args.trimesh_sample, n_seg)
        pick = rng.choice(n_seg, size=k, replace=False)
        tm = trimesh.Trimesh(task.vertices.astype(np.float64), task.faces, process=False)
        engine = trimesh.ray.ray_triangle.RayMeshIntersector(tm)  # type: ignore[no-untyped-call]
        s64, d64, l64 = (
            starts[pick].astype(np.float64),
            dirs[pick].astype(np.float64),
            lengths[pick].astype(np.float64),
        )

        engine.intersects_any(s64[:2], d64[:2])  # type: ignore[no-untyped-call] # builds its r-tree outside the timing
        t0 = time.perf_counter()
        clear_np = numpy_engine(engine, s64, d64, l64)
        t_np = time.perf_counter() - t0
        clear_em = raw()[pick] < 0
        agree = float((clear_np == np.asarray(clear_em)).mean())

        sec = cov.stats["seconds"]
        print(
            f"\n{label}: {len(options)} options ({len(sites)} sites), {len(demand)} points,"
            f" {mesh.n_triangles} triangles; pairs in reach {cov.stats['pairs_in_reach']},"
            f" in view {cov.stats['pairs_in_view']}, segment tests {n_seg},"
            f" visible pairs {cov.stats['visible_pairs']};"
            f" trimesh sample {k} segments agrees with Embree on {agree:.1%}.\n"
            f"  last w=1 run: key {sec['key']:.3f} s, plan {sec['plan']:.3f} s,"
            f" Embree BVH build {sec['scene']:.3f} s (in the pipeline's time, not in raw),"
            f" kernel (filters + rays) {sec['kernel']:.3f} s, assemble {sec['assemble']:.3f} s;"
            f" first w=2 call {t_w2_first:.3f} s; BVH build alone {t_bvh:.3f} s"
        )
        rows.append(
            (
                f"{label}, {mesh.n_triangles:,} tri, {n_seg:,} seg",
                n_seg / t_raw,
                n_seg / t_ours,
                n_seg / t_w1,
                n_seg / t_w2,
                k / t_np,
                by_default,
                t_raw,
                t_w1,
                t_w2,
                t_w2_first,
            )
        )

    if not rows:
        return 0
    print(f"\nmedians of {args.runs} runs; segments/s over the same segments\n")
    print(
        "| scene | raw embreex seg/s | raw, our binding seg/s | pipeline w=1 seg/s | w=1 / raw"
        " | pipeline w=2 seg/s | w=2 / w=1 | w=2 / raw | 2 threads by default"
        " | trimesh numpy seg/s | w=1 / trimesh |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, raw_s, ours_s, w1_s, w2_s, np_s, pooled, *_ in rows:
        print(
            f"| {label} | {raw_s:,.0f} | {ours_s:,.0f} | {w1_s:,.0f} | {w1_s / raw_s:.2f}"
            f" | {w2_s:,.0f}"
            f" | {w2_s / w1_s:.2f} | {w2_s / raw_s:.2f} | {'yes' if pooled else 'no'}"
            f" | {np_s:,.0f} | {w1_s / np_s:,.0f}x |"
        )
    print(
        "\n| scene | raw Embree s | pipeline w=1 s | pipeline w=2 s | first w=2 call s |"
        "\n|---|---|---|---|---|"
    )
    for label, *_, t_raw, t_w1, t_w2, t_first in rows:
        print(f"| {label} | {t_raw:.3f} | {t_w1:.3f} | {t_w2:.3f} | {t_first:.3f} |")
    print(
        "\nraw = embreex's OCCLUDED loop (the named baseline); 'our binding' = the same"
        " segments through the pipeline's own ctypes binding, nothing else. w=2 forces two"
        " threads (min_parallel_pairs=0); '2 threads by default' says whether workers=2 with"
        " the default threshold uses them (else it runs in the calling thread, as w=1)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
