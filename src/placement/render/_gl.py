"""Choosing an OpenGL render window that works without a display, and probing for one."""

from __future__ import annotations

import ctypes.util
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def use_offscreen_backend() -> str | None:
    """Choose a VTK render window that needs no display, when there is no display.

    On Linux with neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` set and no
    ``VTK_DEFAULT_OPENGL_WINDOW`` chosen by the user, sets that variable to
    ``vtkEGLRenderWindow`` when an EGL vendor library is installed (Mesa: ``libegl-mesa0``),
    else to ``vtkOSOpenGLRenderWindow`` when ``libOSMesa`` is installed (``libosmesa6``).
    VTK reads the variable when it creates a render window, so this must run before that.

    Returns
    -------
    The render window class in use (the user's or the chosen one), or None when VTK is left
    to decide (a display is available, or nothing suitable was found).
    """
    chosen = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    if chosen:
        return chosen
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if _has_egl():
        choice = "vtkEGLRenderWindow"
    elif ctypes.util.find_library("OSMesa"):
        choice = "vtkOSOpenGLRenderWindow"
    else:
        log.warning(
            "no display and neither EGL nor OSMesa found: pictures need "
            "`apt-get install libegl-mesa0` (or libosmesa6)"
        )
        return None
    os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = choice
    log.debug("no display: using %s for off-screen pictures", choice)
    return choice


def _has_egl() -> bool:
    """An EGL library and at least one EGL vendor (glvnd) are installed."""
    if not ctypes.util.find_library("EGL"):
        return False
    vendors = [
        *Path("/usr/share/glvnd/egl_vendor.d").glob("*.json"),
        *Path("/etc/glvnd/egl_vendor.d").glob("*.json"),
    ]
    return bool(vendors) or bool(ctypes.util.find_library("EGL_mesa"))


_PROBE = """
import pyvista as pv
p = pv.Plotter(off_screen=True, window_size=(64, 48))
p.add_mesh(pv.Sphere(), color="red")
img = p.screenshot(return_img=True)
p.close()
assert img.shape == (48, 64, 3) and int(img[..., 0].max()) > int(img[..., 2].min()), "blank"
"""


def offscreen_problem(*, timeout_s: float = 120.0) -> str | None:
    """Why off-screen pictures cannot be drawn here, or None when they can.

    Draws a tiny picture in a child process, because a missing OpenGL can abort the
    process that tries. Takes one to two seconds.
    """
    env = dict(os.environ)
    backend = use_offscreen_backend()
    if backend:
        env["VTK_DEFAULT_OPENGL_WINDOW"] = backend
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"off-screen OpenGL probe failed: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return f"off-screen OpenGL is not available ({backend or 'VTK default'}): {tail}"
    return None
