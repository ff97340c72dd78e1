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
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lxml import etree

from placement.citygml._header import (
    READ_ERRORS,
    envelope_dim,
    local_name,
    read_header,
    srs_of_feature,
    unreadable,
    xml_problem,
)
from placement.citygml._rings import (
    POS,
    POSLIST,
    FastPathError,
    FloatArray,
    GeometryError,
    IntArray,
    RingBatch,
    declared,
    ring_coords,
    ring_text,
)
from placement.citygml._sources import Source
from placement.citygml._tags import (
    _AUX_ROAD,
    _BOUNDARY_KIND,
    _COMPLEX_KIND,
    _MISSING,
    _TA_SIDEWALK,
    BRIDGE,
    BRIDGE_PART,
    BUILDING,
    BUILDING_PART,
    ENVELOPE,
    EXTRUDE,
    FEATURE_TAGS,
    FOOTPRINT,
    FURNITURE,
    GML_ID,
    GML_PREFIX,
    LINEAR_RING,
    OCCLUDER,
    PLANT_COVER,
    POINTS,
    POLE_FUNCTIONS,
    POLYGON_TAGS,
    ROAD,
    ROADSURF,
    SQUARE,
    TIN,
    TRACK,
    TREE,
    XLINK_HREF,
    is_uro,
)
from placement.crs import GEOGRAPHIC_EPSG, parse_srs_name
from placement.errors import CityGMLError, CRSError
from placement.model import SurfaceKind

__all__ = ["FileParser", "RawFile", "parse_file", "read_header"]

log = logging.getLogger("placement.citygml")


#: JGD2011 latitude, longitude with heights (6697) and without (6668): one CRS to read.
_JGD2011_LATLON = frozenset({6697, 6668})


@dataclass
class RawFile:
    """Everything read from one document, still in the source CRS (lat, lon, h)."""

    source: Source
    srs_epsg: int
    #: Coordinates per point where a posList does not say (srsDimension), from the
    #: top envelope or the first geometry with a srsName; 2 means no heights.
    dim: int = 3
    #: Municipality (5 digits) or prefecture (2) code of the data, "" when unknown.
    city_code: str = ""
    ids: list[str] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    lod: list[int] = field(default_factory=list)
    measured_height: list[float] = field(default_factory=list)
    function: list[str] = field(default_factory=list)
    usage: list[str] = field(default_factory=list)
    #: Per feature, the row of the feature it belongs to (a traffic area's road), or -1.
    parent: list[int] = field(default_factory=list)
    coords: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    ring_counts: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    poly_nrings: list[int] = field(default_factory=list)
    poly_feature: list[int] = field(default_factory=list)
    poly_kind: list[int] = field(default_factory=list)
    poly_role: list[int] = field(default_factory=list)
    extrude_height: dict[int, float] = field(default_factory=dict)
    #: Rows whose extruded outline is a roof edge: the prism hangs below it.
    extrude_down: set[int] = field(default_factory=set)
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


def _number(el: Any) -> float:
    """A non-negative measure (height, diameter) in metres; NaN when missing or -9999."""
    try:
        v = float(el.text or "nan")
    except ValueError:
        return math.nan
    return math.nan if (v == _MISSING or not math.isfinite(v) or v < 0) else v


#: Buildings looked at for a municipality code before giving up on a file.
_CODE_TRIES = 20
#: uro building attributes that hold ``uro:city`` / ``uro:prefecture``: the ID or detail
#: attribute (uro 2.0 on), ``buildingDetails`` (uro 1.x, the FY2020 tiles).
_CODE_ATTRIBUTES = frozenset({"buildingIDAttribute", "buildingDetailAttribute", "buildingDetails"})
#: Metres per degree of latitude, for the outline of a tree given as a point (the few
#: tenths of a percent it varies over Japan do not matter for a crown).
_M_PER_DEG_LAT = 111_000.0
#: Corners of the outline of a tree given as a point and attributes.
_TREE_CORNERS = 8


