"""Flat roads lifted onto the ground: they follow the DEM between their vertices, as the
TIN is given, so the street points and kerb poles on them stand on the terrain, not in it."""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from pyproj import Transformer

from placement.citygml import read_citygml
from placement.citygml._ground import DEM_FOLLOW_MIN_EDGE_M, DEM_FOLLOW_TOL_M
from placement.demand import sample_demand
from placement.heights import height_at
from placement.model import City, SurfaceKind
from placement.sites import road_edge_sites
from placement.visibility import segments_clear
from test_citygml import X0, Y0, _sloped_dem, document, ms, poly, pos, write

Point = tuple[float, float, float]


def _tin(tris: Sequence[Sequence[Point]], posl: Callable[[Sequence[Point]], str] = pos) -> str:
    patches = "".join(
        f"<gml:Triangle><gml:exterior><gml:LinearRing><gml:posList>{posl(t)}</gml:posList></gml:LinearRing></gml:exterior></gml:Triangle>"
        for t in tris
    )
    return (
        '<core:cityObjectMember><dem:ReliefFeature gml:id="rf"><dem:lod>1</dem:lod><dem:reliefComponent>'
        '<dem:TINRelief gml:id="tin"><dem:lod>1</dem:lod><dem:tin><gml:TriangulatedSurface><gml:trianglePatches>'
        f"{patches}</gml:trianglePatches></gml:TriangulatedSurface></dem:tin></dem:TINRelief>"
        "</dem:reliefComponent></dem:ReliefFeature></core:cityObjectMember>"
    )


def _road(rid: str, ring: Sequence[Point], posl: Callable[[Sequence[Point]], str] = pos) -> str:
    if posl is pos:
        surface = ms(poly(ring))
    else:
        surface = ms(
            f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{posl(ring)}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
        )
    return f'<core:cityObjectMember><tran:Road gml:id="{rid}"><tran:lod1MultiSurface>{surface}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'


