"""Line of sight through the occluder mesh: Embree scenes and OCCLUDED segment queries."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from placement.errors import OptionError
from placement.model import Mesh
from placement.visibility._embree import OCCLUDED1, Scene
from placement.visibility._kernel import clear_segments
from placement.visibility._prep import local_center

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: Segments start this far from the lens (metres): clears the camera's own pole or wall.
START_MARGIN_M = 0.3
#: Segments stop this far short of the target (metres): the target's own surface.
END_MARGIN_M = 0.05


def _embree_scene(vertices: Float32Array, faces: npt.NDArray[np.int32]) -> Scene:
    """An Embree scene of one triangle mesh (local float32 coordinates)."""
    return Scene(vertices, faces)


def _occluded_free(
    scene: Scene, starts: Float32Array, dirs: Float32Array, lengths: Float32Array
) -> BoolArray:
    """True where the segment start + t dir, 0 <= t <= length, hits nothing."""
    clear = np.ones(lengths.shape[0], dtype=bool)
    clear_segments(
        OCCLUDED1,
        scene.handle,
        np.ascontiguousarray(starts, np.float32),
        np.ascontiguousarray(dirs, np.float32),
        np.ascontiguousarray(lengths, np.float32),
        clear,
    )
    return clear


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
    center = local_center(occluders.vertices, s, e)
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
