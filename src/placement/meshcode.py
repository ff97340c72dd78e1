"""Japanese standard grid squares (JIS X 0410 "mesh codes"), as PLATEAU names its tiles.

A code is digits: ``pp uu`` (1st level, 40' x 1 deg, about 80 km), then ``q r`` (2nd level,
an 8 x 8 split: 5' x 7.5', about 10 km), then ``v w`` (3rd level, a 10 x 10 split: 30" x
45", about 1 km), then optionally one digit 1-4 for the 1/2 subdivision and one more for
the 1/4 subdivision (1 = south-west, 2 = south-east, 3 = north-west, 4 = north-east).
The first digit of each pair is the row (latitude), the second the column (longitude):

    south = pp / 1.5 + q * 5' + v * 30" (+ 15" for half 3, 4, + 7.5" for quarter 3, 4)
    west  = uu + 100 + r * 7.5' + w * 45" (+ 22.5" for half 2, 4, + 11.25" for quarter 2, 4)

PLATEAU files are named ``<code>_<kind>_<crs>_..._op.gml`` (``51357353_bldg_6697_op.gml``).

Internally a square is (level, row, col) with row and col counted from lat 0 / lon 100 in
squares of that level, so a neighbour is row +- 1 / col +- 1 and the carries into the next
2nd- or 1st-level square come from integer division. :meth:`MeshSquare.grid_box` puts any
square on the one grid of 1/4 squares (7.5" x 11.25"), where adjacency is exact integer
arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "LEVEL_DIGITS",
    "MeshSquare",
    "mesh_bounds",
    "mesh_code_at",
    "neighbours",
    "parse_mesh_code",
    "split_tile_name",
]

#: Number of digits of a code at each level: 1, 2, 3, 4 (1/2 subdivision), 5 (1/4).
LEVEL_DIGITS = {1: 4, 2: 6, 3: 8, 4: 9, 5: 10}
_LEVEL_OF_DIGITS = {n: lvl for lvl, n in LEVEL_DIGITS.items()}

# Size of a square of each level in degrees (exact), as (lat, lon).
_SIZE_DEG = {
    1: (Fraction(2, 3), Fraction(1)),
    2: (Fraction(1, 12), Fraction(1, 8)),
    3: (Fraction(1, 120), Fraction(1, 80)),
    4: (Fraction(1, 240), Fraction(1, 160)),
    5: (Fraction(1, 480), Fraction(1, 320)),
}
# How many squares of each level fit in one 1st-level square along a side.
_PER_FIRST = {1: 1, 2: 8, 3: 80, 4: 160, 5: 320}

_NAME = re.compile(r"^(\d{4}|\d{6}|\d{8,10})_([A-Za-z]+)(?:_|\.|$)")


@dataclass(frozen=True, order=True)
class MeshSquare:
    """One grid square: its level and its row / column counted in squares of that level
    from latitude 0 (rows, northwards) and longitude 100 E (columns, eastwards)."""

    level: int
    row: int
    col: int

    def __post_init__(self) -> None:
        if self.level not in _PER_FIRST:
            raise ValueError(f"mesh level must be 1-5, got {self.level}")
        n = _PER_FIRST[self.level]
        if not (0 <= self.row < 100 * n and 0 <= self.col < 100 * n):
            raise ValueError(f"mesh square out of the coded area: row {self.row}, col {self.col}")

    @property
    def code(self) -> str:
        """The mesh code, e.g. "51357353"."""
        r, c = self.row, self.col
        tail = ""
        if self.level >= 5:
            tail = str(1 + (r % 2) * 2 + c % 2) + tail
            r, c = r // 2, c // 2
        if self.level >= 4:
            tail = str(1 + (r % 2) * 2 + c % 2) + tail
            r, c = r // 2, c // 2
        if self.level >= 3:
            tail = f"{r % 10}{c % 10}" + tail
            r, c = r // 10, c // 10
        if self.level >= 2:
            tail = f"{r % 8}{c % 8}" + tail
            r, c = r // 8, c // 8
        return f"{r:02d}{c:02d}" + tail

    def bounds(self) -> tuple[float, float, float, float]:
        """(south, west, north, east) in degrees (JGD2011 latitude, longitude)."""
        s, w, n, e = self.bounds_exact()
        return float(s), float(w), float(n), float(e)

    def bounds_exact(self) -> tuple[Fraction, Fraction, Fraction, Fraction]:
        """(south, west, north, east) as exact fractions of a degree."""
        dlat, dlon = _SIZE_DEG[self.level]
        s, w = self.row * dlat, 100 + self.col * dlon
        return s, w, s + dlat, w + dlon

    def neighbours(self) -> tuple[MeshSquare, ...]:
        """The 8 squares of the same level around this one (fewer at the edge of the coded
        area), in the order N, NE, E, SE, S, SW, W, NW."""
        out = []
        for dr, dc in ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)):
            try:
                out.append(MeshSquare(self.level, self.row + dr, self.col + dc))
            except ValueError:
                continue
        return tuple(out)

    def grid_box(self) -> tuple[int, int, int, int]:
        """(row0, col0, row1, col1), half-open, on the grid of 1/4 subdivision squares."""
        k = _PER_FIRST[5] // _PER_FIRST[self.level]
        return self.row * k, self.col * k, (self.row + 1) * k, (self.col + 1) * k

    def touches(self, other: MeshSquare) -> bool:
        """True if the two squares share an edge or a corner but no area."""
        return _closed_meet(self, other) and not self.overlaps(other)

    def overlaps(self, other: MeshSquare) -> bool:
        """True if the two squares share some area (one holds the other, or they are equal)."""
        a, b = self.grid_box(), other.grid_box()
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _closed_meet(a: MeshSquare, b: MeshSquare) -> bool:
    p, q = a.grid_box(), b.grid_box()
    return p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3]


def parse_mesh_code(code: str | int) -> MeshSquare:
    """The square of a 4, 6, 8, 9 or 10 digit mesh code.

    Raises
    ------
    ValueError : not a valid code (wrong length, a 2nd-level digit above 7, a subdivision
        digit outside 1-4).
    """
    text = str(code)
    if not text.isascii() or not text.isdigit() or len(text) not in _LEVEL_OF_DIGITS:
        raise ValueError(f"not a mesh code (4, 6, 8, 9 or 10 digits): {text!r}")
    level = _LEVEL_OF_DIGITS[len(text)]
    d = [int(ch) for ch in text]
    row, col = d[0] * 10 + d[1], d[2] * 10 + d[3]
    if level >= 2:
        if d[4] > 7 or d[5] > 7:
            raise ValueError(f"not a mesh code (2nd-level digits are 0-7): {text!r}")
        row, col = row * 8 + d[4], col * 8 + d[5]
    if level >= 3:
        row, col = row * 10 + d[6], col * 10 + d[7]
    for i in (8, 9)[: max(0, level - 3)]:
        if not 1 <= d[i] <= 4:
            raise ValueError(f"not a mesh code (subdivision digits are 1-4): {text!r}")
        row, col = row * 2 + (d[i] - 1) // 2, col * 2 + (d[i] - 1) % 2
    return MeshSquare(level, row, col)


def mesh_bounds(code: str | int) -> tuple[float, float, float, float]:
    """(south, west, north, east) in degrees of a mesh code."""
    return parse_mesh_code(code).bounds()


def neighbours(code: str | int) -> list[str]:
    """The codes of the 8 squares around ``code`` at its level (N, NE, E, SE, S, SW, W, NW)."""
    return [sq.code for sq in parse_mesh_code(code).neighbours()]


def mesh_code_at(lat: float, lon: float, level: int = 3) -> str:
    """The code of the square of ``level`` (1-5) holding the point (lat, lon in degrees).

    A point on a boundary belongs to the square north / east of it.
    """
    if level not in _PER_FIRST:
        raise ValueError(f"mesh level must be 1-5, got {level}")
    dlat, dlon = _SIZE_DEG[level]
    # Exact decimal fractions of the floats as printed, so 135.4125 (a boundary, but as a
    # binary float a hair below it) lands in the square east of it, as the written value does.
    row = int(Fraction(repr(float(lat))) // dlat)
    col = int((Fraction(repr(float(lon))) - 100) // dlon)
    return MeshSquare(level, row, col).code


def split_tile_name(name: str) -> tuple[MeshSquare, str] | None:
    """(square, kind) of a PLATEAU file name like ``51357353_bldg_6697_op.gml``, or None
    when the name does not start with a valid mesh code and a kind."""
    m = _NAME.match(name)
    if m is None:
        return None
    try:
        return parse_mesh_code(m.group(1)), m.group(2).lower()
    except ValueError:
        return None
