"""Geometry shared by the PNG and the HTML pictures: plain numpy, no drawing library.

View volumes, road cells, camera markers, crease lines and the framing of the initial
view are computed here once; :mod:`._draw` hands them to PyVista and :mod:`._html` embeds
them in a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from placement.citygml._ground import DEM_FOLLOW_TOL_M
from placement.model import BoolArray, FloatArray, IntArray, SurfaceKind
from placement.render._scene import Scene

#: The colour class of a road cell seen by fewer than k cameras, but by one at least.
PARTIAL = 5
#: The initial view: from the south-east, 40 degrees above the horizon, 30 degree lens.
VIEW_AZIMUTH_DEG = 135.0
VIEW_ELEVATION_DEG = 40.0
VIEW_ANGLE_DEG = 30.0
#: Shares of the half view angles the framed area may fill (room for title and legend).
FRAME_MARGIN_V = 0.86
FRAME_MARGIN_H = 0.97


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


def scene_volumes(
    scene: Scene, shift: FloatArray, select: BoolArray
) -> tuple[FloatArray, IntArray]:
    """:func:`frustum_surfaces` of the scene's cameras picked by the (K,) bool ``select``."""
    return frustum_surfaces(
        scene.cam_origin[select] - shift,
        scene.cam_ground_z[select] - shift[2],
        scene.cam_heading_deg[select],
        scene.cam_tilt_deg[select],
        hfov_deg=scene.hfov_deg,
        vfov_deg=scene.vfov_deg,
        range_m=scene.range_m,
    )


def local_origin(scene: Scene) -> FloatArray:
    """(3,) the smallest x and y of everything drawn, z = 0: the picture's local origin.

    Drawing happens in float32, which jitters at 6-digit eastings; coordinates are shifted
    by this first.
    """
    parts = [
        a
        for a in (scene.demand_xyz, scene.occ_vertices, scene.road_vertices, scene.cam_origin)
        if a.shape[0]
    ]
    if not parts:
        return np.zeros(3)
    lo = np.min([p.min(axis=0) for p in parts], axis=0)
    return np.array([lo[0], lo[1], 0.0])


