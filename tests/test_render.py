"""3D pictures: the scene file, shared geometry, PNG colours and the HTML page."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import shapely

from placement import render
from placement.camera import Camera
from placement.errors import InputFileError
from placement.model import (
    City,
    Demand,
    FeatureTable,
    Mesh,
    Options,
    Poles,
    RoadArea,
    SurfaceKind,
)
from placement.render import Scene
from placement.render._draw import BRIDGE_COLOR, LEVEL_COLORS, hex_rgb
from placement.render._html import page_data
from placement.render._shapes import View, crease_edges, spread_labels, unit_box, unit_sphere, weld

E0, N0 = 512_345.0, -148_765.0  # 6-digit eastings, as in a real plane rectangular zone


def box(x0: float, y0: float, x1: float, y1: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
    v = np.column_stack([np.tile(ring, (2, 1)), np.repeat([0.0, h], 4)])
    walls = [[0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]]
    f = np.array([*walls, [4, 5, 6], [4, 6, 7]])
    return v, f


def small_scene() -> Scene:
    """A 60 m square street area with one building; west half unseen, east half seen."""
    v, f = box(E0 + 25, N0 + 25, E0 + 35, N0 + 35, 12.0)
    kind = np.array([SurfaceKind.WALL] * 8 + [SurfaceKind.ROOF] * 2, np.int8)
    g = np.arange(1.0, 60.0, 2.0)
    x, y = np.meshgrid(g, g)
    x, y = x.ravel(), y.ravel()
    keep = ~((x > 24) & (x < 36) & (y > 24) & (y < 36))
    x, y = x[keep], y[keep]
    xyz = np.column_stack([x + E0, y + N0, np.full(x.size, 1.5)])
    level = np.where(x < 30, 0, np.where(x < 45, 2, 4)).astype(np.int8)
    cams = np.array([[E0 + 58, N0 + 2, 6.0], [E0 + 58, N0 + 58, 6.0]])
    return Scene(
        title="test scene",
        crs="EPSG:6674",
        occ_vertices=v,
        occ_faces=f.astype(np.int32),
        occ_kind=kind,
        road_vertices=np.array([[E0, N0, 0], [E0 + 60, N0, 0], [E0 + 60, N0 + 60, 0]], float),
        road_faces=np.array([[0, 1, 2]], np.int32),
        demand_xyz=xyz,
        demand_ground_z=np.zeros(x.size),
        demand_level=level,
        demand_weight=np.ones(x.size),
        spacing_m=2.0,
        cam_origin=cams,
        cam_ground_z=np.zeros(2),
        cam_heading_deg=np.array([315.0, 225.0]),
        cam_tilt_deg=np.array([20.0, 20.0]),
        cam_existing=np.array([False, True]),
        cam_ids=("cam-001", "cam-002"),
        hfov_deg=90.0,
        vfov_deg=50.0,
        range_m=40.0,
    )


@pytest.fixture(scope="module")
def offscreen() -> None:
    problem = render.offscreen_problem()
    if problem is not None:
        pytest.skip(f"no off-screen OpenGL here: {problem}")


# ---------------------------------------------------------------------------------- scene file


def test_scene_round_trip(tmp_path: Path) -> None:
    s = small_scene()
    path = tmp_path / "scene.npz"
    s.save(path)
    back = Scene.load(path)
    assert back.title == s.title and back.crs == s.crs and back.cam_ids == s.cam_ids
    assert back.spacing_m == 2.0 and back.hfov_deg == 90.0 and back.range_m == 40.0
    for name in ("occ_vertices", "occ_faces", "occ_kind", "demand_xyz", "demand_level"):
        a, b = getattr(s, name), getattr(back, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.cam_existing, [False, True])
    # Plain arrays only: loading must not need pickle.
    with np.load(path, allow_pickle=False) as data:
        assert data["cam_ids"].dtype.kind == "U"


def test_scene_load_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match=r"bad\.npz"):
        Scene.load(bad)
    partial = tmp_path / "partial.npz"
    np.savez_compressed(partial, format_version=np.array(1))
    with pytest.raises(InputFileError, match=r"not a placement scene \(it has no title array\)"):
        Scene.load(partial)
    np.savez_compressed(partial, title=np.array("x"))
    with pytest.raises(InputFileError, match="it has no format_version array"):
        Scene.load(partial)
    np.savez_compressed(partial, format_version=np.array(99))
    with pytest.raises(
        InputFileError, match=r"written by a newer placement .* or update placement"
    ):
        Scene.load(partial)
    with pytest.raises(InputFileError, match=r"absent\.npz"):
        Scene.load(tmp_path / "absent.npz")


def _city() -> City:
    near_v, near_f = box(0, 0, 10, 10, 8.0)
    far_v, far_f = box(500, 500, 510, 510, 8.0)
    occ = Mesh.concatenate(
        [
            Mesh(near_v, near_f.astype(np.int32), np.zeros(10, np.int32), np.zeros(10, np.int8)),
            Mesh(far_v, far_f.astype(np.int32), np.ones(10, np.int32), np.zeros(10, np.int8)),
        ]
    )
    roads = Mesh(
        np.array([[20.0, 0, 0], [40, 0, 0], [40, 20, 0]]),
        np.array([[0, 1, 2]], np.int32),
        np.zeros(1, np.int32),
        np.full(1, SurfaceKind.ROAD, np.int8),
    )
    return City(
        crs="EPSG:6674",
        source_crs="EPSG:6697",
        sources=("x.gml",),
        features=FeatureTable.empty(),
        occluders=occ,
        roads=roads,
        road_area=RoadArea(
            (shapely.box(20, 0, 40, 20),), np.array([7], np.int8), np.zeros(1, np.int32)
        ),
        footprints=(),
        footprint_feature=np.zeros(0, np.int32),
        poles=Poles.empty(),
        ground_source="model",
    )


def _Cam() -> Camera:
    return Camera(height_m=5.0, hfov_deg=100.0, vfov_deg=56.0, range_m=50.0)


def test_scene_from_crops_and_collects() -> None:
    demand = Demand(
        np.array([[25.0, 5, 1.5], [35, 15, 1.5], [30, 10, 1.5]]),
        np.zeros(3),
        np.array([1.0, 2.0, 1.0]),
        np.full(3, SurfaceKind.ROAD, np.int8),
        2.0,
    )
    options = Options(
        site=np.array([0, 1, 1], np.int32),
        heading_deg=np.array([0.0, 90.0, 180.0]),
        tilt_deg=np.array([15.0, 25.0, 35.0]),
        origin=np.array([[20.0, 0, 5], [40, 20, 6], [40, 20, 6]]),
        cost=np.ones(3),
        existing=np.array([True, False, False]),
    )
    s = render.scene_from(
        _city(),
        demand,
        np.array([0, 3, 1], np.int8),
        options,
        np.array([2, 0], np.int32),
        _Cam(),
        title="t",
    )
    # The far building (500 m away, beyond the 50 m range) is left out.
    assert s.occ_faces.shape == (10, 3) and s.occ_vertices[:, 0].max() == 10.0
    assert s.road_faces.shape == (1, 3)
    assert s.cam_ids == ("cam-001", "cam-002")
    np.testing.assert_array_equal(s.cam_heading_deg, [180.0, 0.0])
    np.testing.assert_array_equal(s.cam_tilt_deg, [35.0, 15.0])
    np.testing.assert_array_equal(s.cam_existing, [False, True])
    # The pole's foot is read off the road surface (z = 0), whatever the mount height.
    np.testing.assert_allclose(s.cam_ground_z, [0.0, 0.0], atol=1e-4)
    np.testing.assert_array_equal(s.demand_level, [0, 3, 1])
    # k is the redundancy asked for, not the number of cameras chosen (two here).
    assert s.k == 1
    s3 = render.scene_from(
        _city(),
        demand,
        np.array([0, 3, 1], np.int8),
        options,
        np.array([2, 0]),
        _Cam(),
        title="t",
        k=3,
    )
    assert s3.k == 3 and s3.cam_ids == ("cam-001", "cam-002")
    assert (s.hfov_deg, s.vfov_deg) == (100.0, 56.0)
    # View volumes are drawn to the detection distance (pixel density), here under the range.
    assert s.range_m == pytest.approx(1920 / (2 * np.tan(np.radians(50.0))) / 25.0)
    assert s.range_m < 50.0
    with pytest.raises(ValueError, match="3 demand points"):
        render.scene_from(
            _city(), demand, np.zeros(2, np.int8), options, np.zeros(0, np.int32), _Cam(), title=""
        )


def test_k_fold_scene_says_so_and_old_scenes_load(tmp_path: Path) -> None:
    s = replace(small_scene(), k=2)
    sub = render._draw.subtitle(s)
    assert "of street demand seen by 2 cameras" in sub
    labels = [e.label for e in render._draw.legend_entries(s)]
    assert "seen by fewer than 2" in labels and "not seen" not in labels
    assert _reload(s, tmp_path).k == 2
    # A scene saved before k was recorded reads as k = 1.
    assert _reload(s, tmp_path, without="k").k == 1
    assert "not seen" in [e.label for e in render._draw.legend_entries(small_scene())]


def test_the_carpet_stands_clear_of_terrain_and_terrain_is_in_the_legend() -> None:
    # Roads follow a DEM only to within 0.2 m: 5 cm over the road let the terrain show
    # through the cells in dots, and the terrain had no legend entry.
    from placement.render._shapes import coverage_cells

    s = small_scene()
    shift = np.zeros(3)
    lift = coverage_cells(s, shift)[0][:, 2] - np.repeat(s.demand_ground_z, 4)
    np.testing.assert_allclose(lift, 0.05)
    assert "terrain" not in [e.label for e in render._draw.legend_entries(s)]
    kind = s.occ_kind.copy()
    kind[-2:] = SurfaceKind.TERRAIN
    t = replace(s, occ_kind=kind)
    lift = coverage_cells(t, shift)[0][:, 2] - np.repeat(t.demand_ground_z, 4)
    np.testing.assert_allclose(lift, 0.35)
    assert "terrain" in [e.label for e in render._draw.legend_entries(t)]


def test_k_fold_scene_draws_points_seen_by_too_few_apart(tmp_path: Path) -> None:
    from placement.render._draw import CELL_COLORS, PARTIAL_COLOR
    from placement.render._shapes import PARTIAL, coverage_cells

    base = small_scene()
    partial = (base.demand_level == 0) & (base.demand_xyz[:, 1] - N0 < 30)
    s = replace(base, k=2, demand_partial=partial)
    _, _, cls = coverage_cells(s, np.zeros(3))
    np.testing.assert_array_equal(cls == PARTIAL, partial)
    assert CELL_COLORS[PARTIAL] == PARTIAL_COLOR
    entries = {e.label: e for e in render._draw.legend_entries(s)}
    assert "seen by none" in entries and "seen by 1 of 2" in entries
    w = s.demand_weight
    assert entries["seen by 1 of 2"].share == pytest.approx(w[partial].sum() / w.sum())
    labels3 = [e.label for e in render._draw.legend_entries(replace(s, k=3))]
    assert "seen by 1-2 of 3" in labels3
    assert np.array_equal(_reload(s, tmp_path).demand_partial, partial)
    assert _reload(s, tmp_path, without="demand_partial").demand_partial is None
    # The HTML page lists them in its legend too, with the same share.
    parsed = _parse(render._html.page(s))
    items = {int(li["data-level"]): li for li in parsed.legend if "data-level" in li}
    assert float(items[PARTIAL]["data-share"]) == pytest.approx(
        w[partial].sum() / w.sum(), abs=1e-6
    )


def test_min_level_scene_counts_and_draws_that_level(tmp_path: Path) -> None:
    base = small_scene()
    # Levels: west half 0, middle 2, east 1: with observation required only the 2s count.
    level = np.where(base.demand_level == 4, 1, base.demand_level).astype(np.int8)
    s = replace(base, demand_level=level, min_level=2, range_m=20.0)
    frac = s.demand_weight[s.demand_level >= 2].sum() / s.demand_weight.sum()
    sub = render._draw.subtitle(s)
    assert f"{100 * frac:.1f} % of street demand seen at observation or better" in sub
    assert "observation to 20 m" in sub
    labels = [e.label for e in render._draw.legend_entries(s)]
    assert "detection, not counted" in labels and "observation" in labels
    assert _reload(s, tmp_path).min_level == 2
    assert _reload(s, tmp_path, without="min_level").min_level == 1
    assert "detection to" in render._draw.subtitle(small_scene())


def _reload(scene: Scene, tmp_path: Path, *, without: str | None = None) -> Scene:
    """``scene`` saved and loaded again; ``without`` drops a field from the file first, as
    a scene saved before that field was recorded."""
    scene.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as data:
        arrays = {name: data[name] for name in data.files if name != without}
    np.savez_compressed(tmp_path / "t.npz", **arrays)
    return Scene.load(tmp_path / "t.npz")


# ---------------------------------------------------------------------------------- geometry


def test_camera_directions() -> None:
    fwd, right, up = render.camera_directions(np.array([0.0, 90.0]), np.array([0.0, 30.0]))
    np.testing.assert_allclose(fwd[0], [0, 1, 0], atol=1e-12)  # north
    np.testing.assert_allclose(fwd[1], [np.cos(np.radians(30)), 0, -0.5], atol=1e-12)  # east, down
    np.testing.assert_allclose(right[0], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(up[0], [0, 0, 1], atol=1e-12)
    assert up[1][2] > 0.8


def test_frustum_is_cut_at_range_and_ground() -> None:
    origin = np.array([[0.0, 0.0, 6.0], [100.0, 0.0, 6.0]])
    v, f = render.frustum_surfaces(
        origin,
        np.zeros(2),
        np.array([0.0, 90.0]),
        np.array([20.0, 20.0]),
        hfov_deg=90.0,
        vfov_deg=50.0,
        range_m=40.0,
        per_side=4,
    )
    assert v.shape == (2 * 17, 3) and f.shape == (2 * 16, 3)
    assert f.max() == v.shape[0] - 1
    ends = v.reshape(2, 17, 3)[:, 1:]
    d = np.linalg.norm(ends - origin[:, None, :], axis=2)
    assert np.all(d <= 40.0 + 1e-9)
    on_ground = np.isclose(ends[:, :, 2], 0.0)
    at_range = np.isclose(d, 40.0)
    assert np.all(on_ground | at_range)  # every ray stops at the ground or at the range
    assert on_ground.any() and at_range.any()  # tilt 20 + vfov/2 25: the top edge looks up
    assert np.all(ends[0, :, 1] > 0)  # heading north: everything ahead in +y
    assert np.all(ends[1, :, 0] > 100.0)  # heading east


def test_panoramic_frustum_wraps_around() -> None:
    rays = render.frustum_rays(
        np.array([0.0]), np.array([10.0]), hfov_deg=360.0, vfov_deg=60.0, per_side=8
    )
    az = np.degrees(np.arctan2(rays[0, :, 0], rays[0, :, 1])) % 360
    assert np.ptp(az) > 300  # all around
    np.testing.assert_allclose(np.linalg.norm(rays, axis=2), 1.0)


def test_offscreen_backend_respects_user_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTK_DEFAULT_OPENGL_WINDOW", "vtkXOpenGLRenderWindow")
    assert render.use_offscreen_backend() == "vtkXOpenGLRenderWindow"
    monkeypatch.delenv("VTK_DEFAULT_OPENGL_WINDOW")
    monkeypatch.setenv("DISPLAY", ":0")
    assert render.use_offscreen_backend() is None
    assert "VTK_DEFAULT_OPENGL_WINDOW" not in __import__("os").environ


# ---------------------------------------------------------------------------------- pictures


def _masks(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    red = (r > 140) & (g < 70) & (b < 70)
    green = (g > r + 40) & (g > b + 40)
    return red, green


@pytest.mark.render
def test_png_shows_unseen_red_and_seen_green(offscreen: None, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "scene.png"
    render.render_png(small_scene(), path, window_size=(640, 400))
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (400, 640, 3)
    colours = np.unique(img.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 100  # shaded geometry, not a flat fill
    red, green = _masks(img)
    assert red.sum() > 2000 and green.sum() > 2000
    # From the south-east, east (+x) is to the right: unseen west half left of the seen half.
    cols = np.arange(img.shape[1])[None, :]
    red_x = (cols * red).sum() / red.sum()
    green_x = (cols * green).sum() / green.sum()
    assert red_x + 50 < green_x


@pytest.mark.render
def test_png_all_seen_has_no_red(offscreen: None, tmp_path: Path) -> None:
    from PIL import Image

    s = small_scene()
    s = replace(s, demand_level=np.full_like(s.demand_level, 4))
    path = tmp_path / "scene.png"
    render.show(s, screenshot=path)
    img = np.asarray(Image.open(path).convert("RGB"))
    red, green = _masks(img)
    assert green.sum() > 4000
    assert red.sum() < 0.02 * green.sum()  # only legend-free, anti-aliased stray pixels


def test_spread_labels_keeps_clear_of_the_markers() -> None:
    # A label reaching over the next camera's marker hid it (16 of 40 on Osaka 51357353).
    anchors = np.array([[100.0, 50], [300, 50]])
    sizes = np.array([[60.0, 17], [60, 17]])
    markers = np.array([[130.0, 45, 10, 10], [90, 35, 15, 15], [500, 50, 10, 10]])
    out = spread_labels(anchors, sizes, keep_clear=markers)
    np.testing.assert_allclose(out, [[100.0, 55], [300, 50]])  # just above the marker
    np.testing.assert_allclose(spread_labels(anchors, sizes), anchors)


def test_spread_labels_stacks_overlapping_boxes_and_leaves_the_rest() -> None:
    anchors = np.array([[100.0, 50], [110, 55], [105, 40], [400, 50]])
    sizes = np.array([[50.0, 17], [50, 17], [50, 17], [50, 17]])
    out = spread_labels(anchors, sizes)
    # Placed from the bottom up: (105, 40) stays, the others stack just above it.
    np.testing.assert_array_equal(out[:, 0], anchors[:, 0])
    np.testing.assert_allclose(out[:, 1], [57.0, 74.0, 40.0, 50.0])
    # Random crowds: no two boxes overlap afterwards, and nothing moves down.
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.uniform(0, 300, (40, 2))
        sz = np.column_stack([rng.uniform(30, 60, 40), np.full(40, 17.0)])
        o = spread_labels(a, sz, max_steps=100)
        assert (o[:, 1] >= a[:, 1]).all() and (o[:, 0] == a[:, 0]).all()
        x0, y0, x1, y1 = o[:, 0], o[:, 1], o[:, 0] + sz[:, 0], o[:, 1] + sz[:, 1]
        overlap = (
            (x0[:, None] < x1[None])
            & (x0[None] < x1[:, None])
            & (y0[:, None] < y1[None])
            & (y0[None] < y1[:, None])
        )
        np.fill_diagonal(overlap, False)
        assert not overlap.any()


def test_view_projects_like_vtk_and_back(offscreen: None) -> None:
    import pyvista as pv
    import vtk

    pl = pv.Plotter(off_screen=True, window_size=[640, 400])
    pl.add_mesh(pv.Sphere(radius=5.0))
    pl.camera_position = [(60.0, -50.0, 40.0), (0.0, 5.0, 0.0), (0.0, 0.0, 1.0)]
    pl.camera.view_angle = 30.0
    view = View(
        np.array(pl.camera.position),
        np.array(pl.camera.focal_point),
        np.array(pl.camera.up),
        float(pl.camera.view_angle),
        (640, 400),
    )
    pts = np.random.default_rng(0).uniform(-10, 10, (30, 3))
    px, depth = view.to_display(pts)
    coord = vtk.vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    ref = []
    for p in pts:
        coord.SetValue(*p)
        ref.append(coord.GetComputedDoubleDisplayValue(pl.renderer))
    pl.close()
    np.testing.assert_allclose(px, ref, atol=1e-6)
    np.testing.assert_allclose(view.to_display(view.focal[None])[0], [[320.0, 200.0]])
    np.testing.assert_allclose(view.to_world(px, depth), pts, atol=1e-9)


def _actors_2d(pl: object) -> list[object]:
    """The 2D actors (text, legend, labels, overlays) of a plotter's renderer."""
    props = pl.renderer.GetViewProps()  # type: ignore[attr-defined]
    items = [props.GetItemAsObject(i) for i in range(props.GetNumberOfItems())]
    return [a for a in items if a.IsA("vtkActor2D")]


