"""Candidate sites and camera options on a hand-built crossing."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import trimesh

from placement.camera import PRESETS, Camera
from placement.crs import to_lonlat
from placement.demand import sample_demand
from placement.errors import InputFileError, OptionError
from placement.model import City, Mesh, Poles, RoadArea, SurfaceKind
from placement.sites import (
    BRACKET_M,
    combine_sites,
    make_options,
    pole_sites,
    read_sites,
    road_edge_sites,
    shared_poles,
)
from placement.visibility import compute_coverage
from scenes import GROUND_Z, X0, Y0, cross_city


def test_road_edge_sites_follow_the_kerb_at_spacing() -> None:
    city = cross_city()
    s = road_edge_sites(city, mount_height_m=6.0, spacing_m=10.0, inset_m=0.5)
    roads = shapely.union_all(list(city.road_area.polygons))
    inner = roads.buffer(-0.5, join_style="mitre")
    # Perimeter of the shrunk plus-shape, sampled every 10 m, less the thinned duplicates.
    assert abs(len(s) - inner.exterior.length / 10.0) <= 2
    pts = shapely.points(s.xyz[:, :2])
    d = shapely.distance(pts, roads.exterior)
    np.testing.assert_allclose(d, 0.5, atol=1e-6)
    assert shapely.contains(roads, pts).all()
    dists = np.linalg.norm(s.xyz[:, None, :2] - s.xyz[None, :, :2], axis=2)
    assert dists[~np.eye(len(s), dtype=bool)].min() >= 5.0 - 1e-9
    np.testing.assert_allclose(s.xyz[:, 2], GROUND_Z + 6.0, atol=1e-3)
    np.testing.assert_allclose(s.ground_z, GROUND_Z, atol=1e-3)
    assert set(s.source) == {"road-edge"} and not s.existing.any()
    assert len(set(s.ids)) == len(s)


def test_road_edge_sites_never_inside_a_building() -> None:
    city = cross_city()
    # A building that overhangs the west half of the north-south street.
    block = shapely.box(X0 - 20, Y0 + 20, X0, Y0 + 40)
    city = dataclasses.replace(
        city, footprints=(*city.footprints, block), footprint_feature=np.array([3, 3], np.int32)
    )
    s = road_edge_sites(city, mount_height_m=6.0, spacing_m=5.0)
    assert not shapely.contains_xy(block, s.xyz[:, 0], s.xyz[:, 1]).any()
    free = road_edge_sites(cross_city(), mount_height_m=6.0, spacing_m=5.0)
    assert shapely.contains_xy(block, free.xyz[:, 0], free.xyz[:, 1]).any()


def test_road_edge_sites_reject_bad_spacing() -> None:
    with pytest.raises(OptionError, match="spacing"):
        road_edge_sites(cross_city(), mount_height_m=6.0, spacing_m=0)


def test_pole_sites_mount_under_the_pole_top() -> None:
    city = cross_city()
    s = pole_sites(city, mount_height_m=6.0)
    assert s.ids == ("pole-pole-1",)
    np.testing.assert_allclose(s.xyz, [[X0 - 6, Y0 - 6, GROUND_Z + 6.0]])
    tall = pole_sites(city, mount_height_m=10.0)  # the pole is 8 m: lens just under its top
    np.testing.assert_allclose(tall.xyz[0, 2], GROUND_Z + 7.8)
    assert len(pole_sites(city, mount_height_m=6.0, functions=frozenset({"4810"}))) == 0
    assert len(pole_sites(city, mount_height_m=6.0, min_height_m=8.5)) == 0  # too short


def _city_with_a_pole_mesh(radius: float = 0.3) -> City:
    """The crossing, with its utility pole modelled as an octagonal prism (feature 4)."""
    city = cross_city()
    prism = trimesh.creation.cylinder(radius=radius, height=8.0, sections=8)
    prism.apply_translation([X0 - 6, Y0 - 6, GROUND_Z + 4.0])
    n = len(prism.faces)
    pole = Mesh(
        np.asarray(prism.vertices, float),
        np.asarray(prism.faces, np.int32),
        np.full(n, 4, np.int32),
        np.full(n, SurfaceKind.FURNITURE, np.int8),
    )
    return dataclasses.replace(city, occluders=Mesh.concatenate([city.occluders, pole]))


def test_a_camera_on_a_plateau_pole_hangs_on_a_bracket_outside_it() -> None:
    city = _city_with_a_pole_mesh(0.3)
    s = pole_sites(city, mount_height_m=6.0)
    np.testing.assert_allclose(s.clearances(), [0.3], atol=1e-9)
    cam = PRESETS["fullhd-103"]
    opts = make_options(s, cam, headings=8)
    # Each heading's lens is 0.3 + BRACKET_M out from the axis, towards the heading.
    off = opts.origin[:, :2] - np.array([X0 - 6, Y0 - 6])
    h = np.radians(opts.heading_deg)
    np.testing.assert_allclose(
        off, (0.3 + BRACKET_M) * np.column_stack([np.sin(h), np.cos(h)]), atol=1e-9
    )
    np.testing.assert_allclose(opts.origin[:, 2], GROUND_Z + 6.0)
    # Sites without a pole in the model keep their lens where they are.
    edge = road_edge_sites(city, mount_height_m=6.0, spacing_m=20.0)
    both = make_options(combine_sites(s, edge), cam, headings=8)
    np.testing.assert_array_equal(both.origin[8:], make_options(edge, cam, headings=8).origin)

    # The camera's own pole hides nothing it looks at: the same pairs as with no pole mesh.
    demand = sample_demand(city, spacing_m=2.0, target_height_m=1.5)
    seen = compute_coverage(city.occluders, opts, demand, cam, workers=1).matrix
    no_pole = city.occluders.select(city.occluders.feature != 4)
    alone = compute_coverage(no_pole, opts, demand, cam, workers=1).matrix
    assert seen.nnz == alone.nnz > 400 and (seen != alone).nnz == 0
    # A lens on the axis (inside the prism) lost part of its view to the pole.
    on_axis = make_options(dataclasses.replace(s, clearance_m=None), cam, headings=8)
    inside = compute_coverage(city.occluders, on_axis, demand, cam, workers=1).matrix
    assert inside.nnz < 0.97 * seen.nnz


def test_a_360_camera_on_a_plateau_pole_chooses_the_side_it_hangs_on() -> None:
    # Its own pole hides a sector behind the lens. With one (north) side every existing
    # pole lost the view south, while a new kerb pole (no mesh) saw all round.
    city = _city_with_a_pole_mesh(0.2)
    s = pole_sites(city, mount_height_m=6.0)
    cam = PRESETS["ptz-360"]
    opts = make_options(s, cam, headings=8)
    np.testing.assert_allclose(opts.heading_deg, np.arange(8) * 45.0)
    off = opts.origin[:, :2] - np.array([X0 - 6, Y0 - 6])
    np.testing.assert_allclose(np.hypot(*off.T), 0.2 + BRACKET_M, atol=1e-9)
    # A site without a pole mesh still gets one option.
    edge = road_edge_sites(city, mount_height_m=6.0, spacing_m=20.0)
    assert len(make_options(edge, cam, headings=8)) == len(edge)
    demand = sample_demand(city, spacing_m=2.0, target_height_m=1.5)
    seen = compute_coverage(city.occluders, opts, demand, cam, workers=1).matrix.tocsr()
    no_pole = city.occluders.select(city.occluders.feature != 4)
    alone = compute_coverage(no_pole, opts, demand, cam, workers=1).matrix.tocsr()
    per_side = np.diff(seen.indptr)
    # Each side loses the sector behind it (nothing where no street lies there), and the
    # north side, the only one before, is not the best one here.
    assert (per_side <= np.diff(alone.indptr)).all() and (per_side < seen.shape[1]).sum() >= 6
    assert per_side.max() > per_side[0] + 50
    # ... a different sector per side: the sides together see everything the pole allows.
    union = set(seen.indices.tolist())
    assert union == set(alone.indices.tolist())
    # The north side (the only one before) loses points to the south of the pole.
    north = set(seen[0].indices.tolist())
    lost = sorted(set(alone[0].indices.tolist()) - north)
    assert lost and (demand.xyz[lost, 1] < Y0 - 6).all()


def test_an_installed_360_camera_has_no_new_twin_on_its_pole(tmp_path: Path) -> None:
    # The sides of a pole are options for a new dome, but beside an installed dome on the
    # same pole any side repeats it (with k = 2 it counted its points twice).
    city = _city_with_a_pole_mesh(0.2)
    poles = pole_sites(city, mount_height_m=6.0)
    lon, lat = to_lonlat(poles.xyz[:1, 0], poles.xyz[:1, 1], "EPSG:6674")
    p = tmp_path / "dome.csv"
    p.write_text(f"lon,lat,heading_deg\n{lon[0]},{lat[0]},0\n")
    sites = combine_sites(read_sites(p, city, mount_height_m=6.0, existing=True), poles)
    assert shared_poles(sites).tolist() == [1, 1]
    opts = make_options(sites, PRESETS["ptz-360"], headings=8)
    assert opts.existing.tolist() == [True]
    # A directional camera there keeps the headings the installed one does not look at.
    fixed = make_options(sites, PRESETS["fullhd-103"], headings=8)
    assert (~fixed.existing).sum() == 7 and 0.0 not in fixed.heading_deg[~fixed.existing]


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = to_lonlat(np.array([x]), np.array([y]), "EPSG:6674")
    return float(lon[0]), float(lat[0])


def test_read_sites_csv_and_geojson(tmp_path: Path) -> None:
    city = cross_city()
    lon, lat = _lonlat(X0 + 2, Y0 - 20)
    csv = tmp_path / "s.csv"
    csv.write_text(f"id,lon,lat,height_m,cost\nA,{lon:.9f},{lat:.9f},4.5,2.5\n")
    s = read_sites(csv, city, mount_height_m=6.0)
    np.testing.assert_allclose(s.xyz[0], [X0 + 2, Y0 - 20, GROUND_Z + 4.5], atol=0.01)
    assert s.ids == ("A",) and s.cost[0] == 2.5 and np.isnan(s.heading_deg[0])
    gj = tmp_path / "s.geojson"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"heading_deg": 90},
    }
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    e = read_sites(gj, city, mount_height_m=6.0, existing=True)
    assert e.existing[0] and e.cost[0] == 0.0 and e.heading_deg[0] == 90.0
    assert e.ids == ("existing-0000",)


def test_a_lens_inside_a_building_is_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The building stands on (X0+10..30, Y0+10..30), 20 m tall: a camera in its middle at
    6 m is inside it; one on its roof, one on its wall (at the footprint's edge) and one in
    the street are not."""
    city = cross_city()
    rows = [
        ("in", X0 + 20, Y0 + 20, 6.0),
        ("roof", X0 + 20, Y0 + 20, 21.0),
        ("wall", X0 + 10.2, Y0 + 20, 6.0),
        ("street", X0, Y0 + 20, 6.0),
        ("in-2", X0 + 12, Y0 + 28, 19.0),
    ]
    p = tmp_path / "e.csv"
    lines = ["id,lon,lat,mount_height_m,heading_deg"]
    for name, x, y, h in rows:
        lon, lat = _lonlat(x, y)
        lines.append(f"{name},{lon:.9f},{lat:.9f},{h},90")
    p.write_text("\n".join(lines) + "\n")
    with caplog.at_level("WARNING", logger="placement.sites"):
        s = read_sites(p, city, mount_height_m=6.0, existing=True)
    assert len(s) == 5  # warned of, not dropped: the planner decides
    said = [r.getMessage() for r in caplog.records if "inside a building" in r.getMessage()]
    assert len(said) == 1
    assert "2 of 5 cameras" in said[0] and "first: in (row 1)" in said[0]
    # Nothing inside: nothing said.
    caplog.clear()
    q = tmp_path / "ok.csv"
    q.write_text("\n".join(lines[:1] + lines[2:5]) + "\n")
    with caplog.at_level("WARNING", logger="placement.sites"):
        read_sites(q, city, mount_height_m=6.0, existing=True)
    assert "inside a building" not in caplog.text


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x,y\n1,2\n", "lon' and 'lat"),
        ("lon,lat\n135.4,abc\n", "line 2: lat is not a number"),
        ("lon,lat\n", "no sites"),
        ("lon,lat\n999,34\n", "out of range"),
    ],
)
def test_read_sites_bad_csv(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputFileError, match=match):
        read_sites(p, cross_city(), mount_height_m=6.0)


