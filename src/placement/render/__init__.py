"""3D pictures of a result: a PNG and a window (PyVista), and an interactive HTML page.

A :class:`Scene` holds just the arrays a picture needs (buildings, roads, demand points with
their coverage level, the chosen cameras) so ``placement view DIR`` can show a result from
``DIR/scene.npz`` without loading the city again. PyVista and VTK are imported only inside
the functions that draw. The HTML page is written by our own code (a small inline WebGL
viewer, :mod:`._html`): it needs neither PyVista nor any network to write or to open.

Off screen on Linux with no display, :func:`use_offscreen_backend` picks a VTK render window
that works without X before VTK creates one: EGL (Mesa's ``libEGL_mesa`` or another EGL
vendor) when present, else OSMesa (``libOSMesa``). A ``VTK_DEFAULT_OPENGL_WINDOW`` set by the
user always wins.
"""

from __future__ import annotations

from placement.render._draw import (
    EXISTING_CAMERA_COLOR,
    LEVEL_COLORS,
    LEVEL_LABELS,
    NEW_CAMERA_COLOR,
    build_plotter,
    render_png,
    show,
)
from placement.render._gl import offscreen_problem, use_offscreen_backend
from placement.render._html import export_html
from placement.render._scene import Scene, scene_from
from placement.render._shapes import camera_directions, frustum_rays, frustum_surfaces

__all__ = [
    "EXISTING_CAMERA_COLOR",
    "LEVEL_COLORS",
    "LEVEL_LABELS",
    "NEW_CAMERA_COLOR",
    "Scene",
    "build_plotter",
    "camera_directions",
    "export_html",
    "frustum_rays",
    "frustum_surfaces",
    "offscreen_problem",
    "render_png",
    "scene_from",
    "show",
    "use_offscreen_backend",
]
