"""The CityGML loader on what PLATEAU tiles of other cities and survey years vary in:
uro ADE releases, CRS spellings and zones, geometry encodings, other feature classes and
damaged files. Small hand-written fragments shaped like the real files; the fragments
of the Osaka tests (``test_citygml``) are reused where they fit."""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh
from pyproj import Transformer

from placement.citygml import DEFAULT_POLE_HEIGHT_M, read_citygml, summarize
from placement.crs import parse_srs_name, zone_for_lonlat
from placement.errors import CityGMLError
from placement.model import City, SurfaceKind
from placement.sites import pole_sites
from test_citygml import (
    LAT0,
    LON0,
    NS,
    SRS,
    URO3,
    URO14,
    X0,
    Y0,
    ZONE,
    _both_paths,
    box_faces,
    building,
    feature_mesh,
    footprint,
    lod2_building,
    ms,
    poly,
    pos,
    solid,
    write,
)

URO = {
    "1.4": "https://www.chisou.go.jp/tiiki/toshisaisei/itoshisaisei/iur/uro/1.4",
    "1.5": "https://www.chisou.go.jp/tiiki/toshisaisei/itoshisaisei/iur/uro/1.5",
    "2.0": "https://www.geospatial.jp/iur/uro/2.0",
    "3.0": URO3,
    "3.1": "https://www.geospatial.jp/iur/uro/3.1",
}


def member(tag: str, fid: str, body: str) -> str:
    return f'<core:cityObjectMember><{tag} gml:id="{fid}">{body}</{tag}></core:cityObjectMember>'


def model(members: str, *, envelope: str | None = None, uro: str | None = URO3) -> str:
    """A CityModel; ``envelope`` is the whole gml:boundedBy (None: no envelope at all)."""
    ns = NS + (f' xmlns:uro="{uro}"' if uro else "")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<core:CityModel {ns}>{envelope or ""}{members}</core:CityModel>\n'


def envelope(srs: str = SRS, *, dim: str | None = "3", corner: str = "0 0 0") -> str:
    d = f' srsDimension="{dim}"' if dim else ""
    return (
        f'<gml:boundedBy><gml:Envelope srsName="{srs}"{d}><gml:lowerCorner>{corner}</gml:lowerCorner>'
        f"<gml:upperCorner>{corner}</gml:upperCorner></gml:Envelope></gml:boundedBy>"
    )


def id_attribute(city: str, pref: str | None = None) -> str:
    """uro:buildingIDAttribute as PLATEAU writes it (codes of Common_localPublicAuthorities)."""
    cs = 'codeSpace="../../codelists/Common_localPublicAuthorities.xml"'
    return (
        "<uro:buildingIDAttribute><uro:BuildingIDAttribute><uro:buildingID>x-1</uro:buildingID>"
        f"<uro:prefecture {cs}>{pref or city[:2]}</uro:prefecture><uro:city {cs}>{city}</uro:city>"
        "</uro:BuildingIDAttribute></uro:buildingIDAttribute>"
    )


def lod1(x: float, y: float, w: float, d: float, z0: float, z1: float) -> str:
    return f"<bldg:lod1Solid>{solid(box_faces(x, y, w, d, z0, z1))}</bldg:lod1Solid>"


def tri_mesh(city: City, fid: str) -> trimesh.Trimesh:
    return feature_mesh(city, fid)


def lods(city: City) -> dict[str, int]:
    return dict(zip(city.features.ids, city.features.lod.tolist(), strict=True))


class Local:
    """Local metres around (lat, lon), through a plane rectangular zone, as posLists."""

    def __init__(self, lat: float, lon: float, zone: str) -> None:
        self.inv = Transformer.from_crs(zone, "EPSG:6668", always_xy=True)
        self.x0, self.y0 = Transformer.from_crs("EPSG:6668", zone, always_xy=True).transform(
            lon, lat
        )

    def pos(self, points: Sequence[tuple[float, float, float]], *, dim: int = 3) -> str:
        pts = [*points, points[0]]
        lon, lat = self.inv.transform([self.x0 + p[0] for p in pts], [self.y0 + p[1] for p in pts])
        return " ".join(
            f"{a:.12f} {o:.12f}" + (f" {p[2]}" if dim == 3 else "")
            for a, o, p in zip(lat, lon, pts, strict=True)
        )

    def poly(self, ring: Sequence[tuple[float, float, float]], *, dim: int = 3) -> str:
        return f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{self.pos(ring, dim=dim)}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"


def rect(
    x: float, y: float, w: float, d: float, z: float = 0.0
) -> list[tuple[float, float, float]]:
    return [(x, y, z), (x + w, y, z), (x + w, y + d, z), (x, y + d, z)]


# --------------------------------------------------------------------------- uro releases


def uro_members(city_code: str = "27100") -> str:
    b = lod2_building("b").replace("</bldg:Building>", id_attribute(city_code) + "</bldg:Building>")
    point = pos([(30, 0, 2.0)]).split()[:3]
    pole = member(
        "frn:CityFurniture",
        "pole",
        "<frn:function>4840</frn:function>"
        f"<uro:lod0Geometry><gml:Point><gml:pos>{' '.join(point)}</gml:pos></gml:Point></uro:lod0Geometry>",
    )
    road = member(
        "tran:Road",
        "r",
        "<uro:roadStructureAttribute><uro:RoadStructureAttribute><uro:sectionType>1</uro:sectionType>"
        "</uro:RoadStructureAttribute></uro:roadStructureAttribute>"
        f"<tran:lod1MultiSurface>{ms(poly(rect(0, 10, 20, 6, 1.0)))}</tran:lod1MultiSurface>",
    )
    return b + pole + road


@pytest.mark.parametrize("version", sorted(URO))
def test_every_uro_release_gives_the_same_city(tmp_path: Path, version: str) -> None:
    base = read_citygml(write(tmp_path, "base.gml", model(uro_members(), envelope=envelope())))
    city = read_citygml(
        write(tmp_path, "v.gml", model(uro_members(), envelope=envelope(), uro=URO[version]))
    )
    assert city.crs == base.crs == ZONE
    assert lods(city) == {"b": 2, "pole": 0, "r": 1}
    assert np.array_equal(city.occluders.vertices, base.occluders.vertices)
    assert np.array_equal(city.roads.vertices, base.roads.vertices)
    assert city.poles.function == ("4840",)
    assert city.poles.xyz[0, :2] == pytest.approx([X0 + 30, Y0], abs=1e-4)
    assert city.skipped == 0


def test_a_file_without_uro_loads(tmp_path: Path) -> None:
    members = lod2_building("b") + member(
        "tran:Road",
        "r",
        f"<tran:lod1MultiSurface>{ms(poly(rect(0, 10, 20, 6, 1.0)))}</tran:lod1MultiSurface>",
    )
    text = model(members, envelope=envelope(), uro=None)
    assert "uro" not in text
    city = read_citygml(write(tmp_path, "plain.gml", text))
    assert lods(city) == {"b": 2, "r": 1}
    assert feature_mesh(city, "b").volume == pytest.approx(8 * 6 * 6, rel=1e-6)
    assert summarize(city)["road_area_m2"] == pytest.approx(120.0, abs=0.01)


# --------------------------------------------------------------------------- zones


#: (place, lat, lon, municipality code, official zone, zone guessed without the code)
PLACES = [
    ("Hamamatsu", 34.71, 137.73, "22130", "EPSG:6676", "EPSG:6675"),
    ("Maebashi", 36.39, 139.06, "10201", "EPSG:6677", "EPSG:6676"),
    ("Shimonoseki", 33.96, 130.94, "35201", "EPSG:6671", "EPSG:6670"),
    ("Obihiro", 42.92, 143.20, "01207", "EPSG:6681", "EPSG:6680"),
    ("Muroran", 42.32, 140.97, "01205", "EPSG:6680", "EPSG:6679"),
    ("Hakodate", 41.77, 140.73, "01202", "EPSG:6679", "EPSG:6679"),
    ("Sapporo", 43.06, 141.35, "01110", "EPSG:6680", "EPSG:6680"),
    ("Kushiro", 42.98, 144.38, "01206", "EPSG:6681", "EPSG:6681"),
    ("Naha", 26.21, 127.68, "47201", "EPSG:6683", "EPSG:6683"),
    ("Ishigaki", 24.34, 124.16, "47207", "EPSG:6684", "EPSG:6684"),
    ("Minamidaito", 25.83, 131.23, "47357", "EPSG:6685", "EPSG:6685"),
    ("Kagoshima", 31.60, 130.56, "46201", "EPSG:6670", "EPSG:6670"),
    ("Amami", 28.38, 129.49, "46222", "EPSG:6669", "EPSG:6669"),
    ("Nagasaki", 32.75, 129.87, "42201", "EPSG:6669", "EPSG:6669"),
    ("Fukuoka", 33.59, 130.40, "40130", "EPSG:6670", "EPSG:6670"),
]


@pytest.mark.parametrize(("place", "lat", "lon", "code", "official", "guess"), PLACES)
def test_tiles_get_the_official_zone_of_their_municipality(
    tmp_path: Path, place: str, lat: float, lon: float, code: str, official: str, guess: str
) -> None:
    at = Local(lat, lon, official)
    ring = rect(0, 0, 4, 6, 10.0)
    body = f"<bldg:lod0FootPrint>{ms(at.poly(ring))}</bldg:lod0FootPrint>"
    uro = URO["1.4"] if place < "M" else URO["3.1"]  # codes read under either release
    coded = building("b", body + id_attribute(code), "5")
    city = read_citygml(write(tmp_path, "coded.gml", model(coded, envelope=envelope(), uro=uro)))
    assert city.crs == official, place
    # The footprint is 4 m x 6 m in the zone it was drawn in, 10 m up.
    lo, hi = city.occluders.vertices.min(axis=0), city.occluders.vertices.max(axis=0)
    assert (hi - lo)[:2] == pytest.approx([4.0, 6.0], abs=1e-3)
    assert (lo[2], hi[2]) == (10.0, 15.0)
    bare = read_citygml(
        write(tmp_path, "bare.gml", model(building("b", body, "5"), envelope=envelope()))
    )
    assert bare.crs == guess, place
    assert (
        zone_for_lonlat(lon, lat) == guess and zone_for_lonlat(lon, lat, city_code=code) == official
    )


def details_attribute(city: str) -> str:
    """uro:buildingDetails as FY2020 (uro 1.x) tiles write it: the codes among the survey data."""
    return (
        '<uro:buildingDetails><uro:BuildingDetails><uro:buildingRoofEdgeArea uom="m2">24.0</uro:buildingRoofEdgeArea>'
        '<uro:prefecture codeSpace="../../codelists/Common_prefecture.xml">'
        f'{city[:2]}</uro:prefecture><uro:city codeSpace="../../codelists/Common_localPublicAuthorities.xml">{city}</uro:city>'
        "<uro:surveyYear>2020</uro:surveyYear></uro:BuildingDetails></uro:buildingDetails>"
    )


