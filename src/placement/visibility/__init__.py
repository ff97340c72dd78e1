"""Occlusion-aware coverage: which camera option sees which demand point, and how well.

:func:`compute_coverage` returns a :class:`Coverage` whose sparse matrix holds, for every
(option, demand point) pair that is seen, the best DORI level (1..4) of the camera there.

How a pair is decided
---------------------
1. Reach: the slant distance ``d`` from the lens to the point is at most ``range_m`` and the
   pixel density ``Camera.px_per_m(d)`` reaches ``Camera.covered_px_per_m``. The demand
   points are kept in the row-major order of a square grid (cells of reach / 6), so the
   points near a lens position are a few slices (one per cell row the reach circle
   touches); the exact test runs on the distances. This, the slant distance and the DORI
   level are computed once per (lens position, point), not once per option.
2. Field of view. A rectilinear camera (hfov < 180) is a pinhole: the vector to the point
   is rotated into the camera frame (right, up, forward; forward = heading clockwise from
   +y, tilted ``tilt_deg`` below the horizon, no roll) and the point must lie in front and
   inside the image rectangle: ``|x| <= z tan(hfov/2)`` and ``|y| <= z tan(vfov/2)``. Both
   angles are thus measured in the camera frame, so a tilted camera's view widens towards
   its bottom edge as a real one does. A panoramic / PTZ camera (hfov >= 180) is
   cylindrical: the azimuth of the point from the heading is within hfov/2 (any azimuth
   at 360) and its angle below the horizon is within ``tilt +- vfov/2``. A point is only
   tested against the options of its site whose horizontal sector (the plan view of the
   frustum, widened by one 5.6-degree azimuth bin) can hold it: about 3 of 8 headings for
   the default camera. For a pinhole camera a table per tilt, indexed by (azimuth minus
   heading, sine of elevation) cells, then decides most of these at once: cells proven
   wholly inside or outside the view (with a margin above every rounding error) answer
   directly, and only pairs in cells on the view's edge run the float32 test above, so
   the answers are those of the test itself.
3. Occlusion: one Embree OCCLUDED query on the segment from the lens to the point. The
   segment starts ``START_MARGIN_M`` (0.3 m) out from the lens so that the pole the camera
   hangs on, or a wall it is fixed flush to, does not hide everything; it stops
   ``END_MARGIN_M`` (0.05 m) short of the point so that a surface the point lies on does
   not hide it. The segment depends only on the lens position and the point, so options
   that share a site (other headings and tilts) share one test.

Work is split into chunks of distinct lens positions holding at most ``chunk_pairs``
candidate (option, point) pairs each (a single site with more gets a chunk of its own),
so memory stays bounded however many pairs there are; inside a chunk the filters run on
blocks of about 16 k (site, point) pairs so that the temporaries stay in cache. With
``workers`` > 1 (and enough work) chunks also run in ``workers - 1`` pool processes
(Embree holds the GIL, so threads would not help) started from a forkserver that has
this module preloaded; each builds the Embree scene once in its initializer, and the
calling process works through chunks meanwhile. The result is identical for any number
of workers or chunk size.

The result can be cached on disk under a key hashed from every input that changes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from placement.camera import Camera
from placement.errors import InputFileError, OptionError
from placement.model import City, Demand, Mesh, Options

__all__ = [
    "END_MARGIN_M",
    "START_MARGIN_M",
    "Coverage",
    "compute_coverage",
    "coverage_key",
    "segments_clear",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
IntpArray = npt.NDArray[np.intp]

#: Segments start this far from the lens (metres): clears the camera's own pole or wall.
START_MARGIN_M = 0.3
#: Segments stop this far short of the target (metres): the target's own surface.
END_MARGIN_M = 0.05
#: Below this many candidate pairs one process is faster than a pool (measured: the dense
#: tile's ~4 M take about 0.1 s in one process, about what a worker needs to start: fork
#: from the preloaded server, unpickle the task, build its Embree scene).
MIN_PARALLEL_PAIRS = 6_000_000
#: Bumped whenever the meaning or layout of a cached coverage changes.
FORMAT_VERSION = 1


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Coverage:
    """Which option sees which demand point, and at what DORI level.

    Attributes
    ----------
    matrix : (n_options, n_points) scipy.sparse.csr_matrix of int8, the best DORI level
        1..4 at which each option sees each point; absent entries are not seen. Column
        indices are sorted within each row.
    n_options, n_points : the matrix shape.
    key : hex sha256 of the inputs (see :func:`coverage_key`).
    stats : counts and timings: ``pairs_in_reach`` (option-point pairs within range and
        density), ``pairs_in_view`` (also inside the field of view), ``segments_tested``
        (Embree queries; options sharing a site share them), ``visible_pairs``,
        ``seconds`` (per phase; worker phases are summed over workers), ``workers``,
        ``chunks``, ``from_cache``.
    """

    matrix: sparse.csr_matrix
    n_options: int
    n_points: int
    key: str
    stats: dict[str, Any] = field(default_factory=dict)

    def seen(self, *, min_level: int = 1) -> sparse.csr_matrix:
        """Boolean (options x points) matrix of the pairs seen at ``min_level`` or better."""
        m = self.matrix >= min_level
        return sparse.csr_matrix(m)

    def save(self, path: str | Path) -> None:
        """Write to an ``.npz`` file (no pickle); written atomically."""
        path = Path(path)
        m = self.matrix
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format_version=np.int64(FORMAT_VERSION),
            data=np.asarray(m.data, np.int8),
            indices=np.asarray(m.indices, np.int32),
            indptr=np.asarray(m.indptr, np.int64),
            shape=np.asarray([self.n_options, self.n_points], np.int64),
            key=np.str_(self.key),
            stats=np.str_(json.dumps(self.stats, sort_keys=True)),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(buf.getvalue())
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputFileError(f"{path}: cannot write coverage: {exc.strerror or exc}") from None

    @staticmethod
    def load(path: str | Path) -> Coverage:
        """Read a file written by :meth:`save`.

        Raises
        ------
        InputFileError : unreadable, not a coverage file, or another format version.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                version = int(z["format_version"])
                if version != FORMAT_VERSION:
                    raise InputFileError(
                        f"{path}: coverage format {version}, expected {FORMAT_VERSION}"
                    )
                n_options, n_points = (int(x) for x in z["shape"])
                matrix = sparse.csr_matrix(
                    (z["data"], z["indices"], z["indptr"]), shape=(n_options, n_points)
                )
                key = str(z["key"])
                stats = json.loads(str(z["stats"]))
        except InputFileError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise InputFileError(f"{path}: not a readable coverage file: {exc}") from None
        return Coverage(matrix, n_options, n_points, key, stats)