def test_compass_points_north_and_picks_a_round_scale() -> None:
    from placement.render._shapes import SCALE_STEPS_M, compass

    # From the south, looking north and down: north is up the screen.
    south = View(
        np.array([0.0, -300.0, 200.0]), np.zeros(3), np.array([0.0, 0.0, 1.0]), 30.0, (800, 500)
    )
    north, length_m, length_px = compass(south, np.zeros(3))
    np.testing.assert_allclose(north, [0.0, 1.0], atol=1e-9)
    assert length_m in SCALE_STEPS_M and 60 <= length_px <= 180
    # The bar's pixels are its metres at the centre, along the screen's horizontal.
    px, _ = south.to_display(np.array([[0.0, 0.0, 0.0], [length_m, 0.0, 0.0]]))
    assert length_px == pytest.approx(px[1, 0] - px[0, 0])
    # From the east (looking west): north is to the right.
    east = View(
        np.array([300.0, 0.0, 200.0]), np.zeros(3), np.array([0.0, 0.0, 1.0]), 30.0, (800, 500)
    )
    np.testing.assert_allclose(compass(east, np.zeros(3))[0], [1.0, 0.0], atol=1e-9)
    # Twice as far, the bar halves its pixels per metre and so takes a longer step.
    far = View(
        np.array([0.0, -600.0, 400.0]), np.zeros(3), np.array([0.0, 0.0, 1.0]), 30.0, (800, 500)
    )
    assert compass(far, np.zeros(3))[1] >= length_m