def test_existing_cameras_need_a_heading(tmp_path: Path) -> None:
    lon, lat = _lonlat(X0, Y0)
    p = tmp_path / "e.csv"
    p.write_text(f"lon,lat\n{lon},{lat}\n")
    with pytest.raises(InputFileError, match="heading_deg"):
        read_sites(p, cross_city(), mount_height_m=6.0, existing=True)


def test_make_options_headings_tilts_and_existing(tmp_path: Path) -> None:
    city = cross_city()
    lon, lat = _lonlat(X0, Y0 - 30)
    p = tmp_path / "e.csv"
    p.write_text(f"lon,lat,heading_deg\n{lon},{lat},450\n")
    sites = combine_sites(
        read_sites(p, city, mount_height_m=6.0, existing=True), pole_sites(city, mount_height_m=6.0)
    )
    cam = Camera()
    opts = make_options(sites, cam, headings=8)
    assert len(opts) == 1 + 8
    assert opts.existing.tolist() == [True] + [False] * 8
    np.testing.assert_allclose(opts.heading_deg, [90.0, 0, 45, 90, 135, 180, 225, 270, 315])
    np.testing.assert_allclose(opts.origin[1:], np.repeat(sites.xyz[1:2], 8, axis=0))
    # An installed camera has one tilt (the camera's, as none is given); a free pole has all.
    two = make_options(sites, cam, headings=4, tilts_deg=(10, 30))
    assert len(two) == 1 + 8
    assert two.tilt_deg.tolist() == [cam.tilt_deg] + [10] * 4 + [30] * 4
    ptz = make_options(sites, PRESETS["ptz-360"], headings=8)
    assert len(ptz) == 2