# --------------------------------------------------------------------------- Embree


def _embree_scene(vertices: Float32Array, faces: npt.NDArray[np.int32]) -> Any:
    """An Embree scene of one triangle mesh (local float32 coordinates), or None if empty."""
    if faces.shape[0] == 0:
        return None
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=vertices, indices=faces)
    return scene


def _occluded_free(
    scene: Any, starts: Float32Array, dirs: Float32Array, lengths: Float32Array
) -> BoolArray:
    """True where the segment start + t dir, 0 <= t <= length, hits nothing."""
    n = lengths.shape[0]
    clear = np.ones(n, dtype=bool)
    if scene is None or n == 0:
        return clear
    live = lengths > 0
    if not live.all():
        starts, dirs, lengths = starts[live], dirs[live], lengths[live]
    # OCCLUDED answers 0 (the geometry id hit) when blocked and -1 when clear; copy the
    # lengths because other query kinds overwrite them in place.
    res = scene.run(starts, dirs, dists=lengths.copy(), query="OCCLUDED")
    clear[live] = np.asarray(res) < 0
    return clear


def _local_center(mesh: Mesh, *others: FloatArray) -> FloatArray:
    """A shift that brings everything near 0, so float32 keeps millimetres in Embree."""
    parts = [a.reshape(-1, 3) for a in (mesh.vertices, *others) if a.size]
    if not parts:
        return np.zeros(3)
    # Column by column: a reduction over axis 0 of an (N, 3) array is several times slower.
    lo = np.array([min(float(p[:, k].min()) for p in parts) for k in range(3)])
    hi = np.array([max(float(p[:, k].max()) for p in parts) for k in range(3)])
    return np.asarray(np.floor((lo + hi) / 2.0), dtype=np.float64)


def segments_clear(
    occluders: Mesh,
    starts: npt.ArrayLike,
    ends: npt.ArrayLike,
    *,
    start_margin_m: float = 0.0,
    end_margin_m: float = 0.0,
) -> BoolArray:
    """Whether each segment from ``starts`` to ``ends`` misses every occluder triangle.

    Parameters
    ----------
    occluders : the triangles that block.
    starts, ends : (N, 3) metres.
    start_margin_m, end_margin_m : metres cut off the start / the end of each segment
        before testing (a segment shorter than both together counts as clear).

    Returns
    -------
    (N,) bool, True = clear line of sight.
    """
    s = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
    e = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
    if s.shape != e.shape:
        raise OptionError(f"segments_clear: starts {s.shape} and ends {e.shape} differ")
    if s.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    center = _local_center(occluders, s, e)
    scene = _embree_scene(
        (occluders.vertices - center).astype(np.float32), occluders.faces.astype(np.int32)
    )
    v = e - s
    length = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / length[:, None]
    u[length == 0] = (0.0, 0.0, 1.0)
    origin = s - center + u * start_margin_m
    lengths = (length - start_margin_m - end_margin_m).astype(np.float32)
    return _occluded_free(scene, origin.astype(np.float32), u.astype(np.float32), lengths)


# --------------------------------------------------------------------------- workers

#: Azimuth bins of the per-site heading table (5.6 degrees each): a point is tested only
#: against the options whose horizontal sector reaches its bin.
_AZ_BINS = 64
#: The field-of-view table: relative azimuth x sin(elevation) cells (powers of two; the sector
#: bins are groups of these azimuth bins). Cells wholly inside or outside a view decide a
#: pair at once; only pairs in cells on a view's edge run the exact test.
_LUT_AZ = 512
_LUT_EL = 256
_LUT_MAX_TILTS = 16
#: Slack (radians) on each option's sector: covers float32 azimuth rounding.
_AZ_SLACK_RAD = 1e-4
#: Site-point candidates handled together inside a chunk: small enough that the numpy
#: temporaries stay in cache, big enough that per-call overhead stays small.
_BLOCK_PAIRS = 16_384
#: Grid cells per reach radius: finer cells follow the reach circle more closely (fewer
#: candidates past the rim) at the cost of more cell-row ranges per site.
_CELLS_PER_REACH = 6


