"""The scene as one self-contained interactive HTML page: a small WebGL viewer of our own.

The page needs no network and no library: geometry is embedded as base64 typed arrays
(float32 positions in a local frame, per-triangle uint8 colours, uint16/uint32 indices) in a
JSON block, and a few hundred lines of inline JavaScript draw it with WebGL 1 (flat Lambert
shading under a sun and a headlight, like the PNG; translucent view volumes last), with
orbit, pan and zoom by mouse or touch. Title, subtitle and legend are HTML over the canvas.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.model import FloatArray, IntArray
from placement.render._draw import (
    BACKGROUND_BOTTOM,
    BACKGROUND_TOP,
    CELL_COLORS,
    EDGE_COLOR,
    EDGES_MAX_TRIANGLES,
    EXISTING_CAMERA_COLOR,
    HEADLIGHT_INTENSITY,
    LABELLED_CAMERAS_MAX,
    NEW_CAMERA_COLOR,
    OCCLUDER_GROUPS,
    ROAD_COLOR,
    SUN_INTENSITY,
    hex_rgb,
    legend_entries,
    occluder_mask,
    subtitle,
    sun_direction,
)
from placement.render._scene import Scene
from placement.render._shapes import (
    FRAME_MARGIN_H,
    FRAME_MARGIN_V,
    SCALE_STEPS_M,
    VIEW_ANGLE_DEG,
    coverage_cells,
    crease_edges,
    framing,
    local_origin,
    marker_radius,
    scene_volumes,
    tile,
    unit_box,
    unit_sphere,
    weld,
)
from placement.render._viewer import SCRIPT, TEMPLATE

log = logging.getLogger(__name__)

POLE_COLOR = "#404040"
VOLUME_OPACITY = 0.16
#: The page can be zoomed in close, so its scale bar also has 1 m and 2 m.
HTML_SCALE_STEPS_M = (1, 2, *SCALE_STEPS_M)


def export_html(scene: Scene, path: str | Path) -> None:
    """Write the scene as a self-contained interactive HTML page (no network needed).

    Parameters
    ----------
    scene : what to draw.
    path : the ``.html`` file to write.
    """
    text = page(scene)
    Path(path).write_text(text, encoding="utf-8")
    log.info("wrote %s (%.1f MB)", path, len(text) / 1e6)


def page(scene: Scene) -> str:
    """The HTML text of the page (see :func:`export_html`)."""
    data = json.dumps(page_data(scene), separators=(",", ":"))
    legend = "\n".join(
        f'<li{_level_attrs(e.level, e.share)}><span class="swatch" '
        f'style="background:{e.color}"></span>{html.escape(e.text)}</li>'
        for e in legend_entries(scene)
    )
    return (
        TEMPLATE.replace("@TITLE@", html.escape(scene.title or "camera placement"))
        .replace("@SUBTITLE@", _keep_units(html.escape(subtitle(scene))))
        .replace("@LEGEND@", legend)
        .replace("@DATA@", data.replace("</", "<\\/"))  # "</script>" must not end the block
        .replace("@SCRIPT@", SCRIPT)
    )


def _keep_units(text: str) -> str:
    """``text`` with a no-break space between each number and its unit ("31 m", "90 deg"):
    a narrow window wraps the subtitle between values, never inside one."""
    return re.sub(r"(\d) (%|(?:m|deg|cameras?)\b)", "\\1&nbsp;\\2", text)


def _level_attrs(level: int | None, share: float | None) -> str:
    if level is None or share is None:
        return ""
    return f' data-level="{level}" data-share="{share:.6f}"'


def page_data(scene: Scene) -> dict[str, Any]:
    """Everything the viewer script draws, as JSON-ready values.

    Returns
    -------
    ``layers``: list of layers drawn in order (opaque first, translucent last), each with
    ``name``, ``mode`` ("triangles" or "lines"), base64 little-endian ``positions`` (float32,
    (V, 3), metres in the local frame), ``indices`` (uint16 or uint32 as ``index_bytes``
    says; 3 per triangle or 2 per line; empty with ``quads`` true when the triangles are
    4i, 4i+1, 4i+2 and 4i, 4i+2, 4i+3, as in the coverage carpet), ``colors`` (uint8 RGB
    per triangle) or ``color`` (one RGB for lines), ``ambient``, ``diffuse``, ``alpha``,
    ``count`` (triangles or lines) and ``bounds``; ``labels`` (camera ids at 3D points),
    ``view`` (the initial framing), ``radius``, ``light`` and ``background``; ``origin``
    the (x, y, z) subtracted from every coordinate; ``compass`` (the ground height under
    the view, the scale bar's lengths to choose from, metres, and its shortest and longest
    wanted length, pixels).
    """
    shift = local_origin(scene)
    layers: list[dict[str, Any]] = []

    building = np.zeros(scene.occ_faces.shape[0], bool)
    tri_rgb = np.zeros((scene.occ_faces.shape[0], 3), np.uint8)
    for label, kinds, color in OCCLUDER_GROUPS:
        mask = occluder_mask(scene, kinds)
        tri_rgb[mask] = hex_rgb((color,))[0]
        if label in ("buildings", "roofs"):
            building |= mask
    occ_v = scene.occ_vertices - shift
    if building.any():
        v, f = weld(occ_v, scene.occ_faces[building])
        layers.append(_triangles("buildings", v, f, tri_rgb[building], ambient=0.35, diffuse=0.7))
        if f.shape[0] <= EDGES_MAX_TRIANGLES:
            # Crease lines give the buildings crisp outlines; triangle edges would be noise.
            layers.append(_lines("edges", v, crease_edges(v, f), EDGE_COLOR))
    for label, kinds, _ in OCCLUDER_GROUPS:
        mask = occluder_mask(scene, kinds)
        if label in ("buildings", "roofs") or not mask.any():
            continue
        v, f = weld(occ_v, scene.occ_faces[mask])
        layers.append(_triangles(label, v, f, tri_rgb[mask], ambient=0.35, diffuse=0.7))

    if scene.road_faces.shape[0]:
        v, f = weld(scene.road_vertices - shift, scene.road_faces)
        rgb = np.repeat(hex_rgb((ROAD_COLOR,)), f.shape[0], axis=0)
        layers.append(_triangles("roads", v, f, rgb, ambient=0.4, diffuse=0.6))

    if scene.demand_xyz.shape[0]:
        v, quads, level = coverage_cells(scene, shift)
        f = quads[:, [0, 1, 2, 0, 2, 3]].reshape(-1, 3)  # two triangles per cell
        rgb = np.repeat(hex_rgb(CELL_COLORS)[level], 2, axis=0)
        carpet = _triangles("coverage", v, f, rgb, ambient=0.55, diffuse=0.45)
        # Cell i is always corners 4i..4i+3: the page rebuilds these indices itself.
        carpet.update(indices="", index_bytes=0, quads=True)
        layers.append(carpet)

    labels: list[dict[str, Any]] = []
    if scene.n_cameras:
        layers += _camera_layers(scene, shift)
        if scene.n_cameras <= LABELLED_CAMERAS_MAX:
            top = scene.cam_origin - shift + np.array([0.0, 0.0, 2.2 * marker_radius(scene)])
            labels = [
                {"text": cam_id, "position": _round(p)}
                for cam_id, p in zip(scene.cam_ids, top, strict=True)
            ]

    fit = framing(scene, shift)
    view: dict[str, Any] | None = None
    if fit is not None:
        view = {
            "center": _round(fit.center),
            "eye_direction": [float(x) for x in fit.eye_direction],
            "across": _round(fit.across),
            "upward": _round(fit.upward),
            "toward": _round(fit.toward),
            "view_angle_deg": VIEW_ANGLE_DEG,
            "margin": [FRAME_MARGIN_H, FRAME_MARGIN_V],
        }
    return {
        "origin": _round(shift),
        "layers": layers,
        "labels": labels,
        "view": view,
        "radius": _radius(layers),
        "light": {
            "sun": [float(x) for x in sun_direction()],
            "sun_intensity": SUN_INTENSITY,
            "headlight_intensity": HEADLIGHT_INTENSITY,
        },
        "background": [BACKGROUND_TOP, BACKGROUND_BOTTOM],
        "compass": {
            # The scale bar is measured on the ground under the view's centre.
            "ground_z": (
                round(float(np.median(scene.demand_ground_z)) - float(shift[2]), 3)
                if scene.demand_ground_z.size
                else 0.0
            ),
            "scale_steps_m": list(HTML_SCALE_STEPS_M),
            "bar_px": [60.0, 180.0],
        },
    }


def _camera_layers(scene: Scene, shift: FloatArray) -> list[dict[str, Any]]:
    """Markers (spheres for new cameras, cubes for kept ones), poles, then view volumes."""
    origin = scene.cam_origin - shift
    ground = scene.cam_ground_z - shift[2]
    r = marker_radius(scene)
    sphere, box = unit_sphere(), unit_box()
    parts_v: list[FloatArray] = []
    parts_f: list[IntArray] = []
    parts_rgb: list[npt.NDArray[np.uint8]] = []
    volumes: list[dict[str, Any]] = []
    n_v = 0
    for existing, color in ((False, NEW_CAMERA_COLOR), (True, EXISTING_CAMERA_COLOR)):
        sel = scene.cam_existing == existing
        if not sel.any():
            continue
        template = box if existing else sphere
        v, f = tile(*template, origin[sel], np.array([r, r, r]))
        parts_v.append(v)
        parts_f.append(f + n_v)
        parts_rgb.append(np.repeat(hex_rgb((color,)), f.shape[0], axis=0))
        n_v += v.shape[0]
        fv, ff = scene_volumes(scene, shift, sel)
        volumes.append(
            _triangles(
                "new camera volumes" if not existing else "existing camera volumes",
                fv,
                ff,
                np.repeat(hex_rgb((color,)), ff.shape[0], axis=0),
                ambient=1.0,
                diffuse=0.0,
                alpha=VOLUME_OPACITY,
            )
        )
    # Poles: thin square posts from the ground to the lens.
    height = np.maximum(origin[:, 2] - ground, 0.0)
    width = max(0.08, 0.12 * r)
    centers = np.column_stack([origin[:, :2], ground + height / 2.0])
    scale = np.column_stack(
        [np.full(height.shape, width), np.full(height.shape, width), height / 2.0]
    )
    v, f = tile(*box, centers, scale)
    parts_v.append(v)
    parts_f.append(f + n_v)
    parts_rgb.append(np.repeat(hex_rgb((POLE_COLOR,)), f.shape[0], axis=0))
    markers = _triangles(
        "cameras",
        np.concatenate(parts_v),
        np.concatenate(parts_f),
        np.concatenate(parts_rgb),
        ambient=0.35,
        diffuse=0.75,
    )
    return [markers, *volumes]


def _b64(a: npt.NDArray[Any], dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _indices(a: IntArray, n_vertices: int) -> tuple[str, int]:
    if n_vertices <= 0xFFFF:
        return _b64(a, "<u2"), 2
    return _b64(a, "<u4"), 4


def _triangles(
    name: str,
    vertices: FloatArray,
    faces: IntArray,
    rgb: npt.NDArray[np.uint8],
    *,
    ambient: float,
    diffuse: float,
    alpha: float = 1.0,
) -> dict[str, Any]:
    indices, size = _indices(faces, vertices.shape[0])
    return {
        "name": name,
        "mode": "triangles",
        "count": int(faces.shape[0]),
        "positions": _b64(vertices, "<f4"),
        "indices": indices,
        "index_bytes": size,
        "colors": _b64(rgb, "u1"),
        "ambient": ambient,
        "diffuse": diffuse,
        "alpha": alpha,
        "bounds": _bounds(vertices),
    }


def _lines(name: str, vertices: FloatArray, edges: IntArray, color: str) -> dict[str, Any]:
    """A lines layer holding only the vertices its edges use."""
    used, inverse = np.unique(edges, return_inverse=True)
    pts = vertices[used]
    indices, size = _indices(inverse.reshape(-1, 2).astype(np.int32), pts.shape[0])
    return {
        "name": name,
        "mode": "lines",
        "count": int(edges.shape[0]),
        "positions": _b64(pts, "<f4"),
        "indices": indices,
        "index_bytes": size,
        "color": [int(x) for x in hex_rgb((color,))[0]],
        "ambient": 1.0,
        "diffuse": 0.0,
        "alpha": 1.0,
        "bounds": _bounds(pts),
    }


def _bounds(v: FloatArray) -> list[float]:
    if not v.shape[0]:
        return [0.0] * 6
    return _round(np.concatenate([v.min(axis=0), v.max(axis=0)]))


def _radius(layers: list[dict[str, Any]]) -> float:
    """Half the diagonal of everything drawn, metres (for the depth range)."""
    if not layers:
        return 100.0
    b = np.array([layer["bounds"] for layer in layers])
    lo, hi = b[:, :3].min(axis=0), b[:, 3:].max(axis=0)
    return max(float(np.linalg.norm(hi - lo)) / 2.0, 10.0)


def _round(a: FloatArray) -> list[float]:
    return [round(float(x), 3) for x in np.ravel(a)]
