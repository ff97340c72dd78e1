"""From raw rings to metric meshes: one transform and one triangulation pass per file,
then the merge of all files into a :class:`~placement.model.City` (with road heights
filled in from a DEM or from nearby building bases where the file's roads are flat)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt
import shapely

from placement.citygml._ground import (
    BUILDING_CLASSES,
    DEM_REACH_M,
    Dem,
    buildings_ground,
    follow_dem,
    ground_from_known,
)
from placement.citygml._parse import RawFile
from placement.citygml._tags import EXTRUDE, FOOTPRINT, OCCLUDER, POINTS, ROADSURF
from placement.crs import GEOGRAPHIC_EPSG, projected_to_metric, to_metric, zone_for_lonlat
from placement.geometry import newell_normals, triangle_normals, triangulate_polygons
from placement.model import (
    City,
    FeatureTable,
    Mesh,
    Poles,
    RoadArea,
    SurfaceKind,
)

log = logging.getLogger("placement.citygml")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Height given to a pole whose geometry is flat (points, or z all equal), metres.
DEFAULT_POLE_HEIGHT_M = 8.0
#: A pole's axis is the centroid of its vertices within this height of its lowest one, m.
POLE_BASE_M = 0.5
#: Base vertices farther apart than this belong to different legs of one feature, metres.
POLE_LEG_GAP_M = 1.0
#: A road feature whose every z is within this of 0 is "flat" (PLATEAU LOD1 roads), metres.
FLAT_Z_TOL_M = 1e-6
#: A polygon whose exterior encloses less than this times its perimeter squared is a
#: sliver with no area: its points lie on one line up to the rounding of the file's
#: coordinates (a rectangle L long and 4e-7 L wide; real polygons seen are above 1e-5).
SLIVER_RATIO = 1e-7


@dataclass
class FilePart:
    """One file in metres, feature rows local to the file."""

    raw: RawFile
    occ: Mesh
    roads: Mesh
    road_flat: npt.NDArray[np.bool_]  # (V_roads,) vertex needs a ground height
    #: (V_occ,) vertex of an outline extruded from z = 0: its feature needs a ground height.
    occ_lift: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    road_polys: list[shapely.Polygon] = field(default_factory=list)
    road_kind: list[int] = field(default_factory=list)
    road_feature: list[int] = field(default_factory=list)
    footprints: list[shapely.Polygon] = field(default_factory=list)
    footprint_feature: list[int] = field(default_factory=list)
    pole_xyz: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    pole_height: FloatArray = field(default_factory=lambda: np.zeros(0))
    pole_flat: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

    # A part comes back from a worker process pickled. shapely pickles one geometry at a
    # time; one vectorised WKB array per list is several times faster (and as exact).
    _SHAPES = ("road_polys", "footprints")

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        for k in self._SHAPES:
            state[k] = shapely.to_wkb(np.asarray(state[k], dtype=object))
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for k in self._SHAPES:
            state[k] = list(shapely.from_wkb(state[k]))
        self.__dict__.update(state)


def choose_crs(raw: RawFile) -> str | None:
    """The plane rectangular zone covering a file's coordinates (None without any)."""
    if not raw.ring_counts.size:
        return None
    if raw.srs_epsg not in GEOGRAPHIC_EPSG:
        return f"EPSG:{raw.srs_epsg}"
    first = raw.coords[: int(raw.ring_counts[:1000].sum())]
    lat, lon = np.median(first[:, 0]), np.median(first[:, 1])
    return zone_for_lonlat(float(lon), float(lat), city_code=raw.city_code or None)


def _compact(
    vertices: FloatArray, faces: IntArray, feature: IntArray, kind: npt.NDArray[np.int8]
) -> tuple[Mesh, IntArray]:
    """A mesh over only the vertices its faces use; also returns the kept vertex ids."""
    if faces.shape[0] == 0:
        return Mesh.empty(), np.zeros(0, np.int64)
    # np.unique(faces, return_inverse=True) without its sort: a mask over the vertices.
    is_used = np.zeros(vertices.shape[0], bool)
    is_used[faces] = True
    used = np.flatnonzero(is_used)
    new_id = np.cumsum(is_used, dtype=np.int64) - 1
    mesh = Mesh(
        vertices[used],
        new_id[faces].astype(np.int32),
        feature.astype(np.int32),
        kind.astype(np.int8),
    )
    return mesh, used


