"""Read PLATEAU CityGML 2.0 into a :class:`~placement.model.City` in metres.

``read_citygml(paths)`` takes .gml files, folders (a PLATEAU ``udx/`` tree is searched
recursively for ``*.gml``) and PLATEAU .zip files (members are streamed, never unpacked
to disk). In folders and zips, files whose PLATEAU name says they hold nothing read here
(flood, land use, urban planning, ...: ``NOT_READ_KINDS``) are left out. Each file is
stream-parsed (lxml ``iterparse`` over the feature tags, each feature cleared after use),
all its coordinates go through ONE pyproj transform into a JGD2011 plane rectangular
zone, and all its polygons are triangulated in one batch.

What is read
------------
- ``bldg:Building`` / ``bldg:BuildingPart``: LOD2 (``boundedBy`` Wall/Roof/Ground/...
  ``lod2MultiSurface``; ``lod2Solid`` xlinks point at those; or ``lod2MultiSurface`` /
  inline ``lod2Solid``) > LOD1 (inline solid) > LOD3 > LOD0 (``lod0FootPrint``, else
  ``lod0RoofEdge``, extruded by ``measuredHeight``, or ``default_height_m`` when missing /
  -9999: up from a footprint, down from a roof edge, which lies at roof height; an
  outline without heights (z = 0) stands on the DEM when one is loaded). A building whose
  geometry is all in its parts takes their LOD. Footprints come from LOD0 where present.
- ``brid:Bridge`` / ``brid:BridgePart``: occluders (BRIDGE), from the bridge's own
  solids and surfaces, its ``boundedBy`` surfaces and its construction elements (deck,
  piers) and installations; LOD2 > LOD1 > LOD3 > LOD4. A bridge is not a building: it
  gives no ground height and no footprint.
- ``uro:OtherConstruction`` (any uro release; PLATEAU ``cons`` files: walls, sound
  barriers, retaining walls, embankments): occluders (CONSTRUCTION), from its own
  ``lodNGeometry``, its ``boundedBy`` surfaces and its installations; LOD2 > LOD1 >
  LOD3 (LOD0 lines have no height and are not read).
- ``tran:Road``, ``tran:Track``, ``tran:Square``: their ``TrafficArea`` /
  ``AuxiliaryTrafficArea`` (ROAD or SIDEWALK by ``tran:function``) when they have any,
  else their own ``lodNMultiSurface`` (ROAD for a road, SIDEWALK for a track or square).
  Flat roads (every z = 0, as in Osaka's LOD1) are lifted onto the DEM when one is
  loaded, else onto an inverse-distance estimate from the bases of the nearest buildings.
- ``frn:CityFurniture``: occluders (FURNITURE); pole-like functions (see
  ``POLE_FUNCTIONS``) also become :class:`~placement.model.Poles`. Furniture without
  surfaces is placed by its points (``uro:lod0Geometry``) or by the reference point of
  its implicit geometry (the template itself is not read).
- ``veg:SolitaryVegetationObject`` / ``veg:PlantCover``: occluders (VEGETATION). A tree
  given only as a point (implicit geometry, lod0) with ``veg:height`` becomes an
  octagonal prism of its ``veg:crownDiameter``.
- ``dem:TINRelief`` (triangles of a ``gml:TriangulatedSurface`` or ``gml:Tin``):
  occluders (TERRAIN), and the ground under flat roads.

Any i-UR ``uro`` release (1.4 to 3.x) or none; ``srsName`` on the envelope or on each
geometry, in any EPSG spelling (URL, URN, compound; a geometry in another CRS than its
file's is skipped with a warning); 2D files (EPSG:6668 with ``srsDimension`` 2, or 2D
rings that only 2 closes) get z = 0. The zone is the official one of the municipality code in
``uro:city`` / ``uro:prefecture`` or in the PLATEAU dataset name, else a guess from the
coordinates (:func:`placement.crs.zone_for_lonlat`).

Errors: a file that cannot be read at all raises :class:`~placement.errors.CityGMLError`
naming it (an encrypted zip member included); so does a file whose coordinates all lie
outside Japan, saying whether they look swapped (longitude first under a lat/lon CRS),
are not degrees, or are degrees under a plane rectangular CRS (``_extent``). A feature
with broken geometry is skipped, counted in ``City.skipped`` and described in
``City.warnings`` (a feature whose only geometry is xlinks to ids it does not hold names
them); a broken polygon of an otherwise good feature (bad numbers, fewer than 3 distinct
points, no area, self-intersecting, outside Japan) is dropped with a warning.

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
``bounds_m`` list[float] or None
    [minx, miny, minz, maxx, maxy, maxz] over occluders and roads, metres; None when
    nothing has a surface (furniture drawn only as LOD0 lines, say).
``triangles`` int
    Occluder + road triangles.
``triangles_by_kind`` dict[str, int]
    Surface kind name in lower case ("wall", "roof", "road", ...) -> triangles.
``poles`` int
    Pole-like furniture found.
``ground_source`` str
    "model", "dem", "buildings", "model and dem", "model and buildings", "dem and
    buildings", "model and dem and buildings", "model and roads" or "none" (see
    ``City.ground_source``).
``warnings`` int, ``warning_messages`` list[str]
    Number of warnings, and the first 50 of them.
``skipped`` int
    Features skipped because their geometry was broken.
``road_area_m2`` float
    Total plan area of the road polygons, square metres.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely

from placement.citygml._build import (
    DEFAULT_POLE_HEIGHT_M,
    POLE_BASE_M,
    FilePart,
    build_file,
    choose_crs,
    merge,
)
from placement.citygml._extent import check_extent
from placement.citygml._header import read_header
from placement.citygml._parse import parse_file
from placement.citygml._sources import Source, expand_inputs
from placement.citygml._tags import POLE_FUNCTIONS
from placement.crs import (
    SCALE_ERROR_MAX,
    SCALE_ERROR_WARN,
    check_metric_crs,
    scale_error,
    to_lonlat,
)
from placement.errors import CityGMLError, CRSError, OptionError
from placement.model import City, SurfaceKind

__all__ = [
    "DEFAULT_POLE_HEIGHT_M",
    "POLE_BASE_M",
    "POLE_FUNCTIONS",
    "Source",
    "expand_inputs",
    "read_citygml",
    "summarize",
]

log = logging.getLogger(__name__)

#: One file read: its part in metres and the zone it picked (None: no geometry).
_Loaded = tuple[FilePart, str | None]


class _Failed(NamedTuple):
    """A CityGMLError raised in a worker, carried back as plain values."""

    path: str | None
    problem: str
    feature: str | None


def read_citygml(
    paths: str | Path | Sequence[str | Path],
    *,
    crs: str | None = None,
    default_height_m: float = 9.0,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> City:
    """Load PLATEAU CityGML files, folders or zips into one :class:`City`.

    Parameters
    ----------
    paths : a .gml file, a folder (searched recursively), a .zip, or a list of them.
    crs : the metric CRS of the result, e.g. "EPSG:6674"; by default the JGD2011 plane
        rectangular zone of the first file with geometry: the official zone of its
        municipality when the file or its dataset name gives the code, else the zone
        :func:`placement.crs.zone_for_lonlat` guesses from its coordinates.
    default_height_m : height of a LOD0-only building without a usable
        ``measuredHeight``, metres.
    progress : called as ``progress(files_done, files_total)`` after each file.
    workers : processes that parse files at once (this one included). Files are the
        unit of work, so this helps folders and zips of several tiles; the result is the
        same as with 1 (files are merged in input order). Above 1, the workers are child
        interpreters (:mod:`placement._workers`, never a re-run of the caller's script),
        started once per Python process in about half a second and kept.

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
    if not (isinstance(workers, int) and workers >= 1):
        raise OptionError(f"workers must be a whole number >= 1, got {workers!r}")
    sources = expand_inputs(paths)
    target = check_metric_crs(crs) if crs is not None else None
    if workers > 1 and len(sources) > 1:
        loaded_files = _load_parallel(sources, target, default_height_m, workers, progress)
    else:
        loaded_files = []
        for i, source in enumerate(sources):
            loaded_files.append(_load_one(source, target, default_height_m))
            if target is None:
                target = loaded_files[-1][1]
            if progress is not None:
                progress(i + 1, len(sources))
    if target is None:
        # The first file with geometry picks the zone, as in a one-by-one read.
        target = next((chosen for _, chosen in loaded_files if chosen is not None), None)
    parts = []
    kept: list[Source] = []
    source_codes: list[int] = []
    empty_warnings: list[str] = []
    no_features: list[str] = []  # said only if the run goes on: else the error says it
    first_of: dict[str, str] = {}  # content digest -> the input that loaded it first
    # class and id of a feature -> the input that loaded it first, and where it stands
    owner: dict[str, tuple[str, tuple[float, float]]] = {}
    for source, (first_part, chosen) in zip(sources, loaded_files, strict=True):
        part = first_part
        if chosen is not None and target is not None and chosen != target:
            # Read in parallel before the zone was known, and another zone fits it.
            part, _ = _load_one(source, target, default_height_m)
        raw = part.raw
        # The same data twice (a copy, a zip's member beside the zip): the same features
        # with the same coordinates. Ids alone are not enough: other producers than PLATEAU
        # number their features per file.
        digest = _content_digest(part) if raw.ids else None
        if digest is not None and digest in first_of:
            msg = (
                f"{source.label}: the same features as {first_of[digest]} "
                "(the same data twice?): skipped"
            )
            empty_warnings.append(msg)
            log.warning("%s", msg)
            continue
        if digest is not None:
            first_of[digest] = source.label
        # Part of the data twice (two versions of a tile, a trimmed copy beside the whole
        # one): both stay, but the run should say so, as streets there would count twice.
        keys, places = _feature_places(part)
        shared = [
            k
            for k, xy in zip(keys, places, strict=True)
            if k in owner and math.dist(owner[k][1], xy) <= SAME_PLACE_M
        ]
        if shared:
            msg = (
                f"{source.label}: {len(shared)} of its {len(keys)} features have the ids of "
                f"features at the same places in {owner[shared[0]][0]} (first: "
                f"{shared[0].split(chr(0))[1]}): "
                "overlapping inputs (one tile twice, or two versions of it?); both are "
                "loaded, so what they share counts twice"
            )
            empty_warnings.append(msg)
            log.warning("%s", msg)
        for k, xy in zip(keys, places, strict=True):
            owner.setdefault(k, (source.label, xy))
        if not raw.ids:
            msg = f"{source.label}: {_NO_SUPPORTED}"
            no_features.append(msg)
        if raw.ids and raw.srs_epsg >= 0:
            source_codes.append(raw.srs_epsg)
        parts.append(part)
        kept.append(source)
    loaded = sum(len(p.raw.ids) for p in parts)
    where = sources[0].label if len(sources) == 1 else f"{len(sources)} inputs"
    if loaded == 0:
        raise CityGMLError(where, _NO_SUPPORTED + (" in any of them" if len(sources) > 1 else ""))
    if not any(lod >= 0 for p in parts for lod in p.raw.lod):
        # Every feature was skipped: say why (the first feature's warning), not later on.
        skipped = sum(p.raw.skipped for p in parts)
        first = next((w for p in parts for w in p.raw.warnings), "")
        if len(sources) == 1 and first.startswith(where + ": "):
            first = first[len(where) + 2 :]
        raise CityGMLError(
            where,
            f"no feature with usable geometry ({skipped} skipped"
            + (f"; first: {first})" if first else ")"),
        )
    if target is None:
        raise CityGMLError(where, "no polygon to choose a plane zone by: give --crs EPSG:66xx")
    for msg in no_features:
        log.warning("%s", msg)
    empty_warnings = no_features + empty_warnings
    codes = sorted(set(source_codes))
    source_crs = ", ".join(f"EPSG:{c}" for c in codes) if codes else "unknown"
    city = merge(parts, target, source_crs, tuple(s.label for s in kept))
    if crs is not None:
        empty_warnings += _distorting(city)
    empty_warnings += _far_apart(city)
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


_NO_SUPPORTED = (
    "no supported features (Building, Bridge, OtherConstruction, Road, Track, Square, "
    "CityFurniture, vegetation, TINRelief): an empty tile, or only kinds placement does "
    "not read (Railway, WaterBody, LandUse, ...)"
)


#: Inputs spread wider than this are likely different places (a city's tiles for one run
#: are a few km across; a whole ward about 10 km).
FAR_APART_M = 30_000.0


def _far_apart(city: City) -> list[str]:
    """A warning when the inputs spread over different places: they all
    share the first file's plane zone, which distorts distances far from it."""
    out = []
    x0, y0, _, x1, y1, _ = city.bounds()
    span = max(x1 - x0, y1 - y0)
    if span > FAR_APART_M:
        out.append(
            f"inputs span {span / 1000:.0f} km: tiles of different places? (one run is meant "
            f"for one area, all in {city.crs}, which distorts distances far from its zone)"
        )
    return out  # not logged here: the caller reports load warnings (run: one line)


def _feature_keys(part: FilePart, *, made_up: bool = False) -> list[str]:
    """Class and id of each of a file's features ("Building\0bldg_..."), in file order;
    ids made up for features without one (they hold the file's name) are left out, or
    with ``made_up`` given as the class alone."""
    raw = part.raw
    keys = []
    for fid, cls in zip(raw.ids, raw.cls, strict=True):
        head = f"{cls}-{raw.source.name}-"
        if not (fid.startswith(head) and fid[len(head) :].isdigit()):
            keys.append(f"{cls}\0{fid}")
        elif made_up:
            keys.append(f"{cls}\0")
    return keys


#: One feature id in two inputs names one object when they stand this near (plan
#: centroids, metres); farther apart, it is another producer numbering its features alike.
SAME_PLACE_M = 5.0


def _feature_places(part: FilePart) -> tuple[list[str], list[tuple[float, float]]]:
    """Class and id (as :func:`_feature_keys`) and plan centroid of the triangles' first
    corners of each feature with an id of its own and triangles."""
    n = len(part.raw.ids)
    sums = np.zeros((n, 2))
    count = np.zeros(n)
    for mesh in (part.occ, part.roads):
        f = mesh.feature
        ok = (f >= 0) & (f < n)
        xy = mesh.vertices[mesh.faces[ok, 0], :2]
        count += np.bincount(f[ok], minlength=n)
        for j in range(2):
            sums[:, j] += np.bincount(f[ok], weights=xy[:, j], minlength=n)
    own = _feature_keys(part, made_up=True)
    keys, where = [], []
    for i, k in enumerate(own):
        if count[i] > 0 and not k.endswith("\0"):
            keys.append(k)
            where.append((float(sums[i, 0] / count[i]), float(sums[i, 1] / count[i])))
    return keys, where


def _content_digest(part: FilePart) -> str:
    """A digest of a file's features, whatever their order in the file: their classes and
    ids (those made up for features without one hold the file's name, so they are left
    out), and sums of their vertices to the millimetre and of their squares (integers, so
    the order does not change them)."""
    keys = _feature_keys(part, made_up=True)
    h = hashlib.blake2b(digest_size=16)
    h.update("\n".join(sorted(keys)).encode())
    for a in (part.occ.vertices, part.roads.vertices, part.pole_xyz):
        mm = np.rint(np.asarray(a, np.float64) * 1000.0).astype(np.int64)
        with np.errstate(over="ignore"):  # wraps around: still the same for the same data
            sums = (mm.sum(axis=0), (mm * mm).sum(axis=0))
        h.update(np.array([mm.shape[0]], np.int64).tobytes())
        for t in sums:
            h.update(np.ascontiguousarray(t, np.int64).tobytes())
    return h.hexdigest()


def _distorting(city: City) -> list[str]:
    """A warning when the CRS the user chose stretches distances at the data a little;
    a :class:`CRSError` when it stretches them by more than ``SCALE_ERROR_MAX``."""
    if city.occluders.n_triangles + city.roads.n_triangles:
        x0, y0, _, x1, y1, _ = city.bounds()
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
    elif len(city.poles):
        x, y = (float(v) for v in city.poles.xyz[:, :2].mean(axis=0))
    else:
        return []  # nothing placed to measure the scale at
    lon, lat = to_lonlat(np.array([x]), np.array([y]), city.crs)
    err = scale_error(city.crs, float(lon[0]), float(lat[0]))
    where = f"at {float(lon[0]):.4f}, {float(lat[0]):.4f}"
    if err > SCALE_ERROR_MAX:
        raise CRSError(
            f"CRS {city.crs} stretches distances by {err:.1%} {where}, and every range and "
            "length would be off by as much: leave --crs out (the data's plane rectangular "
            "zone is chosen) or give that zone"
        )
    if err > SCALE_ERROR_WARN:
        return [
            f"CRS {city.crs} stretches distances by {err:.2%} {where}: the data's own plane "
            "rectangular zone (chosen when --crs is left out) keeps them within 0.01 %"
        ]
    return []


def _load_one(source: Source, target: str | None, default_height_m: float) -> _Loaded:
    """Read one document into metres: in ``target``, else in the zone it picks itself.

    Returns the file's part (its raw rings dropped: they are no longer needed) and the
    zone the file picks (``target`` when given; None without any geometry).
    """
    raw = parse_file(source, read_header(source))
    check_extent(raw)
    chosen = target if target is not None else choose_crs(raw)
    part = build_file(raw, chosen or "EPSG:6677", default_height_m=default_height_m)
    raw.drop_geometry()
    return part, chosen


def _load_job(source: Source, target: str | None, default_height_m: float) -> _Loaded | _Failed:
    """:func:`_load_one` in a worker; a CityGMLError comes back as a value (it does not
    survive pickling as an exception)."""
    try:
        return _load_one(source, target, default_height_m)
    except CityGMLError as exc:
        return _Failed(exc.path, exc.problem, exc.feature)


def _load_parallel(
    sources: list[Source],
    target: str | None,
    default_height_m: float,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[_Loaded]:
    """:func:`_load_one` over all sources on ``workers - 1`` child interpreters
    (:mod:`placement._workers`) and this process.

    Files are taken largest first, by this process and by each worker the moment it is
    free, so what is left at the end is small files and nobody waits long. Results come
    back in input order. The first file (in input order) that fails raises its error, as a
    one-by-one read would. A worker that dies hands its file back to this process.
    """
    import threading
    from collections import deque

    from placement._workers import WorkerError
    from placement._workers import workers as worker_pool

    results: list[_Loaded | _Failed | None] = [None] * len(sources)
    queue = deque(sorted(range(len(sources)), key=lambda i: -sources[i].size))
    lock = threading.Lock()
    done = 0

    def take() -> int:
        with lock:
            return queue.popleft() if queue else -1

    def collect(i: int, result: _Loaded | _Failed) -> None:
        nonlocal done
        with lock:
            results[i] = result
            done += 1
            if progress is not None:
                progress(done, len(sources))

    def local(i: int) -> None:
        # This process's share costs no pickling.
        collect(i, _load_job(sources[i], target, default_height_m))

    def serve(w: Any) -> None:
        while (i := take()) >= 0:
            try:
                got = w.call(__name__, "_load_job", sources[i], target, default_height_m)
            except WorkerError as e:
                log.warning("%s: read here instead (%s)", sources[i].label, e)
                with lock:
                    queue.appendleft(i)
                return
            collect(i, got)

    with worker_pool(workers - 1) as pool:
        threads = [
            threading.Thread(target=serve, args=(w,), name="placement-load", daemon=True)
            for w in pool
        ]
        try:
            for t in threads:
                t.start()
            while (i := take()) >= 0:
                local(i)
            for t in threads:
                t.join()
            while (i := take()) >= 0:  # files of workers that died
                local(i)
        except BaseException:
            with lock:  # a bug or Ctrl-C: hand out nothing more
                queue.clear()
            for w in pool:  # mid-call workers are not handed to anyone else
                w.kill()
            raise
    out: list[_Loaded] = []
    for r in results:
        if isinstance(r, _Failed):
            raise CityGMLError(r.path, r.problem, feature=r.feature)
        assert r is not None
        out.append(r)
    return out


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
    surfaces = city.occluders.n_triangles + city.roads.n_triangles > 0
    return {
        "crs": city.crs,
        "source_crs": city.source_crs,
        "sources": list(city.sources),
        "counts": counts,
        "lod": lods,
        "bounds_m": [round(v, 3) for v in city.bounds()] if surfaces else None,
        "triangles": city.occluders.n_triangles + city.roads.n_triangles,
        "triangles_by_kind": by_kind,
        "poles": len(city.poles),
        "ground_source": city.ground_source,
        "warnings": len(city.warnings),
        "warning_messages": list(city.warnings[:50]),
        "skipped": int(city.skipped),
        "road_area_m2": round(road_area, 2),
    }
