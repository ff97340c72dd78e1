"""The camera model: validation, pixel density, DORI levels, TOML files and presets."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from placement.camera import PRESETS, Camera, load_camera
from placement.errors import InputFileError, OptionError


def test_defaults_are_the_kakogawa_like_preset() -> None:
    cam = Camera()
    assert cam == PRESETS["fullhd-103"]
    assert (cam.h_pixels, cam.v_pixels, cam.hfov_deg, cam.vfov_deg) == (1920, 1080, 103.0, 58.0)
    assert cam.dori_px_per_m == (25.0, 62.5, 125.0, 250.0)
    assert {"fullhd-103", "4k-90", "tele-30", "ptz-360"} <= set(PRESETS)


def test_preset_files_match_presets() -> None:
    folder = resources.files("placement") / "presets"
    names = sorted(e.name for e in folder.iterdir() if e.name.endswith(".toml"))
    assert names == ["4k-90.toml", "fullhd-103.toml", "ptz-360.toml", "tele-30.toml"]
    for name in names:
        data = tomllib.loads((folder / name).read_text(encoding="utf-8"))
        assert data["name"] == name.removesuffix(".toml")
        assert Camera.from_dict(data) == PRESETS[data["name"]]


def test_px_per_m_rectilinear() -> None:
    cam = Camera()
    expect = 1920 / (2 * 10.0 * math.tan(math.radians(51.5)))
    assert cam.px_per_m(10.0) == pytest.approx(expect, rel=1e-12)
    got = cam.px_per_m(np.array([5.0, 20.0]))
    assert got.shape == (2,)
    assert got[0] == pytest.approx(2 * expect) and got[1] == pytest.approx(expect / 2)
    assert np.isinf(cam.px_per_m(0.0))


def test_px_per_m_panoramic_is_equiangular() -> None:
    ptz = PRESETS["ptz-360"]
    assert ptz.panoramic and ptz.hfov_deg == 360.0
    assert ptz.px_per_m(10.0) == pytest.approx(11520 / (2 * math.pi * 10.0), rel=1e-12)
    wide = Camera(hfov_deg=200.0, vfov_deg=100.0)
    assert wide.px_per_m(4.0) == pytest.approx(1920 / (math.radians(200.0) * 4.0))


def test_levels_at_known_distances() -> None:
    cam = Camera()
    k = 1920 / (2 * math.tan(math.radians(51.5)))  # px at 1 m: 763.7
    d = np.array([k / 300, k / 250, k / 200, k / 125, k / 100, k / 62.5, k / 40, k / 25, k / 24])
    assert cam.level(d).tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0]
    assert cam.level(d).dtype == np.int8
    for lvl in (1, 2, 3, 4):
        edge = cam.max_distance_for_level(lvl)
        assert edge == pytest.approx(k / cam.dori_px_per_m[lvl - 1])
        assert int(cam.level(edge * (1 - 1e-9))) == lvl
        assert int(cam.level(edge * (1 + 1e-9))) == lvl - 1


def test_min_px_per_m_above_detection_raises_the_bar() -> None:
    cam = Camera(min_px_per_m=50.0)
    k = cam.px_m
    assert cam.level([k / 49.9, k / 50.1, k / 62.5]).tolist() == [0, 1, 2]
    assert cam.max_distance_for_level(1) == pytest.approx(k / 50.0)


def test_max_distance_is_capped_by_range() -> None:
    tele = PRESETS["tele-30"]
    assert tele.max_distance_for_level(1) == 120.0  # detection would reach 143 m
    assert tele.max_distance_for_level(3) == pytest.approx(tele.px_m / 125.0)
    with pytest.raises(OptionError, match="DORI level"):
        tele.max_distance_for_level(0)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"hfov_deg": 0.0}, "hfov_deg"),
        ({"hfov_deg": 361.0}, "hfov_deg"),
        ({"vfov_deg": 180.0}, "vfov_deg"),
        ({"vfov_deg": -1.0}, "vfov_deg"),
        ({"range_m": 0.0}, "range_m"),
        ({"range_m": math.inf}, "range_m"),
        ({"tilt_deg": 95.0}, "tilt_deg"),
        ({"height_m": -1.0}, "height_m"),
        ({"h_pixels": 0}, "h_pixels"),
        ({"v_pixels": 10.5}, "v_pixels"),
        ({"min_px_per_m": -1.0}, "min_px_per_m"),
        ({"dori_px_per_m": (25.0, 20.0, 125.0, 250.0)}, "dori_px_per_m"),
        ({"dori_px_per_m": (25.0, 62.5, 125.0)}, "dori_px_per_m"),
        ({"dori_px_per_m": (0.0, 62.5, 125.0, 250.0)}, "dori_px_per_m"),
        ({"hfov_deg": True}, "hfov_deg"),
        ({"range_m": "60"}, "range_m"),
    ],
)
def test_out_of_range_values_raise(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(OptionError, match=key):
        Camera(**kwargs)  # type: ignore[arg-type]


def test_panoramic_allows_vfov_180_and_name_must_be_set() -> None:
    assert Camera(hfov_deg=360.0, vfov_deg=180.0).vfov_deg == 180.0
    with pytest.raises(OptionError, match="name"):
        Camera(name="")


def test_frozen_keyword_only_and_normalised() -> None:
    cam = Camera(range_m=50, dori_px_per_m=[20, 60, 120, 240])  # type: ignore[arg-type]
    assert isinstance(cam.range_m, float) and cam.dori_px_per_m == (20.0, 60.0, 120.0, 240.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cam.range_m = 10.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Camera("x")  # type: ignore[misc]


def test_dict_round_trip_and_unknown_key() -> None:
    cam = PRESETS["4k-90"]
    d = cam.to_dict()
    assert d["dori_px_per_m"] == [25.0, 62.5, 125.0, 250.0]
    assert Camera.from_dict(d) == cam
    with pytest.raises(OptionError, match="'zoom'"):
        Camera.from_dict({"zoom": 2})
    with pytest.raises(OptionError, match="unknown camera preset 'nope'"):
        Camera.from_dict({"preset": "nope"})


def test_load_camera_preset_with_overrides(tmp_path: Path) -> None:
    p = tmp_path / "cam.toml"
    p.write_text('preset = "tele-30"\nname = "my-tele"\nrange_m = 90.0\n', encoding="utf-8")
    cam = load_camera(p)
    assert cam.name == "my-tele" and cam.range_m == 90.0
    assert cam.hfov_deg == 30.0 and cam.tilt_deg == PRESETS["tele-30"].tilt_deg
    table = tmp_path / "table.toml"
    table.write_text("[camera]\nhfov_deg = 80.0\nh_pixels = 2560\n", encoding="utf-8")
    cam2 = load_camera(table)
    assert (cam2.hfov_deg, cam2.h_pixels, cam2.vfov_deg) == (80.0, 2560, 58.0)
    # Unnamed, a file's own camera takes the file's name, not the default's or a preset's.
    assert cam2.name == "table"
    narrow = tmp_path / "narrow.toml"
    narrow.write_text('preset = "fullhd-103"\nhfov_deg = 90.0\n', encoding="utf-8")
    assert load_camera(narrow).name == "narrow"
    same = tmp_path / "same.toml"
    same.write_text('preset = "4k-90"\n', encoding="utf-8")
    assert load_camera(same) == PRESETS["4k-90"]


def test_load_camera_errors_name_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("hfov_deg = 90.0\nfocal_mm = 4.0\n", encoding="utf-8")
    with pytest.raises(OptionError, match=r"bad\.toml.*'focal_mm'"):
        load_camera(p)
    p.write_text("hfov_deg = 500.0\n", encoding="utf-8")
    with pytest.raises(OptionError, match=r"bad\.toml.*hfov_deg"):
        load_camera(p)
    p.write_text("hfov_deg = = 1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.toml.*TOML"):
        load_camera(p)
    with pytest.raises(InputFileError, match=r"missing\.toml"):
        load_camera(tmp_path / "missing.toml")
