"""What the wall clock may change: searches stop at fixed work, and a Plan says when the clock
stopped one first (Plan.clock_cut), because a rerun may then choose other options."""

# Matrix names follow the maths (A, B, R for the reduced problem).
# ruff: noqa: N803

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import pytest

from placement.optimise import _max, _min, max_coverage, min_cover
from placement.optimise._bounds import lagrange_max
from placement.optimise._heuristics import greedy_max, swap_search, value
from placement.optimise._local import REGION_UNITS_PER_S, REGION_WORK, regional_search
from test_optimise_local import _reduced, _spatial


def _poor_start(R: Any, size: int) -> np.ndarray:
    """The ``size`` options that cover least: a start with many improving moves."""
    x0 = np.zeros(R.n, np.bool_)
    x0[np.argsort(R.B.getnnz(axis=1), kind="stable")[:size]] = True
    return x0


def test_swap_search_stop_at_their_work_and_say_when_the_clock_stopped_them() -> None:
    R = _reduced(_spatial(160, 1500, seed=7))
    x0 = _poor_start(R, 8)
    # At the budget every move is a 1-for-1 swap and counts nnz + n x 8 units.
    per_move = float(R.B.nnz + R.n * 8)
    one = swap_search(R, x0, 8, deadline=math.inf, max_work=per_move)
    assert not one.clock_cut
    assert np.count_nonzero(one.x != x0) == 2  # exactly one swap
    assert np.array_equal(one.x, swap_search(R, x0, 8, deadline=math.inf, max_moves=1).x)
    three = swap_search(R, x0, 8, deadline=math.inf, max_work=2.5 * per_move)
    assert np.array_equal(three.x, swap_search(R, x0, 8, deadline=math.inf, max_moves=3).x)
    full = swap_search(R, x0, 8, deadline=math.inf)
    assert not full.clock_cut
    assert value(R, full.x) > value(R, three.x) > value(R, one.x) > value(R, x0)
    late = swap_search(R, x0, 8, deadline=-math.inf)
    assert late.clock_cut
    assert np.array_equal(late.x, x0)


def test_regional_search_counts_each_region_and_reports_the_clock() -> None:
    R = _reduced(_spatial(160, 1500, seed=7))
    x0 = greedy_max(R, 8)
    res = regional_search(R, x0, 8, work=2e7, deadline=math.inf, seed=0)
    assert not res.clock_cut
    assert res.work >= 2e7
    assert res.work >= res.iterations * REGION_WORK
    bare = regional_search(R, x0, 8, work=2e7, deadline=math.inf, seed=0, region_work=0.0)
    assert bare.iterations > res.iterations
    late = regional_search(R, x0, 8, work=2e7, deadline=-math.inf, seed=0)
    assert late.clock_cut
    assert late.iterations == 0
    assert np.array_equal(late.x, x0)


def test_lagrangian_steps_report_the_clock() -> None:
    R = _reduced(_spatial(160, 1500, seed=7))
    lower = value(R, greedy_max(R, 8))
    late = lagrange_max(R, 8, lower, iterations=50, deadline=-math.inf)
    assert late.clock_cut
    assert late.iterations == 1
    done = lagrange_max(R, 8, lower, iterations=50, deadline=math.inf)
    assert not done.clock_cut
    assert done.bound <= late.bound


def _dense_instance() -> Any:
    # 500 options in 400 m x 400 m: at budget 15 CP-SAT proves greedy optimal; at 30 the
    # gap stays open after the Lagrangian bound.
    return _spatial(500, 5000, seed=2, side=400.0)


def test_plan_is_repeatable_when_every_phase_ends_by_its_work() -> None:
    A = _dense_instance()
    a = max_coverage(A, budget=15, time_limit=5.0, seed=0)
    assert a.status == "optimal"
    assert a.repeatable
    assert a.clock_cut == ()
    d = a.to_dict()
    assert d["repeatable"] is True
    assert d["clock_cut"] == []
    assert "rerun" not in a.message
    b = max_coverage(A, budget=15, time_limit=5.0, seed=0)
    assert np.array_equal(a.chosen, b.chosen)


def test_plan_says_when_the_clock_stopped_the_search(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_max, "_MAX_EXACT_OPTIONS", 0)
    real = _max.regional_search

    def late(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "deadline": -math.inf})

    monkeypatch.setattr(_max, "regional_search", late)
    with caplog.at_level(logging.WARNING, logger="placement.optimise"):
        plan = max_coverage(_dense_instance(), budget=30, time_limit=5.0, seed=0)
    # The library says so itself, as the command line does (it said nothing before).
    said = [r.getMessage() for r in caplog.records if "time limit stopped" in r.getMessage()]
    assert len(said) == 1
    assert said[0].startswith("max_coverage: the time limit stopped regional search")
    assert said[0].endswith(
        " early: a rerun may choose other options; raise the time limit for a repeatable answer"
    )
    assert plan.gap > 0
    assert "regional search" in plan.clock_cut
    assert not plan.repeatable
    assert plan.to_dict()["repeatable"] is False
    assert "regional search" in plan.to_dict()["clock_cut"]
    assert "rerun may choose other options" in plan.message