def test_fixed_tilts_and_mount_height_columns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city = cross_city()
    lon, lat = _lonlat(X0, Y0 - 30)
    lon2, lat2 = _lonlat(X0 + 4, Y0 - 30)
    p = tmp_path / "s.csv"
    # A run's cameras file: height_m is the lens elevation, mount_height_m the height above
    # the ground (it wins); a site with only height_m reads it as the height above ground.
    p.write_text(
        "id,lon,lat,height_m,mount_height_m,heading_deg,tilt_deg\n"
        f"a,{lon},{lat},{GROUND_Z + 7.5},7.5,90,35\n"
        f"b,{lon2},{lat2},5,,,12\n"
    )
    with caplog.at_level("WARNING", logger="placement.sites"):
        s = read_sites(p, city, mount_height_m=6.0)
    np.testing.assert_allclose(s.xyz[:, 2], [GROUND_Z + 7.5, GROUND_Z + 5.0], atol=0.01)
    # Row b's height_m is read as a mount height, which a cameras file's is not: say so.
    assert "height_m read as the lens height above the ground" in caplog.text
    np.testing.assert_allclose(s.fixed_tilts(), [35.0, 12.0])
    opts = make_options(s, Camera(), headings=4, tilts_deg=(10, 30))
    # a: heading and tilt fixed, one option; b: tilt fixed, four headings.
    assert opts.site.tolist() == [0, 1, 1, 1, 1]
    assert opts.tilt_deg.tolist() == [35.0] + [12.0] * 4
    assert opts.heading_deg.tolist() == [90.0, 0.0, 90.0, 180.0, 270.0]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"lon,lat,tilt_deg\n{lon},{lat},95\n")
    with pytest.raises(InputFileError, match="tilt_deg"):
        read_sites(bad, city, mount_height_m=6.0)