@pytest.mark.parametrize("release", ["1.4", "kantei 1.4"])
def test_fy2020_tiles_give_the_code_in_building_details(tmp_path: Path, release: str) -> None:
    # Maebashi: the nearest origin is VIII's, the official zone (Gunma) IX.
    at = Local(36.39, 139.06, "EPSG:6677")
    body = f"<bldg:lod0FootPrint>{ms(at.poly(rect(0, 0, 4, 6, 10.0)))}</bldg:lod0FootPrint>"
    uro = URO["1.4"] if release == "1.4" else URO14
    text = model(
        building("b", body + details_attribute("10201"), "5"), envelope=envelope(), uro=uro
    )
    city = read_citygml(write(tmp_path, "2020.gml", text))
    assert city.crs == "EPSG:6677"
    lo, hi = city.occluders.vertices.min(axis=0), city.occluders.vertices.max(axis=0)
    assert (hi - lo) == pytest.approx([4.0, 6.0, 5.0], abs=1e-3)
    bare = model(building("b", body, "5"), envelope=envelope(), uro=uro)
    assert read_citygml(write(tmp_path, "bare.gml", bare)).crs == "EPSG:6676"


def test_zone_from_the_plateau_dataset_name(tmp_path: Path) -> None:
    at = Local(34.71, 137.73, "EPSG:6676")  # Hamamatsu: no code in a road file
    road = member(
        "tran:Road",
        "r",
        f"<tran:lod1MultiSurface>{ms(at.poly(rect(0, 0, 20, 6)))}</tran:lod1MultiSurface>",
    )
    text = model(road, envelope=envelope())
    dataset = tmp_path / "22130_hamamatsu-shi_city_2023_citygml_1_op" / "udx" / "tran"
    dataset.mkdir(parents=True)
    (dataset / "52375600_tran_6697_op.gml").write_text(text)
    assert read_citygml(dataset.parents[1]).crs == "EPSG:6676"
    zpath = tmp_path / "22130_hamamatsu-shi_city_2023_citygml_1_op.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("udx/tran/52375600_tran_6697_op.gml", text)
    assert read_citygml(zpath).crs == "EPSG:6676"
    assert read_citygml(write(tmp_path, "52375600_tran_6697_op.gml", text)).crs == "EPSG:6675"
    # An explicit crs wins.
    assert read_citygml(dataset.parents[1], crs="EPSG:6675").crs == "EPSG:6675"


@pytest.mark.parametrize(
    ("lon", "lat", "code", "zone"),
    [
        (140.73, 41.77, None, "EPSG:6679"),  # Hakodate is Hokkaido (XI), not Tohoku (X)
        (140.91, 41.52, None, "EPSG:6678"),  # Oma, Aomori, just across the strait: X
        (125.28, 24.80, None, "EPSG:6684"),  # Miyakojima: XVI (west of 126 E)
        (123.00, 24.47, None, "EPSG:6684"),  # Yonaguni
        (128.42, 27.04, None, "EPSG:6669"),  # Yoron, Kagoshima: I
        (127.97, 27.05, None, "EPSG:6683"),  # Iheya, Okinawa: XV
        (136.08, 20.42, None, "EPSG:6686"),  # Okinotorishima: XVIII
        (153.98, 24.29, None, "EPSG:6687"),  # Minamitorishima: XIX
        (130.53, 30.35, "46", "EPSG:6670"),  # Yakushima: Kagoshima but east of 130 E: II
        (129.85, 31.80, "46", "EPSG:6669"),  # Koshikijima: a Kagoshima island west of 130 E
        (139.78, 33.11, "13", "EPSG:6677"),  # Hachijojima, Tokyo north of 28 N: IX
        (142.19, 27.09, "13", "EPSG:6682"),  # Chichijima: XIV
        (144.38, 42.98, "01", "EPSG:6681"),  # Hokkaido without the municipality: nearest
        (141.35, 43.06, "47", "EPSG:6680"),  # a code 1,500 km off is wrong: ignored
        (137.73, 34.71, "22", "EPSG:6676"),  # a prefecture code alone is enough
        (137.73, 34.71, "x", "EPSG:6675"),  # garbage: the guess
    ],
)
def test_zone_rules(lon: float, lat: float, code: str | None, zone: str) -> None:
    assert zone_for_lonlat(lon, lat, city_code=code) == zone


# --------------------------------------------------------------------------- CRS spellings


@pytest.mark.parametrize(
    ("srs", "code"),
    [
        ("http://www.opengis.net/def/crs/EPSG/0/6697", 6697),
        ("urn:ogc:def:crs:EPSG::6697", 6697),
        ("urn:ogc:def:crs:EPSG:9.8.15:6697", 6697),
        ("EPSG:6697", 6697),
        ("EPSG:6668 ; http://www.opengis.net/def/crs/EPSG/0/6697", 6697),
        ("urn:ogc:def:crs,crs:EPSG::6668,crs:EPSG::6695", 6668),  # horizontal + vertical
        ("http://www.opengis.net/def/crs/EPSG/0/6668", 6668),
    ],
)
def test_srs_name_spellings(tmp_path: Path, srs: str, code: int) -> None:
    assert parse_srs_name(srs) == code
    base = read_citygml(write(tmp_path, "a.gml", model(lod2_building(), envelope=envelope())))
    city = read_citygml(write(tmp_path, "b.gml", model(lod2_building(), envelope=envelope(srs))))
    assert city.source_crs == f"EPSG:{code}" and city.crs == ZONE
    assert np.array_equal(city.occluders.vertices, base.occluders.vertices)


def test_srs_name_only_on_each_geometry(tmp_path: Path) -> None:
    members = lod2_building().replace(
        "<gml:MultiSurface>", f'<gml:MultiSurface srsName="{SRS}" srsDimension="3">'
    )
    members = members.replace("<gml:Solid>", f'<gml:Solid srsName="{SRS}" srsDimension="3">')
    # The footprint, the lod1 solid, 6 boundary surfaces and the lod2 solid.
    assert members.count("srsName") == 9
    base = read_citygml(write(tmp_path, "a.gml", model(lod2_building(), envelope=envelope())))
    city = read_citygml(write(tmp_path, "b.gml", model(members)))
    assert city.source_crs == "EPSG:6697"
    assert np.array_equal(city.occluders.vertices, base.occluders.vertices)
    assert np.array_equal(city.occluders.faces, base.occluders.faces)


def two_d_members(at: Local, *, geometry_attrs: str = "") -> str:
    fp = f"<gml:MultiSurface{geometry_attrs}><gml:surfaceMember>{at.poly(rect(0, 0, 8, 6), dim=2)}</gml:surfaceMember></gml:MultiSurface>"
    road = f"<gml:MultiSurface{geometry_attrs}><gml:surfaceMember>{at.poly(rect(0, 10, 30, 5), dim=2)}</gml:surfaceMember></gml:MultiSurface>"
    return building("b", f"<bldg:lod0FootPrint>{fp}</bldg:lod0FootPrint>", "10") + member(
        "tran:Road", "r", f"<tran:lod1MultiSurface>{road}</tran:lod1MultiSurface>"
    )


@pytest.mark.parametrize(
    "how", ["envelope srsDimension", "envelope corner", "on each geometry", "on each posList"]
)
def test_2d_epsg_6668_without_heights(tmp_path: Path, how: str) -> None:
    at = Local(LAT0, LON0, ZONE)
    srs = "http://www.opengis.net/def/crs/EPSG/0/6668"
    if how == "envelope srsDimension":
        text = model(two_d_members(at), envelope=envelope(srs, dim="2", corner="34.6 135.3"))
    elif how == "envelope corner":
        text = model(two_d_members(at), envelope=envelope(srs, dim=None, corner="34.6 135.3"))
    elif how == "on each geometry":
        text = model(two_d_members(at, geometry_attrs=f' srsName="{srs}" srsDimension="2"'))
    else:
        members = two_d_members(at).replace("<gml:posList>", '<gml:posList srsDimension="2">')
        text = model(members, envelope=envelope(srs, dim=None, corner="34.6 135.3 0"))
    city = read_citygml(write(tmp_path, "2d.gml", text))
    assert city.source_crs == "EPSG:6668" and city.skipped == 0
    assert len(city.warnings) == 1 and "flat (z = 0)" in city.warnings[0]  # no ground known
    b = feature_mesh(city, "b")
    assert b.is_watertight and b.volume == pytest.approx(8 * 6 * 10, rel=1e-6)
    assert np.allclose(b.bounds, [[X0, Y0, 0.0], [X0 + 8, Y0 + 6, 10.0]], atol=1e-4)
    assert summarize(city)["road_area_m2"] == pytest.approx(150.0, abs=0.01)
    assert city.footprints[0].area == pytest.approx(48.0, abs=1e-3)


def test_one_2d_geometry_in_a_3d_file(tmp_path: Path) -> None:
    at = Local(LAT0, LON0, ZONE)
    flat = f'<gml:MultiSurface srsDimension="2"><gml:surfaceMember>{at.poly(rect(20, 0, 3, 3), dim=2)}</gml:surfaceMember></gml:MultiSurface>'
    members = lod2_building() + member(
        "tran:Road", "r2", f"<tran:lod1MultiSurface>{flat}</tran:lod1MultiSurface>"
    )
    city = read_citygml(write(tmp_path, "mixed.gml", model(members, envelope=envelope())))
    assert lods(city) == {"b2": 2, "r2": 1}
    assert city.occluders.vertices[:, 2].max() == pytest.approx(9.0)
    assert summarize(city)["road_area_m2"] == pytest.approx(9.0, abs=0.01)