@dataclass
class _Task:
    """Everything a worker needs, sent once (local coordinates, metres).

    The demand points are stored in grid order (row-major over square cells of
    ``cell_m``), so that the points of a run of cells in one row are one slice.
    """

    vertices: Float32Array  # (V, 3)
    faces: npt.NDArray[np.int32]  # (F, 3)
    points: FloatArray  # (3, N) demand targets (x, y, z rows), grid order
    point_ids: IntpArray  # (N,) demand index of each grid-ordered point
    cell_keys: npt.NDArray[np.int64]  # (N,) ascending row * n_cols + col
    grid_xy: tuple[float, float]  # corner of cell (0, 0)
    cell_m: float
    n_cols: int
    n_rows: int
    n_points: int
    sites: FloatArray  # (U, 3) distinct lens positions, in order of first option
    site_opt_order: IntpArray  # options grouped by site
    site_opt_start: IntpArray  # (U + 1,) bounds into site_opt_order
    frames32: Float32Array  # (9, M) right, up, forward of each option, one row a component
    heading_rad: FloatArray  # (M,)
    tilt_rad: FloatArray  # (M,)
    sector_rad: FloatArray  # (M,) half-width of the azimuths an option can see (pi = all)
    view_lut: npt.NDArray[np.int8] | None  # (T * _LUT_AZ * _LUT_EL,) 0 out, 1 in, 2 test
    opt_lut: IntpArray  # (M,) offset of each option's tilt table in view_lut
    opt_hbin: IntpArray  # (M,) heading azimuth bin times _LUT_EL
    camera: Camera
    reach_m: float  # min(range, distance where density falls to the threshold)
    start_margin_m: float
    end_margin_m: float
    ranges: tuple[IntpArray, IntpArray, IntpArray] | None = None  # _site_ranges of all sites


_STATE: tuple[_Task, Any] | None = None  # (task, Embree scene) of this process

# (chunk id, the options with visible pairs, how many each, point columns, DORI levels,
# counts and seconds) of a chunk; an option's entries are consecutive, points ascending.
_ChunkResult = tuple[
    int, IntpArray, IntpArray, npt.NDArray[np.int32], npt.NDArray[np.int8], dict[str, float]
]


def _init_worker(task: _Task) -> None:
    """Pool initializer (and the in-process path): build the Embree scene once."""
    global _STATE  # noqa: PLW0603 - per-process state is how a pool initializer hands over
    _STATE = (task, _embree_scene(task.vertices, task.faces))


def _site_ranges(task: _Task, lo: int, hi: int) -> tuple[IntpArray, IntpArray, IntpArray]:
    """Slices of the grid-ordered points that may lie within reach of the sites ``lo:hi``.

    One slice per (site, cell row): the cells of the row that the reach circle around the
    site touches. Every point within reach is in a slice; a few past the rim are too.

    Returns
    -------
    site (R,), start (R,), stop (R,) intp: ranges sorted by site, then row; empty ones
    dropped.
    """
    c = task.cell_m
    x0, y0 = task.grid_xy
    r = task.reach_m * (1.0 + 1e-9) + 1e-6  # the exact test follows: err on the wide side
    s = task.sites[lo:hi]
    n_span = math.floor(2.0 * r / c) + 2
    row0 = np.floor((s[:, 1] - r - y0) / c).astype(np.intp)
    rows = row0[:, None] + np.arange(n_span, dtype=np.intp)[None, :]
    # Nearest y of each row to the site, hence the half-width of the circle on that row.
    gap = np.maximum(0.0, np.maximum(y0 + rows * c - s[:, 1:2], s[:, 1:2] - (y0 + (rows + 1) * c)))
    ok = (rows >= 0) & (rows < task.n_rows) & (gap <= r)
    half = np.sqrt(np.maximum(r * r - gap * gap, 0.0))
    col0 = np.maximum(np.floor((s[:, 0:1] - half - x0) / c), 0.0).astype(np.int64)
    col1 = np.minimum(np.floor((s[:, 0:1] + half - x0) / c), task.n_cols - 1.0).astype(np.int64)
    ok &= col0 <= col1
    site = np.broadcast_to(np.arange(lo, hi, dtype=np.intp)[:, None], rows.shape)[ok]
    key_row = rows[ok].astype(np.int64) * task.n_cols
    start = np.searchsorted(task.cell_keys, key_row + col0[ok], side="left")
    stop = np.searchsorted(task.cell_keys, key_row + col1[ok], side="right")
    keep = stop > start
    return site[keep], start[keep].astype(np.intp), stop[keep].astype(np.intp)


def _expand(start: IntpArray, count: IntpArray) -> IntpArray:
    """Concatenated ``arange(start[k], start[k] + count[k])`` over k."""
    total = int(count.sum())
    offset = np.repeat(start - (np.cumsum(count) - count), count)
    out: IntpArray = np.arange(total, dtype=np.intp) + offset
    return out


def _sector_table(task: _Task, lo: int, hi: int) -> tuple[IntpArray, IntpArray]:
    """Which options of the sites ``lo:hi`` can see each azimuth bin.

    Returns
    -------
    ptr ((hi - lo) * _AZ_BINS + 1,) and opt: the options of site ``lo + i`` whose sector
    reaches bin ``b`` are ``opt[ptr[i * _AZ_BINS + b] : ptr[i * _AZ_BINS + b + 1]]``.
    """
    opts = task.site_opt_order[task.site_opt_start[lo] : task.site_opt_start[hi]]
    site = np.repeat(np.arange(hi - lo, dtype=np.intp), np.diff(task.site_opt_start[lo : hi + 1]))
    width = 2.0 * math.pi / _AZ_BINS
    h, w = task.heading_rad[opts], task.sector_rad[opts] + _AZ_SLACK_RAD
    b0 = np.floor((h - w) / width).astype(np.intp)
    n = np.minimum(np.floor((h + w) / width).astype(np.intp) - b0 + 1, _AZ_BINS)
    n[w >= math.pi] = _AZ_BINS
    which = np.repeat(np.arange(opts.size, dtype=np.intp), n)
    bins = np.mod(_expand(b0, n), _AZ_BINS)
    key = site[which] * _AZ_BINS + bins
    # Keys come nearly sorted (site by site), which a stable sort (timsort) is quickest on.
    order = np.argsort(key, kind="stable")
    ptr = np.zeros((hi - lo) * _AZ_BINS + 1, np.intp)
    np.cumsum(np.bincount(key, minlength=(hi - lo) * _AZ_BINS), out=ptr[1:])
    return ptr, opts[which[order]]


