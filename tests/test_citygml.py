"""The CityGML loader: exact fragments, bad input, and every real PLATEAU tile."""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import trimesh
from lxml import etree
from pyproj import Transformer

from placement.citygml import read_citygml, summarize
from placement.errors import CityGMLError, OptionError
from placement.model import City, Mesh, SurfaceKind

ZONE = "EPSG:6674"
LAT0, LON0 = 34.6666407, 135.3891737558797  # the SW corner of Osaka tile 52350301
_FWD = Transformer.from_crs("EPSG:6668", ZONE, always_xy=True)
_INV = Transformer.from_crs(ZONE, "EPSG:6668", always_xy=True)
X0, Y0 = _FWD.transform(LON0, LAT0)

URO3 = "https://www.geospatial.jp/iur/uro/3.0"
URO14 = "http://www.kantei.go.jp/jp/singi/tiiki/toshisaisei/itoshisaisei/iur/uro/1.4"
NS = (
    'xmlns:core="http://www.opengis.net/citygml/2.0" '
    'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
    'xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" '
    'xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0" '
    'xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0" '
    'xmlns:dem="http://www.opengis.net/citygml/relief/2.0" '
    'xmlns:brid="http://www.opengis.net/citygml/bridge/2.0" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink"'
)
SRS = "http://www.opengis.net/def/crs/EPSG/0/6697"


def pos(points: Sequence[tuple[float, float, float]]) -> str:
    """Local metres (from the SW corner) -> a closed 'lat lon h' posList."""
    pts = [*points, points[0]]
    lon, lat = _INV.transform([X0 + p[0] for p in pts], [Y0 + p[1] for p in pts])
    return " ".join(f"{a:.12f} {o:.12f} {p[2]}" for a, o, p in zip(lat, lon, pts, strict=True))


def poly(*rings: Sequence[tuple[float, float, float]], pid: str = "") -> str:
    attr = f' gml:id="{pid}"' if pid else ""
    out = f"<gml:Polygon{attr}><gml:exterior><gml:LinearRing><gml:posList>{pos(rings[0])}"
    out += "</gml:posList></gml:LinearRing></gml:exterior>"
    for r in rings[1:]:
        out += f"<gml:interior><gml:LinearRing><gml:posList>{pos(r)}</gml:posList>"
        out += "</gml:LinearRing></gml:interior>"
    return out + "</gml:Polygon>"


def ms(*polys: str) -> str:
    return (
        "<gml:MultiSurface>"
        + "".join(f"<gml:surfaceMember>{p}</gml:surfaceMember>" for p in polys)
        + "</gml:MultiSurface>"
    )


def box_faces(x: float, y: float, w: float, d: float, z0: float, z1: float) -> dict[str, list[str]]:
    """Outward polygons of an axis-aligned box, by surface kind."""
    a, b, c, e = (x, y), (x + w, y), (x + w, y + d), (x, y + d)
    ring = [a, b, c, e]
    walls = [
        poly([(*ring[i], z0), (*ring[(i + 1) % 4], z0), (*ring[(i + 1) % 4], z1), (*ring[i], z1)])
        for i in range(4)
    ]
    return {
        "ground": [poly([(*p, z0) for p in reversed(ring)])],
        "roof": [poly([(*p, z1) for p in ring])],
        "wall": walls,
    }


def solid(faces: dict[str, list[str]]) -> str:
    members = "".join(
        f"<gml:surfaceMember>{p}</gml:surfaceMember>" for k in faces for p in faces[k]
    )
    return f"<gml:Solid><gml:exterior><gml:CompositeSurface>{members}</gml:CompositeSurface></gml:exterior></gml:Solid>"


def footprint(x: float, y: float, w: float, d: float, z: float = 0.0) -> str:
    return ms(poly([(x, y, z), (x + w, y, z), (x + w, y + d, z), (x, y + d, z)]))


def building(bid: str, body: str, height: str | None = None) -> str:
    mh = f'<bldg:measuredHeight uom="m">{height}</bldg:measuredHeight>' if height else ""
    return f'<core:cityObjectMember><bldg:Building gml:id="{bid}">{mh}{body}</bldg:Building></core:cityObjectMember>'


def document(
    members: str, *, uro: str = URO3, srs: str | None = SRS, core: str | None = None
) -> str:
    ns = NS if core is None else NS.replace("http://www.opengis.net/citygml/2.0", core)
    env = (
        f'<gml:boundedBy><gml:Envelope srsName="{srs}" srsDimension="3"><gml:lowerCorner>0 0 0'
        "</gml:lowerCorner><gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope></gml:boundedBy>"
        if srs
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<core:CityModel {ns} xmlns:uro="{uro}">'
        f"{env}{members}</core:CityModel>\n"
    )


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return p


def feature_mesh(city: City, fid: str, mesh: Mesh | None = None) -> trimesh.Trimesh:
    m = city.occluders if mesh is None else mesh
    row = city.features.ids.index(fid)
    sel = m.select(m.feature == row)
    return trimesh.Trimesh(sel.vertices, sel.faces, process=True)


# --------------------------------------------------------------------------- fragments


def test_unit_cube_lod1_solid(tmp_path: Path) -> None:
    body = f"<bldg:lod1Solid>{solid(box_faces(10, 20, 1, 1, 5.0, 6.0))}</bldg:lod1Solid>"
    city = read_citygml(write(tmp_path, "cube.gml", document(building("cube", body))))
    assert city.crs == ZONE and city.source_crs == "EPSG:6697"
    tm = feature_mesh(city, "cube")
    assert tm.is_watertight
    assert tm.volume == pytest.approx(1.0, abs=1e-5)
    assert tm.area == pytest.approx(6.0, abs=1e-5)
    assert city.features.lod.tolist() == [1]
    assert set(city.occluders.kind.tolist()) == {int(SurfaceKind.BUILDING_OTHER)}


