"""Ground heights for roads and poles stored flat (z = 0): from the DEM (terrain TIN), else
from the bases of nearby buildings, else from the roads stored with their heights."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.geometry import bisect_triangles
from placement.model import FeatureTable, Mesh, SurfaceKind

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Building bases used for inverse-distance ground estimation.
GROUND_K_NEAREST = 8

BUILDING_CLASSES = ("Building", "BuildingPart")

#: A point farther than this in plan from every DEM vertex is off the DEM, metres: its
#: nearest DEM height would be a guess (a DEM part of another area gives any height).
DEM_REACH_M = 50.0
#: Flat roads lifted onto the DEM are split until their triangles lie this close to it
#: (the terrain TIN is an occluder: a road lifted at its corners only is a chord that cuts
#: under every crest between them), metres.
DEM_FOLLOW_TOL_M = 0.2
#: ... but no edge this short or shorter is split: at a sharp kink in the DEM (a cutting's
#: edge) the road stays within a quarter of the change of slope times this, metres.
DEM_FOLLOW_MIN_EDGE_M = 2.0
#: ... nor a sliver, whose height across its longest edge in plan is this or less: split
#: across that edge it leaves slivers again, and its neighbours split with it (a 780 m
#: diagonal road whose sides were digitised every 4 m went from 398 to 103,474 triangles;
#: now 4,348), metres.
DEM_FOLLOW_MIN_HEIGHT_M = 0.1


def linear_between(points: FloatArray) -> Callable[[FloatArray], FloatArray]:
    """Heights at (N, 2) plan points, linear between ``points`` (K, 3) over their
    Delaunay triangulation; NaN outside it (or everywhere, when they lie on one line).

    (scipy's LinearNDInterpolator does the same, but where its walk to a point's triangle
    fails it tries every triangle: from 0.01 s to 11 s, run to run, for the same 1,015
    points on the 864-point Yokosuka DEM.)"""
    from scipy.spatial import Delaunay, QhullError

    from placement.heights import height_sampler

    tris = np.zeros((0, 3), np.int32)
    with contextlib.suppress(QhullError, ValueError):  # all on one line: no triangle
        tris = Delaunay(points[:, :2]).simplices.astype(np.int32)
    n = tris.shape[0]
    mesh = Mesh(points, tris, np.zeros(n, np.int32), np.zeros(n, np.int8))
    return height_sampler(mesh, fallback="nan")


class Dem:
    """The terrain TIN as given: the surface that occludes views. Not a Delaunay of its
    vertices, which a thinned TIN is not: on Yokosuka's 523965 that departs from it by
    0.4 m at the median and 21 m at worst."""

    def __init__(self, terrain: Mesh) -> None:
        from placement.heights import height_sampler

        self._on_tin = height_sampler(terrain, fallback="nan")
        # TIN vertices are repeated, once per triangle: deduplicate in plan, to the mm
        # (one integer key each: np.unique over rows sorts 10 times slower). The top and
        # foot of a vertical wall become one point, at the top, as the ray finds it.
        mm = np.round(terrain.vertices[:, :2] * 1000.0).astype(np.int64)
        mm -= mm.min(axis=0)
        _, first, inverse = np.unique(
            (mm[:, 0] << 32) + mm[:, 1], return_index=True, return_inverse=True
        )
        inverse = inverse.ravel()
        top = np.full(first.size, -np.inf)
        np.maximum.at(top, inverse, terrain.vertices[:, 2])
        #: (K, 3) the TIN's vertices, once each.
        self.points = np.column_stack([terrain.vertices[first, :2], top])
        ids = inverse[terrain.faces]
        a = np.concatenate([ids[:, 0], ids[:, 1], ids[:, 2]])
        b = np.concatenate([ids[:, 1], ids[:, 2], ids[:, 0]])
        key = np.unique(np.minimum(a, b) * len(first) + np.maximum(a, b))
        #: (E, 2) ids into ``points`` of each TIN edge, once.
        self.edges = np.column_stack([key // len(first), key % len(first)])
        self.edges = self.edges[self.edges[:, 0] != self.edges[:, 1]]

    @staticmethod
    def of(occ: Mesh) -> Dem | None:
        """The DEM among the occluders (their TERRAIN triangles), None without any."""
        terrain = occ.kind == SurfaceKind.TERRAIN
        return Dem(occ.select(terrain)) if terrain.any() else None

    # Built on first use: most points lie on the TIN, the rest mostly beyond its hull.
    @cached_property
    def _hull(self) -> Any:
        import shapely

        return shapely.convex_hull(shapely.multipoints(self.points[:, :2]))

    @cached_property
    def _linear(self) -> Callable[[FloatArray], FloatArray]:
        return linear_between(self.points)

    @cached_property
    def _nearest(self) -> Any:
        from scipy.spatial import cKDTree

        return cKDTree(self.points[:, :2])

    @cached_property
    def edge_tree(self) -> Any:
        """A shapely STRtree over the TIN's edges (as ``edges``)."""
        import shapely

        return shapely.STRtree(shapely.linestrings(self.points[self.edges][:, :, :2]))

    def heights(self, xy: FloatArray, off: npt.NDArray[np.bool_] | None = None) -> FloatArray:
        """(N,) ground heights at ``xy`` (N, 2): the highest TIN triangle over a point;
        in a gap of the TIN, linear between the vertices around it; outside its hull, the
        nearest vertex's. ``off``, when given, is set True where a point is farther than
        :data:`DEM_REACH_M` from every DEM vertex."""
        import shapely

        z = self._on_tin(xy)
        gap = np.flatnonzero(~np.isfinite(z))
        if gap.size:
            hole = gap[shapely.contains_xy(self._hull, xy[gap, 0], xy[gap, 1])]
            if hole.size:  # (a Delaunay of a dense TIN's vertices takes a second)
                z[hole] = self._linear(xy[hole])
            miss = gap[~np.isfinite(z[gap])]
            if miss.size:
                dist, near = self._nearest.query(xy[miss])
                z[miss] = self.points[near, 2]
                if off is not None:
                    off[miss[dist > DEM_REACH_M]] = True
        return z


