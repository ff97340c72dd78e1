"""Small hand-built cities for exact tests of the stages after loading."""

from __future__ import annotations

import numpy as np
import shapely
import trimesh

from placement.model import City, FeatureTable, Mesh, Poles, RoadArea, SurfaceKind

# A point in Osaka's plane rectangular zone VI (EPSG:6674), so lon/lat round trips are real.
X0, Y0 = -43000.0, -148000.0
GROUND_Z = 3.0


def rect_mesh(
    x0: float, y0: float, x1: float, y1: float, z: float, feature: int, kind: int
) -> Mesh:
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    return Mesh(v, f, np.full(2, feature, np.int32), np.full(2, kind, np.int8))


def box_mesh(
    x0: float, y0: float, x1: float, y1: float, z0: float, z1: float, feature: int
) -> Mesh:
    b = trimesh.creation.box(extents=[x1 - x0, y1 - y0, z1 - z0])
    b.apply_translation([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2])
    n = len(b.faces)
    return Mesh(
        np.asarray(b.vertices, float),
        np.asarray(b.faces, np.int32),
        np.full(n, feature, np.int32),
        np.full(n, SurfaceKind.BUILDING_OTHER, np.int8),
    )


def cross_city(*, with_pole: bool = True) -> City:
    """Two 10 m wide streets crossing at (X0, Y0), each 100 m long, at GROUND_Z; a 20 m tall
    20 x 20 m building in the north-east corner block; the east arm of the east-west street
    is a sidewalk; one utility pole (function 4840, 8 m) at the south-west corner."""
    ids = ["road-ns", "road-ew", "walk-e", "bldg-1", "pole-1"]
    cls = ["Road", "Road", "AuxiliaryTrafficArea", "Building", "CityFurniture"]
    ns = (X0 - 5, Y0 - 50, X0 + 5, Y0 + 50)
    ew = (X0 - 50, Y0 - 5, X0 + 5, Y0 + 5)
    walk = (X0 + 5, Y0 - 5, X0 + 50, Y0 + 5)
    roads = Mesh.concatenate(
        [
            rect_mesh(*ns, GROUND_Z, 0, SurfaceKind.ROAD),
            rect_mesh(*ew, GROUND_Z, 1, SurfaceKind.ROAD),
            rect_mesh(*walk, GROUND_Z, 2, SurfaceKind.SIDEWALK),
        ]
    )
    bx = (X0 + 10, Y0 + 10, X0 + 30, Y0 + 30)
    building = box_mesh(*bx, GROUND_Z, GROUND_Z + 20, 3)
    poles = Poles.empty()
    if with_pole:
        poles = Poles(
            np.array([[X0 - 6, Y0 - 6, GROUND_Z]]),
            np.array([8.0]),
            ("4840",),
            np.array([4], np.int32),
        )
    feats = FeatureTable(
        tuple(ids),
        tuple(cls),
        np.array([1, 1, 3, 1, 3], np.int8),
        np.array([np.nan, np.nan, np.nan, 20.0, np.nan]),
        ("", "", "2000", "", "4840"),
        ("", "", "", "", ""),
        np.zeros(5, np.int32),
    )
    return City(
        crs="EPSG:6674",
        source_crs="EPSG:6697",
        sources=("synthetic",),
        features=feats,
        occluders=building,
        roads=roads,
        road_area=RoadArea(
            (shapely.box(*ns), shapely.box(*ew), shapely.box(*walk)),
            np.array([SurfaceKind.ROAD, SurfaceKind.ROAD, SurfaceKind.SIDEWALK], np.int8),
            np.array([0, 1, 2], np.int32),
        ),
        footprints=(shapely.box(*bx),),
        footprint_feature=np.array([3], np.int32),
        poles=poles,
        ground_source="model",
    )
