"""Drawing a :class:`Scene` with PyVista (PNG and window), and the picture's colours and texts."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from placement.model import FloatArray, SurfaceKind
from placement.render._gl import use_offscreen_backend
from placement.render._scene import Scene
from placement.render._shapes import (
    PARTIAL,
    VIEW_ANGLE_DEG,
    View,
    cell_classes,
    compass,
    coverage_cells,
    framing,
    local_origin,
    marker_radius,
    scene_volumes,
    spread_labels,
)

if TYPE_CHECKING:
    import pyvista as pv


log = logging.getLogger(__name__)

#: Colour of each coverage level 0..4 (unseen, detection, observation, recognition,
#: identification): red for blind streets, orange for detection only, greens above.
LEVEL_COLORS: tuple[str, ...] = ("#d7191c", "#fdae61", "#b5dc6d", "#4dac26", "#136b2f")
#: Road cells seen by some chosen camera but fewer than k (k > 1): between red and orange.
PARTIAL_COLOR = "#f08a8c"
#: Colour of each road cell class (:func:`._shapes.coverage_cells`): the levels, then partial.
CELL_COLORS: tuple[str, ...] = (*LEVEL_COLORS, PARTIAL_COLOR)
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
BRIDGE_COLOR = "#b7b0a2"
CONSTRUCTION_COLOR = "#a89f91"
ROAD_COLOR = "#6b6b6b"
BACKGROUND_TOP = "#f7f9fc"
BACKGROUND_BOTTOM = "#d9e2ec"

LABELLED_CAMERAS_MAX = 40  # more labels than this hide the picture
#: Camera labels: font size (points = pixels in VTK), the box's margin, and its size in pixels
#: (measured: "cam-040" at 11 points is 52 x 17 with a margin of 3).
LABEL_FONT_SIZE = 11
LABEL_MARGIN_PX = 3
LABEL_CHAR_PX = 6.7
LABEL_HEIGHT_PX = 17.0
EDGES_MAX_TRIANGLES = 600_000  # feature-edge extraction time grows with the mesh

#: The sun: from the south-west, high; and a softer light from the viewer (headlight).
SUN_AZIMUTH_DEG = 215.0
SUN_ELEVATION_DEG = 55.0
SUN_INTENSITY = 0.75
HEADLIGHT_INTENSITY = 0.45

#: Occluder groups drawn apart: (label, surface kinds, colour).
OCCLUDER_GROUPS: tuple[tuple[str, tuple[SurfaceKind, ...], str], ...] = (
    ("buildings", (SurfaceKind.WALL, SurfaceKind.GROUND, SurfaceKind.BUILDING_OTHER), WALL_COLOR),
    ("roofs", (SurfaceKind.ROOF,), ROOF_COLOR),
    ("vegetation", (SurfaceKind.VEGETATION,), VEGETATION_COLOR),
    ("street furniture", (SurfaceKind.FURNITURE,), FURNITURE_COLOR),
    ("terrain", (SurfaceKind.TERRAIN,), TERRAIN_COLOR),
    ("bridges", (SurfaceKind.BRIDGE,), BRIDGE_COLOR),
    ("walls and barriers", (SurfaceKind.CONSTRUCTION,), CONSTRUCTION_COLOR),
)
_LEGEND_GROUPS = ("buildings", "vegetation", "terrain", "bridges", "walls and barriers")


class LegendEntry(NamedTuple):
    """One line of the legend: a label, its colour and, for a coverage level, its share."""

    label: str
    color: str
    share: float | None = None  # fraction of demand points at this level, 0..1
    level: int | None = None

    @property
    def text(self) -> str:
        return self.label if self.share is None else f"{self.label} ({_percent(self.share)})"


def _polydata(vertices: FloatArray, faces: npt.NDArray[np.integer[Any]]) -> pv.PolyData:
    import pyvista as pv

    cells = np.column_stack([np.full(faces.shape[0], 3, np.int64), faces.astype(np.int64)])
    return pv.PolyData(np.asarray(vertices, np.float64), cells.ravel())


def hex_rgb(hex_colors: tuple[str, ...]) -> npt.NDArray[np.uint8]:
    """(n, 3) uint8 RGB of ``#rrggbb`` colours."""
    return np.array(
        [[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in hex_colors], dtype=np.uint8
    ).reshape(-1, 3)


def occluder_mask(scene: Scene, kinds: tuple[SurfaceKind, ...]) -> npt.NDArray[np.bool_]:
    """(F,) which occluder triangles are of one of ``kinds``."""
    return np.isin(scene.occ_kind, np.array(kinds, np.int8))


def legend_entries(scene: Scene) -> list[LegendEntry]:
    """The legend of a picture: occluder groups present, coverage levels with shares, cameras."""
    legend = [
        LegendEntry(label, color)
        for label, kinds, color in OCCLUDER_GROUPS
        if label in _LEGEND_GROUPS and occluder_mask(scene, kinds).any()
    ]
    if scene.demand_xyz.shape[0]:
        level = cell_classes(scene)
        count = np.bincount(level, minlength=len(CELL_COLORS))
        # Shares of the street demand (weighted), as the title and subtitle count.
        weight = np.bincount(level, weights=scene.demand_weight, minlength=len(CELL_COLORS))
        total = float(weight.sum())
        share = weight / total if total > 0 else count / level.shape[0]
        labels = [*LEVEL_LABELS, ""]
        if scene.k > 1:
            few = "1" if scene.k == 2 else f"1-{scene.k - 1}"
            labels[PARTIAL] = f"seen by {few} of {scene.k}"
            labels[0] = "seen by none" if count[PARTIAL] else f"seen by fewer than {scene.k}"
        for i in range(1, min(scene.min_level, 5)):
            labels[i] = f"{labels[i]}, not counted"
        order = [0, PARTIAL, 1, 2, 3, 4]
        legend += [
            LegendEntry(labels[i], CELL_COLORS[i], float(share[i]), i)
            for i in order
            if count[i] > 0
        ]
    if scene.n_cameras and (~scene.cam_existing).any():
        legend.append(LegendEntry("new camera", NEW_CAMERA_COLOR))
    if scene.n_cameras and scene.cam_existing.any():
        legend.append(LegendEntry("existing camera", EXISTING_CAMERA_COLOR))
    return legend


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

    shift = local_origin(scene)
    # Any: PyVista's decorated methods (set_background, add_legend) confuse mypy.
    pl: Any = pv.Plotter(off_screen=off_screen, window_size=list(window_size))
    pl.set_background(BACKGROUND_BOTTOM, top=BACKGROUND_TOP)

    occ_v = scene.occ_vertices - shift
    built = []
    for label, kinds, color in OCCLUDER_GROUPS:
        mask = occluder_mask(scene, kinds)
        if not mask.any():
            continue
        mesh = _polydata(occ_v, scene.occ_faces[mask])
        pl.add_mesh(
            mesh, color=color, smooth_shading=False, ambient=0.35, diffuse=0.7, specular=0.0
        )
        if label in ("buildings", "roofs"):
            built.append(scene.occ_faces[mask])

    n_built = sum(f.shape[0] for f in built)
    if 0 < n_built <= EDGES_MAX_TRIANGLES:
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

    if scene.demand_xyz.shape[0]:
        cell_v, quads, level = coverage_cells(scene, shift)
        cells = pv.PolyData(
            cell_v,
            np.column_stack([np.full(quads.shape[0], 4, np.int64), quads]).ravel(),
        )
        cells.cell_data["rgb"] = hex_rgb(CELL_COLORS)[level]
        pl.add_mesh(cells, scalars="rgb", rgb=True, ambient=0.55, diffuse=0.45, specular=0.0)

    if scene.n_cameras:
        _add_cameras(pl, scene, shift, window_size)

    legend = [(e.text, e.color) for e in legend_entries(scene)]
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
    lines = subtitle_lines(scene)
    pl.add_text(
        "\n".join(lines),
        position=(int(20 * scale), int(h - (74 + 15 * (len(lines) - 1)) * scale)),
        font_size=max(5, round(9 * scale)),
        color="#3a4654",
    )
    _frame(pl, scene, shift, window_size[0] / window_size[1])
    _add_labels(pl, scene, shift, window_size)
    if off_screen:  # a fixed picture: a window's view turns, and these would not
        _add_compass(pl, scene, shift, window_size)
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
    rgb = hex_rgb(tuple(color for _, color in entries))
    for i, (text, _) in enumerate(entries):
        swatch = pv.PolyData(
            np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
            np.array([4, 0, 1, 2, 3]),
        )
        cell_data: Any = swatch.cell_data  # its stubs accept float arrays only
        cell_data.set_scalars(rgb[i : i + 1], "rgb")
        legend.SetEntry(i, swatch, " " + text, [0.11, 0.15, 0.2])  # a gap after the swatch
    legend.ScalarVisibilityOn()
    legend.UseBackgroundOn()
    legend.SetBackgroundColor(1.0, 1.0, 1.0)
    legend.SetBackgroundOpacity(0.88)
    legend.BorderOff()
    legend.SetPadding(6)
    height = min(0.03 * len(entries) + 0.02, 0.6)
    # VTK fits the text to the box: a box as wide as its longest line keeps one font size
    # ("detection, not counted (10 %)" used to shrink every line).
    longest = max(len(text) for text, _ in entries) + 1
    width = min(max(0.16, 0.0068 * longest + 0.04), 0.3)
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(0.99 - width, 0.97 - height)
    legend.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPosition2Coordinate().SetValue(width, height)
    return legend


def _percent(fraction: float) -> str:
    if 0.0 < fraction < 0.005:
        return "<1 %"
    return f"{100.0 * fraction:.0f} %"


def subtitle(scene: Scene) -> str:
    """The line under the title: cameras, share of demand seen, camera model, CRS."""
    k = scene.n_cameras
    existing = int(scene.cam_existing.sum())
    parts = [f"{k} cameras ({existing} existing)"]
    level = LEVEL_LABELS[scene.min_level]
    if scene.demand_weight.size:
        seen = scene.demand_level >= scene.min_level
        w = scene.demand_weight
        total = float(w.sum())
        frac = float(w[seen].sum()) / total if total > 0 else 0.0
        by = f" by {scene.k} cameras" if scene.k > 1 else ""
        at = f" at {level} or better" if scene.min_level > 1 else ""
        parts.append(f"{100.0 * frac:.1f} % of street demand seen{by}{at}")
    parts.append(
        f"hfov {scene.hfov_deg:g} deg, vfov {scene.vfov_deg:g} deg, "
        f"{level} to {scene.range_m:.0f} m"
    )
    parts.append(scene.crs)
    return _SEP.join(parts)


_SEP = "  \u00b7  "
#: Characters of the subtitle on one line of the PNG: longer ones reach under the legend.
SUBTITLE_LINE_CHARS = 115


def subtitle_lines(scene: Scene, max_chars: int = SUBTITLE_LINE_CHARS) -> list[str]:
    """:func:`subtitle` broken between its parts into lines of at most ``max_chars``."""
    lines: list[str] = []
    for part in subtitle(scene).split(_SEP):
        if lines and len(lines[-1]) + len(_SEP) + len(part) <= max_chars:
            lines[-1] += _SEP + part
        else:
            lines.append(part)
    return lines


def sun_direction() -> FloatArray:
    """(3,) unit vector towards the sun."""
    az, el = math.radians(SUN_AZIMUTH_DEG), math.radians(SUN_ELEVATION_DEG)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def _lights(pl: Any) -> None:
    """A high sun from the south-west plus a soft fill from the viewer.

    VTK's default light kit follows the viewer, which lights roofs and the walls facing the
    viewer alike; a fixed sun gives walls of different orientation different shades.
    """
    import pyvista as pv

    pl.remove_all_lights()
    sun = pv.Light(
        position=tuple(sun_direction()),
        focal_point=(0.0, 0.0, 0.0),
        intensity=SUN_INTENSITY,
        light_type="scene light",
    )
    sun.positional = False
    pl.add_light(sun)
    pl.add_light(pv.Light(light_type="headlight", intensity=HEADLIGHT_INTENSITY))


def _add_cameras(pl: pv.Plotter, scene: Scene, shift: FloatArray, window: tuple[int, int]) -> None:
    import pyvista as pv

    origin = scene.cam_origin - shift
    ground = scene.cam_ground_z - shift[2]
    marker_r = marker_radius(scene, window)
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
        fv, ff = scene_volumes(scene, shift, sel)
        pl.add_mesh(_polydata(fv, ff), color=color, opacity=0.16, show_edges=False, lighting=False)


def plotter_view(pl: Any, window: tuple[int, int]) -> View:
    """The plotter's current camera as a :class:`View` of a window of this size."""
    cam = pl.camera
    return View(
        np.array(cam.position, np.float64),
        np.array(cam.focal_point, np.float64),
        np.array(cam.up, np.float64),
        float(cam.view_angle),
        window,
    )


def label_anchors(
    top: FloatArray, ids: list[str], view: View, *, markers: FloatArray | None = None
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Where each camera's label goes so that no two overlap in this view.

    Parameters
    ----------
    top : (K, 3) points just above the camera markers (a label's lower left corner).
    ids : (K,) the labels' texts.
    view : the framed view.
    markers : (K, 3) the markers' centres; a label moves clear of every marker's box
        (its centre to ``top`` in height, as wide).

    Returns
    -------
    anchor : (K, 3) the labels' points in the scene: ``top``, or a point at the same depth
        whose projection is moved up by :func:`spread_labels`.
    far : indices of labels moved more than half their height (they get a leader line).
    """
    px, depth = view.to_display(top)
    sizes = np.array([[LABEL_CHAR_PX * len(t) + 2 * LABEL_MARGIN_PX, LABEL_HEIGHT_PX] for t in ids])
    clear = None
    if markers is not None:
        c_px, c_depth = view.to_display(markers)
        half = np.clip(px[:, 1] - c_px[:, 1], 1.0, None)  # the marker's radius and a little
        keep = c_depth > 0
        clear = np.column_stack([c_px[:, 0] - half, c_px[:, 1] - half, 2 * half, 2 * half])[keep]
    moved_px = spread_labels(px, sizes, max_steps=LABELLED_CAMERAS_MAX, keep_clear=clear)
    anchor = np.array(top, np.float64)
    moved = np.flatnonzero((moved_px != px).any(axis=1) & (depth > 0))
    anchor[moved] = view.to_world(moved_px[moved], depth[moved])
    far = moved[moved_px[moved, 1] - px[moved, 1] > LABEL_HEIGHT_PX / 2.0]
    return anchor, far


def _add_labels(pl: Any, scene: Scene, shift: FloatArray, window: tuple[int, int]) -> None:
    """Camera ids over their markers, moved up where they would overlap, with a leader line.

    VTK's own placement drops a label that overlaps another, so a camera could go unnamed;
    here the boxes are laid out in the framed view first (:func:`spread_labels`) and every
    label is drawn.
    """
    import pyvista as pv

    if not scene.n_cameras:
        return
    if scene.n_cameras > LABELLED_CAMERAS_MAX:
        scale = min(window[0] / 1600.0, window[1] / 1000.0)
        pl.add_text(
            f"{scene.n_cameras} cameras: ids not drawn above {LABELLED_CAMERAS_MAX} "
            "(cameras.csv lists them)",
            position=(int(window[0] * 0.55), int(24 * scale)),
            font_size=max(5, round(8 * scale)),
            color="#3a4654",
        )
        return
    top = scene.cam_origin - shift + np.array([0.0, 0.0, 2.2 * marker_radius(scene, window)])
    ids = list(scene.cam_ids)
    anchor, far = label_anchors(
        top, ids, plotter_view(pl, window), markers=scene.cam_origin - shift
    )
    if far.size:
        m = far.size
        v = np.concatenate([top[far], anchor[far]])
        lines = np.column_stack([np.full(m, 2), np.arange(m), np.arange(m) + m]).ravel()
        pl.add_mesh(pv.PolyData(v, lines=lines), color="#1d2733", line_width=1, lighting=False)
    actor = pl.add_point_labels(
        anchor,
        ids,
        font_size=LABEL_FONT_SIZE,
        text_color="#1d2733",
        shape_color="white",
        shape_opacity=0.75,
        margin=LABEL_MARGIN_PX,
        show_points=False,
        always_visible=True,
    )
    # Laid out already: VTK must not drop a label its own estimate thinks overlaps.
    actor.GetMapper().SetPlaceAllLabels(True)


def _add_compass(pl: Any, scene: Scene, shift: FloatArray, window: tuple[int, int]) -> None:
    """A north arrow and a scale bar in the lower left corner of the picture."""
    import pyvista as pv
    from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D

    if framing(scene, shift) is None:
        return  # nothing drawn, nothing framed
    view = plotter_view(pl, window)  # looking at the framed centre (_frame)
    ground = (
        float(np.median(scene.demand_ground_z)) - shift[2] if scene.demand_ground_z.size else 0.0
    )
    north, length_m, length_px = compass(view, np.array([view.focal[0], view.focal[1], ground]))
    scale = min(window[0] / 1600.0, window[1] / 1000.0)
    ax, ay = 70.0 * scale, 70.0 * scale  # the arrow's middle
    half = 26.0 * scale
    tip = np.array([ax, ay]) + half * north
    tail = np.array([ax, ay]) - half * north
    side = np.array([-north[1], north[0]])
    head = [
        tip - 12 * scale * north + 7 * scale * side,
        tip - 12 * scale * north - 7 * scale * side,
    ]
    bar0 = np.array([ax + 50 * scale, 24 * scale])
    bar1 = bar0 + np.array([length_px, 0.0])
    tick = np.array([0.0, 6 * scale])
    pts2 = [tail, tip, head[0], head[1], bar0, bar1, bar0 + tick, bar1 + tick]
    pts = np.array([[x, y, 0.0] for x, y in pts2])
    lines = np.array([2, 0, 1, 2, 1, 2, 2, 1, 3, 2, 4, 5, 2, 4, 6, 2, 5, 7])
    poly = pv.PolyData(pts, lines=lines)
    mapper = vtkPolyDataMapper2D()
    mapper.SetInputData(poly)
    actor = vtkActor2D()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(0.11, 0.15, 0.2)
    actor.GetProperty().SetLineWidth(max(1.0, 2.0 * scale))
    pl.add_actor(actor)
    font = max(6, round(10 * scale))
    label = tip + 8 * scale * north
    pl.add_text(
        "N", position=(int(label[0] - 4 * scale), int(label[1])), font_size=font, color="#1d2733"
    )
    pl.add_text(
        f"{length_m:g} m (at the centre)",
        position=(int(bar1[0] + 8 * scale), int(bar0[1] - 4 * scale)),
        font_size=max(5, round(8 * scale)),
        color="#3a4654",
    )


def _frame(pl: Any, scene: Scene, shift: FloatArray, aspect: float) -> None:
    """Look at the demand area and the cameras from the south-east, 40 degrees up.

    The distance is the smallest at which every corner of the area's bounding box falls
    inside the view (with a margin, and room for the title), so the area fills the picture.
    """
    fit = framing(scene, shift)
    if fit is None:
        return
    distance = fit.distance(aspect)
    eye = fit.center + distance * fit.eye_direction
    pl.camera_position = [tuple(eye), tuple(fit.center), (0.0, 0.0, 1.0)]
    pl.camera.view_angle = VIEW_ANGLE_DEG
    pl.camera.clipping_range = (max(distance / 200.0, 0.5), distance * 4.0)


def render_png(
    scene: Scene, path: str | Path, *, window_size: tuple[int, int] = (1600, 1000)
) -> None:
    """Draw the scene off screen and save it as a PNG."""
    pl = build_plotter(scene, off_screen=True, window_size=window_size)
    try:
        pl.screenshot(str(path))
    finally:
        pl.close()


def show(scene: Scene, *, screenshot: str | Path | None = None) -> None:
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
    add_orientation(pl)
    pl.show()


def add_orientation(pl: Any) -> None:
    """Axes in the window's corner that turn with the view: east, north and up (the
    picture's north arrow and scale bar hold for its one view only)."""
    pl.add_axes(xlabel="E", ylabel="N", zlabel="up", line_width=2, labels_off=False)
