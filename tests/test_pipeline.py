"""End to end: `placement run` / `view` / `inspect` on the sample tile and on real tiles."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from placement.cli import main
from placement.errors import OptionError
from placement.pipeline import LEVEL_NAMES, RunOptions, run
from placement.render import Scene
from placement.render._draw import legend_entries, subtitle

FAST = ["--time-limit", "5", "--workers", "1"]


def _run(args: list[str]) -> tuple[int, str]:
    """Invoke the CLI quietly (no progress bars) and return (exit code, stdout + stderr)."""
    r = CliRunner().invoke(main, ["-q", *args], catch_exceptions=False)
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory, sample_tile: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    cache = out.parent / "cache"
    code, text = _run(
        [
            "run",
            str(sample_tile),
            "--out",
            str(out),
            "--budget",
            "6",
            "--cache-dir",
            str(cache),
            "--time-limit",
            "5",
        ]
    )
    assert code == 0, text
    return out


def test_area_outputs_hold_the_points_they_count(sample_run: Path) -> None:
    """coverage_areas.geojson has one (Multi)Polygon per level reached, made of the points
    at that level (each inside it); views.geojson one per camera and level, made of the
    points that camera sees at that level."""
    import shapely

    pts = json.loads((sample_run / "coverage.geojson").read_text())["features"]
    bands = json.loads((sample_run / "coverage_areas.geojson").read_text())["features"]
    summary = json.loads((sample_run / "summary.json").read_text())
    by_level: dict[int | None, list[tuple[float, float]]] = {}
    for f in pts:
        by_level.setdefault(f["properties"]["level"], []).append(f["geometry"]["coordinates"][:2])
    assert [b["properties"]["level"] for b in bands] == sorted(by_level, key=lambda v: v or 0)
    assert sum(b["properties"]["points"] for b in bands) == len(pts)
    total = sum(b["properties"]["area_m2"] for b in bands)
    # Cells of 2 m, cut at the kerbs, about 4 m2 a point; the unseen area is the rest of the
    # street surface, so the areas add up to all of it.
    assert 0.85 * 4 * len(pts) < total <= 1.1 * 4 * len(pts)
    assert sum(b["properties"]["area_share"] for b in bands) == pytest.approx(1.0, abs=1e-5)
    for b in bands:
        p = b["properties"]
        inside = by_level[p["level"]]
        assert p["points"] == len(inside)
        assert p["level_name"] == ("unseen" if p["level"] is None else LEVEL_NAMES[p["level"] - 1])
        assert p["covered"] == (p["level"] is not None)
        assert p["weight_share"] == pytest.approx(
            p["weight"] / summary["demand"]["total_weight"], abs=1e-6
        )
        geom = shapely.geometry.shape(b["geometry"])
        assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
        d = shapely.distance(geom, shapely.points(np.array(inside)))
        assert float(d.max()) < 1e-6  # degrees: each point lies in its level's area
    others = [shapely.geometry.shape(b["geometry"]) for b in bands]
    # Each polygon is snapped to 1e-7 degrees on its own: along shared edges they may
    # overlap by a centimetre, no more (1e-12 square degrees is about 0.01 m2).
    assert others[0].intersection(others[1]).area < 5e-12
    unseen = next(b for b in bands if b["properties"]["level"] is None)["properties"]
    assert unseen["weight_share"] == pytest.approx(
        1 - summary["coverage"]["covered_fraction_weighted"], abs=1e-5
    )
    views = json.loads((sample_run / "views.geojson").read_text())["features"]
    cams = json.loads((sample_run / "cameras.geojson").read_text())["features"]
    ids = [c["properties"]["id"] for c in cams]
    assert sorted({v["properties"]["id"] for v in views}) == sorted(ids)
    for cam in ids:
        mine = [v["properties"] for v in views if v["properties"]["id"] == cam]
        sees = [f for f in pts if cam in f["properties"]["seen_by"]]
        assert sum(m["points"] for m in mine) == len(sees) > 0
        assert [m["level"] for m in mine] == sorted({m["level"] for m in mine})


def test_outputs_exist_and_agree(sample_run: Path) -> None:
    names = {p.name for p in sample_run.iterdir()}
    assert {
        "summary.json",
        "cameras.geojson",
        "coverage.geojson",
        "cameras.csv",
        "report.md",
        "scene.png",
        "scene.html",
        "scene.npz",
        "streets.csv",
        "coverage_areas.geojson",
        "views.geojson",
    } <= names
    summary = json.loads((sample_run / "summary.json").read_text())
    cams = json.loads((sample_run / "cameras.geojson").read_text())
    cov = json.loads((sample_run / "coverage.geojson").read_text())
    assert summary["plan"]["chosen"] == len(cams["features"]) <= 6
    assert summary["options"]["budget"] == 6
    assert summary["inputs"][0]["sha256"]
    sw = summary["software"]
    assert sw["ortools"] and sw["numpy"] and sw["python"].startswith("3.")
    assert sw["git"] is None or len(sw["git"]) >= 7  # a commit when run from a checkout
    ((read, n_features),) = summary["files_read"].items()
    assert read.endswith("sample_city.gml") and n_features == sum(summary["counts"].values())
    # Every camera stands on the tile.
    minx, miny, _, maxx, maxy, _ = summary["city"]["bounds_m"]
    for f in cams["features"]:
        p = f["properties"]
        assert minx - 1 <= p["x_m"] <= maxx + 1 and miny - 1 <= p["y_m"] <= maxy + 1
        lon, lat = f["geometry"]["coordinates"][:2]
        assert 134.0 < lon < 136.0 and 34.0 < lat < 35.5
    # Coverage numbers in the summary agree with the GeoJSON.
    pts = cov["features"]
    assert len(pts) == summary["coverage"]["points"]
    seen = [f for f in pts if f["properties"]["level"] is not None]
    assert len(seen) == summary["coverage"]["covered_points"]
    w = sum(f["properties"]["weight"] for f in seen)
    assert w == pytest.approx(summary["coverage"]["covered_weight"], rel=1e-6)
    ids = {f["properties"]["id"] for f in cams["features"]}
    assert all(set(f["properties"]["seen_by"]) <= ids for f in pts)
    assert all(f["properties"]["seen_by"] for f in seen)
    by_level = summary["coverage"]["by_level"]
    assert [by_level[n]["points"] for n in LEVEL_NAMES] == sorted(
        (by_level[n]["points"] for n in LEVEL_NAMES), reverse=True
    )
    # The picture's legend counts each point at its best level: the summary says so too.
    legend = {
        e.level: e.share
        for e in legend_entries(Scene.load(sample_run / "scene.npz"))
        if e.level is not None
    }
    for i, n in enumerate(LEVEL_NAMES, start=1):
        assert by_level[n]["best_fraction_weighted"] == pytest.approx(legend.get(i, 0.0))
    assert sum(legend.get(i, 0.0) for i in range(1, 5)) == pytest.approx(
        summary["coverage"]["covered_fraction_weighted"]
    )
    report = (sample_run / "report.md").read_text()
    assert "| Best level here |" in report
    # The report lists every camera, as cameras.geojson has it.
    for f in cams["features"]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"][:2]
        row = f"| `{p['id']}` | `{p['site_id']}` | {lon:.6f}, {lat:.6f} |"
        assert row in report
    det = by_level["detection"]
    row = next(ln for ln in report.splitlines() if ln.startswith("| detection |"))
    assert row.endswith(
        f"| {100 * det['fraction_weighted']:.1f} % | {100 * det['best_fraction_weighted']:.1f} % |"
    )
    assert summary["plan"]["bound"] >= summary["plan"]["objective"] - 1e-6
    # Every search phase ended by its fixed work: the run repeats (and says so).
    assert summary["plan"]["repeatable"] is True
    assert summary["plan"]["clock_cut"] == []
    with (sample_run / "cameras.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [f["properties"]["id"] for f in cams["features"]]
    # A camera's loss_weight is the weight of the points no other chosen camera sees.
    for r in rows:
        alone = [p for p in pts if p["properties"]["seen_by"] == [r["id"]]]
        lost = sum(p["properties"]["weight"] for p in alone)
        assert float(r["loss_weight"]) == pytest.approx(lost, abs=1e-3)
        assert float(r["loss_weight"]) <= float(r["covered_weight"]) + 1e-9
    # Streets: their sums are the points', and each point's road_id is one of them.
    with (sample_run / "streets.csv").open() as f:
        streets = list(csv.DictReader(f))
    assert sum(int(r["points"]) for r in streets) == len(pts)
    assert sum(float(r["covered_weight"]) for r in streets) == pytest.approx(w, rel=1e-6)
    by_road: dict[str, float] = {}
    for f in seen:
        by_road[f["properties"]["road_id"]] = (
            by_road.get(f["properties"]["road_id"], 0.0) + (f["properties"]["weight"])
        )
    for r in streets:
        assert float(r["covered_weight"]) == pytest.approx(by_road.get(r["road_id"], 0.0))
    unc = [float(r["uncovered_weight"]) for r in streets]
    assert unc == sorted(unc, reverse=True)
    assert summary["streets"]["total"] == len(streets)
    assert summary["timings_s"]["write"] > 0  # the write stage is recorded too
    assert "## Streets left most uncovered" in (sample_run / "report.md").read_text()
    # The picture's scene holds the run's k (1), not its number of cameras.
    scene = Scene.load(sample_run / "scene.npz")
    assert scene.k == summary["options"]["k"] == 1 and len(scene.cam_ids) == len(ids) > 1


def test_png_shows_red_and_green_streets(sample_run: Path) -> None:
    import pyvista as pv

    img = np.asarray(pv.read(str(sample_run / "scene.png")).point_data["PNGImage"])
    rgb = img[:, :3].astype(int)
    assert len(np.unique(rgb // 16, axis=0)) > 30  # real colour variety, not a blank frame
    red = (rgb[:, 0] > 150) & (rgb[:, 1] < 90) & (rgb[:, 2] < 90)
    green = (rgb[:, 1] > 110) & (rgb[:, 0] < 110) & (rgb[:, 2] < 130)
    assert red.sum() > 200 and green.sum() > 200


def test_second_run_reuses_the_visibility_cache(sample_run: Path, sample_tile: Path) -> None:
    out2 = sample_run.parent / "again"
    cache = sample_run.parent / "cache"
    code, text = _run(
        [
            "run",
            str(sample_tile),
            "--out",
            str(out2),
            "--budget",
            "6",
            "--cache-dir",
            str(cache),
            "--time-limit",
            "5",
            "--no-render",
        ]
    )
    assert code == 0, text
    s1 = json.loads((sample_run / "summary.json").read_text())
    s2 = json.loads((out2 / "summary.json").read_text())
    assert s1["visibility"]["from_cache"] is False
    assert s2["visibility"]["from_cache"] is True
    c1 = json.loads((sample_run / "cameras.geojson").read_text())
    c2 = json.loads((out2 / "cameras.geojson").read_text())
    assert [f["properties"]["site_id"] for f in c1["features"]] == [
        f["properties"]["site_id"] for f in c2["features"]
    ]


def test_view_screenshot(sample_run: Path, tmp_path: Path) -> None:
    shot = tmp_path / "view.png"
    code, text = _run(["view", str(sample_run), "--screenshot", str(shot)])
    assert code == 0, text
    assert shot.stat().st_size > 10_000


def test_view_screenshot_names_are_checked_before_drawing(sample_run: Path, tmp_path: Path) -> None:
    code, text = _run(["view", str(sample_run), "--screenshot", str(tmp_path / "plan")])
    assert code == 0, text
    assert (tmp_path / "plan.png").stat().st_size > 10_000 and "plan.png" in text
    for bad, why in [
        (tmp_path / "no" / "x.png", "does not exist"),
        (tmp_path, "is a folder"),
        (tmp_path / "x.txt", "ending in .png"),
    ]:
        code, text = _run(["view", str(sample_run), "--screenshot", str(bad)])
        assert code == 2 and why in text and len(text.strip().splitlines()) == 1, text
    code, text = _run(["view", str(sample_run), "--screenshot", str(tmp_path / "Upper.PNG")])
    assert code == 0 and "Upper.png" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Upper.png", "plan.png"]


def test_view_of_a_named_scene_file_draws_that_file(sample_run: Path, tmp_path: Path) -> None:
    # A scene file under another name is drawn as it is, not the scene.npz beside it.
    shutil.copyfile(sample_run / "scene.npz", tmp_path / "other.npz")
    (tmp_path / "scene.npz").write_bytes(b"junk\n")
    shot = tmp_path / "other.png"
    code, text = _run(["view", str(tmp_path / "other.npz"), "--screenshot", str(shot)])
    assert code == 0, text
    assert shot.stat().st_size > 10_000
    # And the junk one, named, is refused as such.
    code, text = _run(["view", str(tmp_path / "scene.npz"), "--screenshot", str(shot)])
    assert code == 2 and "damaged, or not a placement scene" in text, text


@pytest.mark.parametrize("damage", ["truncated", "junk", "faces", "cameras"])
def test_view_of_a_damaged_scene_file(sample_run: Path, tmp_path: Path, damage: str) -> None:
    data = (sample_run / "scene.npz").read_bytes()
    if damage in ("truncated", "junk"):
        (tmp_path / "scene.npz").write_bytes(data[:1000] if damage == "truncated" else b"junk\n")
        why = "damaged, or not a placement scene"
    else:  # well-formed arrays that do not fit together: a face past the vertices would
        # crash the drawing library itself
        with np.load(sample_run / "scene.npz") as z:
            arrays = {k: z[k] for k in z.files}
        if damage == "faces":
            arrays["occ_faces"] = arrays["occ_faces"].copy()
            arrays["occ_faces"][0, 0] = 10**6
            why = "occ_faces refer to vertices that do not exist"
        else:
            arrays["cam_ids"] = arrays["cam_ids"][:1]
            why = "cam_ids must have one entry per camera"
        np.savez_compressed(tmp_path / "scene.npz", **arrays)
    code, text = _run(["view", str(tmp_path), "--screenshot", str(tmp_path / "x.png")])
    assert code == 2 and why in text, text
    assert "pickle" not in text and "internal error" not in text


def test_view_without_a_display_says_so(sample_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, text = _run(["view", str(sample_run)])
    assert code == 2 and "no display" in text and "--screenshot" in text


def test_view_with_a_display_nobody_serves_says_so(
    sample_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # VTK only warns on a bad display, and the command ended 0 with nothing shown.
    import socket
    import sys

    from placement.cli import _no_display

    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with socket.socket() as server:  # a port of 6000 + n that something listens on
        for n in range(60, 99):
            try:
                server.bind(("127.0.0.1", 6000 + n))
                break
            except OSError:
                continue
        server.listen(1)
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{n}.0")
        assert _no_display() is None
    monkeypatch.setenv("DISPLAY", f"127.0.0.1:{n}.0")
    assert _no_display() == f"DISPLAY=127.0.0.1:{n}.0: no X server answers"
    if sys.platform == "linux":  # a local display by its abstract socket
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(f"\0/tmp/.X11-unix/X{n}")
            server.listen(1)
            monkeypatch.setenv("DISPLAY", f":{n}")
            assert _no_display() is None
    monkeypatch.setenv("DISPLAY", f":{n}")
    code, text = _run(["view", str(sample_run)])
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and f"DISPLAY=:{n}: no X server there" in text, text
    # The scene file itself names its folder; another file is refused as one.
    code, text = _run(["view", str(sample_run / "scene.npz"), "--screenshot", str(tmp_path / "v")])
    assert code == 0 and (tmp_path / "v.png").stat().st_size > 10_000, text
    code, text = _run(["view", str(sample_run / "summary.json")])
    assert code == 2 and "is a file, not a run's folder" in text, text


def test_min_cover_reaches_its_target(sample_tile: Path, tmp_path: Path) -> None:
    opts = RunOptions(cover=0.9, render=False, time_limit_s=5, workers=1, cache_dir=str(tmp_path))
    res = run([sample_tile], opts)
    cov = res.summary["coverage"]
    coverable_w = float(
        res.demand.weight[np.asarray(res.coverage.matrix.max(axis=0).toarray()).ravel() > 0].sum()
    )
    assert cov["covered_weight"] >= 0.9 * coverable_w - 1e-6
    assert res.summary["plan"]["bound"] <= res.summary["plan"]["objective"] + 1e-9


@pytest.mark.parametrize("budget", [3, 0])  # 0 scores the installed camera alone
def test_existing_cameras_are_kept(
    sample_tile: Path, existing_csv: Path, tmp_path: Path, budget: int
) -> None:
    res = run(
        [sample_tile],
        RunOptions(
            budget=budget,
            existing_file=str(existing_csv),
            render=False,
            workers=1,
            time_limit_s=5,
            cache_dir=str(tmp_path),
        ),
    )
    chosen = np.asarray(res.plan.chosen)
    kept = [res.sites.ids[res.options.site[c]] for c in chosen if res.options.existing[c]]
    assert kept == ["old-1"]
    assert res.summary["plan"]["new"] <= budget
    assert res.summary["plan"]["existing"] == 1
    assert res.summary["coverage"]["covered_points"] > 0
    assert res.summary["options"]["budget"] == budget


def test_a_pole_with_an_installed_camera_can_take_another(
    sample_tile: Path, tmp_path: Path
) -> None:
    """Take back one of two cameras that share a pole: with the others installed, one new
    camera puts it back, and the answer is the whole run's again."""
    common: dict[str, Any] = {"render": False, "time_limit_s": 10, "workers": 1}
    common["cache_dir"] = str(tmp_path / "c")
    whole = run([sample_tile], RunOptions(budget=40, **common), out_dir=tmp_path / "a")
    assert whole.plan.status == "optimal"
    with (tmp_path / "a" / "cameras.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_site: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_site.setdefault(r["site_id"], []).append(r)
    shared = [c for c in by_site.values() if len(c) >= 2]
    assert shared, "no pole carries two cameras at budget 40"
    gone = shared[0][0]
    installed = tmp_path / "installed.csv"
    with installed.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r is not gone)
    again = run([sample_tile], RunOptions(budget=1, existing_file=str(installed), **common))
    assert again.plan.status == "optimal"
    assert again.plan.objective == pytest.approx(whole.plan.objective)
    new = [c for c in again.plan.chosen if not again.options.existing[c]]
    assert len(new) == 1
    assert again.sites.ids[again.options.site[new[0]]] == gone["site_id"]
    assert again.options.heading_deg[new[0]] == pytest.approx(float(gone["heading_deg"]))
    # At most one camera a pole: the pole is full already, and the run says so.
    with pytest.raises(OptionError, match=r"--max-per-site 1: pole \S+ already has \d installed"):
        run(
            [sample_tile],
            RunOptions(
                budget=1,
                existing_file=str(tmp_path / "a" / "cameras.csv"),
                max_per_site=1,
                **common,
            ),
        )


