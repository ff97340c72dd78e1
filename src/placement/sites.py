"""Candidate camera sites and the camera options offered on them.

Three sources of sites, combined with :func:`combine_sites`:

- :func:`road_edge_sites`: new poles along the edges of the road surfaces at a spacing,
  nudged just inside the road, deduplicated, never inside a building footprint;
- :func:`pole_sites`: existing PLATEAU city-furniture poles (roadside and utility poles,
  street lights, signals);
- :func:`read_sites`: a user file (CSV with ``lon,lat[,height_m,heading_deg,cost,id]`` or
  GeoJSON points with the same properties), optionally marked as existing cameras.

:func:`make_options` turns sites into camera options, one per (site, heading, tilt).
"""

from __future__ import annotations

import csv
import json
import logging
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from placement._checks import number
from placement.camera import Camera
from placement.citygml import POLE_BASE_M
from placement.crs import to_metric
from placement.errors import InputFileError, OptionError
from placement.heights import height_at
from placement.model import BoolArray, City, FloatArray, IntArray, Mesh, Options, Sites

log = logging.getLogger(__name__)

#: Poles shorter than this (bollards, short posts) cannot carry a camera, metres.
MIN_POLE_HEIGHT_M = 3.0
#: Cracks narrower than this between road surfaces are closed before the kerb line is
#: found, metres (adjacent LOD3 traffic areas leave hairline gaps of millimetres).
CRACK_M = 0.1

#: A camera on a PLATEAU pole hangs on a bracket this far outside the pole's surface, metres.
BRACKET_M = 0.1
#: A site this far inside a building's footprint, below its roof, has its lens inside the
#: building (a camera on a wall stands at the footprint's edge, give or take the survey's
#: error), metres.
INSIDE_BUILDING_M = 0.5
#: The largest pole radius taken from the model (a vertex of the base farther out is another
#: leg of the same feature), metres.
MAX_CLEARANCE_M = 1.0
#: A row of a cameras file whose lon / lat lie farther than this from its x_m / y_m was
#: moved since the file was written (lon / lat at 7 decimals are a centimetre off), metres.
MOVED_M = 0.5
#: A row whose height_m - mount_height_m lies farther than this from the model's ground had
#: its mount_height_m (or height_m) edited since the file was written, metres.
GROUND_M = 0.5
#: The columns of a cameras file that a moved row's lon / lat make stale.
_STALE_WHEN_MOVED = frozenset({"x_m", "y_m", "site_id"})


def _empty_sites() -> Sites:
    z = np.zeros(0)
    return Sites((), np.zeros((0, 3)), z, z.copy(), np.zeros(0, bool), z.copy(), ())


def _ground_mesh(city: City) -> Mesh:
    """Roads first, else whatever else the city has, to read a ground height from."""
    return city.roads if city.roads.n_triangles else city.occluders


def _check_site_values(who: str, mount_height_m: float, cost: float) -> None:
    """The values the command line refuses, refused in the library too."""
    number(who, "mount_height_m", mount_height_m, minimum=0.0)
    number(who, "cost", cost, minimum=0.0)