def _in_view(
    task: _Task,
    opt: IntpArray,
    v: tuple[FloatArray, FloatArray, FloatArray],
    v32: tuple[Float32Array, Float32Array, Float32Array],
) -> BoolArray:
    """Whether each offset ``v`` (x, y, z components, metres from the lens) is inside
    option ``opt``'s view; the pinhole test runs on the float32 copy ``v32`` (it compares
    angles, not distances), the panoramic one in float64."""
    cam = task.camera
    vx, vy, vz = v
    if cam.panoramic:
        az = np.arctan2(vx, vy)
        below = np.arctan2(-vz, np.hypot(vx, vy))
        inside: BoolArray = np.abs(below - task.tilt_rad[opt]) <= math.radians(cam.vfov_deg) / 2
        if cam.hfov_deg < 360.0:
            dh = np.remainder(az - task.heading_rad[opt] + np.pi, 2 * np.pi)
            inside &= np.abs(dh - np.pi) <= math.radians(cam.hfov_deg) / 2
        return inside
    f = task.frames32
    x32, y32, z32 = v32
    # The products summed in this order reproduce the matrix product used before; the
    # right vector is horizontal, its z term is +-0 and changes no comparison.
    x = f[0].take(opt) * x32 + f[1].take(opt) * y32
    y = f[3].take(opt) * x32 + f[4].take(opt) * y32 + f[5].take(opt) * z32
    z = f[6].take(opt) * x32 + f[7].take(opt) * y32 + f[8].take(opt) * z32
    tan_h = np.float32(math.tan(math.radians(cam.hfov_deg) / 2.0))
    tan_v = np.float32(math.tan(math.radians(cam.vfov_deg) / 2.0))
    inside = z > 0
    inside &= np.abs(x) <= z * tan_h
    inside &= np.abs(y) <= z * tan_v
    return inside


@dataclass
class _Block:
    """The outcome of the cheap filters on one block of sites (before occlusion).

    Pairs are the (site, point) pairs in reach. Slot j holds each pair's j-th candidate
    option: ``(pairs, opt, inside)`` with pairs None when every pair has one. A segment
    is tested for every pair in ``seg``.
    """

    starts: Float32Array  # (S, 3) local metres, start margin applied
    dirs: Float32Array  # (S, 3) unit
    lengths: Float32Array  # (S,) metres, both margins applied
    seg: IntpArray  # (S,) the pair of each segment
    level: npt.NDArray[np.int8]  # (P,) DORI level of each pair (0 where not in view)
    pid: IntpArray  # (P,) demand index of each pair
    slots: list[tuple[IntpArray | None, IntpArray, BoolArray]]
    pairs_in_reach: int


