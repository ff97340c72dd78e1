"""Demand: the street points cameras should see, with weights.

Road surfaces are sampled on a square grid aligned to whole multiples of the spacing in the
city CRS (so the same tile gives the same points whatever else is loaded), at a target height
above the road surface (a face: 1.5 m by default). Points inside building footprints are
dropped. Each point's weight is the weight of its road kind (carriageway or sidewalk, where
LOD2/3 traffic areas tell them apart) times the largest weight of the user priority polygons
(school routes, station squares ...) that contain it.

Errors: a city without road surfaces, or a spacing that puts no grid point on them,
raises a one-line error naming the inputs and the cause (demand lives on the roads of
the ``*_tran_*.gml`` file). A priority file with a weight that is not finite or above
:data:`MAX_PRIORITY_WEIGHT` is refused naming the file and feature; priority polygons
that hold no demand point (outside the tile, or latitude first) give one warning line.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from placement._checks import number, read_json
from placement.crs import geojson_to_lonlat, to_metric
from placement.errors import CRSError, InputFileError, OptionError
from placement.heights import height_at
from placement.model import City, Demand, SurfaceKind

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Largest number of demand points one call will create (about 400 km^2 of road at 2 m).
MAX_POINTS = 20_000_000
#: Largest priority weight accepted: a multiplier beyond it is a typo, and it would
#: swamp every other weight (and overflow the optimiser's sums near 1e308).
MAX_PRIORITY_WEIGHT = 1e6
#: How street points are weighed (:func:`sample_demand`): by the area or the length of
#: street each stands for.
WEIGH_BY = ("area", "length")


@dataclass(frozen=True)
class Priority:
    """Priority areas: plan polygons in the city CRS, each with a weight multiplier."""

    polygons: tuple[shapely.Polygon | shapely.MultiPolygon, ...]
    weight: tuple[float, ...]
    source: str = ""
    #: Per polygon, why it cannot hold any point ("" when nothing is known to be wrong),
    #: e.g. coordinates that are no longitude, latitude; said when it holds no demand.
    problems: tuple[str, ...] = ()
    #: Per polygon, its ``name`` property ("" when it has none).
    names: tuple[str, ...] = ()


#: Grid cells per side of the chunks the street grid is laid in: only chunks that touch a
#: road are sampled, so tiles far apart cost their roads, not the box around them all.
GRID_CHUNK = 1024


def _grid_on(area: Any, spacing_m: float) -> tuple[FloatArray, FloatArray]:
    """The points of the global grid of ``spacing_m`` inside ``area``, by row (y) then
    column (x)."""
    minx, miny, maxx, maxy = area.bounds
    ix0, ix1 = int(np.ceil(minx / spacing_m)), int(np.floor(maxx / spacing_m))
    iy0, iy1 = int(np.ceil(miny / spacing_m)), int(np.floor(maxy / spacing_m))
    shapely.prepare(area)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    count = 0
    for cy in range(iy0, iy1 + 1, GRID_CHUNK):
        gy = np.arange(cy, min(cy + GRID_CHUNK - 1, iy1) + 1) * spacing_m
        for cx in range(ix0, ix1 + 1, GRID_CHUNK):
            gx = np.arange(cx, min(cx + GRID_CHUNK - 1, ix1) + 1) * spacing_m
            if not area.intersects(shapely.box(gx[0], gy[0], gx[-1], gy[-1])):
                continue
            xx, yy = np.meshgrid(gx, gy)
            x, y = xx.ravel(), yy.ravel()
            keep = shapely.contains_xy(area, x, y)
            xs.append(x[keep])
            ys.append(y[keep])
            count += int(keep.sum())
            if count > MAX_POINTS:
                raise OptionError(
                    f"demand spacing {spacing_m:g} m puts more than {MAX_POINTS:,} points on "
                    f"the {area.area:.0f} m^2 of road surface; use a larger --demand-spacing-m"
                )
    if not xs:
        return np.zeros(0), np.zeros(0)
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.lexsort((x, y))  # by row, then column, as one grid over the whole box
    return x[order], y[order]


def check_roads(city: City) -> None:
    """Raise :class:`InputFileError` when the city has no street surface to watch."""
    if not len(city.road_area):
        raise InputFileError(
            f"{_inputs(city)}: no road surfaces (tran:Road, Track, Square or their traffic "
            "areas) to sample demand on; give the tile's roads file (*_tran_*.gml) too"
        )


def sample_demand(
    city: City,
    *,
    spacing_m: float = 2.0,
    target_height_m: float = 1.5,
    road_weight: float = 1.0,
    sidewalk_weight: float = 1.0,
    priority: Priority | None = None,
    clip: shapely.Polygon | None = None,
    weigh_by: str = "area",
    exclude: Sequence[Any] = (),
) -> Demand:
    """Sample the road surfaces of ``city`` on a grid.

    Parameters
    ----------
    spacing_m : grid spacing in metres (> 0).
    target_height_m : height of the target point above the road surface, metres.
    road_weight, sidewalk_weight : weight of a point on a carriageway / a sidewalk.
    priority : multipliers for points inside priority polygons (the largest one applies).
    clip : keep only points inside this plan polygon (city CRS).
    weigh_by : "area": every point weighs 1 (its grid cell), so a street counts by its
        area and a 30 m avenue ten times a 3 m lane per metre; "length": a point weighs
        the street length it stands for, ``spacing_m ** 2 / width`` metres, where width is
        that of the road surface it lies on (the short side of the rectangle with its area
        and perimeter), so every
        metre of street counts the same, lane or avenue (:func:`street_length`).
        Road, sidewalk and priority weights multiply either.
    exclude : more plan polygons that hold no street point, as building footprints hold
        none: the footprints of the neighbouring tiles' buildings (the halo's), where one
        stored in the next tile stands over this tile's road.

    Returns
    -------
    Demand ordered by grid row (y) then column (x).
    """
    spacing_m = number("sample_demand", "spacing_m", spacing_m, above=0.0)
    road_weight = number("sample_demand", "road_weight", road_weight, minimum=0.0)
    sidewalk_weight = number("sample_demand", "sidewalk_weight", sidewalk_weight, minimum=0.0)
    if clip is not None and not isinstance(clip, shapely.Geometry):
        raise OptionError(
            f"sample_demand: clip must be a shapely polygon, got {type(clip).__name__}"
        )
    if weigh_by not in WEIGH_BY:
        raise OptionError(f"weigh_by must be one of {', '.join(WEIGH_BY)}, got {weigh_by!r}")
    empty = Demand(np.zeros((0, 3)), np.zeros(0), np.zeros(0), np.zeros(0, np.int8), spacing_m)
    if (
        isinstance(target_height_m, bool)
        or not isinstance(target_height_m, numbers.Real)
        or not math.isfinite(target_height_m)
        or target_height_m < 0
    ):
        raise OptionError(f"target_height_m must be a finite number >= 0, got {target_height_m!r}")
    check_roads(city)
    area = city.road_area
    kinds = np.asarray(area.kind)
    polys = np.asarray(shapely.make_valid(np.asarray(area.polygons, object)), object)
    sidewalk = shapely.union_all(polys[kinds == SurfaceKind.SIDEWALK])
    road = shapely.union_all(polys[kinds != SurfaceKind.SIDEWALK])
    everything = shapely.union_all([road, sidewalk])
    if clip is not None:
        everything = everything.intersection(clip)
    if everything.is_empty:
        return empty
    x, y = _grid_on(everything, spacing_m)
    if not x.size:
        raise OptionError(
            f"{_inputs(city)}: demand spacing {spacing_m:g} m puts no grid point on the "
            f"{everything.area:.0f} m^2 of road surface; use a smaller --demand-spacing-m"
        )
    if city.footprints or len(exclude):
        buildings = [*city.footprints, *exclude]
        blocks = shapely.union_all(shapely.make_valid(np.asarray(buildings, object)))
        shapely.prepare(blocks)
        inside = shapely.contains_xy(blocks, x, y)
        x, y = x[~inside], y[~inside]
        if not x.size:
            raise InputFileError(
                f"{_inputs(city)}: every demand point on the road surfaces lies inside a "
                "building footprint (roads and buildings of different places?)"
            )
    if x.size > MAX_POINTS:
        raise OptionError(f"{x.size} demand points is too many; use a larger spacing")
    # A point on a sidewalk polygon is a sidewalk point, even where a road polygon overlaps.
    shapely.prepare(sidewalk)
    on_sidewalk = (
        shapely.contains_xy(sidewalk, x, y) if not sidewalk.is_empty else np.zeros(x.size, bool)
    )
    kind = np.where(on_sidewalk, SurfaceKind.SIDEWALK, SurfaceKind.ROAD).astype(np.int8)
    weight = np.where(on_sidewalk, sidewalk_weight, road_weight).astype(np.float64)
    if priority is not None and x.size:
        mult, hits = _priority_weights(priority, x, y)
        weight *= mult
        _warn_unused(priority, hits)
    xy = np.column_stack([x, y])
    ground = height_at(city.roads if city.roads.n_triangles else city.occluders, xy)
    xyz = np.column_stack([xy, ground + target_height_m])
    road = _road_of(polys, kinds, np.asarray(area.feature), np.column_stack([x, y]), kind)
    if weigh_by == "length":
        streets = city.features.street_of
        widths = _road_widths(polys, streets(area.feature), streets(road), spacing_m)
        weight *= spacing_m**2 / widths
    return Demand(xyz, ground, weight, kind, float(spacing_m), road)


def _road_widths(
    polys: np.ndarray, street: np.ndarray, road: npt.NDArray[np.int64], spacing_m: float
) -> FloatArray:
    """(N,) the width of the street under each point.

    ``street`` gives the street row of each polygon and ``road`` that of each point (-1
    unknown): a road surface feature, or for a traffic area its whole tran:Road, so its
    carriageways and sidewalks count together (:meth:`FeatureTable.street_of`). The width
    is the short side of the rectangle with the street's area and perimeter (exact for a
    rectangular piece, the mean width of a long or branching one), at least one grid
    spacing (a sliver's points are its whole area); the spacing where unknown."""
    feature = np.asarray(street, np.int64)
    rows, pos = np.unique(feature, return_inverse=True)
    area = np.zeros(rows.size)
    perimeter = np.zeros(rows.size)
    count = np.bincount(pos, minlength=rows.size)
    single = count[pos] == 1
    np.add.at(area, pos[single], shapely.area(polys[single]))
    np.add.at(perimeter, pos[single], shapely.length(polys[single]))
    # A street of several pieces: its outline (pieces grouped by one sort, not a scan each).
    order = np.argsort(pos, kind="stable")
    groups = np.split(order, np.cumsum(count)[:-1])
    for g in np.flatnonzero(count > 1).tolist():
        whole = shapely.union_all(polys[groups[g]])
        area[g], perimeter[g] = whole.area, whole.length
    # L + W = P / 2 and L W = A: W is the smaller root; a compact shape (no real root: a
    # disc) is as wide as the square of its area.
    half = perimeter / 2.0
    disc = half**2 - 4.0 * area
    width = np.where(disc >= 0, (half - np.sqrt(np.maximum(disc, 0.0))) / 2.0, np.sqrt(area))
    out = np.full(road.shape[0], float(spacing_m))
    known = road >= 0
    at = np.minimum(np.searchsorted(rows, road[known]), rows.size - 1)
    hit = rows[at] == road[known]
    idx = np.flatnonzero(known)[hit]
    out[idx] = width[at[hit]]
    widths: FloatArray = np.maximum(out, spacing_m)
    return widths


def street_length(city: City, demand: Demand) -> FloatArray:
    """(N,) the metres of street each demand point stands for: its grid cell's area over the
    width of the street it lies on (:func:`_road_widths`: a traffic area's whole road),
    whatever the weights. Their sum is the street length sampled."""
    if demand.road is None or not len(demand):
        return np.full(len(demand), float(demand.spacing_m))
    polys = np.asarray(city.road_area.polygons, object)
    streets = city.features.street_of
    widths = _road_widths(
        polys, streets(city.road_area.feature), streets(demand.road), demand.spacing_m
    )
    lengths: FloatArray = demand.spacing_m**2 / widths
    return lengths


def _road_of(
    polys: np.ndarray, kinds: np.ndarray, feature: np.ndarray, xy: FloatArray, kind: np.ndarray
) -> npt.NDArray[np.int32]:
    """(N,) the feature row of the road surface each point ``xy`` lies on (-1: none): of
    the surfaces under a point, one of its own kind (sidewalk or carriageway) first, then
    the first listed."""
    out = np.full(xy.shape[0], -1, np.int32)
    if not xy.size or not polys.size:
        return out
    tree = shapely.STRtree(polys)
    shapely.prepare(polys)  # halves the query (3 x 3 Osaka block: 0.27 -> 0.15 s)
    pt, poly = tree.query(shapely.points(xy), predicate="intersects")
    if not pt.size:
        return out
    order = np.lexsort((poly, kinds[poly] != kind[pt], pt))
    pt, poly = pt[order], poly[order]
    first = np.r_[True, pt[1:] != pt[:-1]]
    out[pt[first]] = feature[poly[first]]
    return out


def _inputs(city: City) -> str:
    """The city's inputs, for a message: "a.gml", "a.gml, b.gml" or "a.gml and 4 more"."""
    names = list(city.sources)
    if not names:
        return "the loaded city"
    if len(names) <= 2:
        return ", ".join(names)
    return f"{names[0]} and {len(names) - 1} more inputs"


def priority_multiplier(priority: Priority, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) the largest weight of the priority polygons containing each point, else 1."""
    return _priority_weights(priority, x, y)[0]


def _priority_weights(
    priority: Priority, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`priority_multiplier`, and (P,) how many of the points each polygon holds."""
    mult = np.full(np.asarray(x).shape[0], np.nan)
    hits = np.zeros(len(priority.polygons), np.int64)
    for i, (poly, w) in enumerate(zip(priority.polygons, priority.weight, strict=True)):
        if poly.is_empty:
            continue
        shapely.prepare(poly)
        inside = shapely.contains_xy(poly, x, y)
        hits[i] = int(inside.sum())
        mult[inside] = np.fmax(mult[inside], w)
    return np.where(np.isnan(mult), 1.0, mult), hits


def _warn_unused(priority: Priority, hits: np.ndarray) -> None:
    """One warning line for the priority polygons that hold no demand point."""
    unused = np.flatnonzero(hits == 0).tolist()
    if not unused:
        return
    problems = priority.problems or ("",) * len(priority.polygons)
    why = [f"feature {i}: {problems[i]}" for i in unused if problems[i]]
    log.warning(
        "%s: %d of %d priority polygons hold no demand point and change nothing%s",
        priority.source or "priority polygons",
        len(unused),
        len(priority.polygons),
        ": " + "; ".join(why[:3]) + (f"; {len(why) - 3} more" if len(why) > 3 else "")
        if why
        else " (outside the roads loaded?)",
    )


def read_priority(path: str | Path, crs: str) -> Priority:
    """Priority polygons from a GeoJSON file in lon/lat (or in the projected CRS its old-style
    ``crs`` member names, as QGIS may write); each feature's ``weight`` property (default 2)
    multiplies the weight of the demand points inside it."""
    p = Path(path)
    doc = read_json(p, "GeoJSON")
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list) or not feats:
        raise InputFileError(f"{p}: not a GeoJSON FeatureCollection with features")
    try:
        to_lonlat = geojson_to_lonlat(doc)
    except CRSError as e:
        raise InputFileError(f"{p}: {e}") from None
    polys: list[shapely.Polygon | shapely.MultiPolygon] = []
    weights: list[float] = []
    problems: list[str] = []
    names: list[str] = []
    for n, f in enumerate(feats):
        try:
            geom = shapely.geometry.shape((f or {}).get("geometry"))
        except (AttributeError, TypeError, ValueError, shapely.errors.GEOSException) as e:
            raise InputFileError(f"{p}: feature {n}: broken geometry ({e})") from e
        if geom.geom_type not in {"Polygon", "MultiPolygon"}:
            raise InputFileError(f"{p}: feature {n} is a {geom.geom_type}, not a polygon")
        raw = ((f.get("properties") or {}).get("weight", 2.0)) if f else 2.0
        try:
            w = float(raw)
        except (TypeError, ValueError):
            raise InputFileError(f"{p}: feature {n}: weight is not a number: {raw!r}") from None
        if not np.isfinite(w):
            raise InputFileError(f"{p}: feature {n}: weight must be a finite number, got {raw!r}")
        if w < 0:
            raise InputFileError(f"{p}: feature {n}: weight must be >= 0, got {raw!r}")
        if w > MAX_PRIORITY_WEIGHT:
            raise InputFileError(
                f"{p}: feature {n}: weight {raw!r} is too large (at most {MAX_PRIORITY_WEIGHT:g})"
            )
        coords = shapely.get_coordinates(geom)
        if not np.isfinite(coords).all():
            raise InputFileError(f"{p}: feature {n}: a coordinate is not a finite number")
        if to_lonlat is not None:
            coords = np.column_stack(to_lonlat(coords[:, 0], coords[:, 1]))
            geom = shapely.set_coordinates(geom, coords)
        poly, problem = _to_metric_geom(geom, coords, crs)
        polys.append(poly)
        problems.append(problem)
        weights.append(w)
        name = (f.get("properties") or {}).get("name") if f else None
        names.append("" if name is None else str(name))
    if all(problems):
        more = f" ({len(problems) - 1} more alike)" if len(problems) > 1 else ""
        raise InputFileError(f"{p}: no usable polygon: feature 0: {problems[0]}{more}")
    return Priority(tuple(polys), tuple(weights), str(p), tuple(problems), tuple(names))