def road_edge_sites(
    city: City,
    *,
    mount_height_m: float,
    spacing_m: float = 20.0,
    inset_m: float = 0.5,
    cost: float = 1.0,
    beyond_roads: Sequence[Any] = (),
    beyond_footprints: Sequence[Any] = (),
) -> Sites:
    """New poles along road edges.

    The road surfaces are merged in plan (cracks narrower than :data:`CRACK_M` between
    them closed: adjacent traffic areas that do not quite meet are one road), shrunk by
    ``inset_m`` (so a pole stands just inside the road, on the kerb line), and their
    boundaries sampled every ``spacing_m`` metres. Points closer than ``spacing_m / 2`` to
    an earlier one are dropped, as are points inside a building footprint.

    Parameters
    ----------
    city : the loaded city; only ``road_area``, ``roads`` and ``footprints`` are used.
    mount_height_m : lens height above the ground, metres.
    spacing_m : distance between poles along an edge, metres (> 0).
    inset_m : how far inside the road edge a pole stands, metres (>= 0).
    cost : the cost of a camera on one such pole (a new pole).
    beyond_roads : road surfaces of the neighbouring tiles (plan polygons, the halo's):
        merged with the city's, so that a street running on into the next tile has no
        edge across it where the tile's data stops; poles stand on the city's roads only.
    beyond_footprints : building footprints of the neighbouring tiles: no pole inside
        them either.

    Returns
    -------
    Sites with ids "edge-00000"..., source "road-edge".
    """
    _check_site_values("road_edge_sites", mount_height_m, cost)
    spacing_m = number("road_edge_sites", "spacing_m", spacing_m, above=0.0)
    inset_m = number("road_edge_sites", "inset_m", inset_m, minimum=0.0)
    if not len(city.road_area):
        return _empty_sites()
    own = shapely.union_all(shapely.make_valid(np.asarray(city.road_area.polygons, object)))
    roads = own
    # Only the neighbours' roads that meet the city's change its kerb line.
    more = np.asarray(beyond_roads, object)
    if more.size:
        more = shapely.make_valid(more)
        more = more[shapely.dwithin(own, more, CRACK_M)]
    if more.size:
        roads = shapely.union_all(np.append(more, own))
    # Closed first: a crack between two traffic areas would otherwise open, shrunk, into a
    # slot whose sides are taken for kerbs (poles mid-carriageway, Osaka 52350301).
    roads = roads.buffer(CRACK_M / 2, join_style="mitre").buffer(
        -(inset_m + CRACK_M / 2), join_style="mitre"
    )
    rings = _rings(roads)
    if not rings:
        log.warning(
            "road_edge_sites: an inset of %g m leaves no kerb line on the roads (none is "
            "wider than %g m): no sites along road edges",
            inset_m,
            2 * inset_m,
        )
        return _empty_sites()
    lengths = shapely.length(np.asarray(rings, object))
    pieces = []
    for ring, length in zip(rings, lengths, strict=True):
        # Rings shorter than the spacing still get one pole: short streets need cameras too.
        d = np.arange(0.0, max(float(length) - 1e-9, 0.0), spacing_m)
        if d.size == 0:
            d = np.array([0.0])
        pts = shapely.line_interpolate_point(ring, d)
        pieces.append(shapely.get_coordinates(pts)[:, :2])
    xy = np.concatenate(pieces)
    if more.size:
        # Only the city's own roads hold its poles (the rings run through the neighbours').
        shapely.prepare(own)
        near = shapely.dwithin(own, shapely.points(xy), CRACK_M)
        xy = xy[np.asarray(near, bool)]
    xy = _thin(xy, spacing_m / 2.0)
    xy = xy[~_inside_footprints(city, xy, beyond_footprints)]
    ground = height_at(_ground_mesh(city), xy)
    n = xy.shape[0]
    return Sites(
        ids=tuple(f"edge-{i:05d}" for i in range(n)),
        xyz=np.column_stack([xy, ground + mount_height_m]),
        ground_z=ground,
        cost=np.full(n, float(cost)),
        existing=np.zeros(n, bool),
        heading_deg=np.full(n, np.nan),
        source=("road-edge",) * n,
    )


def pole_sites(
    city: City,
    *,
    mount_height_m: float,
    functions: frozenset[str] | None = None,
    min_height_m: float = MIN_POLE_HEIGHT_M,
    cost: float = 1.0,
    reach_m: float | None = None,
) -> Sites:
    """Existing PLATEAU poles as sites.

    The lens goes at ``mount_height_m`` above the pole's foot, or just under the top of a pole
    that is shorter than that. Poles shorter than ``min_height_m`` are left out.

    Parameters
    ----------
    functions : PLATEAU function codes to keep (None keeps every pole-like furniture the
        loader found: roadside and utility poles, street lights, signals).
    min_height_m : the shortest pole that can carry a camera, metres.
    cost : the cost of a camera on an existing pole (often lower than a new pole).
    reach_m : poles farther than this from every road surface see no street: they are left
        out with a warning (a furniture file of another place). None keeps them all.
    """
    _check_site_values("pole_sites", mount_height_m, cost)
    min_height_m = number("pole_sites", "min_height_m", min_height_m, minimum=0.0)
    if reach_m is not None:
        reach_m = number("pole_sites", "reach_m", reach_m, minimum=0.0)
    poles = city.poles
    keep = np.array(
        [functions is None or f in functions for f in poles.function], dtype=bool
    ).reshape(-1) & (poles.height_m >= min_height_m)
    if reach_m is not None and keep.any() and len(city.road_area):
        tree = shapely.STRtree(np.asarray(city.road_area.polygons, object))
        at = np.flatnonzero(keep)
        pairs, dist = tree.query_nearest(
            shapely.points(poles.xyz[at, :2]), return_distance=True, all_matches=False
        )
        far = at[pairs[0][np.asarray(dist, float) > reach_m]]
        if far.size:
            log.warning(
                "%d of %d PLATEAU poles stand farther than %.0f m from every road and see "
                "none of it; left out (first: %s; another place's furniture file?)",
                far.size,
                at.size,
                reach_m,
                city.features.ids[poles.feature[far[0]]],
            )
            keep[far] = False
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return _empty_sites()
    foot = poles.xyz[idx]
    height = poles.height_m[idx]
    mount = np.minimum(mount_height_m, height - 0.2)
    ids = tuple(f"pole-{city.features.ids[poles.feature[i]]}" for i in idx)
    n = idx.size
    xyz = np.column_stack([foot[:, :2], foot[:, 2] + mount])
    return Sites(
        ids=ids,
        xyz=xyz,
        ground_z=foot[:, 2].copy(),
        cost=np.full(n, float(cost)),
        existing=np.zeros(n, bool),
        heading_deg=np.full(n, np.nan),
        source=("plateau-pole",) * n,
        clearance_m=pole_radius(city.occluders, poles.feature[idx], foot),
    )


