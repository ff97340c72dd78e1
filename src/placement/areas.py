"""Street areas as polygons: what each camera sees, and the streets by coverage level.

Street points lie on a square grid aligned to whole multiples of the spacing
(:mod:`placement.demand`), each standing for its grid cell. The area a set of points stands
for is the union of their cells (exact and fast: the cells of one grid form a coverage, so
``shapely.coverage_union_all`` merges them), cut to the street surface (the road polygons
less the building footprints), so that polygons end at the kerb and not on the cells'
staircase. A polygon's ``area_m2`` is that cut area; ``points`` and ``weight`` are those of
the points it was made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import shapely

from placement.model import City, Demand

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Area:
    """One polygon (or multipolygon) of street in the city CRS, with what it holds."""

    geometry: Any  # shapely Polygon or MultiPolygon, plan x, y in metres
    points: int
    weight: float

    @property
    def area_m2(self) -> float:
        return float(self.geometry.area)


def street_surface(city: City, more_footprints: Sequence[Any] = ()) -> Any:
    """The street surface in plan: the road polygons less the building footprints (and
    ``more_footprints``: the neighbouring tiles' buildings, the halo's)."""
    polys = shapely.make_valid(np.asarray(city.road_area.polygons, object))
    surface = shapely.union_all(polys)
    buildings = [*city.footprints, *more_footprints]
    if buildings:
        blocks = shapely.union_all(shapely.make_valid(np.asarray(buildings, object)))
        surface = surface.difference(blocks)
    return surface


def cells_area(xy: FloatArray, spacing_m: float, surface: Any | None = None) -> Any:
    """The union of the grid cells of points ``xy`` (N, 2), cut to ``surface`` when given.

    The cells' edges are computed from whole grid indices, so neighbours share them
    exactly, whatever the spacing (the union is then a coverage union)."""
    if len(xy) == 0:
        return shapely.Polygon()
    i = np.rint(np.asarray(xy[:, 0], np.float64) / spacing_m)
    j = np.rint(np.asarray(xy[:, 1], np.float64) / spacing_m)
    boxes = shapely.box(
        (i - 0.5) * spacing_m, (j - 0.5) * spacing_m, (i + 0.5) * spacing_m, (j + 0.5) * spacing_m
    )
    # The cells' shared corners along straight runs of edge go: 2 m cells would
    # otherwise put a vertex every 2 m along every kerb.
    union = shapely.simplify(shapely.coverage_union_all(boxes), 0.0)
    if surface is not None:
        # Cut to the surface near the cells only (a rectangle clip is cheap; a camera sees
        # a small part of a tile's street network).
        near = shapely.clip_by_rect(surface, *union.bounds)
        try:
            cut = union.intersection(near)
        except shapely.errors.GEOSException:  # the clip can leave an invalid polygon
            cut = union.intersection(surface)
        union = shapely.make_valid(cut)
        union = _polygonal(union)
    return union


def _polygonal(geom: Any) -> Any:
    """The polygons of ``geom`` (an intersection can leave slivers of lines and points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


def level_areas(
    demand: Demand, levels: npt.ArrayLike, surface: Any | None = None
) -> dict[int, Area]:
    """The street area at each coverage level (0 = unseen, 1..4 the DORI levels) that some
    point reaches; ``levels`` (N,) is each point's level (-1: a class of the caller's own
    below the levels, such as "seen by fewer than k").

    With a ``surface``, level 0 is the rest of it: the street no camera is shown to see,
    strips too narrow for a grid point included, so the levels' areas add up to the
    surface's. (It is also much cheaper than the union of most of a tile's cells.)"""
    lv = np.clip(np.asarray(levels, np.int64), -1, 4)
    if lv.shape != (len(demand),):
        raise ValueError(f"areas: {len(demand)} demand points but levels of shape {lv.shape}")
    out: dict[int, Area] = {}
    xy = demand.xyz[:, :2]
    for level in np.unique(lv).tolist():
        m = lv == level
        if level == 0 and surface is not None:
            seen = cells_area(xy[lv != 0], demand.spacing_m)
            geom = _polygonal(shapely.make_valid(shapely.difference(surface, seen)))
        else:
            geom = cells_area(xy[m], demand.spacing_m, surface)
        out[int(level)] = Area(geom, int(m.sum()), float(demand.weight[m].sum()))
    return out


def camera_areas(
    demand: Demand, seen: Any, min_level: int = 1, surface: Any | None = None
) -> list[dict[int, Area]]:
    """Per camera (a row of ``seen``, K x N, entry = DORI level 1..4, 0 = unseen), the
    street area it sees at each level from ``min_level`` up, the levels not overlapping."""
    m = sp.csr_matrix(seen)
    if m.shape[1] != len(demand):
        raise ValueError(f"areas: {len(demand)} demand points but {m.shape[1]} columns")
    out = []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        cols = m.indices[lo:hi]
        vals = np.asarray(m.data[lo:hi], np.int64)
        mine: dict[int, Area] = {}
        for level in range(max(int(min_level), 1), 5):
            pts = cols[vals == level]
            if pts.size:
                geom = cells_area(demand.xyz[pts, :2], demand.spacing_m, surface)
                mine[level] = Area(geom, int(pts.size), float(demand.weight[pts].sum()))
        out.append(mine)
    return out
