"""The work order sent once to every worker: local coordinates, sites and the point grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from placement.camera import Camera
from placement.model import Demand, Mesh, Options
from placement.visibility._frames import _octant_table, _sectors
from placement.visibility._kernel import N_PARAMS
from placement.visibility._occlusion import END_MARGIN_M, START_MARGIN_M
from placement.visibility._prep import (
    frames_in_site_order,
    grid_layout,
    local_center,
    site_slices,
)

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
    cell_start: npt.NDArray[np.int64]  # (n_cols * n_rows + 1,) or empty (then search)
    grid_xy: tuple[float, float]  # corner of cell (0, 0)
    cell_m: float
    n_cols: int
    n_rows: int
    n_points: int
    sites: FloatArray  # (U, 3) distinct lens positions, in order of first option
    site_opt_order: IntpArray  # options grouped by site
    site_opt_start: IntpArray  # (U + 1,) bounds into site_opt_order
    # Per option in site order (option site_opt_order[i] at column / index i):
    frames32: Float32Array  # (9, M) right, up, forward, one row a component
    heading_rad: FloatArray  # (M,)
    tilt_rad: FloatArray  # (M,)
    oct_ptr: IntpArray  # (U * 8 + 1,) _frames._octant_table
    oct_opt: IntpArray
    camera: Camera
    params: FloatArray  # (_kernel.N_PARAMS,) the kernel's camera and margin parameters
    dori: FloatArray  # (4,) DORI thresholds, px/m
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
    r = task.reach_m * (1.0 + 1e-9) + 1e-6  # the exact test follows: err on the wide side
    n_span = math.floor(2.0 * r / task.cell_m) + 2
    n_max = (hi - lo) * n_span
    site = np.empty(n_max, np.intp)
    start = np.empty(n_max, np.intp)
    stop = np.empty(n_max, np.intp)
    n = site_slices(
        task.sites[lo:hi],
        lo,
        task.cell_keys,
        task.cell_start,
        task.grid_xy[0],
        task.grid_xy[1],
        task.cell_m,
        task.n_cols,
        task.n_rows,
        r,
        n_span,
        site,
        start,
        stop,
    )
    return site[:n], start[:n], stop[:n]


def _kernel_params(camera: Camera, start_margin_m: float, end_margin_m: float) -> FloatArray:
    """The kernel's float parameters (see ``_kernel.P_*``)."""
    tan_h = np.float32(math.tan(math.radians(camera.hfov_deg) / 2.0))
    tan_v = np.float32(math.tan(math.radians(camera.vfov_deg) / 2.0))
    p = np.array(
        [
            camera.range_m,
            camera.px_m,
            camera.covered_px_per_m,
            float(tan_h),
            float(tan_v),
            start_margin_m,
            end_margin_m,
            1.0 if camera.panoramic else 0.0,
            math.radians(camera.vfov_deg) / 2,
            math.radians(camera.hfov_deg) / 2,
            1.0 if camera.hfov_deg >= 360.0 else 0.0,
        ],
        dtype=np.float64,
    )
    assert p.shape == (N_PARAMS,)
    return p


def _expand(start: IntpArray, count: IntpArray) -> IntpArray:
    """Concatenated ``arange(start[k], start[k] + count[k])`` over k."""
    total = int(count.sum())
    offset = np.repeat(start - (np.cumsum(count) - count), count)
    out: IntpArray = np.arange(total, dtype=np.intp) + offset
    return out


def _make_task(mesh: Mesh, options: Options, demand: Demand, camera: Camera) -> _Task:
    """Shift everything to local coordinates, group the options by lens position and put
    the demand points in grid order."""
    xyz = np.ascontiguousarray(demand.xyz, dtype=np.float64).reshape(-1, 3)
    center = local_center(mesh.vertices, np.asarray(options.origin), xyz)
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
    cell = reach / _CELLS_PER_REACH if reach > 0 else 1.0
    if xyz.shape[0]:
        points, grid_order, keys, cell_start, xy0, n_cols, n_rows = grid_layout(
            xyz, center, cell, max(1 << 20, 8 * xyz.shape[0])
        )
        if n_cols < 0:  # a sparse spread of points: sort rather than count
            local = xyz - center
            xy0 = local[:, :2].min(axis=0)
            cr = np.floor((local[:, :2] - xy0) / cell).astype(np.int64)
            n_cols, n_rows = int(cr[:, 0].max()) + 1, int(cr[:, 1].max()) + 1
            k = cr[:, 1] * n_cols + cr[:, 0]
            grid_order = np.argsort(k, kind="stable")
            keys, points = k[grid_order], np.ascontiguousarray(local[grid_order].T)
    else:
        points, grid_order, cell_start = (
            np.zeros((3, 0)),
            np.zeros(0, np.intp),
            np.zeros(0, np.int64),
        )
        keys, xy0, n_cols, n_rows = np.zeros(0, np.int64), np.zeros(2), 1, 1

    heading_deg = np.asarray(options.heading_deg, np.float64)
    tilt_deg = np.asarray(options.tilt_deg, np.float64)
    heading = np.radians(heading_deg[site_opt_order])
    tilt = np.radians(tilt_deg[site_opt_order])
    oct_ptr, oct_opt = _octant_table(
        site_opt_start.astype(np.intp), heading, _sectors(camera, heading, tilt)
    )
    return _Task(
        vertices=(mesh.vertices - center).astype(np.float32),
        faces=np.ascontiguousarray(mesh.faces, dtype=np.int32),
        points=points,
        point_ids=grid_order.astype(np.intp),
        cell_keys=keys,
        cell_start=cell_start,
        grid_xy=(float(xy0[0]), float(xy0[1])),
        cell_m=cell,
        n_cols=n_cols,
        n_rows=n_rows,
        n_points=int(xyz.shape[0]),
        sites=sites,
        site_opt_order=site_opt_order,
        site_opt_start=site_opt_start.astype(np.intp),
        frames32=frames_in_site_order(heading_deg, tilt_deg, site_opt_order),
        heading_rad=heading,
        tilt_rad=tilt,
        oct_ptr=oct_ptr,
        oct_opt=oct_opt,
        camera=camera,
        params=_kernel_params(camera, START_MARGIN_M, END_MARGIN_M),
        dori=np.asarray(camera.dori_px_per_m, dtype=np.float64),
        reach_m=reach,
        start_margin_m=START_MARGIN_M,
        end_margin_m=END_MARGIN_M,
    )
