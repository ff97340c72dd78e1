"""Data types shared by the pipeline stages: the loaded city and its parts.

Everything here is a frozen dataclass over numpy arrays. Coordinates are metres in the
city's metric CRS (``City.crs``, a JGD2011 plane rectangular zone by default) with x =
easting, y = northing, z = orthometric height (the same datum as the PLATEAU input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt
import shapely

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
Int8Array = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]


class SurfaceKind(IntEnum):
    """What a triangle of a mesh is part of. Stored per triangle as int8."""

    WALL = 0
    ROOF = 1
    GROUND = 2  # building ground surface (LOD2 GroundSurface, or the floor of an extrusion)
    BUILDING_OTHER = 3  # LOD2 closure, outer ceiling, ... and LOD1 / LOD0-extruded solids
    VEGETATION = 4
    FURNITURE = 5
    TERRAIN = 6
    ROAD = 7  # carriageway, LOD1 road surface, or a traffic area of unknown function
    SIDEWALK = 8  # auxiliary traffic area, sidewalk, pedestrian way
    BRIDGE = 9  # any surface of a bridge: deck, piers, railings (brid:Bridge, BridgePart)
    CONSTRUCTION = 10  # walls, sound barriers, retaining walls, ... (uro:OtherConstruction)


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh whose triangles remember where they came from.

    Attributes
    ----------
    vertices : (V, 3) float64, metres in the city CRS.
    faces : (F, 3) int32 indices into ``vertices``.
    feature : (F,) int32 row of ``City.features`` each triangle belongs to (-1: none).
    kind : (F,) int8 :class:`SurfaceKind` of each triangle.
    """

    vertices: FloatArray
    faces: IntArray
    feature: IntArray
    kind: Int8Array

    @staticmethod
    def empty() -> Mesh:
        return Mesh(
            np.zeros((0, 3), np.float64),
            np.zeros((0, 3), np.int32),
            np.zeros(0, np.int32),
            np.zeros(0, np.int8),
        )

    @property
    def n_triangles(self) -> int:
        return int(self.faces.shape[0])

    def select(self, mask: BoolArray) -> Mesh:
        """The sub-mesh of the triangles where ``mask`` is true (vertices compacted)."""
        faces = self.faces[mask]
        used, inverse = np.unique(faces, return_inverse=True)
        return Mesh(
            self.vertices[used],
            inverse.reshape(-1, 3).astype(np.int32),
            self.feature[mask],
            self.kind[mask],
        )

    @staticmethod
    def concatenate(meshes: list[Mesh]) -> Mesh:
        meshes = [m for m in meshes if m.n_triangles]
        if not meshes:
            return Mesh.empty()
        offsets = np.cumsum([0] + [m.vertices.shape[0] for m in meshes[:-1]])
        return Mesh(
            np.concatenate([m.vertices for m in meshes]),
            np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=True)]).astype(
                np.int32
            ),
            np.concatenate([m.feature for m in meshes]).astype(np.int32),
            np.concatenate([m.kind for m in meshes]).astype(np.int8),
        )

    def area(self) -> float:
        """Total surface area in square metres."""
        if not self.n_triangles:
            return 0.0
        tri = self.vertices[self.faces]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        return float(0.5 * np.linalg.norm(cross, axis=1).sum())


