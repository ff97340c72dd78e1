"""Drawing a :class:`Scene` with PyVista: PNG, HTML page and window."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from placement.model import FloatArray, IntArray, SurfaceKind
from placement.render._gl import use_offscreen_backend
from placement.render._scene import Scene

if TYPE_CHECKING:
    import pyvista as pv


log = logging.getLogger(__name__)

#: Colour of each coverage level 0..4 (unseen, detection, observation, recognition,
#: identification): red for blind streets, orange for detection only, greens above.
LEVEL_COLORS: tuple[str, ...] = ("#d7191c", "#fdae61", "#b5dc6d", "#4dac26", "#136b2f")
LEVEL_LABELS: tuple[str, ...] = (
    "not seen",
    "detection",
    "observation",
    "recognition",
    "identification",
)
NEW_CAMERA_COLOR = "#1f5fbf"
EXISTING_CAMERA_COLOR = "#7b2d8e"
WALL_COLOR = "#cfcfcc"
ROOF_COLOR = "#a9a49b"
EDGE_COLOR = "#55595e"
VEGETATION_COLOR = "#8aa874"
FURNITURE_COLOR = "#707070"
TERRAIN_COLOR = "#ebe7dc"
ROAD_COLOR = "#6b6b6b"
BACKGROUND_TOP = "#f7f9fc"
BACKGROUND_BOTTOM = "#d9e2ec"

_LABELLED_CAMERAS_MAX = 40  # more labels than this hide the picture
_EDGES_MAX_TRIANGLES = 600_000  # feature-edge extraction time grows with the mesh


def camera_directions(
    heading_deg: FloatArray, tilt_deg: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Forward, right and up unit vectors of cameras.

    Parameters
    ----------
    heading_deg : (K,) clockwise from grid north (+y).
    tilt_deg : (K,) downwards from the horizon.

    Returns
    -------
    forward, right, up : three (K, 3) arrays.
    """
    h = np.radians(np.asarray(heading_deg, np.float64))
    t = np.radians(np.asarray(tilt_deg, np.float64))
    forward = np.column_stack([np.sin(h) * np.cos(t), np.cos(h) * np.cos(t), -np.sin(t)])
    right = np.column_stack([np.cos(h), -np.sin(h), np.zeros_like(h)])
    up = np.cross(right, forward)
    return forward, right, up


def frustum_rays(
    heading_deg: FloatArray,
    tilt_deg: FloatArray,
    *,
    hfov_deg: float,
    vfov_deg: float,
    per_side: int = 8,
) -> FloatArray:
    """Unit directions around the border of each camera's field of view.

    A rectilinear (pinhole) camera's border is a rectangle in its image plane; a panoramic
    one (hfov >= 180) is swept in angles. Returns (K, 4 * per_side, 3), in order around the
    border (top edge left to right, right edge, bottom edge, left edge).
    """
    forward, right, up = camera_directions(heading_deg, tilt_deg)
    s = np.linspace(-1.0, 1.0, per_side, endpoint=False)
    # (u, v) in [-1, 1]^2 around the border, clockwise as seen from behind the camera.
    u = np.concatenate([s, np.ones(per_side), -s, -np.ones(per_side)])
    v = np.concatenate([np.ones(per_side), -s, -np.ones(per_side), s])
    if hfov_deg < 180.0:
        tu = math.tan(math.radians(hfov_deg) / 2.0)
        tv = math.tan(math.radians(vfov_deg) / 2.0)
        d = (
            forward[:, None, :]
            + (u * tu)[None, :, None] * right[:, None, :]
            + (v * tv)[None, :, None] * up[:, None, :]
        )
        return np.asarray(d / np.linalg.norm(d, axis=2, keepdims=True), np.float64)
    # Panoramic: yaw around the vertical, pitch from the tilt.
    yaw = (
        np.radians(np.asarray(heading_deg, np.float64))[:, None]
        + np.radians(u * hfov_deg / 2.0)[None, :]
    )
    pitch = (
        -np.radians(np.asarray(tilt_deg, np.float64))[:, None]
        + np.radians(v * vfov_deg / 2.0)[None, :]
    )
    return np.stack(
        [np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch)], axis=2
    )