def _filter_block(
    task: _Task,
    ranges: tuple[IntpArray, IntpArray, IntpArray],
    sectors: tuple[int, IntpArray, IntpArray],
) -> _Block:
    """Reach, density and field of view for the point ranges of a block of sites.

    ``ranges`` are from :func:`_site_ranges`, ``sectors`` is (first site, ptr, opt) from
    :func:`_sector_table` for the chunk holding the block.
    """
    cam = task.camera
    site, start, stop = ranges
    count = stop - start
    q = _expand(start, count)
    px, py, pz = task.points
    sx, sy, sz = task.sites.T
    vx = px.take(q) - np.repeat(sx[site], count)
    vy = py.take(q) - np.repeat(sy[site], count)
    vz = pz.take(q) - np.repeat(sz[site], count)
    # The same summation order (x, z, y) as the row-wise einsum used before: same bits.
    d = np.sqrt((vx * vx + vz * vz) + vy * vy)
    with np.errstate(divide="ignore"):
        reach = (d > 0) & (d <= cam.range_m) & (cam.px_m / d >= cam.covered_px_per_m)
    keep = np.flatnonzero(reach)
    q, d = q.take(keep), d.take(keep)
    vx, vy, vz = vx.take(keep), vy.take(keep), vz.take(keep)
    s = np.repeat(site, count).take(keep)
    n_reach = int(np.diff(task.site_opt_start)[s].sum())
    # Each pair is tested only against the options whose sector reaches its azimuth bin
    # (about 3 of 8 headings), one slot at a time so nothing is (options x points).
    lo, ptr, table = sectors
    x32, y32, z32 = vx.astype(np.float32), vy.astype(np.float32), vz.astype(np.float32)
    az = np.arctan2(x32, y32)
    ab = np.floor(az * np.float32(_LUT_AZ / (2.0 * math.pi))).astype(np.intp)
    ab &= _LUT_AZ - 1  # wraps negative bins
    key = (s - lo) * _AZ_BINS + ab // (_LUT_AZ // _AZ_BINS)
    first = ptr[key]
    n_cand = ptr[key + 1] - first
    lut = task.view_lut
    if lut is not None:
        eb = np.floor((vz / d + 1.0) * (_LUT_EL / 2.0))
        cell = ab * _LUT_EL + np.clip(eb, 0, _LUT_EL - 1).astype(np.intp)
        one_tilt = not task.opt_lut.any()
    # Per slot: the pairs that have one (None = all), their option, and whether it sees.
    slots: list[tuple[IntpArray | None, IntpArray, BoolArray]] = []
    edges: list[tuple[int, IntpArray, IntpArray]] = []  # (slot, where, pair) to test
    for j in range(int(n_cand.max()) if n_cand.size else 0):
        live = np.flatnonzero(n_cand > j)
        everyone = live.size == q.size
        o = table[(first if everyone else first.take(live)) + j]
        if lut is not None:
            # Cell of (azimuth - heading, elevation); wraps round the circle.
            c = (cell if everyone else cell.take(live)) - task.opt_hbin.take(o)
            c &= _LUT_AZ * _LUT_EL - 1
            if not one_tilt:
                c += task.opt_lut.take(o)
            state = lut.take(c)
            inside = state == 1
            edge = np.flatnonzero(state == 2)
            if edge.size:
                edges.append((j, edge, edge if everyone else live.take(edge)))
        elif everyone:
            inside = _in_view(task, o, (vx, vy, vz), (x32, y32, z32))
        elif task.camera.panoramic:
            v = (vx.take(live), vy.take(live), vz.take(live))
            inside = _in_view(task, o, v, (x32, y32, z32))
        else:
            v32 = (x32.take(live), y32.take(live), z32.take(live))
            inside = _in_view(task, o, (vx, vy, vz), v32)
        slots.append((None if everyone else live, o, inside))
    if edges:
        # The pairs on a view's edge, all slots at once: one exact test.
        pe = np.concatenate([e[2] for e in edges])
        oe = np.concatenate([slots[j][1].take(w) for j, w, _ in edges])
        res = _in_view(task, oe, (vx, vy, vz), (x32.take(pe), y32.take(pe), z32.take(pe)))
        at = 0
        for j, w, _ in edges:
            slots[j][2][w] = res[at : at + w.size]
            at += w.size
    seen = np.zeros(q.size, dtype=bool)
    for live_j, _, inside in slots:
        if live_j is None:
            seen |= inside
        else:
            seen[live_j[inside]] = True
    seg = np.flatnonzero(seen)
    ds = d.take(seg)
    px_m = cam.px_m / ds
    lvl = np.zeros(seg.size, np.int8)
    for t in cam.dori_px_per_m:  # the comparisons of Camera.level
        lvl += px_m >= t
    lvl[px_m < cam.covered_px_per_m] = 0
    level = np.zeros(q.size, np.int8)
    level[seg] = lvl
    ss = s.take(seg)
    n_seg = seg.size
    starts = np.empty((n_seg, 3), np.float32)
    dirs = np.empty((n_seg, 3), np.float32)
    for k, (vk, sk) in enumerate(((vx, sx), (vy, sy), (vz, sz))):
        u = vk.take(seg) / ds
        dirs[:, k] = u
        starts[:, k] = sk[ss] + u * task.start_margin_m
    return _Block(
        starts=starts,
        dirs=dirs,
        lengths=(ds - task.start_margin_m - task.end_margin_m).astype(np.float32),
        seg=seg,
        level=level,
        pid=task.point_ids.take(q),
        slots=slots,
        pairs_in_reach=n_reach,
    )


def _blocks(task: _Task, lo: int, hi: int) -> list[tuple[IntpArray, IntpArray, IntpArray]]:
    """The point ranges of the sites ``lo:hi`` cut into blocks of about _BLOCK_PAIRS."""
    if task.ranges is None:
        site, start, stop = _site_ranges(task, lo, hi)
    else:
        a, b = np.searchsorted(task.ranges[0], [lo, hi])
        site, start, stop = (r[a:b] for r in task.ranges)
    if not site.size:
        return []
    # Cut between sites only, where the running count crosses a multiple of the block.
    per_site = np.bincount(site - lo, weights=stop - start, minlength=hi - lo)
    ends = np.cumsum(per_site)
    cuts = np.unique(
        np.searchsorted(
            ends, np.arange(1, int(ends[-1] // _BLOCK_PAIRS) + 1) * _BLOCK_PAIRS, side="left"
        )
        + 1
    )
    bounds = np.searchsorted(site, np.concatenate([[lo], lo + cuts[cuts < hi - lo], [hi]]))
    return [
        (site[a:b], start[a:b], stop[a:b])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        if b > a
    ]


def _run_chunk(args: tuple[int, int, int]) -> _ChunkResult:
    """Decide every pair of the sites ``lo:hi``; returns the visible (option, point, level)
    sorted by option, then point."""
    chunk_id, lo, hi = args
    if _STATE is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("visibility worker used before its initializer")
    task, scene = _STATE
    stats = dict.fromkeys(
        ("pairs_in_reach", "pairs_in_view", "segments_tested", "filter", "occlusion"), 0.0
    )
    keys: list[npt.NDArray[np.int64]] = []
    shift = 3 + max(1, task.n_points.bit_length())  # point and level bits of a key
    t0 = time.perf_counter()
    sectors = (lo, *_sector_table(task, lo, hi))
    stats["filter"] += time.perf_counter() - t0
    for ranges in _blocks(task, lo, hi):
        t0 = time.perf_counter()
        blk = _filter_block(task, ranges, sectors)
        t1 = time.perf_counter()
        clear = np.zeros(blk.level.size, dtype=bool)
        clear[blk.seg] = _occluded_free(scene, blk.starts, blk.dirs, blk.lengths)
        t2 = time.perf_counter()
        # One int64 per visible pair, (option, point, level) bit fields: a sort orders the
        # block by option, then point (an option's pairs all lie in one block).
        low = (blk.pid << 3) | blk.level
        parts = []
        for live, o, inside in blk.slots:
            stats["pairs_in_view"] += np.count_nonzero(inside)
            keep = np.flatnonzero(inside & (clear if live is None else clear.take(live)))
            pair = keep if live is None else live.take(keep)
            parts.append((o.take(keep) << shift) | low.take(pair))
        k = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        k.sort()
        keys.append(k)
        stats["pairs_in_reach"] += blk.pairs_in_reach
        stats["segments_tested"] += blk.seg.size
        stats["filter"] += t1 - t0 + time.perf_counter() - t2
        stats["occlusion"] += t2 - t1
    t0 = time.perf_counter()
    k = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    row = k >> shift
    first = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]])) if k.size else row
    out = (
        chunk_id,
        row[first].astype(np.intp),
        np.diff(np.append(first, k.size)).astype(np.intp),
        ((k >> 3) & ((1 << (shift - 3)) - 1)).astype(np.int32),
        (k & 7).astype(np.int8),
        stats,
    )
    stats["filter"] += time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- driver


