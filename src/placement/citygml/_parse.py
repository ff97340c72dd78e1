"""Streaming parse of one CityGML 2.0 document into raw rings (source CRS, lat lon h).

lxml ``iterparse`` with a tag filter yields only the top-level features this tool uses;
each is read and then cleared, and the empty ``cityObjectMember`` siblings before it are
deleted, so memory is bounded by the largest feature rather than the file. Geometry is
kept as open rings stacked in one coordinate array plus per-polygon metadata (feature
row, surface kind, role); :mod:`placement.citygml._build` transforms and triangulates a
whole file at once.

Rings are read by a fast path with an exact fallback: see :mod:`placement.citygml._rings`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lxml import etree

from placement.citygml._rings import (
    POS,
    POSLIST,
    FastPathError,
    FloatArray,
    GeometryError,
    IntArray,
    RingBatch,
    ring_coords,
    ring_text,
)
from placement.citygml._sources import Source
from placement.citygml._tags import (
    _AUX_ROAD,
    _BOUNDARY_KIND,
    _MISSING,
    _TA_SIDEWALK,
    BUILDING,
    BUILDING_PART,
    CORE,
    EXTRUDE,
    FEATURE_TAGS,
    FOOTPRINT,
    FURNITURE,
    GML_ID,
    LINEAR_RING,
    OCCLUDER,
    OTHER_CORES,
    PLANT_COVER,
    POINTS,
    POLE_FUNCTIONS,
    POLYGON_TAGS,
    ROAD,
    ROADSURF,
    TIN,
    TREE,
)
from placement.crs import parse_srs_name
from placement.errors import CityGMLError, CRSError
from placement.model import SurfaceKind

log = logging.getLogger("placement.citygml")


@dataclass
class RawFile:
    """Everything read from one document, still in the source CRS (lat, lon, h)."""

    source: Source
    srs_epsg: int
    ids: list[str] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    lod: list[int] = field(default_factory=list)
    measured_height: list[float] = field(default_factory=list)
    function: list[str] = field(default_factory=list)
    usage: list[str] = field(default_factory=list)
    coords: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    ring_counts: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    poly_nrings: list[int] = field(default_factory=list)
    poly_feature: list[int] = field(default_factory=list)
    poly_kind: list[int] = field(default_factory=list)
    poly_role: list[int] = field(default_factory=list)
    extrude_height: dict[int, float] = field(default_factory=dict)
    poles: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0

    def drop_geometry(self) -> None:
        """Forget the rings once built (less to keep, or to send back from a worker)."""
        self.coords = np.zeros((0, 3))
        self.ring_counts = np.zeros(0, np.int64)
        self.poly_nrings, self.poly_feature, self.poly_kind, self.poly_role = [], [], [], []

    def warn(self, message: str, *, feature: str | None = None) -> None:
        where = self.source.label + (f": feature {feature}" if feature else "")
        self.warnings.append(f"{where}: {message}")
        log.debug("%s: %s", where, message)


# --------------------------------------------------------------------------- header


_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_header(source: Source) -> int | None:
    """Check the root element and find the CRS in the first elements of a document.

    Returns
    -------
    The EPSG code of the first ``srsName`` before the first feature, or None.

    Raises
    ------
    CityGMLError : empty, not XML, not a CityGML 2.0 CityModel, a DTD (entity
        declarations are refused: CityGML never needs them and they are the vehicle of
        entity-expansion and external-entity attacks), or an unsupported srsName.
    """
    if source.size == 0:
        raise CityGMLError(source.label, "empty file")
    with source.open() as f:
        head = f.read(4096)
        if _DTD.search(head):
            raise CityGMLError(
                source.label, "has a DOCTYPE/ENTITY declaration, which CityGML never needs: refused"
            )
    with source.open() as f:
        try:
            events = etree.iterparse(
                f,
                events=("start",),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=True,
            )
            root_seen = False
            for n, (_, el) in enumerate(events):
                tag = el.tag if isinstance(el.tag, str) else ""
                if not root_seen:
                    root_seen = True
                    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
                    if ns in OTHER_CORES:
                        raise CityGMLError(
                            source.label,
                            f"{OTHER_CORES[ns]} is not supported "
                            "(only CityGML 2.0, as PLATEAU uses)",
                        )
                    if local != "CityModel" or ns != CORE:
                        raise CityGMLError(
                            source.label,
                            f"not CityGML 2.0: root element is {local or tag!r}"
                            + (f" in namespace {ns}" if ns else " without a namespace")
                            + ", expected core:CityModel",
                        )
                    continue
                srs = el.get("srsName")
                if srs:
                    try:
                        return parse_srs_name(srs)
                    except CRSError as exc:
                        raise CityGMLError(source.label, str(exc)) from None
                if tag.endswith("cityObjectMember") or n > 200:
                    return None
        except etree.XMLSyntaxError as exc:
            raise CityGMLError(source.label, _xml_problem(exc)) from None
    if not root_seen:
        raise CityGMLError(source.label, "no XML element found")
    return None


def _xml_problem(exc: etree.XMLSyntaxError) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Document is empty" in msg or "Start tag expected" in msg:
        return f"not XML ({msg})"
    return f"malformed or truncated XML ({msg})"


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class FileParser:
    """Reads the features of one document into a :class:`RawFile`."""

    def __init__(self, raw: RawFile, *, fast: bool) -> None:
        self.raw = raw
        self._anon = 0
        self.fast = fast
        self.batch = RingBatch()
        self.rings: list[FloatArray] = []  # the exact path's rings

    def finish_rings(self) -> None:
        """Stack the rings read into ``raw.coords`` / ``raw.ring_counts``."""
        r = self.raw
        if self.fast:
            self.batch.flush()
            parts, counts = self.batch.coords, self.batch.counts
        else:
            parts = self.rings
            counts = [np.fromiter((a.shape[0] for a in parts), np.int64, len(parts))]
        if parts:
            r.coords = np.concatenate(parts)
            r.ring_counts = np.concatenate(counts)

    # ---- features table
    def _add_feature(
        self, el: Any, cls: str, *, function: str = "", usage: str = "", height: float = np.nan
    ) -> tuple[int, str]:
        r = self.raw
        fid = el.get(GML_ID)
        if not fid:
            self._anon += 1
            fid = f"{cls}-{r.source.name}-{self._anon}"
        r.ids.append(fid)
        r.cls.append(cls)
        r.lod.append(-1)
        r.measured_height.append(height)
        r.function.append(function)
        r.usage.append(usage)
        return len(r.ids) - 1, fid

    # ---- polygons
    def _emit(self, geom: Any, row: int, kind: int, role: int, fid: str) -> tuple[int, int]:
        """Append every polygon below ``geom``; returns (good, broken) polygon counts."""
        if self.fast:
            return self._emit_fast(geom, row, kind, role), 0
        r = self.raw
        good = bad = 0
        for poly in geom.iter(POLYGON_TAGS):
            rings: list[FloatArray] = []
            try:
                for i, ring in enumerate(poly.iter(LINEAR_RING)):
                    try:
                        rings.append(ring_coords(ring))
                    except GeometryError as exc:
                        if i == 0:
                            raise
                        r.warn(f"interior ring dropped: {exc}", feature=fid)
                if not rings:
                    raise GeometryError("polygon has no exterior ring")
            except GeometryError as exc:
                bad += 1
                pid = poly.get(GML_ID)
                r.warn(f"polygon {pid + ' ' if pid else ''}skipped: {exc}", feature=fid)
                continue
            self.rings.extend(rings)
            r.poly_nrings.append(len(rings))
            r.poly_feature.append(row)
            r.poly_kind.append(kind)
            r.poly_role.append(role)
            good += 1
        return good, bad

    def _emit_fast(self, geom: Any, row: int, kind: int, role: int) -> int:
        """:meth:`_emit` collecting texts only; raises :class:`FastPathError` on any doubt."""
        r = self.raw
        add = self.batch.add
        append = self.batch.texts.append
        nrings = r.poly_nrings
        good = 0
        for poly in geom.iter(POLYGON_TAGS):
            # Nearly every polygon is exterior/LinearRing/posList and nothing else: then
            # that is its only ring, found by indexing, without a descendant iterator.
            if len(poly) == 1:
                bound = poly[0]
                if len(bound) == 1 and bound.tag != LINEAR_RING:
                    ring = bound[0]
                    if ring.tag == LINEAR_RING and len(ring) == 1:
                        pl = ring[0]
                        if pl.tag == POSLIST and not len(pl) and pl.get("srsDimension") is None:
                            append(pl.text or "")
                            nrings.append(1)
                            good += 1
                            continue
            n = 0
            for ring in poly.iter(LINEAR_RING):
                n += 1
                if len(ring) == 1:
                    pl = ring[0]
                    # The common case, inlined: a lone posList without srsDimension.
                    if pl.tag == POSLIST and pl.get("srsDimension") is None:
                        append(pl.text or "")
                        continue
                try:
                    add(*ring_text(ring))
                except GeometryError:
                    raise FastPathError from None
            if not n:
                raise FastPathError
            nrings.append(n)
            good += 1
        r.poly_feature.extend([row] * good)
        r.poly_kind.extend([kind] * good)
        r.poly_role.extend([role] * good)
        return good

    def _has_polygon(self, geoms: list[tuple[Any, int]]) -> bool:
        return any(next(g.iter(POLYGON_TAGS), None) is not None for g, _ in geoms)

    def _emit_lod(
        self,
        by_lod: dict[int, list[tuple[Any, int]]],
        order: tuple[int, ...],
        row: int,
        role: int,
        fid: str,
    ) -> tuple[int, int]:
        """Emit the first LOD in ``order`` that yields a polygon; returns (lod, bad)."""
        bad_total = 0
        for lod in order:
            geoms = by_lod.get(lod)
            if not geoms or not self._has_polygon(geoms):
                continue
            good = 0
            for g, kind in geoms:
                ok, bad = self._emit(g, row, kind, role, fid)
                good += ok
                bad_total += bad
            if good:
                return lod, bad_total
        return -1, bad_total

    def _finish(self, row: int, fid: str, lod: int, bad: int, *, keep_empty: bool = False) -> bool:
        """Record the LOD used or skip a feature left without geometry."""
        r = self.raw
        if lod >= 0 or keep_empty:
            r.lod[row] = max(lod, -1)
            return True
        if bad:
            r.skipped += 1
            r.warn("skipped: no usable geometry left", feature=fid)
        else:
            r.warn("skipped: no supported geometry", feature=fid)
            r.skipped += 1
        return False

    # ---- buildings
    def building(self, el: Any, cls: str = "Building") -> int:
        """Read a Building or BuildingPart (and its parts); returns the rows added."""
        r = self.raw
        mh = np.nan
        function = usage = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        lod0: list[Any] = []
        parts: list[Any] = []
        other = int(SurfaceKind.BUILDING_OTHER)
        for child in el:
            local = _local(child.tag)
            if local == "measuredHeight":
                try:
                    v = float(child.text or "nan")
                except ValueError:
                    v = np.nan
                mh = np.nan if (v == _MISSING or not np.isfinite(v) or v < 0) else v
            elif local == "function" and not function:
                function = (child.text or "").strip()
            elif local == "usage" and not usage:
                usage = (child.text or "").strip()
            elif local in ("lod0FootPrint", "lod0RoofEdge"):
                lod0.append(child)
            elif local.startswith("lod") and (local.endswith(("Solid", "MultiSurface"))):
                n = int(local[3])
                # lod2Solid is normally all xlinks into boundedBy; inline polygons count.
                by_lod.setdefault(n, []).append((child, other))
            elif local == "boundedBy":
                for surf in child:
                    kind = int(_BOUNDARY_KIND.get(_local(surf.tag), SurfaceKind.BUILDING_OTHER))
                    for g in surf:
                        gl = _local(g.tag)
                        if gl.startswith("lod") and gl.endswith("MultiSurface"):
                            by_lod.setdefault(int(gl[3]), []).append((g, kind))
            elif local == "outerBuildingInstallation":
                for inst in child:
                    for g in inst:
                        gl = _local(g.tag)
                        if gl.startswith("lod") and gl.endswith("Geometry"):
                            by_lod.setdefault(int(gl[3]), []).append((g, other))
            elif local == "consistsOfBuildingPart":
                parts.extend(p for p in child if p.tag == BUILDING_PART)
        row, fid = self._add_feature(el, cls, function=function, usage=usage, height=mh)
        lod, bad = self._emit_lod(by_lod, (2, 1, 3, 4), row, OCCLUDER, fid)
        if lod >= 0:
            for g in lod0:
                self._emit(g, row, int(SurfaceKind.GROUND), FOOTPRINT, fid)
        elif lod0:
            good = 0
            for g in lod0:
                ok, b = self._emit(g, row, int(SurfaceKind.BUILDING_OTHER), EXTRUDE, fid)
                good += ok
                bad += b
            if good:
                lod = 0
                r.extrude_height[row] = mh
        added = 1
        part_lods = []
        for p in parts:
            n_before = len(r.ids)
            added += self.building(p, "BuildingPart")
            part_lods.extend(r.lod[n_before:])
        if lod < 0 and part_lods and max(part_lods) >= 0:
            # A building whose geometry lives in its parts only.
            r.lod[row] = max(part_lods)
            return added
        # A skipped feature keeps its row with lod -1 (rows of its parts follow it).
        self._finish(row, fid, lod, bad)
        return added

    # ---- roads
    def road(self, el: Any) -> None:
        r = self.raw
        function = usage = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        areas: list[tuple[Any, str]] = []
        for child in el:
            local = _local(child.tag)
            if local == "function" and not function:
                function = (child.text or "").strip()
            elif local == "usage" and not usage:
                usage = (child.text or "").strip()
            elif local.startswith("lod") and local.endswith("MultiSurface"):
                by_lod.setdefault(int(local[3]), []).append((child, int(SurfaceKind.ROAD)))
            elif local in ("trafficArea", "auxiliaryTrafficArea"):
                areas.extend((a, _local(a.tag)) for a in child)
        row, fid = self._add_feature(el, "Road", function=function, usage=usage)
        area_lods: list[int] = []
        for a, cls in areas:
            afunc = ""
            a_by_lod: dict[int, list[tuple[Any, int]]] = {}
            for child in a:
                local = _local(child.tag)
                if local == "function" and not afunc:
                    afunc = (child.text or "").strip()
                elif local.startswith("lod") and local.endswith("MultiSurface"):
                    a_by_lod.setdefault(int(local[3]), []).append((child, 0))
            if cls == "TrafficArea":
                kind = SurfaceKind.SIDEWALK if afunc in _TA_SIDEWALK else SurfaceKind.ROAD
            else:
                kind = SurfaceKind.ROAD if afunc in _AUX_ROAD else SurfaceKind.SIDEWALK
            for lst in a_by_lod.values():
                lst[:] = [(g, int(kind)) for g, _ in lst]
            arow, aid = self._add_feature(a, cls, function=afunc)
            alod, abad = self._emit_lod(a_by_lod, (3, 2, 4, 1), arow, ROADSURF, aid)
            if self._finish(arow, aid, alod, abad):
                area_lods.append(alod)
        if area_lods:
            # Traffic areas replace the road's own (coarser) surface: no double area.
            r.lod[row] = max(area_lods)
            return
        lod, bad = self._emit_lod(by_lod, (1, 2, 3, 4, 0), row, ROADSURF, fid)
        self._finish(row, fid, lod, bad)

    # ---- furniture, vegetation, relief
    def _lod_geometries(
        self, el: Any, kind: int, suffixes: tuple[str, ...]
    ) -> dict[int, list[tuple[Any, int]]]:
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        for child in el:
            local = _local(child.tag)
            if local.startswith("lod") and local[3:4].isdigit() and local.endswith(suffixes):
                by_lod.setdefault(int(local[3]), []).append((child, kind))
        return by_lod

    def furniture(self, el: Any) -> None:
        r = self.raw
        function = ""
        for child in el:
            if _local(child.tag) == "function":
                function = (child.text or "").strip()
                break
        by_lod = self._lod_geometries(el, int(SurfaceKind.FURNITURE), ("Geometry",))
        row, fid = self._add_feature(el, "CityFurniture", function=function)
        lod, bad = self._emit_lod(by_lod, (3, 2, 1, 4), row, OCCLUDER, fid)
        if lod < 0:
            lod = self._points(el, row, fid)
        if self._finish(row, fid, lod, bad) and function in POLE_FUNCTIONS:
            r.poles.append((row, function))

    def _points(self, el: Any, row: int, fid: str) -> int:
        """Fallback for furniture with only uro:lod0Geometry points or curves: LOD 0."""
        r = self.raw
        for g in el.iter():
            if _local(g.tag) != "lod0Geometry":
                continue
            found = False
            for pl in g.iter(POSLIST, POS):
                if self.fast:
                    try:
                        text, dim_attr = ring_text(pl.getparent())
                    except GeometryError:
                        raise FastPathError from None
                    self.batch.points.append(len(self.batch.texts))
                    self.batch.add(text, dim_attr)
                else:
                    try:
                        pts = ring_coords(pl.getparent(), min_points=1, close=False)
                    except GeometryError as exc:
                        r.warn(f"lod0 geometry skipped: {exc}", feature=fid)
                        continue
                    self.rings.append(pts)
                r.poly_nrings.append(1)
                r.poly_feature.append(row)
                r.poly_kind.append(int(SurfaceKind.FURNITURE))
                r.poly_role.append(POINTS)
                found = True
                if pl.tag == POS:
                    break  # ring_coords read every gml:pos of this parent
            if found:
                return 0
        return -1

    def vegetation(self, el: Any, cls: str) -> None:
        suffixes = (
            ("Geometry",) if cls == "SolitaryVegetationObject" else ("MultiSurface", "MultiSolid")
        )
        by_lod = self._lod_geometries(el, int(SurfaceKind.VEGETATION), suffixes)
        row, fid = self._add_feature(el, cls)
        lod, bad = self._emit_lod(by_lod, (3, 2, 1, 4), row, OCCLUDER, fid)
        self._finish(row, fid, lod, bad)

    def relief(self, el: Any) -> None:
        row, fid = self._add_feature(el, "TINRelief")
        good, bad = self._emit(el, row, int(SurfaceKind.TERRAIN), OCCLUDER, fid)
        lod = 1 if good else -1
        for child in el:
            if _local(child.tag) == "lod" and child.text and child.text.strip().isdigit():
                lod = int(child.text) if good else -1
        self._finish(row, fid, lod, bad)


def parse_file(source: Source, srs_epsg: int | None) -> RawFile:
    """Stream one document into a :class:`RawFile`.

    Parameters
    ----------
    source : the document.
    srs_epsg : the CRS found by :func:`read_header`, or None to look for a ``srsName`` on
        the geometry of the first feature.

    Raises
    ------
    CityGMLError : malformed XML, or no CRS anywhere.
    """
    try:
        return _parse(source, srs_epsg, fast=True)
    except FastPathError:
        log.debug("%s: geometry needs the exact per-ring path", source.label)
        return _parse(source, srs_epsg, fast=False)


def _parse(source: Source, srs_epsg: int | None, *, fast: bool) -> RawFile:
    raw = RawFile(source, srs_epsg if srs_epsg is not None else -1)
    parser = FileParser(raw, fast=fast)
    batch = parser.batch
    handlers: dict[str, Callable[[Any], object]] = {
        BUILDING: parser.building,
        ROAD: parser.road,
        FURNITURE: parser.furniture,
        TREE: lambda e: parser.vegetation(e, "SolitaryVegetationObject"),
        PLANT_COVER: lambda e: parser.vegetation(e, "PlantCover"),
        TIN: parser.relief,
    }
    with source.open() as f:
        try:
            for _, el in etree.iterparse(
                f,
                events=("end",),
                tag=FEATURE_TAGS,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=True,
                remove_comments=True,
                # Whitespace between elements is never read (every text read is stripped
                # or split), and not building those nodes saves a fifth of lxml's time.
                remove_blank_text=True,
            ):
                if raw.srs_epsg < 0:
                    raw.srs_epsg = _srs_of_feature(el, source)
                handlers[el.tag](el)
                # Free the feature and the (now empty) members before it.
                el.clear()
                member = el.getparent()
                if member is not None and member.getparent() is not None:
                    parent = member.getparent()
                    while member.getprevious() is not None:
                        del parent[0]
                batch.maybe_flush()
        except etree.XMLSyntaxError as exc:
            raise CityGMLError(source.label, _xml_problem(exc)) from None
    parser.finish_rings()
    return raw


def _srs_of_feature(el: Any, source: Source) -> int:
    for g in el.iter():
        srs = g.get("srsName") if isinstance(g.tag, str) else None
        if srs:
            try:
                return parse_srs_name(srs)
            except CRSError as exc:
                raise CityGMLError(source.label, str(exc)) from None
    raise CityGMLError(
        source.label, "no CRS: no srsName on the envelope or the first feature's geometry"
    )
