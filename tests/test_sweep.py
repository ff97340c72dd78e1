"""placement sweep: one run per budget, and the coverage-against-budget curve."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from placement import pipeline
from placement.cli import main
from placement.errors import OptionError
from placement.pipeline import RunOptions, run
from placement.sweep import (
    SWEEP_COLUMNS,
    _markdown,
    _ticks,
    budget_text,
    check_budgets,
    curve_svg,
    folder_name,
    sweep,
)


@pytest.mark.parametrize(
    ("budgets", "why"),
    [
        ([], "at least one budget"),
        ([5, -1], ">= 0"),
        ([5, 10, 5], "lists 5 twice"),
        ([math.nan], "must be numbers"),
        ([True], "must be numbers"),
        (list(range(1, 60)), "at most 50"),
    ],
)
def test_bad_budgets_are_refused(budgets: list[Any], why: str) -> None:
    with pytest.raises(OptionError, match=re.escape(why)):
        check_budgets(budgets)


def test_budgets_are_run_in_rising_order() -> None:
    assert check_budgets([20, 5, 10.5]) == [5.0, 10.5, 20.0]


def test_sweep_runs_each_budget_as_run_would(
    sample_tile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = RunOptions(render=False, time_limit_s=3, workers=1, use_cache=False)
    out = tmp_path / "sweep"
    calls = {"read_citygml": 0, "compute_coverage": 0}
    for name in calls:
        real = getattr(pipeline, name)

        def spy(*a: Any, real: Any = real, name: str = name, **kw: Any) -> Any:
            calls[name] += 1
            return real(*a, **kw)

        monkeypatch.setattr(pipeline, name, spy)
    rows = sweep([sample_tile], opts, [3, 1], out_dir=out)
    # The tile is read and the rays cast once for both budgets (the cache is off).
    assert calls == {"read_citygml": 1, "compute_coverage": 1}
    monkeypatch.undo()
    assert [r["budget"] for r in rows] == [1.0, 3.0]
    assert {p.name for p in out.iterdir()} == {
        "budget-1",
        "budget-3",
        "sweep.csv",
        "sweep.svg",
        "sweep.md",
    }
    # Each folder is the run of its budget: the same answer as `placement run --budget B`.
    alone = run([sample_tile], RunOptions(**{**opts.__dict__, "budget": 3.0}))
    s3 = json.loads((out / "budget-3" / "summary.json").read_text())
    assert s3["options"]["budget"] == 3
    assert s3["plan"]["objective"] == alone.plan.objective == rows[1]["objective"]
    assert rows[1]["cameras"] == len(alone.plan.chosen) == 3
    assert s3["sweep"] == {
        "budgets": [1.0, 3.0],
        "shared_stages": ["load", "halo", "sites", "demand", "visibility"],
    }
    assert set(s3["timings_s"]) == {*s3["sweep"]["shared_stages"], "optimise", "write"}
    assert rows[1]["seconds"] == pytest.approx(
        s3["timings_s"]["optimise"] + s3["timings_s"]["write"], abs=0.05
    )
    with (out / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == list(SWEEP_COLUMNS)
    assert [float(r["covered_fraction_weighted"]) for r in table] == [
        r["covered_fraction_weighted"] for r in rows
    ]
    assert table[0]["added_per_unit"] == ""
    assert rows[1]["added_per_unit"] == pytest.approx(
        (rows[1]["covered_fraction_weighted"] - rows[0]["covered_fraction_weighted"]) / 2
    )
    assert rows[0]["covered_fraction_weighted"] < rows[1]["covered_fraction_weighted"]
    assert rows[1]["bound_fraction_weighted"] == pytest.approx(
        s3["plan"]["bound"] / s3["coverage"]["total_weight"]
    )
    svg = (out / "sweep.svg").read_text()
    assert svg.count("<circle") == 2 and svg.startswith("<svg")
    md = (out / "sweep.md").read_text()
    assert "| 3 | 3 |" in md and "`budget-3/`" in md and "covers less" not in md
    assert "(load, halo, sites, demand, visibility) do not depend on the budget" in md


def test_a_failing_sweep_leaves_the_folder_as_it_was(
    sample_tile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import placement.sweep as ps

    out = tmp_path / "sweep"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    calls: list[float] = []

    real_finish = ps.finish

    def second_fails(*args: Any, **kw: Any) -> Any:
        calls.append(args[1].budget)
        if len(calls) == 2:
            raise OptionError("the second run failed")
        return real_finish(*args, **kw)

    monkeypatch.setattr(ps, "finish", second_fails)
    opts = RunOptions(render=False, time_limit_s=2, workers=1)
    with pytest.raises(OptionError, match="the second run failed"):
        sweep([sample_tile], opts, [1, 2], out_dir=out)
    assert calls == [1.0, 2.0]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(OptionError, match="--cover does not go with a sweep"):
        sweep([sample_tile], RunOptions(cover=0.5), [1], out_dir=out)


def test_the_note_says_when_more_budget_covered_less() -> None:
    rows = [
        {
            "budget": b,
            "cameras": int(b),
            "covered_fraction_weighted": f,
            "bound_fraction_weighted": 0.9,
            "gap": 0.1,
            "added_per_unit": None,
            "folder": f"budget-{b:g}",
            "repeatable": b < 15,
        }
        for b, f in ((10.0, 0.5), (20.0, 0.49))
    ]
    md = _markdown(rows, RunOptions())
    assert "At budget 20 the answer covers less than at 10" in md
    # The clock-cut run is named; the page does not promise that every run repeats.
    assert "At budget 20 the time limit stopped a search" in md
    assert "Every run repeats exactly" not in md
    rows[1]["repeatable"] = True
    assert "Every run repeats exactly" in _markdown(rows, RunOptions())
    svg = curve_svg(rows)
    assert svg.count("<polyline") == 2


def test_budget_folders_are_unique_and_written_out() -> None:
    """Money budgets (yen) are written out whole, and budgets that differ name different
    folders (1e+06 named 1,000,000 and 1,000,001 alike)."""
    assert folder_name(1_000_000) == "budget-1000000"
    assert folder_name(1_000_001) == "budget-1000001"
    assert folder_name(2.5) == "budget-2.5" and folder_name(10) == "budget-10"
    assert folder_name(0.001) == "budget-0.001"
    assert budget_text(1_300_000.0) == "1300000"
    # Ticks reach the top budget (0.5 // 0.1 is 4.0 in floats) and print without noise.
    assert _ticks(0.5) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert [budget_text(t) for t in _ticks(0.6)] == ["0", "0.2", "0.4", "0.6"]


def test_a_sweep_replaces_an_earlier_sweep_or_run_in_its_folder(
    sample_tile: Path, tmp_path: Path
) -> None:
    """A folder holds one set of results: a sweep removes an earlier sweep's budget folders
    and an earlier run's files, a run a sweep's; the user's own files and folders stay."""
    opts = RunOptions(render=False, time_limit_s=2, workers=1, cache_dir=str(tmp_path / "c"))
    out = tmp_path / "out"
    sweep([sample_tile], opts, [1, 2, 3, 4], out_dir=out)
    (out / "notes.txt").write_text("mine")
    (out / "budget-plans").mkdir()  # the user's: not a run the sweep listed
    (out / "budget-plans" / "summary.json").write_text("{}")
    (out / "budget-2025.xlsx").write_text("the user's spreadsheet")
    (out / "budget-4" / "council.txt").write_text("notes in a run folder")
    sweep([sample_tile], opts, [1, 2], out_dir=out)
    assert {p.name for p in out.iterdir()} == {
        "budget-1",
        "budget-2",
        "budget-4",  # the earlier sweep's, but it holds the user's notes: left in place
        "budget-plans",
        "budget-2025.xlsx",
        "notes.txt",
        "sweep.csv",
        "sweep.svg",
        "sweep.md",
    }
    assert (out / "budget-4" / "council.txt").is_file()
    run([sample_tile], RunOptions(**{**opts.__dict__, "budget": 2.0}), out_dir=out)
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "notes.txt", "budget-plans", "budget-2025.xlsx"} <= names
    assert not any(n.startswith("sweep.") or n in ("budget-1", "budget-2") for n in names)
    sweep([sample_tile], opts, [1], out_dir=out)
    names = {p.name for p in out.iterdir()}
    assert "summary.json" not in names and "cameras.csv" not in names
    assert {"budget-1", "sweep.md", "notes.txt", "budget-plans", "budget-2025.xlsx"} <= names


