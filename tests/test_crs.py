"""Zones, srsName parsing and transforms (placement.crs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from placement.citygml import read_citygml
from placement.crs import (
    check_metric_crs,
    parse_srs_name,
    scale_error,
    to_lonlat,
    to_metric,
    zone_for_lonlat,
)
from placement.errors import CRSError


@pytest.mark.parametrize(
    ("lon", "lat", "zone"),
    [
        (135.50, 34.69, "EPSG:6674"),  # Osaka, zone VI
        (134.84, 34.757, "EPSG:6673"),  # Kakogawa, zone V
        (139.69, 35.69, "EPSG:6677"),  # Tokyo, zone IX
        (139.70, 35.53, "EPSG:6677"),  # Kawasaki
        (139.67, 35.28, "EPSG:6677"),  # Yokosuka
        (141.35, 43.06, "EPSG:6680"),  # Sapporo, zone XII
        (138.86, 35.10, "EPSG:6676"),  # Numazu, zone VIII
        (130.40, 33.59, "EPSG:6670"),  # Fukuoka, zone II
        (136.91, 35.18, "EPSG:6675"),  # Nagoya, zone VII
        (140.87, 38.27, "EPSG:6678"),  # Sendai, zone X
        (127.68, 26.21, "EPSG:6683"),  # Naha, zone XV
        (142.19, 27.09, "EPSG:6682"),  # Chichijima (Ogasawara), zone XIV
    ],
)
def test_zone_for_lonlat(lon: float, lat: float, zone: str) -> None:
    assert zone_for_lonlat(lon, lat) == zone


@pytest.mark.parametrize(
    "text",
    [
        "http://www.opengis.net/def/crs/EPSG/0/6697",
        "EPSG:6697",
        "urn:ogc:def:crs:EPSG::6697",
        "EPSG:6668 ; http://www.opengis.net/def/crs/EPSG/0/6697",
    ],
)
def test_parse_srs_name_forms(text: str) -> None:
    assert parse_srs_name(text) == 6697


@pytest.mark.parametrize(
    "text", ["", "foo", "EPSG:3857", "http://www.opengis.net/def/crs/EPSG/0/99999"]
)
def test_parse_srs_name_rejects(text: str) -> None:
    with pytest.raises(CRSError):
        parse_srs_name(text)


def test_to_metric_matches_pyproj_and_keeps_height() -> None:
    lat = np.array([34.6666407, 34.67180265])
    lon = np.array([135.3891737558797, 135.39984961])
    x, y, z = to_metric(lat, lon, np.array([0.0, 16.66]), "EPSG:6674")
    ex, ey = Transformer.from_crs("EPSG:6668", "EPSG:6674", always_xy=True).transform(lon, lat)
    assert np.allclose(x, ex) and np.allclose(y, ey)
    assert z.tolist() == [0.0, 16.66]
    # Zone VI origin is 36 N 136 E: this point is west (x < 0) and south (y < 0) of it.
    assert -60_000 < x[0] < -50_000 and -150_000 < y[0] < -145_000
    lon2, lat2 = to_lonlat(x, y, "EPSG:6674")
    assert np.allclose(lon2, lon, atol=1e-10) and np.allclose(lat2, lat, atol=1e-10)


def test_a_crs_not_in_metres_is_refused() -> None:
    with pytest.raises(CRSError, match="US survey foot"):
        check_metric_crs("EPSG:2263")  # New York State Plane, feet
    assert check_metric_crs("epsg:6674") == "EPSG:6674"


@pytest.mark.parametrize(
    ("crs", "lon", "lat", "low", "high"),
    [
        ("EPSG:3857", 135.5, 34.65, 0.21, 0.22),  # Web Mercator: 1 / cos(latitude)
        ("EPSG:6674", 135.5, 34.65, 0.0, 1e-4),  # Osaka in its own zone
        ("EPSG:32653", 135.5, 34.65, 3e-4, 4e-4),  # UTM 53N near its central meridian
    ],
)
def test_scale_error(crs: str, lon: float, lat: float, low: float, high: float) -> None:
    assert low <= scale_error(crs, lon, lat) <= high


def test_a_crs_that_stretches_distances_is_refused(sample_tile: Path) -> None:
    with pytest.raises(CRSError, match=r"EPSG:3857 stretches distances by 21\.\d%"):
        read_citygml([sample_tile], crs="EPSG:3857")
    # The neighbouring prefecture's zone turns the grid by under a degree but keeps lengths.
    city = read_citygml([sample_tile], crs="EPSG:6674")
    assert city.crs == "EPSG:6674" and not any("stretches" in w for w in city.warnings)
    # Kyushu's zone I, 500 km west: lengths 0.3 % long, a warning, and the run goes on.
    city = read_citygml([sample_tile], crs="EPSG:6669")
    assert [w for w in city.warnings if "EPSG:6669 stretches distances by 0.2" in w]
