"""Output files: staging, GeoJSON, CSV, summary JSON and the Markdown report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from pyproj import Transformer

from placement import io
from placement.camera import Camera
from placement.errors import OptionError
from placement.model import Demand, Options, SurfaceKind
from placement.report import write_report

CRS = "EPSG:6674"  # JGD2011 plane rectangular zone VI: its origin is 136 E, 36 N


def Cam() -> Camera:
    return Camera(name="test-cam", hfov_deg=90.0, vfov_deg=55.0, range_m=40.0)


def make_options() -> Options:
    origin = np.array([[0.0, 0.0, 6.5], [1000.0, 2000.0, 12.25], [-50.0, 10.0, 5.0]])
    return Options(
        site=np.array([0, 2, 1], np.int32),
        heading_deg=np.array([0.0, 90.0, 225.5]),
        tilt_deg=np.array([20.0, 30.0, 25.0]),
        origin=origin,
        cost=np.array([1.0, 2.0, 0.0]),
        existing=np.array([False, False, True]),
    )


SITE_IDS = ("edge-0", "user-1", "pole-x")  # Sites.ids; options.site picks from them


def site_ids(chosen: np.ndarray) -> list[str]:
    return [SITE_IDS[s] for s in make_options().site[chosen]]


def make_demand(n: int = 5) -> Demand:
    xyz = np.column_stack([np.arange(n) * 10.0, np.arange(n) * -5.0, np.full(n, 1.5)])
    kind = np.where(np.arange(n) % 2 == 0, SurfaceKind.ROAD, SurfaceKind.SIDEWALK).astype(np.int8)
    return Demand(xyz, np.zeros(n), np.linspace(1.0, 2.0, n), kind, 2.0)


# ---------------------------------------------------------------------------------- staging


def test_staged_output_creates_and_replaces(tmp_path: Path) -> None:
    out = tmp_path / "a" / "out"
    with io.staged_output(out) as stage:
        assert stage.parent == out.parent and stage != out
        (stage / "x.txt").write_text("one")
        assert not out.exists()  # nothing appears before the run has succeeded
    assert (out / "x.txt").read_text() == "one"
    assert not stage.exists()

    (out / "keep.txt").write_text("kept")
    with io.staged_output(out) as stage:
        (stage / "x.txt").write_text("two")
    assert (out / "x.txt").read_text() == "two"
    assert (out / "keep.txt").read_text() == "kept"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no staging leftovers


def test_staged_output_failure_leaves_existing_dir_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.txt").write_text("old")
    with pytest.raises(RuntimeError), io.staged_output(out) as stage:
        (stage / "x.txt").write_text("new")
        (stage / "y.txt").write_text("new")
        raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["x.txt"]
    assert (out / "x.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_full_disk_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    """A write the disk refuses is the user's to fix (OptionError: exit 2), named by the
    output folder and the file; other OS errors stay what they are."""
    import errno

    out = tmp_path / "out"
    out.mkdir()
    (out / "x.txt").write_text("old")
    with pytest.raises(OptionError) as info, io.staged_output(out) as stage:
        (stage / "x.txt").write_text("new")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == (
        f"{out}: cannot write the results: No space left on device; the folder is left as it was"
    )
    denied = r"Permission denied \(coverage.geojson\)"
    with pytest.raises(OptionError, match=denied), io.staged_output(out) as stage:
        raise PermissionError(errno.EACCES, "Permission denied", str(stage / "coverage.geojson"))
    with pytest.raises(PermissionError), io.staged_output(out):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "input.gml"))
    assert [p.name for p in out.iterdir()] == ["x.txt"] and (out / "x.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_output_failure_leaves_missing_dir_absent(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(KeyboardInterrupt), io.staged_output(out) as stage:
        (stage / "x.txt").write_text("new")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def _folder_of_old_files(tmp_path: Path, *names: str) -> Path:
    """``tmp_path / "out"`` holding the files ``names``, each reading "old"."""
    out = tmp_path / "out"
    out.mkdir()
    for name in names:
        (out / name).write_text("old")
    return out


def test_staged_output_retires_files_this_run_did_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _folder_of_old_files(tmp_path, "a.txt", "b.png", "mine.txt")
    with io.staged_output(out, retire=("a.txt", "b.png", "c.txt")) as stage:
        (stage / "a.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "mine.txt"]
    assert (out / "a.txt").read_text() == "new"

    # A move that fails puts the retired file back with the others.
    (out / "b.png").write_text("old")
    replace = Path.replace

    def fail_on_d(self: Path, target: Path) -> Path:
        if self.name == "d.txt":
            raise OSError(28, "No space left on device")
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", fail_on_d)
    with (
        pytest.raises(OptionError, match="left as it was"),
        io.staged_output(out, retire=("b.png",)) as stage,
    ):
        (stage / "a.txt").write_text("newer")
        (stage / "d.txt").write_text("newer")
    assert (out / "b.png").read_text() == "old"
    assert (out / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_output_rejects_a_file(tmp_path: Path) -> None:
    f = tmp_path / "out"
    f.write_text("not a dir")
    with pytest.raises(OptionError, match="not a directory"), io.staged_output(f):
        pass


def test_staged_output_undoes_its_moves_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _folder_of_old_files(tmp_path, "a.txt", "b.txt", "c.txt")
    real = Path.replace

    def replace(self: Path, target: Any) -> Path:
        if Path(target) == out / "b.txt" and self.parent.name != ".replaced":
            raise PermissionError(1, "Operation not permitted", str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    failing = pytest.raises(OptionError, match=r"cannot write the results.*left as it was")
    with failing, io.staged_output(out) as stage:
        for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
            (stage / name).write_text("new")
    # a.txt had been replaced and b.txt set aside: both are back; nothing new stays.
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert all((out / n).read_text() == "old" for n in ("a.txt", "b.txt", "c.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left


def test_check_writable_fails_before_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "afile.txt"
    f.write_text("x")
    with pytest.raises(OptionError, match="is not a directory"):
        io.check_writable(f / "sub")
    io.check_writable(tmp_path / "new" / "out")  # a missing folder is fine: it is made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]  # no probe left

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io.tempfile, "mkdtemp", refuse)
    with pytest.raises(OptionError, match="cannot write: Permission denied"):
        io.check_writable(tmp_path / "out")


# ---------------------------------------------------------------------------------- cameras


def test_camera_ids() -> None:
    assert io.camera_ids(3) == ["cam-001", "cam-002", "cam-003"]
    ids = io.camera_ids(1200)
    assert ids[0] == "cam-0001" and ids[-1] == "cam-1200" and len(set(ids)) == 1200
    assert io.camera_ids(0) == []
    # Installed cameras keep their own ids; the new ones are numbered around them.
    own = [None, "cam-002", "KG-17", None, None]
    assert io.camera_ids(5, own) == ["cam-001", "cam-002", "KG-17", "cam-003", "cam-004"]
    # 999 installed cam-NNN and 3 new: cam-1000.., never a cam-0001 beside cam-001.
    many = io.camera_ids(1002, [f"cam-{i:03d}" for i in range(1, 1000)] + [None] * 3)
    assert many[-3:] == ["cam-1000", "cam-1001", "cam-1002"] and len(set(many)) == 1002
    with pytest.raises(ValueError, match="2 own ids for 3 cameras"):
        io.camera_ids(3, [None, None])


def test_cameras_geojson(tmp_path: Path) -> None:
    path = tmp_path / "cameras.geojson"
    chosen = np.array([0, 2], np.int32)
    io.write_cameras_geojson(
        path,
        crs=CRS,
        options=make_options(),
        chosen=chosen,
        site_ids=site_ids(chosen),
        camera=Cam(),
        covered_weight=np.array([12.5, np.float64(3.25)]),
        ids=["cam-001", "cam-002"],
    )
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    f0, f1 = doc["features"]
    # The zone VI origin is exactly 136 E, 36 N.
    assert f0["geometry"]["type"] == "Point"
    lon, lat, z = f0["geometry"]["coordinates"]
    assert lon == pytest.approx(136.0, abs=1e-7) and lat == pytest.approx(36.0, abs=1e-7)
    assert z == 6.5
    # The other point lands where pyproj puts it (independent transformer, to WGS84).
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    elon, elat = tr.transform(-50.0, 10.0)
    lon, lat, z = f1["geometry"]["coordinates"]
    assert lon == pytest.approx(elon, abs=2e-7) and lat == pytest.approx(elat, abs=2e-7)
    assert lon < 136.0 and lat > 36.0
    assert z == 5.0
    p = f1["properties"]
    assert p["id"] == "cam-002" and f1["id"] == "cam-002"
    assert p["site_id"] == "user-1"  # option 2 is on site 1
    assert p["existing"] is True and p["cost"] == 0.0
    assert p["heading_deg"] == 225.5 and p["tilt_deg"] == 25.0
    assert p["hfov_deg"] == 90.0 and p["vfov_deg"] == 55.0 and p["range_m"] == 40.0
    assert p["height_m"] == 5.0 and p["x_m"] == -50.0 and p["y_m"] == 10.0
    assert p["covered_weight"] == 3.25 and p["crs"] == CRS and p["camera"] == "test-cam"
    assert f0["properties"]["site_id"] == "edge-0" and f0["properties"]["existing"] is False
    # Coordinates are rounded to 1e-7 degrees.
    for f in doc["features"]:
        for c in f["geometry"]["coordinates"][:2]:
            assert round(c, 7) == c


def test_cameras_geojson_checks_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 chosen options but 1 ids, 2 site ids"):
        io.write_cameras_geojson(
            tmp_path / "c.geojson",
            crs=CRS,
            options=make_options(),
            chosen=np.array([0, 1], np.int32),
            site_ids=site_ids(np.array([0, 1])),
            camera=Cam(),
            covered_weight=np.zeros(2),
            ids=["cam-001"],
        )


def test_cameras_csv(tmp_path: Path) -> None:
    path = tmp_path / "cameras.csv"
    io.write_cameras_csv(
        path,
        crs=CRS,
        options=make_options(),
        chosen=np.array([1, 0, 2], np.int32),
        site_ids=site_ids(np.array([1, 0, 2])),
        camera=Cam(),
        covered_weight=np.array([1.0, 2.0, 3.0]),
        ids=io.camera_ids(3),
    )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(io.CAMERA_COLUMNS)
    assert [r["id"] for r in rows] == ["cam-001", "cam-002", "cam-003"]
    assert [r["site_id"] for r in rows] == ["pole-x", "edge-0", "user-1"]
    assert [r["existing"] for r in rows] == ["false", "false", "true"]
    assert float(rows[1]["lon"]) == pytest.approx(136.0, abs=1e-7)
    assert float(rows[1]["lat"]) == pytest.approx(36.0, abs=1e-7)
    assert float(rows[0]["x_m"]) == 1000.0 and float(rows[0]["height_m"]) == 12.25
    assert float(rows[0]["heading_deg"]) == 90.0 and float(rows[2]["covered_weight"]) == 3.0


# ---------------------------------------------------------------------------------- coverage


def test_coverage_geojson_matches_matrix(tmp_path: Path) -> None:
    demand = make_demand(5)
    # 3 chosen cameras x 5 points, entries = DORI levels.
    dense = np.array(
        [
            [0, 2, 0, 1, 0],
            [0, 4, 0, 0, 0],
            [0, 0, 0, 3, 1],
        ],
        np.int8,
    )
    m = sp.csr_matrix(dense)
    path = tmp_path / "coverage.geojson"
    ids = ["cam-001", "cam-002", "cam-003"]
    io.write_coverage_geojson(path, crs=CRS, demand=demand, seen_by=m, ids=ids)
    doc = json.loads(path.read_text())
    feats = doc["features"]
    assert len(feats) == 5
    for j, f in enumerate(feats):
        p = f["properties"]
        assert p["index"] == j
        assert p["seen_by"] == [ids[i] for i in np.flatnonzero(dense[:, j])]
        best = int(dense[:, j].max())
        assert p["level"] == (best or None)
        assert p["level_name"] == (io.LEVEL_NAMES[best - 1] if best else None)
        assert p["z_m"] == 1.5 and p["ground_z_m"] == 0.0
        assert p["weight"] == pytest.approx(demand.weight[j])
        assert p["kind"] == ("road" if j % 2 == 0 else "sidewalk")
    assert feats[0]["geometry"]["coordinates"] == [136.0, 36.0, 1.5]

    # Only cameras at or above the covering level are listed.
    io.write_coverage_geojson(path, crs=CRS, demand=demand, seen_by=m, ids=ids, min_level=2)
    feats = json.loads(path.read_text())["features"]
    assert feats[3]["properties"]["seen_by"] == ["cam-003"]
    assert feats[4]["properties"]["seen_by"] == []
    assert feats[4]["properties"]["level"] == 1  # the best level is still reported


def test_coverage_geojson_from_lists(tmp_path: Path) -> None:
    demand = make_demand(3)
    path = tmp_path / "coverage.geojson"
    io.write_coverage_geojson(
        path,
        crs=CRS,
        demand=demand,
        seen_by=[[], ['cam "1"'], ["cam-1", "cam-2"]],
        level=np.array([0, 1, 4], np.int8),
    )
    feats = json.loads(path.read_text())["features"]
    assert [f["properties"]["seen_by"] for f in feats] == [[], ['cam "1"'], ["cam-1", "cam-2"]]
    assert [f["properties"]["level_name"] for f in feats] == [None, "detection", "identification"]
    with pytest.raises(ValueError, match="level is required"):
        io.write_coverage_geojson(path, crs=CRS, demand=demand, seen_by=[[], [], []])


def test_coverage_geojson_large_is_valid(tmp_path: Path) -> None:
    n = 20_000
    rng = np.random.default_rng(0)
    xyz = np.column_stack([rng.uniform(0, 1000, n), rng.uniform(0, 1000, n), np.full(n, 1.5)])
    demand = Demand(xyz, np.zeros(n), np.ones(n), np.full(n, SurfaceKind.ROAD, np.int8), 2.0)
    m = sp.random(40, n, density=0.05, random_state=1, format="csr", dtype=np.float64)
    m.data = rng.integers(1, 5, m.nnz).astype(np.float64)
    m = m.astype(np.int8)
    path = tmp_path / "coverage.geojson"
    io.write_coverage_geojson(path, crs=CRS, demand=demand, seen_by=m, ids=io.camera_ids(40))
    feats = json.loads(path.read_text())["features"]
    seen = np.array([len(f["properties"]["seen_by"]) for f in feats])
    np.testing.assert_array_equal(seen, np.diff(m.tocsc().indptr))
    lv = np.array([f["properties"]["level"] or 0 for f in feats])
    np.testing.assert_array_equal(lv, m.max(axis=0).toarray().ravel())


# ---------------------------------------------------------------------------------- summary


def test_summary_json_round_trip(tmp_path: Path) -> None:
    summary = {
        "plan": {"objective": np.float64(12.5), "gap": float("nan"), "chosen": np.int32(7)},
        "coverage": {"by_level": {"detection": {"points": np.int64(3), "fraction": np.inf}}},
        "chosen": np.array([3, 1, 2], np.int32),
        "path": Path("/tmp/x"),
        "kind": SurfaceKind.ROAD,
        "flag": np.bool_(True),
        "b": 1,
        "a": [np.float32(0.5), None],
    }
    path = tmp_path / "summary.json"
    io.write_summary_json(path, summary)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["plan"] == {"objective": 12.5, "gap": None, "chosen": 7}
    assert back["coverage"]["by_level"]["detection"] == {"points": 3, "fraction": None}
    assert back["chosen"] == [3, 1, 2]
    assert back["path"] == "/tmp/x" and back["kind"] == 7 and back["flag"] is True
    assert back["a"] == [0.5, None]
    assert list(back) == sorted(back)  # keys sorted


# ---------------------------------------------------------------------------------- report


def full_summary() -> dict[str, object]:
    return {
        "version": "0.1.0",
        "crs": CRS,
        "inputs": ["tiles/53360000_bldg.gml"],
        "options": {"budget": 6, "spacing_m": 2.0},
        "counts": {"buildings": 120, "road_triangles": 3000},
        "plan": {
            "objective": 812.5,
            "bound": 830.0,
            "gap": 0.0211,
            "status": "FEASIBLE",
            "method": "greedy+local",
            "chosen": 6,
            "existing": 1,
            "cost": 5.0,
        },
        "coverage": {
            "points": 1000,
            "total_weight": 1100.0,
            "covered_points": 740,
            "covered_weight": 812.5,
            "covered_fraction": 0.74,
            "covered_fraction_weighted": 0.7386,
            "coverable_fraction": 0.9,
            "by_level": {
                "detection": {
                    "points": 740,
                    "weight": 812.5,
                    "fraction": 0.74,
                    "fraction_weighted": 0.7386,
                    "best_fraction_weighted": 0.6386,
                },
                "identification": {
                    "points": 100,
                    "weight": 110.0,
                    "fraction": 0.1,
                    "fraction_weighted": 0.1,
                    "best_fraction_weighted": 0.1,
                },
            },
        },
        "timings_s": {"load": 1.5, "visibility": 2.25},
        "ground_source": "buildings",
        "warnings": ["a.gml: feature b1: ring not closed, repaired"],
        "halo": {
            "mode": ["auto"],
            "margin_m": 35.5,
            "files": [
                {
                    "path": "tiles/53360001_bldg.gml",
                    "bytes": 1000,
                    "sha256": "ab" * 32,
                    "triangles": 2000,
                    "kept_triangles": 300,
                }
            ],
            "triangles": 300,
            "skipped": ["tiles/53360010_bldg.gml: not XML"],
        },
    }


def test_report(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    write_report(path, full_summary(), picture="scene.png")
    text = path.read_text()
    assert "![3D view" in text and "(scene.png)" in text
    assert "| Cameras chosen | 6 |" in text
    assert "| of which existing (kept) | 1 |" in text
    assert "| Demand covered (weighted) | 73.9 % |" in text
    assert "| Demand covered (points) | 74.0 % (740 of 1,000 points) |" in text
    assert "| Gap | 2.1 % |" in text and "| Proven bound | 830 |" in text
    assert "| identification | 100 | 110 | 10.0 % | 10.0 % |" in text
    assert "| detection | 740 | 812.500 | 73.9 % | 63.9 % |" in text
    assert text.index("| detection") < text.index("| identification")
    assert "| **total** | **3.75** |" in text
    assert "`tiles/53360000_bldg.gml`" in text and "ring not closed" in text
    assert "## Neighbouring tiles (halo)" in text and "within 35.5 m" in text
    assert "Buildings within" not in text  # the list holds what the files are
    assert "`tiles/53360001_bldg.gml`: 300 of 2,000 triangles" in text
    assert "skipped: tiles/53360010_bldg.gml: not XML" in text


def test_report_halo_section_says_which_kinds_it_lists(tmp_path: Path) -> None:
    summary = full_summary()
    halo = summary["halo"]
    assert isinstance(halo, dict)
    halo["files"] = [
        {"path": f"tiles/53360001_{k}_6697_op.gml", "sha256": "ab" * 32}
        for k in ("veg", "tran", "bldg", "brid")
    ]
    path = tmp_path / "report.md"
    write_report(path, summary, picture=None)
    text = path.read_text()
    head = text[text.index("## Neighbouring tiles (halo)") :].splitlines()[2]
    assert "(buildings, vegetation, bridges, roads)" in head, head
    assert "within 35.5 m" in head and not head.startswith("Buildings within")
    halo["files"] = []  # only skipped files: no kinds to name
    write_report(path, summary, picture=None)
    assert "(none read)" in path.read_text()


def test_report_tolerates_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    write_report(path, {"plan": {"gap": math.nan}}, picture=None)
    text = path.read_text()
    assert text.startswith("# Camera placement report")
    assert "| Gap | n/a |" in text and "![" not in text


def test_report_says_when_the_clock_stopped_the_search(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    summary = full_summary()
    write_report(path, summary, picture=None)
    assert "Repeatable" not in path.read_text()
    summary["plan"]["clock_cut"] = ["regional search", "blocks' choices"]
    write_report(path, summary, picture=None)
    text = path.read_text()
    assert (
        "| Repeatable | no: the time limit stopped regional search, blocks' choices; "
        "a rerun may choose other cameras |" in text
    )


def test_report_lists_the_cameras(tmp_path: Path) -> None:
    from placement import report

    def cam(i: int, existing: bool = False) -> dict[str, Any]:
        return {
            "id": f"cam-{i:03d}",
            "site_id": f"edge-{i:05d}",
            "lon": 135.5 + i * 1e-4,
            "lat": 34.6,
            "mount_height_m": 6.0,
            "heading_deg": 45.0 * (i % 8),
            "tilt_deg": 20.0,
            "covered_weight": 100.0 + i,
            "loss_weight": 50.25,
            "existing": existing,
        }

    path = tmp_path / "report.md"
    write_report(path, full_summary(), picture=None, cameras=[cam(1, True), cam(2)])
    text = path.read_text()
    assert text.index("## Result") < text.index("## Cameras") < text.index("## Coverage by")
    assert "| `cam-001` (installed) | `edge-00001` | 135.500100, 34.600000 | 6 | 45° | 20° " in text
    assert (
        "| `cam-002` | `edge-00002` | 135.500200, 34.600000 | 6 | 90° | 20° | 102 | 50.2 |" in text
    )
    n = report.MAX_CAMERA_ROWS + 3
    write_report(path, full_summary(), picture=None, cameras=[cam(i) for i in range(1, n + 1)])
    text = path.read_text()
    assert f"`cam-{report.MAX_CAMERA_ROWS:03d}`" in text
    assert f"`cam-{report.MAX_CAMERA_ROWS + 1:03d}`" not in text
    assert "| ... and 3 more in `cameras.csv` |" in text
    write_report(path, full_summary(), picture=None)
    assert "## Cameras" not in path.read_text()


def test_area_polygons_are_wound_as_rfc_7946_asks(tmp_path: Path) -> None:
    """Shells counter-clockwise, holes clockwise (RFC 7946 3.1.6), whatever the input's
    winding: GEOS's overlays return shells clockwise. Places stay where they were."""
    import shapely

    x0, y0 = -30000.0, -130000.0  # EPSG:6674 metres, near Osaka
    cw_with_hole = shapely.Polygon(
        [(x0, y0), (x0, y0 + 40), (x0 + 40, y0 + 40), (x0 + 40, y0)],
        [[(x0 + 10, y0 + 10), (x0 + 30, y0 + 10), (x0 + 30, y0 + 30), (x0 + 10, y0 + 30)]],
    )
    assert not cw_with_hole.exterior.is_ccw and cw_with_hole.interiors[0].is_ccw
    two = shapely.MultiPolygon([cw_with_hole, shapely.box(x0 + 100, y0, x0 + 120, y0 + 20)])
    path = tmp_path / "areas.geojson"
    io.write_areas_geojson(
        path, crs="EPSG:6674", features=[(cw_with_hole, {"n": 1}), (two, {"n": 2})]
    )
    feats = json.loads(path.read_text())["features"]
    # One geometry type for the layer (GDAL: a Polygon/MultiPolygon mix is "Unknown").
    assert [f["geometry"]["type"] for f in feats] == ["MultiPolygon", "MultiPolygon"]
    rings = [ring for f in feats for poly in f["geometry"]["coordinates"] for ring in poly]
    assert len(rings) == 2 + 3
    for f in feats:
        g = shapely.geometry.shape(f["geometry"])
        for p in getattr(g, "geoms", [g]):
            assert p.exterior.is_ccw
            assert all(not h.is_ccw for h in p.interiors)
    back = Transformer.from_crs("EPSG:6668", "EPSG:6674", always_xy=True)
    shell = np.array(feats[0]["geometry"]["coordinates"][0][0])
    x, y = back.transform(shell[:, 0], shell[:, 1])
    assert shapely.Polygon(np.column_stack([x, y])).area == pytest.approx(1600.0, rel=1e-4)


