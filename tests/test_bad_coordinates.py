"""Input whose coordinates are not where they should be (outside Japan, axes swapped,
degrees under a metric CRS), encrypted zip members, the messages for unresolved xlinks and
self-intersecting polygons, and the demand stage's checks of priority polygons and of
tiles without roads. Small CityGML texts written to ``tmp_path``."""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pyproj import CRS

from placement.citygml import read_citygml
from placement.cli import main
from placement.crs import in_japan, japan_bounds, to_lonlat
from placement.demand import MAX_PRIORITY_WEIGHT, read_priority, sample_demand
from placement.errors import CityGMLError, InputFileError, OptionError, PlacementError
from scenes import X0, Y0, cross_city
from test_citygml import box_faces, building, document, ms, solid, write

#: A spot in Osaka, (lat, lon).
OSAKA = (34.6666, 135.3891)
#: About 20 m in degrees of latitude.
D = 2e-4


@pytest.fixture(autouse=True)
def _no_python_warnings() -> Iterator[None]:
    """Nothing here may leak a numpy / shapely RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def ring(points: Sequence[tuple[float, float]], z: float = 0.0, *, swap: bool = False) -> str:
    """A closed posList of (first, second) file-order pairs, or (second, first) with ``swap``."""
    pts = [*points, points[0]]
    return " ".join(f"{b!r} {a!r} {z}" if swap else f"{a!r} {b!r} {z}" for a, b in pts)


def square(a: float, b: float, d: float = D, z: float = 0.0, *, swap: bool = False) -> str:
    """A gml:Polygon: the square (a, b) .. (a + d, b + d) in file order (lat lon, or
    northing easting), counter-clockwise seen from above."""
    pts = [(a, b), (a, b + d), (a + d, b + d), (a + d, b)]
    text = ring(pts, z, swap=swap)
    return f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{text}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"


def outline_building(bid: str, a: float, b: float, d: float = D, *, swap: bool = False) -> str:
    """A LOD0 building (footprint extruded by its measured height)."""
    fp = ms(square(a, b, d, swap=swap))
    return building(bid, f"<bldg:lod0FootPrint>{fp}</bldg:lod0FootPrint>", "9.0")


def road(rid: str, a: float, b: float, d: float = D, *, swap: bool = False) -> str:
    """A LOD1 road surface 2 m up (not flat: no ground needs estimating)."""
    surface = ms(square(a, b, d, 2.0, swap=swap))
    return f'<core:cityObjectMember><tran:Road gml:id="{rid}"><tran:lod1MultiSurface>{surface}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'


def tile(lat: float, lon: float, *, swap: bool = False) -> str:
    """Two buildings and a road around (lat, lon), written lat lon (lon lat with ``swap``)."""
    return (
        outline_building("b1", lat, lon, swap=swap)
        + outline_building("b2", lat + 2 * D, lon, swap=swap)
        + road("r1", lat, lon + 2 * D, swap=swap)
    )


def epsg(code: int) -> str:
    return f"http://www.opengis.net/def/crs/EPSG/0/{code}"


def refused(path: Path, *needles: str) -> str:
    """read_citygml's one-line error for ``path``, checked to hold every needle."""
    with pytest.raises(CityGMLError) as info:
        read_citygml(path)
    msg = str(info.value)
    assert isinstance(info.value, PlacementError)
    assert "\n" not in msg
    for needle in (str(path), *needles):
        assert needle in msg, msg
    return msg


def cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["-q", *args])
    return r.exit_code, r.output


# ------------------------------------------------------------------ the extent of Japan


def test_japan_bounds_are_jgd2011s_area_of_use() -> None:
    area = CRS.from_epsg(6668).area_of_use
    assert area is not None
    assert japan_bounds() == (area.west, area.south, area.east, area.north)
    # Yonaguni, Okinotorishima, Minamitorishima, Wakkanai, Naha inside; Paris, Seoul's
    # lat/lon swapped, Shanghai outside.
    lon = [122.94, 136.08, 153.98, 141.67, 127.68, 2.35, 37.56, 121.47]
    lat = [24.46, 20.42, 24.29, 45.42, 26.21, 48.86, 126.97, 31.23]
    assert in_japan(lon, lat).tolist() == [True] * 5 + [False] * 3
    assert not in_japan([np.nan, np.inf], [35.0, 35.0]).any()


