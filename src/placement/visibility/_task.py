"""The work order sent once to every worker: local coordinates, sites and the point grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from placement.camera import Camera
from placement.model import Demand, Mesh, Options
from placement.visibility._frames import _camera_frames, _sectors, _view_tables
from placement.visibility._occlusion import END_MARGIN_M, START_MARGIN_M, _local_center

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntpArray = npt.NDArray[np.intp]

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
