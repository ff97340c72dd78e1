"""Coordinate reference systems: PLATEAU's JGD2011 lat/lon to plane rectangular metres.

PLATEAU files are in EPSG:6697 (JGD2011 geographic lat, lon + TP orthometric height) with
``gml:posList`` in ``lat lon h`` order. Everything downstream works in one of Japan's 19
JGD2011 plane rectangular coordinate systems (EPSG:6669 zone I .. EPSG:6687 zone XIX),
x = easting, y = northing, metres; heights pass through unchanged.

Zone choice (:func:`zone_for_lonlat`) is an approximation. The official rule assigns
zones by prefecture (and for Tokyo, Kagoshima, Okinawa and Hokkaido by island or
sub-prefecture), which needs boundary data we do not ship. We pick the zone whose
official origin is nearest (distances on the sphere, longitude scaled by cos(latitude)),
considering only the zones of the region the point lies in: the main islands (zones
I-XIII, north of 27.05 N or west of 141.5 E... see below), Ogasawara (XIV), Okinawa
(XV-XVII), Okinotorishima (XVIII) and Minamitorishima (XIX). This reproduces the
official zone for the prefectural capitals and the PLATEAU cities we have data for
(Osaka VI, Kakogawa V, Tokyo/Kawasaki/Yokosuka IX, Numazu and Nagaoka VIII, Sapporo
XII); near a prefecture border it can choose the neighbouring zone, which only costs a
slightly larger scale distortion (< 0.1 % within 150 km of an origin) and is harmless
for camera placement. Pass an explicit ``crs`` to the loader to override it.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError

from placement.errors import CRSError

FloatArray = npt.NDArray[np.float64]

#: Official origins (lat, lon in degrees) of the JGD2011 plane rectangular zones I-XIX,
#: EPSG:6669 + (zone - 1).
ZONE_ORIGINS: tuple[tuple[float, float], ...] = (
    (33.0, 129.5),  # I    Nagasaki, parts of Kagoshima
    (33.0, 131.0),  # II   Fukuoka, Saga, Kumamoto, Oita, Miyazaki, Kagoshima
    (36.0, 132 + 10 / 60),  # III  Yamaguchi, Shimane, Hiroshima
    (33.0, 133.5),  # IV   Kagawa, Ehime, Tokushima, Kochi
    (36.0, 134 + 20 / 60),  # V    Hyogo, Tottori, Okayama
    (36.0, 136.0),  # VI   Kyoto, Osaka, Fukui, Shiga, Mie, Nara, Wakayama
    (36.0, 137 + 10 / 60),  # VII  Ishikawa, Toyama, Gifu, Aichi
    (36.0, 138.5),  # VIII Niigata, Nagano, Yamanashi, Shizuoka
    (36.0, 139 + 50 / 60),  # IX   Tokyo, Fukushima, Tochigi, Ibaraki, Saitama, Chiba, ...
    (40.0, 140 + 50 / 60),  # X    Aomori, Akita, Yamagata, Iwate, Miyagi
    (44.0, 140.25),  # XI   western Hokkaido (Otaru, Hakodate, ...)
    (44.0, 142.25),  # XII  central Hokkaido (Sapporo, Asahikawa, ...)
    (44.0, 144.25),  # XIII eastern Hokkaido (Kushiro, Abashiri, ...)
    (26.0, 142.0),  # XIV  Ogasawara
    (26.0, 127.5),  # XV   Okinawa main island
    (26.0, 124.0),  # XVI  Sakishima (Ishigaki, Miyako west)
    (26.0, 131.0),  # XVII Daito islands
    (20.0, 136.0),  # XVIII Okinotorishima
    (26.0, 154.0),  # XIX  Minamitorishima
)
FIRST_ZONE_EPSG = 6669

#: Geographic CRSs we accept as input (posList in lat lon [h] order).
GEOGRAPHIC_EPSG = frozenset({6697, 6668, 4612, 4326, 4019})
#: Projected (plane rectangular) CRSs we accept as input or output.
PROJECTED_EPSG = frozenset(range(6669, 6688)) | frozenset(range(2443, 2462))

_EPSG_PATTERN = re.compile(r"EPSG(?:/\d+(?:\.\d+)*/|::?|:\s*|/)(\d+)", re.IGNORECASE)


def zone_for_lonlat(lon: float, lat: float) -> str:
    """The JGD2011 plane rectangular zone covering a point, e.g. ``"EPSG:6674"``.

    Parameters
    ----------
    lon, lat : degrees (JGD2011 / WGS 84, the difference does not matter here).

    Returns
    -------
    "EPSG:<code>" with code in 6669..6687. See the module docstring for the rule.
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise CRSError(f"cannot choose a plane rectangular zone for lon={lon}, lat={lat}")
    if (lat >= 27.05 and lon < 141.5) or lat >= 30.0:
        candidates = range(13)  # main islands, Hokkaido, Kyushu, Amami
    elif lon >= 150.0:
        candidates = range(18, 19)
    elif lat < 22.0:
        candidates = range(17, 18)
    elif lon >= 141.0:
        candidates = range(13, 14)
    else:
        candidates = range(14, 17)
    coslat = np.cos(np.radians(lat))
    best = min(
        candidates,
        key=lambda i: (ZONE_ORIGINS[i][0] - lat) ** 2 + ((ZONE_ORIGINS[i][1] - lon) * coslat) ** 2,
    )
    return f"EPSG:{FIRST_ZONE_EPSG + best}"