def test_cli_sweep(sample_tile: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["sweep", str(sample_tile), "--budgets", "2,1", "--out", str(out), "--no-render"]
    r = CliRunner().invoke(main, [*args, "--time-limit", "2", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "street seen against budget" in r.output
    assert (out / "budget-1" / "cameras.csv").is_file() and (out / "sweep.md").is_file()
    bad = CliRunner().invoke(main, ["-q", *args[:3], "2,x", *args[4:]])
    assert bad.exit_code == 2 and "--budgets must be comma-separated numbers" in bad.output
    assert bad.output.count("\n") == 1
    # The goal is the swept budget: no --budget or --cover.
    other = CliRunner().invoke(main, [*args, "--cover", "0.5"])
    assert other.exit_code == 2 and "No such option '--cover'" in other.output
    assert "repeatable" in r.output


def test_cli_sweep_leaves_out_a_configs_goal(sample_tile: Path, tmp_path: Path) -> None:
    """A config made for `placement run` works for a sweep: its budget or cover (even a
    budget of 0, or both) is left out with a warning, not an error naming --budget."""
    cfg = tmp_path / "run.toml"
    cfg.write_text("[run]\nbudget = 0\ncover = 0.5\nrender = false\ntime_limit_s = 2\n")
    out = tmp_path / "s"
    args = ["sweep", str(sample_tile), "--budgets", "1", "--out", str(out), "--config", str(cfg)]
    r = CliRunner().invoke(main, [*args, "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "budget = 0 left out: a sweep takes its budgets from --budgets" in r.output
    assert "cover = 0.5 left out" in r.output
    s1 = json.loads((out / "budget-1" / "summary.json").read_text())
    assert s1["options"]["budget"] == 1 and s1["options"]["cover"] is None
    assert s1["options"]["render"] is False


def test_sigterm_stops_a_sweep_as_ctrl_c_does(sample_tile: Path, tmp_path: Path) -> None:
    """SIGTERM (timeout, a cancelled CI job) mid-sweep: exit 128 + 15, one line, and neither
    the output folder nor the staging folder of its results is left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "placement", "-q", "sweep", str(sample_tile), "--out", str(out)]
    args = ["--budgets", ",".join(map(str, range(1, 21))), "--no-render", "--no-cache"]
    p = subprocess.Popen(
        [*cmd, *args, "--workers", "1"], stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".s.staging-*/budget-1")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.poll() is None, "the sweep ended before it could be stopped"
        os.kill(p.pid, signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + signal.SIGTERM
    assert err.strip() == "placement: error: stopped by SIGTERM"
    assert sorted(q.name for q in tmp_path.iterdir()) == []


def test_a_full_disk_during_a_sweep_names_the_sweeps_folder(
    sample_tile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import placement.io as pio

    def full(*args: Any, **kw: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pio, "write_streets_csv", full)
    out = tmp_path / "sw"
    opts = RunOptions(render=False, time_limit_s=2, workers=1, cache_dir=str(tmp_path / "c"))
    with pytest.raises(OptionError) as info:
        sweep([sample_tile], opts, [1], out_dir=out)
    assert str(info.value).startswith(f"{out}: cannot write the results: No space left")
    assert ".staging" not in str(info.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["c"]
    with pytest.raises(OptionError, match="at most 1e"):
        check_budgets([10, 1e300])
