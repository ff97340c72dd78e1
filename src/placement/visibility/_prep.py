"""Compiled helpers that lay out a visibility task: bounds, the point grid, camera frames.

Each is a single pass over its arrays (numba, cached on disk); the numpy versions took
several passes and a comparison sort, about a tenth of the whole visibility stage on a
3 x 3 tile block.
"""

# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# ruff: noqa: PLR0917

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@numba.njit(cache=True)
def bounds(xyz: Any, lo: Any, hi: Any) -> None:
    """Widen ``lo`` / ``hi`` (3,) to hold every row of ``xyz`` (N, 3)."""
    for i in range(xyz.shape[0]):
        for k in range(3):
            v = xyz[i, k]
            lo[k] = min(lo[k], v)
            hi[k] = max(hi[k], v)


def local_center(*arrays: FloatArray) -> FloatArray:
    """A shift that brings everything near 0, so float32 keeps millimetres in Embree."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for a in arrays:
        if a.size:
            bounds(np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 3), lo, hi)
    if not np.isfinite(lo).all():
        return np.zeros(3)
    return np.asarray(np.floor((lo + hi) / 2.0), dtype=np.float64)


@numba.njit(cache=True)
def grid_layout(xyz: Any, center: Any, cell: float, max_cells: int) -> Any:
    """Put points in row-major order of square cells (a counting sort by cell).

    Returns points (3, N) shifted by ``center`` in grid order, the demand index of each
    (N,), their ascending cell keys ``row * n_cols + col`` (N,), where each cell's points
    start (n_cols * n_rows + 1,), the grid corner (2,), n_cols and n_rows; within a cell,
    points keep their demand order. When the grid
    would have more than ``max_cells`` cells, n_cols is returned as -1 and nothing else
    is meaningful (the caller sorts instead).
    """
    n = xyz.shape[0]
    x0 = math.inf
    y0 = math.inf
    for i in range(n):
        x0 = min(x0, xyz[i, 0] - center[0])
        y0 = min(y0, xyz[i, 1] - center[1])
    key = np.empty(n, np.int64)
    n_cols = 1
    n_rows = 1
    col = np.empty(n, np.int64)
    for i in range(n):
        c = math.floor(((xyz[i, 0] - center[0]) - x0) / cell)
        r = math.floor(((xyz[i, 1] - center[1]) - y0) / cell)
        col[i] = c
        key[i] = r
        n_cols = max(n_cols, c + 1)
        n_rows = max(n_rows, r + 1)
    points = np.empty((3, n), np.float64)
    ids = np.empty(n, np.int64)
    keys = np.empty(n, np.int64)
    corner = np.array([x0, y0])
    if n_cols * n_rows > max_cells:
        return points, ids, keys, np.zeros(0, np.int64), corner, -1, n_rows
    for i in range(n):
        key[i] = key[i] * n_cols + col[i]
    start = np.zeros(n_cols * n_rows + 1, np.int64)
    for i in range(n):
        start[key[i] + 1] += 1
    for c in range(n_cols * n_rows):
        start[c + 1] += start[c]
    cell_start = start.copy()
    for i in range(n):
        at = start[key[i]]
        start[key[i]] += 1
        ids[at] = i
        keys[at] = key[i]
        for k in range(3):
            points[k, at] = xyz[i, k] - center[k]
    return points, ids, keys, cell_start, corner, n_cols, n_rows


@numba.njit(cache=True)
def frames_in_site_order(heading_deg: Any, tilt_deg: Any, order: Any) -> Any:
    """(9, M) float32: right, up and forward unit vectors (no roll) of option
    ``order[i]`` in column i. With heading h (clockwise from +y) and tilt t (below the
    horizon): right = (cos h, -sin h, 0), up = (sin h sin t, cos h sin t, cos t),
    forward = (sin h cos t, cos h cos t, -sin t)."""
    m = order.shape[0]
    out = np.empty((9, m), np.float32)
    for i in range(m):
        o = order[i]
        h = math.radians(heading_deg[o])
        t = math.radians(tilt_deg[o])
        sh, ch, st, ct = math.sin(h), math.cos(h), math.sin(t), math.cos(t)
        out[0, i], out[1, i], out[2, i] = ch, -sh, 0.0
        out[3, i], out[4, i], out[5, i] = sh * st, ch * st, ct
        out[6, i], out[7, i], out[8, i] = sh * ct, ch * ct, -st
    return out


@numba.njit(inline="always")
def _first_at_least(keys: Any, value: int) -> int:
    """Binary search: the first index of ascending ``keys`` holding ``value`` or more."""
    lo, hi = 0, keys.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def site_slices(
    sites: Any,
    first: int,
    cell_keys: Any,
    cell_start: Any,
    x0: float,
    y0: float,
    cell: float,
    n_cols: int,
    n_rows: int,
    r: float,
    n_span: int,
    site: Any,
    start: Any,
    stop: Any,
) -> int:
    """The loop of ``_task._site_ranges``: one slice of grid-ordered points per (site,
    cell row the circle of radius ``r`` touches), the cells of that row the circle
    reaches; sites are numbered from ``first``. ``cell_start`` (where each cell's points
    start) answers directly when given, else a binary search on ``cell_keys`` does.
    Returns how many slices it wrote."""
    table = cell_start.shape[0] > 0
    n = 0
    for i in range(sites.shape[0]):
        sx, sy = sites[i, 0], sites[i, 1]
        row0 = math.floor((sy - r - y0) / cell)
        for row in range(row0, row0 + n_span):
            if row < 0 or row >= n_rows:
                continue
            # Nearest y of the row to the site, hence the half-width of the circle there.
            gap = max(0.0, y0 + row * cell - sy, sy - (y0 + (row + 1) * cell))
            if gap > r:
                continue
            half = math.sqrt(max(r * r - gap * gap, 0.0))
            col0 = int(max(math.floor((sx - half - x0) / cell), 0.0))
            col1 = int(min(math.floor((sx + half - x0) / cell), n_cols - 1.0))
            if col0 > col1:
                continue
            if table:
                a = cell_start[row * n_cols + col0]
                b = cell_start[row * n_cols + col1 + 1]
            else:
                a = _first_at_least(cell_keys, row * n_cols + col0)
                b = _first_at_least(cell_keys, row * n_cols + col1 + 1)
            if b > a:
                site[n] = first + i
                start[n] = a
                stop[n] = b
                n += 1
    return n