def test_axis_order_lat_lon_lands_on_pyproj_coordinates(tmp_path: Path) -> None:
    body = f"<bldg:lod1Solid>{solid(box_faces(0, 0, 2, 3, 1.0, 4.0))}</bldg:lod1Solid>"
    city = read_citygml(write(tmp_path, "b.gml", document(building("b", body))))
    lo = city.occluders.vertices.min(axis=0)
    hi = city.occluders.vertices.max(axis=0)
    # The SW corner is (LAT0, LON0), given in the file as "lat lon h".
    assert lo[0] == pytest.approx(X0, abs=1e-4) and lo[1] == pytest.approx(Y0, abs=1e-4)
    assert hi[0] - lo[0] == pytest.approx(2.0, abs=1e-4)
    assert hi[1] - lo[1] == pytest.approx(3.0, abs=1e-4)
    assert (lo[2], hi[2]) == (1.0, 4.0)


def test_courtyard_polygon_area_is_outer_minus_hole(tmp_path: Path) -> None:
    outer = [(0, 0, 2.0), (10, 0, 2.0), (10, 10, 2.0), (0, 10, 2.0)]
    hole = [(3, 3, 2.0), (3, 7, 2.0), (7, 7, 2.0), (7, 3, 2.0)]
    road = (
        '<core:cityObjectMember><tran:Road gml:id="r1"><tran:lod1MultiSurface>'
        f"{ms(poly(outer, hole))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>"
    )
    city = read_citygml(write(tmp_path, "road.gml", document(road)))
    assert city.roads.area() == pytest.approx(84.0, abs=1e-3)
    assert len(city.road_area) == 1
    assert city.road_area.polygons[0].area == pytest.approx(84.0, abs=1e-3)
    assert len(city.road_area.polygons[0].interiors) == 1
    assert city.ground_source == "model"
    assert summarize(city)["road_area_m2"] == pytest.approx(84.0, abs=0.01)


def lod2_building(bid: str = "b2") -> str:
    faces = box_faces(0, 0, 8, 6, 3.0, 9.0)
    refs, bounded = [], []
    names = {"wall": "WallSurface", "roof": "RoofSurface", "ground": "GroundSurface"}
    for kind, polys in faces.items():
        for i, p in enumerate(polys):
            pid = f"{bid}-{kind}-{i}"
            refs.append(f'<gml:surfaceMember xlink:href="#{pid}"/>')
            tagged = p.replace("<gml:Polygon>", f'<gml:Polygon gml:id="{pid}">')
            bounded.append(
                f"<bldg:boundedBy><bldg:{names[kind]}><bldg:lod2MultiSurface>{ms(tagged)}"
                f"</bldg:lod2MultiSurface></bldg:{names[kind]}></bldg:boundedBy>"
            )
    lod2 = (
        "<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface>"
        + "".join(refs)
        + "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>"
    )
    lod1 = f"<bldg:lod1Solid>{solid(box_faces(0, 0, 8, 6, 3.0, 9.0))}</bldg:lod1Solid>"
    return building(
        bid,
        f"<bldg:lod0FootPrint>{footprint(0, 0, 8, 6, 0.0)}</bldg:lod0FootPrint>{lod1}{lod2}{''.join(bounded)}",
        "6.0",
    )


def test_lod2_xlinks_resolve_to_bounded_by_surfaces(tmp_path: Path) -> None:
    city = read_citygml(write(tmp_path, "lod2.gml", document(lod2_building())))
    kinds = Counter(SurfaceKind(k).name for k in city.occluders.kind.tolist())
    assert kinds == {"WALL": 8, "ROOF": 2, "GROUND": 2}
    assert city.features.lod.tolist() == [2]
    tm = feature_mesh(city, "b2")
    assert tm.is_watertight and tm.volume == pytest.approx(8 * 6 * 6, rel=1e-6)
    # The footprint comes from LOD0.
    assert len(city.footprints) == 1 and city.footprints[0].area == pytest.approx(48.0, abs=1e-3)
    assert summarize(city)["lod"] == {"Building": {"lod2": 1}}


def test_lod_choice_and_missing_height(tmp_path: Path) -> None:
    lod01 = building(
        "b01",
        f"<bldg:lod0FootPrint>{footprint(20, 0, 5, 5)}</bldg:lod0FootPrint>"
        f"<bldg:lod1Solid>{solid(box_faces(20, 0, 5, 5, 1.0, 4.0))}</bldg:lod1Solid>",
        "3.0",
    )
    lod0 = building(
        "b0", f"<bldg:lod0FootPrint>{footprint(40, 0, 4, 5, 2.0)}</bldg:lod0FootPrint>", "12.5"
    )
    lod0_missing = building(
        "bm", f"<bldg:lod0FootPrint>{footprint(60, 0, 4, 5)}</bldg:lod0FootPrint>", "-9999"
    )
    doc = document(lod2_building() + lod01 + lod0 + lod0_missing)
    city = read_citygml(write(tmp_path, "lods.gml", doc), default_height_m=7.5)
    f = city.features
    assert dict(zip(f.ids, f.lod.tolist(), strict=True)) == {"b2": 2, "b01": 1, "b0": 0, "bm": 0}
    assert f.measured_height[f.ids.index("bm")] != f.measured_height[f.ids.index("bm")]  # NaN
    assert f.measured_height[f.ids.index("b0")] == 12.5
    b0, bm = feature_mesh(city, "b0"), feature_mesh(city, "bm")
    assert b0.bounds[:, 2].tolist() == [2.0, 14.5]  # extruded by measuredHeight
    assert bm.bounds[:, 2].tolist() == [0.0, 7.5]  # -9999 = missing: default height
    assert b0.is_watertight and b0.volume == pytest.approx(4 * 5 * 12.5, rel=1e-6)


def test_building_part(tmp_path: Path) -> None:
    part = (
        '<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="p1">'
        f"<bldg:lod1Solid>{solid(box_faces(5, 0, 3, 3, 0.0, 2.0))}</bldg:lod1Solid>"
        "</bldg:BuildingPart></bldg:consistsOfBuildingPart>"
    )
    body = f"<bldg:lod1Solid>{solid(box_faces(0, 0, 5, 5, 0.0, 6.0))}</bldg:lod1Solid>{part}"
    city = read_citygml(write(tmp_path, "part.gml", document(building("main", body))))
    assert city.features.ids == ("main", "p1")
    assert city.features.cls == ("Building", "BuildingPart")
    assert feature_mesh(city, "main").volume == pytest.approx(150.0, rel=1e-6)
    assert feature_mesh(city, "p1").volume == pytest.approx(18.0, rel=1e-6)
    assert summarize(city)["counts"] == {"Building": 1, "BuildingPart": 1}


