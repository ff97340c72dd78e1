"""A thin ctypes binding to Embree 4: triangle scenes and OCCLUDED queries from compiled code.

embreex ships Embree 4 (``libembree4``) next to its extension modules, but its query loop
holds the GIL and goes through numpy arrays per call. This module opens the same library
with ctypes and binds the handful of functions needed to build a scene of one triangle
mesh and to ask whether segments are blocked. :data:`OCCLUDED1` (``rtcOccluded1``) and
:data:`OCCLUDED16` (``rtcOccluded16``, packets of 16 rays) are ctypes function objects that
numba-compiled code can take as arguments and call directly, with the GIL released, so
the visibility kernel fuses its filters with the ray queries and several threads can
query one scene at once (a committed Embree scene is read-only and thread-safe).

Ray layout (``RTCRay``, 48 bytes, 16-byte aligned): org x, y, z, tnear, dir x, y, z, time,
tfar (float32), then mask, id, flags (uint32). ``rtcOccluded1`` sets tfar to -inf when
something blocks the segment ``org + t dir``, tnear <= t <= tfar.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.errors import PlacementError

# Embree 4 constants (rtcore_common.h, rtcore_geometry.h).
_GEOMETRY_TYPE_TRIANGLE = 0
_BUFFER_TYPE_INDEX = 0
_BUFFER_TYPE_VERTEX = 1
_FORMAT_UINT3 = 0x5003
_FORMAT_FLOAT3 = 0x9003
_ERRORS = {
    1: "unknown error",
    2: "invalid argument",
    3: "invalid operation",
    4: "out of memory",
    5: "unsupported CPU",
    6: "cancelled",
}


def _find_library() -> Path | str:
    """libembree4: the copy embreex ships (wheels put it beside the package), else the
    system's."""
    try:
        import embreex
    except ImportError:  # pragma: no cover - embreex is a dependency
        embreex = None
    if embreex is not None and embreex.__file__ is not None:
        pkg = Path(embreex.__file__).resolve().parent
        for folder in (pkg.parent / "embreex.libs", pkg, pkg.parent / ".dylibs", pkg / ".dylibs"):
            # libembree4-<hash>.so.4 (Linux), libembree4.4.dylib (macOS), embree4-<hash>.dll
            found = sorted(
                f
                for pattern in ("libembree4*", "embree4*.dll")
                for f in (folder.glob(pattern) if folder.is_dir() else [])
            )
            if found:
                return found[0]
    name = ctypes.util.find_library("embree4")
    if name is None:  # pragma: no cover - depends on the installation
        raise PlacementError("Embree 4 not found: install embreex (pip install embreex)")
    return name


def _bind() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(_find_library()))
    vp, u, sz = ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "rtcNewDevice": (vp, [ctypes.c_char_p]),
        "rtcReleaseDevice": (None, [vp]),
        "rtcGetDeviceError": (ctypes.c_int, [vp]),
        "rtcNewScene": (vp, [vp]),
        "rtcReleaseScene": (None, [vp]),
        "rtcCommitScene": (None, [vp]),
        "rtcNewGeometry": (vp, [vp, ctypes.c_int]),
        "rtcSetSharedGeometryBuffer": (None, [vp, ctypes.c_int, u, ctypes.c_int, vp, sz, sz, sz]),
        "rtcCommitGeometry": (None, [vp]),
        "rtcAttachGeometry": (u, [vp, vp]),
        "rtcReleaseGeometry": (None, [vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


_LIB = _bind()

#: ``rtcOccluded1(scene, ray, args)`` as a ctypes function numba code can call.
OCCLUDED1 = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
    ("rtcOccluded1", _LIB)
)

#: ``rtcOccluded16(valid, scene, rays, args)``: a packet of 16 rays in structure-of-arrays
#: layout (each RTCRay field as 16 consecutive values), 64-byte aligned, like ``valid``
#: (int32, -1 = test this lane, 0 = leave it).
OCCLUDED16 = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)(("rtcOccluded16", _LIB))

_DEVICE: int | None = None


def _device() -> int:
    """One Embree device per process (it owns the build threads), made on first use."""
    global _DEVICE  # noqa: PLW0603 - a process-wide handle, like the library itself
    if _DEVICE is None:
        dev = _LIB.rtcNewDevice(None)
        if not dev:
            raise PlacementError("Embree: could not create a device (unsupported CPU?)")
        _DEVICE = int(dev)
    return _DEVICE


class Scene:
    """An Embree scene of one triangle mesh (float32 local coordinates), read-only once
    built; ``handle`` is the RTCScene pointer for :data:`OCCLUDED1`.

    The vertex and index buffers are shared with Embree (not copied), so the scene keeps
    them alive; the scene is released when the object is collected.
    """

    def __init__(self, vertices: npt.ArrayLike, faces: npt.ArrayLike) -> None:
        v = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
        f = np.ascontiguousarray(np.asarray(faces).reshape(-1, 3), dtype=np.uint32)
        if f.size and int(f.max()) >= v.shape[0]:
            raise PlacementError("Embree scene: a face refers to a vertex that does not exist")
        # Embree reads vertices with 16-byte loads: one spare vertex of padding at the end.
        self._vertices = np.zeros((v.shape[0] + 1, 3), np.float32)
        self._vertices[:-1] = v
        self._faces = f
        dev = _device()
        self.handle: int = int(_LIB.rtcNewScene(dev))
        if f.shape[0]:
            geom = _LIB.rtcNewGeometry(dev, _GEOMETRY_TYPE_TRIANGLE)
            _LIB.rtcSetSharedGeometryBuffer(
                geom,
                _BUFFER_TYPE_VERTEX,
                0,
                _FORMAT_FLOAT3,
                self._vertices.ctypes.data,
                0,
                12,
                v.shape[0],
            )
            _LIB.rtcSetSharedGeometryBuffer(
                geom, _BUFFER_TYPE_INDEX, 0, _FORMAT_UINT3, f.ctypes.data, 0, 12, f.shape[0]
            )
            _LIB.rtcCommitGeometry(geom)
            _LIB.rtcAttachGeometry(self.handle, geom)
            _LIB.rtcReleaseGeometry(geom)
        _LIB.rtcCommitScene(self.handle)
        err = int(_LIB.rtcGetDeviceError(dev))
        if err:
            raise PlacementError(f"Embree: building the scene failed ({_ERRORS.get(err, err)})")
        self.n_triangles = int(f.shape[0])

    def __del__(self) -> None:
        handle = getattr(self, "handle", 0)
        if handle:
            _LIB.rtcReleaseScene(handle)
            self.handle = 0