@dataclass(frozen=True)
class FeatureTable:
    """One row per loaded CityGML feature (buildings, building parts, roads, ...).

    Attributes
    ----------
    ids : gml:id of each feature (a generated id when the file has none).
    cls : CityGML class name: "Building", "BuildingPart", "Road", "TrafficArea",
        "AuxiliaryTrafficArea", "CityFurniture", "SolitaryVegetationObject", "PlantCover",
        "TINRelief", "Bridge", "BridgePart", "OtherConstruction".
    lod : (N,) int8, the level of detail whose geometry was used (0 = extruded footprint).
    measured_height : (N,) float64, ``bldg:measuredHeight`` in metres, NaN when missing.
    function : code of ``*:function`` (roads, furniture, traffic areas) or "" when missing.
    usage : ``bldg:usage`` code or "" when missing.
    source : index into ``City.sources`` of the file each feature came from.
    parent : (N,) int32 row of the feature each belongs to (a traffic area's tran:Road),
        -1 for none; None when not recorded.
    """

    ids: tuple[str, ...]
    cls: tuple[str, ...]
    lod: Int8Array
    measured_height: FloatArray
    function: tuple[str, ...]
    usage: tuple[str, ...]
    source: IntArray
    parent: IntArray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def street_of(self, rows: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The row of the street each feature row belongs to: its parent (a traffic area's
        tran:Road), else itself; -1 stays -1."""
        r = np.asarray(rows, np.int64)
        if self.parent is None or not self.parent.size:
            return r
        up = np.where(r >= 0, np.asarray(self.parent, np.int64)[np.maximum(r, 0)], -1)
        return np.where(up >= 0, up, r)

    @staticmethod
    def empty() -> FeatureTable:
        return FeatureTable(
            (), (), np.zeros(0, np.int8), np.zeros(0), (), (), np.zeros(0, np.int32)
        )


@dataclass(frozen=True)
class Poles:
    """Pole-like city furniture (roadside poles, utility poles, street lights).

    Attributes
    ----------
    xyz : (N, 3) float64, the pole's foot (x, y, ground z) in metres.
    height_m : (N,) float64, the pole's height above its foot.
    function : PLATEAU function code of each pole ("4810", "4840", ...).
    feature : (N,) int32 row of ``City.features``.
    """

    xyz: FloatArray
    height_m: FloatArray
    function: tuple[str, ...]
    feature: IntArray

    def __len__(self) -> int:
        return int(self.xyz.shape[0])

    @staticmethod
    def empty() -> Poles:
        return Poles(np.zeros((0, 3)), np.zeros(0), (), np.zeros(0, np.int32))


@dataclass(frozen=True)
class RoadArea:
    """A road surface in plan: one polygon per road surface feature.

    Attributes
    ----------
    polygons : shapely Polygons in the city CRS (x, y only).
    kind : (N,) int8 :class:`SurfaceKind` (ROAD or SIDEWALK) of each polygon.
    feature : (N,) int32 row of ``City.features``.
    """

    polygons: tuple[shapely.Polygon, ...]
    kind: Int8Array
    feature: IntArray

    def __len__(self) -> int:
        return len(self.polygons)


@dataclass(frozen=True)
class City:
    """Everything loaded from one or more CityGML files, in metres.

    Attributes
    ----------
    crs : the metric CRS of every coordinate here, e.g. "EPSG:6674".
    source_crs : the CRS the files were in, e.g. "EPSG:6697".
    sources : the paths (or ``zip!member`` names) that were read.
    features : one row per feature.
    occluders : buildings, vegetation, furniture and terrain: whatever blocks a view.
    roads : road surfaces as triangles, placed at ground height.
    road_area : road surfaces as plan polygons (for sampling and site proposal).
    footprints : building footprints in plan (shapely Polygons) with ``footprint_feature``.
    poles : pole-like city furniture, candidate camera sites.
    ground_source : where road heights came from: "model" (the file's own heights),
        "dem", "buildings" (estimated from the bases of nearby buildings) or "none"; "model
        and dem" / "model and buildings" when only some roads were flat and got estimates;
        "dem and buildings" where some flat roads lay off the DEM (more than 50 m from it);
        "roads" ("model and roads") with neither DEM nor buildings, from the heights of the
        roads and pole feet stored with them.
    warnings : one line per skipped or repaired feature.
    skipped : number of features skipped because their geometry was broken.
    """

    crs: str
    source_crs: str
    sources: tuple[str, ...]
    features: FeatureTable
    occluders: Mesh
    roads: Mesh
    road_area: RoadArea
    footprints: tuple[shapely.Polygon, ...]
    footprint_feature: IntArray
    poles: Poles
    ground_source: str
    warnings: tuple[str, ...] = ()
    skipped: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def view_blockers(self) -> Mesh:
        """What blocks a camera's view: the occluders and the road surfaces (the ground where
        no terrain is loaded: a raised road, an embankment or a crest hides what lies behind
        it)."""
        if not self.roads.n_triangles:
            return self.occluders
        return Mesh.concatenate([self.occluders, self.roads])

    def bounds(self) -> tuple[float, float, float, float, float, float]:
        """(minx, miny, minz, maxx, maxy, maxz) over occluders and roads, metres."""
        parts = [m.vertices for m in (self.occluders, self.roads) if m.vertices.shape[0]]
        if not parts:
            return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        v = np.concatenate(parts)
        lo, hi = v.min(axis=0), v.max(axis=0)
        return (
            float(lo[0]), float(lo[1]), float(lo[2]),
            float(hi[0]), float(hi[1]), float(hi[2]),
        )  # fmt: skip


@dataclass(frozen=True)
class Sites:
    """Candidate camera sites (poles), existing or new.

    Attributes
    ----------
    ids : a stable id per site ("edge-00012", "pole-<gml:id>", "user-3", ...).
    xyz : (N, 3) float64, the lens position in metres (ground z + mount height).
    ground_z : (N,) float64, the ground height under the site.
    cost : (N,) float64, the cost of putting one camera on this site (default 1).
    existing : (N,) bool, a camera is already installed here (kept at no cost).
    heading_deg : (N,) float64, fixed heading of an existing camera, NaN when free.
    source : where each site came from: "road-edge", "plateau-pole" or "user".
    tilt_deg : (N,) float64, fixed tilt below the horizon, NaN when free (an existing
        camera without one is taken at the camera's own tilt); None: every site is free.
    clearance_m : (N,) float64, the radius of the base of the PLATEAU pole a site stands on
        (a plain pole is widest there): a camera there hangs on a bracket just outside it,
        towards its heading (:func:`placement.sites.make_options`); 0 for a site with no
        pole in the model; None: 0 everywhere. The arm of a sign or a light higher up can
        still hide part of the view (an audit: 3.7 % of the pairs in view on the Kawasaki
        furniture file's function-4800 frames, 0 on plain poles).
    pole_ids : the pole each site stands at, as its file named it (the ``site_id`` of a
        run's cameras file read back with ``--existing``); None, or an empty name: the
        site's own id.
    """

    ids: tuple[str, ...]
    xyz: FloatArray
    ground_z: FloatArray
    cost: FloatArray
    existing: BoolArray
    heading_deg: FloatArray
    source: tuple[str, ...]
    tilt_deg: FloatArray | None = None
    clearance_m: FloatArray | None = None
    pole_ids: tuple[str, ...] | None = None

    def pole_names(self) -> tuple[str, ...]:
        """The name of the pole each site stands at: its file's, else its own id."""
        if self.pole_ids is None:
            return self.ids
        return tuple(p or i for p, i in zip(self.pole_ids, self.ids, strict=True))

    def fixed_tilts(self) -> FloatArray:
        """(N,) the fixed tilt of each site, NaN where free."""
        return np.full(len(self.ids), np.nan) if self.tilt_deg is None else self.tilt_deg

    def clearances(self) -> FloatArray:
        """(N,) the radius of the base of each site's pole, 0 where none."""
        return np.zeros(len(self.ids)) if self.clearance_m is None else self.clearance_m

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Options:
    """Camera options: one row per (site, heading, tilt) a camera could be installed as.

    Attributes
    ----------
    site : (M,) int32 row of :class:`Sites`.
    heading_deg : (M,) float64, clockwise from grid north (the CRS's +y axis).
    tilt_deg : (M,) float64, downwards from the horizon.
    origin : (M, 3) float64, lens position in metres.
    cost : (M,) float64, the site's cost.
    existing : (M,) bool, an installed camera (kept at no cost when passed to the optimiser
        as ``existing=np.flatnonzero(options.existing)``; the pipeline does).
    """

    site: IntArray
    heading_deg: FloatArray
    tilt_deg: FloatArray
    origin: FloatArray
    cost: FloatArray
    existing: BoolArray

    def __len__(self) -> int:
        return int(self.site.shape[0])


@dataclass(frozen=True)
class Demand:
    """Street points a camera should see.

    Attributes
    ----------
    xyz : (N, 3) float64, the target point (road surface + target height), metres.
    ground_z : (N,) float64, the road surface height under each point.
    weight : (N,) float64, how much seeing this point is worth (>= 0).
    kind : (N,) int8 :class:`SurfaceKind` of the road surface (ROAD or SIDEWALK).
    spacing_m : the sampling grid spacing, metres.
    road : (N,) int32 row of ``City.features`` of the road surface (Road, or its traffic
        area) each point lies on, -1 where unknown; None when not recorded.
    """

    xyz: FloatArray
    ground_z: FloatArray
    weight: FloatArray
    kind: Int8Array
    spacing_m: float
    road: IntArray | None = None

    def __len__(self) -> int:
        return int(self.xyz.shape[0])