def test_an_existing_camera_shares_the_pole_it_stands_on(tmp_path: Path) -> None:
    city = cross_city()
    lon, lat = _lonlat(X0 - 6 + 0.4, Y0 - 6)  # on a bracket of the PLATEAU pole
    far = _lonlat(X0 + 20, Y0 + 20)
    p = tmp_path / "e.csv"
    p.write_text(f"lon,lat,heading_deg\n{lon},{lat},0\n{far[0]},{far[1]},90\n")
    poles = pole_sites(city, mount_height_m=6.0)
    both = combine_sites(
        read_sites(p, city, mount_height_m=6.0, existing=True), poles, min_separation_m=1.0
    )
    # The pole stays a candidate (its other headings are free), and the camera on it
    # counts as one of its cameras; the camera standing alone is its own pole.
    assert both.ids == ("existing-0000", "existing-0001", *poles.ids)
    pole = shared_poles(both)
    assert pole.tolist() == [2, 1, *range(2, len(both))]
    # The pole offers every heading but the installed camera's own: a twin of it would see
    # what it sees (and count twice where points need two cameras).
    opts = make_options(both, PRESETS["fullhd-103"], headings=8)
    on_pole = np.sort(opts.heading_deg[opts.site == 2])
    np.testing.assert_allclose(on_pole, [45, 90, 135, 180, 225, 270, 315])
    assert (opts.site == 0).sum() == 1 and opts.heading_deg[opts.site == 0][0] == 0.0
    # Two installed cameras at one spot with no candidate beside them share a pole too,
    # so --max-per-site counts them together; a repeated id is named.
    twin = tmp_path / "twin.csv"
    twin.write_text(f"id,lon,lat,heading_deg\nA,{far[0]},{far[1]},0\nB,{far[0]},{far[1]},180\n")
    alone = combine_sites(read_sites(twin, city, mount_height_m=6.0, existing=True))
    assert shared_poles(alone).tolist() == [0, 0]
    # ... and two installed twins both stay: only candidates lose an installed view.
    twin.write_text(f"id,lon,lat,heading_deg\nA,{far[0]},{far[1]},0\nB,{far[0]},{far[1]},0\n")
    pair = combine_sites(read_sites(twin, city, mount_height_m=6.0, existing=True))
    assert make_options(pair, PRESETS["fullhd-103"]).site.tolist() == [0, 1]
    twin.write_text(f"id,lon,lat,heading_deg\nA,{far[0]},{far[1]},0\nA,{lon},{lat},90\n")
    with pytest.raises(InputFileError, match="site id 'A' appears more than once"):
        read_sites(twin, city, mount_height_m=6.0, existing=True)
    twin.write_text(f"id,lon,lat,heading_deg\n{poles.ids[0]},{far[0]},{far[1]},0\n")
    with pytest.raises(OptionError, match="appears twice: an --existing or --sites file"):
        combine_sites(read_sites(twin, city, mount_height_m=6.0, existing=True), poles)
    # Two user sites 0.5 m apart are still one.
    a, b = _lonlat(X0 + 2, Y0 - 20), _lonlat(X0 + 2.5, Y0 - 20)
    u = tmp_path / "u.csv"
    u.write_text(f"id,lon,lat\na,{a[0]},{a[1]}\nb,{b[0]},{b[1]}\n")
    assert combine_sites(read_sites(u, city, mount_height_m=6.0)).ids == ("a",)


