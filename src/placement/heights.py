"""Heights of a triangle mesh under plan points (vertical ray casts with Embree).

Sites and demand both need "how high is the road here": this is the one place that answers it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from placement.model import Mesh

_ABOVE_M = 50.0


def height_at(
    mesh: Mesh, xy: npt.ArrayLike, *, fallback: str = "nearest"
) -> npt.NDArray[np.float64]:
    """Height of the highest triangle of ``mesh`` vertically above or below each point.

    Parameters
    ----------
    mesh : the surface (e.g. ``City.roads``), metres.
    xy : (N, 2) plan coordinates, metres.
    fallback : what to return where no triangle lies under a point: "nearest" (the height
        of the nearest mesh vertex in plan) or "nan".

    Returns
    -------
    (N,) float64 heights in metres.
    """
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0 or mesh.n_triangles == 0:
        return np.full(pts.shape[0], np.nan)
    return height_sampler(mesh, fallback=fallback)(pts)


def height_sampler(
    mesh: Mesh, *, fallback: str = "nearest"
) -> Callable[[npt.ArrayLike], npt.NDArray[np.float64]]:
    """:func:`height_at` of one mesh as a function of ``xy`` alone, for asking it many
    times: the ray-tracing scene (and the nearest-vertex tree) is built once."""
    if mesh.n_triangles == 0:
        return lambda xy: np.full(np.asarray(xy).reshape(-1, 2).shape[0], np.nan)
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    # Work in a local frame: float32 with 6-digit eastings loses centimetres.
    origin = mesh.vertices.min(axis=0)
    top = float(mesh.vertices[:, 2].max() - origin[2]) + _ABOVE_M
    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene, (mesh.vertices - origin)[mesh.faces].astype(np.float32))
    trees: list[cKDTree] = []

    def sample(xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        out = np.full(pts.shape[0], np.nan)
        if pts.shape[0] == 0:
            return out
        starts = np.empty((pts.shape[0], 3), np.float32)
        starts[:, :2] = pts - origin[:2]
        starts[:, 2] = top
        dirs = np.zeros_like(starts)
        dirs[:, 2] = -1.0
        dists = np.full(pts.shape[0], top + 1e4, np.float32)
        hit = np.asarray(scene.run(starts, dirs, dists=dists, query="DISTANCE"), np.float64)
        ok = hit < top + 1e3
        out[ok] = top - hit[ok] + origin[2]
        if fallback == "nearest" and not ok.all():
            if not trees:
                trees.append(cKDTree(mesh.vertices[:, :2]))
            _, idx = trees[0].query(pts[~ok])
            out[~ok] = mesh.vertices[idx, 2]
        return out

    return sample
