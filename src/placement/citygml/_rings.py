"""Ring coordinates from ``gml:posList`` / ``gml:pos`` text: a fast bulk path and the
exact per-ring one.

Two paths read the rings of a document. The fast one only collects the ``posList`` texts
while the tree is walked and turns tens of thousands of rings into numbers in one
``np.fromstring`` call (per-ring numpy calls were most of the loader's time), then checks
every ring in bulk (:class:`RingBatch`). Anything it cannot vouch for (a ring that is
short, not 3D, not numeric, not finite, a polygon without a ring, ...) raises
:class:`FastPathError`, and the document is read again by the exact path
(:func:`ring_coords` per ring), which drops the bad parts with warnings. Both give the
same result on a document without such problems, so the exact path only costs time on
broken files (and 2D files, whose rings it reads with z = 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

GML = "http://www.opengis.net/gml"
POSLIST = f"{{{GML}}}posList"
POS = f"{{{GML}}}pos"
_GML_PREFIX = f"{{{GML}}}"


class GeometryError(ValueError):
    """A ring or polygon that cannot be used (bad numbers, too few points)."""


class FastPathError(Exception):
    """The fast path met something only the exact per-ring path handles."""


#: The fast path turns its collected texts into numbers after this many rings, so the
#: joined text stays a few megabytes however large the file.
FLUSH_RINGS = 32768


def dimension(attr: str | None) -> int:
    return int(attr) if attr and attr.isdigit() else 3


class RingBatch:
    """Ring texts collected by the fast path, parsed and checked in bulk.

    ``flush`` raises :class:`FastPathError` unless every ring would pass :func:`ring_coords`
    unchanged (3D, numeric, finite, enough distinct points), so accepting a batch never
    changes a result.
    """

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.points: list[int] = []  # rings of furniture points: no closing, 1 point is enough
        self.coords: list[FloatArray] = []
        self.counts: list[IntArray] = []

    def add(self, text: str | None, dim_attr: str | None) -> None:
        if dim_attr is not None and dimension(dim_attr) != 3:
            raise FastPathError
        self.texts.append(text or "")

    def maybe_flush(self) -> None:
        """Parse what was collected once it is :data:`FLUSH_RINGS` rings or more."""
        if len(self.texts) >= FLUSH_RINGS:
            self.flush()

    def flush(self) -> None:
        texts = self.texts
        if not texts:
            return
        # "inf" between the texts marks where each ring ends: the one parse then also
        # counts the numbers of every ring (an inf in the data shows as an extra mark).
        try:
            # One number per whitespace-separated token, or ValueError.
            values = np.fromstring(" inf ".join(texts), sep=" ")
        except ValueError:
            raise FastPathError from None
        is_mark = np.isinf(values)
        marks = np.flatnonzero(is_mark)
        if marks.size != len(texts) - 1:
            raise FastPathError
        n = np.diff(marks, prepend=-1, append=values.size) - 1
        if (n % 3).any() or not n.all():
            raise FastPathError
        values = values[~is_mark]
        pts = values.reshape(-1, 3)
        # Huge values could overflow the per-ring sum the exact path checks: let it decide.
        if not np.isfinite(pts).all() or (pts.size and np.abs(pts).max() >= 1e300):
            raise FastPathError
        npts = n // 3
        end = np.cumsum(npts)
        start = end - npts
        is_point = np.zeros(len(texts), bool)
        is_point[self.points] = True
        # As ring_coords does: a run of equal consecutive points of a ring counts once,
        # then a closing point equal to the first goes (not for furniture points).
        keep = np.ones(pts.shape[0], bool)
        left = npts.copy()
        last = end - 1
        same = (pts[1:] == pts[:-1]).all(axis=1)
        same[start[1:] - 1] = False  # the first point of a ring repeats nothing
        dup = np.flatnonzero(same) + 1
        if dup.size:
            ring_of = np.searchsorted(end, dup, side="right")
            dup, ring_of = dup[~is_point[ring_of]], ring_of[~is_point[ring_of]]
            keep[dup] = False
            left -= np.bincount(ring_of, minlength=len(texts))
            last = np.flatnonzero(keep)[np.cumsum(left) - 1]
        closed = ~is_point & (left >= 2) & (pts[last] == pts[start]).all(axis=1)
        if (closed | is_point).sum() < len(texts):
            # An open ring may be a 2D one read as 3D: the exact path decides (_guess_dim).
            raise FastPathError
        keep[last[closed]] = False
        left -= closed
        if (left < np.where(is_point, 1, 3)).any():
            raise FastPathError
        if not keep.all():
            pts = pts[keep]
        self.coords.append(pts)
        self.counts.append(left.astype(np.int64))
        self.texts.clear()  # in place: callers may hold its bound append
        self.points.clear()


def declared_dim(el: Any) -> int | None:
    """The ``srsDimension`` an element carries or inherits from its GML ancestors (the
    geometry it is part of), or None when none of them says."""
    return declared(el)[0]


def declared(el: Any) -> tuple[int | None, str | None]:
    """The ``srsDimension`` and the ``srsName`` an element carries or inherits from its
    nearest GML ancestors (the geometry it is part of); None where none of them says."""
    dim: int | None = None
    srs: str | None = None
    while el is not None:
        tag = el.tag
        if not (isinstance(tag, str) and tag.startswith(_GML_PREFIX)):
            break
        if dim is None:
            attr = el.get("srsDimension")
            if attr is not None:
                dim = dimension(attr)
        if srs is None:
            srs = el.get("srsName")
        if dim is not None and srs is not None:
            break
        el = el.getparent()
    return dim, srs


def _guess_dim(a: FloatArray, default: int, *, ring: bool) -> int:
    """Coordinates per point of numbers ``a`` that no srsDimension declares: the file's
    ``default``, unless only the other of 2 and 3 reads them as a closed ring (GML rings
    end on their first point), or, for points and curves, only it divides their count. A
    2D geometry in a 3D file (or the reverse, under a 2D envelope) is then read right."""
    other = {2: 3, 3: 2}.get(default)
    if other is None:
        return default

    def closed(d: int) -> bool:
        return a.size % d == 0 and a.size >= 4 * d and bool((a[:d] == a[-d:]).all())

    if ring:
        return other if not closed(default) and closed(other) else default
    return other if a.size % default and not a.size % other else default


def ring_text(ring: Any) -> tuple[str, str | None]:
    """The coordinate text of a LinearRing / LineString element and its srsDimension."""
    pl = ring.find(POSLIST)
    if pl is not None:
        return pl.text or "", pl.get("srsDimension")
    poss = ring.findall(POS)
    if not poss:
        raise GeometryError("ring has no gml:posList or gml:pos")
    return " ".join(p.text or "" for p in poss), poss[0].get("srsDimension")


def ring_coords(
    ring: Any, *, min_points: int = 3, close: bool = True, default_dim: int = 3
) -> FloatArray:
    """(n, 3) coordinates of a LinearRing / LineString element in file axis order.

    The dimension is the posList's ``srsDimension``, else the one its geometry declares,
    else ``default_dim`` (the file's) unless only the other of 2 and 3 fits the numbers
    (:func:`_guess_dim`); 2D points get z = 0. With ``close``, repeated
    consecutive points count once and the closing point (equal to the first) is dropped.
    """
    text, dim_attr = ring_text(ring)
    try:
        a = np.array(text.split(), dtype=np.float64)
    except ValueError:
        raise GeometryError("posList holds something that is not a number") from None
    if dim_attr is not None:
        dim = dimension(dim_attr)
    else:
        dim = declared_dim(ring) or _guess_dim(a, default_dim, ring=close)
    if dim < 2 or a.size % dim:
        raise GeometryError(f"posList has {a.size} numbers, not a multiple of its dimension {dim}")
    a = a.reshape(-1, dim)
    if dim == 2:
        a = np.column_stack([a, np.zeros(a.shape[0])])
    elif dim > 3:
        a = np.ascontiguousarray(a[:, :3])
    if not math.isfinite(float(a.sum())):
        raise GeometryError("posList has a NaN or infinite coordinate")
    if close and a.shape[0] >= 2:
        same = (a[1:] == a[:-1]).all(axis=1)
        if same.any():
            a = a[np.concatenate([[True], ~same])]
        if a.shape[0] >= 2 and a[0].tolist() == a[-1].tolist():
            a = a[:-1]
    n = a.shape[0]
    if n < min_points:
        raise GeometryError(f"ring has {n} distinct points, {min_points} needed")
    return a