def _plan_polygon(rings: list[FloatArray]) -> shapely.Geometry | None:
    try:
        p = shapely.Polygon(rings[0][:, :2], [r[:, :2] for r in rings[1:]])
    except (ValueError, shapely.errors.GEOSException):
        return None
    if not p.is_valid:
        p = shapely.make_valid(p)
    return p if not p.is_empty and p.area > 0 else None


def _plan_polygons(
    verts: FloatArray, ring_start: IntArray, poly_ring_start: IntArray, polys: IntArray
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.bool_]]:
    """Plan (x, y) shapely polygons of some polygons, in the order given.

    Returns
    -------
    geoms : (len(polys),) object, a valid geometry with area, or None.
    repaired : (len(polys),) bool, the geometry may be more than one polygon
        (``make_valid`` output, or built with holes): pass it through :func:`_explode`.
    """
    out = np.full(polys.size, None, object)
    repaired = np.zeros(polys.size, bool)
    nr = poly_ring_start[polys + 1] - poly_ring_start[polys]
    one = np.flatnonzero(nr == 1)
    if one.size:
        # Hole-free polygons (nearly all) are built in one vectorised call.
        r = poly_ring_start[polys[one]]
        lens = ring_start[r + 1] - ring_start[r]
        vidx = np.repeat(ring_start[r] - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
        rings = shapely.linearrings(verts[vidx, :2], indices=np.repeat(np.arange(one.size), lens))
        geoms = shapely.polygons(rings)
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        geoms[~(shapely.area(geoms) > 0)] = None
        out[one] = geoms
        repaired[one] = bad
    for i in np.flatnonzero(nr != 1).tolist():
        p = int(polys[i])
        ring_ids = range(int(poly_ring_start[p]), int(poly_ring_start[p + 1]))
        out[i] = _plan_polygon([verts[ring_start[k] : ring_start[k + 1]] for k in ring_ids])
        repaired[i] = True
    return out, repaired


def _explode(geom: shapely.Geometry) -> list[shapely.Polygon]:
    parts = shapely.get_parts(geom)
    out: list[shapely.Polygon] = []
    for g in parts:
        if isinstance(g, shapely.Polygon):
            if g.area > 0:
                out.append(g)
        elif isinstance(g, shapely.MultiPolygon | shapely.GeometryCollection):
            out.extend(_explode(g))
    return out


def _slivers(
    verts: FloatArray, ring_start: IntArray, poly_ring_start: IntArray
) -> npt.NDArray[np.bool_]:
    """(P,) bool: the polygon's exterior ring encloses (next to) no area for its size
    (see :data:`SLIVER_RATIO`)."""
    ext = poly_ring_start[:-1]
    area2 = np.linalg.norm(newell_normals(verts, ring_start)[ext], axis=1)
    nxt = np.arange(1, verts.shape[0] + 1)
    nxt[ring_start[1:] - 1] = ring_start[:-1]  # rings are never empty
    perimeter = np.add.reduceat(np.linalg.norm(verts[nxt] - verts, axis=1), ring_start[:-1])
    return np.asarray(0.5 * area2 < SLIVER_RATIO * perimeter[ext] ** 2)


def _self_intersecting(
    verts: FloatArray, ring_start: IntArray, poly_ring_start: IntArray, polys: IntArray
) -> npt.NDArray[np.bool_]:
    """(len(polys),) bool: the polygon's exterior ring crosses itself around some area
    (a bowtie, whose lobes cancel out), rather than lying on a line. For the few
    polygons that gave no triangle only: one SVD and one shapely check each."""
    out = np.zeros(polys.size, bool)
    for i, p in enumerate(polys.tolist()):
        r = int(poly_ring_start[p])
        ring = verts[ring_start[r] : ring_start[r + 1]]
        if ring.shape[0] < 4 or not np.isfinite(ring).all():
            continue  # a triangle cannot cross itself
        centred = ring - ring.mean(axis=0)
        # The ring in its own best-fitting plane (it may be a wall).
        xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
        outline = shapely.Polygon(xy)
        if outline.is_valid:
            continue
        perimeter = float(np.linalg.norm(xy - np.roll(xy, 1, axis=0), axis=1).sum())
        out[i] = shapely.make_valid(outline).area > SLIVER_RATIO * perimeter**2
    return out


def _drop_degenerate(
    raw: RawFile,
    role: npt.NDArray[np.int8],
    pfeat: IntArray,
    pkind: npt.NDArray[np.int8],
    has_faces: npt.NDArray[np.bool_],
    *,
    verts: FloatArray,
    ring_start: IntArray,
    poly_ring_start: IntArray,
) -> None:
    """Warn (once per feature) about polygons that gave no triangle, i.e. enclose no
    area: fewer than 3 distinct points, all on one line, or a self-intersecting outline
    whose lobes cancel out. A feature left without any such polygon of its own geometry
    is skipped: counted in ``raw.skipped``, lod -1.

    Terrain is the exception: a TIN's edge often has such triangles, and leaving them
    out loses nothing, so they go without a word."""
    surface = role != POINTS
    bad = surface & ~has_faces
    if not bad.any():
        return
    n = len(raw.ids)
    warned = bad & (pkind != SurfaceKind.TERRAIN)
    crossing = np.zeros(role.size, bool)
    with np.errstate(all="ignore"):
        crossing[warned] = _self_intersecting(
            verts, ring_start, poly_ring_start, np.flatnonzero(warned)
        )
    n_cross = np.bincount(pfeat[crossing], minlength=n)
    n_bad = np.bincount(pfeat[warned & ~crossing], minlength=n)
    own = surface & (role != FOOTPRINT)  # a 2D footprint beside a solid is not its geometry
    n_own = np.bincount(pfeat[own], minlength=n)
    n_own_good = np.bincount(pfeat[own & has_faces], minlength=n)
    for row in np.flatnonzero(np.bincount(pfeat[bad], minlength=n)).tolist():
        fid = raw.ids[row]
        if n_cross[row]:
            raw.warn(
                f"{n_cross[row]} polygon(s) skipped: self-intersecting (the outline crosses "
                "itself)",
                feature=fid,
            )
        if n_bad[row]:
            raw.warn(
                f"{n_bad[row]} polygon(s) skipped: no area (fewer than 3 distinct points, "
                "or all on one line)",
                feature=fid,
            )
        if n_own[row] and not n_own_good[row] and raw.lod[row] >= 0:
            raw.lod[row] = -1
            raw.skipped += 1
            raw.warn("skipped: no usable geometry left", feature=fid)
    raw.poles = [(r, fn) for r, fn in raw.poles if raw.lod[r] >= 0]


def build_file(raw: RawFile, crs: str, *, default_height_m: float) -> FilePart:
    """Transform, triangulate and extrude one file's geometry into metres."""
    if not raw.ring_counts.size:
        return FilePart(raw, Mesh.empty(), Mesh.empty(), np.zeros(0, bool))
    counts = raw.ring_counts
    coords = raw.coords
    if raw.srs_epsg in GEOGRAPHIC_EPSG:
        x, y, z = to_metric(coords[:, 0], coords[:, 1], coords[:, 2], crs, source_epsg=raw.srs_epsg)
    else:
        x, y = projected_to_metric(coords[:, 0], coords[:, 1], raw.srs_epsg, crs)
        z = coords[:, 2].copy()
    verts = np.column_stack([x, y, z])
    ring_start = np.concatenate([[0], np.cumsum(counts)])
    nrings = np.asarray(raw.poly_nrings, np.int64)
    poly_ring_start = np.concatenate([[0], np.cumsum(nrings)])
    role = np.asarray(raw.poly_role, np.int8)
    pfeat = np.asarray(raw.poly_feature, np.int64)
    pkind = np.asarray(raw.poly_kind, np.int8)
    n_feat = len(raw.ids)
    poly_of_ring = np.repeat(np.arange(nrings.size), nrings)
    poly_of_vertex = np.repeat(poly_of_ring, counts)
    vfeat = pfeat[poly_of_vertex]
    vrole = role[poly_of_vertex]

    faces, fpoly = triangulate_polygons(verts, ring_start, poly_ring_start)
    sliver = _slivers(verts, ring_start, poly_ring_start)
    if sliver.any():
        keep = ~sliver[fpoly]
        faces, fpoly = faces[keep], fpoly[keep]
    frole = role[fpoly]
    has_faces = np.zeros(nrings.size, bool)
    has_faces[fpoly] = True
    _drop_degenerate(
        raw,
        role,
        pfeat,
        pkind,
        has_faces,
        verts=verts,
        ring_start=ring_start,
        poly_ring_start=poly_ring_start,
    )
    lod = np.asarray(raw.lod, np.int64)
    is_bldg = np.array([c in BUILDING_CLASSES for c in raw.cls], bool)

    def rings_of(p: int) -> list[FloatArray]:
        r0, r1 = poly_ring_start[p], poly_ring_start[p + 1]
        return [verts[ring_start[r] : ring_start[r + 1]] for r in range(r0, r1)]

    # Occluders: surfaces as they are, plus LOD0 outlines (and trees given as a point)
    # extruded to prisms: up from a footprint, down from a roof edge, up from z = 0 (then
    # lifted onto the ground in merge) when the outline has no heights.
    occ_mask = frole == OCCLUDER
    extra_v: list[FloatArray] = []
    extra_f: list[IntArray] = []
    extra_feat: list[IntArray] = []
    extra_kind: list[npt.NDArray[np.int8]] = []
    extra_lift: list[npt.NDArray[np.bool_]] = []
    n_v = verts.shape[0]
    is_ext = vrole == EXTRUDE
    ext_absz = np.zeros(n_feat)
    np.maximum.at(ext_absz, vfeat[is_ext], np.abs(verts[is_ext, 2]))
    for p in np.flatnonzero((role == EXTRUDE) & has_faces).tolist():
        row = int(pfeat[p])
        height = raw.extrude_height.get(row, np.nan)
        if not np.isfinite(height) or height <= 0:
            height = default_height_m
        ring_list = rings_of(p)
        lift = bool(ext_absz[row] <= FLAT_Z_TOL_M)
        if lift:
            base = 0.0
        elif row in raw.extrude_down:
            base = float(max(r[:, 2].max() for r in ring_list)) - height
        else:
            base = float(min(r[:, 2].min() for r in ring_list))
        roof = faces[fpoly == p]
        if roof.size:
            nz = triangle_normals(verts, roof)[:, 2]
            roof = np.where((nz < 0)[:, None], roof[:, ::-1], roof)
        bottom_parts, top_parts = [], []
        wall_faces: list[IntArray] = []
        off = 0
        for i, r in enumerate(ring_list):
            xy = r[:, :2]
            signed = 0.5 * np.sum(
                xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1]
            )
            k = r.shape[0]
            idx = np.arange(k)
            if (signed < 0) == (i == 0):  # exterior must run counter-clockwise, holes clockwise
                idx = idx[::-1]
            nxt = np.roll(idx, -1)
            bottom_parts.append(np.column_stack([xy, np.full(k, base)]))
            top_parts.append(np.column_stack([xy, np.full(k, base + height)]))
            wall_faces.append(np.concatenate([
                np.stack([off + idx, off + nxt, off + nxt + 10**9], 1),
                np.stack([off + idx, off + nxt + 10**9, off + idx + 10**9], 1),
            ]))  # fmt: skip
            off += k
        bottom = np.concatenate(bottom_parts)
        top = np.concatenate(top_parts)
        nk = bottom.shape[0]
        walls = np.concatenate(wall_faces)
        walls = np.where(walls >= 10**9, walls - 10**9 + nk, walls)
        # Roof / floor reuse the footprint triangulation (its vertex ids are this polygon's).
        first = ring_start[poly_ring_start[p]]
        local_roof = roof - first
        fs = [walls, local_roof + nk, local_roof[:, ::-1]]
        side = pkind[p]  # BUILDING_OTHER, or VEGETATION for a tree
        floor = SurfaceKind.GROUND if side == SurfaceKind.BUILDING_OTHER else side
        ks = [
            np.full(walls.shape[0], side, np.int8),
            np.full(local_roof.shape[0], side, np.int8),
            np.full(local_roof.shape[0], floor, np.int8),
        ]
        f = np.concatenate(fs) + n_v
        extra_v.append(np.concatenate([bottom, top]))
        extra_f.append(f)
        extra_feat.append(np.full(f.shape[0], row, np.int64))
        extra_kind.append(np.concatenate(ks))
        extra_lift.append(np.full(2 * nk, lift))
        n_v += 2 * nk
    all_v = np.concatenate([verts, *extra_v]) if extra_v else verts
    occ_faces = np.concatenate([faces[occ_mask], *extra_f]) if extra_f else faces[occ_mask]
    occ_feat = np.concatenate([pfeat[fpoly[occ_mask]], *extra_feat])
    occ_kind = np.concatenate([pkind[fpoly[occ_mask]], *extra_kind])
    occ, occ_used = _compact(all_v, occ_faces, occ_feat, occ_kind)
    occ_lift = np.concatenate([np.zeros(verts.shape[0], bool), *extra_lift])[occ_used]

    # Roads, and which road features are flat (need a ground height).
    road_mask = frole == ROADSURF
    roads, road_used = _compact(
        verts, faces[road_mask], pfeat[fpoly[road_mask]], pkind[fpoly[road_mask]]
    )
    absz = np.zeros(n_feat)
    np.maximum.at(absz, vfeat, np.abs(verts[:, 2]))
    flat_feature = absz <= FLAT_Z_TOL_M
    road_flat = flat_feature[vfeat[road_used]]

    part = FilePart(raw, occ, roads, road_flat, occ_lift=occ_lift)

    # Road plan polygons: one union per (feature, kind); hole-free polygons first.
    road_polys = np.flatnonzero(role == ROADSURF)
    road_polys = np.concatenate(
        [road_polys[nrings[road_polys] == 1], road_polys[nrings[road_polys] > 1]]
    )
    geoms, repaired = _plan_polygons(verts, ring_start, poly_ring_start, road_polys)
    groups: dict[tuple[int, int], list[shapely.Geometry]] = {}
    group_repaired: dict[tuple[int, int], bool] = {}
    for p, g, rep in zip(road_polys.tolist(), geoms.tolist(), repaired.tolist(), strict=True):
        if g is not None:
            key = (int(pfeat[p]), int(pkind[p]))
            groups.setdefault(key, []).append(g)
            group_repaired[key] = group_repaired.get(key, False) or rep
    for (row, kind), geoms_list in groups.items():
        if len(geoms_list) == 1 and not group_repaired[(row, kind)]:
            # Already one valid polygon with area: nothing to merge or split.
            parts = geoms_list
        else:
            merged = geoms_list[0] if len(geoms_list) == 1 else shapely.union_all(geoms_list)
            parts = _explode(merged)
        for poly in parts:
            part.road_polys.append(poly)
            part.road_kind.append(kind)
            part.road_feature.append(row)

    # Footprints: LOD0 polygons where given, else the downward faces of the solid.
    has_fp = np.zeros(n_feat, bool)
    fp_polys = np.flatnonzero(
        ((role == FOOTPRINT) | (role == EXTRUDE)) & is_bldg[pfeat] & (lod[pfeat] >= 0)
    )
    geoms, repaired = _plan_polygons(verts, ring_start, poly_ring_start, fp_polys)
    for p, g, rep in zip(fp_polys.tolist(), geoms.tolist(), repaired.tolist(), strict=True):
        if g is not None:
            row = int(pfeat[p])
            for poly in _explode(g) if rep else [g]:
                part.footprints.append(poly)
                part.footprint_feature.append(row)
            has_fp[row] = True
    need = is_bldg & ~has_fp & (lod >= 0)
    if need.any() and occ.n_triangles:
        fm = need[occ.feature]
        tri_v = occ.vertices[occ.faces[fm]]
        nz = triangle_normals(occ.vertices, occ.faces[fm])[:, 2]
        feat_of = occ.feature[fm]
        down = nz < -0.5
        for row in np.flatnonzero(need).tolist():
            sel = (feat_of == row) & down
            if not sel.any():
                sel = (feat_of == row) & (np.abs(nz) > 0.5)
            if not sel.any():
                continue
            tris = shapely.polygons(tri_v[sel][:, :, :2])
            merged = shapely.union_all(tris[shapely.area(tris) > 0])
            for poly in _explode(merged):
                part.footprints.append(poly)
                part.footprint_feature.append(row)

    # Poles: foot at the centroid of the feature's vertices near its lowest z (the base
    # ring: an arm or a sign higher up does not pull the axis off the shaft).
    if raw.poles:
        rows = np.array([r for r, _ in raw.poles], np.int64)
        use = (vrole == OCCLUDER) | (vrole == POINTS)
        vf = vfeat[use]
        vv = verts[use]
        zmin = np.full(n_feat, np.inf)
        zmax = np.full(n_feat, -np.inf)
        sx, sy, cnt = np.zeros(n_feat), np.zeros(n_feat), np.zeros(n_feat)
        np.minimum.at(zmin, vf, vv[:, 2])
        np.maximum.at(zmax, vf, vv[:, 2])
        base = vv[:, 2] <= zmin[vf] + POLE_BASE_M
        np.add.at(sx, vf[base], vv[base, 0])
        np.add.at(sy, vf[base], vv[base, 1])
        np.add.at(cnt, vf[base], 1.0)
        c = np.maximum(cnt[rows], 1.0)
        part.pole_xyz = np.column_stack([sx[rows] / c, sy[rows] / c, zmin[rows]])
        _one_leg(part.pole_xyz, rows, vf[base], vv[base])
        h = zmax[rows] - zmin[rows]
        flat_h = h < 0.5
        for row in rows[flat_h].tolist():
            raw.warn(
                f"pole geometry is flat: height set to {DEFAULT_POLE_HEIGHT_M} m",
                feature=raw.ids[row],
            )
        part.pole_height = np.where(flat_h, DEFAULT_POLE_HEIGHT_M, h)
        part.pole_flat = flat_feature[rows]
    return part