@pytest.mark.parametrize(
    ("place", "lat", "lon", "zone"),
    [
        ("Yonaguni", 24.46, 122.94, "EPSG:6684"),
        ("Okinotorishima", 20.42, 136.08, "EPSG:6686"),
        ("Minamitorishima", 24.29, 153.98, "EPSG:6687"),
        ("Wakkanai", 45.41, 141.67, "EPSG:6680"),
        ("Naha", 26.21, 127.68, "EPSG:6683"),
        ("Osaka", *OSAKA, "EPSG:6674"),
    ],
)
def test_tiles_from_every_corner_of_japan_load(
    tmp_path: Path, place: str, lat: float, lon: float, zone: str
) -> None:
    city = read_citygml(write(tmp_path, f"{place}.gml", document(tile(lat, lon))))
    assert city.crs == zone
    assert city.skipped == 0 and city.warnings == ()
    assert city.features.lod.tolist() == [0, 0, 1]
    minx, miny, _, maxx, maxy, _ = city.bounds()
    # 3 x 2 squares of about 22 m (east) by 22 m (north): no distortion.
    assert 3 * D * 111_000 * np.cos(np.radians(lat)) * 0.95 < maxx - minx < 3 * D * 111_320
    assert 3 * D * 110_500 < maxy - miny < 3 * D * 111_800


def test_a_tile_in_paris_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "paris.gml", document(tile(48.8562, 2.3485)))
    refused(path, "feature b1", "outside Japan", "latitude 48.8562, longitude 2.3485")


@pytest.mark.parametrize("code", [6697, 6668, 4326])
def test_longitude_first_under_a_lat_lon_crs_is_called_swapped(tmp_path: Path, code: int) -> None:
    text = document(tile(*OSAKA, swap=True), srs=epsg(code))
    msg = refused(write(tmp_path, "lonlat.gml", text), "feature b1", "swapped", f"EPSG:{code}")
    assert "latitude, longitude order" in msg
    code_, out = cli("inspect", str(tmp_path / "lonlat.gml"))
    assert code_ == 2 and "swapped" in out and "Traceback" not in out


def test_metres_under_a_geographic_crs(tmp_path: Path) -> None:
    text = document(outline_building("m1", -145_000.0, 46_000.0, 20.0))
    refused(write(tmp_path, "metres.gml", text), "feature m1", "not degrees", "EPSG:6697")


def test_degrees_under_a_plane_rectangular_crs(tmp_path: Path) -> None:
    text = document(tile(*OSAKA), srs=epsg(6677))
    msg = refused(write(tmp_path, "deg.gml", text), "look like degrees", "EPSG:6677 is metric")
    assert "feature b1" in msg
    code, out = cli("inspect", str(tmp_path / "deg.gml"))
    assert code == 2 and "look like degrees" in out and len(out.strip().splitlines()) == 1


def test_plane_rectangular_metres_outside_japan(tmp_path: Path) -> None:
    # 20,000 km north of zone VI's origin is no place on Earth; 5,000 km is in Siberia.
    for northing in (2e7, 5e6):
        text = document(outline_building("far", northing, 100.0, 20.0), srs=epsg(6674))
        refused(write(tmp_path, "far.gml", text), "feature far", "outside Japan", "EPSG:6674")


def test_plane_rectangular_tiles_load_even_next_to_the_origin(tmp_path: Path) -> None:
    # A tile a few metres from the origin of its zone: small numbers, but metres.
    for name, (north, east) in {"origin": (-5.0, 3.0), "away": (-145_000.0, 46_000.0)}.items():
        text = document(
            outline_building("p1", north, east, 20.0) + road("p2", north, east + 30, 10.0),
            srs=epsg(6674),
        )
        city = read_citygml(write(tmp_path, f"{name}.gml", text))
        assert city.crs == "EPSG:6674" and city.skipped == 0 and city.warnings == ()
        minx, miny, _, maxx, maxy, _ = city.bounds()
        assert (minx, miny) == pytest.approx((east, north))
        assert (maxx - minx, maxy - miny) == pytest.approx((40.0, 20.0))


