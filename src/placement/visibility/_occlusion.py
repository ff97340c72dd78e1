"""Line of sight through the occluder mesh: Embree scenes and OCCLUDED segment queries."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from placement.errors import OptionError
from placement.model import Mesh

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Segments start this far from the lens (metres): clears the camera's own pole or wall.
START_MARGIN_M = 0.3
#: Segments stop this far short of the target (metres): the target's own surface.
END_MARGIN_M = 0.05


def _embree_scene(vertices: Float32Array, faces: npt.NDArray[np.int32]) -> Any:
    """An Embree scene of one triangle mesh (local float32 coordinates), or None if empty."""
    if faces.shape[0] == 0:
        return None
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=vertices, indices=faces)
    return scene


def _occluded_free(
    scene: Any, starts: Float32Array, dirs: Float32Array, lengths: Float32Array
) -> BoolArray:
    """True where the segment start + t dir, 0 <= t <= length, hits nothing."""
    n = lengths.shape[0]
    clear = np.ones(n, dtype=bool)
    if scene is None or n == 0:
        return clear
    live = lengths > 0
    if not live.all():
        starts, dirs, lengths = starts[live], dirs[live], lengths[live]
    # OCCLUDED answers 0 (the geometry id hit) when blocked and -1 when clear; copy the
    # lengths because other query kinds overwrite them in place.
    res = scene.run(starts, dirs, dists=lengths.copy(), query="OCCLUDED")
    clear[live] = np.asarray(res) < 0
    return clear


def _local_center(mesh: Mesh, *others: FloatArray) -> FloatArray:
    """A shift that brings everything near 0, so float32 keeps millimetres in Embree."""
    parts = [a.reshape(-1, 3) for a in (mesh.vertices, *others) if a.size]
    if not parts:
        return np.zeros(3)
    # Column by column: a reduction over axis 0 of an (N, 3) array is several times slower.
    lo = np.array([min(float(p[:, k].min()) for p in parts) for k in range(3)])
    hi = np.array([max(float(p[:, k].max()) for p in parts) for k in range(3)])
    return np.asarray(np.floor((lo + hi) / 2.0), dtype=np.float64)


def segments_clear(
    occluders: Mesh,
    starts: npt.ArrayLike,
    ends: npt.ArrayLike,
    *,
    start_margin_m: float = 0.0,
    end_margin_m: float = 0.0,
) -> BoolArray:
    """Whether each segment from ``starts`` to ``ends`` misses every occluder triangle.

    Parameters
    ----------
    occluders : the triangles that block.
    starts, ends : (N, 3) metres.
    start_margin_m, end_margin_m : metres cut off the start / the end of each segment
        before testing (a segment shorter than both together counts as clear).

    Returns
    -------
    (N,) bool, True = clear line of sight.
    """
    s = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
    e = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
    if s.shape != e.shape:
        raise OptionError(f"segments_clear: starts {s.shape} and ends {e.shape} differ")
    if s.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    center = _local_center(occluders, s, e)
    scene = _embree_scene(
        (occluders.vertices - center).astype(np.float32), occluders.faces.astype(np.int32)
    )
    v = e - s
    length = np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / length[:, None]
    u[length == 0] = (0.0, 0.0, 1.0)
    origin = s - center + u * start_margin_m
    lengths = (length - start_margin_m - end_margin_m).astype(np.float32)
    return _occluded_free(scene, origin.astype(np.float32), u.astype(np.float32), lengths)
