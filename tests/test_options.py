"""RunOptions: every value checked with a one-line error naming the option, config files'
relative paths, the camera preset against --camera-file, budget 0, and summary.json options
that rerun the same."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from placement.cli import main
from placement.errors import InputFileError, OptionError
from placement.pipeline import (
    DEFAULT_BUDGET,
    DEFAULT_CAMERA,
    RunOptions,
    load_camera_for,
)


def _cli(args: list[str]) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)
    return r.exit_code, r.output


@pytest.mark.parametrize(
    ("line", "names"),
    [
        # QA's internal errors
        ("headings = 4.5", "headings must be an integer, got 4.5"),
        ('seed = "x"', "seed must be an integer"),
        ("sites_file = 5", "sites_file must be a file or folder path"),
        ('tilts_deg = ["a"]', "--tilts-deg must be numbers"),
        ('tilts_deg = "10,x"', "--tilts-deg must be numbers"),
        # QA's raw Python messages
        ('budget = "ten"', "budget must be a number, got 'ten'"),
        ('headings = "8"', "headings must be an integer, got '8'"),
        ('time_limit_s = "5"', "time_limit_s must be a number"),
        ("halo = 5", "halo must be"),
        ("halo = ['auto', 3]", "halo must be"),
        # QA's silently wrong values
        ("budget = true", "budget must be a number, got True"),
        ('use_cache = "no"', "use_cache must be true or false, got 'no'"),
        ('render = "no"', "render must be true or false"),
        ("html = 1", "html must be true or false"),
        ("k = true", "k must be an integer"),
        # non-finite and out-of-range values
        ("time_limit_s = inf", "time_limit_s must be a finite number"),
        ("cover = nan", "cover must be a finite number"),
        ("mount_height_m = 0", "--mount-height-m must be positive"),
        ("mount_height_m = -inf", "--mount-height-m must be a finite number"),
        ("target_height_m = -0.5", "--target-height-m must be >= 0"),
        ("spacing_m = 1e-6", "--spacing-m must be at least 1 m"),
        ("demand_spacing_m = 0.001", "--demand-spacing-m must be at least 0.1 m"),
        ("budget = -1", "--budget must be positive or 0"),
        ("seed = -1", "--seed must be >= 0"),
        ("workers = 0", "--workers must be >= 1"),
        (
            "tilts_deg = [100]",
            "--tilts-deg must be between -90 and 90 degrees below the horizon, got 100",
        ),
        ('camera = "nope"', "unknown camera preset 'nope'"),
        ('min_level = "glance"', "--min-level must be one of"),
        ('crs = ""', "crs must be a non-empty string"),
    ],
)
def test_bad_config_value_names_the_file_and_the_key(tmp_path: Path, line: str, names: str) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"[run]\n{line}\n")
    with pytest.raises(OptionError) as info:
        RunOptions.from_toml(cfg)
    message = str(info.value)
    assert message.startswith(f"{cfg}: "), message
    assert names in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"headings": 4.5}, "headings must be an integer"),
        ({"headings": True}, "headings must be an integer"),
        ({"budget": "10"}, "budget must be a number"),
        ({"render": "no"}, "render must be true or false"),
        ({"existing_file": 3}, "existing_file must be a file or folder path"),
        ({"priority_file": ""}, "priority_file must be a file or folder path"),
        ({"max_per_site": 1.5}, "--max-per-site must be an integer"),
        ({"pole_cost": float("nan")}, "--pole-cost must be a finite number"),
        ({"new_pole_cost": -1}, "--new-pole-cost must be >= 0"),
        ({"time_limit_s": 0}, "--time-limit / time_limit_s must be positive"),
        ({"spacing_m": 0.5}, "meaningless"),
        ({"halo": ("off", "auto")}, "--halo off cannot be combined"),
    ],
)
def test_bad_value_in_code_names_the_option(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(OptionError) as info:
        RunOptions(**kwargs)
    assert names in str(info.value)


def test_good_values_are_normalised(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('tilts_deg = "10, 20"\nheadings = 8.0\nbudget = 3\nhalo = "off"\n')
    opts = RunOptions.from_toml(cfg)
    assert opts.tilts_deg == (10.0, 20.0)
    assert opts.headings == 8 and isinstance(opts.headings, int)
    assert opts.budget == 3.0 and isinstance(opts.budget, float)
    assert opts.halo == ("off",)
    assert RunOptions(tilts_deg=[15, 30.5]).tilts_deg == (15.0, 30.5)
    assert RunOptions(spacing_m=1).spacing_m == 1.0
    assert RunOptions(seed=np.int64(7), budget=np.float32(2.5)).to_dict()["seed"] == 7


def test_cli_bad_config_and_spacing_exit_2_on_one_line(tmp_path: Path, sample_tile: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text("headings = 4.5\n")
    cases = [
        (["--config", str(cfg)], [str(cfg), "headings must be an integer, got 4.5"]),
        (["--spacing-m", "1e-6"], ["--spacing-m must be at least 1 m"]),
        (["--camera", "4k-90", "--camera-file", str(cfg)], ["--camera or --camera-file"]),
        (["--budget", "-1"], ["--budget must be positive or 0"]),
        # Type and finiteness errors name the flag too, as range errors do.
        (["--budget", "nan"], ["--budget must be a finite number, got nan"]),
        (["--time-limit", "inf"], ["--time-limit / time_limit_s must be a finite number"]),
        (["--tilts-deg", "10,x"], ["--tilts-deg must be comma-separated numbers"]),
    ]
    for args, parts in cases:
        code, text = _cli(["run", str(sample_tile), "--out", str(tmp_path / "o"), *args])
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert code == 2, text
        assert len(lines) == 1 and lines[0].startswith("placement: error:"), text
        assert all(p in lines[0] for p in parts), text
        assert not (tmp_path / "o").exists()


def test_camera_preset_or_camera_file_not_both(tmp_path: Path) -> None:
    cam = tmp_path / "cam.toml"
    with pytest.raises(OptionError, match="give --camera or --camera-file, not both"):
        RunOptions(camera="4k-90", camera_file=str(cam))
    # Naming the default preset explicitly conflicts too.
    with pytest.raises(OptionError, match="not both"):
        RunOptions(camera=DEFAULT_CAMERA, camera_file=str(cam))
    # A preset in the config and a camera file on the command line: the command line wins
    # (a config made from a summary.json always names the preset), and the other way round.
    cfg = tmp_path / "run.toml"
    cfg.write_text('camera = "tele-30"\n')
    opts = RunOptions.from_toml(cfg, camera_file=str(cam))
    assert (opts.camera, opts.camera_file) == (None, str(cam))
    cfg.write_text(f'camera_file = "{cam}"\n')
    opts = RunOptions.from_toml(cfg, camera="4k-90")
    assert (opts.camera, opts.camera_file) == ("4k-90", None)
    # Both in the file itself are still refused.
    cfg.write_text(f'camera = "tele-30"\ncamera_file = "{cam}"\n')
    with pytest.raises(OptionError, match="not both"):
        RunOptions.from_toml(cfg)
    # The effective preset is recorded; a camera file records none.
    assert RunOptions().to_dict()["camera"] == DEFAULT_CAMERA
    assert load_camera_for(RunOptions()).name == DEFAULT_CAMERA
    assert load_camera_for(RunOptions(camera="tele-30")).name == "tele-30"
    assert RunOptions(camera_file=str(cam)).to_dict()["camera"] is None


def test_config_paths_are_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    cfg = folder / "run.toml"
    cfg.write_text(
        'existing_file = "cams.csv"\nsites_file = "../sites.csv"\ncache_dir = "cache"\n'
        'priority_file = "/abs/prio.geojson"\nhalo = ["auto", "nb"]\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    opts = RunOptions.from_toml(Path("..") / "cfg" / "run.toml", camera_file="mine.toml")
    assert opts.existing_file == str(folder / "cams.csv")
    assert opts.sites_file == str(tmp_path / "sites.csv")
    assert opts.cache_dir == str(folder / "cache")
    assert opts.priority_file == "/abs/prio.geojson"
    assert opts.halo == ("auto", str(folder / "nb"))
    assert opts.camera_file == "mine.toml"  # the command line's stays as given
    # summary.json's options: absolute, whatever the folder
    assert opts.to_dict(absolute_paths=True)["camera_file"] == str(elsewhere / "mine.toml")


def test_budget_zero_and_default_budget_are_recorded() -> None:
    assert RunOptions(budget=0, existing_file="cams.csv").budget == 0.0
    with pytest.raises(OptionError, match="--budget 0 chooses nothing"):
        RunOptions(budget=0)  # nothing installed to score
    assert RunOptions().to_dict()["budget"] == DEFAULT_BUDGET == 10
    assert RunOptions(cover=0.5).to_dict()["budget"] is None
    # The recorded options rebuild the same options.
    d = RunOptions(headings=4).to_dict()
    assert RunOptions(**d).to_dict() == d


def test_config_with_relative_side_file_runs_from_another_folder(
    sample_tile: Path, existing_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "cams.csv").write_bytes(existing_csv.read_bytes())
    # No budget: the default one must be recorded.
    (folder / "run.toml").write_text(
        '[run]\nexisting_file = "cams.csv"\nrender = false\ntime_limit_s = 5\nworkers = 1\n'
        'cache_dir = "cache"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = str(Path("..") / "project" / "run.toml")
    code, text = _cli(["run", str(sample_tile), "--out", "out", "--config", config])
    assert code == 0, text
    s = json.loads((elsewhere / "out" / "summary.json").read_text())
    assert s["plan"]["existing"] == 1
    assert s["options"]["existing_file"] == str(folder / "cams.csv")
    assert s["options"]["budget"] == DEFAULT_BUDGET
    assert s["options"]["camera"] == DEFAULT_CAMERA
    digest = hashlib.sha256((folder / "cams.csv").read_bytes()).hexdigest()
    assert s["side_inputs"] == [
        {
            "option": "existing_file",
            "path": str(folder / "cams.csv"),
            "bytes": (folder / "cams.csv").stat().st_size,
            "sha256": digest,
        }
    ]
    assert (folder / "cache").is_dir()  # cache_dir too is relative to the config
    # summary.json's options rebuild the run's options from any folder.
    monkeypatch.chdir(tmp_path)
    again = RunOptions(**s["options"])
    assert again.existing_file == str(folder / "cams.csv")
    assert again.to_dict(absolute_paths=True) == s["options"]


def test_cache_dir_is_recorded_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    d = RunOptions(cache_dir="rel/cache").to_dict(absolute_paths=True)
    assert d["cache_dir"] == str(tmp_path / "rel" / "cache")
    with pytest.raises(OptionError, match="--workers must be at most"):
        RunOptions(workers=10**9)


def test_config_keys_outside_run_are_refused_and_the_command_line_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    for text, names in [
        ("budget = 3\n[run]\nseed = 1\n", "'budget' outside the [run] table"),
        ("[run]\nseed = 1\n[camera]\nhfov_deg = 20\n", "'camera' outside the [run] table"),
        ("[run]\nbudget = 3\ncover = 0.5\n", "not both"),
    ]:
        cfg.write_text(text)
        with pytest.raises(OptionError) as info:
            RunOptions.from_toml(cfg)
        assert str(info.value).startswith(f"{cfg}: ") and names in str(info.value)
    # The command line's goal replaces the file's other one.
    cfg.write_text("[run]\ncover = 0.5\nseed = 2\n")
    opts = RunOptions.from_toml(cfg, budget=5)
    assert (opts.budget, opts.cover, opts.seed) == (5.0, None, 2)
    cfg.write_text("[run]\nbudget = 5\n")
    opts = RunOptions.from_toml(cfg, cover=0.8)
    assert (opts.budget, opts.cover) == (None, 0.8)


def test_cli_switches_back_on_what_a_config_switched_off(tmp_path: Path, sample_tile: Path) -> None:
    """Every on/off option has both flags, so the command line wins both ways."""
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        "[run]\nbudget = 2\nrender = false\nhtml = false\nplateau_poles = false\n"
        "use_cache = false\ntime_limit_s = 2\nworkers = 1\n"
    )
    out = tmp_path / "out"
    args = ["run", str(sample_tile), "--out", str(out), "--config", str(cfg)]
    r = CliRunner().invoke(
        main, ["-q", *args, "--render", "--no-html", "--plateau-poles", "--cache",
               "--cache-dir", str(tmp_path / "c"), "--inset-m", "1.0"]
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    o = json.loads((out / "summary.json").read_text())["options"]
    assert (o["render"], o["html"], o["plateau_poles"], o["use_cache"]) == (True, False, True, True)
    assert o["inset_m"] == 1.0 and o["road_edge_sites"] is True
    assert (out / "scene.png").is_file() and not (out / "scene.html").exists()


def test_a_runs_summary_is_a_config_that_repeats_it(tmp_path: Path) -> None:
    opts = RunOptions(
        budget=4,
        headings=6,
        tilts_deg=(10, 25),
        min_level="observation",
        halo=("off",),
        sites_file=str(tmp_path / "mine.csv"),
        seed=3,
    )
    summary = tmp_path / "run1" / "summary.json"
    summary.parent.mkdir()
    summary.write_text(json.dumps({"version": "x", "options": opts.to_dict(absolute_paths=True)}))
    again = RunOptions.from_toml(summary)
    assert again.to_dict(absolute_paths=True) == opts.to_dict(absolute_paths=True)
    assert again.sites_file == str(tmp_path / "mine.csv")  # absolute, not beside the summary
    # The command line still wins.
    assert RunOptions.from_toml(summary, budget=9.0).budget == 9.0
    bad = tmp_path / "cameras.json"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputFileError, match=r"cameras\.json: no 'options' object"):
        RunOptions.from_toml(bad)
    bad.write_text("{")
    with pytest.raises(InputFileError, match=r"cameras\.json: not valid JSON"):
        RunOptions.from_toml(bad)