@pytest.mark.render
def test_the_png_has_a_compass(offscreen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from placement.render import _draw

    def overlays() -> int:
        pl = _draw.build_plotter(small_scene(), off_screen=True, window_size=(640, 400))
        try:
            return sum(
                1
                for a in _actors_2d(pl)
                if a.GetMapper() is not None and a.GetMapper().IsA("vtkPolyDataMapper2D")
            )
        finally:
            pl.close()

    with_compass = overlays()
    monkeypatch.setattr(_draw, "_add_compass", lambda *a: None)
    assert with_compass == overlays() + 3  # the arrow and bar, "N", the scale's text


@pytest.mark.render
def test_every_camera_of_a_crowded_street_is_named(offscreen: None, tmp_path: Path) -> None:
    """Ten cameras a metre apart: their labels are stacked, none overlaps, all are drawn."""
    from placement.render._draw import (
        LABEL_CHAR_PX,
        LABEL_HEIGHT_PX,
        LABEL_MARGIN_PX,
        build_plotter,
        label_anchors,
        plotter_view,
    )
    from placement.render._shapes import local_origin, marker_radius

    n = 10
    origin = np.column_stack(
        [np.linspace(E0 + 20, E0 + 29, n), np.full(n, N0 + 10.0), np.full(n, 6.0)]
    )
    s = replace(
        small_scene(),
        cam_origin=origin,
        cam_ground_z=np.zeros(n),
        cam_heading_deg=np.zeros(n),
        cam_tilt_deg=np.full(n, 20.0),
        cam_existing=np.zeros(n, bool),
        cam_ids=tuple(f"cam-{i:03d}" for i in range(1, n + 1)),
    )
    window = (800, 500)
    pl = build_plotter(s, off_screen=True, window_size=window)
    try:
        view = plotter_view(pl, window)
        mappers = [
            a.GetMapper()
            for a in _actors_2d(pl)
            if a.GetMapper() is not None and a.GetMapper().IsA("vtkLabelPlacementMapper")
        ]
    finally:
        pl.close()
    assert len(mappers) == 1 and mappers[0].GetPlaceAllLabels()
    top = origin - local_origin(s) + np.array([0.0, 0.0, 2.2 * marker_radius(s)])
    anchor, far = label_anchors(top, list(s.cam_ids), view)
    before, _ = view.to_display(top)
    after, _ = view.to_display(anchor)
    w = LABEL_CHAR_PX * 7 + 2 * LABEL_MARGIN_PX
    x0, y0 = after[:, 0], after[:, 1]
    h = LABEL_HEIGHT_PX - 1e-6  # boxes stacked edge to edge touch after the round trip
    overlap = (
        (x0[:, None] < x0[None] + w)
        & (x0[None] < x0[:, None] + w)
        & (y0[:, None] < y0[None] + h)
        & (y0[None] < y0[:, None] + h)
    )
    np.fill_diagonal(overlap, False)
    assert not overlap.any()
    # Before the layout nearly all of them overlapped; most now hang on a leader line.
    assert np.abs(before[1:, 0] - before[:-1, 0]).max() < w
    assert far.size >= n // 2
    np.testing.assert_allclose(after[:, 0], before[:, 0], atol=1e-6)
    # Thirty cameras on one pole: thirty labels stacked, none on another.
    ids30 = [f"cam-{i:03d}" for i in range(1, 31)]
    on_one = np.repeat(top[:1], 30, axis=0)
    anchor30, _ = label_anchors(on_one, ids30, view)
    y30 = np.sort(view.to_display(anchor30)[0][:, 1])
    assert np.diff(y30).min() >= LABEL_HEIGHT_PX - 1e-6


def test_cameras_show_in_the_picture_of_a_city_of_several_tiles(offscreen: None) -> None:
    # The small scene stretched to 6 km: a marker of at most 5 m was a pixel or two there.
    from placement.render._draw import build_plotter, plotter_view
    from placement.render._shapes import local_origin

    s = small_scene()
    at = np.array([E0, N0, 0.0])

    def big(p: np.ndarray) -> np.ndarray:
        return (p - at) * np.array([100.0, 100.0, 1.0]) + at

    s = replace(
        s,
        occ_vertices=big(s.occ_vertices),
        road_vertices=big(s.road_vertices),
        demand_xyz=big(s.demand_xyz),
        cam_origin=big(s.cam_origin),
        cam_existing=np.zeros(2, bool),
    )
    window = (800, 500)
    pl = build_plotter(s, off_screen=True, window_size=window)
    try:
        view = plotter_view(pl, window)
        img = np.asarray(pl.screenshot(return_img=True))[:, :, :3].astype(int)
    finally:
        pl.close()
    px, _ = view.to_display(s.cam_origin - local_origin(s))
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    blue = (b > r + 60) & (b > g + 25)
    for x, y in px:
        row = window[1] - 1 - round(float(y))  # display y runs up, image rows down
        col = round(float(x))
        near = blue[max(row - 10, 0) : row + 11, max(col - 10, 0) : col + 11]
        assert near.sum() >= 12, (x, y, near.sum())


def test_markers_keep_a_pixel_size_not_a_share_of_the_city() -> None:
    # Over 5 km (the 3 x 3 Osaka block) a floor of 1/200 of the diagonal drew 25 m spheres
    # where cameras detect to 30 m. The floor is now a few pixels of the picture.
    from placement.render._shapes import MARKER_MIN_PX, extent, marker_radius

    s = small_scene()
    at = np.array([E0, N0, 0.0])
    s = replace(s, demand_xyz=(s.demand_xyz - at) * np.array([60.0, 60.0, 1.0]) + at)
    e = extent(s)
    assert 3000 < e < 8000
    r = marker_radius(s)
    assert r == pytest.approx(MARKER_MIN_PX * e / np.hypot(1600, 1000))
    assert r < e / 350
    assert marker_radius(s, (800, 500)) == pytest.approx(2 * r)
    assert marker_radius(small_scene()) <= 5.0  # a tile's markers are still at most 5 m


# ---------------------------------------------------------------------------------- shapes


def test_weld_and_crease_edges_of_a_box() -> None:
    v, f = box(0, 0, 10, 20, 12.0)
    # CityGML style: every triangle has its own corners.
    loose_v = v[f].reshape(-1, 3) + np.random.default_rng(0).uniform(-1e-5, 1e-5, (30, 3))
    loose_f = np.arange(30).reshape(10, 3)
    wv, wf = weld(loose_v, loose_f)
    assert wv.shape == (8, 3) and wf.shape == (10, 3)
    np.testing.assert_allclose(wv[wf], loose_v[loose_f], atol=1e-4)
    edges = crease_edges(wv, wf)
    # 4 vertical corners, 4 roof rim edges, 4 open bottom edges; no diagonal of a flat quad.
    assert edges.shape == (12, 2)
    z = np.round(wv[edges][:, :, 2], 3)
    assert int(np.sum((z[:, 0] == 0) & (z[:, 1] == 0))) == 4
    assert int(np.sum((z[:, 0] == 12) & (z[:, 1] == 12))) == 4
    assert int(np.sum(z[:, 0] != z[:, 1])) == 4
    lengths = np.linalg.norm(np.diff(wv[edges], axis=1)[:, 0], axis=1)
    assert sorted(np.round(lengths, 3)) == [10.0] * 4 + [12.0] * 4 + [20.0] * 4


@pytest.mark.parametrize("shape", [unit_sphere, unit_box])
def test_marker_shapes_are_closed_and_outward(shape: object) -> None:
    v, f = shape()  # type: ignore[operator]
    edges = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, count = np.unique(edges, axis=0, return_counts=True)
    assert np.all(count == 2)  # watertight
    t = v[f]
    volume = np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0
    assert volume > 0  # outward winding
    assert volume == pytest.approx(8.0 if shape is unit_box else 4.19, rel=0.25)


# ---------------------------------------------------------------------------------- HTML page


class _Page(HTMLParser):
    """Collects every attribute, the legend items, the JSON block and the scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.legend: list[dict[str, str]] = []
        self.scripts: list[dict[str, str]] = []
        self._script: dict[str, str] | None = None
        self._li: dict[str, str] | None = None
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = {k: v or "" for k, v in attrs}
        self.attrs += [(tag, k, v) for k, v in a.items()]
        if tag == "script":
            self._script = {**a, "text": ""}
        elif tag == "li":
            self._li = {**a, "text": ""}

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None
        elif tag == "li" and self._li is not None:
            self.legend.append(self._li)
            self._li = None

    def handle_data(self, data: str) -> None:
        for part in (self._script, self._li):
            if part is not None:
                part["text"] += data


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    p.close()
    return p


def _layers(parsed: _Page) -> dict[str, dict[str, object]]:
    (block,) = [s for s in parsed.scripts if s.get("type") == "application/json"]
    return {layer["name"]: layer for layer in json.loads(block["text"])["layers"]}


def _decode(layer: dict[str, object], key: str) -> np.ndarray:
    raw = base64.b64decode(str(layer[key]))
    if key == "positions":
        return np.frombuffer(raw, "<f4").reshape(-1, 3)
    if key == "colors":
        return np.frombuffer(raw, np.uint8).reshape(-1, 3)
    if layer.get("quads"):
        n = int(str(layer["count"])) // 2
        return (4 * np.arange(n)[:, None, None] + np.array([[0, 1, 2], [0, 2, 3]])).reshape(-1, 3)
    dtype = "<u2" if layer["index_bytes"] == 2 else "<u4"
    return np.frombuffer(raw, dtype).reshape(-1, 3 if layer["mode"] == "triangles" else 2)


def test_html_is_self_contained(tmp_path: Path) -> None:
    path = tmp_path / "scene.html"
    render.export_html(small_scene(), path)
    text = path.read_text(encoding="utf-8")
    parsed = _parse(text)
    assert parsed.tags[:1] == ["html"] and "canvas" in parsed.tags
    # Nothing is fetched: no address at all in any attribute, no URL anywhere in the text.
    assert not [a for a in parsed.attrs if a[1] in ("src", "href", "data")]
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE)
    assert not re.search(r"@import|url\(", text)
    inline = [s for s in parsed.scripts if "type" not in s]
    assert len(inline) == 1 and 'getContext("webgl"' in inline[0]["text"]
    assert "test scene" in text and "EPSG:6674" in text  # title and subtitle overlay
    assert path.stat().st_size < 200_000  # no bundled library, a tiny scene


def test_html_arrays_match_the_scene() -> None:
    s = small_scene()
    layers = _layers(_parse(render._html.page(s)))
    shift = np.array([E0, N0, 0.0])  # the smallest x and y: the road's corner
    # Buildings: every wall and roof triangle, welded to the box's 8 corners.
    b = layers["buildings"]
    tri = _decode(b, "indices")
    assert b["count"] == tri.shape[0] == 10 and b["index_bytes"] == 2
    pos = _decode(b, "positions")
    np.testing.assert_allclose(np.sort(pos, axis=0), np.sort(s.occ_vertices - shift, axis=0))
    rgb = _decode(b, "colors")
    roof = hex_rgb(("#a9a49b",))[0]
    assert (rgb == roof).all(axis=1).sum() == 2  # the two roof triangles are darker
    assert layers["edges"]["count"] == 12
    # Carpet: two triangles per demand point, coloured by its level.
    c = layers["coverage"]
    rgb = _decode(c, "colors")
    n = s.demand_xyz.shape[0]
    assert rgb.shape == (2 * n, 3)
    level = np.argmax(np.all(rgb[::2, None, :] == hex_rgb(LEVEL_COLORS)[None], axis=2), axis=1)
    np.testing.assert_array_equal(level, s.demand_level)
    # 864 points (30 x 30 minus the building's 6 x 6): 15, 7 and 8 columns by level.
    np.testing.assert_array_equal(np.bincount(level, minlength=5), [432, 0, 192, 0, 240])
    corners = _decode(c, "positions").reshape(n, 4, 3)
    np.testing.assert_allclose(corners[:, :, :2].mean(axis=1), s.demand_xyz[:, :2] - shift[:2])
    assert np.allclose(corners[:, :, 2], 0.05)  # just above the road
    tri = _decode(c, "indices")  # rebuilt by the page: corners 0 1 2 and 0 2 3 of each cell
    assert tri.shape == (2 * n, 3) and tri.max() == 4 * n - 1
    # Cameras: a sphere (new) and a cube (kept) each with a pole; one volume per camera kind.
    sphere = 12 + 12 + 2 * 12 * 5  # two polar caps, five bands of 12 segments
    assert layers["cameras"]["count"] == sphere + 12 + 2 * 12  # + cube + two posts
    assert layers["new camera volumes"]["count"] == 32
    assert layers["existing camera volumes"]["alpha"] < 0.5


def test_bridges_and_walls_are_layers_of_their_own() -> None:
    s = small_scene()
    kind = s.occ_kind.copy()
    kind[8:] = SurfaceKind.BRIDGE  # the "roof" becomes a deck
    layers = _layers(_parse(render._html.page(replace(s, occ_kind=kind))))
    assert layers["buildings"]["count"] == 8 and layers["bridges"]["count"] == 2
    assert (_decode(layers["bridges"], "colors") == hex_rgb((BRIDGE_COLOR,))[0]).all()
    kind[8:] = SurfaceKind.CONSTRUCTION  # ... or a wall
    layers = _layers(_parse(render._html.page(replace(s, occ_kind=kind))))
    assert "bridges" not in layers and layers["walls and barriers"]["count"] == 2


def test_html_legend_shares_equal_level_fractions() -> None:
    # Shares of the weight (as the title and subtitle count), not of the points.
    base = small_scene()
    w = np.where(base.demand_level == 4, 3.0, 1.0)
    s = replace(base, demand_weight=w)
    parsed = _parse(render._html.page(s))
    items = {int(li["data-level"]): li for li in parsed.legend if "data-level" in li}
    fractions = np.bincount(s.demand_level, weights=w, minlength=5) / w.sum()
    assert not np.allclose(fractions, np.bincount(s.demand_level, minlength=5) / w.size)
    assert sorted(items) == [0, 2, 4]  # levels nobody reached are not listed
    for lv, li in items.items():
        assert float(li["data-share"]) == pytest.approx(fractions[lv], abs=1e-6)
        assert f"({round(100 * fractions[lv])} %)" in li["text"]
    names = [li["text"] for li in parsed.legend]
    assert names[0] == "buildings" and names[-2:] == ["new camera", "existing camera"]


def _big_scene(n_boxes: int = 10_000, n_cells: int = 50_000) -> Scene:
    """A 1 km tile: 10 000 boxes of 10 triangles (100 k), 50 000 road cells, 40 cameras."""
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, 990, n_boxes)
    y0 = rng.uniform(0, 990, n_boxes)
    h = rng.uniform(5, 40, n_boxes)
    v1, f1 = box(0, 0, 8, 8, 1.0)
    v = np.repeat(v1[None], n_boxes, axis=0)
    v[:, :, 0] += x0[:, None] + E0
    v[:, :, 1] += y0[:, None] + N0
    v[:, :, 2] *= h[:, None]
    f = (f1[None] + 8 * np.arange(n_boxes)[:, None, None]).reshape(-1, 3)
    kind = np.tile(np.array([SurfaceKind.WALL] * 8 + [SurfaceKind.ROOF] * 2, np.int8), n_boxes)
    xy = rng.uniform(0, 1000, (n_cells, 2))
    k = 40
    return replace(
        small_scene(),
        occ_vertices=v.reshape(-1, 3),
        occ_faces=f.astype(np.int32),
        occ_kind=kind,
        demand_xyz=np.column_stack([xy[:, 0] + E0, xy[:, 1] + N0, np.full(n_cells, 1.5)]),
        demand_ground_z=np.zeros(n_cells),
        demand_level=rng.integers(0, 5, n_cells).astype(np.int8),
        demand_weight=np.ones(n_cells),
        cam_origin=np.column_stack(
            [rng.uniform(0, 1000, k) + E0, rng.uniform(0, 1000, k) + N0, np.full(k, 6.0)]
        ),
        cam_ground_z=np.zeros(k),
        cam_heading_deg=rng.uniform(0, 360, k),
        cam_tilt_deg=np.full(k, 20.0),
        cam_existing=np.arange(k) % 4 == 0,
        cam_ids=tuple(f"cam-{i:03d}" for i in range(k)),
    )


def test_html_size_of_a_large_tile(tmp_path: Path) -> None:
    s = _big_scene()
    path = tmp_path / "scene.html"
    render.export_html(s, path)
    size = path.stat().st_size
    assert size < 15e6
    layers = _layers(_parse(path.read_text(encoding="utf-8")))
    assert layers["buildings"]["count"] == 100_000
    assert layers["coverage"]["count"] == 100_000
    assert _decode(layers["buildings"], "positions").shape == (80_000, 3)  # welded corners
    assert layers["buildings"]["index_bytes"] == 4 and layers["coverage"]["quads"]
    assert layers["edges"]["count"] == 12 * 10_000


def test_page_data_uses_a_local_frame() -> None:
    data = page_data(_big_scene(n_boxes=50, n_cells=100))
    assert data["origin"][:2] == pytest.approx([E0, N0], abs=2.0)
    for layer in data["layers"]:
        lo, hi = np.array(layer["bounds"][:3]), np.array(layer["bounds"][3:])
        # Markers and road cells overhang the points by a few metres, view volumes by their range.
        reach = 40.0 if "volumes" in layer["name"] else 5.0
        assert lo[:2].min() >= -reach and hi[:2].max() <= 1000.0 + reach
    view = data["view"]
    assert view is not None and len(view["across"]) == 8
    assert view["eye_direction"][0] > 0 > view["eye_direction"][1]  # from the south-east


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _open_in_chromium(page: Path, *extra: str) -> str:
    """Open ``page`` in headless Chromium (800 x 500, 3 s of virtual time); its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                str(_chromium()),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--use-gl=swiftshader",
                "--enable-unsafe-swiftshader",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=800,500",
                "--virtual-time-budget=3000",
                *extra,
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=90,
        )
    return done.stdout