def test_sites_beyond_the_cameras_reach_are_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city = cross_city()
    near = _lonlat(X0 + 2, Y0 - 20)
    far = _lonlat(X0 + 5_000, Y0)  # 5 km east of a small model
    p = tmp_path / "s.csv"
    p.write_text(f"id,lon,lat\nnear,{near[0]:.9f},{near[1]:.9f}\nfar,{far[0]:.9f},{far[1]:.9f}\n")
    with caplog.at_level("WARNING", logger="placement.sites"):
        s = read_sites(p, city, mount_height_m=6.0, reach_m=60.0)
    assert s.ids == ("near",)
    assert "1 of 2 sites lie farther than 60 m" in caplog.text and "row 2" in caplog.text
    assert len(read_sites(p, city, mount_height_m=6.0)) == 2  # no reach: every site kept
    lat_first = tmp_path / "lat_first.csv"  # in Japan, lat first is out of range
    lat_first.write_text(f"lon,lat\n{near[1]:.9f},{near[0]:.9f}\n")
    with pytest.raises(InputFileError, match="out of range"):
        read_sites(lat_first, city, mount_height_m=6.0, reach_m=60.0)
    other = tmp_path / "other_city.csv"
    lon, lat = _lonlat(X0 + 300_000, Y0)
    other.write_text(f"lon,lat\n{lon:.9f},{lat:.9f}\n")
    with pytest.raises(InputFileError, match=r"none of its 1 sites lies within 60 m.*300 km"):
        read_sites(other, city, mount_height_m=6.0, reach_m=60.0)


