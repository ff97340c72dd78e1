"""The coverage result: its matrix, its cache file and the key that names the file."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from placement.camera import Camera
from placement.errors import InputFileError
from placement.model import Demand, Mesh, Options
from placement.visibility._occlusion import END_MARGIN_M, START_MARGIN_M

#: Bumped whenever the meaning or layout of a cached coverage changes. 2: matrices cast by
#: two threads before the packet buffer held Embree's hit record could be wrong; caches of
#: format 1 are not read.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Coverage:
    """Which option sees which demand point, and at what DORI level.

    Attributes
    ----------
    matrix : (n_options, n_points) scipy.sparse.csr_matrix of int8, the best DORI level
        1..4 at which each option sees each point; absent entries are not seen. Column
        indices are sorted within each row.
    n_options, n_points : the matrix shape.
    key : hex sha256 of the inputs (see :func:`coverage_key`).
    stats : counts and timings: ``pairs_in_reach`` (option-point pairs within range and
        density), ``pairs_in_view`` (also inside the field of view), ``segments_tested``
        (Embree queries; options sharing a site share them), ``visible_pairs``,
        ``seconds`` (per phase; worker phases are summed over workers), ``workers``,
        ``chunks``, ``from_cache``.
    """

    matrix: sparse.csr_matrix
    n_options: int
    n_points: int
    key: str
    stats: dict[str, Any] = field(default_factory=dict)

    def seen(self, *, min_level: int = 1) -> sparse.csr_matrix:
        """Boolean (options x points) matrix of the pairs seen at ``min_level`` or better."""
        m = self.matrix >= min_level
        return sparse.csr_matrix(m)

    def save(self, path: str | Path) -> None:
        """Write to an ``.npz`` file (no pickle); written atomically."""
        path = Path(path)
        m = self.matrix
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format_version=np.int64(FORMAT_VERSION),
            data=np.asarray(m.data, np.int8),
            indices=np.asarray(m.indices, np.int32),
            indptr=np.asarray(m.indptr, np.int64),
            shape=np.asarray([self.n_options, self.n_points], np.int64),
            key=np.str_(self.key),
            stats=np.str_(json.dumps(self.stats, sort_keys=True)),
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(buf.getvalue())
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputFileError(f"{path}: cannot write coverage: {exc.strerror or exc}") from None

    @staticmethod
    def load(path: str | Path) -> Coverage:
        """Read a file written by :meth:`save`.

        Raises
        ------
        InputFileError : unreadable, not a coverage file, or another format version.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                version = int(z["format_version"])
                if version != FORMAT_VERSION:
                    raise InputFileError(
                        f"{path}: coverage format {version}, expected {FORMAT_VERSION}"
                    )
                n_options, n_points = (int(x) for x in z["shape"])
                matrix = sparse.csr_matrix(
                    (z["data"], z["indices"], z["indptr"]), shape=(n_options, n_points)
                )
                key = str(z["key"])
                stats = json.loads(str(z["stats"]))
        except InputFileError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise InputFileError(f"{path}: not a readable coverage file: {exc}") from None
        return Coverage(matrix, n_options, n_points, key, stats)


def coverage_key(
    occluders: Mesh,
    options: Options,
    demand: Demand,
    camera: Camera,
    *,
    start_margin_m: float = START_MARGIN_M,
    end_margin_m: float = END_MARGIN_M,
) -> str:
    """Hex sha256 over every input that changes the coverage matrix.

    The occluder vertices and faces, the options' lens positions, headings and tilts,
    the demand points, the camera's fields (all but its name), the margins and
    :data:`FORMAT_VERSION`. Costs, weights and ids do not change which pair is seen and
    are left out so that re-weighting reuses the cache.
    """
    h = hashlib.sha256()
    h.update(f"placement.coverage format {FORMAT_VERSION}\n".encode())

    def add(name: str, a: npt.ArrayLike, dtype: type) -> None:
        arr: npt.NDArray[Any] = np.ascontiguousarray(a, dtype=dtype)
        h.update(f"{name} {arr.dtype.str} {arr.shape}\n".encode())
        h.update(arr.tobytes())

    add("vertices", occluders.vertices, np.float64)
    add("faces", occluders.faces, np.int64)
    add("origin", options.origin, np.float64)
    add("heading", options.heading_deg, np.float64)
    add("tilt", options.tilt_deg, np.float64)
    add("demand", demand.xyz, np.float64)
    cam = camera.to_dict()
    cam.pop("name")
    h.update(json.dumps(cam, sort_keys=True).encode())
    h.update(f"margins {start_margin_m!r} {end_margin_m!r}\n".encode())
    return h.hexdigest()


#: The most bytes of coverage files kept in a cache folder: older ones (by last use) go.
CACHE_MAX_BYTES = 2 * 1024**3


def prune_cache(folder: str | Path, max_bytes: int = CACHE_MAX_BYTES) -> list[Path]:
    """Delete the least recently used ``coverage-*.npz`` files of ``folder`` until the
    rest take at most ``max_bytes`` (the most recent one always stays); returns the
    deleted paths. Files that vanish or cannot be deleted meanwhile (another run) are
    passed over."""
    entries = []
    for f in Path(folder).glob("coverage-*.npz"):
        try:
            st = f.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, f.name, st.st_size, f))
    entries.sort(reverse=True)  # most recently used first
    total = 0
    removed = []
    for _, _, size, f in entries:
        total += size
        if total > max_bytes and total > size:  # the newest stays whatever its size
            try:
                f.unlink()
            except OSError:
                continue
            removed.append(f)
    return removed
