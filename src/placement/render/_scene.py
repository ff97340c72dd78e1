"""The :class:`Scene`: the arrays a picture of a result needs, and its ``.npz`` file."""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.camera import Camera
from placement.errors import InputFileError, OptionError
from placement.heights import height_at
from placement.model import (
    BoolArray,
    City,
    Demand,
    FloatArray,
    Int8Array,
    IntArray,
    Mesh,
    Options,
)

log = logging.getLogger(__name__)

_SCENE_VERSION = 1
#: Fields a scene file may lack (older files, or not recorded): they take their defaults.
_OPTIONAL = frozenset({"k", "min_level", "demand_partial"})


@dataclass(frozen=True)
class Scene:
    """What a picture of a result needs, as plain arrays in the city's metric CRS.

    Attributes
    ----------
    title : the picture's title.
    crs : the metric CRS of every coordinate.
    occ_vertices : (V, 3) float64 occluder mesh vertices (buildings, vegetation, ...), metres.
    occ_faces : (F, 3) int32 occluder triangles.
    occ_kind : (F,) int8 :class:`SurfaceKind` of each occluder triangle.
    road_vertices : (R, 3) float64 road surface vertices, metres.
    road_faces : (G, 3) int32 road triangles.
    demand_xyz : (N, 3) float64 demand target points, metres.
    demand_ground_z : (N,) float64 road height under each demand point, metres.
    demand_level : (N,) int8 best DORI level reached at each point, 0 = unseen.
    demand_weight : (N,) float64 weight of each point.
    spacing_m : demand sampling spacing, metres (the size of a drawn road cell).
    cam_origin : (K, 3) float64 lens position of each chosen camera, metres.
    cam_ground_z : (K,) float64 foot of each camera's pole, metres.
    cam_heading_deg : (K,) float64 heading, clockwise from grid north.
    cam_tilt_deg : (K,) float64 tilt below the horizon.
    cam_existing : (K,) bool, an installed camera that was kept.
    cam_ids : the id of each chosen camera.
    hfov_deg, vfov_deg, range_m : the camera model's fields of view and range.
    k : cameras a point needs to count as seen (``demand_level`` is the level k of them
        give); 1 in scenes saved before it was recorded.
    min_level : the DORI level (1..4) a point must be seen at to count; 1 in scenes saved
        before it was recorded. ``range_m`` is the distance that level reaches.
    demand_partial : (N,) bool, with ``k`` > 1 the points some chosen camera sees (at any
        level) but fewer than k do;
        None when not recorded.
    """

    title: str
    crs: str
    occ_vertices: FloatArray
    occ_faces: IntArray
    occ_kind: Int8Array
    road_vertices: FloatArray
    road_faces: IntArray
    demand_xyz: FloatArray
    demand_ground_z: FloatArray
    demand_level: Int8Array
    demand_weight: FloatArray
    spacing_m: float
    cam_origin: FloatArray
    cam_ground_z: FloatArray
    cam_heading_deg: FloatArray
    cam_tilt_deg: FloatArray
    cam_existing: BoolArray
    cam_ids: tuple[str, ...]
    hfov_deg: float
    vfov_deg: float
    range_m: float
    k: int = 1
    min_level: int = 1
    demand_partial: BoolArray | None = None

    def save(self, path: str | Path) -> None:
        """Write the scene as one compressed ``.npz`` (plain arrays, no pickle)."""
        arrays: dict[str, Any] = {"format_version": np.array(_SCENE_VERSION)}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue  # an optional field not recorded: absent from the file
            if f.name == "cam_ids":
                arrays[f.name] = np.array(value, dtype=str).reshape(len(value))
            elif isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                arrays[f.name] = np.array(value)
        with Path(path).open("wb") as fh:
            np.savez_compressed(fh, **arrays)

    @staticmethod
    def load(path: str | Path) -> Scene:
        """Read a scene written by :meth:`save`.

        Raises
        ------
        InputFileError : the file is missing, not an npz, or lacks a field.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if "format_version" not in data:
                    raise KeyError("format_version")
                version = int(data["format_version"])
                if version != _SCENE_VERSION:
                    who = "a newer" if version > _SCENE_VERSION else "an older"
                    raise InputFileError(
                        f"{path}: written by {who} placement (scene format {version}; this "
                        f"one reads {_SCENE_VERSION}): make it again with `placement run`"
                        + (", or update placement" if version > _SCENE_VERSION else "")
                    )
                values: dict[str, Any] = {}
                for f in fields(Scene):
                    if f.name not in data:
                        if f.name in _OPTIONAL:
                            continue  # an older scene, or a field not recorded: the default
                        raise KeyError(f.name)
                    a = data[f.name]
                    if f.name == "cam_ids":
                        values[f.name] = tuple(str(s) for s in a.tolist())
                    elif f.name in ("title", "crs"):
                        values[f.name] = str(a)
                    elif f.name in ("spacing_m", "hfov_deg", "vfov_deg", "range_m"):
                        values[f.name] = float(a)
                    elif f.name in ("k", "min_level"):
                        values[f.name] = int(a)
                    elif f.name == "demand_partial":
                        values[f.name] = a.astype(bool)
                    else:
                        values[f.name] = a
        except KeyError as e:
            raise InputFileError(
                f"{path}: not a placement scene (it has no {e.args[0]} array)"
            ) from None
        except InputFileError:
            raise
        except FileNotFoundError:
            raise InputFileError(f"{path}: no such file") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            # numpy's own words here can advise loading the file with pickles: not passed on.
            log.debug("cannot read %s: %r", path, e)
            raise InputFileError(
                f"{path}: damaged, or not a placement scene; make it again with `placement run`"
            ) from None
        problem = _inconsistent(values)
        if problem:
            raise InputFileError(
                f"{path}: not a consistent placement scene ({problem}); make it again with "
                "`placement run`"
            )
        return Scene(**values)

    @property
    def n_cameras(self) -> int:
        return len(self.cam_ids)


def _inconsistent(v: dict[str, Any]) -> str | None:
    """What does not fit together in a scene's arrays (a file edited by hand, or pieces of
    two runs), checked before anything is drawn: a face past its mesh's vertices would
    crash the drawing library, not raise."""
    for mesh in ("occ", "road"):
        verts, faces = np.asarray(v[f"{mesh}_vertices"]), np.asarray(v[f"{mesh}_faces"])
        if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
            return f"{mesh}_vertices and {mesh}_faces must be (n, 3)"
        if faces.size and (faces.min() < 0 or faces.max() >= verts.shape[0]):
            return f"{mesh}_faces refer to vertices that do not exist"
    if np.asarray(v["occ_kind"]).shape != (np.asarray(v["occ_faces"]).shape[0],):
        return "occ_kind must have one entry per occluder face"
    n = np.asarray(v["demand_xyz"]).shape[0]
    for name in ("demand_ground_z", "demand_level", "demand_weight", "demand_partial"):
        if name in v and v[name] is not None and np.asarray(v[name]).shape != (n,):
            return f"{name} must have one entry per street point ({n})"
    k = np.asarray(v["cam_origin"]).shape[0]
    for name in ("cam_ground_z", "cam_heading_deg", "cam_tilt_deg", "cam_existing", "cam_ids"):
        if len(v[name]) != k:
            return f"{name} must have one entry per camera ({k})"
    return None


def scene_from(  # noqa: PLR0917 (the pipeline's call; the data arrive positionally)
    city: City,
    demand: Demand,
    levels: npt.ArrayLike,
    options: Options,
    chosen: npt.ArrayLike,
    camera: Camera,
    *,
    title: str,
    ids: tuple[str, ...] | list[str] | None = None,
    margin_m: float | None = None,
    k: int = 1,
    min_level: int = 1,
    partial: BoolArray | None = None,
) -> Scene:
    """Collect what a picture of a result needs.

    Parameters
    ----------
    city : the loaded city (occluders and roads are drawn).
    demand : the N demand points.
    levels : (N,) int8 best DORI level at each point with the chosen cameras, 0 = unseen.
    options : every camera option.
    chosen : (K,) rows of ``options`` that were chosen.
    camera : the camera model (mount height, fields of view, range).
    title : the picture's title.
    ids : (K,) camera ids; "cam-001"... when omitted.
    margin_m : city geometry farther than this from every demand point and camera is left
        out of the picture (default: the camera range); None keeps the default.
    k : cameras a point needs to count as seen (``levels`` being the level k of them give).
    min_level : the DORI level (1..4) a point must be seen at to count; the view volumes
        are drawn to the distance it reaches.
    partial : (N,) bool, with k > 1 the points seen at ``min_level`` by fewer than k
        chosen cameras but at least one (drawn apart from those nobody sees).

    Returns
    -------
    The :class:`Scene`.
    """
    chosen = np.asarray(chosen, np.int64).reshape(-1)
    levels = np.asarray(levels, np.int8)
    if levels.shape != (len(demand),):
        raise OptionError(
            f"scene_from: {len(demand)} demand points but levels has shape {levels.shape}"
        )
    if chosen.size and (chosen.min() < 0 or chosen.max() >= len(options)):
        raise OptionError(
            f"scene_from: chosen holds rows outside the {len(options)} options "
            f"({int(chosen.min())}..{int(chosen.max())})"
        )
    n_cameras = chosen.shape[0]
    if ids is None:
        width = max(3, len(str(n_cameras)))
        ids = [f"cam-{i:0{width}d}" for i in range(1, n_cameras + 1)]
    if len(ids) != n_cameras:
        raise OptionError(f"scene_from: {len(ids)} ids for {n_cameras} chosen cameras")
    if partial is not None and np.shape(partial) != (len(demand),):
        raise OptionError(
            f"scene_from: {len(demand)} demand points but partial has shape {np.shape(partial)}"
        )
    origin = options.origin[chosen].astype(np.float64)
    margin = float(camera.range_m if margin_m is None else margin_m)
    occ = _crop(city.occluders, demand.xyz, origin, margin)
    roads = _crop(city.roads, demand.xyz, origin, margin)
    return Scene(
        title=title,
        crs=city.crs,
        occ_vertices=occ.vertices.astype(np.float64),
        occ_faces=occ.faces.astype(np.int32),
        occ_kind=occ.kind.astype(np.int8),
        road_vertices=roads.vertices.astype(np.float64),
        road_faces=roads.faces.astype(np.int32),
        demand_xyz=demand.xyz.astype(np.float64),
        demand_ground_z=demand.ground_z.astype(np.float64),
        demand_level=levels,
        demand_weight=demand.weight.astype(np.float64),
        spacing_m=float(demand.spacing_m),
        cam_origin=origin,
        cam_ground_z=_ground_under(city, origin),
        cam_heading_deg=options.heading_deg[chosen].astype(np.float64),
        cam_tilt_deg=options.tilt_deg[chosen].astype(np.float64),
        cam_existing=options.existing[chosen].astype(bool),
        cam_ids=tuple(str(i) for i in ids),
        hfov_deg=float(camera.hfov_deg),
        vfov_deg=float(camera.vfov_deg),
        # Draw the distance at which a camera's view counts (pixel density), not the nominal
        # range.
        range_m=float(camera.max_distance_for_level(min_level)),
        k=int(k),
        min_level=int(min_level),
        demand_partial=None if partial is None else np.asarray(partial, bool).reshape(-1),
    )


def _ground_under(city: City, origin: FloatArray) -> FloatArray:
    """Ground height under each camera (the pole's foot), from the roads if any."""
    if origin.shape[0] == 0:
        return np.zeros(0)
    mesh = city.roads if city.roads.n_triangles else city.occluders
    if not mesh.n_triangles:
        return origin[:, 2] - 6.0
    return np.minimum(height_at(mesh, origin[:, :2]), origin[:, 2])


def _crop(mesh: Mesh, points: FloatArray, cameras: FloatArray, margin_m: float) -> Mesh:
    """The triangles of ``mesh`` whose centroid lies in the box around the points + margin."""
    if not mesh.n_triangles:
        return mesh
    xy = np.concatenate([points[:, :2], cameras[:, :2]])
    if not xy.shape[0]:
        return mesh
    lo = xy.min(axis=0) - margin_m
    hi = xy.max(axis=0) + margin_m
    centroid = mesh.vertices[mesh.faces][:, :, :2].mean(axis=1)
    inside = np.all((centroid >= lo) & (centroid <= hi), axis=1)
    return mesh if inside.all() else mesh.select(inside)