def _collect(
    node: Any, kind: int, by_lod: dict[int, list[tuple[Any, int]]], suffixes: tuple[str, ...]
) -> None:
    """Add ``node``'s ``lodN<suffix>`` geometry properties, and the ``lodNMultiSurface``
    of its ``boundedBy`` surfaces, to ``by_lod`` as ``kind``."""
    for g in node:
        gl = local_name(g.tag)
        if gl.startswith("lod") and gl[3:4].isdigit() and gl.endswith(suffixes):
            by_lod.setdefault(int(gl[3]), []).append((g, kind))
        elif gl == "boundedBy":
            for surf in g:
                _collect(surf, kind, by_lod, ("MultiSurface",))


class FileParser:
    """Reads the features of one document into a :class:`RawFile`."""

    def __init__(self, raw: RawFile, *, fast: bool) -> None:
        self.raw = raw
        self._anon = 0
        self._code_tries = _CODE_TRIES
        self.fast = fast
        self.batch = RingBatch()
        self.rings: list[FloatArray] = []  # the exact path's rings
        self._srs_problem: dict[str, str | None] = {}  # srsName -> why it is not read

    def srs_problem(self, srs: str) -> str | None:
        """Why a geometry's own ``srsName`` cannot be read with the file's CRS (None: it
        can: the same CRS, or JGD2011 latitude, longitude with or without heights)."""
        known = self._srs_problem
        if srs not in known:
            file_code = self.raw.srs_epsg
            try:
                code = parse_srs_name(srs)
            except CRSError as exc:
                known[srs] = str(exc)
            else:
                same = code == file_code or {code, file_code} <= _JGD2011_LATLON
                known[srs] = (
                    None
                    if same or file_code < 0
                    else f"its srsName EPSG:{code} is not the file's EPSG:{file_code} "
                    "(one CRS per file is read)"
                )
        return known[srs]

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
        self,
        el: Any,
        cls: str,
        *,
        function: str = "",
        usage: str = "",
        height: float = np.nan,
        parent: int = -1,
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
        r.parent.append(parent)
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
                srs = declared(poly)[1]
                why = self.srs_problem(srs) if srs else None
                if why:
                    raise GeometryError(why)
                for i, ring in enumerate(poly.iter(LINEAR_RING)):
                    try:
                        rings.append(ring_coords(ring, default_dim=r.dim))
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
            # The polygon or a geometry it is part of may say it is not 3D, or name a CRS.
            dim, srs = declared(poly)
            if (dim is not None and dim != 3) or (srs and self.srs_problem(srs)):
                raise FastPathError
            # Nearly every polygon is exterior/LinearRing/posList and nothing else: then
            # that is its only ring, found by indexing, without a descendant iterator.
            if len(poly) == 1:
                bound = poly[0]
                if len(bound) == 1 and bound.tag != LINEAR_RING:
                    ring = bound[0]
                    if (
                        ring.tag == LINEAR_RING
                        and len(ring) == 1
                        and ring.get("srsDimension") in (None, "3")
                    ):
                        pl = ring[0]
                        if pl.tag == POSLIST and not len(pl) and pl.get("srsDimension") is None:
                            append(pl.text or "")
                            nrings.append(1)
                            good += 1
                            continue
            n = 0
            for ring in poly.iter(LINEAR_RING):
                n += 1
                if ring.get("srsDimension") not in (None, "3"):
                    raise FastPathError
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

    def _finish(
        self,
        row: int,
        fid: str,
        lod: int,
        bad: int,
        *,
        keep_empty: bool = False,
        el: Any = None,
        note: str = "",
    ) -> bool:
        """Record the LOD used or skip a feature left without geometry (``el``, the
        feature's element, names the references that gave nothing; ``note`` says why
        else)."""
        r = self.raw
        if lod >= 0 or keep_empty:
            r.lod[row] = max(lod, -1)
            return True
        if bad:
            r.skipped += 1
            r.warn("skipped: no usable geometry left", feature=fid)
        else:
            missing = _unresolved(el) if el is not None else []
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            why = (
                f" (unresolved xlink:href {', '.join(missing[:3])}{more}: "
                "no polygon with that gml:id in the feature)"
                if missing
                else note
            )
            r.warn(f"skipped: no supported geometry{why}", feature=fid)
            r.skipped += 1
        return False

    # ---- buildings
    def building(self, el: Any, cls: str = "Building") -> int:
        """Read a Building or BuildingPart (and its parts); returns the rows added.

        The LOD is chosen on the building's own geometry (its solids and multi-surfaces
        and those of its boundary surfaces; LOD2 > LOD1 > LOD3 > LOD4, else the LOD0
        outline extruded, unless a part has LOD1 or finer: then the outline is only a
        footprint and the building's LOD is the finest of its parts'). Its outer
        installations and the openings (windows, doors) of its boundary surfaces, which
        fill the holes left in a LOD3/4 wall, are added on top, each at the finest of
        its LODs not finer than the one chosen: a building is never represented by its
        installations alone."""
        r = self.raw
        mh = np.nan
        function = usage = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        # Each installation's or opening's geometry by LOD (added at the building's LOD
        # or below).
        extras: list[dict[int, list[tuple[Any, int]]]] = []
        lod0: list[Any] = []
        parts: list[Any] = []
        other = int(SurfaceKind.BUILDING_OTHER)
        for child in el:
            local = local_name(child.tag)
            if local == "measuredHeight":
                mh = _number(child)
            elif local == "function" and not function:
                function = (child.text or "").strip()
            elif local == "usage" and not usage:
                usage = (child.text or "").strip()
            elif local in ("lod0FootPrint", "lod0RoofEdge"):
                lod0.append((child, local == "lod0RoofEdge"))
            elif local.startswith("lod") and (local.endswith(("Solid", "MultiSurface"))):
                n = int(local[3])
                # lod2Solid is normally all xlinks into boundedBy; inline polygons count.
                by_lod.setdefault(n, []).append((child, other))
            elif local == "boundedBy":
                for surf in child:
                    kind = int(_BOUNDARY_KIND.get(local_name(surf.tag), SurfaceKind.BUILDING_OTHER))
                    for g in surf:
                        gl = local_name(g.tag)
                        if gl.startswith("lod") and gl.endswith("MultiSurface"):
                            by_lod.setdefault(int(gl[3]), []).append((g, kind))
                        elif gl == "opening":  # a LOD3/4 window or door: fills its hole
                            extras.extend(
                                self._lod_geometries(o, kind, ("MultiSurface",)) for o in g
                            )
            elif local == "outerBuildingInstallation":
                extras.extend(self._lod_geometries(inst, other, ("Geometry",)) for inst in child)
            elif local == "consistsOfBuildingPart":
                parts.extend(p for p in child if p.tag == BUILDING_PART)
            elif local in _CODE_ATTRIBUTES and self._code_tries > 0 and not r.city_code:
                self._city_code(child)
        if not r.city_code:
            self._code_tries -= 1
        row, fid = self._add_feature(el, cls, function=function, usage=usage, height=mh)
        lod, bad = self._emit_lod(by_lod, (2, 1, 3, 4), row, OCCLUDER, fid)
        added, part_lod = self._parts(parts, lambda p: self.building(p, "BuildingPart"))
        # One outline: the footprint where given (a roof edge, older, includes the eaves
        # and lies at roof height), else the roof edge; both would double the building.
        footprints = [g for g, is_edge in lod0 if not is_edge]
        outline, is_edge = (footprints, False) if footprints else ([g for g, _ in lod0], True)
        if lod >= 0 or part_lod >= 1:
            # Beside a body, its own or its parts', the outline is a footprint only: a
            # prism of the whole outline would bury the lower parts.
            for g in outline:
                self._emit(g, row, int(SurfaceKind.GROUND), FOOTPRINT, fid)
        elif outline:
            good = 0
            for g in outline:
                ok, b = self._emit(g, row, int(SurfaceKind.BUILDING_OTHER), EXTRUDE, fid)
                good += ok
                bad += b
            if good:
                lod = 0
                r.extrude_height[row] = mh
                if is_edge:
                    r.extrude_down.add(row)
        level = lod if lod >= 0 else part_lod
        for extra in extras:
            bad += self._emit_lod(extra, tuple(range(level, -1, -1)), row, OCCLUDER, fid)[1]
        if lod < 0 and part_lod >= 0:
            # A building whose 3D geometry lives in its parts only: theirs is its LOD.
            r.lod[row] = part_lod
            return added
        # A skipped feature keeps its row with lod -1 (rows of its parts follow it).
        alone = lod < 0 and any(self._has_polygon(g) for e in extras for g in e.values())
        note = (
            " (only installations or openings, which are not read without the building)"
            if alone
            else ""
        )
        self._finish(row, fid, lod, bad, el=el, note=note)
        return added

    def _parts(self, parts: list[Any], read: Callable[[Any], int]) -> tuple[int, int]:
        """Read a feature's parts with ``read`` (returns rows added); returns (rows added,
        this feature's own row included; the finest LOD among the parts, -1 if none)."""
        added, best = 1, -1
        for p in parts:
            n_before = len(self.raw.ids)
            added += read(p)
            best = max([best, *self.raw.lod[n_before:]])
        return added, best

    def _city_code(self, attribute: Any) -> None:
        """Take the municipality (else prefecture) code from a uro building attribute
        (``uro:city`` / ``uro:prefecture``, any uro release: see ``_CODE_ATTRIBUTES``)."""
        prefecture = ""
        for d in attribute.iter():
            local = local_name(d.tag)
            text = (d.text or "").strip()
            if local == "city" and text.isdigit() and len(text) in (5, 6):
                self.raw.city_code = text
                return
            if local == "prefecture" and text.isdigit() and len(text) <= 2:
                prefecture = text.zfill(2)
        self.raw.city_code = prefecture

    # ---- bridges
    def bridge(self, el: Any, cls: str = "Bridge") -> int:
        """Read a Bridge or BridgePart (and its parts) as occluders; returns the rows added.

        Every surface is BRIDGE: the feature's own ``lodNSolid`` / ``lodNMultiSurface``
        (inline polygons; xlinks into its boundary surfaces add nothing), its
        ``boundedBy`` surfaces, and the ``lodNGeometry`` and boundary surfaces of its
        construction elements (deck, piers, girders) and installations (railings,
        lamps). LOD2 > LOD1 > LOD3 > LOD4, as for buildings."""
        r = self.raw
        function = usage = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        parts: list[Any] = []
        kind = int(SurfaceKind.BRIDGE)
        for child in el:
            local = local_name(child.tag)
            if local == "function" and not function:
                function = (child.text or "").strip()
            elif local == "usage" and not usage:
                usage = (child.text or "").strip()
            elif local in ("outerBridgeConstruction", "outerBridgeInstallation"):
                for element in child:
                    _collect(element, kind, by_lod, ("Geometry", "MultiSurface", "Solid"))
            elif local == "consistsOfBridgePart":
                parts.extend(p for p in child if p.tag == BRIDGE_PART)
        _collect(el, kind, by_lod, ("Solid", "MultiSurface"))
        row, fid = self._add_feature(el, cls, function=function, usage=usage)
        lod, bad = self._emit_lod(by_lod, (2, 1, 3, 4), row, OCCLUDER, fid)
        added, part_lod = self._parts(parts, lambda p: self.bridge(p, "BridgePart"))
        if lod < 0 and part_lod >= 0:
            r.lod[row] = part_lod  # all its geometry is in its parts
            return added
        self._finish(row, fid, lod, bad, el=el)
        return added

    # ---- other constructions (i-UR)
    def construction(self, el: Any) -> None:
        """Read a ``uro:OtherConstruction`` (walls, sound barriers, retaining walls,
        embankments, ...) as occluders (CONSTRUCTION).

        Its own ``lodNGeometry`` (inline polygons; a solid of xlinks into its boundary
        surfaces adds nothing), its ``boundedBy`` surfaces and its installations;
        LOD2 > LOD1 > LOD3. LOD0 (lines or footprints without height) is not read."""
        if not is_uro(el.tag):
            return
        function = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        kind = int(SurfaceKind.CONSTRUCTION)
        for child in el:
            local = local_name(child.tag)
            if local == "function" and not function:
                function = (child.text or "").strip()
            elif "Installation" in local:
                for element in child:
                    _collect(element, kind, by_lod, ("Geometry", "MultiSurface", "Solid"))
        _collect(el, kind, by_lod, ("Geometry", "MultiSurface", "Solid"))
        row, fid = self._add_feature(el, "OtherConstruction", function=function)
        # LOD0 (lines, footprints without height) is left out of the order.
        lod, bad = self._emit_lod(by_lod, (2, 1, 3, 4), row, OCCLUDER, fid)
        self._finish(row, fid, lod, bad, el=el)

    # ---- roads and the other transportation complexes
    def road(self, el: Any, cls: str = "Road") -> None:
        """Read a tran:Road, tran:Track or tran:Square and its (auxiliary) traffic areas."""
        r = self.raw
        function = usage = ""
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        areas: list[tuple[Any, str]] = []
        own_kind = int(_COMPLEX_KIND[cls])
        for child in el:
            local = local_name(child.tag)
            if local == "function" and not function:
                function = (child.text or "").strip()
            elif local == "usage" and not usage:
                usage = (child.text or "").strip()
            elif local.startswith("lod") and local.endswith("MultiSurface"):
                by_lod.setdefault(int(local[3]), []).append((child, own_kind))
            elif local in ("trafficArea", "auxiliaryTrafficArea"):
                areas.extend((a, local_name(a.tag)) for a in child)
        row, fid = self._add_feature(el, cls, function=function, usage=usage)
        area_lods: list[int] = []
        for a, acls in areas:
            afunc = ""
            a_by_lod: dict[int, list[tuple[Any, int]]] = {}
            for child in a:
                local = local_name(child.tag)
                if local == "function" and not afunc:
                    afunc = (child.text or "").strip()
                elif local.startswith("lod") and local.endswith("MultiSurface"):
                    a_by_lod.setdefault(int(local[3]), []).append((child, 0))
            if acls == "TrafficArea":
                kind = SurfaceKind.SIDEWALK if afunc in _TA_SIDEWALK else SurfaceKind.ROAD
            else:
                kind = SurfaceKind.ROAD if afunc in _AUX_ROAD else SurfaceKind.SIDEWALK
            for lst in a_by_lod.values():
                lst[:] = [(g, int(kind)) for g, _ in lst]
            arow, aid = self._add_feature(a, acls, function=afunc, parent=row)
            alod, abad = self._emit_lod(a_by_lod, (3, 2, 4, 1), arow, ROADSURF, aid)
            if self._finish(arow, aid, alod, abad, el=a):
                area_lods.append(alod)
        if area_lods:
            # Traffic areas replace the road's own (coarser) surface: no double area.
            r.lod[row] = max(area_lods)
            return
        lod, bad = self._emit_lod(by_lod, (1, 2, 3, 4, 0), row, ROADSURF, fid)
        self._finish(row, fid, lod, bad, el=el)

    # ---- furniture, vegetation, relief
    def _lod_geometries(
        self, el: Any, kind: int, suffixes: tuple[str, ...]
    ) -> dict[int, list[tuple[Any, int]]]:
        by_lod: dict[int, list[tuple[Any, int]]] = {}
        for child in el:
            local = local_name(child.tag)
            if local.startswith("lod") and local[3:4].isdigit() and local.endswith(suffixes):
                by_lod.setdefault(int(local[3]), []).append((child, kind))
        return by_lod

    def furniture(self, el: Any) -> None:
        r = self.raw
        function = ""
        for child in el:
            if local_name(child.tag) == "function":
                function = (child.text or "").strip()
                break
        by_lod = self._lod_geometries(el, int(SurfaceKind.FURNITURE), ("Geometry",))
        row, fid = self._add_feature(el, "CityFurniture", function=function)
        lod, bad = self._emit_lod(by_lod, (3, 2, 1, 4), row, OCCLUDER, fid)
        if lod < 0:
            lod = self._points(el, row, fid)
        if self._finish(row, fid, lod, bad, el=el) and function in POLE_FUNCTIONS:
            r.poles.append((row, function))

    def _points(self, el: Any, row: int, fid: str) -> int:
        """Fallback for furniture without surfaces: the points or curves of the first of
        its uro:lod0Geometry, lodNGeometry holding no surface, or implicit geometry's
        reference point. Returns the LOD they came from (-1: none)."""
        r = self.raw
        for g, lod in _point_geometries(el):
            found = False
            for pl in g.iter(POSLIST, POS):
                parent = pl.getparent()
                dim, srs = declared(parent)
                why = self.srs_problem(srs) if srs else None
                if self.fast:
                    try:
                        text, dim_attr = ring_text(parent)
                    except GeometryError:
                        raise FastPathError from None
                    if why or (dim_attr is None and dim not in (None, 3)):
                        raise FastPathError
                    self.batch.points.append(len(self.batch.texts))
                    self.batch.add(text, dim_attr)
                else:
                    try:
                        if why:
                            raise GeometryError(why)
                        pts = ring_coords(parent, min_points=1, close=False, default_dim=r.dim)
                    except GeometryError as exc:
                        r.warn(f"{local_name(g.tag)} skipped: {exc}", feature=fid)
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
                return lod
        return -1

    def vegetation(self, el: Any, cls: str) -> None:
        tree = cls == "SolitaryVegetationObject"
        suffixes = ("Geometry",) if tree else ("MultiSurface", "MultiSolid")
        by_lod = self._lod_geometries(el, int(SurfaceKind.VEGETATION), suffixes)
        row, fid = self._add_feature(el, cls)
        lod, bad = self._emit_lod(by_lod, (3, 2, 1, 4), row, OCCLUDER, fid)
        note = ""
        if lod < 0 and tree:
            lod = self._tree_outline(el, row, fid)
            if lod < 0 and next(_point_geometries(el), None) is not None:
                note = " (a tree given as a point needs a veg:height)"
        self._finish(row, fid, lod, bad, el=el, note=note)

    def _tree_outline(self, el: Any, row: int, fid: str) -> int:
        """A tree given only as a point (implicit geometry's reference point, a lod0 or
        lodN point) with ``veg:height``: an octagon of ``veg:crownDiameter`` (else a
        third of the height) around it, extruded like a LOD0 building. Returns the LOD
        of the point (-1: no point or no height)."""
        r = self.raw
        height = crown = math.nan
        for child in el:
            local = local_name(child.tag)
            if local == "height":
                height = _number(child)
            elif local == "crownDiameter":
                crown = _number(child)
        if not height > 0:
            return -1
        if not crown > 0:
            crown = height / 3
        for g, lod in _point_geometries(el):
            pl = next(g.iter(POSLIST, POS), None)
            if pl is None:
                continue
            try:
                pts = ring_coords(pl.getparent(), min_points=1, close=False, default_dim=r.dim)
            except GeometryError as exc:
                r.warn(f"{local_name(g.tag)} skipped: {exc}", feature=fid)
                continue
            a, b, h = (float(v) for v in pts[0])
            angle = np.arange(_TREE_CORNERS) * (2 * np.pi / _TREE_CORNERS)
            d1 = d2 = 0.5 * crown
            if r.srs_epsg in GEOGRAPHIC_EPSG:  # (lat, lon) degrees, else (northing, easting) m
                d1 /= _M_PER_DEG_LAT
                d2 /= _M_PER_DEG_LAT * math.cos(math.radians(a))
            # Counter-clockwise in (east, north), as an exterior ring should run.
            ring = np.column_stack(
                [a + d1 * np.sin(angle), b + d2 * np.cos(angle), np.full(_TREE_CORNERS, h)]
            )
            if self.fast:
                # Closed, as a GML ring is (the batch drops the closing point again).
                closed = np.vstack([ring, ring[:1]])
                self.batch.add(" ".join(repr(v) for v in closed.ravel().tolist()), None)
            else:
                self.rings.append(ring)
            r.poly_nrings.append(1)
            r.poly_feature.append(row)
            r.poly_kind.append(int(SurfaceKind.VEGETATION))
            r.poly_role.append(EXTRUDE)
            r.extrude_height[row] = height
            return lod
        return -1

    def relief(self, el: Any) -> None:
        row, fid = self._add_feature(el, "TINRelief")
        good, bad = self._emit(el, row, int(SurfaceKind.TERRAIN), OCCLUDER, fid)
        lod = 1 if good else -1
        for child in el:
            if local_name(child.tag) == "lod" and child.text and child.text.strip().isdigit():
                lod = int(child.text) if good else -1
        note = ""
        if not good and next(el.iter(f"{GML_PREFIX}controlPoint"), None) is not None:
            note = " (a gml:Tin given by control points alone is not read: give its triangles)"
        self._finish(row, fid, lod, bad, el=el, note=note)