def _camera_frames(heading_deg: FloatArray, tilt_deg: FloatArray) -> FloatArray:
    """(M, 9): right, up and forward unit vectors of each option (no roll)."""
    h = np.radians(heading_deg)
    t = np.radians(tilt_deg)
    sh, ch, st, ct = np.sin(h), np.cos(h), np.sin(t), np.cos(t)
    zero = np.zeros_like(h)
    right = np.stack([ch, -sh, zero], axis=1)
    up = np.stack([sh * st, ch * st, ct], axis=1)
    forward = np.stack([sh * ct, ch * ct, -st], axis=1)
    return np.concatenate([right, up, forward], axis=1)


def coverage_key(
    occluders: Mesh,
    options: Options,
    demand: Demand,
    camera: Camera,
    *,
    start_margin_m: float = START_MARGIN_M,
    end_margin_m: float = END_MARGIN_M,
) -> str:
    """Hex sha256 over every input that changes the coverage matrix.

    The occluder vertices and faces, the options' lens positions, headings and tilts,
    the demand points, the camera's fields (all but its name), the margins and
    :data:`FORMAT_VERSION`. Costs, weights and ids do not change which pair is seen and
    are left out so that re-weighting reuses the cache.
    """
    h = hashlib.sha256()
    h.update(f"placement.coverage format {FORMAT_VERSION}\n".encode())

    def add(name: str, a: npt.ArrayLike, dtype: type) -> None:
        arr: npt.NDArray[Any] = np.ascontiguousarray(a, dtype=dtype)
        h.update(f"{name} {arr.dtype.str} {arr.shape}\n".encode())
        h.update(arr.tobytes())

    add("vertices", occluders.vertices, np.float64)
    add("faces", occluders.faces, np.int64)
    add("origin", options.origin, np.float64)
    add("heading", options.heading_deg, np.float64)
    add("tilt", options.tilt_deg, np.float64)
    add("demand", demand.xyz, np.float64)
    cam = camera.to_dict()
    cam.pop("name")
    h.update(json.dumps(cam, sort_keys=True).encode())
    h.update(f"margins {start_margin_m!r} {end_margin_m!r}\n".encode())
    return h.hexdigest()


def _sectors(camera: Camera, heading_rad: FloatArray, tilt_rad: FloatArray) -> FloatArray:
    """(M,) half-width (radians) of the azimuths around each heading an option can see.

    A pinhole view is the cone spanned by its four corner rays; when every corner points
    forward (horizontally), the plan view of the cone is bounded by the two corners of
    the edge nearest the vertical, whose forward component is ``cos t - |sin t| tan(v/2)``.
    """
    if camera.panoramic:
        pano = math.pi if camera.hfov_deg >= 360.0 else math.radians(camera.hfov_deg) / 2.0
        return np.full(heading_rad.shape, pano)
    tan_h = math.tan(math.radians(camera.hfov_deg) / 2.0)
    tan_v = math.tan(math.radians(camera.vfov_deg) / 2.0)
    ahead = np.cos(tilt_rad) - np.abs(np.sin(tilt_rad)) * tan_v
    # A view that takes in the zenith or the nadir sees every azimuth.
    out: FloatArray = np.where(ahead > 1e-9, np.arctan2(tan_h, ahead), math.pi)
    return out