def _departure(
    dem: Dem, tri: FloatArray, face: IntArray, edge: IntArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """How far the DEM lies from triangles' planes, at most, over them.

    Both are linear between the TIN's edges, so the largest gap is at a TIN vertex inside
    a triangle or where a TIN edge crosses one of its edges: those points are tested, at
    the height of that edge (where TINs overlap, the lower one's edges count too: the
    road is split finer there than it need be, never less).

    Parameters
    ----------
    dem : the terrain.
    tri : (F, 3, 3) the triangles, metres.
    face, edge : (P,) pairs of a triangle (row of ``tri``) and a TIN edge (row of
        ``dem.edges``) that may meet.

    Returns
    -------
    gap : (F,) metres (0 where no TIN edge meets a triangle).
    meet : (P,) bool, the pair's edge does meet its triangle (inside or across an edge).
    """
    p = dem.points[dem.edges[edge, 0]]
    q = dem.points[dem.edges[edge, 1]]
    d = q - p
    t0, t1, t2 = (tri[face, k] for k in range(3))
    e1, e2 = t1 - t0, t2 - t0
    area2 = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = area2 != 0  # a triangle with no area in plan has no plane to test
    worst = np.zeros(face.size)
    meet = np.zeros(face.size, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for end in (p, q):  # a TIN vertex inside the triangle
            r = end - t0
            w1 = (r[:, 0] * e2[:, 1] - r[:, 1] * e2[:, 0]) / area2
            w2 = (e1[:, 0] * r[:, 1] - e1[:, 1] * r[:, 0]) / area2
            hit = ok & (w1 >= 0) & (w2 >= 0) & (w1 + w2 <= 1)
            off = np.abs(r[:, 2] - w1 * e1[:, 2] - w2 * e2[:, 2])
            worst = np.where(hit, np.maximum(worst, off), worst)
            meet |= hit
        for a, b in ((t0, e1), (t1, t2 - t1), (t2, -e2)):  # a TIN edge across an edge
            den = b[:, 0] * d[:, 1] - b[:, 1] * d[:, 0]
            along_b = ((p[:, 0] - a[:, 0]) * d[:, 1] - (p[:, 1] - a[:, 1]) * d[:, 0]) / den
            along_d = ((p[:, 0] - a[:, 0]) * b[:, 1] - (p[:, 1] - a[:, 1]) * b[:, 0]) / den
            hit = ok & (along_b >= 0) & (along_b <= 1) & (along_d >= 0) & (along_d <= 1)
            off = np.abs(p[:, 2] + along_d * d[:, 2] - a[:, 2] - along_b * b[:, 2])
            worst = np.where(hit, np.maximum(worst, off), worst)
            meet |= hit
    gap = np.zeros(tri.shape[0])
    np.maximum.at(gap, face, worst)
    return gap, meet


def follow_dem(
    road: Mesh,
    refine: npt.NDArray[np.bool_],
    dem: Dem,
    ground: Callable[[FloatArray], FloatArray],
) -> Mesh:
    """Split road triangles lifted onto the DEM at their corners until they follow it.

    Parameters
    ----------
    road : the road surfaces, the flat ones already lifted at their vertices.
    refine : (F,) bool, the triangles lifted onto the DEM (of roads stored flat).
    dem : the terrain.
    ground : the ground height at (K, 2) plan points, as the vertices were lifted (the
        DEM, or buildings off it).

    Returns
    -------
    The road mesh with each triangle in ``refine`` split (conformingly, across its longest
    edge) while the DEM lies more than :data:`DEM_FOLLOW_TOL_M` from it somewhere, its
    longest edge in plan is over :data:`DEM_FOLLOW_MIN_EDGE_M` and it is not a sliver
    (:data:`DEM_FOLLOW_MIN_HEIGHT_M`); features and kinds follow
    the pieces. A road inside one TIN triangle is not split at all.
    """
    import shapely

    v, f = road.vertices, road.faces.astype(np.int64)
    parent = np.arange(f.shape[0])
    # Pairs (road triangle, TIN edge) that intersect; a triangle's pieces inherit its
    # pairs, and each round drops those that do not meet (no tree query per round).
    idx = np.flatnonzero(refine)
    face, edge = dem.edge_tree.query(shapely.polygons(v[f[idx]][:, :, :2]), predicate="intersects")
    face = idx[face]
    active = np.asarray(refine, bool)
    for _ in range(40):  # the longest edges halve every round or two: 40 is never reached
        on = active[face]
        tri = v[f]
        gap, meet = _departure(dem, tri, face[on], edge[on])
        keep = ~on
        keep[on] = meet
        face, edge = face[keep], edge[keep]
        longest = np.max(np.hypot(*(np.roll(tri, -1, axis=1) - tri)[:, :, :2].T), axis=0)
        e1, e2 = tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2]
        height = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) / np.maximum(longest, 1e-9)
        split = (
            active
            & (gap > DEM_FOLLOW_TOL_M)
            & (longest > DEM_FOLLOW_MIN_EDGE_M)
            & (height > DEM_FOLLOW_MIN_HEIGHT_M)
        )
        if not split.any():
            break
        n_v = v.shape[0]
        # A split reaches only triangles sharing vertices with one split, i.e. of the
        # same polygon (each polygon has its own vertices): the new ones are all flat.
        v, f, p = bisect_triangles(v, f, split)
        v[n_v:, 2] = ground(v[n_v:, :2])
        count = np.bincount(p, minlength=parent.size)
        first = np.searchsorted(p, np.arange(parent.size))
        # The pieces of a triangle are consecutive: spread its pairs over them.
        n = count[face]
        edge = np.repeat(edge, n)
        face = np.repeat(first[face] - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        active = count[p] > 1
        parent = parent[p]
    if f.shape[0] == road.n_triangles:
        return road
    return Mesh(v, f.astype(np.int32), road.feature[parent], road.kind[parent])


def ground_from_known(known: FloatArray, xy: FloatArray) -> FloatArray | None:
    """Heights at ``xy`` from points of known height: linear between them, the nearest's
    outside their hull; None with fewer than 3 of them."""
    if known.shape[0] < 3:
        return None
    from scipy.spatial import cKDTree

    v = np.unique(np.round(known, 3), axis=0)
    z = linear_between(v)(xy)
    miss = ~np.isfinite(z)
    if miss.any():
        z[miss] = v[cKDTree(v[:, :2]).query(xy[miss])[1], 2]
    return z


def buildings_ground(
    occ: Mesh, features: FeatureTable
) -> Callable[[FloatArray], FloatArray] | None:
    """Ground heights at (N, 2) plan points from the bases of the nearest LOD1+ buildings,
    as a function of ``xy`` (the bases found once); None without any building."""
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

    tree = cKDTree(centres)
    k = min(GROUND_K_NEAREST, bases.shape[0])

    def sample(xy: FloatArray) -> FloatArray:
        dist, idx = tree.query(xy, k=k)
        if k == 1:
            dist, idx = dist[:, None], idx[:, None]
        w = 1.0 / np.maximum(dist, 1.0) ** 2
        return np.asarray((w * bases[idx]).sum(axis=1) / w.sum(axis=1), np.float64)

    return sample
