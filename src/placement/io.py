"""Output files of a run: GeoJSON, CSV and summary JSON (the Markdown report is
:mod:`placement.report`).

Everything a run writes except pictures and the report. Files are first written into a
staging directory beside the output directory (:func:`staged_output`) and moved into place
only when the whole run succeeded, so a failed run never leaves a half-written result
behind.

GeoJSON follows RFC 7946: longitude, latitude and height. Coordinates are converted from the
metric CRS of the model to JGD2011 geographic (EPSG:6668, :func:`placement.crs.to_lonlat`).
JGD2011 is tied to ITRF94 and agrees with WGS84 to within a few centimetres in Japan, so the
RFC's WGS84 requirement holds at the precision written here (1e-7 degrees is about 1 cm).
Heights stay orthometric, in the same datum as the model (RFC 7946 leaves the datum of the
third coordinate open).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from placement.camera import Camera
from placement.crs import to_lonlat
from placement.errors import OptionError
from placement.model import Demand, FloatArray, Int8Array, IntArray, Options, SurfaceKind
from placement.optimise import LEVEL_NAMES

log = logging.getLogger(__name__)


#: Columns of cameras.csv, in order; the GeoJSON properties are the same minus lon/lat.
CAMERA_COLUMNS: tuple[str, ...] = (
    "id",
    "site_id",
    "existing",
    "lon",
    "lat",
    "x_m",
    "y_m",
    "height_m",
    "mount_height_m",
    "heading_deg",
    "tilt_deg",
    "hfov_deg",
    "vfov_deg",
    "range_m",
    "camera",
    "cost",
    "covered_weight",
    "loss_weight",
    "crs",
)


class SparseLike(Protocol):
    """A scipy.sparse matrix or array (only what :func:`write_coverage_geojson` uses)."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    def tocsc(self) -> Any: ...


# --------------------------------------------------------------------------------------
# Staging


