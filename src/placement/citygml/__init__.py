"""Read PLATEAU CityGML 2.0 into a :class:`~placement.model.City` in metres.

``read_citygml(paths)`` takes .gml files, folders (a PLATEAU ``udx/`` tree is searched
recursively for ``*.gml``) and PLATEAU .zip files (members are streamed, never unpacked
to disk). Each file is stream-parsed (lxml ``iterparse`` over the feature tags, each
feature cleared after use), all its coordinates go through ONE pyproj transform into a
JGD2011 plane rectangular zone, and all its polygons are triangulated in one batch.

What is read
------------
- ``bldg:Building`` / ``bldg:BuildingPart``: LOD2 (``boundedBy`` Wall/Roof/Ground/...
  ``lod2MultiSurface``; ``lod2Solid`` xlinks point at those) > LOD1 (inline solid) > LOD3 >
  LOD0 (``lod0FootPrint``/``lod0RoofEdge`` extruded by ``measuredHeight``, or
  ``default_height_m`` when missing / -9999). Footprints come from LOD0 where present.
- ``tran:Road``: its ``TrafficArea`` / ``AuxiliaryTrafficArea`` (ROAD or SIDEWALK by
  ``tran:function``) when it has any, else its own ``lodNMultiSurface`` (ROAD). Flat
  roads (every z = 0, as in Osaka's LOD1) are lifted onto the DEM when one is loaded,
  else onto an inverse-distance estimate from the bases of the nearest buildings.
- ``frn:CityFurniture``: occluders (FURNITURE); pole-like functions (see
  ``POLE_FUNCTIONS``) also become :class:`~placement.model.Poles`.
- ``veg:SolitaryVegetationObject`` / ``veg:PlantCover``: occluders (VEGETATION).
- ``dem:TINRelief``: occluders (TERRAIN), and the ground under flat roads.

Errors: a file that cannot be read at all raises :class:`~placement.errors.CityGMLError`
naming it; a feature with broken geometry is skipped, counted in ``City.skipped`` and
described in ``City.warnings``; a broken polygon of an otherwise good feature is dropped
with a warning.

``placement inspect --json`` schema (:func:`summarize`)
--------------------------------------------------------
``crs`` str
    Metric CRS of the city, e.g. "EPSG:6674".
``source_crs`` str
    CRS of the input files, e.g. "EPSG:6697".
``sources`` list[str]
    Files read (``zip!member`` for zip members).
``counts`` dict[str, int]
    Class -> features loaded with geometry, e.g. {"Building": 80, "Road": 3,
    "TrafficArea": 15}.
``lod`` dict[str, dict[str, int]]
    Class -> {"lod0": n, "lod1": n, "lod2": n, ...}: the LOD actually used.
``bounds_m`` list[float]
    [minx, miny, minz, maxx, maxy, maxz] over occluders and roads, metres.
``triangles`` int
    Occluder + road triangles.
``triangles_by_kind`` dict[str, int]
    Surface kind name in lower case ("wall", "roof", "road", ...) -> triangles.
``poles`` int
    Pole-like furniture found.
``ground_source`` str
    "model", "dem", "buildings" or "none" (see ``City.ground_source``).
``warnings`` int, ``warning_messages`` list[str]
    Number of warnings, and the first 50 of them.
``skipped`` int
    Features skipped because their geometry was broken.
``road_area_m2`` float
    Total plan area of the road polygons, square metres.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from placement.citygml._build import DEFAULT_POLE_HEIGHT_M, build_file, choose_crs, merge
from placement.citygml._parse import POLE_FUNCTIONS, parse_file, read_header
from placement.citygml._sources import Source, expand_inputs
from placement.crs import check_metric_crs
from placement.errors import CityGMLError
from placement.model import City, SurfaceKind

__all__ = [
    "DEFAULT_POLE_HEIGHT_M",
    "POLE_FUNCTIONS",
    "Source",
    "expand_inputs",
    "read_citygml",
    "summarize",
]

log = logging.getLogger(__name__)


def read_citygml(
    paths: str | Path | Sequence[str | Path],
    *,
    crs: str | None = None,
    default_height_m: float = 9.0,
    progress: Callable[[int, int], None] | None = None,
) -> City:
    """Load PLATEAU CityGML files, folders or zips into one :class:`City`.

    Parameters
    ----------
    paths : a .gml file, a folder (searched recursively), a .zip, or a list of them.
    crs : the metric CRS of the result, e.g. "EPSG:6674"; by default the JGD2011 plane
        rectangular zone covering the first file (:func:`placement.crs.zone_for_lonlat`).
    default_height_m : height of a LOD0-only building without a usable
        ``measuredHeight``, metres.
    progress : called as ``progress(files_done, files_total)`` after each file.

    Returns
    -------
    The city in metres. ``City.extra["files"]`` holds per-file feature counts.

    Raises
    ------
    CityGMLError : a file is unreadable (not XML, truncated, not CityGML 2.0, no or
        unsupported CRS), or nothing at all was loaded from the inputs.
    """
    if not (np.isfinite(default_height_m) and default_height_m > 0):
        raise CityGMLError(None, f"default_height_m must be positive, got {default_height_m}")
    sources = expand_inputs(paths)
    target = check_metric_crs(crs) if crs is not None else None
    parts = []
    source_codes: list[int] = []
    empty_warnings: list[str] = []
    for i, source in enumerate(sources):
        srs = read_header(source)
        raw = parse_file(source, srs)
        if not raw.ids:
            msg = (
                f"{source.label}: no supported features "
                "(Building, Road, CityFurniture, vegetation, TINRelief)"
            )
            empty_warnings.append(msg)
            log.warning("%s", msg)
        if raw.ids and raw.srs_epsg >= 0:
            source_codes.append(raw.srs_epsg)
        if target is None:
            target = choose_crs(raw)
        if target is not None:
            parts.append(build_file(raw, target, default_height_m=default_height_m))
        else:
            parts.append(build_file(raw, "EPSG:6677", default_height_m=default_height_m))
        if progress is not None:
            progress(i + 1, len(sources))
    loaded = sum(len(p.raw.ids) for p in parts)
    if loaded == 0:
        where = sources[0].label if len(sources) == 1 else f"{len(sources)} inputs"
        raise CityGMLError(where, "no CityGML features found (empty tile?)")
    codes = sorted(set(source_codes))
    source_crs = ", ".join(f"EPSG:{c}" for c in codes) if codes else "unknown"
    assert target is not None
    city = merge(parts, target, source_crs, tuple(s.label for s in sources))
    if empty_warnings:
        city = City(
            **{**city.__dict__, "warnings": tuple(empty_warnings) + city.warnings},
        )
    city.extra["files"] = {p.raw.source.label: len(p.raw.ids) for p in parts}
    log.info(
        "loaded %d features (%d occluder and %d road triangles) from %d files, %d warnings",
        len(city.features),
        city.occluders.n_triangles,
        city.roads.n_triangles,
        len(sources),
        len(city.warnings),
    )
    return city


def summarize(city: City) -> dict[str, Any]:
    """What was loaded, as the ``placement inspect --json`` dict (schema above)."""
    f = city.features
    loaded = f.lod >= 0
    counts: dict[str, int] = {}
    lods: dict[str, dict[str, int]] = {}
    for c, lod, ok in zip(f.cls, f.lod.tolist(), loaded.tolist(), strict=True):
        if not ok:
            continue
        counts[c] = counts.get(c, 0) + 1
        d = lods.setdefault(c, {})
        d[f"lod{lod}"] = d.get(f"lod{lod}", 0) + 1
    kinds = np.concatenate([city.occluders.kind, city.roads.kind])
    by_kind = {
        SurfaceKind(k).name.lower(): int(n)
        for k, n in zip(*np.unique(kinds, return_counts=True), strict=True)
    }
    road_area = (
        float(shapely.area(np.array(city.road_area.polygons, dtype=object)).sum())
        if len(city.road_area)
        else 0.0
    )
    return {
        "crs": city.crs,
        "source_crs": city.source_crs,
        "sources": list(city.sources),
        "counts": counts,
        "lod": lods,
        "bounds_m": [round(v, 3) for v in city.bounds()],
        "triangles": city.occluders.n_triangles + city.roads.n_triangles,
        "triangles_by_kind": by_kind,
        "poles": len(city.poles),
        "ground_source": city.ground_source,
        "warnings": len(city.warnings),
        "warning_messages": list(city.warnings[:50]),
        "skipped": int(city.skipped),
        "road_area_m2": round(road_area, 2),
    }