def test_new_cameras_are_no_twins_of_installed_ones(sample_tile: Path, tmp_path: Path) -> None:
    """Where points need two cameras, a copy of an installed camera on its own pole would
    'see' them a second time: no option repeats an installed camera."""
    common: dict[str, Any] = {"render": False, "time_limit_s": 5, "workers": 1}
    common["cache_dir"] = str(tmp_path / "c")
    run([sample_tile], RunOptions(budget=8, **common), out_dir=tmp_path / "a")
    res = run(
        [sample_tile],
        RunOptions(budget=6, k=2, existing_file=str(tmp_path / "a" / "cameras.csv"), **common),
    )
    chosen = np.asarray(res.plan.chosen)
    old = chosen[res.options.existing[chosen]]
    new = chosen[~res.options.existing[chosen]]
    assert len(old) == 8 and len(new) >= 1
    for j in new:
        same = (
            (np.hypot(*(res.options.origin[old, :2] - res.options.origin[j, :2]).T) < 1.0)
            & (np.abs(res.options.heading_deg[old] - res.options.heading_deg[j]) < 0.5)
            & (np.abs(res.options.tilt_deg[old] - res.options.tilt_deg[j]) < 0.5)
        )
        assert not same.any()


def test_installed_cameras_of_another_model_are_warned_of(
    sample_tile: Path, tmp_path: Path
) -> None:
    common: dict[str, Any] = {"render": False, "time_limit_s": 5, "workers": 1}
    common["cache_dir"] = str(tmp_path / "c")
    tele = run(
        [sample_tile], RunOptions(budget=3, camera="tele-30", **common), out_dir=tmp_path / "t"
    )
    path = str(tmp_path / "t" / "cameras.csv")
    same = run([sample_tile], RunOptions(budget=0, existing_file=path, camera="tele-30", **common))
    assert same.plan.objective == pytest.approx(tele.plan.objective)
    assert not [w for w in same.summary["run_warnings"] if "another camera" in w]
    other = run([sample_tile], RunOptions(budget=0, existing_file=path, **common))
    (msg,) = [w for w in other.summary["run_warnings"] if "another camera" in w]
    assert "3 of 3 cameras" in msg and "tele-30" in msg and "fullhd-103" in msg
    assert other.plan.objective < tele.plan.objective  # scored as wide, short-range cameras