def test_bom_and_uro_versions_give_equal_results(tmp_path: Path) -> None:
    body = lod2_building()
    a = read_citygml(write(tmp_path, "a.gml", document(body, uro=URO3)))
    b = read_citygml(write(tmp_path, "b.gml", document(body, uro=URO14), bom=True))
    assert np.array_equal(a.occluders.vertices, b.occluders.vertices)
    assert np.array_equal(a.occluders.faces, b.occluders.faces)
    assert a.features.ids == b.features.ids


def test_traffic_areas_replace_the_lod1_surface_and_flat_roads_get_ground(tmp_path: Path) -> None:
    flat = [(0, 0, 0.0), (30, 0, 0.0), (30, 8, 0.0), (0, 8, 0.0)]
    ta = (
        '<tran:trafficArea><tran:TrafficArea gml:id="ta"><tran:function>1000</tran:function>'
        f"<tran:lod3MultiSurface>{ms(poly([(0, 2, 5.0), (30, 2, 5.0), (30, 6, 5.0), (0, 6, 5.0)]))}"
        "</tran:lod3MultiSurface></tran:TrafficArea></tran:trafficArea>"
        '<tran:auxiliaryTrafficArea><tran:AuxiliaryTrafficArea gml:id="aux"><tran:function>2000</tran:function>'
        f"<tran:lod3MultiSurface>{ms(poly([(0, 0, 5.1), (30, 0, 5.1), (30, 2, 5.1), (0, 2, 5.1)]))}"
        "</tran:lod3MultiSurface></tran:AuxiliaryTrafficArea></tran:auxiliaryTrafficArea>"
    )
    road3 = f'<core:cityObjectMember><tran:Road gml:id="r3">{ta}<tran:lod1MultiSurface>{ms(poly(flat))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'
    flat2 = [(0, 20, 0.0), (30, 20, 0.0), (30, 28, 0.0), (0, 28, 0.0)]
    road1 = f'<core:cityObjectMember><tran:Road gml:id="r1"><tran:lod1MultiSurface>{ms(poly(flat2))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'
    house = building(
        "h", f"<bldg:lod1Solid>{solid(box_faces(10, 30, 6, 6, 4.0, 10.0))}</bldg:lod1Solid>"
    )
    city = read_citygml(write(tmp_path, "t.gml", document(road3 + road1 + house)))
    s = summarize(city)
    assert s["counts"] == {"Road": 2, "TrafficArea": 1, "AuxiliaryTrafficArea": 1, "Building": 1}
    assert s["lod"]["Road"] == {"lod3": 1, "lod1": 1}
    # 30 x 4 carriageway + 30 x 2 sidewalk (not the 30 x 8 LOD1 surface) + the 30 x 8 flat road.
    assert s["road_area_m2"] == pytest.approx(120 + 60 + 240, abs=0.05)
    kinds = city.road_area.kind.tolist()
    assert sorted(kinds) == sorted(
        [int(SurfaceKind.ROAD), int(SurfaceKind.SIDEWALK), int(SurfaceKind.ROAD)]
    )
    # The flat road sits on the only building base (z = 4); traffic areas keep their z.
    r1 = city.features.ids.index("r1")
    zs = city.roads.vertices[np.unique(city.roads.faces[city.roads.feature == r1])][:, 2]
    assert np.allclose(zs, 4.0)
    assert city.ground_source == "model and buildings"
    assert city.roads.vertices[:, 2].max() == pytest.approx(5.1)


def _sloped_dem() -> str:
    """A DEM over x, y in -10..50 m rising 6 m northwards: z = 3 + 0.1 (y + 10)."""
    tris = "".join(
        f"<gml:Triangle><gml:exterior><gml:LinearRing><gml:posList>{pos(t)}</gml:posList></gml:LinearRing></gml:exterior></gml:Triangle>"
        for t in (
            [(-10, -10, 3.0), (50, -10, 3.0), (50, 50, 9.0)],
            [(-10, -10, 3.0), (50, 50, 9.0), (-10, 50, 9.0)],
        )
    )
    return (
        '<core:cityObjectMember><dem:ReliefFeature gml:id="rf"><dem:lod>1</dem:lod><dem:reliefComponent>'
        '<dem:TINRelief gml:id="tin"><dem:lod>1</dem:lod><dem:tin><gml:TriangulatedSurface><gml:trianglePatches>'
        f"{tris}</gml:trianglePatches></gml:TriangulatedSurface></dem:tin></dem:TINRelief>"
        "</dem:reliefComponent></dem:ReliefFeature></core:cityObjectMember>"
    )


def test_dem_gives_the_ground_under_flat_roads(tmp_path: Path) -> None:
    dem = _sloped_dem()
    flat = [(0, 0, 0.0), (10, 0, 0.0), (10, 10, 0.0), (0, 10, 0.0)]
    road = f'<core:cityObjectMember><tran:Road gml:id="r"><tran:lod1MultiSurface>{ms(poly(flat))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'
    city = read_citygml(write(tmp_path, "dem.gml", document(dem + road)))
    assert city.ground_source == "dem"
    # The DEM rises 6 m over 60 m northwards: z = 3 + 0.1 (y + 10).
    v = city.roads.vertices
    assert np.allclose(v[:, 2], 3.0 + 0.1 * (v[:, 1] - Y0 + 10.0), atol=1e-3)
    assert Counter(city.occluders.kind.tolist()) == {int(SurfaceKind.TERRAIN): 2}


