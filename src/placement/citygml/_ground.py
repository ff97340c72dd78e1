"""Ground heights for roads and poles stored flat (z = 0): from the DEM (terrain TIN), else
from the bases of nearby buildings, else from the roads stored with their heights."""

from __future__ import annotations

import contextlib

import numpy as np
import numpy.typing as npt

from placement.model import FeatureTable, Mesh, SurfaceKind

FloatArray = npt.NDArray[np.float64]

#: Building bases used for inverse-distance ground estimation.
GROUND_K_NEAREST = 8

BUILDING_CLASSES = ("Building", "BuildingPart")

#: A point farther than this in plan from every DEM vertex is off the DEM, metres: its
#: nearest DEM height would be a guess (a DEM part of another area gives any height).
DEM_REACH_M = 50.0


def ground_from_dem(
    occ: Mesh, xy: FloatArray, off: npt.NDArray[np.bool_] | None = None
) -> FloatArray | None:
    """Ground heights at ``xy`` from the TIN: linear inside its hull, the nearest vertex's
    outside. ``off``, when given, is set True where a point is farther than
    :data:`DEM_REACH_M` from every DEM vertex."""
    terrain = occ.kind == SurfaceKind.TERRAIN
    if not terrain.any():
        return None
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import cKDTree

    v = occ.vertices[np.unique(occ.faces[terrain])]
    # TIN vertices are shared between triangles: deduplicate for the Delaunay.
    v = np.unique(np.round(v, 3), axis=0)
    lin = LinearNDInterpolator(v[:, :2], v[:, 2])
    z = np.asarray(lin(xy), np.float64)
    miss = ~np.isfinite(z)
    if miss.any():
        dist, near = cKDTree(v[:, :2]).query(xy[miss])
        z[miss] = v[near, 2]
        if off is not None:
            off[np.flatnonzero(miss)[dist > DEM_REACH_M]] = True
    return z


def ground_from_known(known: FloatArray, xy: FloatArray) -> FloatArray | None:
    """Heights at ``xy`` from points of known height: linear between them, the nearest's
    outside their hull; None with fewer than 3 of them."""
    if known.shape[0] < 3:
        return None
    from scipy.interpolate import LinearNDInterpolator
    from scipy.spatial import QhullError, cKDTree

    v = np.unique(np.round(known, 3), axis=0)
    z = np.full(xy.shape[0], np.nan)
    with contextlib.suppress(QhullError):  # all on one line: the nearest only
        z = np.asarray(LinearNDInterpolator(v[:, :2], v[:, 2])(xy), np.float64)
    miss = ~np.isfinite(z)
    if miss.any():
        z[miss] = v[cKDTree(v[:, :2]).query(xy[miss])[1], 2]
    return z


def ground_from_buildings(occ: Mesh, features: FeatureTable, xy: FloatArray) -> FloatArray | None:
    cls = np.array(features.cls, dtype=object)
    is_bldg = np.isin(cls, BUILDING_CLASSES) & (features.lod >= 1)
    if not occ.n_triangles or not is_bldg.any():
        return None
    fm = is_bldg[occ.feature]
    if not fm.any():
        return None
    n = len(features)
    vid = occ.faces[fm].ravel()
    vfeat = np.repeat(occ.feature[fm], 3)
    pts = occ.vertices[vid]
    base = np.full(n, np.inf)
    np.minimum.at(base, vfeat, pts[:, 2])
    sx, sy, cnt = np.zeros(n), np.zeros(n), np.zeros(n)
    np.add.at(sx, vfeat, pts[:, 0])
    np.add.at(sy, vfeat, pts[:, 1])
    np.add.at(cnt, vfeat, 1.0)
    ok = cnt > 0
    centres = np.column_stack([sx[ok] / cnt[ok], sy[ok] / cnt[ok]])
    bases = base[ok]
    from scipy.spatial import cKDTree

    k = min(GROUND_K_NEAREST, bases.shape[0])
    dist, idx = cKDTree(centres).query(xy, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    w = 1.0 / np.maximum(dist, 1.0) ** 2
    return np.asarray((w * bases[idx]).sum(axis=1) / w.sum(axis=1), np.float64)