def test_min_cover_says_when_the_clock_stopped_its_lagrangian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    A = _spatial(300, 3000, seed=4, side=400.0)
    calm = min_cover(A, target=0.9, time_limit=5.0, seed=0)
    assert calm.repeatable
    real = _min.lagrange_min

    def late(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "deadline": -math.inf})

    monkeypatch.setattr(_min, "lagrange_min", late)
    plan = min_cover(A, target=0.9, time_limit=5.0, seed=0)
    assert plan.clock_cut[0] == "Lagrangian steps"
    assert not plan.repeatable


def _spy_regional_search(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Exact models off; the keyword arguments of every regional search max_coverage runs."""
    monkeypatch.setattr(_max, "_MAX_EXACT_OPTIONS", 0)
    calls: list[dict[str, Any]] = []
    real = _max.regional_search

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(_max, "regional_search", spy)
    return calls


def test_regional_search_takes_more_of_the_limit_where_no_block_bound_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _spy_regional_search(monkeypatch)
    A = _dense_instance()
    max_coverage(A, budget=30, time_limit=2.0, seed=0)
    monkeypatch.setattr(_max, "fits", lambda R: False)
    max_coverage(A, budget=30, time_limit=2.0, seed=0)
    assert [kw["work"] for kw in calls] == [
        pytest.approx(0.55 * 2.0 * REGION_UNITS_PER_S),
        pytest.approx(0.75 * 2.0 * REGION_UNITS_PER_S),
    ]


def test_short_limits_do_not_skip_phases_by_a_fixed_margin() -> None:
    # A fixed margin before the deadline (0.2-0.5 s) longer than a 0.3 s limit would skip
    # the same phases on every run and call them stopped by the clock.
    cut = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(4, 13)), int(rng.integers(10, 40))
        A = (rng.random((n, m)) < 0.35).astype(np.int8)
        w = rng.integers(0, 5, m).astype(float)
        cut += bool(max_coverage(A, w, budget=3, time_limit=0.3, seed=0).clock_cut)
        cut += bool(min_cover(A, w, target=0.8, time_limit=0.3, seed=0).clock_cut)
    assert cut == 0


def test_a_one_second_limit_keeps_a_tenth_for_the_blocks_not_half(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fixed 0.5 s kept for the blocks' choices ended the regional search of a 1 s run at
    # half its limit (5,000 x 50,000: 24,178 or 24,256 by the clock; 24,297 on every run
    # with a tenth). From 5 s on, the old reserve holds.
    assert [_max._reserve(t) for t in (1.0, 3.0, 5.0, 30.0)] == pytest.approx([0.1, 0.3, 0.5, 1.2])
    calls = _spy_regional_search(monkeypatch)
    start = time.perf_counter()
    max_coverage(_dense_instance(), budget=30, time_limit=1.0, seed=0)
    assert len(calls) == 1
    assert calls[0]["deadline"] >= start + 0.9 - 1e-9


def test_cpsat_stops_on_its_own_time_units_not_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # CP-SAT counts about 0.1-0.8 deterministic seconds a wall second here: a limit of as
    # many units as its share of seconds ended on the wall clock on every run (Osaka
    # 52350301, k = 2, budget 20: the plan said "not repeatable" every time).
    import placement.optimise._exact as ex

    seen: list[tuple[float, float, int, float]] = []
    real = ex._solve

    def spy(model: Any, **kwargs: Any) -> Any:
        solver, status = real(model, **kwargs)
        seen.append((kwargs["time_s"], kwargs["wall_s"], status, solver.deterministic_time))
        return solver, status

    monkeypatch.setattr(ex, "_solve", spy)
    A = _spatial(300, 3000, 1, side=300.0)  # k = 2: CP-SAT runs and does not prove
    plans = [max_coverage(A, budget=10, k=2, time_limit=4.0, seed=0) for _ in range(2)]
    assert len(seen) == 2
    for time_s, wall_s, status, dtime in seen:
        assert time_s == pytest.approx(0.5 * 4.0 * 0.15)
        assert wall_s == pytest.approx(4.0)
        assert status == 2  # FEASIBLE: ended by its limit, not a proof
        assert dtime >= 0.99 * time_s  # ... by its deterministic one
    assert all("CP-SAT" not in p.clock_cut for p in plans)
    assert np.array_equal(plans[0].chosen, plans[1].chosen)


def test_a_limit_too_short_for_the_blocks_is_no_clock_cut() -> None:
    # Under 2 s the blocks never run, on any machine: their choices were never on offer.
    from test_optimise import _spatial

    A = _spatial(1200, 12000, seed=3)
    a = max_coverage(A, None, None, budget=80, time_limit=2.0, seed=1)
    b = max_coverage(A, None, None, budget=80, time_limit=2.0, seed=1)
    # The gap is open here (3,611 against 3,615 on this machine), so the blocks had work.
    assert "blocks' choices" not in a.clock_cut
    assert a.chosen.tolist() == b.chosen.tolist()