@pytest.mark.skipif(_chromium() is None, reason="no chromium to look at the page with")
def test_html_screenshot_shows_unseen_red_and_seen_green(tmp_path: Path) -> None:
    from PIL import Image

    page = tmp_path / "scene.html"
    render.export_html(small_scene(), page)
    shot = tmp_path / "shot.png"
    _open_in_chromium(page, f"--screenshot={shot}")
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape == (500, 800, 3)
    red, green = _masks(img[:, :600])  # left of the legend
    assert red.sum() > 2000 and green.sum() > 2000
    cols = np.arange(600)[None, :]
    assert (cols * red).sum() / red.sum() + 50 < (cols * green).sum() / green.sum()
    grey = (np.ptp(img.astype(int), axis=2) < 8) & (img[..., 0] < 190) & (img[..., 0] > 60)
    assert grey.sum() > 1500  # the shaded building


@pytest.mark.skipif(_chromium() is None, reason="no chromium to look at the page with")
def test_html_north_arrow_and_scale_bar_follow_the_view(tmp_path: Path) -> None:
    page = tmp_path / "scene.html"
    scene = small_scene()
    render.export_html(scene, page)
    dom = _open_in_chromium(page, "--dump-dom")
    north = re.search(r'<text id="north"[^>]*data-dx="([-\d.]+)" data-dy="([-\d.]+)"', dom)
    bar = re.search(r'<text id="scale-text"[^>]*data-metres="(\d+)" data-px="([\d.]+)"', dom)
    assert north is not None and bar is not None, "the page drew no compass"
    # The page opens looking from the south-east, 40 degrees up: grid north (+y) lies on
    # the screen between "right" and "up", the way the view's own axes say.
    e = np.array(page_data(scene)["view"]["eye_direction"])
    right = np.cross(-e, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, -e)
    want = np.array([right[1], -up[1]])  # screen y grows downwards
    want /= np.linalg.norm(want)
    got = np.array([float(north.group(1)), float(north.group(2))])
    assert got @ want > np.cos(np.radians(3))
    assert got[0] > 0.5 and got[1] < -0.3  # up and to the right
    # The bar is a round length drawn 60-180 px long; the demand area (40 m across, 800 px
    # wide window) makes it 10 or 20 m.
    metres, px = int(bar.group(1)), float(bar.group(2))
    assert metres in (10, 20) and 60 <= px <= 180
    assert f"{metres} m (at the centre)" in dom