def coverage_cells(scene: Scene, shift: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
    """The road coverage carpet: one flat square per demand point, slightly above the road.

    Returns
    -------
    vertices : (4 N, 3) corners, metres in the local frame (``- shift``).
    quads : (N, 4) int32 corner indices, counter-clockwise seen from above.
    level : (N,) int32 colour class of each cell (:func:`cell_classes`).
    """
    n = scene.demand_xyz.shape[0]
    size = 0.92 * scene.spacing_m  # a hairline gap shows the sampling grid
    lift = max(0.05, 0.01 * scene.spacing_m)  # above the road so the two do not flicker
    if np.any(scene.occ_kind == SurfaceKind.TERRAIN):
        # Roads follow a DEM to within DEM_FOLLOW_TOL_M between its vertices: the terrain
        # showed through the carpet in dots, and seen streets looked like unseen ones.
        lift += DEM_FOLLOW_TOL_M + 0.1
    h = size / 2.0
    corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    v = np.empty((n, 4, 3))
    v[:, :, :2] = (scene.demand_xyz[:, None, :2] - shift[:2]) + corners[None, :, :]
    v[:, :, 2] = (scene.demand_ground_z - shift[2] + lift)[:, None]
    quads = np.arange(4 * n, dtype=np.int32).reshape(n, 4)
    return v.reshape(-1, 3), quads, cell_classes(scene)


def cell_classes(scene: Scene) -> IntArray:
    """(N,) int32 colour class of each road cell: its DORI level 0..4 (0 = unseen), or
    :data:`PARTIAL` where, with k > 1, some chosen camera sees it but fewer than k do (as
    coverage_areas.geojson's "seen by fewer than k")."""
    n = scene.demand_xyz.shape[0]
    level = np.clip(scene.demand_level, 0, 4).astype(np.int32)
    if scene.demand_partial is not None and scene.demand_partial.shape == (n,):
        level[scene.demand_partial & (level == 0)] = PARTIAL
    return level


#: Least radius of a camera marker in the picture, pixels (a marker of at most 5 m was a
#: pixel or two over a city of several tiles).
MARKER_MIN_PX = 4.5


def marker_radius(scene: Scene, window: tuple[int, int] = (1600, 1000)) -> float:
    """Radius of a camera marker, metres: about 1/130 of the area's diagonal up to 5 m (so
    that it hides little of the streets by it), and never under :data:`MARKER_MIN_PX`
    pixels in a picture of ``window`` pixels that frames the area. A floor of 1/200 of the
    diagonal made 25 m spheres over the 3 x 3 Osaka block, where a camera detects to 30 m:
    they hid 57 % of the seen street in its picture."""
    e = extent(scene)
    return float(max(np.clip(e / 130.0, 0.6, 5.0), MARKER_MIN_PX * e / float(np.hypot(*window))))


def extent(scene: Scene) -> float:
    """Diagonal of the demand area (else of the city), metres, at least 20."""
    pts = scene.demand_xyz if scene.demand_xyz.shape[0] else scene.occ_vertices
    if not pts.shape[0]:
        return 100.0
    span = pts[:, :2].max(axis=0) - pts[:, :2].min(axis=0)
    return float(max(np.hypot(*span), 20.0))


def tile(
    template_v: FloatArray, template_f: IntArray, centers: FloatArray, scale: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Copies of a small mesh, one per centre, scaled per axis.

    Parameters
    ----------
    template_v : (t, 3) template vertices around (0, 0, 0).
    template_f : (s, 3) template triangles.
    centers : (M, 3) where each copy goes.
    scale : (M, 3) or (3,) per-axis scale of each copy.

    Returns
    -------
    vertices : (M t, 3); faces : (M s, 3).
    """
    m, t = centers.shape[0], template_v.shape[0]
    scale = np.broadcast_to(np.asarray(scale, np.float64), (m, 3))
    v = centers[:, None, :] + template_v[None, :, :] * scale[:, None, :]
    f = template_f[None, :, :] + (np.arange(m) * t)[:, None, None]
    return v.reshape(-1, 3), f.reshape(-1, 3).astype(np.int32)


def unit_sphere(*, segments: int = 12, rings: int = 7) -> tuple[FloatArray, IntArray]:
    """A low-polygon sphere of radius 1: ``segments`` around, ``rings`` from pole to pole."""
    theta = np.linspace(0.0, math.pi, rings + 1)[1:-1]  # inner rings, poles added apart
    phi = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring_v = np.column_stack(
        [(np.sin(t) * np.cos(p)).ravel(), (np.sin(t) * np.sin(p)).ravel(), np.cos(t).ravel()]
    )
    v = np.vstack([[0.0, 0.0, 1.0], ring_v, [0.0, 0.0, -1.0]])
    r, s = rings - 1, segments
    j = np.arange(s)
    jn = (j + 1) % s
    top = np.column_stack([np.zeros(s, np.int64), 1 + j, 1 + jn])
    bottom_i = 1 + r * s
    bottom = np.column_stack([np.full(s, bottom_i), 1 + (r - 1) * s + jn, 1 + (r - 1) * s + j])
    i = np.arange(r - 1)[:, None]
    a = 1 + i * s + j[None, :]
    b = 1 + i * s + jn[None, :]
    c = a + s
    d = b + s
    band = np.concatenate(
        [np.stack([a, c, b], axis=2).reshape(-1, 3), np.stack([b, c, d], axis=2).reshape(-1, 3)]
    )
    return v, np.concatenate([top, band, bottom]).astype(np.int32)


def unit_box() -> tuple[FloatArray, IntArray]:
    """A cube of side 2 centred on the origin (12 outward triangles)."""
    v = np.array([[x, y, z] for z in (-1.0, 1.0) for y in (-1.0, 1.0) for x in (-1.0, 1.0)])
    f = np.array(
        [
            [0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6],  # bottom, top
            [0, 1, 4], [1, 5, 4], [2, 6, 3], [3, 6, 7],  # south, north
            [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5],  # west, east
        ]
    )  # fmt: skip
    return v, f.astype(np.int32)


def weld(
    vertices: FloatArray, faces: IntArray, *, tol_m: float = 1e-3
) -> tuple[FloatArray, IntArray]:
    """Merge vertices closer than about ``tol_m`` (CityGML repeats each polygon's corners).

    Returns the unique vertices (U, 3) and the faces (F, 3) re-indexed into them; unused
    vertices are dropped.
    """
    if not faces.shape[0]:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int32)
    used, f = np.unique(faces, return_inverse=True)
    key = np.round(vertices[used] / tol_m).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    welded = inverse.reshape(-1)[f.reshape(-1)].reshape(-1, 3).astype(np.int32)
    return vertices[used][first], welded


def crease_edges(vertices: FloatArray, faces: IntArray, *, angle_deg: float = 35.0) -> IntArray:
    """Edges where the surface bends by more than ``angle_deg``, plus open borders.

    Normals are compared regardless of orientation (CityGML polygons do not always agree on
    their winding), so two coplanar triangles never make a crease.

    Parameters
    ----------
    vertices : (V, 3) welded vertices (see :func:`weld`).
    faces : (F, 3) triangles.

    Returns
    -------
    (E, 2) int32 vertex index pairs, each edge once.
    """
    if not faces.shape[0]:
        return np.zeros((0, 2), np.int32)
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1)
    ok = length > 1e-12
    faces, normal = faces[ok], normal[ok] / length[ok, None]
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(np.arange(faces.shape[0]), 3)
    unique, inverse, count = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    keep = count != 2  # open borders and non-manifold junctions always show
    two = np.flatnonzero(count[inverse] == 2)
    two = two[np.argsort(inverse[two], kind="stable")]
    a, b = owner[two[0::2]], owner[two[1::2]]
    cos = np.abs(np.einsum("ij,ij->i", normal[a], normal[b]))
    keep[inverse[two[0::2]]] = cos < math.cos(math.radians(angle_deg))
    out: IntArray = unique[keep].astype(np.int32)
    return out


@dataclass(frozen=True)
class Framing:
    """What fits the demand area (and the cameras) into the initial view.

    Attributes
    ----------
    center : (3,) the point looked at, local frame, metres.
    eye_direction : (3,) unit vector from the centre towards the viewer.
    across, upward, toward : (8,) each bounding-box corner's offset from the centre along
        the view's right, up and towards-the-viewer axes, metres (``across`` and ``upward``
        as absolute values).
    """

    center: FloatArray
    eye_direction: FloatArray
    across: FloatArray
    upward: FloatArray
    toward: FloatArray

    def distance(self, aspect: float) -> float:
        """Viewer distance, metres, at which every corner is in a view of ``aspect`` (w/h)."""
        tan_v = math.tan(math.radians(VIEW_ANGLE_DEG) / 2.0) * FRAME_MARGIN_V
        tan_h = tan_v * aspect * FRAME_MARGIN_H
        need = np.maximum(self.across / tan_h, self.upward / tan_v) + self.toward
        return max(float(need.max()), 20.0)


def framing(scene: Scene, shift: FloatArray) -> Framing | None:
    """The initial view of the scene from the south-east, or None when there is nothing."""
    if scene.demand_xyz.shape[0]:
        pts = np.concatenate([scene.demand_xyz, scene.cam_origin]) - shift
    elif scene.occ_vertices.shape[0]:
        pts = scene.occ_vertices - shift
    else:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    center = (lo + hi) / 2.0
    azimuth, elevation = math.radians(VIEW_AZIMUTH_DEG), math.radians(VIEW_ELEVATION_DEG)
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
    return Framing(center, view, np.abs(rel @ right), np.abs(rel @ up), rel @ view)


@dataclass(frozen=True)
class View:
    """A perspective view: eye, focal point, up vector, vertical view angle and window."""

    eye: FloatArray
    focal: FloatArray
    up: FloatArray
    view_angle_deg: float
    window: tuple[int, int]

    def _axes(self) -> tuple[FloatArray, FloatArray, FloatArray, float]:
        d = self.focal - self.eye
        d = d / np.linalg.norm(d)
        right = np.cross(d, self.up)
        right = right / np.linalg.norm(right)
        true_up = np.cross(right, d)
        half_h = self.window[1] / 2.0 / math.tan(math.radians(self.view_angle_deg) / 2.0)
        return d, right, true_up, half_h

    def to_display(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(n, 2) pixel positions (x right, y up from the bottom left) and (n,) depths."""
        d, right, true_up, half_h = self._axes()
        v = np.asarray(points, np.float64) - self.eye
        depth = v @ d
        xy = np.column_stack([v @ right, v @ true_up]) / depth[:, None] * half_h
        return xy + np.array(self.window, np.float64) / 2.0, depth

    def to_world(self, display: FloatArray, depth: FloatArray) -> FloatArray:
        """The points at these pixel positions and depths (the inverse of :meth:`to_display`)."""
        d, right, true_up, half_h = self._axes()
        off = (np.asarray(display, np.float64) - np.array(self.window, np.float64) / 2.0) / half_h
        return self.eye + depth[:, None] * (d + off[:, :1] * right + off[:, 1:] * true_up)


def spread_labels(
    anchors: FloatArray,
    sizes: FloatArray,
    *,
    max_steps: int = 12,
    keep_clear: FloatArray | None = None,
) -> FloatArray:
    """Move label boxes up, each just above the boxes it overlaps, until it overlaps none.

    Parameters
    ----------
    anchors : (n, 2) pixel positions of the boxes' lower left corners.
    sizes : (n, 2) box widths and heights in pixels.
    max_steps : the most moves a label makes; one that finds no free place by then stays
        at its last try (drawn over another rather than dropped).
    keep_clear : (m, 4) boxes (x, y, w, h) no label may cover, such as the camera markers
        (labels covered 16 of 40 markers on a dense tile).

    Returns
    -------
    (n, 2) new lower left corners; x never changes. Labels are placed from the bottom of the
    picture up (ties by x), so a label only moves away from the ones below it.
    """
    anchors = np.asarray(anchors, np.float64)
    out = anchors.copy()
    placed: list[tuple[float, float, float, float]] = (
        [] if keep_clear is None else [tuple(map(float, b)) for b in keep_clear]  # type: ignore[misc]
    )
    for i in np.lexsort((anchors[:, 0], anchors[:, 1])):
        x, y = anchors[i]
        w, h = sizes[i]
        for _ in range(max_steps):
            tops = [
                by + bh
                for bx, by, bw, bh in placed
                if x < bx + bw and bx < x + w and y < by + bh and by < y + h
            ]
            if not tops:
                break
            y = max(tops)
        out[i] = (x, y)
        placed.append((x, y, w, h))
    return out


#: Scale bar lengths to choose from, metres.
SCALE_STEPS_M = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def compass(
    view: View, center: FloatArray, *, bar_px: tuple[float, float] = (60.0, 180.0)
) -> tuple[FloatArray, float, float]:
    """North on the screen, and a scale bar, for a picture seen through ``view``.

    Parameters
    ----------
    view : the framed view.
    center : (3,) a point on the ground in the middle of the view (local frame).
    bar_px : the shortest and longest scale bar wanted, pixels.

    Returns
    -------
    north : (2,) unit vector, the screen direction of grid north (+y) at ``center``.
    length_m : the scale bar's length in metres (a round number).
    length_px : its length in pixels at ``center``, measured along the ground in the
        screen's horizontal direction (a perspective picture's scale holds there only).
    """
    c = np.asarray(center, np.float64)
    d = view.focal - view.eye
    across = np.cross(d, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)
    px, _ = view.to_display(np.array([c, c + np.array([0.0, 1.0, 0.0]), c + across]))
    north = px[1] - px[0]
    north /= np.linalg.norm(north)
    per_m = float(np.linalg.norm(px[2] - px[0]))
    length_m = float(SCALE_STEPS_M[0])
    for step in SCALE_STEPS_M:
        if step * per_m <= bar_px[1]:
            length_m = float(step)
        if step * per_m >= bar_px[0]:
            break
    return north, length_m, length_m * per_m
