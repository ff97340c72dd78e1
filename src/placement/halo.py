"""The halo: occluders of the neighbouring tiles that stand within a camera's reach.

A camera near the edge of a tile looks across it, and the buildings of the next tile are
in the way of some of its views. Those files are not inputs, so without a halo the camera
sees straight through them. :func:`find_halo_files` finds them beside the inputs by their
PLATEAU names (mesh code, kind); :func:`load_halo` reads them with the ordinary loader and
keeps only the occluder triangles near the inputs' data. The pipeline adds those triangles
to the occluder mesh for the visibility stage ONLY: they create no sites, no demand points,
and are not drawn.

Which files
-----------
For every input file whose name starts with a mesh code (``51357362_tran_6697_op.gml``),
the folder it is in is searched (and, in a PLATEAU ``udx/<kind>/`` layout, ``udx/bldg``,
``udx/veg``, ``udx/brid`` and ``udx/cons`` too) for ``bldg`` files, and ``veg`` / ``brid`` /
``cons`` / ``tran`` files when a file of that kind is an input, whose mesh square touches an
input's square (shares an edge or a corner: the 8 neighbours at the same level, or finer /
coarser squares along the border) and does not overlap an input square of the same kind
(that data is already loaded). Input files are never halo. Zip inputs are skipped: a zip is
loaded whole, so its neighbours are already inputs.

The folder is the one the input was named in, not the one a symbolic link points to: in a
git-annex or DVC checkout the links' targets sit in a store under hashed names, and the
neighbours are the links beside the input.

Only the finest input squares count as centres: an input square that holds a finer input
square (a DEM named by its 2nd-level, 10 km square beside 1 km ``bldg`` tiles) adds no
border of its own, since its tiles' borders already cover where the sight lines run. An
input square that holds no finer input square (all inputs at one level, or a coarse input
apart from the others) is a centre.

Why the margin is safe
----------------------
Every sight line runs from a camera to a demand point within the camera's reach (slant
distance, so also in plan). Demand points lie on the inputs' roads, so every sight line
lies within ``reach`` (in plan) of the inputs' bounding box; a triangle whose bounding box
stays farther than that from it can block nothing, and is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from placement._hashing import file_sha256
from placement.camera import Camera
from placement.citygml import expand_inputs, read_citygml
from placement.errors import CityGMLError, OptionError
from placement.meshcode import MeshSquare, split_tile_name
from placement.model import City, Mesh

__all__ = [
    "HALO_EXTRA_M",
    "Halo",
    "HaloFile",
    "find_halo_files",
    "halo_margin_m",
    "load_halo",
    "resolve_halo",
]

log = logging.getLogger(__name__)

#: Added to the camera's reach to make the halo margin, metres.
HALO_EXTRA_M = 5.0

#: Halo files smaller than this in total are parsed in this process: a process pool's set-up
#: costs more than it saves (8 Osaka neighbours, 10 MB: 0.17 s alone, 0.22 s with 2 workers).
PARALLEL_MIN_BYTES = 32 << 20


@dataclass(frozen=True)
class HaloFile:
    """One file of the halo: where it is, its digest, and how much of it was kept."""

    path: str
    bytes: int
    sha256: str
    triangles: int
    kept: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "triangles": self.triangles,
            "kept_triangles": self.kept,
        }


@dataclass(frozen=True)
class Halo:
    """Occluders borrowed from neighbouring tiles.

    Attributes
    ----------
    mesh : the kept occluder triangles in the city CRS; ``feature`` is -1 everywhere (they
        belong to no row of ``City.features``), ``kind`` is the loader's surface kind.
    files : the files read, in a stable order.
    skipped : one line per halo file that could not be read (and was left out).
    margin_m : triangles within this plan distance of the inputs' bounding box were kept.
    mode : the ``halo`` option as given ("auto", "off", or paths).
    """

    mesh: Mesh
    files: tuple[HaloFile, ...] = ()
    skipped: tuple[str, ...] = ()
    margin_m: float = 0.0
    mode: tuple[str, ...] = ()
    #: The neighbours' road surfaces near the inputs (plan polygons): a street that runs on
    #: into the next tile does not end at the inputs' cut, so no kerb pole goes there.
    road_polygons: tuple[Any, ...] = ()
    #: The neighbours' building footprints near the inputs (plan polygons): a building
    #: stored in the next tile that stands over the inputs' road holds no street point
    #: and no kerb pole, as the inputs' own buildings do not.
    footprints: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``halo`` section of summary.json."""
        return {
            "mode": list(self.mode),
            "margin_m": self.margin_m,
            "files": [f.to_dict() for f in self.files],
            "triangles": self.mesh.n_triangles,
            "road_surfaces": len(self.road_polygons),
            "footprints": len(self.footprints),
            "skipped": list(self.skipped),
        }


def halo_margin_m(camera: Camera) -> float:
    """How far from the inputs' data a halo triangle may stand and still matter, metres:
    the camera's reach (range, or where density falls to the detection threshold, whichever
    is nearer) plus :data:`HALO_EXTRA_M`."""
    return camera.max_distance_for_level(1) + HALO_EXTRA_M


