"""3D pictures: the scene file, frustum geometry, PNG colours and the HTML page."""

from __future__ import annotations

import re
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
    with pytest.raises(InputFileError, match="missing"):
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
    assert (s.hfov_deg, s.vfov_deg) == (100.0, 56.0)
    # View volumes are drawn to the detection distance (pixel density), here under the range.
    assert s.range_m == pytest.approx(1920 / (2 * np.tan(np.radians(50.0))) / 25.0)
    assert s.range_m < 50.0
    with pytest.raises(ValueError, match="3 demand points"):
        render.scene_from(
            _city(), demand, np.zeros(2, np.int8), options, np.zeros(0, np.int32), _Cam(), title=""
        )


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
    from dataclasses import replace

    from PIL import Image

    s = small_scene()
    s = replace(s, demand_level=np.full_like(s.demand_level, 4))
    path = tmp_path / "scene.png"
    render.show(s, screenshot=path)
    img = np.asarray(Image.open(path).convert("RGB"))
    red, green = _masks(img)
    assert green.sum() > 4000
    assert red.sum() < 0.02 * green.sum()  # only legend-free, anti-aliased stray pixels


@pytest.mark.render
def test_html_is_self_contained(offscreen: None, tmp_path: Path) -> None:
    pytest.importorskip("trame_vtk", reason="export_html needs the html extra (trame-vtk)")
    path = tmp_path / "scene.html"
    render.export_html(small_scene(), path)
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size > 200_000  # vtk.js and the scene are inline
    assert "<html" in text.lower()
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?:", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", text, re.IGNORECASE)