def test_html_of_a_scene_without_streets_or_cameras() -> None:
    s = small_scene()
    none = np.zeros(0)
    s = replace(
        s,
        title="</script><b>odd & title</b>",
        demand_xyz=np.zeros((0, 3)),
        demand_ground_z=none,
        demand_level=np.zeros(0, np.int8),
        demand_weight=none,
        cam_origin=np.zeros((0, 3)),
        cam_ground_z=none,
        cam_heading_deg=none,
        cam_tilt_deg=none,
        cam_existing=np.zeros(0, bool),
        cam_ids=(),
    )
    text = render._html.page(s)
    parsed = _parse(text)
    assert "&lt;/script&gt;&lt;b&gt;odd &amp; title&lt;/b&gt;" in text
    assert len(parsed.scripts) == 2  # the title did not end a script or open a tag
    assert sorted(_layers(parsed)) == ["buildings", "edges", "roads"]
    assert [li["text"] for li in parsed.legend] == ["buildings"]
    data = page_data(s)
    assert data["labels"] == [] and data["view"] is not None  # framed on the buildings
    empty = replace(
        s,
        occ_vertices=np.zeros((0, 3)),
        occ_faces=np.zeros((0, 3), np.int32),
        occ_kind=np.zeros(0, np.int8),
        road_vertices=np.zeros((0, 3)),
        road_faces=np.zeros((0, 3), np.int32),
    )
    data = page_data(empty)
    assert data["layers"] == [] and data["view"] is None and data["radius"] == 100.0


def test_the_window_shows_axes_that_turn_with_the_view(offscreen: None) -> None:
    from placement.render._draw import add_orientation, build_plotter

    pl = build_plotter(small_scene(), off_screen=True, window_size=(400, 300))
    add_orientation(pl)
    axes = pl.renderer.axes_actor
    assert (
        axes.GetXAxisLabelText(),
        axes.GetYAxisLabelText(),
        axes.GetZAxisLabelText(),
    ) == ("E", "N", "up")
    assert pl.renderer.axes_widget.GetEnabled()
    pl.close()


def test_html_subtitle_never_wraps_between_a_number_and_its_unit() -> None:
    from placement.render._html import page

    text = page(small_scene())
    head = text[text.index('<div id="head">') :]
    head = head[: head.index("</div>")]
    assert "detection to 40&nbsp;m" in head and "90&nbsp;deg" in head
    assert re.search(r"\d (m|deg|%)\b", head.replace("&nbsp;", "\u00a0")) is None