def test_roads_off_the_dem_are_not_given_its_edge_height_silently(tmp_path: Path) -> None:
    # The DEM covers x, y in -10..50; a second flat road lies 250 m east of it (another
    # part of the 2nd mesh was given, say). Its nearest DEM height would be a guess.
    dem = _sloped_dem()

    def road(rid: str, x: float) -> str:
        flat = [(x, 0, 0.0), (x + 10, 0, 0.0), (x + 10, 10, 0.0), (x, 10, 0.0)]
        return f'<core:cityObjectMember><tran:Road gml:id="{rid}"><tran:lod1MultiSurface>{ms(poly(flat))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'

    both = dem + road("near", 0) + road("far", 300)
    city = read_citygml(write(tmp_path, "off.gml", document(both)))
    (msg,) = [w for w in city.warnings if "off the DEM" in w]
    assert msg.startswith("4 of 8 road and pole vertices lie more than 50 m off the DEM")
    assert "the DEM's nearest point, a guess" in msg
    assert city.ground_source == "dem"
    # With a building beside the far road, its base gives the ground there.
    house = building(
        "b", f"<bldg:lod1Solid>{solid(box_faces(300, 20, 8, 6, 20.0, 26.0))}</bldg:lod1Solid>"
    )
    city = read_citygml(write(tmp_path, "off2.gml", document(both + house)))
    (msg,) = [w for w in city.warnings if "off the DEM" in w]
    assert "ground comes from the buildings" in msg
    assert city.ground_source == "dem and buildings"
    v = city.roads.vertices
    far = v[:, 0] > v[:, 0].min() + 100
    assert np.allclose(v[far, 2], 20.0, atol=1e-6)
    assert np.allclose(v[~far, 2], 3.0 + 0.1 * (v[~far, 1] - Y0 + 10.0), atol=1e-3)


def test_roads_alone_take_the_ground_from_the_roads_stored_with_heights(tmp_path: Path) -> None:
    # A road stored with its heights (z 5 to 7, as LOD3 traffic areas are) and one stored
    # flat at z = 0 beside it, no DEM and no buildings: the flat one is lifted onto the
    # heights of the other, not left 5 m below it.
    def road(rid: str, ring: list[tuple[float, float, float]]) -> str:
        return f'<core:cityObjectMember><tran:Road gml:id="{rid}"><tran:lod1MultiSurface>{ms(poly(ring))}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'

    real = road("real", [(0, 0, 5.0), (40, 0, 7.0), (40, 10, 7.0), (0, 10, 5.0)])
    flat = road("flat", [(40, 0, 0.0), (60, 0, 0.0), (60, 10, 0.0), (40, 10, 0.0)])
    city = read_citygml(write(tmp_path, "roads.gml", document(real + flat)))
    assert city.ground_source == "model and roads"
    (msg,) = [w for w in city.warnings if "no DEM or buildings" in w]
    assert "it comes from the 4 road and pole points stored with their heights" in msg
    v = city.roads.vertices
    east = v[:, 0] > v[:, 0].min() + 50  # the flat road's far end: the nearest height, 7
    assert np.allclose(v[east, 2], 7.0, atol=1e-6)
    assert v[:, 2].min() == pytest.approx(5.0, abs=1e-6)
    # With nothing stored with heights, z stays 0 and the run says so.
    city = read_citygml(write(tmp_path, "flat.gml", document(flat)))
    assert city.ground_source == "none" and np.allclose(city.roads.vertices[:, 2], 0.0)
    assert any("z kept at 0" in w for w in city.warnings)


def test_poles_furniture_and_tree(tmp_path: Path) -> None:
    pole = (
        '<core:cityObjectMember><frn:CityFurniture gml:id="pole"><frn:function>4840</frn:function>'
        f"<frn:lod2Geometry>{ms(*box_faces(5, 5, 0.3, 0.3, 2.0, 11.0)['wall'])}</frn:lod2Geometry>"
        "</frn:CityFurniture></core:cityObjectMember>"
    )
    bench = (
        '<core:cityObjectMember><frn:CityFurniture gml:id="bench"><frn:function>8160</frn:function>'
        f"<frn:lod2Geometry>{ms(*box_faces(9, 5, 2, 0.5, 2.0, 2.5)['roof'])}</frn:lod2Geometry>"
        "</frn:CityFurniture></core:cityObjectMember>"
    )
    tree = (
        '<core:cityObjectMember><veg:SolitaryVegetationObject gml:id="tree">'
        f"<veg:lod1Geometry>{solid(box_faces(20, 20, 3, 3, 4.0, 9.0))}</veg:lod1Geometry>"
        "</veg:SolitaryVegetationObject></core:cityObjectMember>"
    )
    city = read_citygml(write(tmp_path, "frn.gml", document(pole + bench + tree)))
    assert len(city.poles) == 1 and city.poles.function == ("4840",)
    assert city.poles.height_m[0] == pytest.approx(9.0)
    assert city.poles.xyz[0] == pytest.approx([X0 + 5.15, Y0 + 5.15, 2.0], abs=1e-4)
    kinds = Counter(city.occluders.kind.tolist())
    assert kinds == {int(SurfaceKind.FURNITURE): 10, int(SurfaceKind.VEGETATION): 12}


# --------------------------------------------------------------------------- bad input


def _fails(path: Path, *needles: str) -> str:
    with pytest.raises(CityGMLError) as info:
        read_citygml(path)
    msg = str(info.value)
    assert path.name in msg and "\n" not in msg
    for n in needles:
        assert n in msg
    return msg