def _view_tables(
    camera: Camera, heading_rad: FloatArray, tilt_rad: FloatArray
) -> tuple[npt.NDArray[np.int8] | None, IntpArray, IntpArray]:
    """Classify (relative azimuth, elevation) cells as inside, outside or on the edge of
    the view of each distinct tilt; see :data:`_LUT_AZ`.

    Cell (k, n) holds the directions whose azimuth bin minus the option's heading bin is
    k (so azimuth - heading lies within (k - 1, k + 1) bins) and whose sine of elevation
    is in bin n. Each condition of the pinhole test (z > 0, |x| <= z tan(h/2), |y| <= z tan(v/2), on
    unit vectors) is a combination ``g = a cos(p) cos(e) + b sin(p) cos(e) + c sin(e)``
    with |a| + |b| + |c| <= C; over a cell it stays within its bilinear interpolation from
    the corners (error <= C (dp^2 + de^2) / 8 for a cell dp x de radians), and float32
    rounding of the angles and of the exact test adds under C 3e-5. Four times their sum
    as a margin on the corner values makes "inside" and "outside" certain; the rest run
    the exact test.

    Returns
    -------
    table (T * _LUT_AZ * _LUT_EL,) int8 or None (panoramic, or too many tilts), each
    option's table offset (M,) and its heading bin times _LUT_EL (M,).
    """
    m = heading_rad.shape[0]
    da = 2.0 * math.pi / _LUT_AZ
    hbin = (np.floor(heading_rad / da).astype(np.intp) % _LUT_AZ) * _LUT_EL
    tilts, which = np.unique(tilt_rad, return_inverse=True)
    if camera.panoramic or tilts.size > _LUT_MAX_TILTS:
        return None, np.zeros(m, np.intp), hbin
    tan_h = math.tan(math.radians(camera.hfov_deg) / 2.0)
    tan_v = math.tan(math.radians(camera.vfov_deg) / 2.0)
    phi = np.arange(-1, _LUT_AZ + 2) * da
    # Elevation rows are uniform in sin(elevation) = dz / d, which the filters already have.
    el = np.arcsin(np.clip(-1.0 + np.arange(_LUT_EL + 1) * (2.0 / _LUT_EL), -1.0, 1.0))
    fwd = np.cos(phi)[:, None] * np.cos(el)[None, :]
    right = np.sin(phi)[:, None] * np.cos(el)[None, :]
    up = np.broadcast_to(np.sin(el)[None, :], fwd.shape)
    # Interpolation error per row (cells are 2 azimuth bins wide), float32 slack, then 4x.
    rows = ((2.0 * da) ** 2 + np.diff(el) ** 2) / 8.0 + 3e-5
    tables = []
    for t in tilts.tolist():
        ct, st = math.cos(t), math.sin(t)
        margin = 4.0 * rows[None, :] * ((1.0 + max(tan_h, tan_v)) * (abs(ct) + abs(st)) + 1.0)
        z = ct * fwd - st * up
        y = st * fwd + ct * up
        inside = np.ones((_LUT_AZ, _LUT_EL), bool)
        outside = np.zeros((_LUT_AZ, _LUT_EL), bool)
        for g in (z, tan_h * z - right, tan_h * z + right, tan_v * z - y, tan_v * z + y):
            # Corners of cell (k, n): azimuth grid k - 1 and k + 1, elevation n and n + 1.
            lo = np.minimum(g[:-3], g[2:-1])
            hi = np.maximum(g[:-3], g[2:-1])
            inside &= np.minimum(lo[:, :-1], lo[:, 1:]) > margin
            outside |= np.maximum(hi[:, :-1], hi[:, 1:]) < -margin
        tables.append(np.where(inside, 1, np.where(outside, 0, 2)).astype(np.int8).ravel())
    offset = which.reshape(-1).astype(np.intp) * (_LUT_AZ * _LUT_EL)
    return np.concatenate(tables), offset, hbin


def _make_task(mesh: Mesh, options: Options, demand: Demand, camera: Camera) -> _Task:
    """Shift everything to local coordinates, group the options by lens position and put
    the demand points in grid order."""
    center = _local_center(mesh, np.asarray(options.origin), np.asarray(demand.xyz))
    origin = np.asarray(options.origin, dtype=np.float64) - center
    # Number the sites in the order of their first option: chunks of consecutive sites
    # then hold consecutive option rows (for options listed site by site), so the chunks'
    # sorted outputs concatenate into sorted CSR order.
    run = np.ones(origin.shape[0], dtype=bool)
    run[1:] = (origin[1:] != origin[:-1]).any(axis=1)
    sites = origin[run]
    if np.unique(sites, axis=0).shape[0] == sites.shape[0]:
        opt_site = np.cumsum(run) - 1  # options listed site by site: runs are the sites
    else:
        uniq, first, inv = np.unique(origin, axis=0, return_index=True, return_inverse=True)
        by_first = np.argsort(first, kind="stable")
        rank = np.empty_like(by_first)
        rank[by_first] = np.arange(by_first.size)
        sites = uniq[by_first]
        opt_site = rank[inv.reshape(-1)]
    site_opt_order = np.argsort(opt_site, kind="stable").astype(np.intp)
    site_opt_start = np.searchsorted(opt_site[site_opt_order], np.arange(sites.shape[0] + 1))

    reach = min(camera.range_m, camera.px_m / camera.covered_px_per_m)
    points = np.asarray(demand.xyz, dtype=np.float64).reshape(-1, 3) - center
    cell = reach / _CELLS_PER_REACH if reach > 0 else 1.0
    if points.shape[0]:
        xy0 = np.array([points[:, 0].min(), points[:, 1].min()])
        cr = np.floor((points[:, :2] - xy0) / cell).astype(np.int64)
        n_cols, n_rows = int(cr[:, 0].max()) + 1, int(cr[:, 1].max()) + 1
    else:
        xy0, cr, n_cols, n_rows = np.zeros(2), np.zeros((0, 2), np.int64), 1, 1
    keys = cr[:, 1] * n_cols + cr[:, 0]
    grid_order = np.argsort(keys).astype(np.intp)  # any order within a cell will do

    heading = np.radians(np.asarray(options.heading_deg, np.float64))
    tilt = np.radians(np.asarray(options.tilt_deg, np.float64))
    frames = _camera_frames(
        np.asarray(options.heading_deg, np.float64), np.asarray(options.tilt_deg, np.float64)
    )
    lut, lut_offset, hbin = _view_tables(camera, heading, tilt)
    return _Task(
        vertices=(mesh.vertices - center).astype(np.float32),
        faces=np.ascontiguousarray(mesh.faces, dtype=np.int32),
        points=np.ascontiguousarray(points[grid_order].T),
        point_ids=grid_order,
        cell_keys=keys[grid_order],
        grid_xy=(float(xy0[0]), float(xy0[1])),
        cell_m=cell,
        n_cols=n_cols,
        n_rows=n_rows,
        n_points=int(points.shape[0]),
        sites=sites,
        site_opt_order=site_opt_order,
        site_opt_start=site_opt_start.astype(np.intp),
        frames32=np.ascontiguousarray(frames.T, dtype=np.float32),
        heading_rad=heading,
        tilt_rad=tilt,
        sector_rad=_sectors(camera, heading, tilt),
        view_lut=lut,
        opt_lut=lut_offset,
        opt_hbin=hbin,
        camera=camera,
        reach_m=reach,
        start_margin_m=START_MARGIN_M,
        end_margin_m=END_MARGIN_M,
    )


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