def test_the_library_refuses_what_the_command_line_refuses(tmp_path: Path) -> None:
    city = cross_city()
    cam = PRESETS["fullhd-103"]
    for call, needle in [
        (lambda: road_edge_sites(city, mount_height_m=-6), "mount_height_m must be"),
        (lambda: road_edge_sites(city, mount_height_m=float("nan")), "mount_height_m must be"),
        (lambda: pole_sites(city, mount_height_m=6, cost=-1), "cost must be"),
        (lambda: sample_demand(city, target_height_m=-1), "target_height_m must be"),
    ]:
        with pytest.raises(OptionError, match=needle):
            call()
    p = tmp_path / "s.csv"
    lon, lat = to_lonlat(np.array([X0]), np.array([Y0 - 20]), city.crs)
    p.write_text(f"lon,lat\n{lon[0]},{lat[0]}\n")
    with pytest.raises(OptionError, match="read_sites: mount_height_m must be"):
        read_sites(p, city, mount_height_m=-1.0)
    # numpy's scalars are numbers too (values read from arrays).
    assert len(road_edge_sites(city, mount_height_m=np.float32(6), cost=np.int64(2))) > 0
    assert len(sample_demand(city, target_height_m=np.float32(1.5))) > 0
    sites = road_edge_sites(city, mount_height_m=6)
    for bad in (2.5, True, 0):
        with pytest.raises(OptionError, match="headings must be a whole number"):
            make_options(sites, cam, headings=bad)  # type: ignore[arg-type]
    options = make_options(sites, cam, headings=4)
    demand = sample_demand(city)
    with pytest.raises(OptionError, match="camera must be a Camera, got NoneType"):
        compute_coverage(city, options, demand, None)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="options must be an Options, got Demand"):
        compute_coverage(city, demand, options, cam)  # type: ignore[arg-type]


def test_a_street_running_on_into_the_next_tile_has_no_pole_across_it() -> None:
    # The north arm stops at y = Y0 + 50 where the tile's data stops; the next tile's road
    # carries it on. Without that road the cut looks like a kerb and gets poles across the
    # carriageway; with it, none, and every pole stands on the city's own roads.
    city = cross_city()
    on = (shapely.box(X0 - 5, Y0 + 50, X0 + 5, Y0 + 150),)
    far = (shapely.box(X0 + 200, Y0, X0 + 210, Y0 + 100),)  # meets none of the city's roads

    def across_cut(s: Any) -> int:
        x, y = s.xyz[:, 0] - X0, s.xyz[:, 1] - Y0
        return int(((y > 49.0) & (np.abs(x) < 4.0)).sum())

    alone = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0)
    assert across_cut(alone) > 0
    joined = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0, beyond_roads=on)
    assert across_cut(joined) == 0
    roads = shapely.union_all(list(city.road_area.polygons))
    assert shapely.dwithin(roads, shapely.points(joined.xyz[:, :2]), 1e-6).all()
    # The kerbs of the arm keep their poles up to the cut.
    kerb = np.abs(np.abs(joined.xyz[:, 0] - X0) - 4.5) < 1e-6
    assert (joined.xyz[kerb, 1] - Y0).max() > 48.0
    # A neighbour's road that meets none of the city's changes nothing.
    same = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0, beyond_roads=far)
    np.testing.assert_array_equal(same.xyz, alone.xyz)