def test_bad_files_raise_one_line_errors(tmp_path: Path) -> None:
    good = document(
        building("b", f"<bldg:lod1Solid>{solid(box_faces(0, 0, 1, 1, 0, 1))}</bldg:lod1Solid>")
    )
    _fails(write(tmp_path, "empty.gml", ""), "empty file")
    _fails(write(tmp_path, "text.gml", "hello, not xml"), "not XML")
    _fails(write(tmp_path, "trunc.gml", good[: len(good) // 2]), "truncated")
    _fails(
        write(tmp_path, "root.gml", '<?xml version="1.0"?><html><body/></html>'),
        "not CityGML 2.0",
        "html",
    )
    _fails(
        write(tmp_path, "nons.gml", "<CityModel><cityObjectMember/></CityModel>"),
        "without a namespace",
    )
    _fails(
        write(tmp_path, "v1.gml", document("", core="http://www.opengis.net/citygml/1.0")),
        "CityGML 1.0",
    )
    _fails(
        write(tmp_path, "v3.gml", document("", core="http://www.opengis.net/citygml/3.0")),
        "CityGML 3.0",
    )
    _fails(
        write(
            tmp_path,
            "nocrs.gml",
            document(
                building(
                    "b", f"<bldg:lod1Solid>{solid(box_faces(0, 0, 1, 1, 0, 1))}</bldg:lod1Solid>"
                ),
                srs=None,
            ),
        ),
        "no CRS",
    )
    _fails(write(tmp_path, "crs.gml", document("", srs="EPSG:3857")), "unsupported CRS EPSG:3857")
    _fails(write(tmp_path, "crs2.gml", document("", srs="urn:nothing")), "unknown srsName")
    _fails(write(tmp_path, "nofeat.gml", document("")), "no supported features")
    with pytest.raises(CityGMLError, match="no such file"):
        read_citygml(tmp_path / "missing.gml")


def test_an_empty_file_among_others_is_a_warning(tmp_path: Path) -> None:
    good = write(tmp_path, "g.gml", document(lod2_building()))
    empty = write(tmp_path, "e.gml", document(""))
    city = read_citygml([good, empty])
    assert len(city.features) == 1
    assert any("e.gml" in w and "no supported features" in w for w in city.warnings)


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    text = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]><core:CityModel {NS}>&lol9;</core:CityModel>'
    )
    path = write(tmp_path, "lol.gml", text)
    t = time.perf_counter()
    _fails(path, "DOCTYPE")
    assert time.perf_counter() - t < 1.0


def test_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "TOPSECRET")
    text = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f"<core:CityModel {NS}>&xxe;</core:CityModel>"
    )
    msg = _fails(write(tmp_path, "xxe.gml", text))
    assert "TOPSECRET" not in msg


def test_broken_geometry_skips_feature_or_polygon(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 4, 4, 0.0, 3.0)
    # Building "nan": one wall has a NaN -> that polygon is dropped, the rest loads.
    faces_nan = {
        **faces,
        "wall": [
            faces["wall"][0].replace("</gml:posList>", " nan nan nan</gml:posList>", 1),
            *faces["wall"][1:],
        ],
    }
    odd = poly([(10, 0, 0.0), (12, 0, 0.0), (12, 2, 0.0)]).replace(
        "</gml:posList>", " 7.5</gml:posList>"
    )
    broken = building(
        "odd",
        f"<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface><gml:surfaceMember>{odd}</gml:surfaceMember></gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>",
    )
    fine = building("nan", f"<bldg:lod1Solid>{solid(faces_nan)}</bldg:lod1Solid>")
    two = poly([(20, 0, 0.0), (21, 0, 0.0)])
    short = building(
        "short",
        f"<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface><gml:surfaceMember>{two}</gml:surfaceMember></gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>",
    )
    city = read_citygml(write(tmp_path, "broken.gml", document(broken + fine + short)))
    assert city.skipped == 2
    s = summarize(city)
    assert s["counts"] == {"Building": 1} and s["skipped"] == 2
    assert city.occluders.n_triangles == 2 * 5  # the cube without one wall
    msgs = "\n".join(city.warnings)
    assert "feature odd" in msgs and "not a multiple" in msgs
    assert "feature nan" in msgs and "NaN" in msgs
    assert "feature short" in msgs and "distinct points" in msgs


# --------------------------------------------------------------------------- real tiles

CLASSES = (
    "Building", "BuildingPart", "Road", "TrafficArea", "AuxiliaryTrafficArea",
    "CityFurniture", "SolitaryVegetationObject", "PlantCover", "TINRelief",
)  # fmt: skip
#: Feature counts from SOURCES.md.
SOURCES_COUNTS = {
    "osaka/52350301_bldg_6697_op.gml": {"Building": 80},
    "osaka/52350301_tran_6697_op.gml": {"Road": 3, "TrafficArea": 15, "AuxiliaryTrafficArea": 50},
    "osaka/51357371_bldg_6697_op.gml": {"Building": 12},
    "osaka/51357371_tran_6697_op.gml": {"Road": 75, "TrafficArea": 14, "AuxiliaryTrafficArea": 8},
    "osaka/51357353_bldg_6697_op.gml": {"Building": 423},
    "osaka/51357353_tran_6697_op.gml": {"Road": 567},
    "nusamai/52397519_bldg_6697_op.gml": {"Building": 13, "BuildingPart": 2},
    "nusamai/64413325_bldg_6697_op.gml": {"Building": 25},
    "nusamai/523965_dem_6697_05_op.gml": {"TINRelief": 2},
    "nusamai/53391597_frn_6697_op.gml": {"CityFurniture": 28},
    "nusamai/52384698_frn_6697_op.gml": {"CityFurniture": 44},
    "nusamai/53394525_frn_6697_op.gml": {"CityFurniture": 2},
    "nusamai/56380598_frn_6697_op.gml": {"CityFurniture": 1},
    "nusamai/52385628_veg_6697_op.gml": {"PlantCover": 9, "SolitaryVegetationObject": 19},
    "nusamai/54401008_veg_6697_op.gml": {"PlantCover": 2},
    "libplateau/533925_tran_6697_op.gml": {"Road": 9},
}
BLOCK = (
    [f"5135735{c}" for c in "123"] + [f"5135736{c}" for c in "123"] + [f"5135737{c}" for c in "123"]
)

_cache: dict[str, City] = {}


def load(plateau: Path, rel: str) -> City:
    if rel not in _cache:
        _cache[rel] = read_citygml(plateau / rel)
    return _cache[rel]


def xml_counts(path: Path) -> Counter[str]:
    """Features per class by a plain walk over the XML tree (independent of the loader)."""
    tree = etree.parse(str(path), etree.XMLParser(huge_tree=True, resolve_entities=False))
    return Counter(
        etree.QName(el).localname
        for el in tree.iter()
        if isinstance(el.tag, str) and etree.QName(el).localname in CLASSES
    )