def _one_leg(foot: FloatArray, rows: IntArray, vf: IntArray, vv: FloatArray) -> None:
    """Move the foot of a pole-like feature that stands on several legs (a sign gantry, two
    posts in one feature) from between them onto its largest leg, in place.

    ``vf`` / ``vv`` are the feature rows and positions of the base vertices (near each
    feature's lowest z). Legs are groups of base vertices linked within ``POLE_LEG_GAP_M``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if not len(rows) or not len(vf):
        return
    where = np.full(int(max(rows.max(), vf.max())) + 1, -1, np.int64)
    where[rows] = np.arange(len(rows))
    idx = where[vf]
    on = idx >= 0
    spread = np.zeros(len(rows))
    d = np.hypot(vv[on, 0] - foot[idx[on], 0], vv[on, 1] - foot[idx[on], 1])
    np.maximum.at(spread, idx[on], d)
    for i in np.flatnonzero(spread > POLE_LEG_GAP_M).tolist():
        xy = vv[idx == i, :2]
        pairs = cKDTree(xy).query_pairs(POLE_LEG_GAP_M, output_type="ndarray")
        k = xy.shape[0]
        graph = coo_matrix((np.ones(len(pairs), bool), (pairs[:, 0], pairs[:, 1])), (k, k))
        n, label = connected_components(graph, directed=False)
        if n > 1:
            leg = np.bincount(label).argmax()
            foot[i, :2] = xy[label == leg].mean(axis=0)


def _lift_outlines(
    occ: Mesh, features: FeatureTable, lift: npt.NDArray[np.bool_], dem: Dem | None
) -> Mesh:
    """Raise the prisms extruded from outlines without heights (z = 0, as Osaka's LOD0
    footprints) onto the DEM under each one's centre; kept at z = 0 without a DEM.

    (Flat roads also take the bases of nearby LOD1+ buildings when there is no DEM; a
    LOD0-only building does not, so that a tile without any heights stays at z = 0.)"""
    vfeat = np.full(occ.vertices.shape[0], -1, np.int64)
    vfeat[occ.faces] = occ.feature[:, None]
    sel = np.flatnonzero(lift)
    rows = vfeat[sel]
    n = len(features)
    cnt = np.bincount(rows, minlength=n).astype(np.float64)
    sx = np.bincount(rows, occ.vertices[sel, 0], minlength=n)
    sy = np.bincount(rows, occ.vertices[sel, 1], minlength=n)
    present = np.flatnonzero(cnt)
    centres = np.column_stack([sx[present] / cnt[present], sy[present] / cnt[present]])
    if dem is None:
        return occ
    z = dem.heights(centres)
    ground = np.zeros(n)
    ground[present] = z
    v = occ.vertices.copy()
    v[sel, 2] += ground[rows]
    return Mesh(v, occ.faces, occ.feature, occ.kind)


def _dem_ground(
    dem: Dem, off_dem: Callable[[FloatArray], FloatArray] | None, xy: FloatArray
) -> FloatArray:
    """The ground of new road vertices, as merge gave the first ones: the DEM's, or off it
    (see :data:`DEM_REACH_M`) ``off_dem``'s when given (the buildings')."""
    off = np.zeros(xy.shape[0], bool)
    z = dem.heights(xy, off)
    if off_dem is not None and off.any():
        z[off] = off_dem(xy[off])
    return z


def merge(parts: list[FilePart], crs: str, source_crs: str, sources: tuple[str, ...]) -> City:
    """Concatenate file parts (renumbering feature rows) and fill flat road heights."""
    ids: list[str] = []
    cls: list[str] = []
    lod: list[int] = []
    mh: list[float] = []
    func: list[str] = []
    usage: list[str] = []
    parent: list[int] = []
    src: list[int] = []
    occs: list[Mesh] = []
    lifts: list[npt.NDArray[np.bool_]] = []
    roads: list[Mesh] = []
    flats: list[npt.NDArray[np.bool_]] = []
    road_polys: list[shapely.Polygon] = []
    road_kind: list[int] = []
    road_feat: list[int] = []
    fps: list[shapely.Polygon] = []
    fp_feat: list[int] = []
    pole_xyz, pole_h, pole_flat, pole_fn, pole_feat = [], [], [], [], []
    warnings: list[str] = []
    skipped = 0
    for i, part in enumerate(parts):
        raw = part.raw
        off = len(ids)
        ids += raw.ids
        cls += raw.cls
        lod += raw.lod
        mh += raw.measured_height
        func += raw.function
        usage += raw.usage
        parent += [q + off if q >= 0 else -1 for q in raw.parent]
        src += [i] * len(raw.ids)

        def shift(m: Mesh, off: int = off) -> Mesh:
            return Mesh(m.vertices, m.faces, (m.feature + off).astype(np.int32), m.kind)

        occs.append(shift(part.occ))
        if part.occ.n_triangles:
            lifts.append(part.occ_lift)
        roads.append(shift(part.roads))
        if part.roads.n_triangles:
            flats.append(part.road_flat)
        road_polys += part.road_polys
        road_kind += part.road_kind
        road_feat += [f + off for f in part.road_feature]
        fps += part.footprints
        fp_feat += [f + off for f in part.footprint_feature]
        if raw.poles:
            pole_xyz.append(part.pole_xyz)
            pole_h.append(part.pole_height)
            pole_flat.append(part.pole_flat)
            pole_fn += [fn for _, fn in raw.poles]
            pole_feat += [r + off for r, _ in raw.poles]
        warnings += raw.warnings
        skipped += raw.skipped
    features = FeatureTable(
        tuple(ids),
        tuple(cls),
        np.asarray(lod, np.int8),
        np.asarray(mh, np.float64),
        tuple(func),
        tuple(usage),
        np.asarray(src, np.int32),
        np.asarray(parent, np.int32),
    )
    occ = Mesh.concatenate(occs)
    lift = np.concatenate(lifts) if lifts else np.zeros(0, bool)
    road = Mesh.concatenate(roads)
    flat = np.concatenate(flats) if flats else np.zeros(0, bool)
    pxyz = np.concatenate(pole_xyz) if pole_xyz else np.zeros((0, 3))
    pflat = np.concatenate(pole_flat) if pole_flat else np.zeros(0, bool)
    dem = Dem.of(occ) if lift.any() or flat.any() or pflat.any() else None
    if lift.any():
        occ = _lift_outlines(occ, features, lift, dem)

    ground_source = "model" if road.n_triangles else "none"
    if flat.any() or pflat.any():
        xy = np.concatenate([road.vertices[flat, :2], pxyz[pflat, :2]])
        beyond = np.zeros(xy.shape[0], bool)
        z = dem.heights(xy, beyond) if dem is not None else None
        ground_source = "dem"
        off_dem = None
        if z is not None and beyond.any():
            # Roads beyond the DEM (another part of the 2nd mesh given?): the buildings
            # there give their ground, else the DEM's nearest height stands, and either
            # way the run says so.
            off_dem = buildings_ground(occ, features)
            zb = None if off_dem is None else off_dem(xy[beyond])
            if zb is not None:
                z[beyond] = zb
            warnings.append(
                f"{int(beyond.sum())} of {beyond.size} road and pole vertices lie more than "
                f"{DEM_REACH_M:.0f} m off the DEM (terrain) given: their ground comes from "
                + ("the buildings" if zb is not None else "the DEM's nearest point, a guess")
                + " (is the DEM of this area?)"
            )
            if zb is not None:
                ground_source = "dem and buildings"
        if z is None:
            from_buildings = buildings_ground(occ, features)
            z = None if from_buildings is None else from_buildings(xy)
            ground_source = "buildings"
        if z is None:
            # Roads alone: the roads (LOD2/3 traffic areas) and pole feet stored with their
            # heights give the ground of those stored flat, not z = 0 beside them (a 6 m
            # step where the two kinds meet on Osaka 52350301).
            used = np.zeros(road.vertices.shape[0], bool)
            used[road.faces.ravel()] = True
            known = np.concatenate([road.vertices[used & ~flat], pxyz[~pflat]])
            z = ground_from_known(known, xy)
            if z is not None:
                ground_source = "roads"
                warnings.append(
                    f"road surfaces are flat (z = 0) and no DEM or buildings give the ground: "
                    f"it comes from the {known.shape[0]:,} road and pole points stored with "
                    "their heights"
                )
        if z is None:
            ground_source = "none"
            warnings.append(
                "road surfaces are flat (z = 0) and no DEM or buildings give the ground: "
                "z kept at 0"
            )
        else:
            if road.n_triangles and not flat[np.unique(road.faces)].all():
                ground_source = f"model and {ground_source}"  # some roads had heights
            nr = int(flat.sum())
            rv = road.vertices.copy()
            rv[flat, 2] = z[:nr]
            road = Mesh(rv, road.faces, road.feature, road.kind)
            if dem is not None:
                ground = partial(_dem_ground, dem, off_dem)
                road = follow_dem(road, flat[road.faces[:, 0]], dem, ground)
            pxyz = pxyz.copy()
            pxyz[pflat, 2] = z[nr:]
    poles = Poles(
        pxyz,
        np.concatenate(pole_h) if pole_h else np.zeros(0),
        tuple(pole_fn),
        np.asarray(pole_feat, np.int32),
    )
    return City(
        crs=crs,
        source_crs=source_crs,
        sources=sources,
        features=features,
        occluders=occ,
        roads=road,
        road_area=RoadArea(
            tuple(road_polys), np.asarray(road_kind, np.int8), np.asarray(road_feat, np.int32)
        ),
        footprints=tuple(fps),
        footprint_feature=np.asarray(fp_feat, np.int32),
        poles=poles,
        ground_source=ground_source,
        warnings=tuple(warnings),
        skipped=skipped,
    )