def pole_radius(mesh: Mesh, features: np.ndarray, foot: np.ndarray) -> np.ndarray:
    """How far each pole's shaft reaches from its axis: the radius of its base.

    Parameters
    ----------
    mesh : the occluders, whose triangles carry their feature row.
    features : (N,) the feature row of each pole.
    foot : (N, 3) each pole's foot (axis x, y and lowest z; :class:`placement.model.Poles`).

    Returns
    -------
    (N,) the largest horizontal distance from the axis of the pole's vertices within
    ``POLE_BASE_M`` of its foot, counting only those within :data:`MAX_CLEARANCE_M` (another
    leg of the same feature is not this shaft); 0 for a pole without such vertices (one
    given as a point). A pole is widest at its base, so a bracket this long clears it.
    """
    out = np.zeros(len(features))
    if not len(features) or not mesh.n_triangles:
        return out
    order = np.argsort(features, kind="stable")
    sorted_feat = np.asarray(features)[order]
    used = np.unique(mesh.faces)
    vfeat = np.full(mesh.vertices.shape[0], -1, np.int64)
    vfeat[mesh.faces.ravel()] = np.repeat(mesh.feature, 3)
    vfeat = vfeat[used]
    pos = np.minimum(np.searchsorted(sorted_feat, vfeat), len(sorted_feat) - 1)
    on_pole = sorted_feat[pos] == vfeat
    v = mesh.vertices[used[on_pole]]
    pole = order[pos[on_pole]]
    r = np.hypot(v[:, 0] - foot[pole, 0], v[:, 1] - foot[pole, 1])
    keep = (v[:, 2] <= foot[pole, 2] + POLE_BASE_M) & (r <= MAX_CLEARANCE_M)
    np.maximum.at(out, pole[keep], r[keep])
    return out