def real_files(plateau: Path) -> list[str]:
    return sorted(
        str(p.relative_to(plateau)) for p in plateau.rglob("*.gml") if "codelists" not in p.parts
    )


@pytest.mark.realdata
def test_every_real_file_counts_match_an_xml_walk_and_sources(plateau: Path) -> None:
    files = real_files(plateau)
    assert len(files) >= 29
    for rel in files:
        city = load(plateau, rel)
        s = summarize(city)
        expected = dict(xml_counts(plateau / rel))
        assert s["counts"] == expected, rel
        if rel in SOURCES_COUNTS:
            assert expected == SOURCES_COUNTS[rel], rel
        assert s["skipped"] == 0 and s["warnings"] <= 1, (rel, s["warning_messages"])
        assert s["source_crs"] == "EPSG:6697"


@pytest.mark.realdata
def test_osaka_lod1_buildings_are_closed_and_match_measured_height(plateau: Path) -> None:
    city = load(plateau, "osaka/51357353_bldg_6697_op.gml")
    o = city.occluders
    f = city.features
    assert (f.lod == 1).all()
    order = np.argsort(o.feature, kind="stable")
    bounds = np.searchsorted(o.feature[order], np.arange(len(f) + 1))
    checked = 0
    for row in range(len(f)):
        faces = o.faces[order[bounds[row] : bounds[row + 1]]]
        tm = trimesh.Trimesh(o.vertices, faces, process=True)
        assert tm.is_watertight, f.ids[row]
        assert tm.volume > 0, f.ids[row]
        mh = f.measured_height[row]
        if np.isfinite(mh):
            # measuredHeight is given to 0.1 m (rounding error <= 0.05 m) and the LOD1
            # solid's top/bottom are to the centimetre: 0.06 m covers both (max seen 0.055).
            zr = tm.bounds[1, 2] - tm.bounds[0, 2]
            assert abs(zr - mh) <= 0.06, (f.ids[row], zr, mh)
            checked += 1
    assert checked == 235  # measuredHeight present on 235 of 423 (SOURCES.md)


@pytest.mark.realdata
def test_osaka_tile_bounds_and_zone(plateau: Path) -> None:
    city = load(plateau, "osaka/51357353_bldg_6697_op.gml")
    minx, miny, minz, maxx, maxy, maxz = city.bounds()
    assert city.crs == "EPSG:6674"
    # A 3rd-mesh tile is 45" x 30" (~1.15 km x 0.93 km at 34.6 N), south-west of 36 N 136 E.
    assert 1000 < maxx - minx < 1250 and 800 < maxy - miny < 1000
    assert -60_000 < minx < -50_000 and -160_000 < miny < -145_000
    assert 0 < minz < 5 and 50 < maxz < 70


@pytest.mark.realdata
def test_osaka_traffic_areas_and_ground(plateau: Path) -> None:
    city = load(plateau, "osaka/52350301_tran_6697_op.gml")
    s = summarize(city)
    assert s["lod"]["Road"] == {"lod1": 1, "lod3": 2}
    assert s["triangles_by_kind"]["sidewalk"] > 0 and s["triangles_by_kind"]["road"] > 0
    assert s["road_area_m2"] > 10_000
    # Traffic-area roads keep their real heights (up to 14.5 m).
    assert city.roads.vertices[:, 2].max() == pytest.approx(14.535, abs=1e-3)

    alone = load(plateau, "osaka/51357353_tran_6697_op.gml")
    assert alone.ground_source == "none" and summarize(alone)["road_area_m2"] > 100_000
    both = read_citygml(
        [plateau / "osaka/51357353_tran_6697_op.gml", plateau / "osaka/51357353_bldg_6697_op.gml"]
    )
    assert both.ground_source == "buildings"
    z = both.roads.vertices[:, 2]
    bz = both.occluders.vertices[:, 2]
    assert z.min() >= bz.min() - 1e-6 and z.max() < 10.0 and np.median(z) > 1.0
    # With its buildings, 52350301's flat LOD1 road gets estimated heights and its traffic
    # areas keep their own: both sources are named.
    mixed = read_citygml(
        [plateau / "osaka/52350301_tran_6697_op.gml", plateau / "osaka/52350301_bldg_6697_op.gml"]
    )
    assert mixed.ground_source == "model and buildings"
    # Traffic areas name their road, across the files' renumbering (buildings first here).
    both_ways = read_citygml(
        [plateau / "osaka/52350301_bldg_6697_op.gml", plateau / "osaka/52350301_tran_6697_op.gml"]
    )
    f = both_ways.features
    assert f.parent is not None
    areas = [i for i, c in enumerate(f.cls) if c.endswith("TrafficArea")]
    assert len(areas) == 65 and all(f.cls[f.parent[i]] == "Road" for i in areas)
    assert (f.parent[[i for i, c in enumerate(f.cls) if not c.endswith("TrafficArea")]] == -1).all()
    assert mixed.roads.vertices[:, 2].max() == pytest.approx(14.535, abs=1e-3)