@pytest.mark.parametrize("declared_on", ["gml:Polygon", "gml:LinearRing", None])
def test_a_2d_ring_whose_count_also_divides_by_three(
    tmp_path: Path, declared_on: str | None
) -> None:
    # A 2D pentagon closed: 6 points, 12 numbers, which read as four 3D points too. It was
    # misread (and dropped as "swapped") when srsDimension="2" was on the Polygon or the
    # LinearRing, unless another polygon sent the file down the exact path.
    at = Local(LAT0, LON0, ZONE)
    pent = [(0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (12.0, 5.0, 0.0), (5.0, 10.0, 0.0), (-2.0, 5.0, 0.0)]
    ring = at.poly(pent, dim=2)
    if declared_on:
        ring = ring.replace(f"<{declared_on}>", f'<{declared_on} srsDimension="2">', 1)
    fp = f"<gml:MultiSurface><gml:surfaceMember>{ring}</gml:surfaceMember></gml:MultiSurface>"
    text = model(
        building("b", f"<bldg:lod0FootPrint>{fp}</bldg:lod0FootPrint>", "10") + lod2_building(),
        envelope=envelope(),
    )
    path = write(tmp_path, "pent.gml", text)
    city = read_citygml(path)
    area = shapely.Polygon([p[:2] for p in pent]).area
    assert city.skipped == 0 and not city.warnings, city.warnings
    assert lods(city) == {"b": 0, "b2": 2}
    b = feature_mesh(city, "b")
    assert b.is_watertight and b.volume == pytest.approx(area * 10, rel=1e-6)
    assert b.bounds[0, :2] == pytest.approx([X0 - 2, Y0], abs=1e-4)


def test_a_2d_envelope_corner_does_not_make_3d_geometry_2d(tmp_path: Path) -> None:
    base = read_citygml(write(tmp_path, "a.gml", model(lod2_building(), envelope=envelope())))
    flat_env = envelope(SRS, dim=None, corner="34.6 135.3")
    city = read_citygml(write(tmp_path, "b.gml", model(lod2_building(), envelope=flat_env)))
    assert city.skipped == 0 and not city.warnings, city.warnings
    assert np.allclose(city.occluders.vertices, base.occluders.vertices)
    assert city.occluders.vertices[:, 2].max() == pytest.approx(9.0)


def test_a_geometrys_own_srs_name(tmp_path: Path) -> None:
    at = Local(LAT0, LON0, ZONE)
    # A plane-zone solid in a 6697 file: skipped, saying why (it was "not degrees").
    plane = lod1(0, 0, 1, 1, 0, 1).replace(
        "<gml:Solid>", '<gml:Solid srsName="urn:ogc:def:crs:EPSG::6674">'
    )
    # 2D JGD2011 (6668) geometries without srsDimension in a 3D file: read, z = 0.
    srs2d = 'srsName="http://www.opengis.net/def/crs/EPSG/0/6668"'
    fp = f"<gml:MultiSurface {srs2d}><gml:surfaceMember>{at.poly(rect(20, 0, 8, 6), dim=2)}</gml:surfaceMember></gml:MultiSurface>"
    lat, lon = at.pos([(40.0, 2.0, 0.0)], dim=2).split()[:2]
    pole = member(
        "frn:CityFurniture",
        "pole",
        "<frn:function>4840</frn:function>"
        f"<uro:lod0Geometry><gml:Point {srs2d}><gml:pos>{lat} {lon}</gml:pos></gml:Point></uro:lod0Geometry>",
    )
    text = model(
        building("plane", plane)
        + building("fp2d", f"<bldg:lod0FootPrint>{fp}</bldg:lod0FootPrint>", "7")
        + pole
        + lod2_building(),
        envelope=envelope(),
    )
    city = read_citygml(write(tmp_path, "mixed_srs.gml", text))
    assert lods(city) == {"plane": -1, "fp2d": 0, "pole": 0, "b2": 2}
    assert city.skipped == 1
    assert any(
        "feature plane" in w and "its srsName EPSG:6674 is not the file's EPSG:6697" in w
        for w in city.warnings
    ), city.warnings
    fp_mesh = feature_mesh(city, "fp2d")
    assert fp_mesh.volume == pytest.approx(8 * 6 * 7, rel=1e-6)
    assert city.poles.xyz[0, :2] == pytest.approx([X0 + 40, Y0 + 2], abs=1e-3)


@pytest.mark.parametrize(
    ("where", "srs", "needle"),
    [
        ("envelope", "EPSG:3857", "unsupported CRS EPSG:3857"),
        ("geometry", "EPSG:3857", "unsupported CRS EPSG:3857"),
        ("geometry", "JGD2011 / (B, L) + TP", "unknown srsName"),
        ("envelope", "urn:ogc:def:crs,crs:EPSG::4979,crs:EPSG::5773", "unsupported CRS EPSG:5773"),
    ],
)
def test_unknown_crs_is_a_one_line_error(tmp_path: Path, where: str, srs: str, needle: str) -> None:
    body = lod1(0, 0, 1, 1, 0, 1).replace("<gml:Solid>", f'<gml:Solid srsName="{srs}">')
    if where == "envelope":
        text = model(building("b", lod1(0, 0, 1, 1, 0, 1)), envelope=envelope(srs))
    else:
        text = model(building("b", body))
    path = write(tmp_path, "crs.gml", text)
    with pytest.raises(CityGMLError) as info:
        read_citygml(path)
    msg = str(info.value)
    assert "crs.gml" in msg and needle in msg and "\n" not in msg


# --------------------------------------------------------------------------- buildings


def test_lod2_multisurface_only_building(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 8, 6, 3.0, 9.0)
    body = f"<bldg:lod2MultiSurface>{ms(*[p for k in faces for p in faces[k]])}</bldg:lod2MultiSurface>"
    city = read_citygml(write(tmp_path, "ms.gml", model(building("b", body), envelope=envelope())))
    assert lods(city) == {"b": 2}
    tm = feature_mesh(city, "b")
    assert tm.is_watertight and tm.volume == pytest.approx(8 * 6 * 6, rel=1e-6)
    assert tm.area == pytest.approx(2 * 48 + 2 * 48 + 2 * 36, rel=1e-6)
    # The footprint is made from the downward faces.
    assert len(city.footprints) == 1 and city.footprints[0].area == pytest.approx(48, abs=1e-3)


def test_roof_edge_hangs_below_the_roof_and_one_outline_is_used(tmp_path: Path) -> None:
    def edge(x: float, z: float) -> str:
        return f"<bldg:lod0RoofEdge>{footprint(x, 0, 4, 5, z)}</bldg:lod0RoofEdge>"

    def fp(x: float, z: float) -> str:
        return f"<bldg:lod0FootPrint>{footprint(x, 0, 4, 5, z)}</bldg:lod0FootPrint>"

    members = (
        building("edge", edge(0, 20.0), "8")  # older files: the roof edge is at roof height
        + building("edge-nomh", edge(10, 20.0))
        + building("both", fp(20, 2.0) + edge(20, 14.0), "12")
        + building("solid", fp(30, 0.0) + edge(30, 9.0) + lod1(30, 0, 4, 5, 1.0, 9.0), "8")
    )
    city = read_citygml(
        write(tmp_path, "edge.gml", model(members, envelope=envelope())), default_height_m=9.0
    )
    assert lods(city) == {"edge": 0, "edge-nomh": 0, "both": 0, "solid": 1}
    assert tri_mesh(city, "edge").bounds[:, 2].tolist() == [12.0, 20.0]
    assert tri_mesh(city, "edge-nomh").bounds[:, 2].tolist() == [11.0, 20.0]
    both = tri_mesh(city, "both")  # the footprint, not a second prism from the roof edge
    assert both.bounds[:, 2].tolist() == [2.0, 14.0]
    assert both.is_watertight and both.volume == pytest.approx(4 * 5 * 12, rel=1e-6)
    rows = Counter(city.features.ids[r] for r in city.footprint_feature.tolist())
    assert rows == {"edge": 1, "edge-nomh": 1, "both": 1, "solid": 1}


def dem_member(z0: float = 3.0, slope: float = 0.1) -> str:
    """A TIN plane z = z0 + slope (y + 10) over local x, y in [-10, 50]."""
    corners = {(x, y): z0 + slope * (y + 10) for x in (-10, 50) for y in (-10, 50)}
    tris = [[(-10, -10), (50, -10), (50, 50)], [(-10, -10), (50, 50), (-10, 50)]]
    body = "".join(
        f"<gml:Triangle><gml:exterior><gml:LinearRing><gml:posList>{pos([(x, y, corners[(x, y)]) for x, y in t])}"
        "</gml:posList></gml:LinearRing></gml:exterior></gml:Triangle>"
        for t in tris
    )
    return (
        '<core:cityObjectMember><dem:ReliefFeature gml:id="rf"><dem:lod>1</dem:lod><dem:reliefComponent>'
        '<dem:TINRelief gml:id="tin"><dem:lod>1</dem:lod><dem:tin><gml:TriangulatedSurface><gml:trianglePatches>'
        f"{body}</gml:trianglePatches></gml:TriangulatedSurface></dem:tin></dem:TINRelief>"
        "</dem:reliefComponent></dem:ReliefFeature></core:cityObjectMember>"
    )


def test_a_tin_of_control_points_alone_says_it_is_not_read(tmp_path: Path) -> None:
    pts = pos([(0, 0, 1.0), (40, 0, 2.0), (40, 40, 3.0), (0, 40, 4.0)])
    tin = (
        '<core:cityObjectMember><dem:ReliefFeature gml:id="rf"><dem:lod>1</dem:lod><dem:reliefComponent>'
        '<dem:TINRelief gml:id="cp"><dem:lod>1</dem:lod><dem:tin><gml:Tin><gml:trianglePatches/>'
        f"<gml:controlPoint><gml:posList>{pts}</gml:posList></gml:controlPoint></gml:Tin></dem:tin>"
        "</dem:TINRelief></dem:reliefComponent></dem:ReliefFeature></core:cityObjectMember>"
    )
    city = read_citygml(
        write(tmp_path, "cp.gml", model(lod2_building() + tin, envelope=envelope()))
    )
    assert lods(city) == {"b2": 2, "cp": -1} and city.skipped == 1
    assert any(
        "feature cp: skipped: no supported geometry (a gml:Tin given by control points alone "
        "is not read" in w
        for w in city.warnings
    ), city.warnings


def test_footprint_without_heights_stands_on_the_dem(tmp_path: Path) -> None:
    members = (
        building(
            "flat", f"<bldg:lod0FootPrint>{footprint(10, 20, 4, 6, 0.0)}</bldg:lod0FootPrint>", "10"
        )
        + building(
            "nomh", f"<bldg:lod0FootPrint>{footprint(30, 0, 4, 4, 0.0)}</bldg:lod0FootPrint>"
        )
        + building(
            "z", f"<bldg:lod0FootPrint>{footprint(0, 0, 4, 4, 7.0)}</bldg:lod0FootPrint>", "5"
        )
    )
    city = read_citygml(
        write(tmp_path, "dem.gml", model(dem_member() + members, envelope=envelope()))
    )
    flat = tri_mesh(city, "flat")
    ground = 3.0 + 0.1 * (23.0 + 10)  # the DEM under the footprint's centre
    assert flat.bounds[:, 2] == pytest.approx([ground, ground + 10.0], abs=1e-3)
    assert flat.is_watertight and flat.volume == pytest.approx(4 * 6 * 10, rel=1e-6)
    assert tri_mesh(city, "nomh").bounds[:, 2] == pytest.approx([4.2, 4.2 + 9.0], abs=1e-3)
    # An outline with real heights keeps them.
    assert tri_mesh(city, "z").bounds[:, 2].tolist() == [7.0, 12.0]
    # Without a DEM the flat outline stays at z = 0.
    alone = read_citygml(write(tmp_path, "nodem.gml", model(members, envelope=envelope())))
    assert tri_mesh(alone, "flat").bounds[:, 2].tolist() == [0.0, 10.0]


def test_building_geometry_only_in_its_parts(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 4, 4, 2.0, 8.0)
    names = {"wall": "WallSurface", "roof": "RoofSurface", "ground": "GroundSurface"}
    bounded = "".join(
        f"<bldg:boundedBy><bldg:{names[k]}><bldg:lod2MultiSurface>{ms(p)}</bldg:lod2MultiSurface></bldg:{names[k]}></bldg:boundedBy>"
        for k in faces
        for p in faces[k]
    )
    parts = (
        '<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="p2">'
        f"{bounded}</bldg:BuildingPart></bldg:consistsOfBuildingPart>"
        '<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="p1">'
        f"{lod1(4, 0, 3, 4, 2.0, 5.0)}</bldg:BuildingPart></bldg:consistsOfBuildingPart>"
    )
    city = read_citygml(
        write(tmp_path, "parts.gml", model(building("main", parts), envelope=envelope()))
    )
    assert lods(city) == {"main": 2, "p2": 2, "p1": 1}
    assert summarize(city)["counts"] == {"Building": 1, "BuildingPart": 2}
    assert tri_mesh(city, "p2").volume == pytest.approx(4 * 4 * 6, rel=1e-6)
    assert tri_mesh(city, "p1").volume == pytest.approx(3 * 4 * 3, rel=1e-6)
    kinds = Counter(SurfaceKind(k).name for k in city.occluders.kind.tolist())
    assert kinds == {"WALL": 8, "ROOF": 2, "GROUND": 2, "BUILDING_OTHER": 12}


def test_parent_outline_beside_detailed_parts_is_only_a_footprint(tmp_path: Path) -> None:
    def part(pid: str, body: str) -> str:
        return f'<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="{pid}">{body}</bldg:BuildingPart></bldg:consistsOfBuildingPart>'

    def outline(prop: str, x: float, z: float = 0.0) -> str:
        return f"<bldg:{prop}>{footprint(x, 0, 20, 10, z)}</bldg:{prop}>"

    lod2_part = bounded(box_faces(40, 0, 10, 10, 0.0, 6.0))
    members = (
        # A 20 m x 10 m footprint over a 15 m and a 6 m wing (LOD1).
        building(
            "main",
            outline("lod0FootPrint", 0)
            + part("p1", lod1(0, 0, 10, 10, 0.0, 15.0))
            + part("p2", lod1(10, 0, 10, 10, 0.0, 6.0)),
            "15",
        )
        # A roof edge without a height beside a LOD2 part and a LOD1 one.
        + building(
            "edge",
            outline("lod0RoofEdge", 30, 15.0)
            + part("q1", lod1(30, 0, 10, 10, 0.0, 15.0))
            + part("q2", lod2_part),
        )
        # Parts with outlines only: nothing finer, so the parent's outline stands too.
        + building(
            "flat",
            outline("lod0FootPrint", 60)
            + part("f1", f"<bldg:lod0FootPrint>{footprint(60, 0, 10, 10)}</bldg:lod0FootPrint>"),
            "4",
        )
    )
    path = write(tmp_path, "parent.gml", model(members, envelope=envelope()))
    city = read_citygml(path)
    assert lods(city) == {
        "main": 1, "p1": 1, "p2": 1, "edge": 2, "q1": 1, "q2": 2, "flat": 0, "f1": 0
    }  # fmt: skip
    m = city.occluders
    for fid in ("main", "edge"):
        assert not (m.feature == city.features.ids.index(fid)).any(), fid
    assert tri_mesh(city, "p2").bounds[:, 2].tolist() == [0.0, 6.0]
    assert tri_mesh(city, "q2").bounds[:, 2].tolist() == [0.0, 6.0]
    everything = trimesh.Trimesh(m.vertices, m.faces, process=True)
    assert everything.volume == pytest.approx(
        1500 + 600 + 1500 + 600 + 20 * 10 * 4 + 10 * 10 * 9, rel=1e-6
    )
    areas = Counter()
    for row, fp in zip(city.footprint_feature.tolist(), city.footprints, strict=True):
        areas[city.features.ids[row]] += fp.area
    assert areas == pytest.approx(
        {
            "main": 200,
            "p1": 100,
            "p2": 100,
            "edge": 200,
            "q1": 100,
            "q2": 100,
            "flat": 200,
            "f1": 100,
        },
        abs=1e-3,
    )
    assert summarize(city)["lod"]["Building"] == {"lod1": 1, "lod2": 1, "lod0": 1}
    fast, exact = _both_paths(path)
    assert fast == exact


BOUNDARY = {"wall": "WallSurface", "roof": "RoofSurface", "ground": "GroundSurface"}


def bounded(faces: dict[str, list[str]], lod: int = 2) -> str:
    """Each face as a boundary surface of its kind with a ``lod<lod>MultiSurface``."""
    return "".join(
        f"<bldg:boundedBy><bldg:{BOUNDARY[k]}><bldg:lod{lod}MultiSurface>{ms(p)}</bldg:lod{lod}MultiSurface></bldg:{BOUNDARY[k]}></bldg:boundedBy>"
        for k in faces
        for p in faces[k]
    )


def installation(lod: int, faces: dict[str, list[str]]) -> str:
    return (
        "<bldg:outerBuildingInstallation><bldg:BuildingInstallation>"
        f"<bldg:lod{lod}Geometry>{solid(faces)}</bldg:lod{lod}Geometry>"
        "</bldg:BuildingInstallation></bldg:outerBuildingInstallation>"
    )


def test_installations_are_added_to_the_body_never_instead_of_it(tmp_path: Path) -> None:
    def on_roof(x: float, top: float = 13.0) -> dict[str, list[str]]:
        return box_faces(x, 4, 1, 1, 12.0, top)  # a 1 m x 1 m box standing on a 12 m roof

    members = (
        # LOD1 body, LOD2 installation: the body stays, the finer installation is left out.
        building("lod1", lod1(0, 0, 10, 10, 0.0, 12.0) + installation(2, on_roof(4)))
        # LOD2 body: its LOD2 installation is added, the LOD3 one is not.
        + building(
            "lod2",
            bounded(box_faces(20, 0, 10, 10, 0.0, 12.0))
            + installation(2, on_roof(24))
            + installation(3, on_roof(26, 14.0)),
        )
        # LOD3 body only: a LOD2 installation (coarser) is added.
        + building(
            "lod3", bounded(box_faces(40, 0, 10, 10, 0.0, 12.0), 3) + installation(2, on_roof(44))
        )
        # Nothing but an installation: not a building.
        + building("alone", installation(2, on_roof(64)))
    )
    path = write(tmp_path, "inst.gml", model(members, envelope=envelope()))
    city = read_citygml(path)
    assert lods(city) == {"lod1": 1, "lod2": 2, "lod3": 3, "alone": -1}
    assert city.skipped == 1
    assert [w for w in city.warnings if "alone" in w] == [
        f"{path}: feature alone: skipped: no supported geometry (only installations or "
        "openings, which are not read without the building)"
    ]
    body = tri_mesh(city, "lod1")
    assert body.volume == pytest.approx(1200.0, rel=1e-6)
    assert body.bounds[:, 2].tolist() == [0.0, 12.0]
    for fid in ("lod2", "lod3"):
        tm = tri_mesh(city, fid)
        assert tm.volume == pytest.approx(1201.0, rel=1e-6), fid
        assert tm.bounds[:, 2].tolist() == [0.0, 13.0], fid
    areas = Counter()
    for row, fp in zip(city.footprint_feature.tolist(), city.footprints, strict=True):
        areas[city.features.ids[row]] += fp.area
    assert areas == pytest.approx({"lod1": 100.0, "lod2": 100.0, "lod3": 100.0}, abs=1e-3)
    fast, exact = _both_paths(path)
    assert fast == exact


def opening_box(x: float, lod: int) -> str:
    """A 10 m cube's boundary surfaces at ``lod``, its south wall holed for a 4 m x 3 m
    window and a 1 m x 2 m door given as that wall's openings."""
    faces = box_faces(x, 0, 10, 10, 0.0, 10.0)
    south = [(x, 0, 0.0), (x + 10, 0, 0.0), (x + 10, 0, 10.0), (x, 0, 10.0)]
    window = [(x + 3, 0, 3.0), (x + 7, 0, 3.0), (x + 7, 0, 6.0), (x + 3, 0, 6.0)]
    door = [(x + 8.5, 0, 0.5), (x + 9.5, 0, 0.5), (x + 9.5, 0, 2.5), (x + 8.5, 0, 2.5)]
    prop = f"bldg:lod{lod}MultiSurface"
    openings = "".join(
        f"<bldg:opening><bldg:{tag}><{prop}>{ms(poly(ring))}</{prop}></bldg:{tag}></bldg:opening>"
        for tag, ring in (("Window", window), ("Door", door))
    )
    holed = poly(south, window[::-1], door[::-1])
    wall = f"<bldg:boundedBy><bldg:WallSurface><{prop}>{ms(holed)}</{prop}>{openings}</bldg:WallSurface></bldg:boundedBy>"
    return wall + bounded({**faces, "wall": faces["wall"][1:]}, lod)


def test_lod3_and_lod4_openings_close_the_holes_in_their_walls(tmp_path: Path) -> None:
    lod2_body = bounded(box_faces(40, 0, 10, 10, 0.0, 10.0))
    members = (
        building("lod4", opening_box(0, 4), "10")
        + building("lod3", opening_box(20, 3), "10")
        # LOD2 is preferred: its closed walls are used, not the LOD3 ones and their openings.
        + building("lod2", lod2_body + opening_box(40, 3), "10")
    )
    path = write(tmp_path, "openings.gml", model(members, envelope=envelope()))
    city = read_citygml(path)
    assert lods(city) == {"lod4": 4, "lod3": 3, "lod2": 2}
    m = city.occluders
    for fid in ("lod4", "lod3", "lod2"):
        tm = tri_mesh(city, fid)
        assert tm.is_watertight, fid
        assert tm.volume == pytest.approx(1000.0, rel=1e-6), fid
        assert tm.area == pytest.approx(600.0, rel=1e-6), fid
        row = city.features.ids.index(fid)
        walls = m.select((m.feature == row) & (m.kind == SurfaceKind.WALL))
        assert walls.area() == pytest.approx(400.0, rel=1e-6), fid
    fast, exact = _both_paths(path)
    assert fast == exact


def test_nested_composite_and_orientable_surfaces(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 2, 3, 1.0, 5.0)
    walls = "".join(f"<gml:surfaceMember>{p}</gml:surfaceMember>" for p in faces["wall"])
    roof = faces["roof"][0]
    # The roof written clockwise and flipped back by an OrientableSurface.
    head, _, rest = roof.partition("<gml:posList>")
    text, _, tail = rest.partition("</gml:posList>")
    v = text.split()
    pts = [v[i : i + 3] for i in range(0, len(v), 3)]
    flipped = (
        head
        + "<gml:posList>"
        + " ".join(" ".join(p) for p in reversed(pts))
        + "</gml:posList>"
        + tail
    )
    body = (
        "<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>"
        f"<gml:surfaceMember><gml:CompositeSurface>{walls}</gml:CompositeSurface></gml:surfaceMember>"
        f'<gml:surfaceMember><gml:OrientableSurface orientation="-"><gml:baseSurface>{flipped}</gml:baseSurface></gml:OrientableSurface></gml:surfaceMember>'
        f"<gml:surfaceMember>{faces['ground'][0]}</gml:surfaceMember>"
        "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>"
    )
    city = read_citygml(
        write(tmp_path, "nested.gml", model(building("b", body), envelope=envelope()))
    )
    assert lods(city) == {"b": 1}
    tm = tri_mesh(city, "b")
    assert len(tm.faces) == 12 and tm.is_watertight
    assert tm.area == pytest.approx(2 * 6 + 2 * 8 + 2 * 12, rel=1e-6)
    assert tm.bounds[:, 2].tolist() == [1.0, 5.0]


def test_courtyard_footprint_extrudes_to_a_ring_shaped_prism(tmp_path: Path) -> None:
    outer = rect(0, 0, 10, 10, 2.0)
    hole = [(3, 3, 2.0), (3, 7, 2.0), (7, 7, 2.0), (7, 3, 2.0)]
    body = f"<bldg:lod0FootPrint>{ms(poly(outer, hole))}</bldg:lod0FootPrint>"
    city = read_citygml(
        write(tmp_path, "court.gml", model(building("c", body, "5"), envelope=envelope()))
    )
    tm = tri_mesh(city, "c")
    assert tm.is_watertight and tm.volume == pytest.approx(84 * 5, rel=1e-6)
    assert tm.area == pytest.approx(2 * 84 + 5 * 40 + 5 * 16, rel=1e-6)
    assert city.footprints[0].area == pytest.approx(84.0, abs=1e-3)


def pos_ring(points: Sequence[tuple[float, float, float]]) -> str:
    v = pos(points).split()
    return "".join(f"<gml:pos>{' '.join(v[i : i + 3])}</gml:pos>" for i in range(0, len(v), 3))


def test_gml_pos_rings_with_a_hole(tmp_path: Path) -> None:
    outer = rect(0, 0, 10, 10, 1.0)
    hole = [(3, 3, 1.0), (3, 7, 1.0), (7, 7, 1.0), (7, 3, 1.0)]
    p = (
        f"<gml:Polygon><gml:exterior><gml:LinearRing>{pos_ring(outer)}</gml:LinearRing></gml:exterior>"
        f"<gml:interior><gml:LinearRing>{pos_ring(hole)}</gml:LinearRing></gml:interior></gml:Polygon>"
    )
    road = member("tran:Road", "r", f"<tran:lod1MultiSurface>{ms(p)}</tran:lod1MultiSurface>")
    city = read_citygml(write(tmp_path, "pos.gml", model(road, envelope=envelope())))
    assert city.roads.area() == pytest.approx(84.0, abs=1e-3)
    assert summarize(city)["road_area_m2"] == pytest.approx(84.0, abs=0.01)


def test_repeated_closing_points_duplicates_and_collinear_points(tmp_path: Path) -> None:
    a, b, c, d = (0, 0, 1.0), (10, 0, 1.0), (10, 10, 1.0), (0, 10, 1.0)
    mid = (5, 0, 1.0)  # collinear with a and b
    text = pos([a, mid, b, b, c, d, a])  # ring closed twice, b repeated, one collinear point
    p = f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{text}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    roof = member("tran:Road", "r", f"<tran:lod1MultiSurface>{ms(p)}</tran:lod1MultiSurface>")
    path = write(tmp_path, "dups.gml", model(roof, envelope=envelope()))
    fast, exact = _both_paths(path)
    assert fast == exact and fast["ring_counts"] == [5]  # a mid b c d
    city = read_citygml(path)
    assert city.roads.area() == pytest.approx(100.0, abs=1e-3)
    assert summarize(city)["road_area_m2"] == pytest.approx(100.0, abs=0.01)
    assert len(np.unique(city.roads.vertices.round(6), axis=0)) == 5
    assert city.skipped == 0 and not city.warnings


def test_polygons_without_area_are_skipped_with_warnings(tmp_path: Path) -> None:
    A, B, C = (40, 0, 1.0), (44, 0, 1.0), (48, 0, 1.0)

    def p(text: str) -> str:
        return f"<gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{text}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>"

    faces = box_faces(0, 0, 2, 2, 0.0, 3.0)
    box = "".join(f"<gml:surfaceMember>{q}</gml:surfaceMember>" for k in faces for q in faces[k])
    members = (
        # A good box plus one polygon going A B A B: two distinct points.
        building(
            "extra",
            f"<bldg:lod1MultiSurface><gml:MultiSurface>{box}{p(pos([A, B, A, B]))}</gml:MultiSurface></bldg:lod1MultiSurface>",
        )
        # Only three points on one line.
        + building(
            "line",
            f"<bldg:lod1MultiSurface><gml:MultiSurface>{p(pos([A, B, C]))}</gml:MultiSurface></bldg:lod1MultiSurface>",
        )
        # A A B A: two distinct points once the repeats go.
        + building(
            "short",
            f"<bldg:lod1MultiSurface><gml:MultiSurface>{p(pos([A, A, B]))}</gml:MultiSurface></bldg:lod1MultiSurface>",
        )
        # A pole with only a degenerate polygon is no pole.
        + member(
            "frn:CityFurniture",
            "pole",
            f"<frn:function>4840</frn:function><frn:lod2Geometry><gml:MultiSurface>{p(pos([A, B, C]))}</gml:MultiSurface></frn:lod2Geometry>",
        )
    )
    city = read_citygml(write(tmp_path, "degenerate.gml", model(members, envelope=envelope())))
    assert lods(city) == {"extra": 1, "line": -1, "short": -1, "pole": -1}
    assert city.skipped == 3
    s = summarize(city)
    assert s["counts"] == {"Building": 1} and s["skipped"] == 3 and s["poles"] == 0
    assert feature_mesh(city, "extra").volume == pytest.approx(12.0, rel=1e-6)
    msgs = "\n".join(city.warnings)
    assert "feature extra: 1 polygon(s) skipped: no area" in msgs
    assert "feature line: 1 polygon(s) skipped: no area" in msgs
    assert "feature short" in msgs and "distinct points" in msgs
    assert "feature pole: skipped" in msgs
    assert all(
        w.startswith(str(tmp_path / "degenerate.gml")) and "\n" not in w for w in city.warnings
    )


# --------------------------------------------------------------------------- roads


def test_lod2_traffic_areas_and_xlinked_road_surface(tmp_path: Path) -> None:
    carriage = poly(rect(0, 2, 30, 4, 5.0)).replace("<gml:Polygon>", '<gml:Polygon gml:id="p-ta">')
    walk = poly(rect(0, 0, 30, 2, 5.1)).replace("<gml:Polygon>", '<gml:Polygon gml:id="p-aux">')
    body = (
        # The road's own LOD2 surface only points at its areas' polygons.
        "<tran:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:CompositeSurface>"
        '<gml:surfaceMember xlink:href="#p-ta"/><gml:surfaceMember xlink:href="#p-aux"/>'
        "</gml:CompositeSurface></gml:surfaceMember></gml:MultiSurface></tran:lod2MultiSurface>"
        f'<tran:trafficArea><tran:TrafficArea gml:id="ta"><tran:function>1000</tran:function><tran:lod2MultiSurface>{ms(carriage)}</tran:lod2MultiSurface></tran:TrafficArea></tran:trafficArea>'
        f'<tran:auxiliaryTrafficArea><tran:AuxiliaryTrafficArea gml:id="aux"><tran:function>2000</tran:function><tran:lod2MultiSurface>{ms(walk)}</tran:lod2MultiSurface></tran:AuxiliaryTrafficArea></tran:auxiliaryTrafficArea>'
        f"<tran:lod1MultiSurface>{ms(poly(rect(0, 0, 30, 6, 0.0)))}</tran:lod1MultiSurface>"
    )
    city = read_citygml(
        write(tmp_path, "lod2.gml", model(member("tran:Road", "r", body), envelope=envelope()))
    )
    assert lods(city) == {"r": 2, "ta": 2, "aux": 2}
    s = summarize(city)
    assert s["road_area_m2"] == pytest.approx(180.0, abs=0.01)  # once, not with the LOD1 too
    assert s["triangles_by_kind"] == {"road": 2, "sidewalk": 2}
    assert city.roads.vertices[:, 2].min() == pytest.approx(5.0)
    # Each traffic area knows its road.
    f = city.features
    assert f.parent is not None
    assert [f.ids[p] if p >= 0 else None for p in f.parent] == [
        None if c == "Road" else "r" for c in f.cls
    ]


def test_track_and_square(tmp_path: Path) -> None:
    track = member(
        "tran:Track",
        "t",
        f"<tran:function>1</tran:function><tran:lod1MultiSurface>{ms(poly(rect(0, 0, 50, 2, 3.0)))}</tran:lod1MultiSurface>",
    )
    square = member(
        "tran:Square",
        "sq",
        f"<tran:lod1MultiSurface>{ms(poly(rect(0, 10, 20, 20, 3.0)))}</tran:lod1MultiSurface>"
        f'<tran:trafficArea><tran:TrafficArea gml:id="sq-ta"><tran:function>2000</tran:function><tran:lod2MultiSurface>{ms(poly(rect(0, 10, 20, 20, 3.2)))}</tran:lod2MultiSurface></tran:TrafficArea></tran:trafficArea>',
    )
    city = read_citygml(write(tmp_path, "tran.gml", model(track + square, envelope=envelope())))
    s = summarize(city)
    assert s["counts"] == {"Track": 1, "Square": 1, "TrafficArea": 1}
    assert lods(city) == {"t": 1, "sq": 2, "sq-ta": 2}
    assert s["road_area_m2"] == pytest.approx(100 + 400, abs=0.01)
    assert s["triangles_by_kind"] == {"sidewalk": 4}  # pedestrian space
    assert city.features.function[city.features.ids.index("t")] == "1"


# --------------------------------------------------------------------------- bridges


def bridge_member(fid: str, body: str) -> str:
    return member("brid:Bridge", fid, body)


def element(tag: str, fid: str, geometry: str, lod: int = 2) -> str:
    """A construction element or installation of a bridge with one lodNGeometry."""
    outer = (
        "outerBridgeConstruction"
        if tag == "BridgeConstructionElement"
        else "outerBridgeInstallation"
    )
    return (
        f'<brid:{outer}><brid:{tag} gml:id="{fid}"><brid:lod{lod}Geometry>{geometry}'
        f"</brid:lod{lod}Geometry></brid:{tag}></brid:{outer}>"
    )


def test_bridge_deck_piers_and_parts_are_occluders(tmp_path: Path) -> None:
    # An overpass: a 30 x 8 m deck from 6 to 7 m on two piers, a railing, a LOD1 box
    # that LOD2 replaces, and a part with its own deck.
    deck = solid(box_faces(0, 0, 30, 8, 6.0, 7.0))
    piers = element("BridgeConstructionElement", "pier-w", solid(box_faces(2, 3, 1, 2, 0.0, 6.0)))
    piers += element("BridgeConstructionElement", "pier-e", solid(box_faces(27, 3, 1, 2, 0.0, 6.0)))
    railing = element(
        "BridgeInstallation",
        "rail",
        ms(poly([(0, 0, 7.0), (30, 0, 7.0), (30, 0, 8.0), (0, 0, 8.0)])),
    )
    wall = f"<brid:boundedBy><brid:WallSurface><brid:lod2MultiSurface>{ms(poly([(0, 8, 7.0), (30, 8, 7.0), (30, 8, 8.0), (0, 8, 8.0)]))}</brid:lod2MultiSurface></brid:WallSurface></brid:boundedBy>"
    part = (
        '<brid:consistsOfBridgePart><brid:BridgePart gml:id="ramp">'
        f"<brid:lod1Solid>{solid(box_faces(30, 0, 10, 8, 3.0, 4.0))}</brid:lod1Solid>"
        "</brid:BridgePart></brid:consistsOfBridgePart>"
    )
    body = (
        "<brid:function>01</brid:function>"
        f"<brid:lod1Solid>{solid(box_faces(0, 0, 30, 8, 0.0, 7.0))}</brid:lod1Solid>"
        + element("BridgeConstructionElement", "deck", deck)
        + piers
        + railing
        + wall
        + part
    )
    road = member(
        "tran:Road",
        "under",
        f"<tran:lod1MultiSurface>{ms(poly(rect(10, -20, 8, 48, 0.0)))}</tran:lod1MultiSurface>",
    )
    path = write(
        tmp_path, "bridge.gml", model(bridge_member("br", body) + road, envelope=envelope())
    )
    city = read_citygml(path)
    s = summarize(city)
    assert s["counts"] == {"Bridge": 1, "BridgePart": 1, "Road": 1}
    assert lods(city) == {"br": 2, "ramp": 1, "under": 1}
    # deck 12 + piers 2 x 12 + railing 2 + wall 2 (no LOD1 box) + ramp 12
    assert s["triangles_by_kind"] == {"bridge": 52, "road": 2}
    assert tri_mesh(city, "ramp").volume == pytest.approx(10 * 8 * 1, rel=1e-6)
    br = city.occluders.select(city.occluders.feature == city.features.ids.index("br"))
    assert br.vertices[:, 2].min() == pytest.approx(0.0) and br.vertices[
        :, 2
    ].max() == pytest.approx(8.0)
    # The road under the deck keeps its ground: bridges give no ground height.
    assert city.roads.vertices[:, 2].max() == pytest.approx(0.0)
    # A sight line under the deck is clear; one through it is blocked.
    m = trimesh.Trimesh(city.occluders.vertices, city.occluders.faces)
    x0, y0 = (
        city.roads.vertices[:, 0].min(),
        city.roads.vertices[:, 1].min(),
    )  # road corner (10, -20)
    ray = trimesh.ray.ray_triangle.RayMeshIntersector(m)
    origins = np.array([[x0 + 4, y0 + 10, 3.0], [x0 + 4, y0 + 10, 6.5]])
    hit = ray.intersects_any(origins, np.array([[0.0, 1.0, 0.0]] * 2))
    assert hit.tolist() == [False, True]
    fast, exact = _both_paths(path)
    assert fast == exact


def test_bridge_lod1_only_and_a_bridge_without_geometry(tmp_path: Path) -> None:
    box = bridge_member(
        "b1", f"<brid:lod1Solid>{solid(box_faces(0, 0, 20, 6, 5.0, 6.5))}</brid:lod1Solid>"
    )
    empty = bridge_member("b0", "<brid:function>01</brid:function>")
    city = read_citygml(write(tmp_path, "b.gml", model(box + empty, envelope=envelope())))
    assert lods(city) == {"b1": 1, "b0": -1}
    assert city.skipped == 1
    assert any("b0" in w and "no supported geometry" in w for w in city.warnings)
    assert tri_mesh(city, "b1").volume == pytest.approx(20 * 6 * 1.5, rel=1e-6)


# --------------------------------------------------------------------------- other constructions


def construction(fid: str, body: str, prefix: str = "uro") -> str:
    return member(f"{prefix}:OtherConstruction", fid, body)


@pytest.mark.parametrize("release", ["1.4", "2.0", "3.1"])
def test_walls_and_sound_barriers_are_occluders(tmp_path: Path, release: str) -> None:
    # A 20 m sound barrier 3 m high (LOD1, and a LOD2 of two faces with a post
    # installation that wins); a retaining wall given at LOD3 as boundary surfaces that its
    # solid points at; a wall given only as a LOD0 line; an OtherConstruction in a
    # namespace that is not i-UR's.
    barrier = (
        "<uro:function>0902</uro:function>"
        f"<uro:lod1Geometry>{solid(box_faces(0, 10, 20, 0.3, 0.0, 3.0))}</uro:lod1Geometry>"
        f"<uro:lod2Geometry>{ms(poly([(0, 10, 0.0), (20, 10, 0.0), (20, 10, 3.0), (0, 10, 3.0)]), poly([(0, 10.3, 0.0), (0, 10.3, 3.0), (20, 10.3, 3.0), (20, 10.3, 0.0)]))}</uro:lod2Geometry>"
        '<uro:consInstallation><uro:ConstructionInstallation gml:id="post">'
        f"<uro:lod2Geometry>{solid(box_faces(20, 10, 0.3, 0.3, 0.0, 3.5))}</uro:lod2Geometry>"
        "</uro:ConstructionInstallation></uro:consInstallation>"
    )
    walls = box_faces(30, 0, 0.5, 8, 0.0, 2.0)
    retaining = (
        "<uro:lod3Geometry><gml:Solid><gml:exterior><gml:CompositeSurface>"
        '<gml:surfaceMember xlink:href="#w1"/></gml:CompositeSurface></gml:exterior>'
        "</gml:Solid></uro:lod3Geometry>"
        + "".join(
            f"<uro:boundedBy><uro:{name}><uro:lod3MultiSurface>{ms(*faces)}"
            f"</uro:lod3MultiSurface></uro:{name}></uro:boundedBy>"
            for name, faces in (
                ("WallSurface", walls["wall"]),
                ("RoofSurface", walls["roof"]),
                ("GroundSurface", walls["ground"]),
            )
        )
    )
    line = (
        "<uro:lod0Geometry><gml:MultiCurve><gml:curveMember><gml:LineString>"
        f"<gml:posList>{pos([(0, 30, 0.0), (10, 30, 0.0)])}</gml:posList></gml:LineString>"
        "</gml:curveMember></gml:MultiCurve></uro:lod0Geometry>"
    )
    other = construction(
        "x", f"<o:lod1Geometry>{solid(box_faces(50, 50, 1, 1, 0.0, 9.0))}</o:lod1Geometry>", "o"
    ).replace("<o:OtherConstruction ", '<o:OtherConstruction xmlns:o="urn:example:not-uro" ')
    road = member(
        "tran:Road",
        "street",
        f"<tran:lod1MultiSurface>{ms(poly(rect(0, 0, 20, 8, 0.0)))}</tran:lod1MultiSurface>",
    )
    members = (
        construction("barrier", barrier)
        + construction("retaining", retaining)
        + construction("line", line)
        + other
        + road
    )
    path = write(
        tmp_path, "53390000_cons_6697_op.gml", model(members, envelope=envelope(), uro=URO[release])
    )
    city = read_citygml(path)
    s = summarize(city)
    assert s["counts"] == {"OtherConstruction": 2, "Road": 1}  # loaded ones
    assert lods(city) == {"barrier": 2, "retaining": 3, "line": -1, "street": 1}
    assert city.skipped == 1 and any("line" in w for w in city.warnings)
    # barrier 2 faces x 2 + post 12 + retaining wall 12 (the xlink solid adds nothing)
    assert s["triangles_by_kind"] == {"construction": 28, "road": 2}
    assert city.features.function[city.features.ids.index("barrier")] == "0902"
    assert tri_mesh(city, "retaining").volume == pytest.approx(0.5 * 8 * 2, rel=1e-6)
    # Seen from the street at eye height the barrier blocks; over its top it does not.
    m = trimesh.Trimesh(city.occluders.vertices, city.occluders.faces)
    x0, y0 = city.roads.vertices[:, 0].min(), city.roads.vertices[:, 1].min()
    origins = np.array([[x0 + 5, y0 + 5, 1.5], [x0 + 5, y0 + 5, 4.0]])
    ray = trimesh.ray.ray_triangle.RayMeshIntersector(m)
    assert ray.intersects_any(origins, np.array([[0.0, 1.0, 0.0]] * 2)).tolist() == [True, False]
    fast, exact = _both_paths(path)
    assert fast == exact


# --------------------------------------------------------------------------- folders


def test_folders_and_zips_leave_out_kinds_that_are_never_read(tmp_path: Path) -> None:
    udx = tmp_path / "27100_osaka-shi_city_2022_citygml_1_op" / "udx"
    for kind in ("bldg", "fld", "luse", "cons"):
        (udx / kind).mkdir(parents=True)
    text = model(lod2_building(), envelope=envelope())
    write(udx / "bldg", "53390000_bldg_6697_op.gml", text)
    wall = construction(
        "w", f"<uro:lod1Geometry>{solid(box_faces(0, 0, 9, 0.2, 0.0, 2.0))}</uro:lod1Geometry>"
    )
    write(udx / "cons", "53390000_cons_6697_op.gml", model(wall, envelope=envelope()))
    # Not XML at all: reading either would fail the run.
    write(udx / "fld", "53390000_fld_6697_l1_op.gml", "flood depth raster, gigabytes")
    write(udx / "luse", "533900_luse_6668_op.gml", "\x00\x01")
    city = read_citygml(udx)
    assert [Path(s).name for s in city.sources] == [
        "53390000_bldg_6697_op.gml",
        "53390000_cons_6697_op.gml",
    ]
    zpath = tmp_path / "27100_osaka-shi_city_2022_citygml_1_op.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in sorted(udx.rglob("*.gml")):
            z.write(f, f.relative_to(udx.parent).as_posix())
    assert [s.rsplit("/", 1)[1] for s in read_citygml(zpath).sources] == [
        "53390000_bldg_6697_op.gml",
        "53390000_cons_6697_op.gml",
    ]
    # A folder of nothing readable says so; a file named on its own is always read.
    with pytest.raises(CityGMLError) as info:
        read_citygml(udx / "fld")
    assert "does not read (fld)" in str(info.value) and str(udx / "fld") in str(info.value)
    with pytest.raises(CityGMLError, match=r"53390000_fld_6697_l1_op\.gml"):
        read_citygml(udx / "fld" / "53390000_fld_6697_l1_op.gml")


# --------------------------------------------------------------------------- furniture


def test_furniture_lod1_only_and_the_finest_lod_wins(tmp_path: Path) -> None:
    lod1_only = member(
        "frn:CityFurniture",
        "box",
        f"<frn:function>3000</frn:function><frn:lod1Geometry>{solid(box_faces(0, 0, 1, 1, 2.0, 3.0))}</frn:lod1Geometry>",
    )
    both = member(
        "frn:CityFurniture",
        "pole",
        "<frn:function>4810</frn:function>"
        f"<frn:lod1Geometry>{solid(box_faces(5, 0, 1, 1, 2.0, 9.0))}</frn:lod1Geometry>"
        f"<frn:lod3Geometry>{ms(*box_faces(5.3, 0.3, 0.4, 0.4, 2.0, 9.0)['wall'])}</frn:lod3Geometry>",
    )
    city = read_citygml(write(tmp_path, "frn.gml", model(lod1_only + both, envelope=envelope())))
    assert lods(city) == {"box": 1, "pole": 3}
    assert feature_mesh(city, "box").volume == pytest.approx(1.0, rel=1e-6)
    assert feature_mesh(city, "pole").area == pytest.approx(4 * 0.4 * 7, rel=1e-6)
    assert city.poles.height_m.tolist() == pytest.approx([7.0])
    assert city.poles.xyz[0] == pytest.approx([X0 + 5.5, Y0 + 0.5, 2.0], abs=1e-4)


def test_pole_axis_is_its_base_even_with_an_arm_or_two_legs(tmp_path: Path) -> None:
    """A street light's arm does not pull its axis off the shaft, and a sign on two posts
    8 m apart stands on one of them, not in the air between."""
    light = member(
        "frn:CityFurniture",
        "light",
        "<frn:function>4200</frn:function><frn:lod2Geometry>"
        + ms(
            *box_faces(0, 0, 0.3, 0.3, 2.0, 10.0)["wall"],
            *box_faces(0.3, 0.05, 3.0, 0.2, 9.6, 9.8)["wall"],
        )
        + "</frn:lod2Geometry>",
    )
    sign = member(
        "frn:CityFurniture",
        "sign",
        "<frn:function>4800</frn:function><frn:lod2Geometry>"
        + ms(
            *box_faces(20, 0, 0.2, 0.2, 2.0, 7.0)["wall"],
            *box_faces(28, 0, 0.2, 0.2, 2.0, 7.0)["wall"],
            *box_faces(20, 0, 8.2, 0.1, 5.0, 7.0)["wall"],
        )
        + "</frn:lod2Geometry>",
    )
    city = read_citygml(write(tmp_path, "frn.gml", model(light + sign, envelope=envelope())))
    assert city.poles.xyz[0] == pytest.approx([X0 + 0.15, Y0 + 0.15, 2.0], abs=1e-4)
    assert city.poles.xyz[1][0] in (
        pytest.approx(X0 + 20.1, abs=0.06),
        pytest.approx(X0 + 28.1, abs=0.06),
    )
    assert city.poles.xyz[1][1:] == pytest.approx([Y0 + 0.1, 2.0], abs=0.06)
    # The shaft's radius: its base square's half diagonal, not the arm, the sign or the other leg.
    sites = pole_sites(city, mount_height_m=6.0)
    assert sites.clearances() == pytest.approx([0.15 * 2**0.5, 0.1 * 2**0.5], abs=0.03)


def implicit(prop: str, at: tuple[float, float, float]) -> str:
    """An implicit representation: a 0.3 m local box (metres, not lat/lon) placed at ``at``."""
    local = " ".join(
        f"{x} {y} {z}"
        for x, y, z in [(0, 0, 0), (0.3, 0, 0), (0.3, 0.3, 0), (0, 0.3, 0), (0, 0, 0)]
    )
    ref = " ".join(pos([at]).split()[:3])
    return (
        f"<{prop}><core:ImplicitGeometry><core:mimeType>model/x</core:mimeType>"
        "<core:transformationMatrix>1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1</core:transformationMatrix>"
        f"<core:relativeGMLGeometry><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{local}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:MultiSurface></core:relativeGMLGeometry>"
        f"<core:referencePoint><gml:Point><gml:pos>{ref}</gml:pos></gml:Point></core:referencePoint>"
        f"</core:ImplicitGeometry></{prop}>"
    )


def test_implicit_furniture_is_placed_at_its_reference_point(tmp_path: Path) -> None:
    pole = member(
        "frn:CityFurniture",
        "pole",
        "<frn:function>4840</frn:function>"
        + implicit("frn:lod2ImplicitRepresentation", (12, 7, 4.0)),
    )
    bench = member(
        "frn:CityFurniture",
        "bench",
        "<frn:function>8160</frn:function>"
        + implicit("frn:lod1ImplicitRepresentation", (20, 7, 4.0)),
    )
    city = read_citygml(
        write(tmp_path, "implicit.gml", model(pole + bench + lod2_building(), envelope=envelope()))
    )
    assert lods(city) == {"pole": 2, "bench": 1, "b2": 2}
    assert city.poles.xyz.tolist() == [pytest.approx([X0 + 12, Y0 + 7, 4.0], abs=1e-4)]
    assert city.poles.height_m.tolist() == [DEFAULT_POLE_HEIGHT_M]
    # The local template coordinates are never read as lat/lon.
    minx, miny, _, maxx, _, _ = city.bounds()
    assert (minx, miny) == pytest.approx((X0, Y0), abs=1e-3) and maxx - minx < 10
    assert Counter(city.occluders.kind.tolist()).keys() == {
        int(SurfaceKind.WALL),
        int(SurfaceKind.ROOF),
        int(SurfaceKind.GROUND),
    }


# --------------------------------------------------------------------------- vegetation


def test_solitary_trees(tmp_path: Path) -> None:
    attrs = '<veg:class>1000</veg:class><veg:height uom="m">{h}</veg:height><veg:crownDiameter uom="m">{c}</veg:crownDiameter>'
    lod12 = member(
        "veg:SolitaryVegetationObject",
        "t12",
        attrs.format(h="6", c="3")
        + f"<veg:lod1Geometry>{solid(box_faces(0, 0, 3, 3, 1.0, 7.0))}</veg:lod1Geometry>"
        + f"<veg:lod2Geometry>{ms(*box_faces(0, 0, 3, 3, 1.0, 7.0)['wall'])}</veg:lod2Geometry>",
    )
    lod3 = member(
        "veg:SolitaryVegetationObject",
        "t3",
        f"<veg:lod3Geometry>{ms(poly(rect(10, 0, 2, 2, 5.0)))}</veg:lod3Geometry>",
    )
    point = member(
        "veg:SolitaryVegetationObject",
        "tp",
        attrs.format(h="10", c="4") + implicit("veg:lod1ImplicitRepresentation", (30, 30, 2.0)),
    )
    no_crown = member(
        "veg:SolitaryVegetationObject",
        "tc",
        attrs.format(h="9", c="-9999") + implicit("veg:lod1ImplicitRepresentation", (40, 30, 2.0)),
    )
    no_height = member(
        "veg:SolitaryVegetationObject",
        "tn",
        attrs.format(h="-9999", c="4") + implicit("veg:lod1ImplicitRepresentation", (50, 30, 2.0)),
    )
    text = model(lod12 + lod3 + point + no_crown + no_height, envelope=envelope())
    path = write(tmp_path, "trees.gml", text)
    city = read_citygml(path)
    assert lods(city) == {"t12": 2, "t3": 3, "tp": 1, "tc": 1, "tn": -1}
    assert city.skipped == 1 and any(
        "feature tn: skipped: no supported geometry (a tree given as a point needs a veg:height)"
        in w
        for w in city.warnings
    ), city.warnings
    assert feature_mesh(city, "t12").area == pytest.approx(4 * 3 * 6, rel=1e-6)  # LOD2 walls
    # A tree given as a point: an octagon prism of its crown diameter and height.
    tp = feature_mesh(city, "tp")
    assert tp.is_watertight and tp.bounds[:, 2].tolist() == pytest.approx([2.0, 12.0])
    assert tp.bounds[1, :2] - tp.bounds[0, :2] == pytest.approx([4.0, 4.0], rel=0.01)
    assert tp.volume == pytest.approx(2 * np.sqrt(2) * 2**2 * 10, rel=0.01)  # octagon of radius 2
    assert feature_mesh(city, "tc").bounds[1, 0] - feature_mesh(city, "tc").bounds[
        0, 0
    ] == pytest.approx(3.0, rel=0.01)
    assert set(city.occluders.kind.tolist()) == {int(SurfaceKind.VEGETATION)}
    assert len(city.footprints) == 0  # trees have no building footprint
    fast, exact = _both_paths(path)
    assert fast == exact


def test_plant_cover_multisolid_and_multisurface(tmp_path: Path) -> None:
    solid_only = member(
        "veg:PlantCover",
        "pc1",
        f'<veg:averageHeight uom="m">2</veg:averageHeight><veg:lod1MultiSolid><gml:MultiSolid><gml:solidMember>{solid(box_faces(0, 0, 10, 5, 1.0, 3.0))}</gml:solidMember><gml:solidMember>{solid(box_faces(20, 0, 5, 5, 1.0, 2.0))}</gml:solidMember></gml:MultiSolid></veg:lod1MultiSolid>',
    )
    both = member(
        "veg:PlantCover",
        "pc2",
        f"<veg:lod1MultiSolid><gml:MultiSolid><gml:solidMember>{solid(box_faces(0, 20, 4, 4, 1.0, 3.0))}</gml:solidMember></gml:MultiSolid></veg:lod1MultiSolid>"
        f"<veg:lod2MultiSurface>{ms(poly(rect(0, 20, 4, 4, 3.5)))}</veg:lod2MultiSurface>",
    )
    city = read_citygml(write(tmp_path, "pc.gml", model(solid_only + both, envelope=envelope())))
    assert lods(city) == {"pc1": 1, "pc2": 2}
    assert feature_mesh(city, "pc1").volume == pytest.approx(10 * 5 * 2 + 5 * 5 * 1, rel=1e-6)
    assert feature_mesh(city, "pc2").area == pytest.approx(16.0, rel=1e-6)
    assert summarize(city)["counts"] == {"PlantCover": 2}


# --------------------------------------------------------------------------- terrain


@pytest.mark.parametrize(
    ("surface", "patches"),
    [
        ("gml:TriangulatedSurface", "gml:trianglePatches"),
        ("gml:Tin", "gml:trianglePatches"),
        ("gml:TriangulatedSurface", "gml:patches"),
        ("gml:Tin", "gml:patches"),
    ],
)
def test_tin_encodings(tmp_path: Path, surface: str, patches: str) -> None:
    text = (
        dem_member()
        .replace("gml:TriangulatedSurface", surface)
        .replace("gml:trianglePatches", patches)
    )
    if surface == "gml:Tin":
        text = text.replace(
            f"</{patches}>", f"</{patches}><gml:maxLength uom='m'>100</gml:maxLength>"
        )
    city = read_citygml(write(tmp_path, "dem.gml", model(text, envelope=envelope(), uro=None)))
    assert summarize(city)["counts"] == {"TINRelief": 1} and lods(city) == {"tin": 1}
    assert Counter(city.occluders.kind.tolist()) == {int(SurfaceKind.TERRAIN): 2}
    assert city.occluders.area() == pytest.approx(60 * np.hypot(60, 6), rel=1e-6)


# --------------------------------------------------------------------------- files


def test_crlf_line_endings_and_bom(tmp_path: Path) -> None:
    text = model(lod2_building(), envelope=envelope())
    base = read_citygml(write(tmp_path, "lf.gml", text))
    crlf = text.replace("\n", "\r\n").replace("><", ">\r\n<").replace(" 3.0 ", " 3.0\r\n")
    assert crlf.count("\r\n") > 100
    for bom in (False, True):
        city = read_citygml(write(tmp_path, f"crlf{bom}.gml", crlf, bom=bom))
        assert np.array_equal(city.occluders.vertices, base.occluders.vertices)
        assert np.array_equal(city.occluders.faces, base.occluders.faces)


def fails(path: Path, *needles: str) -> str:
    with pytest.raises(CityGMLError) as info:
        read_citygml(path)
    msg = str(info.value)
    assert path.name in msg and "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


def test_a_file_whose_features_are_all_skipped_says_why(tmp_path: Path) -> None:
    # Every feature skipped was an internal error (no zone to choose); now the error names
    # the file and the first feature's problem, and the CLI exits 2 on one line.
    no_geometry = member(
        "bldg:Building", "b_nogeom", '<bldg:measuredHeight uom="m">10</bldg:measuredHeight>'
    )
    path = write(tmp_path, "nogeom.gml", model(no_geometry, envelope=envelope()))
    msg = fails(path, "no feature with usable geometry (1 skipped; first: feature b_nogeom")
    assert msg.count(path.name) == 1, msg
    bad = lod1(0, 0, 10, 10, 0, 5).replace("</gml:posList>", " abc</gml:posList>")
    path = write(
        tmp_path, "nan.gml", model(member("bldg:Building", "b_nan", bad), envelope=envelope())
    )
    fails(path, "no feature with usable geometry", "b_nan")
    code, out = _cli_inspect(path)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "no feature with usable geometry" in lines[0], out
    # With --crs given the file fails the same way (it used to load as an empty city).
    with pytest.raises(CityGMLError, match="no feature with usable geometry"):
        read_citygml(path, crs="EPSG:6674")
    # A railway-only file is not "empty": it holds only kinds placement does not read.
    rail = model(
        member("tran:Railway", "rw", "<tran:function>1</tran:function>"), envelope=envelope()
    )
    fails(write(tmp_path, "rail.gml", rail), "only kinds placement does not read (Railway")


def test_packed_files_say_what_they_are(tmp_path: Path) -> None:
    import gzip
    import zipfile

    text = model(lod2_building(), envelope=envelope())
    gz = tmp_path / "tile.gml.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    named = tmp_path / "gz" / "tile.gml"
    named.parent.mkdir()
    named.write_bytes(gz.read_bytes())
    fails(named, "gzip-compressed, not XML: gunzip it first")
    zipped = tmp_path / "z" / "tile.gml"
    zipped.parent.mkdir()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("tile.gml", text)
    fails(zipped, "a zip archive, not XML")
    only_gz = tmp_path / "only_gz"
    only_gz.mkdir()
    gz.rename(only_gz / gz.name)
    with pytest.raises(CityGMLError, match=r"no \.gml file \(1 \.gml\.gz: gunzip them first\)"):
        read_citygml(only_gz)


def _cli_inspect(path: Path) -> tuple[int, str]:
    from click.testing import CliRunner

    from placement.cli import main

    r = CliRunner().invoke(main, ["inspect", str(path)], catch_exceptions=False)
    return r.exit_code, r.output


def test_damaged_and_foreign_files_give_one_line_errors(tmp_path: Path) -> None:
    good = model(lod2_building(), envelope=envelope())
    fails(
        write(tmp_path, "selfclosing.gml", f'<?xml version="1.0"?><core:CityModel {NS}/>'),
        "no supported features (Building, Bridge",
    )
    fails(
        write(tmp_path, "envonly.gml", model("", envelope=envelope())),
        "no supported features (Building, Bridge",
    )
    fails(
        write(
            tmp_path,
            "unsupported.gml",
            model(member("luse:LandUse", "l", ""), envelope=envelope()).replace(
                NS, NS + ' xmlns:luse="http://www.opengis.net/citygml/landuse/2.0"'
            ),
        ),
        "no supported features",
    )
    fails(write(tmp_path, "head.gml", good[:150]), "malformed or truncated XML")
    fails(
        write(tmp_path, "mid.gml", good[: good.index("</gml:posList>") + 5]),
        "malformed or truncated XML",
    )
    (tmp_path / "png.gml").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    fails(tmp_path / "png.gml", "not XML")
    fails(write(tmp_path, "cityjson.gml", '{"type": "CityJSON", "version": "2.0"}'), "not XML")
    fails(
        write(
            tmp_path,
            "gml.gml",
            '<?xml version="1.0"?><gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml"/>',
        ),
        "not CityGML 2.0",
        "FeatureCollection",
    )
    fails(
        write(
            tmp_path,
            "codelist.gml",
            '<?xml version="1.0" encoding="UTF-8"?><gml:Dictionary xmlns:gml="http://www.opengis.net/gml" gml:id="x"><gml:name>Building_usage</gml:name></gml:Dictionary>',
        ),
        "not CityGML 2.0",
        "Dictionary",
    )


def test_a_corrupt_zip_member_is_a_one_line_error(tmp_path: Path) -> None:
    noise = "".join(np.random.default_rng(1).choice(list("abcdefgh"), 200_000))
    text = model(lod2_building(), envelope=envelope()) + f"<!--{noise}-->"
    zpath = tmp_path / "tiles.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("udx/bldg/53390000_bldg_6697_op.gml", text)
    data = bytearray(zpath.read_bytes())
    # Damage the compressed stream past the first features (it is ~70 kB long).
    for i in range(40_000, 40_100):
        data[i] ^= 0x5A
    zpath.write_bytes(bytes(data))
    with pytest.raises(CityGMLError) as info:
        read_citygml(zpath)
    msg = str(info.value)
    assert "tiles.zip!udx/bldg/53390000_bldg_6697_op.gml" in msg and "\n" not in msg


def test_the_same_data_twice_is_loaded_once(tmp_path: Path) -> None:
    text = model(uro_members(), envelope=envelope())
    one = read_citygml(write(tmp_path, "tile.gml", text))
    (tmp_path / "copy").mkdir()
    copy = write(tmp_path / "copy", "renamed.gml", text)
    zipped = tmp_path / "tile.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("udx/bldg/tile.gml", text)
    for second in (copy, zipped):
        city = read_citygml([tmp_path / "tile.gml", second])
        assert len(city.features) == len(one.features) == 3
        assert city.sources == one.sources
        assert np.array_equal(city.occluders.faces, one.occluders.faces)
        (msg,) = [w for w in city.warnings if "the same data twice" in w]
        assert msg.startswith(str(second)) and str(tmp_path / "tile.gml") in msg

    # The same features in another order are the same data.
    m1 = member("bldg:Building", "q1", lod1(X0, Y0, 5, 5, 0, 9))
    m2 = member("bldg:Building", "q2", lod1(X0 + 30, Y0, 6, 5, 0, 12))
    ab = write(tmp_path, "ab.gml", model(m1 + m2, envelope=envelope()))
    ba = write(tmp_path, "ba.gml", model(m2 + m1, envelope=envelope()))
    city = read_citygml([ab, ba])
    assert len(city.features) == 2 and [w for w in city.warnings if "same data twice" in w]

    # Files that number their features alike (other producers than PLATEAU do) but hold
    # other features: both load, without a word.
    here = model(member("bldg:Building", "b1", lod1(X0, Y0, 5, 5, 0, 9)), envelope=envelope())
    there = model(
        member("bldg:Building", "b1", lod1(X0 + 200, Y0, 5, 5, 0, 9)), envelope=envelope()
    )
    city = read_citygml([write(tmp_path, "here.gml", here), write(tmp_path, "there.gml", there)])
    assert len(city.features) == 2 and not city.warnings


def test_inputs_that_share_features_load_both_and_say_so(tmp_path: Path) -> None:
    # A whole tile and a trimmed copy of it (or two versions of one tile): the features
    # they share stand at the same places under the same ids. Both load (they are not the
    # same data), and the warning names the count, the other file and the first id.
    m1 = member("bldg:Building", "q1", lod1(X0, Y0, 5, 5, 0, 9))
    m2 = member("bldg:Building", "q2", lod1(X0 + 30, Y0, 6, 5, 0, 12))
    m2_moved = member("bldg:Building", "q2", lod1(X0 + 31, Y0, 6, 5, 0, 13))  # resurveyed
    m3 = member("bldg:Building", "q3", lod1(X0 + 60, Y0, 6, 5, 0, 12))
    whole = write(tmp_path, "whole.gml", model(m1 + m2 + m3, envelope=envelope()))
    part = write(tmp_path, "part.gml", model(m2_moved + m3, envelope=envelope()))
    city = read_citygml([whole, part])
    assert len(city.features) == 5
    (msg,) = [w for w in city.warnings if "overlapping inputs" in w]
    assert msg.startswith(f"{part}: 2 of its 2 features have the ids of features")
    assert str(whole) in msg and "(first: q2)" in msg and "\n" not in msg
    # Across the tile, the same id is another producer's numbering: no word.
    far = member("bldg:Building", "q1", lod1(X0 + 200, Y0, 5, 5, 0, 9))
    other = write(tmp_path, "other.gml", model(far, envelope=envelope()))
    city = read_citygml([whole, other])
    assert len(city.features) == 4 and not city.warnings


def test_files_of_one_name_without_gml_ids_are_both_loaded(tmp_path: Path) -> None:
    # The ids made up for features without one repeat between two files named alike.
    def text(x: float) -> str:
        body = lod1(x, Y0, 5, 5, 0, 9)
        return model(
            f"<core:cityObjectMember><bldg:Building>{body}</bldg:Building></core:cityObjectMember>",
            envelope=envelope(),
        )

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write(tmp_path / "a", "tile.gml", text(X0))
    b = write(tmp_path / "b", "tile.gml", text(X0 + 50))
    city = read_citygml([a, b])
    assert len(city.features) == 2 and not city.warnings