def _unresolved(el: Any) -> list[str]:
    """The ``xlink:href`` targets of a feature's geometry (on GML elements or ``lodN``
    properties) that name no ``gml:id`` inside the feature, in document order."""
    ids = {d.get(GML_ID) for d in el.iter() if isinstance(d.tag, str)}
    out: list[str] = []
    for d in el.iter():
        href = d.get(XLINK_HREF) if isinstance(d.tag, str) else None
        if not href or href in out:
            continue
        geometry = d.tag.startswith(GML_PREFIX) or local_name(d.tag).startswith("lod")
        if geometry and (not href.startswith("#") or href[1:] not in ids):
            out.append(href)
    return out


def _point_geometries(el: Any) -> Iterator[tuple[Any, int]]:
    """The geometry properties of a feature that hold no surface, with the LOD each
    stands for: ``lodNGeometry`` (``uro:lod0Geometry`` included) with points or curves
    only, and the reference point of each ``lodNImplicitRepresentation``."""
    for g in el.iter():
        local = local_name(g.tag)
        if not (local.startswith("lod") and local[3:4].isdigit()):
            continue
        if local.endswith("Geometry"):
            if next(g.iter(POLYGON_TAGS), None) is None:
                yield g, int(local[3])
        elif local.endswith("ImplicitRepresentation"):
            ref = next((d for d in g.iter() if local_name(d.tag) == "referencePoint"), None)
            if ref is not None:
                yield ref, int(local[3])


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
        TRACK: lambda e: parser.road(e, "Track"),
        SQUARE: lambda e: parser.road(e, "Square"),
        FURNITURE: parser.furniture,
        TREE: lambda e: parser.vegetation(e, "SolitaryVegetationObject"),
        PLANT_COVER: lambda e: parser.vegetation(e, "PlantCover"),
        TIN: parser.relief,
        BRIDGE: parser.bridge,
    }
    dim_known = False
    try:
        with source.open() as f:
            for _, el in etree.iterparse(
                f,
                events=("end",),
                tag=(*FEATURE_TAGS, ENVELOPE),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=True,
                remove_comments=True,
                # Whitespace between elements is never read (every text read is stripped
                # or split), and not building those nodes saves a fifth of lxml's time.
                remove_blank_text=True,
            ):
                if el.tag == ENVELOPE:
                    if not dim_known:  # the CityModel's, before any feature
                        raw.dim, dim_known = envelope_dim(el), True
                    continue
                if raw.srs_epsg < 0 or not dim_known:
                    code, dim = srs_of_feature(el, source, need_crs=raw.srs_epsg < 0)
                    if raw.srs_epsg < 0:
                        raw.srs_epsg = code
                    if not dim_known:
                        raw.dim, dim_known = dim or 3, True
                if fast and raw.dim != 3:
                    raise FastPathError  # 2D coordinates: the exact path reads them
                handlers.get(el.tag, parser.construction)(el)
                # Free the feature and the (now empty) members before it.
                el.clear()
                member = el.getparent()
                if member is not None and member.getparent() is not None:
                    parent = member.getparent()
                    while member.getprevious() is not None:
                        del parent[0]
                batch.maybe_flush()
    except etree.XMLSyntaxError as exc:
        raise CityGMLError(source.label, xml_problem(exc)) from None
    except READ_ERRORS as exc:
        raise unreadable(source, exc) from None
    parser.finish_rings()
    if not raw.city_code:
        raw.city_code = source.city_code
    return raw