def check_writable(out_dir: Path) -> None:
    """Fail early, before any work, when ``out_dir`` cannot receive a run's files.

    Raises
    ------
    OptionError : ``out_dir`` is a file, lies under a file, or its folder (or the nearest
        folder that exists above it) does not let a folder be made in it.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink() and not out_dir.exists():
        raise OptionError(
            f"{out_dir}: a symbolic link to {out_dir.readlink()}, which does not exist"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"{out_dir}: the output path exists and is not a directory")
    probe_in = [out_dir] if out_dir.is_dir() else []
    anc = out_dir.absolute().parent
    while not anc.exists() and anc.parent != anc:
        anc = anc.parent
    if not anc.is_dir():
        raise OptionError(f"{out_dir}: cannot write: {anc} is not a directory")
    probe_in.append(anc)
    for d in probe_in:  # the staging folder goes beside out_dir; the files into it
        try:
            probe = tempfile.mkdtemp(prefix=".placement-probe-", dir=d)
        except OSError as e:
            raise OptionError(f"{out_dir}: cannot write: {e.strerror or e} ({d})") from None
        with contextlib.suppress(OSError):
            Path(probe).rmdir()


@contextlib.contextmanager
def staged_output(out_dir: Path, retire: Iterable[str] = ()) -> Iterator[Path]:
    """Write a run's files into a staging directory, then move them into ``out_dir``.

    Parameters
    ----------
    out_dir : the final output directory; created if missing.
    retire : names of files a run may write: those this run did not write are removed
        from ``out_dir`` with the move (and put back if it fails), so a folder never holds
        one run's results beside an earlier run's picture. A name may be a folder (an
        earlier sweep's run folder): it goes the same way.

    Yields
    ------
    A fresh empty directory on the same filesystem as ``out_dir``. On a clean exit every
    entry in it is moved into ``out_dir`` with :func:`os.replace` (each file appears
    complete; files of the same name are replaced, others in ``out_dir`` are kept). On an
    exception the staging directory is removed and ``out_dir`` is left as it was: untouched
    if it existed, absent if it did not. When a move fails (a file that cannot be
    replaced), the moves already made are undone, so ``out_dir`` never mixes two runs.

    Raises
    ------
    OptionError : ``out_dir`` exists and is not a directory, or cannot be written.
    """
    out_dir = Path(out_dir)
    check_writable(out_dir)
    parent = out_dir.absolute().parent
    created = _missing_ancestors(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=parent))
    except OSError as e:
        _remove_empty(created)
        raise OptionError(f"{out_dir}: cannot write: {e.strerror or e}") from None
    try:
        try:
            yield staging
        except OSError as e:
            if not _writing_failed(e, staging):
                raise
            what = Path(e.filename).name if e.filename else None
            raise OptionError(
                f"{out_dir}: cannot write the results: {e.strerror or e}"
                f"{f' ({what})' if what else ''}; the folder is left as it was"
            ) from None
        made_out = not out_dir.exists()
        try:
            out_dir.mkdir(exist_ok=True)
            _swap_in(staging, out_dir, retire)
        except OSError as e:
            if made_out:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            raise OptionError(
                f"{out_dir}: cannot write the results: {e.strerror or e}"
                f"{f' ({e.filename})' if e.filename else ''}; the folder is left as it was"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    log.debug("moved staged output into %s", out_dir)


#: The errors of a write that the disk refused (full, over quota, file too large, read
#: only): the user's to fix, not a fault of this program.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def _writing_failed(e: OSError, staging: Path) -> bool:
    """``e`` is the failure of writing the results (into ``staging``, or the disk's)."""
    if e.errno in _DISK_ERRNOS:
        return True
    if not e.filename:
        return False
    try:
        Path(e.filename).absolute().relative_to(staging.absolute())
    except ValueError:
        return False
    return True


def _swap_in(staging: Path, out_dir: Path, retire: Iterable[str] = ()) -> None:
    """Move every entry of ``staging`` into ``out_dir``, all or none: the entries they
    replace, and the files named in ``retire`` that no entry replaces, are first set aside
    in ``staging`` and put back if any move fails."""
    entries = sorted(e for e in staging.iterdir() if e.name != _OLD)
    old = staging / _OLD
    old.mkdir()
    aside: list[str] = []
    placed: list[str] = []
    try:
        new_names = {e.name for e in entries}
        for name in sorted(_retired(out_dir, retire) - new_names):
            stale = out_dir / name
            stale.replace(old / name)
            aside.append(name)
            log.info("removed %s: an earlier run wrote it and this one does not", stale)
        for entry in entries:
            target = out_dir / entry.name
            if target.exists() or target.is_symlink():
                target.replace(old / entry.name)
                aside.append(entry.name)
            entry.replace(target)  # os.replace: atomic within one filesystem
            placed.append(entry.name)
    except OSError:
        for name in placed:
            with contextlib.suppress(OSError):
                (out_dir / name).replace(staging / name)
        for name in aside:
            with contextlib.suppress(OSError):
                (old / name).replace(out_dir / name)
        raise


def _retired(out_dir: Path, retire: Iterable[str]) -> set[str]:
    """The entries of ``out_dir`` that ``retire`` names (see :func:`staged_output`)."""
    return {name for name in retire if os.path.lexists(out_dir / name)}


#: The folder inside the staging folder that holds the entries a run replaces.
_OLD = ".replaced"


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders this run made (deepest first), where they are still empty."""
    for d in created:
        with contextlib.suppress(OSError):
            d.rmdir()


def _missing_ancestors(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    return missing


# --------------------------------------------------------------------------------------
# Cameras


#: The generated camera ids, "cam-" and a number.
_CAM_ID = re.compile(r"cam-(\d+)")


def camera_ids(n: int, own: Sequence[str | None] | None = None) -> list[str]:
    """Stable ids of ``n`` chosen cameras: "cam-001", "cam-002", ... (wider when n > 999).

    ``own`` gives, camera by camera, an id of its own to keep (an installed camera's id in
    the ``--existing`` file, which a run's cameras file read back carries) or None; the
    others are numbered in order, skipping the numbers kept ids already take.
    """
    own = list(own) if own is not None else [None] * n
    if len(own) != n:
        raise ValueError(f"{len(own)} own ids for {n} cameras")
    # Numbers kept ids take, whatever their width: no cam-0001 beside an installed cam-001.
    taken = {int(m.group(1)) for i in own if i is not None and (m := _CAM_ID.fullmatch(i))}
    width = max(3, len(str(n + len(taken))))
    out: list[str] = []
    k = 0
    for mine in own:
        if mine is not None:
            out.append(mine)
            continue
        k += 1
        while k in taken:
            k += 1
        out.append(f"cam-{k:0{width}d}")
    return out


def camera_rows(
    *,
    crs: str,
    options: Options,
    chosen: IntArray,
    site_ids: Sequence[str],
    camera: Camera,
    covered_weight: FloatArray,
    ids: Sequence[str],
    ground_z: FloatArray | None = None,
    loss_weight: FloatArray | None = None,
) -> list[dict[str, Any]]:
    """One dict per chosen camera with the columns of :data:`CAMERA_COLUMNS`.

    Parameters
    ----------
    crs : the metric CRS of ``options.origin``.
    options : every camera option.
    chosen : (K,) rows of ``options`` that were chosen.
    site_ids : (K,) the site id of each chosen camera (``Sites.ids[options.site[chosen]]``).
    camera : the camera model (fields of view and range).
    covered_weight : (K,) demand weight each chosen camera sees.
    ids : (K,) the id of each chosen camera (see :func:`camera_ids`).
    ground_z : (K,) the ground height under each chosen camera, for ``mount_height_m`` (the
        lens height above it; null when not given).
    loss_weight : (K,) the demand weight that would stop counting without each camera
        (what it alone adds; ``covered_weight`` counts points other cameras see too); null
        when not given.
    """
    chosen = np.asarray(chosen, np.int64)
    k = chosen.shape[0]
    if len(ids) != k or len(site_ids) != k or np.shape(covered_weight) != (k,):
        raise ValueError(
            f"cameras: {k} chosen options but {len(ids)} ids, {len(site_ids)} site ids and "
            f"{np.shape(covered_weight)} covered weights"
        )
    origin = options.origin[chosen]
    lon, lat = to_lonlat(origin[:, 0], origin[:, 1], crs)
    cols: dict[str, list[Any]] = {
        "lon": np.round(lon, 7).tolist(),
        "lat": np.round(lat, 7).tolist(),
        # Millimetres: a run's cameras file reads back as the same lenses (sites.read_sites).
        # Full precision: read back as --existing, a lens a millimetre off can lose a
        # grazing view (Osaka 51357353: one camera saw 209 points, not 210).
        "x_m": origin[:, 0].astype(np.float64).tolist(),
        "y_m": origin[:, 1].astype(np.float64).tolist(),
        "height_m": origin[:, 2].astype(np.float64).tolist(),
        "mount_height_m": [None] * k
        if ground_z is None
        else np.round(origin[:, 2] - np.asarray(ground_z, np.float64), 3).tolist(),
        "heading_deg": options.heading_deg[chosen].astype(np.float64).tolist(),
        "tilt_deg": options.tilt_deg[chosen].astype(np.float64).tolist(),
        "existing": options.existing[chosen].astype(bool).tolist(),
        "cost": options.cost[chosen].astype(np.float64).tolist(),
        "covered_weight": np.round(np.asarray(covered_weight, np.float64), 4).tolist(),
        "loss_weight": [None] * k
        if loss_weight is None
        else np.round(np.asarray(loss_weight, np.float64), 4).tolist(),
        "site_id": [str(s) for s in site_ids],
        "id": list(ids),
    }
    const = {
        "hfov_deg": float(camera.hfov_deg),
        "vfov_deg": float(camera.vfov_deg),
        "range_m": float(camera.range_m),
        "camera": str(camera.name),
        "crs": crs,
    }
    rows = []
    for i in range(k):  # one row per chosen camera: a few hundred at most
        row = {c: cols[c][i] if c in cols else const[c] for c in CAMERA_COLUMNS}
        rows.append(row)
    return rows


def write_cameras_geojson(
    path: Path,
    *,
    crs: str,
    options: Options,
    chosen: IntArray,
    site_ids: Sequence[str],
    camera: Camera,
    covered_weight: FloatArray,
    ids: Sequence[str],
    ground_z: FloatArray | None = None,
    loss_weight: FloatArray | None = None,
) -> None:
    """Write the chosen cameras as an RFC 7946 FeatureCollection of 3D Points.

    Each Point is ``[lon, lat, lens height]``; the properties are :data:`CAMERA_COLUMNS`
    without lon/lat (``height_m`` is the lens elevation in the model's height datum,
    ``mount_height_m`` its height above the ground, ``x_m``/``y_m`` the position in
    ``crs``). Parameters are those of :func:`camera_rows`.
    """
    rows = camera_rows(
        crs=crs,
        options=options,
        chosen=chosen,
        site_ids=site_ids,
        camera=camera,
        covered_weight=covered_weight,
        ids=ids,
        ground_z=ground_z,
        loss_weight=loss_weight,
    )
    features = []
    for row in rows:
        props = {k: v for k, v in row.items() if k not in ("lon", "lat")}
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {
                    "type": "Point",
                    "coordinates": [row["lon"], row["lat"], row["height_m"]],
                },
                "properties": props,
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, allow_nan=False) + "\n", "utf-8")


def write_cameras_csv(
    path: Path,
    *,
    crs: str,
    options: Options,
    chosen: IntArray,
    site_ids: Sequence[str],
    camera: Camera,
    covered_weight: FloatArray,
    ids: Sequence[str],
    ground_z: FloatArray | None = None,
    loss_weight: FloatArray | None = None,
) -> None:
    """Write the chosen cameras as CSV with the columns of :data:`CAMERA_COLUMNS`.

    Parameters are those of :func:`camera_rows`. Booleans are written ``true``/``false``.
    """
    rows = camera_rows(
        crs=crs,
        options=options,
        chosen=chosen,
        site_ids=site_ids,
        camera=camera,
        covered_weight=covered_weight,
        ids=ids,
        ground_z=ground_z,
        loss_weight=loss_weight,
    )
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(CAMERA_COLUMNS))
        w.writeheader()
        for row in rows:
            w.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


# --------------------------------------------------------------------------------------
# Coverage


def write_coverage_geojson(
    path: Path,
    *,
    crs: str,
    demand: Demand,
    seen_by: SparseLike | Sequence[Sequence[str]],
    level: Int8Array | None = None,
    ids: Sequence[str] = (),
    min_level: int = 1,
    road_ids: Sequence[str | None] | None = None,
) -> None:
    """Write one 3D Point per demand point with who sees it and how well.

    Parameters
    ----------
    path : the file to write.
    crs : the metric CRS of ``demand.xyz``.
    demand : N demand points.
    seen_by : either a sparse matrix (K chosen cameras x N points, entry = DORI level
        1..4, 0 / absent = unseen), e.g. ``coverage.matrix[plan.chosen]``, whose row i is
        camera ``ids[i]``; or, per point, the list of camera ids that see it.
    level : (N,) int8 best DORI level reached at each point (0 = unseen). Computed from a
        sparse ``seen_by`` when omitted.
    ids : (K,) camera id of each row of a sparse ``seen_by``.
    min_level : a camera is listed in ``seen_by`` when it sees the point at this DORI
        level or better.
    road_ids : (N,) the gml:id of the road surface each point lies on (None: unknown);
        the ``road_id`` property is left out when not given.

    Notes
    -----
    Properties: ``index`` (row of the demand arrays), ``z_m`` (target point height),
    ``ground_z_m``, ``weight``, ``kind`` ("road" / "sidewalk"), ``road_id``, ``seen_by``
    (list of camera ids), ``level`` (1..4 or null when unseen), ``level_name``
    ("detection" ... "identification" or null) and ``covered`` (``level`` reaches
    ``min_level``: the point counts as seen by the run's requirement). The text is
    assembled with string joins rather than one dict per point because this file is
    written for 100k+ points.
    """
    n = len(demand)
    lists, best = _seen_lists(seen_by, n, ids, min_level)
    if level is None:
        if best is None:
            raise ValueError("coverage: level is required when seen_by is a list of lists")
        level = best
    level = np.asarray(level, np.int8)
    if level.shape != (n,):
        raise ValueError(f"coverage: {n} demand points but level has shape {level.shape}")

    lon, lat = to_lonlat(demand.xyz[:, 0], demand.xyz[:, 1], crs)
    lon_s = _fmt(lon, 7)
    lat_s = _fmt(lat, 7)
    z_s = _fmt(demand.xyz[:, 2], 2)
    g_s = _fmt(demand.ground_z, 2)
    w_s = _fmt(demand.weight, 6)
    kind_names = {
        int(k): json.dumps(SurfaceKind(int(k)).name.lower()) for k in np.unique(demand.kind)
    }
    kind_s = [kind_names[k] for k in demand.kind.tolist()]
    lvl_num = ["null", "1", "2", "3", "4"]
    lvl_name = ["null", *(json.dumps(s) for s in LEVEL_NAMES)]
    lvl = np.clip(level, 0, 4).tolist()
    covered = ["true" if c else "false" for c in (level >= max(min_level, 1)).tolist()]
    if road_ids is None:
        road_s = [""] * n
    else:
        if len(road_ids) != n:
            raise ValueError(f"coverage: {n} demand points but {len(road_ids)} road ids")
        names = {r: f'"road_id":{json.dumps(r, ensure_ascii=False)},' for r in set(road_ids)}
        road_s = [names[r] for r in road_ids]

    head = '{"type":"Feature","geometry":{"type":"Point","coordinates":['
    parts = [
        f'{head}{lon_s[i]},{lat_s[i]},{z_s[i]}]}},"properties":{{"index":{i},'
        f'"z_m":{z_s[i]},"ground_z_m":{g_s[i]},"weight":{w_s[i]},"kind":{kind_s[i]},'
        f'{road_s[i]}"seen_by":[{lists[i]}],"level":{lvl_num[lvl[i]]},'
        f'"level_name":{lvl_name[lvl[i]]},"covered":{covered[i]}}}}}'
        for i in range(n)
    ]
    with Path(path).open("w", encoding="utf-8") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(parts))
        f.write("\n]}\n")


#: Columns of ``streets.csv``, one row per road surface feature with demand points.
STREET_COLUMNS = (
    "road_id",
    "class",
    "street_id",
    "points",
    "weight",
    "covered_weight",
    "covered_fraction",
    "uncovered_weight",
    "lon",
    "lat",
)


def write_streets_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write the per-street coverage rows (:data:`STREET_COLUMNS`) as CSV."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(STREET_COLUMNS))
        w.writeheader()
        for row in rows:
            w.writerow({c: row[c] for c in STREET_COLUMNS})


def _fmt(values: npt.ArrayLike, decimals: int) -> list[str]:
    """Shortest decimal text of each value rounded to ``decimals``; "null" when not finite."""
    a = np.round(np.asarray(values, np.float64), decimals)
    out = [repr(v) for v in a.tolist()]
    bad = np.flatnonzero(~np.isfinite(a))
    for i in bad.tolist():
        out[i] = "null"
    return out


def _seen_lists(
    seen_by: SparseLike | Sequence[Sequence[str]],
    n: int,
    ids: Sequence[str],
    min_level: int,
) -> tuple[list[str], Int8Array | None]:
    """Per point, the JSON text of its camera-id list (without brackets), and the best level."""
    if hasattr(seen_by, "tocsc"):
        m = seen_by.tocsc()
        if m.shape[1] != n or m.shape[0] != len(ids):
            raise ValueError(
                f"coverage: seen_by has shape {m.shape} but there are {len(ids)} camera ids "
                f"and {n} demand points"
            )
        m.sum_duplicates()
        data = np.asarray(m.data).astype(np.int8)
        rows = np.asarray(m.indices)
        indptr = np.asarray(m.indptr)
        best = np.zeros(n, np.int8)
        counts = np.diff(indptr)
        nz = counts > 0
        if data.size:
            best[nz] = np.maximum.reduceat(data, indptr[:-1][nz])
        keep = data >= min_level
        quoted = np.array([json.dumps(s, ensure_ascii=False) for s in ids], dtype=object)
        names = quoted[rows[keep]]
        # Split the kept entries back per point (column) by their new offsets.
        col = np.repeat(np.arange(n), counts)[keep]
        bounds = np.searchsorted(col, np.arange(n + 1))
        listed = names.tolist()
        lists = [",".join(listed[bounds[j] : bounds[j + 1]]) for j in range(n)]
        return lists, best
    seq = list(seen_by)
    if len(seq) != n:
        raise ValueError(f"coverage: seen_by has {len(seq)} lists but there are {n} points")
    return [",".join(json.dumps(s, ensure_ascii=False) for s in cams) for cams in seq], None


# --------------------------------------------------------------------------------------
# Summary and report


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, paths, enums and dataclasses made plain JSON.

    Non-finite floats become None (JSON null); mapping keys become strings.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj))
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return str(obj)


def write_summary_json(path: Path, summary: Mapping[str, Any]) -> None:
    """Write ``summary`` as indented JSON with sorted keys (numpy types converted, NaN -> null)."""
    text = json.dumps(
        jsonable(summary), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
    )
    Path(path).write_text(text + "\n", "utf-8")


def _multipolygon_ccw(geom: Any) -> Any:
    """``geom``'s polygons as one MultiPolygon (a layer of one geometry type, as GDAL and
    the GeoPackage and shapefile formats want), shells counter-clockwise and holes clockwise
    as RFC 7946 asks (GEOS's overlays return them the other way round)."""
    import shapely
    from shapely.geometry.polygon import orient

    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon([orient(p, 1.0) for p in parts])


def write_areas_geojson(
    path: Path, *, crs: str, features: Sequence[tuple[Any, Mapping[str, Any]]]
) -> None:
    """Write MultiPolygons in lon/lat, one feature per (geometry, properties) pair.

    ``geometry`` is a shapely (Multi)Polygon in the metric ``crs`` (an empty one is
    written with a null geometry); coordinates are rounded to 7 decimals (about 1 cm),
    shells counter-clockwise (RFC 7946)."""
    import shapely

    def lonlat(xy: FloatArray) -> FloatArray:
        lon, lat = to_lonlat(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    def rounded(obj: Any) -> Any:
        if isinstance(obj, tuple | list):
            if obj and isinstance(obj[0], float):
                return [round(v, 7) for v in obj]
            return [rounded(o) for o in obj]
        return obj

    out = []
    for geom, props in features:
        g = None
        if geom is not None and not geom.is_empty:
            # Snapped to the 1e-7 degree grid by GEOS, which keeps the polygons valid
            # (rounding each coordinate alone can make a ring cross itself).
            ll = shapely.set_precision(shapely.transform(geom, lonlat), 1e-7)
            ll = _multipolygon_ccw(ll)
            if not ll.is_empty:
                g = shapely.geometry.mapping(ll)
                g = {"type": g["type"], "coordinates": rounded(g["coordinates"])}
        feature = {"type": "Feature", "geometry": g, "properties": jsonable(dict(props))}
        text = json.dumps(feature, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        out.append(text)
    with Path(path).open("w", encoding="utf-8") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(out))
        f.write("\n]}\n")