def test_config_file_and_command_line(tmp_path: Path, sample_tile: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text("[run]\nbudget = 2\nheadings = 4\ndemand_spacing_m = 4.0\nrender = false\n")
    out = tmp_path / "o"
    code, text = _run(
        [
            "run",
            str(sample_tile),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--headings",
            "6",
            "--cache-dir",
            str(tmp_path / "c"),
            *FAST,
        ]
    )
    assert code == 0, text
    s = json.loads((out / "summary.json").read_text())
    assert s["options"]["budget"] == 2 and s["options"]["headings"] == 6
    assert s["options"]["demand_spacing_m"] == 4.0
    assert s["plan"]["chosen"] <= 2
    bad = tmp_path / "bad.toml"
    bad.write_text("budgets = 3\n")
    code, text = _run(["run", str(sample_tile), "--out", str(tmp_path / "x"), "--config", str(bad)])
    assert code == 2 and "unknown option 'budgets'" in text
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("not xml at all", [], "not"),
        ("<?xml version='1.0'?><CityModel><cityObjectMember>", [], "bad.gml"),
        ("<?xml version='1.0'?><html/>", [], "bad.gml"),
        (
            "<?xml version='1.0'?><core:CityModel "
            "xmlns:core='http://www.opengis.net/citygml/2.0'/>",
            [],
            "no supported features",
        ),
        (None, ["--budget", "-3"], "--budget must be positive"),
        (None, ["--budget", "3", "--cover", "0.5"], "not both"),
        (None, ["--camera", "nope"], "unknown camera preset"),
    ],
)
def test_bad_input_gives_one_line_and_leaves_dir_untouched(
    tmp_path: Path, sample_tile: Path, content: str | None, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old result")
    path = sample_tile
    if content is not None:
        path = tmp_path / "bad.gml"
        path.write_text(content)
    code, text = _run(
        ["run", str(path), "--out", str(out), "--cache-dir", str(tmp_path / "c"), *args]
    )
    assert code == 2
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("placement: error:"), text
    assert message in lines[0]
    assert "Traceback" not in text
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_missing_file_and_view_of_non_result(tmp_path: Path) -> None:
    code, text = _run(["run", str(tmp_path / "none.gml"), "--out", str(tmp_path / "o")])
    assert code == 2 and "no such file" in text
    code, text = _run(["view", str(tmp_path)])
    assert code == 2 and "scene.npz" in text and "not a placement run folder" in text
    (tmp_path / "summary.json").write_text("{}")  # a run made with --no-render
    code, text = _run(["view", str(tmp_path)])
    assert code == 2 and "made with --no-render" in text
    code, text = _run(["view", str(tmp_path / "gone")])
    assert code == 2 and text.strip() == f"placement: error: {tmp_path / 'gone'}: no such folder"
    sweep = tmp_path / "sweep"
    (sweep / "budget-10").mkdir(parents=True)
    (sweep / "budget-10" / "summary.json").write_text("{}")
    (sweep / "budget-notes").mkdir()  # the user's: not a run
    (sweep / "sweep.md").write_text("# Coverage against budget")
    code, text = _run(["view", str(sweep)])
    assert code == 2 and "a sweep's folder: view one of its runs, budget-10" in text
    # A link to a folder that is gone is refused before any work.
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    code, text = _run(["run", str(tmp_path / "none.gml"), "--out", str(tmp_path / "link")])
    assert code == 2 and "no such file" in text  # the input is checked first
    from placement.io import check_writable

    with pytest.raises(OptionError, match=r"a symbolic link to .*gone, which does not exist"):
        check_writable(tmp_path / "link")


def test_inspect_json(sample_tile: Path) -> None:
    code, text = _run(["inspect", str(sample_tile), "--json"])
    assert code == 0, text
    info = json.loads(text)
    assert info["crs"].startswith("EPSG:66")
    assert info["counts"]["Building"] > 10
    assert info["triangles"] > 100
    code, text = _run(["inspect", str(sample_tile)])
    assert code == 0 and "Building" in text


def test_python_m_placement_is_the_command(sample_tile: Path) -> None:
    """``python -m placement`` works where the script is not on the PATH (a notebook's
    kernel, a venv not activated), under the command's own name."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "placement", "inspect", str(sample_tile), "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["Building"] > 10
    bad = subprocess.run(
        [sys.executable, "-m", "placement", "run", str(sample_tile)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Usage: placement run" in bad.stderr


def test_real_lod2_tile_end_to_end(plateau: Path, tmp_path: Path) -> None:
    tiles = [plateau / "osaka" / f"52350301_{k}_6697_op.gml" for k in ("bldg", "tran")]
    out = tmp_path / "osaka"
    code, text = _run(
        [
            "run",
            *map(str, tiles),
            "--out",
            str(out),
            "--budget",
            "15",
            "--demand-spacing-m",
            "4",
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-html",
            *FAST,
        ]
    )
    assert code == 0, text
    s = json.loads((out / "summary.json").read_text())
    assert s["crs"] == "EPSG:6674"
    assert s["plan"]["chosen"] == 15
    assert 0.05 < s["coverage"]["covered_fraction"] <= 1.0
    assert s["plan"]["gap"] <= 0.05
    cams = json.loads((out / "cameras.geojson").read_text())["features"]
    minx, miny, _, maxx, maxy, _ = s["city"]["bounds_m"]
    for f in cams:
        assert minx <= f["properties"]["x_m"] <= maxx and miny <= f["properties"]["y_m"] <= maxy


def test_kth_levels_against_brute_force() -> None:
    from scipy import sparse

    from placement.pipeline import kth_levels

    rng = np.random.default_rng(3)
    dense = rng.integers(0, 5, size=(7, 40)) * (rng.random((7, 40)) < 0.5)
    m = sparse.csr_matrix(dense.astype(np.int8))
    for k in (1, 2, 3, 7, 8):
        want = [
            int(np.sort(dense[:, j])[::-1][k - 1]) if k <= dense.shape[0] else 0
            for j in range(dense.shape[1])
        ]
        assert kth_levels(m, dense.shape[1], k).tolist() == want


def test_k2_reports_points_seen_by_two_cameras(sample_tile: Path, tmp_path: Path) -> None:
    opts = RunOptions(budget=6, k=2, html=False, time_limit_s=5, workers=1, cache_dir=str(tmp_path))
    # An earlier run's page would show other cameras: a run without --html removes it.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "scene.html").write_text("an earlier run")
    (tmp_path / "out" / "notes.txt").write_text("the planner's")
    res = run([sample_tile], opts, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "scene.html").exists()
    assert (tmp_path / "out" / "notes.txt").read_text() == "the planner's"
    assert "scene.html" not in res.files and "scene.png" in res.files
    seen = res.coverage.matrix[np.asarray(res.plan.chosen)].toarray() >= 1
    twice = seen.sum(axis=0) >= 2
    once = seen.sum(axis=0) == 1
    # The picture draws the points seen once apart from those nobody sees.
    scene = Scene.load(tmp_path / "out" / "scene.npz")
    np.testing.assert_array_equal(scene.demand_partial, once)
    assert once.any() and twice.any()  # the test tells the two counts apart
    cov = res.summary["coverage"]
    assert cov["covered_points"] == int(twice.sum()) == res.summary["plan"]["points_covered"]
    assert cov["covered_weight"] == pytest.approx(res.plan.objective)
    assert cov["by_level"]["detection"]["points"] == int(twice.sum())
    pts = json.loads((tmp_path / "out" / "coverage.geojson").read_text())["features"]
    assert sum(f["properties"]["level"] is not None for f in pts) == int(twice.sum())
    any_two = (res.coverage.matrix >= 1).sum(axis=0).A1 >= 2
    assert cov["coverable_points"] == int(any_two.sum())
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Demand covered (weighted, by 2 cameras)" in report
    # The polygons keep the points seen once apart from the unseen ones too.
    bands = json.loads((tmp_path / "out" / "coverage_areas.geojson").read_text())["features"]
    by_name = {b["properties"]["level_name"]: b["properties"] for b in bands}
    assert by_name["seen by fewer than 2"]["points"] == int(once.sum())
    assert by_name["unseen"]["points"] == int((~seen.any(axis=0)).sum())
    assert by_name["seen by fewer than 2"]["level"] is None
    assert not by_name["seen by fewer than 2"]["covered"]
    assert sum(b["properties"]["points"] for b in bands) == len(res.demand)
    assert sum(b["properties"]["area_share"] for b in bands) == pytest.approx(1.0, abs=1e-5)
    # At k = 2 a camera's loss is the points seen by exactly two chosen cameras, it one.
    exactly = seen.sum(axis=0) == 2
    w = res.demand.weight
    want = [float(w[exactly & seen[i]].sum()) for i in range(seen.shape[0])]
    np.testing.assert_allclose(res.camera_loss, want)


def test_k2_at_a_higher_level_labels_every_seen_point_by_what_sees_it(
    sample_tile: Path, tmp_path: Path
) -> None:
    # k = 2 at observation: a point one chosen camera sees at detection only is "seen by
    # fewer than 2" (it was labelled unseen), two cameras at detection give "detection".
    opts = RunOptions(
        budget=8,
        k=2,
        min_level="observation",
        html=False,
        time_limit_s=5,
        workers=1,
        cache_dir=str(tmp_path),
    )
    res = run([sample_tile], opts, out_dir=tmp_path / "out")
    lv = res.coverage.matrix[np.asarray(res.plan.chosen)].toarray()
    seen_by = (lv >= 1).sum(axis=0)
    kth = -np.sort(-lv, axis=0)[1]  # the second best level
    once_low = (seen_by == 1) & (lv.max(axis=0) == 1)
    assert once_low.any()  # the case the label is about occurs here
    bands = json.loads((tmp_path / "out" / "coverage_areas.geojson").read_text())["features"]
    by_name = {b["properties"]["level_name"]: b["properties"] for b in bands}
    assert by_name["unseen"]["points"] == int((seen_by == 0).sum())
    assert by_name["seen by fewer than 2"]["points"] == int((seen_by == 1).sum())
    for level, name in enumerate(LEVEL_NAMES, start=1):
        got = by_name[name]["points"] if name in by_name else 0
        assert got == int(((seen_by >= 2) & (kth == level)).sum()), name
        if name in by_name:
            assert by_name[name]["covered"] is (level >= 2)
    scene = Scene.load(tmp_path / "out" / "scene.npz")
    np.testing.assert_array_equal(scene.demand_partial, seen_by == 1)


def test_weigh_by_length_is_reported_in_street_metres(sample_tile: Path, tmp_path: Path) -> None:
    opts = RunOptions(
        budget=4,
        weigh_by="length",
        render=False,
        time_limit_s=5,
        workers=1,
        cache_dir=str(tmp_path),
    )
    res = run([sample_tile], opts, out_dir=tmp_path / "out")
    cov = res.summary["coverage"]
    assert cov["weigh_by"] == "length" and cov["weight_unit"] == "street metres"
    assert cov["total_weight"] == pytest.approx(float(res.demand.weight.sum()))
    # No multipliers here: the weights are the street metres.
    assert cov["street_m"] == pytest.approx(cov["total_weight"])
    assert cov["covered_street_m"] == pytest.approx(cov["covered_weight"])
    # Every point weighs the street length it stands for: less than its 2 x 2 m cell
    # wherever the road is wider than 2 m.
    assert res.demand.weight.max() <= 2.0 + 1e-9 and res.demand.weight.min() > 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"| Street length covered | {cov['covered_street_m']:,.0f} m of " in report
    # A priority-free run by area reports the same street length (it does not depend on
    # the weights).
    area = run([sample_tile], dataclasses.replace(opts, weigh_by="area"))
    assert area.summary["coverage"]["street_m"] == pytest.approx(cov["street_m"])
    with pytest.raises(OptionError, match="--weigh-by must be one of area, length"):
        RunOptions(weigh_by="width")


def test_priority_areas_are_reported_with_their_coverage(
    sample_run: Path, sample_tile: Path, tmp_path: Path
) -> None:
    """Each --priority polygon gets its own coverage line, counted from the points in it."""
    pts = json.loads((sample_run / "coverage.geojson").read_text())["features"]
    lon = np.array([f["geometry"]["coordinates"][0] for f in pts])
    lat = np.array([f["geometry"]["coordinates"][1] for f in pts])
    mid = float(np.median(lon))
    west = [
        [lon.min() - 1e-4, lat.min() - 1e-4],
        [mid, lat.min() - 1e-4],
        [mid, lat.max() + 1e-4],
        [lon.min() - 1e-4, lat.max() + 1e-4],
        [lon.min() - 1e-4, lat.min() - 1e-4],
    ]
    e0, e1 = lon.max() + 0.001, lon.max() + 0.002
    east = [[e0, lat.min()], [e1, lat.min()], [e1, lat.max()], [e0, lat.max()], [e0, lat.min()]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [west]},
                "properties": {"weight": 3, "name": "school route"},
            },
            {  # just east of the streets: no point in it
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [east]},
                "properties": {"weight": 2},
            },
        ],
    }
    prio = tmp_path / "prio.geojson"
    prio.write_text(json.dumps(doc))
    opts = RunOptions(
        budget=6,
        priority_file=str(prio),
        render=False,
        time_limit_s=5,
        workers=1,
        cache_dir=str(tmp_path),
    )
    run([sample_tile], opts, out_dir=tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    area, empty = summary["priority_areas"]
    assert empty["points"] == 0 and empty["weight"] == 0 and empty["name"] == ""
    got = json.loads((tmp_path / "out" / "coverage.geojson").read_text())["features"]
    inside = [f for f in got if f["geometry"]["coordinates"][0] < mid]
    assert area["name"] == "school route" and area["multiplier"] == 3.0
    assert area["points"] == len(inside) > 0
    assert area["weight"] == pytest.approx(sum(f["properties"]["weight"] for f in inside))
    seen = [f for f in inside if f["properties"]["covered"]]
    assert area["covered_points"] == len(seen)
    assert area["covered_weight"] == pytest.approx(sum(f["properties"]["weight"] for f in seen))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Priority areas" in report
    assert f"| 1 | school route | 3 | {len(inside):,} | {len(seen):,} |" in report
    assert "| 2 |  | 2 | 0 | 0 | no street points |" in report


def test_an_optimisation_too_big_for_memory_is_refused_before_it_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from placement.errors import OptionError
    from placement.pipeline import check_memory

    with pytest.raises(OptionError, match=r"about 7\.4 GB for 147\.7 million visible .* 4\.0 GB"):
        check_memory(147_700_000, 20.0, available=4_000_000_000)
    with caplog.at_level("WARNING"):
        check_memory(50_000_000, 20.0, available=4_000_000_000)  # 2.5 GB: more than half
    assert "about 2.5 GB of the 4.0 GB free" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        check_memory(3_000_000, 20.0, available=4_000_000_000)
    assert caplog.text == ""


def test_min_level_outputs_agree_with_the_headline(sample_tile: Path, tmp_path: Path) -> None:
    """Under --min-level observation, the GeoJSON's `covered` flag, the picture's subtitle
    and its view volumes count what the summary counts, not detection."""
    opts = RunOptions(
        budget=6, min_level="observation", time_limit_s=5, workers=1, cache_dir=str(tmp_path)
    )
    res = run([sample_tile], opts, out_dir=tmp_path / "out")
    cov = res.summary["coverage"]
    pts = json.loads((tmp_path / "out" / "coverage.geojson").read_text())["features"]
    counted = [f for f in pts if f["properties"]["covered"]]
    detection_only = [f for f in pts if f["properties"]["level"] == 1]
    assert detection_only and not any(f["properties"]["covered"] for f in detection_only)
    assert len(counted) == cov["covered_points"] > 0
    assert all(f["properties"]["level"] >= 2 for f in counted)
    assert sum(f["properties"]["weight"] for f in counted) == pytest.approx(cov["covered_weight"])
    scene = Scene.load(tmp_path / "out" / "scene.npz")
    assert scene.min_level == 2
    assert scene.range_m == pytest.approx(res.camera.max_distance_for_level(2))
    sub = subtitle(scene)
    assert f"{100 * cov['covered_fraction_weighted']:.1f} % of street demand seen at " in sub
    assert "observation or better" in sub and f"observation to {scene.range_m:.0f} m" in sub


@pytest.mark.parametrize("edge_sites", [True, False])
def test_cameras_file_reads_back_as_the_same_cameras(
    sample_tile: Path, tmp_path: Path, edge_sites: bool
) -> None:
    """Without road-edge sites the cameras hang on the sample's two PLATEAU poles, on
    brackets: they read back at the same lens positions (to the bit) and see the
    same points."""
    common: dict[str, Any] = {
        "render": False,
        "time_limit_s": 5,
        "workers": 1,
        "cache_dir": str(tmp_path),
        "road_edge_sites": edge_sites,
    }
    n = 3 if edge_sites else 6
    base = run(
        [sample_tile],
        RunOptions(budget=n, tilts_deg=(15.0, 30.0), **common),
        out_dir=tmp_path / "a",
    )
    chosen = np.asarray(base.plan.chosen)
    if not edge_sites:
        assert {base.sites.source[s] for s in base.options.site[chosen]} == {"plateau-pole"}
    with (tmp_path / "a" / "cameras.csv").open() as f:
        ids_before = [r["id"] for r in csv.DictReader(f)]
    assert ids_before == [f"cam-{i:03d}" for i in range(1, n + 1)]
    for name in ("cameras.geojson", "cameras.csv"):
        out = tmp_path / f"again-{name}"
        again = run(
            [sample_tile],
            RunOptions(
                budget=1, existing_file=str(tmp_path / "a" / name), **{**common, "render": True}
            ),
            out_dir=out,
        )
        kept = np.asarray(again.plan.chosen)[again.options.existing[again.plan.chosen]]
        assert len(kept) == len(chosen) == n
        # They keep their ids; the new camera is numbered after them, in every output.
        with (out / "cameras.csv").open() as f:
            rows = list(csv.DictReader(f))
        ids = {r["id"]: r for r in rows}
        new = [f"cam-{n + 1:03d}"] if len(rows) > n else []  # the poles may be full
        assert new or not edge_sites
        assert set(ids) == {*ids_before, *new} and len(rows) == len(again.plan.chosen)
        assert all(ids[i]["existing"] in ("True", "true", "1") for i in ids_before)
        # ... and stand at the sites they stood at.
        with (tmp_path / "a" / "cameras.csv").open() as f:
            sites_before = {r["id"]: r["site_id"] for r in csv.DictReader(f)}
        assert {i: ids[i]["site_id"] for i in ids_before} == sites_before
        assert set(Scene.load(out / "scene.npz").cam_ids) == set(ids)
        seen_by = json.loads((out / "coverage.geojson").read_text())["features"]
        assert {c for f in seen_by for c in f["properties"]["seen_by"]} <= set(ids)
        np.testing.assert_allclose(
            again.options.origin[kept], base.options.origin[chosen], rtol=0, atol=1e-9
        )
        seen_before = (base.coverage.matrix[chosen] > 0).sum(axis=0).A1 > 0
        seen_again = (again.coverage.matrix[kept] > 0).sum(axis=0).A1 > 0
        np.testing.assert_array_equal(seen_again, seen_before)
        np.testing.assert_allclose(again.options.tilt_deg[kept], base.options.tilt_deg[chosen])
        np.testing.assert_allclose(
            again.options.heading_deg[kept], base.options.heading_deg[chosen]
        )
        # The same cameras see the same points.
        assert again.camera_weight[: len(kept)].sum() == pytest.approx(base.camera_weight.sum())


def test_installed_cameras_keep_their_files_site_ids_where_no_site_is_offered(
    sample_tile: Path, tmp_path: Path
) -> None:
    """A cameras file read back by a run that offers no candidate at their poles (no
    road-edge sites, no PLATEAU poles) still names the poles the file named, not the
    cameras themselves."""
    common: dict[str, Any] = {"render": False, "time_limit_s": 5, "workers": 1}
    run([sample_tile], RunOptions(budget=3, **common), out_dir=tmp_path / "a")
    with (tmp_path / "a" / "cameras.csv").open() as f:
        before = {r["id"]: r["site_id"] for r in csv.DictReader(f)}
    assert len(before) == 3 and all(s.startswith(("edge-", "pole-")) for s in before.values())
    again = run(
        [sample_tile],
        RunOptions(
            budget=0,
            existing_file=str(tmp_path / "a" / "cameras.geojson"),
            road_edge_sites=False,
            plateau_poles=False,
            **common,
        ),
        out_dir=tmp_path / "b",
    )
    assert set(again.sites.source) == {"user"}
    with (tmp_path / "b" / "cameras.csv").open() as f:
        after = {r["id"]: r["site_id"] for r in csv.DictReader(f)}
    assert after == before


@pytest.mark.parametrize(
    ("opts", "why"),
    [
        ({"budget": 0.5}, "below the cheapest camera"),
        ({"k": 60}, "no street point is seen by 60 candidate cameras"),
        ({"road_weight": 0.0, "sidewalk_weight": 0.0}, "every street point weighs 0"),
    ],
)
def test_a_run_that_can_choose_nothing_says_why(
    sample_tile: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    opts: dict[str, Any],
    why: str,
) -> None:
    base = {"render": False, "time_limit_s": 5, "workers": 1, "cache_dir": str(tmp_path)}
    with caplog.at_level("WARNING", logger="placement.pipeline"):
        res = run([sample_tile], RunOptions(**{**base, **opts}))
    assert len(res.plan.chosen) == 0
    assert why in caplog.text


def test_inspect_of_a_file_without_surfaces_says_so(plateau: Path) -> None:
    # Nagaoka furniture drawn only as a LOD0 MultiCurve: one feature, no triangles.
    code, text = _run(["inspect", str(plateau / "nusamai" / "56380598_frn_6697_op.gml")])
    assert code == 0, text
    assert "bounds: none (no surface geometry" in text and "triangles: 0" in text
    assert "ground heights: n/a (no roads" in text
    code, text = _run(["inspect", "--json", str(plateau / "nusamai" / "56380598_frn_6697_op.gml")])
    info = json.loads(text)
    assert code == 0 and info["bounds_m"] is None and info["counts"] == {"CityFurniture": 1}


def test_buildings_alone_ask_for_the_roads_file(plateau: Path, tmp_path: Path) -> None:
    bldg = plateau / "osaka" / "51357353_bldg_6697_op.gml"
    code, text = _run(["run", str(bldg), "--out", str(tmp_path / "o"), "--halo", "off"])
    assert code == 2 and "*_tran_*.gml" in text and "--sites" not in text, text
    assert not (tmp_path / "o").exists()


def test_run_takes_one_path_as_well(sample_tile: Path, tmp_path: Path) -> None:
    opts = RunOptions(budget=2, render=False, time_limit_s=5, workers=1, cache_dir=str(tmp_path))
    for one in (str(sample_tile), sample_tile):
        res = run(one, opts)
        assert [i["path"] for i in res.summary["inputs"]] == [str(sample_tile.resolve())]
        assert len(res.plan.chosen) == 2


def test_a_missing_side_file_stops_the_run_before_the_work(
    sample_tile: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    code, text = _run(
        ["run", str(sample_tile), "--out", str(out), "--existing", str(tmp_path / "none.csv")]
    )
    assert code == 2 and text.strip().endswith(
        "none.csv: no such file (--existing / existing_file)"
    )
    assert not out.exists()


def test_run_warnings_reach_summary_and_report_even_when_quiet(
    sample_tile: Path, existing_csv: Path, tmp_path: Path
) -> None:
    # One site in reach (the sample's installed camera's place) and one 300 km away.
    near = existing_csv.read_text().splitlines()[1].split(",")
    sites = tmp_path / "sites.csv"
    sites.write_text(f"id,lon,lat\nnear,{near[1]},{near[2]}\nfar,{float(near[1]) + 3},{near[2]}\n")
    out = tmp_path / "o"
    code, text = _run(
        ["run", str(sample_tile), "--out", str(out), "--sites", str(sites), "--no-render",
         "--cache-dir", str(tmp_path / "c"), *FAST]
    )  # fmt: skip
    assert code == 0, text
    assert "farther than" not in text  # -q: not on the terminal ...
    summary = json.loads((out / "summary.json").read_text())
    (note,) = [w for w in summary["run_warnings"] if "farther than" in w]  # ... but recorded
    assert "1 of 2 sites" in note
    assert "## Run warnings" in (out / "report.md").read_text()


def test_a_folder_input_is_recorded_with_its_zips(sample_tile: Path, tmp_path: Path) -> None:
    """summary.json's digest of a folder covers the PLATEAU zips the reader takes from it,
    so a changed zip shows."""
    import zipfile

    from placement.pipeline import _file_digest

    folder = tmp_path / "city"
    folder.mkdir()
    with zipfile.ZipFile(folder / "city.zip", "w") as z:
        z.write(sample_tile, "udx/bldg/sample_city.gml")
    (folder / "notes.txt").write_text("not read")
    d = _file_digest(folder)
    assert d["files"] == 1 and d["bytes"] == (folder / "city.zip").stat().st_size
    with zipfile.ZipFile(folder / "city.zip", "a") as z:
        z.writestr("udx/bldg/other.gml", "<x/>")
    assert _file_digest(folder)["sha256"] != d["sha256"]


def test_files_read_are_named_by_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """summary.json's files_read is the same from whichever folder the run started."""
    from placement.pipeline import _absolute

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.gml").write_text("<x/>")
    (tmp_path / "d" / "c!ty.zip").write_text("zip")
    monkeypatch.chdir(tmp_path)
    assert _absolute("d/a.gml") == str(tmp_path / "d" / "a.gml")
    assert _absolute("d/c!ty.zip!udx/bldg/b.gml") == f"{tmp_path / 'd' / 'c!ty.zip'}!udx/bldg/b.gml"
    assert _absolute("gone.gml") == "gone.gml"
