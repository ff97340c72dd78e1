"""One chunk of sites through the compiled kernel: inputs laid out, outputs trimmed."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from placement.visibility._embree import OCCLUDED16, Scene
from placement.visibility._kernel import run_sites
from placement.visibility._task import _site_ranges, _Task

IntpArray = npt.NDArray[np.intp]
Float32Array = npt.NDArray[np.float32]

# (chunk id, the options with visible pairs, how many each, point columns, DORI levels,
# counts and seconds) of a chunk; an option's entries are consecutive, points ascending.
_ChunkResult = tuple[
    int, IntpArray, IntpArray, npt.NDArray[np.int32], npt.NDArray[np.int8], dict[str, float]
]


def _chunk_ranges(task: _Task, lo: int, hi: int) -> tuple[IntpArray, IntpArray, IntpArray]:
    """The point slices of the sites ``lo:hi`` (from the task's table when planned)."""
    if task.ranges is None:
        return _site_ranges(task, lo, hi)
    a, b = np.searchsorted(task.ranges[0], [lo, hi])
    site, start, stop = (r[a:b] for r in task.ranges)
    return site, start, stop


def _run_chunk(
    task: _Task,
    scene: Scene,
    chunk: tuple[int, int, int],
    segments: Float32Array | None = None,
) -> _ChunkResult:
    """Decide every pair of the sites ``lo:hi`` of ``chunk`` = (id, lo, hi); returns the
    visible (option, point, level) runs sorted by option, then point. ``segments``, when
    given ((K, 7) float32, K at least the segments tested), receives the tested segments."""
    chunk_id, lo, hi = chunk
    t0 = time.perf_counter()
    site, start, stop = _chunk_ranges(task, lo, hi)
    n_opt = np.diff(task.site_opt_start)
    cap = int(((stop - start) * n_opt[site]).sum())  # every pair visible: the most entries
    runs = int(n_opt[lo:hi].sum())
    out_row = np.empty(runs, np.intp)
    out_len = np.empty(runs, np.intp)
    out_col = np.empty(cap, np.int32)
    out_lvl = np.empty(cap, np.int8)
    stats = np.zeros(3, np.int64)
    px, py, pz = task.points
    n_runs, n_out = run_sites(
        OCCLUDED16,
        scene.handle,
        px,
        py,
        pz,
        task.point_ids,
        task.sites,
        site,
        start,
        stop,
        task.site_opt_order,
        task.site_opt_start,
        task.oct_ptr,
        task.oct_opt,
        task.frames32,
        task.heading_rad,
        task.tilt_rad,
        task.params,
        task.dori,
        out_row,
        out_len,
        out_col,
        out_lvl,
        np.zeros((0, 7), np.float32) if segments is None else segments,
        stats,
    )
    seconds = time.perf_counter() - t0
    return (
        chunk_id,
        out_row[:n_runs],
        out_len[:n_runs],
        out_col[:n_out],
        out_lvl[:n_out],
        {
            "pairs_in_reach": float(stats[0]),
            "pairs_in_view": float(stats[1]),
            "segments_tested": float(stats[2]),
            "kernel": seconds,
        },
    )