def priority_coverage(
    priority: Priority, demand: Demand, covered: npt.NDArray[np.bool_]
) -> list[dict[str, Any]]:
    """How much of each priority area the plan covers.

    Parameters
    ----------
    priority : the priority areas.
    demand : the demand points (weights include the areas' multipliers).
    covered : (N,) which points count as seen.

    Returns
    -------
    One dict per area, in file order: ``area`` (1-based), ``name``, ``multiplier``,
    ``points``, ``weight``, ``covered_points``, ``covered_weight`` and ``covered_fraction``
    (of its weight; 0 for an area holding no point).
    """
    x, y = demand.xyz[:, 0], demand.xyz[:, 1]
    rows = []
    for i, (poly, mult) in enumerate(zip(priority.polygons, priority.weight, strict=True)):
        inside = np.zeros(len(demand), bool)
        if not poly.is_empty and len(demand):
            shapely.prepare(poly)
            inside = np.asarray(shapely.contains_xy(poly, x, y), bool)
        w = float(demand.weight[inside].sum())
        seen = inside & covered
        cw = float(demand.weight[seen].sum())
        rows.append(
            {
                "area": i + 1,
                "name": priority.names[i] if i < len(priority.names) else "",
                "multiplier": float(mult),
                "points": int(inside.sum()),
                "weight": w,
                "covered_points": int(seen.sum()),
                "covered_weight": cw,
                "covered_fraction": cw / w if w > 0 else 0.0,
            }
        )
    return rows