def test_a_crack_between_road_surfaces_is_no_kerb() -> None:
    # Two traffic areas of one 10 m street that miss each other by 1 cm: the inset would
    # open the crack into a 1 m slot, its sides taken for kerbs mid-carriageway.
    base = cross_city()
    west = shapely.box(X0 - 50, Y0 - 5, X0, Y0 + 5)
    east = shapely.box(X0 + 0.01, Y0 - 5, X0 + 50, Y0 + 5)
    area = RoadArea((west, east), np.array([1, 1], np.int8), np.array([0, 1], np.int32))
    city = dataclasses.replace(base, road_area=area, footprints=(), poles=Poles.empty())
    s = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0)
    x, y = s.xyz[:, 0] - X0, s.xyz[:, 1] - Y0
    mid = np.abs(x) < 45.0  # away from the street's two real ends
    assert mid.sum() > 40 and np.all(np.abs(np.abs(y[mid]) - 4.5) < 1e-6)


def test_neighbours_buildings_hold_no_street_point_or_pole() -> None:
    # A building stored in the next tile stands over the west arm: no kerb pole and no
    # street point inside it, as for the city's own buildings.
    city = cross_city()
    over = shapely.box(X0 - 40, Y0 - 8, X0 - 20, Y0 + 8)
    s = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0, beyond_footprints=(over,))
    assert not shapely.contains_xy(over, s.xyz[:, 0], s.xyz[:, 1]).any()
    free = road_edge_sites(city, mount_height_m=6.0, spacing_m=2.0)
    assert shapely.contains_xy(over, free.xyz[:, 0], free.xyz[:, 1]).any()
    d = sample_demand(city, spacing_m=2.0, exclude=(over,))
    full = sample_demand(city, spacing_m=2.0)
    inside = shapely.contains_xy(over, full.xyz[:, 0], full.xyz[:, 1])
    assert 40 <= inside.sum() <= 60  # 20 m x 10 m of street at 2 m: 50 cells
    assert len(d) == len(full) - int(inside.sum())
    assert not shapely.contains_xy(over, d.xyz[:, 0], d.xyz[:, 1]).any()


def test_plateau_poles_far_from_every_road_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    city = cross_city()
    poles = Poles(
        np.array([[X0 - 6, Y0 - 6, GROUND_Z], [X0 + 3000, Y0, GROUND_Z]]),
        np.array([8.0, 8.0]),
        ("4840", "4840"),
        np.array([4, 4], np.int32),
    )
    city = dataclasses.replace(city, poles=poles)
    with caplog.at_level(logging.WARNING, logger="placement"):
        s = pole_sites(city, mount_height_m=6.0, reach_m=60.0)
    assert len(s) == 1 and s.xyz[0, 0] == pytest.approx(X0 - 6)
    (msg,) = [r.getMessage() for r in caplog.records if "PLATEAU poles" in r.getMessage()]
    assert msg.startswith("1 of 2 PLATEAU poles stand farther than 60 m from every road")
    assert len(pole_sites(city, mount_height_m=6.0)) == 2  # no reach given: all kept


def _camera_row(city: City, x: float, y: float, mount: float, **extra: Any) -> dict[str, Any]:
    lon, lat = _lonlat(x, y)
    row = {
        "id": "cam-001",
        "lon": round(float(lon), 7),
        "lat": round(float(lat), 7),
        "crs": city.crs,
        "x_m": x,
        "y_m": y,
        "height_m": GROUND_Z + mount,
        "mount_height_m": mount,
        "heading_deg": 90.0,
        "site_id": "edge-00001",
    }
    return {**row, **extra}