def read_sites(
    path: str | Path,
    city: City,
    *,
    mount_height_m: float,
    existing: bool = False,
    cost: float = 1.0,
    prefix: str | None = None,
    reach_m: float | None = None,
    camera: Camera | None = None,
) -> Sites:
    """Sites from a user file: CSV or GeoJSON points in lon/lat (JGD2011 or WGS84).

    CSV needs a header with ``lon`` and ``lat`` columns; optional ``mount_height_m`` (lens
    height above the ground; ``height_m`` is read so when ``mount_height_m`` is absent),
    ``heading_deg`` (fixed heading; required for existing cameras), ``tilt_deg`` (fixed
    tilt below the horizon), ``cost``, ``id`` and ``site_id`` (the pole it stands at, kept
    in the outputs where the run offers no site there). GeoJSON needs Point features; the same
    optional names are read from properties (the point's z is not read). A run's
    ``cameras.csv`` or ``cameras.geojson`` reads back as the same cameras: where a row's
    ``crs`` is the model's, its ``x_m`` / ``y_m`` and its lens elevation ``height_m`` (with
    ``mount_height_m``) are taken as they are.

    Parameters
    ----------
    existing : the file lists cameras already installed (kept at no cost, fixed heading).
    prefix : id prefix ("user" or "existing" by default).
    reach_m : sites farther than this from the model's extent see none of it: they are
        left out with a warning (a city-wide list given for one tile); when every site is
        that far, the file is refused (lon and lat swapped, or another city). None keeps
        every site.
    camera : the camera the run models every site with: rows that name another one (a
        cameras file's ``camera``, ``hfov_deg``, ``vfov_deg``, ``range_m``) are warned of.
    """
    _check_site_values("read_sites", mount_height_m, cost)
    p = Path(path)
    rows = _read_point_rows(p)
    if not rows:
        raise InputFileError(f"{p}: no sites in the file")
    prefix = prefix or ("existing" if existing else "user")
    lon = np.array([r["lon"] for r in rows])
    lat = np.array([r["lat"] for r in rows])
    if not (np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180)):
        raise InputFileError(f"{p}: lon/lat out of range (expected degrees, lon first)")
    x, y, _ = to_metric(lat, lon, np.zeros_like(lat), city.crs)
    xy = np.column_stack([x, y])
    # The file's own row numbers (1 for the first row under the header, or feature 0),
    # kept through the rows left out below so that every message names the file's row.
    row_no: IntArray = np.arange(1, len(rows) + 1, dtype=np.int32)
    # A run's own cameras files give the plane position too: exact where the CRS is this
    # run's (lon / lat at 7 decimals are a centimetre off, enough to lose a grazing view).
    # Where lon / lat (the geometry) lie farther than MOVED_M from x_m / y_m, the camera
    # was moved (lon / lat edited, or the point dragged in QGIS): lon / lat win, and the
    # row's x_m / y_m / height_m are stale.
    planed = np.zeros(len(rows), bool)
    moved = np.zeros(len(rows), bool)
    for i, r in enumerate(rows):
        if r.get("crs") == city.crs and "x_m" in r and "y_m" in r:
            given = (float(r["x_m"]), float(r["y_m"]))
            if np.hypot(xy[i, 0] - given[0], xy[i, 1] - given[1]) > MOVED_M:
                moved[i] = True
            else:
                xy[i] = given
                planed[i] = True
    if moved.any():
        log.warning(
            "%s: %d of %d rows have lon/lat more than %g m from their x_m/y_m (moved "
            "since the file was written; first: row %d): placed at lon/lat, on the "
            "model's ground, and their x_m, y_m, height_m and site_id ignored",
            p,
            int(moved.sum()),
            len(rows),
            MOVED_M,
            int(np.flatnonzero(moved)[0]) + 1,
        )
        for m in np.flatnonzero(moved).tolist():
            # height_m is the lens elevation only beside mount_height_m (else the mount).
            stale = _STALE_WHEN_MOVED | ({"height_m"} if "mount_height_m" in rows[m] else set())
            rows[m] = {k: v for k, v in rows[m].items() if k not in stale}
    noun = "cameras" if existing else "sites"
    if reach_m is not None and len(city.features):
        x0, y0, _, x1, y1, _ = city.bounds()
        away = np.hypot(
            np.maximum(0.0, np.maximum(x0 - xy[:, 0], xy[:, 0] - x1)),
            np.maximum(0.0, np.maximum(y0 - xy[:, 1], xy[:, 1] - y1)),
        )
        near = away <= reach_m
        if not near.any():
            raise InputFileError(
                f"{p}: none of its {len(rows)} {noun} lies within {reach_m:.0f} m of the "
                f"model (nearest {away.min() / 1000:.3g} km away): lon and lat swapped, or "
                "another place?"
            )
        if not near.all():
            log.warning(
                "%s: %d of %d %s lie farther than %.0f m from the model and see none of "
                "it; left out (first: row %d)",
                p,
                int((~near).sum()),
                len(rows),
                noun,
                reach_m,
                int(np.flatnonzero(~near)[0]) + 1,
            )
            rows = [r for r, k in zip(rows, near, strict=True) if k]
            lon, lat, xy = lon[near], lat[near], xy[near]
            row_no, planed = row_no[near], planed[near]
    if camera is not None:
        _warn_other_camera(p, rows, camera, noun, row_no)
    ground = height_at(_ground_mesh(city), xy)
    # ... and the lens elevation (height_m beside mount_height_m): its ground is then the
    # pole's foot, not the ground under the bracket. The lens goes mount_height_m above
    # that ground, so an edited mount_height_m moves it. That ground is kept only where it
    # lies within GROUND_M of the model's ground there: else mount_height_m or height_m
    # was edited (which one cannot be told), and mount_height_m, what a user edits, wins
    # over the model's ground.
    regrounded = []
    for i, r in enumerate(rows):
        if planed[i] and "height_m" in r and "mount_height_m" in r:
            foot = float(r["height_m"]) - float(r["mount_height_m"])
            if np.isnan(ground[i]) or abs(foot - ground[i]) <= GROUND_M:
                ground[i] = foot
            else:
                regrounded.append(i)
    if regrounded:
        log.warning(
            "%s: %d of %d rows have height_m - mount_height_m more than %g m from the "
            "model's ground (mount_height_m or height_m edited; first: row %d): the lens "
            "put mount_height_m above the model's ground",
            p,
            len(regrounded),
            len(rows),
            GROUND_M,
            int(row_no[regrounded[0]]),
        )
    # mount_height_m (what a run's cameras files carry, beside the lens elevation in
    # height_m) wins over height_m, which older input files used for the height above
    # ground: read so, with a warning, as a cameras file that lost its mount column would
    # put every lens one ground height too high.
    if any("height_m" in r and "mount_height_m" not in r for r in rows):
        log.warning(
            "%s: height_m read as the lens height above the ground; name that column "
            "mount_height_m (in a run's cameras files height_m is the lens elevation)",
            p,
        )
    mount = np.array(
        [r.get("mount_height_m", r.get("height_m", mount_height_m)) for r in rows], float
    )
    heading = np.array([r.get("heading_deg", np.nan) for r in rows], float)
    tilt = np.array([r.get("tilt_deg", np.nan) for r in rows], float)
    if (np.abs(tilt) > 90).any():
        bad = int(row_no[np.flatnonzero(np.abs(tilt) > 90)[0]])
        raise InputFileError(f"{p}: row {bad}: tilt_deg must be between -90 and 90")
    if existing and np.isnan(heading).any():
        bad = int(row_no[np.flatnonzero(np.isnan(heading))[0]])
        raise InputFileError(
            f"{p}: existing camera on row {bad} has no heading_deg (existing cameras need one)"
        )
    costs = np.array([r.get("cost", cost) for r in rows], float)
    if (costs < 0).any() or (mount < 0).any():
        raise InputFileError(f"{p}: cost and height_m must be >= 0")
    ids = tuple(str(r.get("id", f"{prefix}-{i:04d}")) for i, r in enumerate(rows))
    if len(set(ids)) != len(ids):
        again = next(i for k, i in enumerate(ids) if i in ids[:k])
        raise InputFileError(f"{p}: site id {again!r} appears more than once")
    pole_ids = [str(r.get("site_id", "")) for r in rows]
    if not existing:
        keep = _one_row_per_camera(
            p,
            xy,
            heading=heading,
            tilt=tilt,
            costs=costs,
            ids=ids,
            row_no=row_no,
            pole_ids=pole_ids,
        )
        if not keep.all():
            rows = [r for r, k in zip(rows, keep, strict=True) if k]
            ids = tuple(i for i, k in zip(ids, keep, strict=True) if k)
            pole_ids = [n for n, k in zip(pole_ids, keep, strict=True) if k]
            xy, ground, mount = xy[keep], ground[keep], mount[keep]
            heading, tilt, costs, row_no = heading[keep], tilt[keep], costs[keep], row_no[keep]
    n = len(rows)
    _warn_inside_buildings(p, city, xy, ground + mount, ids=ids, noun=noun, row_no=row_no)
    return Sites(
        ids=ids,
        pole_ids=tuple(pole_ids),
        xyz=np.column_stack([xy, ground + mount]),
        ground_z=ground,
        cost=np.where(existing, 0.0, costs),
        existing=np.full(n, existing),
        heading_deg=heading,
        source=("user",) * n,
        tilt_deg=tilt,
    )