def frustum_surfaces(
    origin: FloatArray,
    ground_z: FloatArray,
    heading_deg: FloatArray,
    tilt_deg: FloatArray,
    *,
    hfov_deg: float,
    vfov_deg: float,
    range_m: float,
    per_side: int = 8,
) -> tuple[FloatArray, IntArray]:
    """Triangles of each camera's view volume, cut off at its range and at its ground.

    Parameters
    ----------
    origin : (K, 3) lens positions, metres.
    ground_z : (K,) ground height at each camera: rays stop where they reach it.
    heading_deg, tilt_deg : (K,) camera orientation.
    hfov_deg, vfov_deg, range_m : fields of view (degrees) and range (metres).

    Returns
    -------
    vertices : (K * (1 + B), 3) apex then B border ends per camera.
    faces : (K * B, 3) the side fan apex -> border[i] -> border[i + 1].
    """
    k = origin.shape[0]
    rays = frustum_rays(
        heading_deg, tilt_deg, hfov_deg=hfov_deg, vfov_deg=vfov_deg, per_side=per_side
    )
    b = rays.shape[1]
    drop = (origin[:, 2] - ground_z)[:, None]  # metres above ground, >= 0 normally
    down = -rays[:, :, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        to_ground = np.where(down > 1e-9, np.maximum(drop, 0.0) / down, np.inf)
    length = np.minimum(range_m, to_ground)
    ends = origin[:, None, :] + rays * length[:, :, None]
    vertices = np.concatenate([origin[:, None, :], ends], axis=1).reshape(-1, 3)
    base = (np.arange(k) * (b + 1))[:, None]
    i = np.arange(b)[None, :]
    faces = np.stack(
        [np.broadcast_to(base, (k, b)), base + 1 + i, base + 1 + (i + 1) % b], axis=2
    ).reshape(-1, 3)
    return vertices, faces.astype(np.int32)


def _polydata(vertices: FloatArray, faces: npt.NDArray[np.integer[Any]]) -> pv.PolyData:
    import pyvista as pv

    cells = np.column_stack([np.full(faces.shape[0], 3, np.int64), faces.astype(np.int64)])
    return pv.PolyData(np.asarray(vertices, np.float64), cells.ravel())


def _cells(xyz: FloatArray, size_m: float, z: FloatArray) -> pv.PolyData:
    """One flat square of side ``size_m`` centred on each point, at height ``z``."""
    n = xyz.shape[0]
    h = size_m / 2.0
    corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    v = np.empty((n, 4, 3))
    v[:, :, :2] = xyz[:, None, :2] + corners[None, :, :]
    v[:, :, 2] = z[:, None]
    quads = np.column_stack([np.full(n, 4, np.int64), np.arange(4 * n).reshape(n, 4)])
    import pyvista as pv

    return pv.PolyData(v.reshape(-1, 3), quads.ravel())


def _rgb(hex_colors: tuple[str, ...]) -> npt.NDArray[np.uint8]:
    return np.array(
        [[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in hex_colors], dtype=np.uint8
    )


def build_plotter(
    scene: Scene,
    *,
    off_screen: bool,
    window_size: tuple[int, int] = (1600, 1000),
) -> pv.Plotter:
    """A PyVista plotter showing the scene, framed obliquely from the south-east.

    Buildings are grey (roofs darker), vegetation green, the road surface is covered by one
    square per demand point coloured by the best DORI level reached there (red = not seen),
    and each chosen camera is a marker on a pole with its translucent view volume.
    Coordinates are shifted to a local origin first: VTK draws in float32, which jitters at
    6-digit eastings.
    """
    if off_screen:
        use_offscreen_backend()
    import pyvista as pv

    shift = _local_origin(scene)
    # Any: PyVista's decorated methods (set_background, add_legend) confuse mypy.
    pl: Any = pv.Plotter(off_screen=off_screen, window_size=list(window_size))
    pl.set_background(BACKGROUND_BOTTOM, top=BACKGROUND_TOP)

    legend: list[tuple[str, str]] = []
    kind = scene.occ_kind
    groups = [
        (
            "buildings",
            (SurfaceKind.WALL, SurfaceKind.GROUND, SurfaceKind.BUILDING_OTHER),
            WALL_COLOR,
        ),
        ("roofs", (SurfaceKind.ROOF,), ROOF_COLOR),
        ("vegetation", (SurfaceKind.VEGETATION,), VEGETATION_COLOR),
        ("street furniture", (SurfaceKind.FURNITURE,), FURNITURE_COLOR),
        ("terrain", (SurfaceKind.TERRAIN,), TERRAIN_COLOR),
    ]
    occ_v = scene.occ_vertices - shift
    built: list[IntArray] = []
    for label, kinds, color in groups:
        mask = np.isin(kind, np.array(kinds, np.int8))
        if not mask.any():
            continue
        mesh = _polydata(occ_v, scene.occ_faces[mask])
        pl.add_mesh(
            mesh, color=color, smooth_shading=False, ambient=0.35, diffuse=0.7, specular=0.0
        )
        if label in ("buildings", "roofs"):
            built.append(scene.occ_faces[mask])
        if label in ("buildings", "vegetation"):
            legend.append((label, color))

    n_built = sum(f.shape[0] for f in built)
    if 0 < n_built <= _EDGES_MAX_TRIANGLES:
        # Crease lines give the buildings crisp outlines; triangle edges would be noise.
        edges = _polydata(occ_v, np.concatenate(built)).extract_feature_edges(
            feature_angle=35.0, boundary_edges=False, non_manifold_edges=False, manifold_edges=False
        )
        if edges.n_points:
            pl.add_mesh(edges, color=EDGE_COLOR, line_width=1.0, lighting=False)

    if scene.road_faces.shape[0]:
        pl.add_mesh(
            _polydata(scene.road_vertices - shift, scene.road_faces),
            color=ROAD_COLOR,
            ambient=0.4,
            diffuse=0.6,
        )

    n = scene.demand_xyz.shape[0]
    if n:
        level = np.clip(scene.demand_level.astype(np.int64), 0, 4)
        lift = max(0.05, 0.01 * scene.spacing_m)  # above the road so the two do not flicker
        cells = _cells(
            scene.demand_xyz - shift,
            0.92 * scene.spacing_m,
            scene.demand_ground_z - shift[2] + lift,
        )
        cells.cell_data["rgb"] = _rgb(LEVEL_COLORS)[level]
        pl.add_mesh(cells, scalars="rgb", rgb=True, ambient=0.55, diffuse=0.45, specular=0.0)
        present = np.bincount(level, minlength=5) > 0
        legend += [
            (f"{LEVEL_LABELS[i]} ({_percent(float(np.mean(level == i)))})", LEVEL_COLORS[i])
            for i in range(5)
            if present[i]
        ]

    k = scene.n_cameras
    if k:
        _add_cameras(pl, scene, shift)
        if (~scene.cam_existing).any():
            legend.append(("new camera", NEW_CAMERA_COLOR))
        if scene.cam_existing.any():
            legend.append(("existing camera", EXISTING_CAMERA_COLOR))

    if legend:
        pl.add_actor(_legend_actor(legend))
    title = scene.title or "camera placement"
    w, h = window_size
    scale = min(w / 1600.0, h / 1000.0)  # fonts are in points: keep them in proportion
    pl.add_text(
        title,
        position=(int(18 * scale), int(h - 46 * scale)),
        font_size=max(7, round(15 * scale)),
        color="#1d2733",
    )
    pl.add_text(
        _subtitle(scene),
        position=(int(20 * scale), int(h - 74 * scale)),
        font_size=max(5, round(9 * scale)),
        color="#3a4654",
    )
    _frame(pl, scene, shift, window_size[0] / window_size[1])
    _lights(pl)
    pl.enable_anti_aliasing("ssaa")
    plotter: pv.Plotter = pl
    return plotter


def _legend_actor(entries: list[tuple[str, str]]) -> Any:
    """A legend box with coloured swatches and dark, readable text in the upper right.

    PyVista's own legend writes each label in its swatch colour, which is unreadable for
    light greys and yellows: here the swatch carries its colour as cell scalars and the
    text is dark.
    """
    import pyvista as pv
    from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor

    legend = vtkLegendBoxActor()
    legend.SetNumberOfEntries(len(entries))
    rgb = _rgb(tuple(color for _, color in entries))
    for i, (text, _) in enumerate(entries):
        swatch = pv.PolyData(
            np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
            np.array([4, 0, 1, 2, 3]),
        )
        cell_data: Any = swatch.cell_data  # its stubs accept float arrays only
        cell_data.set_scalars(rgb[i : i + 1], "rgb")
        legend.SetEntry(i, swatch, text, [0.11, 0.15, 0.2])
    legend.ScalarVisibilityOn()
    legend.UseBackgroundOn()
    legend.SetBackgroundColor(1.0, 1.0, 1.0)
    legend.SetBackgroundOpacity(0.88)
    legend.BorderOff()
    legend.SetPadding(6)
    height = min(0.03 * len(entries) + 0.02, 0.6)
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(0.83, 0.97 - height)
    legend.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPosition2Coordinate().SetValue(0.16, height)
    return legend


def _percent(fraction: float) -> str:
    if 0.0 < fraction < 0.005:
        return "<1 %"
    return f"{100.0 * fraction:.0f} %"


def _subtitle(scene: Scene) -> str:
    k = scene.n_cameras
    existing = int(scene.cam_existing.sum())
    parts = [f"{k} cameras ({existing} existing)"]
    if scene.demand_weight.size:
        seen = scene.demand_level > 0
        w = scene.demand_weight
        total = float(w.sum())
        frac = float(w[seen].sum()) / total if total > 0 else 0.0
        parts.append(f"{100.0 * frac:.1f} % of street demand seen")
    parts.append(
        f"hfov {scene.hfov_deg:g} deg, vfov {scene.vfov_deg:g} deg, range {scene.range_m:g} m"
    )
    parts.append(scene.crs)
    return "  \u00b7  ".join(parts)


def _lights(pl: Any) -> None:
    """A high sun from the south-west plus a soft fill from the viewer.

    VTK's default light kit follows the viewer, which lights roofs and the walls facing the
    viewer alike; a fixed sun gives walls of different orientation different shades.
    """
    import pyvista as pv

    pl.remove_all_lights()
    sun_az, sun_el = math.radians(215.0), math.radians(55.0)
    sun = pv.Light(
        position=(
            math.sin(sun_az) * math.cos(sun_el),
            math.cos(sun_az) * math.cos(sun_el),
            math.sin(sun_el),
        ),
        focal_point=(0.0, 0.0, 0.0),
        intensity=0.75,
        light_type="scene light",
    )
    sun.positional = False
    pl.add_light(sun)
    pl.add_light(pv.Light(light_type="headlight", intensity=0.45))


def _local_origin(scene: Scene) -> FloatArray:
    parts = [
        a
        for a in (scene.demand_xyz, scene.occ_vertices, scene.road_vertices, scene.cam_origin)
        if a.shape[0]
    ]
    if not parts:
        return np.zeros(3)
    lo = np.min([p.min(axis=0) for p in parts], axis=0)
    return np.array([lo[0], lo[1], 0.0])


def _add_cameras(pl: pv.Plotter, scene: Scene, shift: FloatArray) -> None:
    import pyvista as pv

    origin = scene.cam_origin - shift
    ground = scene.cam_ground_z - shift[2]
    extent = _extent(scene)
    marker_r = float(np.clip(extent / 130.0, 0.6, 5.0))
    for existing, color in ((False, NEW_CAMERA_COLOR), (True, EXISTING_CAMERA_COLOR)):
        sel = scene.cam_existing == existing
        if not sel.any():
            continue
        o = origin[sel]
        g = ground[sel]
        pts = pv.PolyData(o)
        glyph = (
            pv.Cube(x_length=1.0, y_length=1.0, z_length=1.0) if existing else pv.Sphere(radius=0.5)
        )
        pl.add_mesh(
            pts.glyph(geom=glyph, scale=False, factor=2.0 * marker_r, orient=False), color=color
        )
        # Poles: one line segment from the ground to the lens per camera.
        m = o.shape[0]
        pole_v = np.concatenate([o, np.column_stack([o[:, :2], g])])
        lines = np.column_stack([np.full(m, 2), np.arange(m), np.arange(m) + m]).ravel()
        pl.add_mesh(pv.PolyData(pole_v, lines=lines), color="#404040", line_width=3)
        fv, ff = frustum_surfaces(
            o,
            g,
            scene.cam_heading_deg[sel],
            scene.cam_tilt_deg[sel],
            hfov_deg=scene.hfov_deg,
            vfov_deg=scene.vfov_deg,
            range_m=scene.range_m,
        )
        pl.add_mesh(_polydata(fv, ff), color=color, opacity=0.16, show_edges=False, lighting=False)
    if scene.n_cameras <= _LABELLED_CAMERAS_MAX:
        pl.add_point_labels(
            origin + np.array([0.0, 0.0, 2.2 * marker_r]),
            list(scene.cam_ids),
            font_size=11,
            text_color="#1d2733",
            shape_color="white",
            shape_opacity=0.75,
            show_points=False,
            always_visible=True,
        )


def _extent(scene: Scene) -> float:
    pts = scene.demand_xyz if scene.demand_xyz.shape[0] else scene.occ_vertices
    if not pts.shape[0]:
        return 100.0
    span = pts[:, :2].max(axis=0) - pts[:, :2].min(axis=0)
    return float(max(np.hypot(*span), 20.0))


def _frame(pl: Any, scene: Scene, shift: FloatArray, aspect: float) -> None:
    """Look at the demand area and the cameras from the south-east, 40 degrees up.

    The distance is the smallest at which every corner of the area's bounding box falls
    inside the view (with a margin, and room for the title), so the area fills the picture.
    """
    if scene.demand_xyz.shape[0]:
        pts = np.concatenate([scene.demand_xyz, scene.cam_origin]) - shift
    elif scene.occ_vertices.shape[0]:
        pts = scene.occ_vertices - shift
    else:
        return
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center = (lo + hi) / 2.0
    azimuth, elevation = math.radians(135.0), math.radians(40.0)
    view = np.array(
        [
            math.sin(azimuth) * math.cos(elevation),
            math.cos(azimuth) * math.cos(elevation),
            math.sin(elevation),
        ]
    )
    right = np.cross(view, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, view)
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    rel = corners - center
    view_angle = 30.0
    tan_v = math.tan(math.radians(view_angle) / 2.0) * 0.86  # room for title and legend
    tan_h = tan_v * aspect * 0.97
    toward = rel @ view  # how far each corner sits towards the viewer
    need = np.maximum(np.abs(rel @ right) / tan_h, np.abs(rel @ up) / tan_v) + toward
    distance = max(float(need.max()), 20.0)
    pl.camera_position = [tuple(center + distance * view), tuple(center), (0.0, 0.0, 1.0)]
    pl.camera.view_angle = view_angle
    pl.camera.clipping_range = (max(distance / 200.0, 0.5), distance * 4.0)


def render_png(scene: Scene, path: Path, *, window_size: tuple[int, int] = (1600, 1000)) -> None:
    """Draw the scene off screen and save it as a PNG."""
    pl = build_plotter(scene, off_screen=True, window_size=window_size)
    try:
        pl.screenshot(str(path))
    finally:
        pl.close()


def export_html(scene: Scene, path: Path) -> None:
    """Write the scene as a self-contained interactive HTML page (vtk.js inline, no network).

    Needs ``trame-pyvista`` / ``trame-vtk`` (the ``html`` extra). The 2D overlays (legend,
    title) are not part of the exported page.
    """
    pl = build_plotter(scene, off_screen=True)
    try:
        trame = getattr(pl, "trame", None)
        if trame is not None and hasattr(trame, "export_html"):
            trame.export_html(str(path))
        else:
            pl.export_html(str(path))
    finally:
        pl.close()


def show(scene: Scene, *, screenshot: Path | None = None) -> None:
    """Show the scene in an interactive window, or save an off-screen picture instead.

    Parameters
    ----------
    scene : what to draw.
    screenshot : when given, draw off screen into this PNG and open no window.
    """
    if screenshot is not None:
        render_png(scene, screenshot)
        return
    pl = build_plotter(scene, off_screen=False)
    pl.show()
