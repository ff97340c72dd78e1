"""Coordinate reference systems: PLATEAU's JGD2011 lat/lon to plane rectangular metres.

PLATEAU files are in EPSG:6697 (JGD2011 geographic lat, lon + TP orthometric height) with
``gml:posList`` in ``lat lon h`` order. Everything downstream works in one of Japan's 19
JGD2011 plane rectangular coordinate systems (EPSG:6669 zone I .. EPSG:6687 zone XIX),
x = easting, y = northing, metres; heights pass through unchanged.

Zone choice (:func:`zone_for_lonlat`). The official rule (MLIT notice No. 9 of 2002)
assigns zones by prefecture, and inside Hokkaido by municipality, inside Tokyo, Kagoshima
and Okinawa by island group. Given the municipality or prefecture code of the data
(PLATEAU writes it in ``uro:city`` / ``uro:prefecture`` and in its dataset names), the
official rule is applied: a table for the 43 one-zone prefectures, Hokkaido's
municipalities of zones XI and XIII, and the longitude / latitude lines that divide
Tokyo, Kagoshima and Okinawa. Without a code we pick the zone whose official origin is
nearest (distances on the sphere, longitude scaled by cos(latitude)) among the zones of
the region the point lies in: Hokkaido (XI-XIII), the other main islands (I-X), Ogasawara
(XIV), Okinawa (XV-XVII, by the official longitudes), Okinotorishima (XVIII) and
Minamitorishima (XIX). That guess
is right for the prefectural capitals and most cities, but near a prefecture border it
can pick the neighbouring zone (Hamamatsu, Maebashi, Shimonoseki, Fukuyama ... would get
the zone next door); that only costs a slightly larger scale distortion (< 0.1 % within
150 km of an origin). Pass an explicit ``crs`` to the loader to override either choice.

Japan's extent (:func:`japan_bounds`, :func:`in_japan`) is JGD2011's area of use as pyproj
gives it; the loader refuses files whose coordinates lie outside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Proj, Transformer
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

# "EPSG/0/6697" (URL), "EPSG::6697" and "EPSG:6.6:6697" (URN, with or without a version),
# "EPSG:6697".
_EPSG_PATTERN = re.compile(
    r"EPSG(?:/\d+(?:\.\d+)*/|:(?:\d+(?:\.\d+)*)?:|:\s*|/)(\d+)", re.IGNORECASE
)

#: Zone (1-19) of each prefecture (JIS X 0401 code) that lies in one zone only; the
#: others are Hokkaido (01), Tokyo (13), Kagoshima (46) and Okinawa (47).
_PREFECTURE_ZONE: dict[int, int] = {
    **dict.fromkeys((2, 3, 4, 5, 6), 10),  # Aomori, Iwate, Miyagi, Akita, Yamagata
    **dict.fromkeys((7, 8, 9, 10, 11, 12, 14), 9),  # Fukushima .. Chiba, Kanagawa
    **dict.fromkeys((15, 19, 20, 22), 8),  # Niigata, Yamanashi, Nagano, Shizuoka
    **dict.fromkeys((16, 17, 21, 23), 7),  # Toyama, Ishikawa, Gifu, Aichi
    **dict.fromkeys((18, 24, 25, 26, 27, 29, 30), 6),  # Fukui, Mie, Shiga .. Wakayama
    **dict.fromkeys((28, 31, 33), 5),  # Hyogo, Tottori, Okayama
    **dict.fromkeys((32, 34, 35), 3),  # Shimane, Hiroshima, Yamaguchi
    **dict.fromkeys((36, 37, 38, 39), 4),  # Shikoku
    **dict.fromkeys((40, 41, 43, 44, 45), 2),  # Fukuoka, Saga, Kumamoto, Oita, Miyazaki
    42: 1,  # Nagasaki
}
#: Hokkaido municipalities (JIS X 0402, without check digit) of zone XI: Hakodate, Otaru,
#: Date, Hokuto, the towns of Oshima, Hiyama and Shiribeshi, and Toyoura, Sobetsu, Toyako.
_HOKKAIDO_XI = frozenset({1202, 1203, 1233, 1236, 1571, 1575, 1584}) | frozenset(
    [*range(1330, 1350), *range(1360, 1380), *range(1390, 1410)]
)
#: ... of zone XIII: Kushiro, Obihiro, Kitami, Abashiri, Nemuro, nine Okhotsk towns and
#: the towns of Tokachi, Kushiro and Nemuro. The rest of Hokkaido is zone XII.
_HOKKAIDO_XIII = frozenset(
    {1206, 1207, 1208, 1211, 1223, 1543, 1544, 1545, 1546, 1547, 1549, 1550, 1552, 1564}
) | frozenset([*range(1630, 1650), *range(1660, 1670), *range(1690, 1700)])
#: A zone whose origin is farther than this from the data (degrees of latitude, about
#: 900 km) was named by a wrong code: the code is ignored.
_MAX_ORIGIN_DISTANCE_DEG = 8.0


def _origin_distance(zone: int, lon: float, lat: float) -> float:
    olat, olon = ZONE_ORIGINS[zone - 1]
    return float(np.hypot(olat - lat, (olon - lon) * np.cos(np.radians(lat))))


def _nearest_zone(zones: range | tuple[int, ...], lon: float, lat: float) -> int:
    return min(zones, key=lambda z: _origin_distance(z, lon, lat))


def _okinawa_zone(lon: float) -> int:
    # Official: Okinawa west of 126 E is XVI, east of 130 E XVII, the rest XV.
    return 16 if lon < 126.0 else 17 if lon > 130.0 else 15


def _official_zone(code: str, lon: float, lat: float) -> int | None:
    """The zone (1-19) the official rule gives a municipality (5 or 6 digits) or
    prefecture (1 or 2 digits) code at (lon, lat); None for a code it cannot use."""
    text = code.strip()
    if not (text.isascii() and text.isdigit() and len(text) in (1, 2, 5, 6)):
        return None
    pref = int(text[:2]) if len(text) >= 5 else int(text)
    muni = int(text[:5]) if len(text) >= 5 and int(text[2:5]) else None
    zone: int | None
    if pref == 1:
        if muni is None:
            zone = _nearest_zone((11, 12, 13), lon, lat)
        else:
            zone = 11 if muni in _HOKKAIDO_XI else 13 if muni in _HOKKAIDO_XIII else 12
    elif pref == 13:
        # Tokyo: Ogasawara south of 28 N is XIV, with Okinotorishima (XVIII) west of
        # 140.5 E and Minamitorishima (XIX) east of 143 E; the rest is IX.
        zone = 9 if lat >= 28.0 else 18 if lon < 140.5 else 19 if lon > 143.0 else 14
    elif pref == 46:
        # Kagoshima: the islands between 27 and 32 N west of 130 E (the Amami islands to
        # 130 deg 13 min E) are I, the rest II.
        east = 130.0 + 13 / 60 if lat < 28.6 else 130.0
        zone = 1 if 27.0 <= lat <= 32.0 and 128.3 <= lon <= east else 2
    elif pref == 47:
        zone = _okinawa_zone(lon)
    else:
        zone = _PREFECTURE_ZONE.get(pref)
    if zone is None or _origin_distance(zone, lon, lat) > _MAX_ORIGIN_DISTANCE_DEG:
        return None
    return zone


def zone_for_lonlat(lon: float, lat: float, *, city_code: str | None = None) -> str:
    """The JGD2011 plane rectangular zone covering a point, e.g. ``"EPSG:6674"``.

    Parameters
    ----------
    lon, lat : degrees (JGD2011 / WGS 84, the difference does not matter here).
    city_code : the municipality (e.g. "22130") or prefecture ("22") code of the data,
        when known: the official zone of that code is returned (unless its origin is
        implausibly far from the point, i.e. the code is wrong).

    Returns
    -------
    "EPSG:<code>" with code in 6669..6687. See the module docstring for the rule.
    """
    if not (np.isfinite(lon) and np.isfinite(lat)):
        raise CRSError(f"cannot choose a plane rectangular zone for lon={lon}, lat={lat}")
    zone = _official_zone(city_code, lon, lat) if city_code else None
    if zone is None:
        if lat >= 30.0 or (lat >= 27.0 and 128.3 <= lon < 141.5) or (lat >= 27.2 and lon < 128.3):
            # Main islands, Kyushu and Amami. Hokkaido (north of the Tsugaru Strait) is
            # kept apart: southern Hokkaido lies nearer to the origin of zone X.
            hokkaido = lat > 41.6 or (lat > 41.35 and lon < 140.6)
            zone = _nearest_zone((11, 12, 13) if hokkaido else range(1, 11), lon, lat)
        elif lon >= 150.0:
            zone = 19
        elif lat < 22.0:
            zone = 18
        elif lon >= 141.0:
            zone = 14
        else:
            zone = _okinawa_zone(lon)
    return f"EPSG:{FIRST_ZONE_EPSG + zone - 1}"


def parse_srs_name(srs_name: str) -> int:
    """The EPSG code of a GML ``srsName``.

    Accepts ``http://www.opengis.net/def/crs/EPSG/0/6697``, ``EPSG:6697``,
    ``urn:ogc:def:crs:EPSG::6697`` (also with a version, ``EPSG:6.6:6697``) and the
    compound forms PLATEAU and other producers write,
    ``EPSG:6668 ; http://www.opengis.net/def/crs/EPSG/0/6697`` or
    ``urn:ogc:def:crs,crs:EPSG::6668,crs:EPSG::6695``: the last code this tool handles
    wins (the 3D one, or the horizontal part of a horizontal + vertical pair; they all
    share the JGD2011 horizontal datum, and heights are read as they are).

    Raises
    ------
    CRSError : no EPSG code in the string, or no code this tool handles (only
        JGD2011/JGD2000/WGS 84 geographic and the Japanese plane rectangular CRSs are).
    """
    codes = [int(c) for c in _EPSG_PATTERN.findall(srs_name or "")]
    if not codes:
        raise CRSError(f"unknown srsName {srs_name!r}: expected an EPSG code such as EPSG:6697")
    usable = [c for c in codes if c in GEOGRAPHIC_EPSG or c in PROJECTED_EPSG]
    if not usable:
        raise CRSError(
            f"unsupported CRS EPSG:{codes[-1]} in srsName {srs_name!r}: expected JGD2011 "
            "geographic (EPSG:6697/6668) or a plane rectangular zone (EPSG:6669-6687)"
        )
    return usable[-1]


def check_metric_crs(crs: str) -> str:
    """Validate a target metric CRS string and return it normalised ("EPSG:6674")."""
    try:
        c = CRS.from_user_input(crs)
    except PyprojCRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from None
    if not c.is_projected:
        raise CRSError(f"CRS {crs!r} is not projected: a metric CRS such as EPSG:6674 is needed")
    units = {(a.unit_name, a.unit_conversion_factor) for a in c.axis_info[:2]}
    if any(abs(factor - 1.0) > 1e-12 for _, factor in units):
        names = ", ".join(sorted(name for name, _ in units))
        raise CRSError(
            f"CRS {crs!r} measures in {names}: a CRS in metres such as EPSG:6674 is needed"
        )
    epsg = c.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else c.to_string()


#: A CRS chosen by the user whose scale at the data is off by more than this is refused:
#: every range, DORI distance, spacing and street length would be off by as much (Web
#: Mercator, EPSG:3857: 22 % at 35 degrees north). A plane rectangular zone is within
#: 0.01 % inside its area.
SCALE_ERROR_MAX = 0.01
#: ... and above this, a run warns (a neighbouring prefecture's zone: about 0.7 %).
SCALE_ERROR_WARN = 0.001


def scale_error(crs: str, lon: float, lat: float) -> float:
    """How far ``crs``'s point scale at (lon, lat) is from 1: the larger error of its scale
    along the meridian and along the parallel (inf where it cannot say)."""
    f = Proj(CRS.from_user_input(crs)).get_factors(lon, lat)
    err = max(abs(f.meridional_scale - 1.0), abs(f.parallel_scale - 1.0))
    return float(err) if np.isfinite(err) else float("inf")


#: JGD2011's area of use when pyproj cannot say (west, south, east, north in degrees; the
#: area of EPSG:6668, "Japan - onshore and offshore").
_JAPAN_FALLBACK = (122.38, 17.09, 157.65, 46.05)


@lru_cache(maxsize=1)
def japan_bounds() -> tuple[float, float, float, float]:
    """Japan's extent, (west, south, east, north) in degrees: the area of use of JGD2011
    (EPSG:6668, onshore and offshore, Yonaguni to Minamitorishima, Okinotorishima to
    Hokkaido) as pyproj gives it. Coordinates outside it are not Japanese data."""
    area = CRS.from_epsg(6668).area_of_use
    if area is None:
        return _JAPAN_FALLBACK
    return (float(area.west), float(area.south), float(area.east), float(area.north))


def in_japan(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """(N,) bool: the point lies in :func:`japan_bounds` (NaN and inf do not)."""
    west, south, east, north = japan_bounds()
    lon_a = np.asarray(lon, np.float64)
    lat_a = np.asarray(lat, np.float64)
    return np.asarray((lon_a >= west) & (lon_a <= east) & (lat_a >= south) & (lat_a <= north))


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


def geojson_to_lonlat(
    doc: object,
) -> Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]] | None:
    """How to bring a GeoJSON document's coordinates to (lon, lat) degrees.

    RFC 7946 GeoJSON is always lon/lat, but QGIS and GDAL still write files in a projected
    CRS with the old ``crs`` member (``{"type": "name", "properties": {"name":
    "urn:ogc:def:crs:EPSG::6674"}}``). Returns None when the coordinates are lon/lat already
    (no ``crs`` member, or a geographic one: x is longitude in GeoJSON whatever the CRS's
    axis order), else a function (x, y) -> (lon, lat).

    Raises
    ------
    CRSError : the ``crs`` member names no CRS pyproj knows, or one not in metres or degrees.
    """
    member = doc.get("crs") if isinstance(doc, dict) else None
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise CRSError(f"its 'crs' member names no CRS: {_json_repr(member)}")
    try:
        c = CRS.from_user_input(name.strip())
    except PyprojCRSError:
        raise CRSError(f"unknown CRS {name!r} in its 'crs' member") from None
    if c.is_geographic:
        return None
    if not c.is_projected:
        raise CRSError(f"CRS {name!r} in its 'crs' member is neither lon/lat nor projected")
    transformer = Transformer.from_crs(c, "EPSG:6668", always_xy=True)

    def convert(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        lon, lat = transformer.transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
        return np.asarray(lon, np.float64), np.asarray(lat, np.float64)

    return convert


def _json_repr(value: object, limit: int = 80) -> str:
    """``value`` as short JSON text for a message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