#: User sites closer than this are at one spot (one pole), metres (see :func:`combine_sites`).
SAME_SPOT_M = 1.0


def _other_camera(h1: float, t1: float, h2: float, t2: float) -> bool:
    """Two sites at one spot are two cameras on one pole: both have a fixed heading, and
    the headings (or, the headings alike, fixed tilts) differ by half a degree or more."""
    if np.isnan(h1) or np.isnan(h2):
        return False
    if abs((h1 - h2 + 180.0) % 360.0 - 180.0) >= 0.5:
        return True
    return bool(not np.isnan(t1) and not np.isnan(t2) and abs(t1 - t2) >= 0.5)


def _one_row_per_camera(
    p: Path,
    xy: FloatArray,
    *,
    heading: FloatArray,
    tilt: FloatArray,
    costs: FloatArray,
    ids: Sequence[str],
    row_no: IntArray,
    pole_ids: list[str],
) -> BoolArray:
    """The rows of a sites file to keep: of rows within :data:`SAME_SPOT_M` of an earlier
    kept row, those with another fixed heading (or tilt) are a second camera on its pole
    (kept, and named after its pole in ``pole_ids``); the others repeat it and are dropped,
    with one warning."""
    keep = np.ones(len(ids), bool)
    if len(ids) < 2:
        return keep
    dropped: list[tuple[int, int]] = []
    for i, j in sorted(cKDTree(xy).query_pairs(SAME_SPOT_M)):
        if not (keep[i] and keep[j]):
            continue
        if _other_camera(heading[i], tilt[i], heading[j], tilt[j]):
            if not pole_ids[j]:
                pole_ids[j] = pole_ids[i] or ids[i]
        else:
            keep[j] = False
            dropped.append((j, i))
    if dropped:
        j, i = dropped[0]
        log.warning(
            "%s: %d of %d sites lie within %g m of an earlier site with the same headings "
            "and are dropped, the earlier one kept (first: row %d %r, cost %g, dropped for "
            "row %d %r, cost %g); give two cameras on one pole different fixed headings",
            p,
            len(dropped),
            len(ids),
            SAME_SPOT_M,
            int(row_no[j]),
            ids[j],
            costs[j],
            int(row_no[i]),
            ids[i],
            costs[i],
        )
    return keep


def _warn_inside_buildings(
    p: Path,
    city: City,
    xy: FloatArray,
    z: FloatArray,
    *,
    ids: Sequence[str],
    noun: str,
    row_no: IntArray,
) -> None:
    """Warn of sites whose lens lies inside a building: more than
    :data:`INSIDE_BUILDING_M` within its footprint and below its roof there (they see
    nothing; a wrong position, or a camera indoors)."""
    if not city.footprints or not len(xy):
        return
    # Within a footprint first (a tree query), then within its inset (the few found only).
    footprints = shapely.make_valid(np.asarray(city.footprints, object))
    points = shapely.points(xy)
    pts, polys = shapely.STRtree(footprints).query(points, predicate="within")
    inside = shapely.within(points[pts], shapely.buffer(footprints[polys], -INSIDE_BUILDING_M))
    pts, polys = pts[inside], polys[inside]
    if not pts.size:
        return
    occ = city.occluders
    building = np.isin(occ.feature, np.asarray(city.footprint_feature)[np.unique(polys)])
    roof = height_at(occ.select(building), xy[pts], fallback="nan")
    under = pts[np.nan_to_num(roof, nan=-np.inf) > z[pts]]
    if not under.size:
        return
    under = np.unique(under)
    first = int(under[0])
    log.warning(
        "%s: %d of %d %s have the lens inside a building (below its roof, within its "
        "walls), where they see nothing; first: %s (row %d)",
        p,
        under.size,
        len(xy),
        noun,
        ids[first],
        int(row_no[first]),
    )


