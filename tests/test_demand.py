"""Demand sampling on a hand-built crossing: exact counts, heights, kinds and weights."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from placement.crs import to_lonlat
from placement.demand import read_priority, sample_demand, street_length, summarize_demand
from placement.errors import InputFileError, OptionError
from placement.model import City, Mesh, RoadArea, SurfaceKind
from scenes import GROUND_Z, X0, Y0, cross_city, rect_mesh


def test_grid_counts_heights_and_kinds() -> None:
    d = sample_demand(cross_city(), spacing_m=2.0, target_height_m=1.5)
    # North-south street: 5 columns x 49 rows; west arm: 22 x 5; east sidewalk: 22 x 5.
    assert len(d) == 245 + 110 + 110
    assert int((d.kind == SurfaceKind.SIDEWALK).sum()) == 110
    np.testing.assert_allclose(d.xyz[:, 2], GROUND_Z + 1.5, atol=1e-3)
    np.testing.assert_allclose(d.ground_z, GROUND_Z, atol=1e-3)
    np.testing.assert_allclose(np.mod(d.xyz[:, :2], 2.0), 0.0)
    side = d.xyz[d.kind == SurfaceKind.SIDEWALK]
    assert (side[:, 0] > X0 + 5).all()
    assert summarize_demand(d)["sidewalk_points"] == 110


def test_weights_and_footprints() -> None:
    city = cross_city()
    d = sample_demand(city, spacing_m=2.0, sidewalk_weight=3.0)
    assert d.weight.sum() == pytest.approx(355 + 3 * 110)
    block = shapely.box(X0 - 20, Y0 + 20, X0, Y0 + 40)  # overhangs the west half of the street
    city2 = dataclasses.replace(
        city, footprints=(*city.footprints, block), footprint_feature=np.array([3, 3], np.int32)
    )
    d2 = sample_demand(city2, spacing_m=2.0)
    # Columns X0-4, X0-2 (X0 lies on the edge, kept? no: contains_xy excludes the boundary),
    # rows Y0+22 .. Y0+38 (9 rows): 2 columns x 9 rows dropped.
    assert len(d) - len(d2) == 2 * 9
    assert not shapely.contains_xy(block, d2.xyz[:, 0], d2.xyz[:, 1]).any()


def test_priority_polygons_multiply_weights(tmp_path: Path) -> None:
    city = cross_city()
    xs = np.array([X0 - 9, X0 + 9, X0 + 9, X0 - 9, X0 - 9])
    ys = np.array([Y0 - 9, Y0 - 9, Y0 + 9, Y0 + 9, Y0 - 9])
    lon, lat = to_lonlat(xs, ys, "EPSG:6674")
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"weight": 4},
            },
        ],
    }
    p = tmp_path / "school.geojson"
    p.write_text(json.dumps(doc))
    prio = read_priority(p, "EPSG:6674")
    d = sample_demand(city, spacing_m=2.0, priority=prio)
    near = (np.abs(d.xyz[:, 0] - X0) < 9) & (np.abs(d.xyz[:, 1] - Y0) < 9)
    np.testing.assert_allclose(d.weight[near], 4.0)
    np.testing.assert_allclose(d.weight[~near], 1.0)
    assert int(near.sum()) > 20


def _polygon_doc(ring: list[list[float]], crs: str | None = None) -> dict[str, object]:
    doc: dict[str, object] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"weight": 4},
            }
        ],
    }
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


@pytest.mark.parametrize(
    ("crs", "zone"),
    [("urn:ogc:def:crs:EPSG::6674", "EPSG:6674"), ("EPSG:6675", "EPSG:6675")],
)
def test_priority_polygons_in_a_projected_crs_are_reprojected(
    tmp_path: Path, crs: str, zone: str
) -> None:
    """QGIS writes a layer in a plane zone with the old ``crs`` member: the polygon must hold
    the same points as its lon/lat twin (it used to hold none, and the run went on)."""
    xs = np.array([X0 - 9, X0 + 9, X0 + 9, X0 - 9, X0 - 9])
    ys = np.array([Y0 - 9, Y0 - 9, Y0 + 9, Y0 + 9, Y0 - 9])
    lon, lat = to_lonlat(xs, ys, "EPSG:6674")
    from placement.crs import to_metric

    px, py, _ = to_metric(lat, lon, np.zeros(5), zone)
    p = tmp_path / "projected.geojson"
    p.write_text(
        json.dumps(_polygon_doc([[float(a), float(b)] for a, b in zip(px, py, strict=True)], crs))
    )
    prio = read_priority(p, "EPSG:6674")
    assert prio.problems == ("",)
    assert prio.polygons[0].area == pytest.approx(18 * 18, rel=1e-6)
    d = sample_demand(cross_city(), spacing_m=2.0, priority=prio)
    near = (np.abs(d.xyz[:, 0] - X0) < 9) & (np.abs(d.xyz[:, 1] - Y0) < 9)
    np.testing.assert_allclose(d.weight[near], 4.0)
    np.testing.assert_allclose(d.weight[~near], 1.0)
    # A geographic crs member changes nothing: GeoJSON x is longitude whatever it says.
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    p.write_text(json.dumps(_polygon_doc(ring, "EPSG:4326")))
    assert read_priority(p, "EPSG:6674").polygons[0].area == pytest.approx(18 * 18, rel=1e-6)


def test_priority_files_with_no_usable_polygon_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps(_polygon_doc([[1, 2], [3, 2], [3, 4], [1, 2]], "EPSG:999999")))
    with pytest.raises(InputFileError) as info:
        read_priority(p, "EPSG:6674")
    assert str(info.value).startswith(f"{p}: unknown CRS 'EPSG:999999'")
    # Metres without their crs member are not lon/lat: every polygon is unusable.
    p.write_text(
        json.dumps(
            _polygon_doc([[-5000, -180000], [-4000, -180000], [-4000, -179000], [-5000, -180000]])
        )
    )
    with pytest.raises(InputFileError) as info:
        read_priority(p, "EPSG:6674")
    msg = str(info.value)
    assert msg.startswith(f"{p}: no usable polygon: feature 0: [-5000") and "\n" not in msg


def test_bad_priority_and_options(tmp_path: Path) -> None:
    p = tmp_path / "p.geojson"
    p.write_text("{not json")
    with pytest.raises(InputFileError, match=r"p\.geojson"):
        read_priority(p, "EPSG:6674")
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [135, 34]}}
                ],
            }
        )
    )
    with pytest.raises(InputFileError, match="not a polygon"):
        read_priority(p, "EPSG:6674")
    with pytest.raises(OptionError, match="spacing"):
        sample_demand(cross_city(), spacing_m=0.0)


def test_grid_in_chunks_is_the_whole_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    import placement.demand as dm

    # An L-shaped street with a hole, against one meshgrid over its box; chunks of 7 cells
    # make many chunk edges, some chunks empty.
    area = shapely.union_all(
        [shapely.box(3.3, 1.1, 60.2, 9.9), shapely.box(50.0, 1.1, 60.2, 80.5)]
    ).difference(shapely.box(52.0, 30.0, 56.0, 40.0))
    s = 2.0
    minx, miny, maxx, maxy = area.bounds
    gx = np.arange(np.ceil(minx / s), np.floor(maxx / s) + 1) * s
    gy = np.arange(np.ceil(miny / s), np.floor(maxy / s) + 1) * s
    xx, yy = np.meshgrid(gx, gy)
    keep = shapely.contains_xy(area, xx.ravel(), yy.ravel())
    monkeypatch.setattr(dm, "GRID_CHUNK", 7)
    x, y = dm._grid_on(area, s)
    np.testing.assert_array_equal(x, xx.ravel()[keep])
    np.testing.assert_array_equal(y, yy.ravel()[keep])
    # Two streets 50 km apart cost their own points, not the box around both.
    far = shapely.union_all([shapely.box(0, 0, 20, 10), shapely.box(50_000, 0, 50_020, 10)])
    monkeypatch.setattr(dm, "GRID_CHUNK", 1024)
    x, _ = dm._grid_on(far, s)
    assert x.size == 2 * 9 * 4 and (x < 21).sum() == 9 * 4


def _lane_and_avenue() -> City:
    """A 400 m x 4 m lane and, 50 m north, a 400 m x 20 m avenue (separate road features),
    off the 2 m grid by a metre so that no grid point lies on their edges."""
    lane = (X0 + 1, Y0 + 1, X0 + 401, Y0 + 5)
    avenue = (X0 + 1, Y0 + 51, X0 + 401, Y0 + 71)
    base = cross_city(with_pole=False)
    return dataclasses.replace(
        base,
        roads=Mesh.concatenate(
            [
                rect_mesh(*lane, GROUND_Z, 0, SurfaceKind.ROAD),
                rect_mesh(*avenue, GROUND_Z, 1, SurfaceKind.ROAD),
            ]
        ),
        road_area=RoadArea(
            (shapely.box(*lane), shapely.box(*avenue)),
            np.array([SurfaceKind.ROAD, SurfaceKind.ROAD], np.int8),
            np.array([0, 1], np.int32),
        ),
        footprints=(),
        footprint_feature=np.zeros(0, np.int32),
    )


def test_weigh_by_length_counts_every_street_metre_the_same() -> None:
    city = _lane_and_avenue()
    by_area = sample_demand(city, spacing_m=2.0)
    by_length = sample_demand(city, spacing_m=2.0, weigh_by="length")
    np.testing.assert_array_equal(by_area.xyz, by_length.xyz)
    lane, avenue = by_area.road == 0, by_area.road == 1
    # By area the avenue weighs five times the lane (its points); by length both are their
    # 400 m (the rectangles' short sides: 4 m and 20 m wide).
    assert by_area.weight[avenue].sum() == pytest.approx(5 * by_area.weight[lane].sum())
    assert by_length.weight[lane].sum() == pytest.approx(400)
    assert by_length.weight[avenue].sum() == pytest.approx(400)
    np.testing.assert_allclose(by_length.weight[lane], 4.0 / 4.0)
    np.testing.assert_allclose(by_length.weight[avenue], 4.0 / 20.0)
    # street_length is the same, whatever the weights.
    np.testing.assert_allclose(street_length(city, by_area), by_length.weight)
    # Road, sidewalk and priority weights multiply it.
    double = sample_demand(city, spacing_m=2.0, weigh_by="length", road_weight=2.0)
    np.testing.assert_allclose(double.weight, 2.0 * by_length.weight)
    with pytest.raises(OptionError, match="weigh_by must be one of area, length"):
        sample_demand(city, weigh_by="width")


def test_a_road_of_traffic_areas_counts_its_length_once() -> None:
    """A 400 m road made of a 10 m carriageway and two 3 m sidewalks (LOD2/3 traffic areas
    of one tran:Road) is 400 m of street, not 1,200."""
    base = _lane_and_avenue()
    y = Y0 + 1
    strips = [(y, y + 3), (y + 3, y + 13), (y + 13, y + 16)]
    boxes = tuple(shapely.box(X0 + 1, a, X0 + 401, b) for a, b in strips)
    kinds = np.array([SurfaceKind.SIDEWALK, SurfaceKind.ROAD, SurfaceKind.SIDEWALK], np.int8)
    feats = dataclasses.replace(
        base.features,
        ids=("road", "walk-s", "carriageway", "walk-n"),
        cls=("Road", "TrafficArea", "TrafficArea", "TrafficArea"),
        lod=np.full(4, 3, np.int8),
        measured_height=np.full(4, np.nan),
        function=("", "2000", "1000", "2000"),
        usage=("",) * 4,
        source=np.zeros(4, np.int32),
        parent=np.array([-1, 0, 0, 0], np.int32),
    )
    city = dataclasses.replace(
        base,
        features=feats,
        roads=Mesh.concatenate(
            [
                rect_mesh(X0 + 1, a, X0 + 401, b, GROUND_Z, i + 1, int(k))
                for i, ((a, b), k) in enumerate(zip(strips, kinds, strict=True))
            ]
        ),
        road_area=RoadArea(boxes, kinds, np.array([1, 2, 3], np.int32)),
    )
    d = sample_demand(city, spacing_m=2.0, weigh_by="length")
    assert street_length(city, d).sum() == pytest.approx(400, rel=0.02)
    np.testing.assert_allclose(d.weight, 4.0 / 16.0)  # every point: the road's 16 m width
    alone = dataclasses.replace(city, features=dataclasses.replace(feats, parent=None))
    assert street_length(alone, d).sum() > 2 * 400  # each strip its own length


def test_every_point_knows_its_road() -> None:
    city = cross_city()
    d = sample_demand(city, spacing_m=2.0)
    assert d.road is not None
    # North-south street (first listed where the arms overlap), west arm, east sidewalk.
    assert np.bincount(d.road, minlength=3).tolist() == [245, 110, 110]
    assert (d.road[d.kind == SurfaceKind.SIDEWALK] == 2).all()


def test_street_coverage_sums_and_order() -> None:
    from placement.streets import street_coverage, street_summary

    city = cross_city()
    d = sample_demand(city, spacing_m=2.0, sidewalk_weight=2.0)
    assert d.road is not None
    covered = d.road == 1  # the west arm only
    covered[np.flatnonzero(d.road == 0)[:45]] = True  # and 45 of the 245 north-south points
    rows = street_coverage(city, d, covered)
    # Worst first: the sidewalk (110 points x 2 unseen), then north-south (200 unseen).
    assert [r["road_id"] for r in rows] == ["walk-e", "road-ns", "road-ew"]
    assert [r["uncovered_weight"] for r in rows] == [220.0, 200.0, 0.0]
    assert [r["covered_fraction"] for r in rows] == [0.0, round(45 / 245, 4), 1.0]
    assert sum(r["weight"] for r in rows) == pytest.approx(d.weight.sum())
    # Each street's point is on the street: the sidewalk's lies east of the crossing.
    walk = rows[0]
    lon_c, lat_c = to_lonlat(np.array([X0 + 5.0]), np.array([Y0]), city.crs)
    assert walk["lon"] > lon_c[0] and abs(walk["lat"] - lat_c[0]) < 1e-4
    # Without parents, each surface is its own street; the sidewalk as a traffic area of
    # the east-west road names that road as its street.
    assert [r["street_id"] for r in rows] == ["walk-e", "road-ns", "road-ew"]
    up = dataclasses.replace(city.features, parent=np.array([-1, -1, 1, -1, -1], np.int32))
    again = street_coverage(dataclasses.replace(city, features=up), d, covered)
    assert [r["street_id"] for r in again] == ["road-ew", "road-ns", "road-ew"]
    s = street_summary(rows, top=2)
    assert (s["total"], s["not_seen"], s["fully_covered"]) == (3, 1, 1)
    assert [r["road_id"] for r in s["least_covered"]] == ["walk-e", "road-ns"]