def test_one_feature_outside_japan_is_skipped_and_the_rest_loads(tmp_path: Path) -> None:
    members = tile(*OSAKA) + outline_building("lost", *OSAKA, swap=True)
    city = read_citygml(write(tmp_path, "one.gml", document(members)))
    assert city.skipped == 1
    assert dict(zip(city.features.ids, city.features.lod.tolist(), strict=True)) == {
        "b1": 0, "b2": 0, "r1": 1, "lost": -1,
    }  # fmt: skip
    (msg,) = city.warnings
    assert "feature lost: skipped: coordinates look swapped" in msg
    row = city.features.ids.index("lost")
    assert not (city.occluders.feature == row).any()
    minx, miny, _, maxx, maxy, _ = city.bounds()
    assert maxx - minx < 100 and maxy - miny < 100  # not stretched towards the bad one


def test_one_polygon_outside_japan_is_dropped(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 8, 6, 3.0, 9.0)
    # The roof written longitude first: that polygon goes, the walls and floor stay.
    lat_lon = faces["roof"][0].split("<gml:posList>")[1].split("</gml:posList>")[0]
    vals = lat_lon.split()
    lon_lat = " ".join(f"{vals[i + 1]} {vals[i]} {vals[i + 2]}" for i in range(0, len(vals), 3))
    faces["roof"] = [faces["roof"][0].replace(lat_lon, lon_lat)]
    body = f"<bldg:lod1Solid>{solid(faces)}</bldg:lod1Solid>"
    city = read_citygml(write(tmp_path, "roof.gml", document(building("box", body))))
    assert city.skipped == 0 and city.features.lod.tolist() == [1]
    (msg,) = city.warnings
    assert "feature box: 1 polygon(s) dropped: coordinates look swapped" in msg
    assert city.occluders.n_triangles == 2 * 5  # 4 walls and the floor
    assert city.occluders.vertices[:, 2].max() == pytest.approx(9.0)


# ------------------------------------------------------------------ zip, xlink, bowtie


def _encrypt_flag(path: Path) -> None:
    """Set the 'encrypted' flag of every member (local and central headers)."""
    data = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + off] |= 0x1
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))


def test_an_encrypted_zip_member_is_a_one_line_error(tmp_path: Path) -> None:
    zpath = tmp_path / "tile.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("udx/bldg/x.gml", document(tile(*OSAKA)))
    assert read_citygml(zpath).features.lod.tolist() == [0, 0, 1]
    _encrypt_flag(zpath)
    refused(zpath, f"{zpath}!udx/bldg/x.gml: encrypted, cannot read")
    for command in ("inspect", "run"):
        args = [command, str(zpath)]
        if command == "run":
            args += ["--out", str(tmp_path / "out"), "--no-cache", "--no-render"]
        code, out = cli(*args)
        assert code == 2, out
        assert "encrypted, cannot read" in out and "internal error" not in out


def test_unresolved_xlinks_are_named(tmp_path: Path) -> None:
    refs = "".join(f'<gml:surfaceMember xlink:href="#missing_{i}"/>' for i in range(1, 6))
    only_xlinks = f"<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>{refs}</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>"
    nothing = '<bldg:lod1Solid xlink:href="#solid_here"/><bldg:lod1Solid><gml:Solid gml:id="solid_here"/></bldg:lod1Solid>'
    members = building("x1", only_xlinks) + building("x2", nothing) + tile(*OSAKA)
    city = read_citygml(write(tmp_path, "xlink.gml", document(members)))
    assert city.skipped == 2
    x1, x2 = city.warnings
    assert "feature x1: skipped: no supported geometry (unresolved xlink:href " in x1
    assert "#missing_1, #missing_2, #missing_3 and 2 more" in x1
    # A reference that resolves (to an empty solid) is not blamed.
    assert x2.endswith("feature x2: skipped: no supported geometry")


def test_a_self_intersecting_polygon_is_called_so(tmp_path: Path) -> None:
    faces = box_faces(0, 0, 8, 6, 3.0, 9.0)
    roof = faces["roof"][0]
    text = roof.split("<gml:posList>")[1].split("</gml:posList>")[0]
    v = text.split()
    p = [" ".join(v[i : i + 3]) for i in range(0, len(v), 3)]
    bowtie = " ".join([p[0], p[2], p[1], p[3], p[0]])  # corners crossed
    flat = " ".join([p[0], p[1], p[0], p[1], p[0]])  # back and forth on one line
    faces["roof"] = [roof.replace(text, bowtie)]
    faces["ground"] = [
        faces["ground"][0].replace(
            faces["ground"][0].split("<gml:posList>")[1].split("</gml:posList>")[0], flat
        )
    ]
    body = f"<bldg:lod1Solid>{solid(faces)}</bldg:lod1Solid>"
    city = read_citygml(write(tmp_path, "bowtie.gml", document(building("bow", body))))
    assert city.features.lod.tolist() == [1]
    crossing, no_area = city.warnings
    assert "feature bow: 1 polygon(s) skipped: self-intersecting" in crossing
    assert "feature bow: 1 polygon(s) skipped: no area" in no_area