def _warn_other_camera(
    p: Path, rows: list[dict[str, float | str]], camera: Camera, noun: str, row_no: IntArray
) -> None:
    """Warn when rows were written for another camera than the one the run models."""
    mine = {"hfov_deg": camera.hfov_deg, "vfov_deg": camera.vfov_deg, "range_m": camera.range_m}

    def other(r: dict[str, float | str]) -> bool:
        if "camera" in r and r["camera"] != camera.name:
            return True
        return any(k in r and abs(float(r[k]) - v) > 0.05 for k, v in mine.items())

    odd = [i for i, r in enumerate(rows) if other(r)]
    if not odd:
        return
    r = rows[odd[0]]
    what = ", ".join(
        [str(r["camera"])] * ("camera" in r) + [f"{k} {float(r[k]):g}" for k in mine if k in r]
    )
    log.warning(
        "%s: %d of %d %s were written for another camera (row %d: %s); this run models "
        "every camera as %s (hfov_deg %g, vfov_deg %g, range_m %g): give --camera or "
        "--camera-file to score them as they are",
        p,
        len(odd),
        len(rows),
        noun,
        int(row_no[odd[0]]),
        what,
        camera.name,
        camera.hfov_deg,
        camera.vfov_deg,
        camera.range_m,
    )


def combine_sites(*parts: Sites, min_separation_m: float = 1.0) -> Sites:
    """All sites of ``parts`` in order; a new site within ``min_separation_m`` of an earlier
    new one (a user site listed first) is dropped, unless both have fixed headings that
    differ (two cameras on one pole, which :func:`shared_poles` puts on one pole); a user
    site dropped so is warned of. Existing cameras are never dropped, and do not drop the
    new site they stand at: its other headings stay free (see :func:`shared_poles`)."""
    bad = next((p for p in parts if not isinstance(p, Sites)), None)
    if bad is not None:
        raise OptionError(
            f"combine_sites: takes Sites one by one (combine_sites(a, b), or "
            f"combine_sites(*parts)), got {type(bad).__name__}"
        )
    parts = tuple(p for p in parts if len(p))
    if not parts:
        return _empty_sites()
    xyz = np.concatenate([p.xyz for p in parts])
    existing = np.concatenate([p.existing for p in parts])
    heading = np.concatenate([p.heading_deg for p in parts])
    tilt = np.concatenate([p.fixed_tilts() for p in parts])
    src = [s for p in parts for s in p.source]
    ids = [i for p in parts for i in p.ids]
    keep = np.ones(xyz.shape[0], bool)
    lost: list[tuple[int, int]] = []
    if min_separation_m > 0 and xyz.shape[0] > 1:
        tree = cKDTree(xyz[:, :2])
        for i, j in sorted(tree.query_pairs(min_separation_m)):
            if not keep[i] or existing[i] or existing[j]:
                continue
            # Another fixed heading at one spot is a second camera on that pole.
            if _other_camera(heading[i], tilt[i], heading[j], tilt[j]):
                continue
            keep[j] = False
            if src[j] == "user":
                lost.append((j, i))
    if lost:
        log.warning(
            "combine_sites: %d user sites lie within %g m of an earlier site and are "
            "dropped, the earlier one kept (first: %r, for %r)",
            len(lost),
            min_separation_m,
            ids[lost[0][0]],
            ids[lost[0][1]],
        )
    seen: set[str] = set()
    for k, sid in enumerate(ids):
        if keep[k] and sid in seen:
            raise OptionError(
                f"site id {sid!r} appears twice: an --existing or --sites file uses an id "
                "that another file, or one of the tool's own sites (edge-NNNNN, pole-...), has; "
                "rename it there"
            )
        seen.add(sid)
    poles = [n for p in parts for n in (p.pole_ids or ("",) * len(p))]
    return Sites(
        ids=tuple(i for i, k in zip(ids, keep, strict=True) if k),
        xyz=xyz[keep],
        ground_z=np.concatenate([p.ground_z for p in parts])[keep],
        cost=np.concatenate([p.cost for p in parts])[keep],
        existing=existing[keep],
        heading_deg=heading[keep],
        source=tuple(s for s, k in zip(src, keep, strict=True) if k),
        tilt_deg=tilt[keep],
        clearance_m=np.concatenate([p.clearances() for p in parts])[keep],
        pole_ids=tuple(n for n, k in zip(poles, keep, strict=True) if k),
    )


def shared_poles(sites: Sites, radius_m: float = 1.0) -> IntArray:
    """The pole of each site, as a site index: new sites within ``radius_m`` of an earlier
    one share its pole; an existing camera within ``radius_m`` of a
    new site hangs on that site's pole (the nearest one); installed cameras with no new site
    that near share the first one's pole among them; every other site is its own.

    Pass ``shared_poles(sites)[options.site]`` as the optimiser's ``site`` so that
    ``max_per_site`` counts an installed camera on the pole it shares with a candidate.
    """
    pole = np.arange(len(sites), dtype=np.int32)
    new = np.flatnonzero(~sites.existing)
    old = np.flatnonzero(sites.existing)
    if new.size > 1:
        # New sites this near one another (two fixed headings of a user file at one spot:
        # :func:`combine_sites` keeps them) are cameras on one pole, the first one's.
        for i, j in sorted(cKDTree(sites.xyz[new, :2]).query_pairs(radius_m)):
            if pole[new[j]] == new[j]:
                pole[new[j]] = pole[new[i]]
    if new.size and old.size:
        dist, near = cKDTree(sites.xyz[new, :2]).query(sites.xyz[old, :2])
        hit = dist <= radius_m
        pole[old[hit]] = pole[new[near[hit]]]
        old = old[~hit]
    if old.size > 1:
        # Installed cameras with no candidate beside them share a pole among themselves.
        for i, j in sorted(cKDTree(sites.xyz[old, :2]).query_pairs(radius_m)):
            pole[old[j]] = pole[old[i]]
    return pole