def _run_pool(
    task: _Task,
    jobs: list[tuple[int, int, int]],
    n_pool: int,
    collect: Callable[[_ChunkResult], None],
) -> None:
    """Run ``jobs`` on ``n_pool`` worker processes and on this one.

    The pool is fed a few chunks at a time from the front of the list while this process
    takes chunks from the back, so the workers' start-up (about 0.1 s) overlaps useful
    work here and nobody waits at the end for long.
    """
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    # Never fork: the parent may hold threads (OR-Tools, VTK, BLAS) whose locks a forked
    # child inherits mid-use, which hangs or kills workers. A forkserver starts workers
    # from a clean single-threaded process; a dead worker raises instead of hanging.
    ctx: Any
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # Import this module (numpy, scipy) and Embree once in the server, not in every
        # worker: about 0.4 s per worker. Only takes effect if the server is not running.
        ctx.set_forkserver_preload(
            ["__main__", __name__, "embreex.rtcore_scene", "embreex.mesh_construction"]
        )
    else:
        ctx = mp.get_context("spawn")
    queue = deque(jobs)
    pending: set[Future[_ChunkResult]] = set()
    with ProcessPoolExecutor(
        n_pool, mp_context=ctx, initializer=_init_worker, initargs=(task,)
    ) as pool:
        while queue or pending:
            while queue and len(pending) < 2 * n_pool:
                pending.add(pool.submit(_run_chunk, queue.popleft()))
            if _STATE is None:
                _init_worker(task)  # after the first submit, which starts the workers
            if queue:
                collect(_run_chunk(queue.pop()))
                finished = {f for f in pending if f.done()}
            else:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                pending.discard(fut)
                collect(fut.result())


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
) -> Coverage:
    """Which option sees which demand point, at which DORI level, occlusion included.

    Parameters
    ----------
    occluders : the blocking triangles, or a City (its ``occluders`` mesh is used).
    options : camera options; the lens is at ``origin`` looking ``heading_deg`` (clockwise
        from +y) tilted ``tilt_deg`` below the horizon. The camera's own ``height_m`` and
        ``tilt_deg`` are not used here: the options carry them.
    demand : target points (``xyz``).
    camera : fields of view, range, pixels, DORI thresholds.
    workers : processes to use, this one included; 1 runs in this process only.
    chunk_pairs : the most candidate (option, point) pairs a chunk holds in memory.
    cache_dir : where to keep ``coverage-<key>.npz``; None = no cache.
    progress : called as ``progress(options_done, n_options)`` after each chunk.
    min_parallel_pairs : below this many candidate pairs the work runs in this process
        whatever ``workers`` says.

    Returns
    -------
    Coverage with an (n_options, n_points) int8 CSR matrix of DORI levels.
    """
    t_start = time.perf_counter()
    mesh = occluders.occluders if isinstance(occluders, City) else occluders
    if workers < 1:
        raise OptionError(f"workers must be at least 1, got {workers}")
    if chunk_pairs < 1:
        raise OptionError(f"chunk_pairs must be at least 1, got {chunk_pairs}")
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
        n_workers = 1  # starting processes costs more than it saves on small jobs
    t_plan = time.perf_counter()

    results: dict[int, tuple[IntpArray, IntpArray, npt.NDArray[np.int32], npt.NDArray[np.int8]]]
    results = {}
    worker_stats: dict[str, float] = {
        "pairs_in_reach": 0.0,
        "pairs_in_view": 0.0,
        "segments_tested": 0.0,
        "filter": 0.0,
        "occlusion": 0.0,
    }
    done = 0
    jobs = [(i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
    t_scene = 0.0

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

    global _STATE  # noqa: PLW0603 - the in-process path uses the same per-process state
    try:
        if n_workers == 1:
            t0 = time.perf_counter()
            _init_worker(task)
            t_scene = time.perf_counter() - t0
            for job in jobs:
                collect(_run_chunk(job))
        elif jobs:
            _run_pool(task, jobs, n_workers - 1, collect)
    finally:
        _STATE = None
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
            "filter": worker_stats["filter"],
            "occlusion": worker_stats["occlusion"],
            "pool": t_rays - t_plan,
            "assemble": t_end - t_rays,
            "total": t_end - t_start,
        },
    }
    coverage = Coverage(matrix, n_options, n_points, key, stats)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        coverage.save(cache_file)
    log.info(
        "coverage: %d options x %d points, %d segments, %d visible pairs in %.2f s",
        n_options,
        n_points,
        stats["segments_tested"],
        matrix.nnz,
        t_end - t_start,
    )
    return coverage