# ------------------------------------------------------------------ demand


def priority_file(tmp_path: Path, rings: list[list[list[float]]], weights: list[object]) -> Path:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [r]},
            "properties": {"weight": w},
        }
        for r, w in zip(rings, weights, strict=True)
    ]
    p = tmp_path / "prio.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def around_crossing() -> list[list[float]]:
    """A lon/lat ring around the centre of the scenes' crossing (EPSG:6674)."""
    xs = np.array([X0 - 9, X0 + 9, X0 + 9, X0 - 9, X0 - 9])
    ys = np.array([Y0 - 9, Y0 - 9, Y0 + 9, Y0 + 9, Y0 - 9])
    lon, lat = to_lonlat(xs, ys, "EPSG:6674")
    return [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]


@pytest.mark.parametrize("weight", [1e308, 1e7, "Infinity"])
def test_absurd_priority_weights_are_refused(tmp_path: Path, weight: object) -> None:
    good = around_crossing()
    p = priority_file(tmp_path, [good, good], [3, weight])
    if weight == "Infinity":
        p.write_text(p.read_text().replace('"Infinity"', "Infinity"))  # JSON's extension
    with pytest.raises(InputFileError) as info:
        read_priority(p, "EPSG:6674")
    msg = str(info.value)
    assert msg.startswith(f"{p}: feature 1: weight ") and "\n" not in msg


def test_the_largest_priority_weight_is_accepted(tmp_path: Path) -> None:
    p = priority_file(tmp_path, [around_crossing()], [MAX_PRIORITY_WEIGHT])
    d = sample_demand(cross_city(), spacing_m=2.0, priority=read_priority(p, "EPSG:6674"))
    assert d.weight.max() == MAX_PRIORITY_WEIGHT and np.isfinite(d.weight.sum())


def test_priority_polygons_that_hold_no_demand_give_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = around_crossing()
    paris = [[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.8]]
    swapped = [[b, a] for a, b in good]
    p = priority_file(tmp_path, [good, paris, swapped], [4, 3, 5])
    prio = read_priority(p, "EPSG:6674")
    with caplog.at_level(logging.WARNING, logger="placement.demand"):
        d = sample_demand(cross_city(), spacing_m=2.0, priority=prio)
    assert sorted(set(d.weight.tolist())) == [1.0, 4.0]
    (rec,) = caplog.records
    msg = rec.getMessage()
    assert msg.startswith(f"{p}: 2 of 3 priority polygons hold no demand point")
    assert "feature 2: [" in msg and "swapped?" in msg and "\n" not in msg
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="placement.demand"):
        sample_demand(cross_city(), spacing_m=2.0, priority=read_priority(
            priority_file(tmp_path, [good], [2]), "EPSG:6674"
        ))  # fmt: skip
    assert caplog.records == []


def test_no_roads_says_the_roads_file_is_needed(tmp_path: Path) -> None:
    path = write(tmp_path, "51357353_bldg_6697_op.gml", document(outline_building("b", *OSAKA)))
    city = read_citygml(path)
    with pytest.raises(InputFileError) as info:
        sample_demand(city)
    msg = str(info.value)
    assert msg.startswith(f"{path}: no road surfaces") and "*_tran_*.gml" in msg


def test_a_spacing_that_misses_every_road_says_so() -> None:
    with pytest.raises(
        OptionError, match=r"spacing 1e\+06 m puts no grid point .* smaller --demand-spacing-m"
    ):
        sample_demand(cross_city(), spacing_m=1e6)


def test_tiles_of_far_apart_places_give_one_warning(tmp_path: Path) -> None:
    osaka = write(tmp_path, "osaka.gml", document(tile(34.63, 135.42)))
    kobe = write(tmp_path, "kobe.gml", document(tile(34.69, 135.19)))  # 22 km away
    tokyo = write(tmp_path, "tokyo.gml", document(tile(35.68, 139.77)))
    assert read_citygml([osaka, kobe]).warnings == ()
    city = read_citygml([osaka, tokyo])
    (msg,) = city.warnings
    assert msg.startswith("inputs span 39") and "different places" in msg  # ~400 km