def make_options(
    sites: Sites,
    camera: Camera,
    *,
    headings: int = 8,
    tilts_deg: Sequence[float] | None = None,
) -> Options:
    """One camera option per (site, heading, tilt).

    Free sites get ``headings`` headings evenly spaced from north (0 deg) clockwise; a site
    with a fixed heading (an existing camera) gets only that one. A 360-degree camera
    (``hfov_deg >= 360``) needs a single heading, but on a PLATEAU pole it gets ``headings``
    sides of the pole to hang on (the pole hides a sector behind it). Tilts default to the
    camera's own; a site
    with a fixed tilt gets only that one, and an existing camera without one the camera's.

    A camera on a PLATEAU pole (a site with a clearance) hangs on a bracket: its lens is
    ``clearance + BRACKET_M`` out from the pole's axis towards its heading, so that its own
    pole does not hide what it looks at (a lens on the axis sits inside the pole's mesh).

    Returns
    -------
    Options, ordered by site, then tilt, then heading.
    """
    if isinstance(headings, bool) or not isinstance(headings, int | np.integer) or headings < 1:
        raise OptionError(f"headings must be a whole number >= 1, got {headings!r}")
    if not isinstance(camera, Camera):
        raise OptionError(
            f"make_options: camera must be a Camera (e.g. PRESETS[{camera!r}]), "
            f"got {type(camera).__name__}"
        )
    if isinstance(tilts_deg, str | bytes):  # "20" would be the tilts 2 and 0
        raise OptionError(
            f"make_options: tilts_deg must be numbers, e.g. (20.0, 35.0), got {tilts_deg!r}"
        )
    if isinstance(tilts_deg, numbers.Real):  # one tilt
        tilts_deg = [tilts_deg]
    given = [camera.tilt_deg] if tilts_deg is None else list(tilts_deg)
    tilts = np.asarray(
        [number("make_options", "tilts_deg", t, minimum=-90.0) for t in given], float
    )
    if tilts.size == 0 or (tilts < -90).any() or (tilts > 90).any():
        raise OptionError("tilts must be between -90 and 90 degrees below the horizon")
    site_clear = sites.clearances()
    # A 360-degree camera needs one heading, except on a PLATEAU pole: there its bracket
    # holds it on one side of the pole, which hides a sector behind it, so each side is an
    # option (the side facing the street is not known from the pole alone).
    if camera.hfov_deg >= 360:
        n_head = np.where(site_clear > 0, headings, 1).astype(np.int64)
    else:
        n_head = np.full(len(sites), headings, np.int64)
    fixed = ~np.isnan(sites.heading_deg)
    # An installed camera has one tilt: its own, else the camera's; a free site has them all.
    site_tilt = sites.fixed_tilts()
    site_tilt = np.where(np.isnan(site_tilt) & sites.existing, camera.tilt_deg, site_tilt)
    one_tilt = ~np.isnan(site_tilt)
    per_site = np.where(fixed, 1, n_head) * np.where(one_tilt, 1, tilts.size)
    site = np.repeat(np.arange(len(sites), dtype=np.int32), per_site)
    # Position of each option within its site's block: tilt-major, heading-minor.
    start = np.repeat(np.cumsum(per_site) - per_site, per_site)
    pos = np.arange(site.size) - start
    nh = np.where(fixed, 1, n_head)[site]
    tilt = np.where(one_tilt[site], site_tilt[site], tilts[np.minimum(pos // nh, tilts.size - 1)])
    heading = np.where(fixed[site], sites.heading_deg[site], (pos % nh) * (360.0 / nh))
    heading = np.mod(heading, 360.0)
    origin = sites.xyz[site].copy()
    clear = site_clear[site]
    arm = np.flatnonzero(clear > 0)
    if arm.size:
        h = np.radians(heading[arm])
        reach = clear[arm] + BRACKET_M
        origin[arm, 0] += reach * np.sin(h)
        origin[arm, 1] += reach * np.cos(h)
    keep = ~_installed_twins(sites, site, heading, tilt, pano=camera.hfov_deg >= 360)
    site, heading, tilt, origin = site[keep], heading[keep], tilt[keep], origin[keep]
    return Options(
        site=site,
        heading_deg=heading,
        tilt_deg=tilt,
        origin=origin,
        cost=sites.cost[site],
        existing=sites.existing[site],
    )


def _installed_twins(
    sites: Sites, site: IntArray, heading: FloatArray, tilt: FloatArray, *, pano: bool = False
) -> BoolArray:
    """Options of a candidate site that repeat the heading and tilt of an installed camera
    on the same pole (:func:`shared_poles`): a second camera there would see what the
    first sees, and where points need two cameras (``k`` > 1) it would count twice. A
    360-degree camera (``pano``) repeats one of the same tilt on any side of the pole."""
    pole = shared_poles(sites)
    twin = np.zeros(site.shape[0], bool)
    # Each site's options as one slice of the options sorted by site.
    order = np.argsort(site, kind="stable")
    start = np.searchsorted(site[order], np.arange(len(sites) + 1))
    # Installed cameras on a candidate's pole only: two installed cameras sharing a spot
    # are both kept, whatever they look at.
    for s in np.flatnonzero(sites.existing & ~sites.existing[pole]):
        here = order[start[s] : start[s + 1]]
        # Every candidate on that pole (two fixed headings of a user file share one).
        on = np.flatnonzero((pole == pole[s]) & ~sites.existing)
        there = np.concatenate([order[start[t] : start[t + 1]] for t in on])
        if not (here.size and there.size):
            continue
        dh = np.abs((heading[there][:, None] - heading[here][None, :] + 180.0) % 360.0 - 180.0)
        if pano:
            dh[:] = 0.0
        dt = np.abs(tilt[there][:, None] - tilt[here][None, :])
        twin[there[((dh < 0.5) & (dt < 0.5)).any(axis=1)]] = True
    return twin


def _rings(geom: Any) -> list[Any]:
    """Every exterior and interior ring of a (multi)polygon as LineStrings."""
    out: list[Any] = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        out.append(shapely.LineString(poly.exterior.coords))
        out.extend(shapely.LineString(r.coords) for r in poly.interiors)
    return out


def _thin(xy: np.ndarray, min_dist: float) -> np.ndarray:
    """Drop points closer than ``min_dist`` to an earlier point (order kept)."""
    if xy.shape[0] < 2:
        return xy
    tree = cKDTree(xy)
    keep = np.ones(xy.shape[0], bool)
    for i, j in sorted(tree.query_pairs(min_dist)):
        if keep[i]:
            keep[j] = False
    return xy[keep]


def _inside_footprints(city: City, xy: np.ndarray, more: Sequence[Any] = ()) -> np.ndarray:
    polys = [*city.footprints, *more]
    if not polys or xy.shape[0] == 0:
        return np.zeros(xy.shape[0], bool)
    blocks = shapely.union_all(shapely.make_valid(np.asarray(polys, object)))
    shapely.prepare(blocks)
    return np.asarray(shapely.contains_xy(blocks, xy[:, 0], xy[:, 1]), bool)


def _read_point_rows(p: Path) -> list[dict[str, float | str]]:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputFileError(f"{p}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise InputFileError(f"{p}: not UTF-8 text") from e
    suffix = p.suffix.lower()
    if suffix in {".geojson", ".json"}:
        return _geojson_rows(p, text)
    if suffix in {".csv", ".txt"}:
        return _csv_rows(p, text)
    raise InputFileError(f"{p}: unknown site file type (use .csv or .geojson)")


_NUMERIC = (
    "lon",
    "lat",
    "height_m",
    "mount_height_m",
    "heading_deg",
    "tilt_deg",
    "cost",
    "x_m",
    "y_m",
    "hfov_deg",
    "vfov_deg",
    "range_m",
)


def _csv_rows(p: Path, text: str) -> list[dict[str, float | str]]:
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "lon" not in fields or "lat" not in fields:
        raise InputFileError(f"{p}: CSV needs a header with 'lon' and 'lat' columns")
    rows = []
    for n, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        rows.append(_typed(p, f"line {n}", row))
    return rows


def _geojson_rows(p: Path, text: str) -> list[dict[str, float | str]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputFileError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from e
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list):
        raise InputFileError(f"{p}: not a GeoJSON FeatureCollection")
    rows = []
    for n, f in enumerate(feats):
        geom = (f or {}).get("geometry") or {}
        if geom.get("type") != "Point":
            raise InputFileError(f"{p}: feature {n} is not a Point")
        coords = geom.get("coordinates") or []
        props = {str(k).lower(): v for k, v in ((f.get("properties") or {}).items())}
        row: dict[str, Any] = {k: v for k, v in props.items() if v is not None}
        if len(coords) < 2:
            raise InputFileError(f"{p}: feature {n} has no coordinates")
        row["lon"], row["lat"] = coords[0], coords[1]
        rows.append(_typed(p, f"feature {n}", row))
    return rows


def _typed(p: Path, where: str, row: dict[str, Any]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for k, v in row.items():
        if v == "" or v is None:
            continue
        if k in _NUMERIC:
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                raise InputFileError(f"{p}: {where}: {k} is not a number: {v!r}") from None
            if not np.isfinite(out[k]):
                raise InputFileError(f"{p}: {where}: {k} is not finite")
        elif k in ("id", "site_id", "crs", "camera"):
            out[k] = str(v)
    if "lon" not in out or "lat" not in out:
        raise InputFileError(f"{p}: {where}: lon and lat are required")
    return out