def parse_srs_name(srs_name: str) -> int:
    """The EPSG code of a GML ``srsName``.

    Accepts ``http://www.opengis.net/def/crs/EPSG/0/6697``, ``EPSG:6697``,
    ``urn:ogc:def:crs:EPSG::6697`` and the compound form PLATEAU sometimes writes,
    ``EPSG:6668 ; http://www.opengis.net/def/crs/EPSG/0/6697`` (the last code wins: it is
    the 3D one, and both share the JGD2011 horizontal datum).

    Raises
    ------
    CRSError : no EPSG code in the string, or a code this tool does not handle (only
        JGD2011/JGD2000/WGS 84 geographic and the Japanese plane rectangular CRSs are).
    """
    codes = _EPSG_PATTERN.findall(srs_name or "")
    if not codes:
        raise CRSError(f"unknown srsName {srs_name!r}: expected an EPSG code such as EPSG:6697")
    code = int(codes[-1])
    if code not in GEOGRAPHIC_EPSG and code not in PROJECTED_EPSG:
        raise CRSError(
            f"unsupported CRS EPSG:{code} in srsName {srs_name!r}: expected JGD2011 "
            "geographic (EPSG:6697/6668) or a plane rectangular zone (EPSG:6669-6687)"
        )
    return code


def check_metric_crs(crs: str) -> str:
    """Validate a target metric CRS string and return it normalised ("EPSG:6674")."""
    try:
        c = CRS.from_user_input(crs)
    except PyprojCRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from None
    if not c.is_projected:
        raise CRSError(f"CRS {crs!r} is not projected: a metric CRS such as EPSG:6674 is needed")
    epsg = c.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else c.to_string()


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _horizontal(code: int) -> str:
    # The compound 6697 would make pyproj look for a vertical transformation; heights
    # are kept as they are, so transform with the 2D geographic part only.
    return "EPSG:6668" if code == 6697 else f"EPSG:{code}"


def to_metric(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    h: npt.ArrayLike,
    crs: str,
    *,
    source_epsg: int = 6697,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Geographic coordinates to metres in a plane rectangular CRS.

    Parameters
    ----------
    lat, lon : (N,) degrees in ``source_epsg`` (JGD2011 by default).
    h : (N,) orthometric heights in metres, returned unchanged.
    crs : the metric target CRS, e.g. "EPSG:6674".
    source_epsg : the geographic source CRS.

    Returns
    -------
    x (easting), y (northing), z: three (N,) float64 arrays in metres.
    """
    lat_a = np.asarray(lat, np.float64)
    lon_a = np.asarray(lon, np.float64)
    z = np.array(h, np.float64, copy=True)
    x, y = _transformer(_horizontal(source_epsg), crs).transform(lon_a, lat_a)
    return np.asarray(x, np.float64), np.asarray(y, np.float64), z


def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Metres in ``crs`` back to JGD2011 (lon, lat) degrees, e.g. for GeoJSON.

    Parameters
    ----------
    x, y : (N,) easting, northing in metres.
    crs : the metric CRS of x and y.

    Returns
    -------
    lon, lat : two (N,) float64 arrays in degrees.
    """
    lon, lat = _transformer(crs, "EPSG:6668").transform(
        np.asarray(x, np.float64), np.asarray(y, np.float64)
    )
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def projected_to_metric(
    first: FloatArray, second: FloatArray, source_epsg: int, crs: str
) -> tuple[FloatArray, FloatArray]:
    """Coordinates of a projected source CRS (posList order: northing, easting, as EPSG
    defines the Japanese plane rectangular systems) to (x, y) metres in ``crs``."""
    northing, easting = first, second
    if f"EPSG:{source_epsg}" == crs:
        return np.asarray(easting, np.float64), np.asarray(northing, np.float64)
    x, y = _transformer(f"EPSG:{source_epsg}", crs).transform(easting, northing)
    return np.asarray(x, np.float64), np.asarray(y, np.float64)