def _to_metric_geom(
    geom: shapely.Polygon | shapely.MultiPolygon, coords: np.ndarray, crs: str
) -> tuple[shapely.Polygon | shapely.MultiPolygon, str]:
    """The polygon in ``crs``, and "" or why it is left empty (it then holds no point)."""
    lon, lat = coords[:, 0], coords[:, 1]
    bad = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        swapped = (np.abs(lat) <= 180).all() and (np.abs(lon) <= 90).all()
        hint = " (swapped? GeoJSON puts longitude first)" if swapped else ""
        return shapely.Polygon(), f"[{lon[i]:.10g}, {lat[i]:.10g}] is not longitude, latitude{hint}"
    x, y, _ = to_metric(lat, lon, np.zeros(coords.shape[0]), crs)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return shapely.Polygon(), "too far from Japan to project"
    out = shapely.set_coordinates(geom, np.column_stack([x, y]))
    with np.errstate(all="ignore"):
        return shapely.make_valid(out), ""


def summarize_demand(demand: Demand) -> dict[str, float | int]:
    """Counts and weights per road kind, for summaries."""
    side = demand.kind == SurfaceKind.SIDEWALK
    return {
        "points": len(demand),
        "road_points": int((~side).sum()),
        "sidewalk_points": int(side.sum()),
        "total_weight": float(demand.weight.sum()),
        "spacing_m": demand.spacing_m,
    }


__all__: Sequence[str] = [
    "MAX_PRIORITY_WEIGHT",
    "Priority",
    "priority_multiplier",
    "read_priority",
    "sample_demand",
    "summarize_demand",
]