def _ridge(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The ridge DEM: 0 m at x = 0 and 200, 6 m along x = 100."""
    return 6.0 - 0.06 * np.abs(np.asarray(x, float) - 100.0)


def _ridge_city(tmp_path: Path) -> City:
    """A TIN ridge in 20 m triangles (x -20..220, y 0..100) and, across it, a flat LOD1
    road 200 m x 8 m with vertices only at its ends (as PLATEAU stores one between two
    junctions); another road beside it is stored with its heights."""
    tris = []
    for x in range(-20, 220, 20):
        for y in range(0, 100, 20):
            c = [(x, y), (x + 20, y), (x + 20, y + 20), (x, y + 20)]
            p = [(a, b, float(_ridge(a))) for a, b in c]
            tris += [[p[0], p[1], p[2]], [p[0], p[2], p[3]]]
    flat = _road("flat", [(0, 40, 0.0), (200, 40, 0.0), (200, 48, 0.0), (0, 48, 0.0)])
    stored = _road("stored", [(0, 60, 2.5), (40, 60, 2.5), (40, 68, 2.5), (0, 68, 2.5)])
    return read_citygml(write(tmp_path, "ridge.gml", document(_tin(tris) + flat + stored)))


def test_a_flat_road_over_a_ridge_follows_the_dem_between_its_vertices(tmp_path: Path) -> None:
    city = _ridge_city(tmp_path)
    assert city.ground_source == "model and dem"
    terrain = city.occluders.select(city.occluders.kind == SurfaceKind.TERRAIN)
    x = np.linspace(1.0, 199.0, 199)
    for y in (40.5, 44.0, 47.5):
        xy = np.column_stack([X0 + x, np.full_like(x, Y0 + y)])
        road = height_at(city.roads, xy)
        # Lifted at its four corners only, the road was a chord at z = 0: 6 m inside the
        # ridge at mid-road.
        np.testing.assert_allclose(road, _ridge(x), atol=DEM_FOLLOW_TOL_M)
        np.testing.assert_allclose(road, height_at(terrain, xy), atol=DEM_FOLLOW_TOL_M)
    assert height_at(city.roads, [[X0 + 100, Y0 + 44]])[0] == pytest.approx(6.0, abs=0.1)
    # Split only where the ridge crosses it (a few triangles per crossing TIN edge), into
    # pieces no shorter than DEM_FOLLOW_MIN_EDGE_M; the road stored with heights is not split.
    flat_row, stored_row = city.features.ids.index("flat"), city.features.ids.index("stored")
    assert 2 < int((city.roads.feature == flat_row).sum()) < 60
    assert int((city.roads.feature == stored_row).sum()) == 2
    tri = city.roads.vertices[city.roads.faces]
    longest = np.linalg.norm(np.roll(tri, -1, axis=1) - tri, axis=2).max(axis=1)
    assert longest.min() > DEM_FOLLOW_MIN_EDGE_M / 2


def test_street_points_and_kerb_poles_stand_on_the_terrain(tmp_path: Path) -> None:
    city = _ridge_city(tmp_path)
    demand = sample_demand(city, spacing_m=2.0, target_height_m=1.5)
    on_flat = demand.xyz[:, 1] < Y0 + 50
    assert on_flat.sum() == 100 * 4  # x 0..198 by 2 m, y 40..46
    dx = demand.xyz[on_flat, 0] - X0
    np.testing.assert_allclose(demand.ground_z[on_flat], _ridge(dx), atol=DEM_FOLLOW_TOL_M)
    np.testing.assert_allclose(demand.xyz[:, 2], demand.ground_z + 1.5)
    sites = road_edge_sites(city, mount_height_m=6.0, spacing_m=20.0)
    kerb = sites.xyz[:, 1] < Y0 + 50
    assert kerb.sum() > 10
    np.testing.assert_allclose(
        sites.ground_z[kerb], _ridge(sites.xyz[kerb, 0] - X0), atol=DEM_FOLLOW_TOL_M
    )
    # Nothing lies inside the terrain: every street point is seen from straight above, and
    # from a camera 8 m over the crest beside the road (before, 74 % of the street
    # lay under the ridge's surface, hidden from every camera).
    blockers = city.view_blockers()
    above = demand.xyz + np.array([0.0, 0.0, 30.0])
    assert segments_clear(blockers, above, demand.xyz).all()
    crest = np.array([[X0 + 100, Y0 + 30, 6.0 + 8.0]])
    seen = segments_clear(blockers, np.repeat(crest, on_flat.sum(), axis=0), demand.xyz[on_flat])
    assert seen.all()


def test_roads_take_the_tin_as_given_not_a_delaunay_of_its_vertices(tmp_path: Path) -> None:
    # A valley along y = 0 (z = 0.2 |y|) in two triangles sharing their long edge: the
    # Delaunay of the same 4 points takes the short diagonal and makes it a 10 m ridge.
    a, b, c, d = (0, 0, 0.0), (100, -50, 10.0), (200, 0, 0.0), (100, 50, 10.0)
    dem = _tin([[a, b, c], [a, c, d]])
    road = _road("r", [(20, -2, 0.0), (180, -2, 0.0), (180, 2, 0.0), (20, 2, 0.0)])
    city = read_citygml(write(tmp_path, "valley.gml", document(dem + road)))
    x = np.linspace(21.0, 179.0, 80)
    for y in (-1.5, 0.0, 1.5):
        xy = np.column_stack([X0 + x, np.full_like(x, Y0 + y)])
        # Before, the ends sat 2 m up on the Delaunay's ridge and the road 2 m over the valley.
        np.testing.assert_allclose(height_at(city.roads, xy), 0.2 * abs(y), atol=DEM_FOLLOW_TOL_M)


def test_a_road_within_one_plane_of_the_dem_is_not_split(tmp_path: Path) -> None:
    flat = [(0, 0, 0.0), (10, 0, 0.0), (10, 10, 0.0), (0, 10, 0.0)]
    road = _road("r", flat)
    city = read_citygml(write(tmp_path, "dem.gml", document(_sloped_dem() + road)))
    assert city.roads.n_triangles == 2
    v = city.roads.vertices
    assert np.allclose(v[:, 2], 3.0 + 0.1 * (v[:, 1] - Y0 + 10.0), atol=1e-3)


def test_a_long_road_across_a_real_dem_lies_on_it(plateau: Path, tmp_path: Path) -> None:
    # Yokosuka's thinned TIN (hills; 1,066 triangles, edges of 270 m at the median) and a
    # flat road 1 km x 10 m up a 17 m slope on it, as a LOD1 road between far junctions.
    fwd = Transformer.from_crs("EPSG:6697", "EPSG:6677", always_xy=True)
    inv = Transformer.from_crs("EPSG:6677", "EPSG:6697", always_xy=True)
    origin = np.array(fwd.transform(139.6937, 35.2016))
    a, b = origin + np.array([-392.0, -441.0]), origin + np.array([-181.0, 536.0])
    side = 5.0 * np.array([a[1] - b[1], b[0] - a[0]]) / np.linalg.norm(b - a)
    corners = [a - side, b - side, b + side, a + side, a - side]
    lon, lat = inv.transform([c[0] for c in corners], [c[1] for c in corners])
    ring = " ".join(f"{y:.12f} {x:.12f} 0.0" for x, y in zip(lon, lat, strict=True))
    surface = f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
    road = f'<core:cityObjectMember><tran:Road gml:id="r"><tran:lod1MultiSurface>{ms(surface)}</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>'
    dem = plateau / "nusamai" / "523965_dem_6697_05_op.gml"
    city = read_citygml([dem, write(tmp_path, "road.gml", document(road))], crs="EPSG:6677")
    assert city.ground_source == "dem" and not city.warnings
    terrain = city.occluders.select(city.occluders.kind == SurfaceKind.TERRAIN)
    xy = a + np.linspace(0.01, 0.99, 500)[:, None] * (b - a)
    xy = np.concatenate([xy - 0.8 * side, xy, xy + 0.8 * side])
    on_dem = height_at(terrain, xy, fallback="nan")
    assert np.isfinite(on_dem).all() and np.ptp(on_dem) > 15.0
    gap = np.abs(height_at(city.roads, xy) - on_dem)
    # Lifted at its 4 corners only, it lay 0.5 m off the terrain at the median, 13 m at
    # the 99th percentile. Now within the tolerance, but at the foot of a wall (the TIN
    # rises 8 m within 2 m there): pieces shorter than DEM_FOLLOW_MIN_EDGE_M are not made.
    assert np.percentile(gap, 99) < DEM_FOLLOW_TOL_M
    assert gap.max() < 1.5
    assert city.roads.n_triangles < 5000


def test_slivers_of_a_straight_road_digitised_densely_are_not_split(tmp_path: Path) -> None:
    # A straight diagonal road whose sides hold a vertex every 4 m triangulates into
    # slivers hundreds of metres long; split across their longest edge they stayed slivers
    # and their neighbours split with them (a 780 m road: 398 -> 103,474 triangles, 2 GB).
    step, size = 5.0, 300.0
    g = np.arange(0.0, size + step, step)
    x, y = np.meshgrid(g, g, indexing="ij")
    z = 3 * np.sin(x / 37.0) * np.cos(y / 53.0) + 2 * np.sin((x + y) / 23.0)
    tris = []
    for i in range(g.size - 1):
        for j in range(g.size - 1):
            p = [(float(x[a, b]), float(y[a, b]), float(z[a, b])) for a, b in ((i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1))]  # fmt: skip
            tris += [[p[0], p[1], p[2]], [p[0], p[2], p[3]]]
    t = np.linspace(0.0, 1.0, 70)
    side = [(10 + 270 * u, 10 + 270 * u, 0.0) for u in t]
    other = [(10 + 270 * u - 5.66, 10 + 270 * u + 5.66, 0.0) for u in t[::-1]]
    road_only = read_citygml(write(tmp_path, "road.gml", document(_road("d", side + other))))
    city = read_citygml(
        write(tmp_path, "diag.gml", document(_tin(tris) + _road("d", side + other)))
    )
    assert city.ground_source == "dem"
    stored = road_only.roads.n_triangles
    assert stored > 100  # the slivers the test is about
    # A 380 m x 8 m road (3,040 m2) over hills: pieces where the terrain bends, not
    # without end (10,914 triangles before, 2,948 now).
    assert city.roads.n_triangles < 5000
    # The road's middle, where the triangles are whole, still follows the terrain.
    mid = np.column_stack([10 + 270 * t[5:-5] - 2.83 + X0, 10 + 270 * t[5:-5] + 2.83 + Y0])
    terrain = city.occluders.select(city.occluders.kind == SurfaceKind.TERRAIN)
    on_dem = height_at(terrain, mid, fallback="nan")
    assert np.isfinite(on_dem).all() and np.ptp(on_dem) > 3.0
    gap = np.abs(height_at(city.roads, mid, fallback="nan") - on_dem)
    assert np.percentile(gap, 90) < DEM_FOLLOW_TOL_M