def test_percent_never_rounds_a_share_to_empty_or_whole() -> None:
    from placement.report import percent

    assert percent(0.0) == "0.0 %" and percent(1.0) == "100.0 %"
    assert percent(0.123) == "12.3 %"
    assert percent(18 / 56407) == "<0.1 %"  # 18 recognition points on the Osaka tile
    assert percent(0.99991) == ">99.9 %" and percent(0.99949) == "99.9 %"
    assert percent(0.00051, "") == "0.1%"
    assert percent(None) == percent(True) == "n/a"


def test_a_priority_area_whose_points_weigh_nothing_is_not_called_empty() -> None:
    from placement.report import render_report

    areas = [
        {"area": 1, "name": "closed", "multiplier": 0.0, "points": 120, "weight": 0.0,
         "covered_points": 0, "covered_weight": 0.0, "covered_fraction": 0.0},
        {"area": 2, "name": "", "multiplier": 2.0, "points": 0, "weight": 0.0,
         "covered_points": 0, "covered_weight": 0.0, "covered_fraction": 0.0},
    ]  # fmt: skip
    text = render_report({"version": "x", "priority_areas": areas}, picture=None)
    assert "| 1 | closed | 0 | 120 | 0 | weight 0 |" in text
    assert "| 2 |  | 2 | 0 | 0 | no street points |" in text