@pytest.mark.realdata
def test_osaka_block_folder_and_zip(plateau: Path, tmp_path: Path) -> None:
    block = tmp_path / "udx"
    (block / "bldg").mkdir(parents=True)
    (block / "tran").mkdir()
    with zipfile.ZipFile(tmp_path / "block.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for code in BLOCK:
            for kind in ("bldg", "tran"):
                src = plateau / "osaka" / f"{code}_{kind}_6697_op.gml"
                (block / kind / src.name).symlink_to(src)
                z.write(src, f"udx/{kind}/{src.name}")
    city = read_citygml(block)
    assert len(city.sources) == 18
    expected: Counter[str] = Counter()
    for code in BLOCK:
        for kind in ("bldg", "tran"):
            expected += xml_counts(plateau / "osaka" / f"{code}_{kind}_6697_op.gml")
    s = summarize(city)
    assert s["counts"] == dict(expected)
    # 51357371's two LOD3 roads keep their heights; the LOD1 roads get the buildings'.
    assert city.ground_source == "model and buildings" and city.crs == "EPSG:6674"
    minx, miny, _, maxx, maxy, _ = city.bounds()
    # Three tiles across (~3.5 km); road features are not clipped at tile edges.
    assert 3300 < maxx - minx < 4100 and 2700 < maxy - miny < 3300
    zcity = read_citygml(tmp_path / "block.zip")
    assert zcity.sources[0].startswith(str(tmp_path / "block.zip") + "!udx/")
    assert summarize(zcity)["counts"] == s["counts"]
    assert zcity.occluders.n_triangles == city.occluders.n_triangles
    assert np.allclose(np.sort(zcity.roads.vertices[:, 2]), np.sort(city.roads.vertices[:, 2]))


@pytest.mark.realdata
def test_real_poles_and_lod0_roof_edges(plateau: Path) -> None:
    numazu = load(plateau, "nusamai/52384698_frn_6697_op.gml")
    assert Counter(numazu.poles.function) == {"4810": 6, "4840": 10}
    h = numazu.poles.height_m
    utility = np.array(numazu.poles.function) == "4840"
    # Numazu's utility poles are 7.5-13.4 m tall; its "roadside poles" are ~1 m posts.
    assert (h[utility] > 7).all() and (h[utility] < 14).all()
    assert (h[~utility] > 0.7).all() and (h[~utility] < 1.5).all()
    kawasaki = load(plateau, "nusamai/53391597_frn_6697_op.gml")
    assert Counter(kawasaki.poles.function) == {"4800": 10}
    sapporo = load(plateau, "nusamai/64413325_bldg_6697_op.gml")
    assert sapporo.crs == "EPSG:6680" and len(sapporo.footprints) >= 25


def test_sample_tile(sample_tile: Path) -> None:
    city = read_citygml(sample_tile)
    s = summarize(city)
    assert city.crs == "EPSG:6673"
    assert 20 <= s["counts"]["Building"] <= 50
    assert s["counts"]["BuildingPart"] == 1 and s["poles"] == 2
    assert s["lod"]["Building"]["lod2"] > 5 and s["lod"]["Building"]["lod1"] > 5
    assert s["counts"]["TrafficArea"] == 1 and s["counts"]["AuxiliaryTrafficArea"] == 2
    assert s["ground_source"] == "model" and s["skipped"] == 0 and s["warnings"] == 0
    minx, miny, _, maxx, maxy, _ = city.bounds()
    assert maxx - minx == pytest.approx(300, abs=1) and maxy - miny == pytest.approx(300, abs=5)
    # Every road surface lies on the sloping ground, below the tallest roof.
    assert 1.0 < city.roads.vertices[:, 2].min() < city.roads.vertices[:, 2].max() < 10.0


# --------------------------------------------------------------------------- fast ring path


def _raw_fields(raw: object) -> dict[str, object]:
    from placement.citygml._parse import RawFile

    assert isinstance(raw, RawFile)
    d = dict(raw.__dict__)
    d["coords"] = raw.coords.tolist()
    d["ring_counts"] = raw.ring_counts.tolist()
    return d


def _both_paths(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    from placement.citygml._parse import _parse, read_header
    from placement.citygml._sources import expand_inputs

    (source,) = expand_inputs(path)
    srs = read_header(source)
    # _parse(fast=True) raises when it gives up, so this also checks it was used.
    return _raw_fields(_parse(source, srs, fast=True)), _raw_fields(_parse(source, srs, fast=False))


def test_fast_and_exact_ring_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faces = box_faces(0, 0, 4, 4, 0.0, 3.0)
    spaced = [p.replace("<gml:posList>", "<gml:posList>\n\t ").replace(" 0.0 ", "  0.0\n") for p in faces["wall"]]  # fmt: skip
    trailing = faces["roof"][0].replace("</gml:posList>", " </gml:posList>")
    dim3 = faces["ground"][0].replace("<gml:posList>", '<gml:posList srsDimension="3">')
    a = building(
        "a",
        f"<bldg:lod1Solid>{solid({'wall': spaced, 'roof': [trailing], 'ground': [dim3]})}</bldg:lod1Solid>",
    )
    holed = poly(
        [(10, 0, 0.0), (20, 0, 0.0), (20, 10, 0.0), (10, 10, 0.0)],
        [(12, 2, 0.0), (12, 4, 0.0), (14, 4, 0.0)],
    )
    b = building("b", f"<bldg:lod0FootPrint>{ms(holed)}</bldg:lod0FootPrint>", height="6")
    # A ring of gml:pos elements, as some producers write it.
    pts = pos([(30, 0, 1.0), (32, 0, 1.0), (32, 2, 1.0)]).split()
    pos_ring = "".join(
        f"<gml:pos>{' '.join(pts[i : i + 3])}</gml:pos>" for i in range(0, len(pts), 3)
    )
    c = building(
        "c",
        f"<bldg:lod1MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>{pos_ring}</gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></bldg:lod1MultiSurface>",
    )
    point = pos([(40, 0, 2.0)]).split()[:3]
    pole = (
        '<core:cityObjectMember><frn:CityFurniture gml:id="p"><frn:function>4840</frn:function>'
        f"<uro:lod0Geometry><gml:Point><gml:pos>{' '.join(point)}</gml:pos></gml:Point></uro:lod0Geometry>"
        "</frn:CityFurniture></core:cityObjectMember>"
    )
    path = write(tmp_path, "mixed.gml", document(a + b + c + pole))
    fast, exact = _both_paths(path)
    assert fast == exact
    assert fast["ring_counts"] == [4] * 6 + [4, 3, 3, 1]
    assert fast["poly_role"] == [0] * 6 + [3, 0, 4]  # occluders, extrusion, points
    # Chunks of a few rings give the same as one batch.
    monkeypatch.setattr("placement.citygml._rings.FLUSH_RINGS", 2)
    assert _both_paths(path)[0] == exact
    city = read_citygml(path)
    assert city.skipped == 0 and not city.warnings[1:]
    assert len(city.poles) == 1


def _two_d(text: str) -> str:
    """A polygon's posLists rewritten as 2D (lat lon) lists."""
    head, _, rest = text.partition("<gml:posList>")
    body, _, tail = rest.partition("</gml:posList>")
    v = body.split()
    pairs = " ".join(f"{v[i]} {v[i + 1]}" for i in range(0, len(v), 3))
    return f'{head}<gml:posList srsDimension="2">{pairs}</gml:posList>{tail}'


@pytest.mark.parametrize(
    ("edit", "skipped"),
    [
        (lambda t: t.replace("</gml:posList>", " nan nan nan</gml:posList>", 1), 1),
        # inf is also what the fast path puts between rings: one more mark gives up.
        (lambda t: t.replace("</gml:posList>", " 1 inf 2</gml:posList>", 1), 1),
        (lambda t: t.replace("</gml:posList>", " 7.5</gml:posList>", 1), 1),  # not 3 per point
        (lambda t: t.replace("<gml:posList>", "<gml:posList></gml:posList><gml:posList>", 1), 1),
        # Python's float() reads "0_0.0" (as 0.0), np.fromstring does not: exact path only.
        (lambda t: t.replace(" 0.0</gml:posList>", " 0_0.0</gml:posList>", 1), 0),
        (_two_d, 0),  # 2D: the exact path reads it with z = 0
    ],
)
def test_fast_path_gives_up_where_only_the_exact_path_knows(
    tmp_path: Path, edit: Callable[[str], str], skipped: int
) -> None:
    from placement.citygml._parse import _parse
    from placement.citygml._rings import FastPathError
    from placement.citygml._sources import expand_inputs

    bad = edit(poly([(10, 0, 0.0), (12, 0, 0.0), (12, 2, 0.0)]))
    doc = document(
        lod2_building() + building("x", f"<bldg:lod1MultiSurface>{ms(bad)}</bldg:lod1MultiSurface>")
    )
    path = write(tmp_path, "bad.gml", doc)
    (source,) = expand_inputs(path)
    with pytest.raises(FastPathError):
        _parse(source, 6697, fast=True)
    city = read_citygml(path)  # the exact path: same rules as before the fast one existed
    assert city.skipped == skipped
    assert any("feature x" in w for w in city.warnings) == bool(skipped)
    ids = list(city.features.ids)
    assert city.features.lod[ids.index("b2")] == 2
    if not skipped:
        assert city.features.lod[ids.index("x")] == 1
        assert feature_mesh(city, "x").area == pytest.approx(2.0, rel=1e-3)


@pytest.mark.realdata
def test_fast_path_matches_the_exact_path_on_real_tiles(plateau: Path) -> None:
    for rel in (
        "osaka/51357352_bldg_6697_op.gml",
        "osaka/51357371_tran_6697_op.gml",
        "nusamai/52385628_veg_6697_op.gml",
    ):
        fast, exact = _both_paths(plateau / rel)
        assert fast == exact, rel
        assert len(fast["ring_counts"]) > 100  # type: ignore[arg-type]


@pytest.mark.realdata
def test_workers_give_the_same_city_in_input_order(plateau: Path, tmp_path: Path) -> None:
    files = [
        plateau / "osaka" / f"5135735{c}_{k}_6697_op.gml" for c in "12" for k in ("bldg", "tran")
    ]
    one = read_citygml(files)
    done: list[tuple[int, int]] = []
    two = read_citygml(files, workers=2, progress=lambda d, t: done.append((d, t)))
    assert two.sources == one.sources == tuple(str(f) for f in files)
    for name in ("ids", "cls", "lod", "function", "usage", "source"):
        assert np.array_equal(getattr(two.features, name), getattr(one.features, name))
    assert np.array_equal(
        two.features.measured_height, one.features.measured_height, equal_nan=True
    )
    for name in ("vertices", "faces", "feature", "kind"):
        assert np.array_equal(getattr(two.occluders, name), getattr(one.occluders, name))
        assert np.array_equal(getattr(two.roads, name), getattr(one.roads, name))
    assert [p.wkb for p in two.road_area.polygons] == [p.wkb for p in one.road_area.polygons]
    assert [p.wkb for p in two.footprints] == [p.wkb for p in one.footprints]
    assert two.warnings == one.warnings and two.extra["files"] == one.extra["files"]
    assert sorted(done) == [(i, 4) for i in range(1, 5)]
    broken = write(tmp_path, "broken.gml", document(lod2_building())[:-40])
    with pytest.raises(CityGMLError, match=r"broken\.gml"):
        read_citygml([*files, broken], workers=2)
    with pytest.raises(OptionError):
        read_citygml(files, workers=0)


def test_a_worker_that_dies_hands_its_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import placement._workers as pw

    files = [write(tmp_path, f"{i}.gml", document(lod2_building(f"b{i}"))) for i in range(4)]
    one = read_citygml(files)

    def die(self: pw.Worker, *args: object) -> object:
        self.kill()
        raise pw.WorkerError("worker process failed: killed")

    monkeypatch.setattr(pw.Worker, "call", die)
    two = read_citygml(files, workers=2)
    assert two.features.ids == one.features.ids and two.sources == one.sources
    assert np.array_equal(two.occluders.vertices, one.occluders.vertices)


_UNGUARDED = """
import sys
from placement.citygml import read_citygml

with open(sys.argv[1], "a") as f:  # a side effect at the top level, no __main__ guard
    f.write("ran\\n")
city = read_citygml(sys.argv[2:], workers=2)
print(len(city.features.ids))
"""


def test_workers_do_not_rerun_an_unguarded_script(tmp_path: Path) -> None:
    # A planner's script without `if __name__ == "__main__":` runs once and loads.
    import subprocess
    import sys

    files = [write(tmp_path, f"{i}.gml", document(lod2_building(f"b{i}"))) for i in range(3)]
    script = write(tmp_path, "plan.py", _UNGUARDED)
    marker = tmp_path / "marker.txt"
    done = subprocess.run(
        [sys.executable, str(script), str(marker), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert marker.read_text() == "ran\n"
    assert int(done.stdout.strip()) == 3 and "Traceback" not in done.stderr
