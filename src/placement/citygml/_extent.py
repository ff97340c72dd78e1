"""Are a file's coordinates where its CRS says, and in Japan?

PLATEAU geometry is in Japan, so coordinates outside JGD2011's area of use
(:func:`placement.crs.japan_bounds`) are a broken file rather than data: a tile placed
elsewhere, latitude and longitude swapped (EPSG:6697 is latitude first), metres under a
geographic srsName, or degrees under a plane rectangular one. Left alone, such a file
picks some zone and its geometry comes out distorted, or turns into infinities.

:func:`check_extent` runs once per file on its parsed coordinates. The usual case costs
one min/max pass over them (plus, for a plane rectangular file, the inverse projection of
the four corners of their box); only a file that fails it is looked at point by point.
A file whose every polygon is outside Japan is refused naming the first feature and the
likely cause; otherwise the polygons outside are dropped with a warning per feature, and
a feature left without its geometry is skipped and counted, as for other broken geometry.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from placement.citygml._parse import RawFile
from placement.citygml._tags import FOOTPRINT
from placement.crs import GEOGRAPHIC_EPSG, in_japan, japan_bounds, to_lonlat
from placement.errors import CityGMLError

FloatArray = npt.NDArray[np.float64]

#: A plane rectangular file whose every |coordinate| is below this and whose extent is
#: under :data:`DEGREE_SPAN` on both axes holds degrees, not metres (a real tile spans
#: hundreds of metres, and one within 200 m of a zone's origin, which mostly lie at sea,
#: would still span more than a metre).
DEGREE_LIMIT = 200.0
DEGREE_SPAN = 1.0


def check_extent(raw: RawFile) -> None:
    """Refuse a file whose coordinates are all outside Japan (or are degrees under a
    metric CRS), else drop the polygons outside Japan with warnings.

    Raises
    ------
    CityGMLError : naming the file, the first feature and the likely cause.
    """
    if not raw.ring_counts.size:
        return
    c = raw.coords
    # Column by column: a reduction over axis 0 of the (N, 2) view is ten times slower.
    first, second = c[:, 0], c[:, 1]
    lo = np.array([first.min(), second.min()])
    hi = np.array([first.max(), second.max()])
    geographic = raw.srs_epsg in GEOGRAPHIC_EPSG
    if geographic:
        # File order is latitude, longitude.
        if in_japan(np.array([lo[1], hi[1]]), np.array([lo[0], hi[0]])).all():
            return
        lat, lon = c[:, 0], c[:, 1]
    else:
        # File order is northing, easting, in metres.
        if np.abs(np.concatenate([lo, hi])).max() < DEGREE_LIMIT and (hi - lo).max() < DEGREE_SPAN:
            raise CityGMLError(
                raw.source.label,
                f"coordinates look like degrees (first point {_point(c[0])}), but the CRS "
                f"EPSG:{raw.srs_epsg} is metric (plane rectangular northing, easting in "
                "metres); latitude, longitude need srsName EPSG:6697",
                feature=raw.ids[raw.poly_feature[0]] if raw.poly_feature else None,
            )
        crs = f"EPSG:{raw.srs_epsg}"
        east = [lo[1], hi[1], lo[1], hi[1]]
        north = [lo[0], lo[0], hi[0], hi[0]]
        if in_japan(*to_lonlat(east, north, crs)).all():
            return
        lon, lat = to_lonlat(c[:, 1], c[:, 0], crs)
    bad_vertex = ~in_japan(lon, lat)
    if not bad_vertex.any():
        return
    nrings = np.asarray(raw.poly_nrings, np.int64)
    n_poly = nrings.size
    poly_of_vertex = np.repeat(np.repeat(np.arange(n_poly), nrings), raw.ring_counts)
    bad_poly = np.zeros(n_poly, bool)
    bad_poly[poly_of_vertex[bad_vertex]] = True
    pfeat = np.asarray(raw.poly_feature, np.int64)
    if bad_poly.all():
        i = int(np.flatnonzero(bad_vertex)[0])
        raise CityGMLError(
            raw.source.label,
            _problem(raw, c[bad_vertex], c[i], float(lat[i]), float(lon[i])),
            feature=raw.ids[pfeat[poly_of_vertex[i]]],
        )
    _drop(raw, bad_poly, bad_vertex, poly_of_vertex, lat=lat, lon=lon)


def _point(p: FloatArray) -> str:
    return f"'{p[0]:.10g} {p[1]:.10g}'"


def _problem(raw: RawFile, bad: FloatArray, first: FloatArray, lat: float, lon: float) -> str:
    """Why the points ``bad`` (file order, all outside Japan) are, with ``first`` the
    first of them and (lat, lon) where it lies."""
    west, south, east, north = japan_bounds()
    code = raw.srs_epsg
    if code in GEOGRAPHIC_EPSG:
        a, b = bad[:, 0], bad[:, 1]
        if in_japan(a, b).all():
            return (
                f"coordinates look swapped: first point {_point(first)} reads as longitude, "
                f"latitude, but EPSG:{code} is latitude, longitude order"
            )
        if (np.abs(a) > 90).any() or (np.abs(b) > 180).any():
            return (
                f"coordinates are not degrees: first point {_point(first)} is no latitude, "
                f"longitude, which EPSG:{code} needs (plane rectangular metres need that "
                "zone's srsName, e.g. EPSG:6677)"
            )
        where = f"latitude {lat:.6g}, longitude {lon:.6g}"
    else:
        where = f"northing {first[0]:.10g}, easting {first[1]:.10g} in EPSG:{code}, " + (
            f"at latitude {lat:.6g}, longitude {lon:.6g}"
            if np.isfinite(lat) and np.isfinite(lon)
            else "no place on Earth"
        )
    return (
        f"coordinates outside Japan: first point {where} (Japan spans latitude {south:g} "
        f"to {north:g}, longitude {west:g} to {east:g})"
    )


def _drop(
    raw: RawFile,
    bad_poly: npt.NDArray[np.bool_],
    bad_vertex: npt.NDArray[np.bool_],
    poly_of_vertex: npt.NDArray[np.int64],
    *,
    lat: FloatArray,
    lon: FloatArray,
) -> None:
    """Drop the polygons ``bad_poly`` with a warning per feature; skip (and count) a
    feature left without its own geometry, with all its polygons."""
    n = len(raw.ids)
    pfeat = np.asarray(raw.poly_feature, np.int64)
    role = np.asarray(raw.poly_role, np.int8)
    own = role != FOOTPRINT  # a footprint beside a solid is not the feature's geometry
    n_own = np.bincount(pfeat[own], minlength=n)
    n_own_left = np.bincount(pfeat[own & ~bad_poly], minlength=n)
    n_bad = np.bincount(pfeat[bad_poly], minlength=n)
    skip = (n_own > 0) & (n_own_left == 0)
    vfeat = pfeat[poly_of_vertex]
    for row in np.flatnonzero(n_bad).tolist():
        mine = np.flatnonzero(bad_vertex & (vfeat == row))
        i = int(mine[0])
        problem = _problem(raw, raw.coords[mine], raw.coords[i], float(lat[i]), float(lon[i]))
        if skip[row] and raw.lod[row] >= 0:
            raw.lod[row] = -1
            raw.skipped += 1
            raw.warn(f"skipped: {problem}", feature=raw.ids[row])
        else:
            raw.warn(f"{n_bad[row]} polygon(s) dropped: {problem}", feature=raw.ids[row])
    drop = bad_poly | skip[pfeat]
    keep = ~drop
    nrings = np.asarray(raw.poly_nrings, np.int64)
    keep_ring = np.repeat(keep, nrings)
    raw.coords = raw.coords[np.repeat(keep_ring, raw.ring_counts)]
    raw.ring_counts = raw.ring_counts[keep_ring]
    kept = np.flatnonzero(keep).tolist()
    raw.poly_nrings = [raw.poly_nrings[i] for i in kept]
    raw.poly_feature = [raw.poly_feature[i] for i in kept]
    raw.poly_kind = [raw.poly_kind[i] for i in kept]
    raw.poly_role = [raw.poly_role[i] for i in kept]
    raw.poles = [(r, fn) for r, fn in raw.poles if raw.lod[r] >= 0]