def _write_csv(p: Path, rows: list[dict[str, Any]]) -> None:
    keys = list(rows[0])
    p.write_text(
        ",".join(keys) + "\n" + "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows)
    )


def test_a_moved_or_remounted_camera_reads_back_where_it_now_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city = cross_city()
    p = tmp_path / "cameras.csv"
    # Unchanged: x_m / y_m / height_m taken as they are, no warning.
    _write_csv(p, [_camera_row(city, X0 + 2.0, Y0 - 20.0, 6.0)])
    with caplog.at_level(logging.WARNING):
        s = read_sites(p, city, mount_height_m=6.0, existing=True)
    assert s.xyz[0].tolist() == [X0 + 2.0, Y0 - 20.0, GROUND_Z + 6.0]
    assert "moved" not in caplog.text and s.pole_ids == ("edge-00001",)
    # lon / lat edited 5 m east: the camera goes there, with one warning naming the file.
    lon, lat = _lonlat(X0 + 7.0, Y0 - 20.0)
    _write_csv(p, [_camera_row(city, X0 + 2.0, Y0 - 20.0, 6.0, lon=lon, lat=lat)])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        s = read_sites(p, city, mount_height_m=6.0, existing=True)
    np.testing.assert_allclose(s.xyz[0], [X0 + 7.0, Y0 - 20.0, GROUND_Z + 6.0], atol=0.01)
    assert f"{p}: 1 of 1 rows have lon/lat" in caplog.text and s.pole_ids == ("",)
    # The same in GeoJSON: the geometry dragged, the properties as they were.
    row = _camera_row(city, X0 + 2.0, Y0 - 20.0, 6.0)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")},
    }
    gj = tmp_path / "cameras.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        s = read_sites(gj, city, mount_height_m=6.0, existing=True)
    np.testing.assert_allclose(s.xyz[0, :2], [X0 + 7.0, Y0 - 20.0], atol=0.01)
    assert f"{gj}: 1 of 1 rows have lon/lat" in caplog.text
    # mount_height_m edited 6 -> 10: the lens goes 10 m above the same ground.
    _write_csv(p, [_camera_row(city, X0 + 2.0, Y0 - 20.0, 6.0, mount_height_m=10.0)])
    s = read_sites(p, city, mount_height_m=6.0, existing=True)
    assert s.xyz[0, 2] == pytest.approx(GROUND_Z + 10.0, abs=1e-3)
    assert s.ground_z[0] == pytest.approx(GROUND_Z, abs=1e-3)


def test_two_headings_on_one_pole_are_kept_and_repeats_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    city = cross_city()
    a, b = _lonlat(X0 + 2, Y0 - 20), _lonlat(X0 + 2, Y0 + 20)
    p = tmp_path / "sites.csv"
    p.write_text(
        "id,lon,lat,heading_deg,cost\n"
        f"N,{a[0]},{a[1]},0,1\nS,{a[0]},{a[1]},180,1\n"
        f"P,{b[0]},{b[1]},,1\nPcheap,{b[0]},{b[1]},,0.2\n"
    )
    with caplog.at_level(logging.WARNING):
        s = combine_sites(read_sites(p, city, mount_height_m=6.0))
    assert s.ids == ("N", "S", "P")
    assert f"{p}: 1 of 4 sites" in caplog.text and "'Pcheap'" in caplog.text
    # N and S are two cameras on one pole: max_per_site counts them together.
    assert shared_poles(s).tolist() == [0, 0, 2]


def test_messages_name_the_files_rows_after_rows_out_of_reach(tmp_path: Path) -> None:
    city = cross_city()
    a, b = _lonlat(X0 + 2, Y0 - 20), _lonlat(X0 + 2, Y0 + 20)
    p = tmp_path / "e.csv"
    p.write_text(f"lon,lat,heading_deg\n135.9,34.1,0\n{a[0]},{a[1]},0\n{b[0]},{b[1]},\n")
    with pytest.raises(InputFileError, match="existing camera on row 3 has no heading_deg"):
        read_sites(p, city, mount_height_m=6.0, existing=True, reach_m=60.0)
