"""compute_coverage: check the inputs, plan the chunks, run them and assemble the matrix."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from placement._checks import number
from placement.camera import Camera
from placement.errors import InputFileError, OptionError
from placement.model import City, Demand, Mesh, Options
from placement.visibility._chunks import _ChunkResult, _run_chunk
from placement.visibility._coverage import CACHE_MAX_BYTES, Coverage, coverage_key, prune_cache
from placement.visibility._embree import Scene
from placement.visibility._task import _expand, _make_task, _site_ranges

log = logging.getLogger("placement.visibility")

IntpArray = npt.NDArray[np.intp]

#: Below this many candidate pairs one thread does the work: a second one saves less than
#: it costs to split (benchmarks/bench_visibility.py: Osaka 52350301, 0.37 M pairs and 4 ms
#: of work, ran 0.94x as fast on two threads; 51357353, 3.5 M pairs, 1.34x).
MIN_PARALLEL_PAIRS = 1_000_000


def _check_inputs(mesh: Mesh, options: Options, demand: Demand) -> None:
    m = len(options)
    for name, arr, shape in (
        ("origin", options.origin, (m, 3)),
        ("heading_deg", options.heading_deg, (m,)),
        ("tilt_deg", options.tilt_deg, (m,)),
    ):
        a = np.asarray(arr)
        if a.shape != shape:
            raise OptionError(f"options: {name} has shape {a.shape}, expected {shape}")
        if not np.isfinite(a).all():
            raise OptionError(f"options: {name} has non-finite values (NaN or inf)")
    xyz = np.asarray(demand.xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise OptionError(f"demand: xyz has shape {xyz.shape}, expected (N, 3)")
    if not np.isfinite(xyz).all():
        raise OptionError("demand: xyz has non-finite values (NaN or inf)")
    if mesh.faces.size and (mesh.faces.min() < 0 or mesh.faces.max() >= mesh.vertices.shape[0]):
        raise OptionError("occluders: a face refers to a vertex that does not exist")


def _plan_chunks(pairs_per_site: npt.NDArray[np.int64], budget: int) -> list[tuple[int, int]]:
    """Consecutive site ranges holding at most ``budget`` pairs (a bigger site alone)."""
    chunks: list[tuple[int, int]] = []
    lo = 0
    total = 0
    # A loop over sites (not pairs or points): a few thousand iterations at most.
    for i, n in enumerate(pairs_per_site.tolist()):
        if total and total + n > budget:
            chunks.append((lo, i))
            lo, total = i, 0
        total += n
    if lo < pairs_per_site.size:
        chunks.append((lo, int(pairs_per_site.size)))
    return chunks


def compute_coverage(
    occluders: Mesh | City,
    options: Options,
    demand: Demand,
    camera: Camera,
    *,
    workers: int = 2,
    chunk_pairs: int = 2_000_000,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    min_parallel_pairs: int = MIN_PARALLEL_PAIRS,
    cache_max_bytes: int = CACHE_MAX_BYTES,
) -> Coverage:
    """Which option sees which demand point, at which DORI level, occlusion included.

    Parameters
    ----------
    occluders : the blocking triangles, or a City (its ``view_blockers()``: the occluders and
        the road surfaces, as ``placement run`` uses).
    options : camera options; the lens is at ``origin`` looking ``heading_deg`` (clockwise
        from +y) tilted ``tilt_deg`` below the horizon. The camera's own ``height_m`` and
        ``tilt_deg`` are not used here: the options carry them.
    demand : target points (``xyz``).
    camera : fields of view, range, pixels, DORI thresholds.
    workers : threads to use (the compiled kernel runs without the GIL); 1 runs in the
        calling thread only.
    chunk_pairs : the most candidate (option, point) pairs a chunk holds in memory.
    cache_dir : where to keep ``coverage-<key>.npz``; None = no cache.
    cache_max_bytes : after writing a new cache file, the least recently used files of
        ``cache_dir`` are deleted until the rest take at most this much (default 2 GiB).
    progress : called as ``progress(options_done, n_options)`` after each chunk.
    min_parallel_pairs : below this many candidate pairs the work runs in the calling
        thread whatever ``workers`` says.

    Returns
    -------
    Coverage with an (n_options, n_points) int8 CSR matrix of DORI levels.
    """
    t_start = time.perf_counter()
    for name, value, kind in (
        ("occluders", occluders, (Mesh, City)),
        ("options", options, (Options,)),
        ("demand", demand, (Demand,)),
        ("camera", camera, (Camera,)),
    ):
        if not isinstance(value, kind):
            want = " or ".join(k.__name__ for k in kind)
            a = "an" if want[0] in "AEIOU" else "a"
            raise OptionError(
                f"compute_coverage: {name} must be {a} {want}, got {type(value).__name__}"
            )
    mesh = occluders.view_blockers() if isinstance(occluders, City) else occluders
    workers = int(number("compute_coverage", "workers", workers, minimum=1, whole=True))
    chunk_pairs = int(number("compute_coverage", "chunk_pairs", chunk_pairs, minimum=1, whole=True))
    _check_inputs(mesh, options, demand)
    n_options, n_points = len(options), len(demand)
    if n_options.bit_length() + max(1, n_points.bit_length()) + 3 > 63:
        raise OptionError(f"{n_options} options x {n_points} points: too many for one run")
    key = coverage_key(mesh, options, demand, camera)
    t_key = time.perf_counter()

    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"coverage-{key}.npz"
        if cache_file.exists():
            try:
                cached = Coverage.load(cache_file)
            except InputFileError as exc:
                log.warning("ignoring a broken coverage cache file: %s", exc)
            else:
                if cached.key == key and cached.matrix.shape == (n_options, n_points):
                    with contextlib.suppress(OSError):
                        cache_file.touch()  # last use, for pruning
                    hit = dict(cached.stats)
                    hit["from_cache"] = True
                    hit["seconds"] = {"load": time.perf_counter() - t_start}
                    if progress is not None:
                        progress(n_options, n_options)
                    log.info("coverage loaded from cache %s", cache_file)
                    return Coverage(cached.matrix, n_options, n_points, key, hit)

    task = _make_task(mesh, options, demand, camera)
    sites = task.sites
    opts_per_site = np.diff(task.site_opt_start).astype(np.int64)
    # Candidate points per site from the grid (a bound a little above the pairs in reach).
    task.ranges = site, start, stop = _site_ranges(task, 0, sites.shape[0])
    counts = np.bincount(site, weights=stop - start, minlength=sites.shape[0])
    pairs_per_site = counts.astype(np.int64) * opts_per_site
    total_pairs = int(pairs_per_site.sum())
    budget = chunk_pairs
    if workers > 1:
        # Several chunks per worker so that uneven chunks still keep every worker busy.
        budget = min(chunk_pairs, max(50_000, -(-total_pairs // (4 * workers))))
    chunks = _plan_chunks(pairs_per_site, budget) if total_pairs else []
    n_workers = max(1, min(workers, len(chunks)))
    if total_pairs < min_parallel_pairs:
        n_workers = 1  # splitting costs more than it saves on small jobs
    t_plan = time.perf_counter()

    results: dict[int, tuple[IntpArray, IntpArray, npt.NDArray[np.int32], npt.NDArray[np.int8]]]
    results = {}
    worker_stats: dict[str, float] = {
        "pairs_in_reach": 0.0,
        "pairs_in_view": 0.0,
        "segments_tested": 0.0,
        "kernel": 0.0,
    }
    done = 0
    jobs = [(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]

    def collect(out: _ChunkResult) -> None:
        nonlocal done
        cid, rows, counts, cols, lv, st = out
        results[cid] = (rows, counts, cols, lv)
        for k, val in st.items():
            worker_stats[k] += val
        lo, hi = chunks[cid]
        done += int(opts_per_site[lo:hi].sum())
        if progress is not None:
            progress(done, n_options)

    t0 = time.perf_counter()
    scene = Scene(task.vertices, task.faces)
    t_scene = time.perf_counter() - t0
    if n_workers == 1:
        for job in jobs:
            collect(_run_chunk(task, scene, job))
    elif jobs:
        with ThreadPoolExecutor(n_workers, thread_name_prefix="placement-visibility") as pool:
            futures = [pool.submit(_run_chunk, task, scene, job) for job in jobs]
            try:
                for fut in as_completed(futures):
                    collect(fut.result())
            except BaseException:  # Ctrl-C: the chunks not started are not run
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    if progress is not None and done < n_options:
        progress(n_options, n_options)  # options with nothing in reach are done too
    t_rays = time.perf_counter()

    order = sorted(results)
    run_row = np.concatenate([results[i][0] for i in order] + [np.zeros(0, np.intp)])
    run_len = np.concatenate([results[i][1] for i in order] + [np.zeros(0, np.intp)])
    cols = np.concatenate([results[i][2] for i in order] + [np.zeros(0, np.int32)])
    vals = np.concatenate([results[i][3] for i in order] + [np.zeros(0, np.int8)])
    # Each option's entries are one run, points ascending. When the options are listed
    # site by site the runs already follow the rows; otherwise move whole runs into order.
    if (run_row[1:] < run_row[:-1]).any():
        by_row = np.argsort(run_row)
        idx = _expand((np.cumsum(run_len) - run_len)[by_row], run_len[by_row])
        run_row, run_len, cols, vals = run_row[by_row], run_len[by_row], cols[idx], vals[idx]
    indptr = np.zeros(n_options + 1, dtype=np.int64)
    indptr[run_row + 1] = run_len
    np.cumsum(indptr, out=indptr)
    matrix = sparse.csr_matrix((vals, cols, indptr), shape=(n_options, n_points))
    matrix.has_sorted_indices = True
    t_end = time.perf_counter()

    stats: dict[str, Any] = {
        "n_options": n_options,
        "n_points": n_points,
        "n_triangles": mesh.n_triangles,
        "n_sites": int(sites.shape[0]),
        "pairs_in_reach": int(worker_stats["pairs_in_reach"]),
        "pairs_in_view": int(worker_stats["pairs_in_view"]),
        "segments_tested": int(worker_stats["segments_tested"]),
        "visible_pairs": int(matrix.nnz),
        "workers": n_workers,
        "chunks": len(chunks),
        "from_cache": False,
        "seconds": {
            "key": t_key - t_start,
            "plan": t_plan - t_key,
            "scene": t_scene,
            "kernel": worker_stats["kernel"],
            "run": t_rays - t_plan,
            "assemble": t_end - t_rays,
            "total": t_end - t_start,
        },
    }
    coverage = Coverage(matrix, n_options, n_points, key, stats)
    if cache_file is not None:
        # The cache only saves time: a folder that cannot take the file costs a warning.
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            coverage.save(cache_file)
        except (OSError, InputFileError) as exc:
            log.warning("coverage cache not written (%s); the run goes on", exc)
        else:
            for gone in prune_cache(cache_file.parent, cache_max_bytes):
                log.info("coverage cache: removed the least recently used %s", gone.name)
    log.info(
        "coverage: %d options x %d points, %d segments, %d visible pairs in %.2f s",
        n_options,
        n_points,
        stats["segments_tested"],
        matrix.nnz,
        t_end - t_start,
    )
    return coverage
