"""Occlusion-aware coverage: which camera option sees which demand point, and how well.

:func:`compute_coverage` returns a :class:`Coverage` whose sparse matrix holds, for every
(option, demand point) pair that is seen, the best DORI level (1..4) of the camera there.

How a pair is decided
---------------------
1. Reach: the slant distance ``d`` from the lens to the point is at most ``range_m`` and the
   pixel density ``Camera.px_per_m(d)`` reaches ``Camera.covered_px_per_m``. A KD-tree
   ball query around each distinct lens position finds these points; the exact test is
   repeated on the distances.
2. Field of view. A rectilinear camera (hfov < 180) is a pinhole: the vector to the point
   is rotated into the camera frame (right, up, forward; forward = heading clockwise from
   +y, tilted ``tilt_deg`` below the horizon, no roll) and the point must lie in front and
   inside the image rectangle: ``|x| <= z tan(hfov/2)`` and ``|y| <= z tan(vfov/2)``. Both
   angles are thus measured in the camera frame, so a tilted camera's view widens towards
   its bottom edge as a real one does. A panoramic / PTZ camera (hfov >= 180) is
   cylindrical: the azimuth of the point from the heading is within hfov/2 (any azimuth
   at 360) and its angle below the horizon is within ``tilt +- vfov/2``.
3. Occlusion: one Embree OCCLUDED query on the segment from the lens to the point. The
   segment starts ``START_MARGIN_M`` (0.3 m) out from the lens so that the pole the camera
   hangs on, or a wall it is fixed flush to, does not hide everything; it stops
   ``END_MARGIN_M`` (0.05 m) short of the point so that a surface the point lies on does
   not hide it. The segment depends only on the lens position and the point, so options
   that share a site (other headings and tilts) share one test.

Work is split into chunks of distinct lens positions holding at most ``chunk_pairs``
candidate (option, point) pairs each (a single site with more gets a chunk of its own),
so memory stays bounded however many pairs there are. Chunks run in a process pool
(Embree holds the GIL, so threads would not help); each worker builds the Embree scene
once in its initializer. The result is identical for any number of workers.

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
#: Below this many candidate pairs one process is faster than a pool (measured: ~3 M
#: pairs take about 0.25 s in-process; starting two workers costs about as much).
MIN_PARALLEL_PAIRS = 4_000_000
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
    lo = np.min([p.min(axis=0) for p in parts], axis=0)
    hi = np.max([p.max(axis=0) for p in parts], axis=0)
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


@dataclass
class _Task:
    """Everything a worker needs, sent once (local coordinates, metres)."""

    vertices: Float32Array  # (V, 3)
    faces: npt.NDArray[np.int32]  # (F, 3)
    points: FloatArray  # (N, 3) demand targets
    sites: FloatArray  # (U, 3) distinct lens positions
    site_opt_order: IntpArray  # options grouped by site
    site_opt_start: IntpArray  # (U + 1,) bounds into site_opt_order
    frames32: Float32Array  # (M, 9) right, up, forward of each option
    heading_rad: FloatArray  # (M,)
    tilt_rad: FloatArray  # (M,)
    camera: Camera
    reach_m: float  # min(range, distance where density falls to the threshold)
    start_margin_m: float
    end_margin_m: float


@dataclass
class _Worker:
    task: _Task
    scene: Any
    tree: Any


_STATE: _Worker | None = None

# (chunk id, option rows, point columns, DORI levels, counts and seconds) of a chunk.
_ChunkResult = tuple[int, IntpArray, IntpArray, npt.NDArray[np.int8], dict[str, float]]


def _init_worker(task: _Task) -> None:
    """Pool initializer (and the in-process path): build the scene and the KD-tree once."""
    from scipy.spatial import cKDTree

    global _STATE  # noqa: PLW0603 - per-process state is how a pool initializer hands over
    _STATE = _Worker(task, _embree_scene(task.vertices, task.faces), cKDTree(task.points))


@dataclass
class _Candidates:
    """The pairs of a chunk that pass the cheap filters, and their segments.

    ``opt``, ``pt``, ``lvl``, ``seg`` have one entry per (option, point) pair in view,
    option-major; ``seg`` indexes the segments (one per distinct site and point).
    """

    starts: Float32Array  # (S, 3) local metres, start margin applied
    dirs: Float32Array  # (S, 3) unit
    lengths: Float32Array  # (S,) metres, both margins applied
    opt: IntpArray
    pt: IntpArray
    lvl: npt.NDArray[np.int8]
    seg: IntpArray
    pairs_in_reach: int
    pairs_in_view: int


def _candidates(task: _Task, tree: Any, lo: int, hi: int) -> _Candidates:
    """Range, density and field-of-view filters for the sites ``lo:hi``."""
    cam = task.camera
    neighbours = tree.query_ball_point(task.sites[lo:hi], r=task.reach_m, return_sorted=True)
    tan_h = math.tan(math.radians(cam.hfov_deg) / 2.0) if not cam.panoramic else math.inf
    tan_v = math.tan(math.radians(cam.vfov_deg) / 2.0) if not cam.panoramic else math.inf
    half_h = math.radians(cam.hfov_deg) / 2.0
    half_v = math.radians(cam.vfov_deg) / 2.0
    full_circle = cam.hfov_deg >= 360.0

    opts_out: list[IntpArray] = []
    pts_out: list[IntpArray] = []
    seg_out: list[IntpArray] = []
    seg_start: list[FloatArray] = []
    seg_dir: list[FloatArray] = []
    seg_len: list[FloatArray] = []
    seg_dist: list[FloatArray] = []
    n_seg = 0
    n_reach = 0
    n_view = 0
    # One iteration per distinct lens position: every option there is handled at once
    # as an (options x points) block.
    for k, site in enumerate(range(lo, hi)):
        idx = np.asarray(neighbours[k], dtype=np.intp)
        if idx.size == 0:
            continue
        opts = task.site_opt_order[task.site_opt_start[site] : task.site_opt_start[site + 1]]
        origin = task.sites[site]
        v = task.points[idx] - origin
        d = np.sqrt(np.einsum("ij,ij->i", v, v))
        with np.errstate(divide="ignore"):
            reach = (d > 0) & (d <= cam.range_m) & (cam.px_m / d >= cam.covered_px_per_m)
        if not reach.all():
            idx, v, d = idx[reach], v[reach], d[reach]
        if idx.size == 0:
            continue
        n_reach += idx.size * opts.size
        if cam.panoramic:
            # Cylindrical model: azimuth from the heading, angle below the horizon.
            az = np.arctan2(v[:, 0], v[:, 1])
            below = np.arctan2(-v[:, 2], np.hypot(v[:, 0], v[:, 1]))
            inside = np.abs(below[None, :] - task.tilt_rad[opts][:, None]) <= half_v
            if not full_circle:
                dh = np.remainder(az[None, :] - task.heading_rad[opts][:, None] + np.pi, 2 * np.pi)
                inside &= np.abs(dh - np.pi) <= half_h
        else:
            # Pinhole model: rotate into every option's camera frame with one product;
            # rows are all options' x, then y, then z (float32: angles, not distances).
            h = opts.size
            frames = task.frames32[opts].reshape(h, 3, 3).transpose(1, 0, 2).reshape(3 * h, 3)
            c = frames @ v.astype(np.float32).T
            x, y, z = c[:h], c[h : 2 * h], c[2 * h :]
            inside = (z > 0) & (np.abs(x) <= z * tan_h) & (np.abs(y) <= z * tan_v)
        any_opt = inside.any(axis=0)
        if not any_opt.any():
            continue
        # One segment per (site, point) seen by at least one option here.
        tested = np.flatnonzero(any_opt)
        seg_of_point = np.cumsum(any_opt) - 1 + n_seg
        u = v[tested] / d[tested, None]
        seg_start.append(origin + u * task.start_margin_m)
        seg_dir.append(u)
        seg_len.append(d[tested] - task.start_margin_m - task.end_margin_m)
        seg_dist.append(d[tested])
        n_seg += tested.size
        # Option-major, points ascending: the rows come out sorted.
        hi_idx, pi_idx = np.nonzero(inside)
        n_view += hi_idx.size
        opts_out.append(opts[hi_idx])
        pts_out.append(idx[pi_idx])
        seg_out.append(seg_of_point[pi_idx])
    if not n_seg:
        z3 = np.zeros((0, 3), np.float32)
        none = np.zeros(0, np.intp)
        return _Candidates(
            z3, z3, np.zeros(0, np.float32), none, none, np.zeros(0, np.int8), none, n_reach, 0
        )
    # The level depends on the distance alone: once per segment, not per option.
    seg = np.concatenate(seg_out)
    return _Candidates(
        np.concatenate(seg_start).astype(np.float32),
        np.concatenate(seg_dir).astype(np.float32),
        np.concatenate(seg_len).astype(np.float32),
        np.concatenate(opts_out),
        np.concatenate(pts_out),
        cam.level(np.concatenate(seg_dist))[seg],
        seg,
        n_reach,
        n_view,
    )


def _run_chunk(args: tuple[int, int, int]) -> _ChunkResult:
    """Decide every pair of the sites ``lo:hi``; returns the visible (option, point, level)."""
    chunk_id, lo, hi = args
    if _STATE is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("visibility worker used before its initializer")
    t0 = time.perf_counter()
    c = _candidates(_STATE.task, _STATE.tree, lo, hi)
    t1 = time.perf_counter()
    clear = _occluded_free(_STATE.scene, c.starts, c.dirs, c.lengths)
    keep = clear[c.seg]
    t2 = time.perf_counter()
    stats = {
        "pairs_in_reach": float(c.pairs_in_reach),
        "pairs_in_view": float(c.pairs_in_view),
        "segments_tested": float(c.lengths.shape[0]),
        "filter": t1 - t0,
        "occlusion": t2 - t1,
    }
    return chunk_id, c.opt[keep], c.pt[keep], c.lvl[keep], stats


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


def _make_task(mesh: Mesh, options: Options, demand: Demand, camera: Camera) -> _Task:
    """Shift everything to local coordinates and group the options by lens position."""
    center = _local_center(mesh, np.asarray(options.origin), np.asarray(demand.xyz))
    origin = np.asarray(options.origin, dtype=np.float64) - center
    sites, opt_site = np.unique(origin, axis=0, return_inverse=True)
    opt_site = opt_site.reshape(-1)
    site_opt_order = np.argsort(opt_site, kind="stable").astype(np.intp)
    site_opt_start = np.searchsorted(opt_site[site_opt_order], np.arange(sites.shape[0] + 1))
    points = np.asarray(demand.xyz, dtype=np.float64) - center
    reach = min(camera.range_m, camera.px_m / camera.covered_px_per_m)
    return _Task(
        vertices=(mesh.vertices - center).astype(np.float32),
        faces=np.ascontiguousarray(mesh.faces, dtype=np.int32),
        points=points,
        sites=sites,
        site_opt_order=site_opt_order,
        site_opt_start=site_opt_start.astype(np.intp),
        frames32=_camera_frames(
            np.asarray(options.heading_deg, np.float64), np.asarray(options.tilt_deg, np.float64)
        ).astype(np.float32),
        heading_rad=np.radians(np.asarray(options.heading_deg, np.float64)),
        tilt_rad=np.radians(np.asarray(options.tilt_deg, np.float64)),
        camera=camera,
        # A hair more than the exact reach: the KD-tree rounds; the exact test follows.
        reach_m=reach * (1.0 + 1e-9) + 1e-9,
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
    workers : processes to use; 1 runs in this process.
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

    from scipy.spatial import cKDTree

    task = _make_task(mesh, options, demand, camera)
    sites, points = task.sites, task.points
    opts_per_site = np.diff(task.site_opt_start).astype(np.int64)
    if n_points and sites.shape[0]:
        tree = cKDTree(points)
        counts = np.asarray(tree.query_ball_point(sites, r=task.reach_m, return_length=True))
        pairs_per_site = counts.astype(np.int64) * opts_per_site
    else:
        pairs_per_site = np.zeros(sites.shape[0], np.int64)
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

    results: dict[int, tuple[IntpArray, IntpArray, npt.NDArray[np.int8]]] = {}
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

    def collect(
        out: tuple[int, IntpArray, IntpArray, npt.NDArray[np.int8], dict[str, float]],
    ) -> None:
        nonlocal done
        cid, o, p, lv, st = out
        results[cid] = (o, p, lv)
        for k, val in st.items():
            worker_stats[k] += val
        lo, hi = chunks[cid]
        done += int(opts_per_site[lo:hi].sum())
        if progress is not None:
            progress(done, n_options)

    global _STATE  # noqa: PLW0603 - the in-process path uses the same per-process state
    if n_workers == 1:
        t0 = time.perf_counter()
        _init_worker(task)
        t_scene = time.perf_counter() - t0
        try:
            for job in jobs:
                collect(_run_chunk(job))
        finally:
            _STATE = None
    elif jobs:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Never fork: the parent may hold threads (OR-Tools, VTK, BLAS) whose locks a forked
        # child inherits mid-use, which hangs or kills workers. A forkserver starts workers
        # from a clean single-threaded process; a dead worker raises instead of hanging.
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        with ProcessPoolExecutor(
            n_workers, mp_context=ctx, initializer=_init_worker, initargs=(task,)
        ) as pool:
            for fut in as_completed([pool.submit(_run_chunk, job) for job in jobs]):
                collect(fut.result())
    if progress is not None and done < n_options:
        progress(n_options, n_options)  # options with nothing in reach are done too
    t_rays = time.perf_counter()

    if results:
        order = sorted(results)
        rows = np.concatenate([results[i][0] for i in order])
        cols = np.concatenate([results[i][1] for i in order])
        vals = np.concatenate([results[i][2] for i in order])
    else:
        rows = cols = np.zeros(0, np.intp)
        vals = np.zeros(0, np.int8)
    # A row's entries all come from one site, already ascending: a stable sort by row
    # gives canonical CSR (the same for any chunking or worker count).
    by_row = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_options + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_options), out=indptr[1:])
    matrix = sparse.csr_matrix(
        (vals[by_row].astype(np.int8), cols[by_row].astype(np.int32), indptr),
        shape=(n_options, n_points),
    )
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