def _search_folders(folder: Path, kinds: Sequence[str]) -> list[Path]:
    out = [folder]
    if folder.parent.name.lower() == "udx":
        out.extend(folder.parent / k for k in kinds)
    return out


def find_halo_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The neighbouring tiles' ``bldg`` (and ``veg``, ``brid``, ``cons``) files beside the
    inputs, sorted.

    See the module docstring for the rule. A neighbour square with no file is logged at
    info level; finding nothing at all is fine.
    """
    sources = expand_inputs(paths)
    inputs = {s.path.resolve() for s in sources if s.member is None}
    tiles: list[tuple[MeshSquare, str, Path]] = []
    for s in sources:
        if s.member is not None:
            continue
        parsed = split_tile_name(s.path.name)
        if parsed is not None:
            # The folder as named, not where a link points (a store of hashed names).
            tiles.append((parsed[0], parsed[1], s.path.absolute().parent))
    if not tiles:
        return []
    # Vegetation, bridges and walls only when the inputs have them: the user left them out.
    # Roads too: the neighbours' roads tell a street that runs on from one that ends.
    kinds = ["bldg"] + [
        k for k in ("veg", "brid", "cons", "tran") if any(k == kt for _, kt, _ in tiles)
    ]
    folders: list[Path] = []
    seen: set[Path] = set()
    for _, _, folder in tiles:
        for f in _search_folders(folder, kinds):
            if f.is_dir() and f.resolve() not in seen:  # one folder named two ways: once
                seen.add(f.resolve())
                folders.append(f)
    centres = _centres([t for t, _, _ in tiles])
    # The centres and the squares around them, for set look-ups (a whole city's folder
    # holds thousands of files) when every input and the file are at one level; other
    # levels take the general test.
    levels = {t.level for t, _, _ in tiles}
    around = {n for t in centres for n in t.neighbours()}
    by_kind = {(t, k) for t, k, _ in tiles}
    found: list[tuple[Path, MeshSquare, str]] = []
    for folder in folders:
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() != ".gml" or not f.is_file() or f.resolve() in inputs:
                continue
            parsed = split_tile_name(f.name)
            if parsed is None or parsed[1] not in kinds:
                continue
            square, kind = parsed
            if levels == {square.level}:
                halo = square in around and (square, kind) not in by_kind
            else:
                halo = any(square.touches(t) for t in centres) and not any(
                    k == kind and square.overlaps(t) for t, k, _ in tiles
                )
            if halo:
                found.append((f.resolve(), square, kind))
    _log_missing(centres, tiles, kinds, found)
    if "tran" in kinds and not any(k == "tran" for _, _, k in found):
        # The road tiles with a neighbour that is not an input: one inside a block of
        # inputs has all its streets' ends.
        have = [t for t, k, _ in tiles if k == "tran"]
        roads = sorted(
            {
                t.code
                for t in have
                if any(not any(h.overlaps(n) for h in have) for n in t.neighbours())
            }
        )
    else:
        roads = []
    if roads:
        log.warning(
            "halo: no neighbouring road (tran) file beside %s: where a street runs on into "
            "the next tile, its cut end may get new poles across the road (put the "
            "neighbours' *_tran_* files beside it)",
            ", ".join(roads),
        )
    return sorted({f for f, _, _ in found})


def _centres(squares: Sequence[MeshSquare]) -> list[MeshSquare]:
    """The input squares whose borders the halo is sought along: those that hold no finer
    input square (a 2nd-level DEM square that holds the 3rd-level tiles does not count;
    with all inputs at one level, all count), each once, sorted."""
    unique = sorted(set(squares))
    return [t for t in unique if not any(u.level > t.level and t.overlaps(u) for u in unique)]


def _log_missing(
    centres: list[MeshSquare],
    tiles: list[tuple[MeshSquare, str, Path]],
    kinds: list[str],
    found: list[tuple[Path, MeshSquare, str]],
) -> None:
    missing: set[tuple[str, str]] = set()
    for kind in kinds:
        have = [sq for _, sq, k in found if k == kind] + [t for t, k, _ in tiles if k == kind]
        for t in centres:
            missing.update(
                (kind, n.code) for n in t.neighbours() if not any(h.overlaps(n) for h in have)
            )
    for kind, code in sorted(missing):
        log.info("halo: no %s file for the neighbouring tile %s", kind, code)


def resolve_halo(spec: Sequence[str], paths: Sequence[str | Path]) -> list[Path]:
    """The halo files a ``halo`` option names: "auto" finds them (:func:`find_halo_files`),
    "off" (alone) or nothing means none, anything else is a .gml file or a folder of them.
    Input files are dropped."""
    tokens = list(spec)
    if not tokens or tokens == ["off"]:
        return []
    if "off" in tokens:
        raise OptionError("--halo off cannot be combined with other halo values")
    inputs = {s.path.resolve() for s in expand_inputs(paths) if s.member is None}
    files: set[Path] = set()
    for token in tokens:
        if token == "auto":
            files.update(find_halo_files(paths))
            continue
        for s in expand_inputs(token):
            if s.member is not None:
                raise OptionError(
                    f"--halo {token}: halo files must be .gml files or folders, not zips"
                )
            files.add(s.path.resolve())
    return sorted(files - inputs)


def _read(files: Sequence[Path], crs: str, workers: int) -> tuple[list[City], list[str]]:
    """The halo files loaded (one City for all when every file reads, else one per good
    file) and a line for every file that could not be read."""
    try:
        return [read_citygml(list(files), crs=crs, workers=workers)], []
    except CityGMLError as e:
        if len(files) == 1:
            log.warning("halo: skipping %s", e)
            return [], [str(e)]
        log.debug("halo: a file failed (%s); reading the halo files one by one", e)
    cities: list[City] = []
    skipped: list[str] = []
    for f in files:
        try:
            cities.append(read_citygml(f, crs=crs))
        except CityGMLError as e:
            log.warning("halo: skipping %s", e)
            skipped.append(str(e))
    return cities, skipped


def load_halo(
    files: Sequence[str | Path],
    city: City,
    *,
    margin_m: float,
    workers: int = 1,
    mode: Sequence[str] = ("auto",),
    progress: Callable[[int, int], None] | None = None,
) -> Halo:
    """Read ``files`` into ``city``'s CRS and keep the occluder triangles whose plan
    bounding box comes within ``margin_m`` of the city's plan bounding box.

    Parameters
    ----------
    files : halo CityGML files (see :func:`resolve_halo`).
    city : the loaded inputs; gives the CRS and the bounding box.
    margin_m : plan distance from the city's bounding box, metres (:func:`halo_margin_m`).
    workers : processes that parse files at once, used when the files total at least
        :data:`PARALLEL_MIN_BYTES`.
    mode : the ``halo`` option, recorded in :class:`Halo`.
    progress : called as ``progress(done, total)`` after each group of files.

    A file that cannot be read is skipped with a warning (the run goes on).
    """
    paths = [Path(f).resolve() for f in files]
    if not paths:
        return Halo(Mesh.empty(), margin_m=margin_m, mode=tuple(mode))
    if not margin_m >= 0:
        raise OptionError(f"halo margin must be >= 0 m, got {margin_m}")
    minx, miny, _, maxx, maxy, _ = city.bounds()
    lo = np.array([minx - margin_m, miny - margin_m])
    hi = np.array([maxx + margin_m, maxy + margin_m])
    size = sum(p.stat().st_size for p in paths)
    cities, skipped = _read(paths, city.crs, workers if size >= PARALLEL_MIN_BYTES else 1)
    meshes: list[Mesh] = []
    total: dict[str, int] = {}
    kept: dict[str, int] = {}
    roads: list[Any] = []
    footprints: list[Any] = []
    for hc in cities:
        roads += _near(hc.road_area.polygons, lo, hi)
        footprints += _near(hc.footprints, lo, hi)
        occ = hc.occluders
        tri = occ.vertices[occ.faces][:, :, :2]  # (F, 3, 2)
        near = np.all(tri.min(axis=1) <= hi, axis=1) & np.all(tri.max(axis=1) >= lo, axis=1)
        src = np.where(occ.feature >= 0, hc.features.source[np.maximum(occ.feature, 0)], -1)
        for i, label in enumerate(hc.sources):
            total[label] = int(np.count_nonzero(src == i))
            kept[label] = int(np.count_nonzero(near & (src == i)))
        sub = occ.select(near)
        meshes.append(Mesh(sub.vertices, sub.faces, np.full_like(sub.feature, -1), sub.kind))
        if progress is not None:
            progress(len(meshes), len(cities))
    out = [
        HaloFile(str(p), p.stat().st_size, file_sha256(p), total[str(p)], kept[str(p)])
        for p in paths
        if str(p) in total
    ]
    halo = Halo(
        Mesh.concatenate(meshes),
        tuple(out),
        tuple(skipped),
        margin_m,
        tuple(mode),
        road_polygons=tuple(roads),
        footprints=tuple(footprints),
    )
    log.info(
        "halo: kept %d of %d occluder triangles from %d files (margin %.1f m)",
        halo.mesh.n_triangles,
        sum(total.values()),
        len(out),
        margin_m,
    )
    return halo


def _near(polygons: Sequence[Any], lo: np.ndarray, hi: np.ndarray) -> list[Any]:
    """The plan polygons whose bounding box meets the box ``lo``-``hi``."""
    if not len(polygons):
        return []
    b = shapely.bounds(np.asarray(polygons, object))
    near = (b[:, 0] <= hi[0]) & (b[:, 1] <= hi[1]) & (b[:, 2] >= lo[0]) & (b[:, 3] >= lo[1])
    return [polygons[int(i)] for i in np.flatnonzero(near)]
