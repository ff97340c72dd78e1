"""The max-coverage block bound (placement.optimise._blocks_max) against brute force."""

# Matrix names follow the maths (C the 0/1 matrix, R the reduced problem).
# ruff: noqa: N803

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from placement.optimise import max_coverage
from placement.optimise._blocks_max import (
    BackgroundBlocks,
    block_bound,
    price,
    safe_block_bound,
)
from placement.optimise._bounds import lagrange_max
from placement.optimise._heuristics import greedy_max, value
from placement.optimise._lp import LPBound
from test_optimise import _reduced, _reduced_site, _spatial

Arr = np.ndarray[Any, Any]


def _line_case(seed: int, n: int = 12, m: int = 40) -> tuple[Arr, Arr, Arr, int, float]:
    """Options and points along a 1 km street, each option seeing part of the points within
    120 m of it: local, like a camera matrix, and small enough to enumerate."""
    rng = np.random.default_rng(seed)
    at = np.sort(rng.random(n)) * 1000.0
    pts = rng.random(m) * 1000.0
    C = ((np.abs(at[:, None] - pts[None, :]) < 120.0) & (rng.random((n, m)) < 0.7)).astype(np.int64)
    w = rng.integers(1, 6, m).astype(float)
    c = np.ones(n) if seed % 2 else rng.integers(1, 4, n).astype(float)
    k = 2 if seed % 5 == 4 else 1
    budget = float(rng.integers(2, 5))
    return C, w, c, k, budget


def _brute(C: Arr, w: Arr, c: Arr, k: int, budget: float) -> float:
    best = 0.0
    for r in range(C.shape[0] + 1):
        for S in itertools.combinations(range(C.shape[0]), r):
            if c[list(S)].sum() <= budget + 1e-9:
                cnt = C[list(S)].sum(axis=0) if S else np.zeros(C.shape[1])
                best = max(best, float(w[cnt >= k].sum()))
    return best


def _k2_line_cases(count: int = 40) -> Iterator[tuple[Arr, Arr, Arr, float, Any]]:
    """The non-empty line cases of seeds 0..count-1 with two cameras on every point:
    (coverage, weights, costs, budget, reduced problem)."""
    for seed in range(count):
        C, w, c, _, budget = _line_case(seed)
        R = _reduced(C, w, c, 2)
        if R.m and R.n:
            yield C, w, c, budget, R


def _caps_free_lagrangian(R: Any, lam: Arr, budget: float) -> float:
    """sum_p max(0, w_p - req_p lam_p) + the fractional knapsack over options (no caps)."""
    lam = np.clip(lam, 0.0, R.w / R.req)
    v = R.B @ lam
    mu, b = price(R, v, budget)
    return (
        mu * b
        + float(np.maximum(0.0, R.w - R.req * lam).sum())
        + float(np.maximum(0.0, v - mu * R.cost).sum())
    )


@pytest.mark.parametrize("seed", range(40))
def test_block_bound_is_valid_and_starts_at_the_lagrangian(seed: int) -> None:
    C, w, c, k, budget = _line_case(seed)
    opt = _brute(C, w, c, k, budget)
    R = _reduced(C, w, c, k)
    if R.m == 0 or R.n == 0:
        pytest.skip("nothing coverable")
    lag = lagrange_max(R, budget, 0.0, iterations=200, deadline=time.perf_counter() + 10)
    x = greedy_max(R, budget)
    for lam in (lag.mult, np.random.default_rng(seed).random(R.m) * 3.0):
        got = block_bound(
            R, lam, budget, x, deadline=time.perf_counter() + 20, leaf_options=3, threads=1
        )
        assert got is not None
        assert got.start == pytest.approx(_caps_free_lagrangian(R, lam, budget), abs=1e-6)
        # Valid: never below the optimum (in reduced units, plus what existing options give).
        assert R.const_weight + got.bound >= opt - 1e-6
        assert got.bound <= got.start + 1e-6


def _lagrange_cases() -> Iterator[tuple[Any, float, float, Any, Arr]]:
    """The brute-force cases with something coverable: the reduced problem, budget, optimum,
    a Lagrangian bound at it and the greedy answer."""
    for seed in range(40):
        C, w, c, k, budget = _line_case(seed)
        R = _reduced(C, w, c, k)
        if R.m == 0 or R.n == 0:
            continue
        opt = _brute(C, w, c, k, budget)
        lag = lagrange_max(R, budget, opt, iterations=300, deadline=time.perf_counter() + 10)
        yield R, budget, opt, lag, greedy_max(R, budget)


def test_block_bound_gains_on_the_lagrangian() -> None:
    # Over the brute-force cases the blocks' integrality must close part of the gap left by
    # the Lagrangian bound somewhere; with one block of everything, at least as much.
    gained = 0
    for R, budget, opt, lag, x in _lagrange_cases():
        small = block_bound(
            R, lag.mult, budget, x, deadline=time.perf_counter() + 20, leaf_options=3, threads=1
        )
        whole = block_bound(
            R, lag.mult, budget, x, deadline=time.perf_counter() + 20, leaf_options=R.n, threads=2
        )
        assert small is not None and whole is not None
        assert whole.blocks == 1 and whole.solved in (0, 1)
        assert R.const_weight + whole.bound >= opt - 1e-6
        gained += int(small.bound < small.start - 1e-3)
    assert gained >= 5


def test_merging_blocks_stays_valid_and_gains_on_the_blocks_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Over the brute-force cases: solving pairs of groups together after the blocks never
    # goes below the optimum, never above the blocks alone, and gains somewhere.
    import placement.optimise._blocks_max as pbm

    gained = merged = 0
    for R, budget, opt, lag, x in _lagrange_cases():
        got = {}
        for factor in (0, 6):
            monkeypatch.setattr(pbm, "_MERGE_FACTOR", factor)
            got[factor] = block_bound(
                R, lag.mult, budget, x, deadline=time.perf_counter() + 20, leaf_options=2
            )
        alone, both = got[0], got[6]
        assert alone is not None and both is not None
        assert alone.merged == 0
        assert R.const_weight + both.bound >= opt - 1e-6
        assert both.bound <= alone.bound + 1e-6
        merged += int(both.merged > 0)
        gained += int(both.bound < alone.bound - 1e-3)
    assert merged >= 10
    assert gained >= 3


def test_share_rounds_stay_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over the brute-force cases, with no merges: moving the price shares between the
    # blocks never goes below the optimum or above the blocks alone, and runs only where
    # one camera counts.
    import placement.optimise._blocks_max as pbm

    monkeypatch.setattr(pbm, "_MERGE_FACTOR", 0)
    ran = 0
    for R, budget, opt, lag, x in _lagrange_cases():
        got = {}
        for rounds in (False, True):
            monkeypatch.setattr(pbm, "_ROUNDS", rounds)
            got[rounds] = block_bound(
                R, lag.mult, budget, x, deadline=time.perf_counter() + 20, leaf_options=2
            )
        alone, moved = got[False], got[True]
        assert alone is not None and moved is not None
        assert alone.rounds == 0
        assert R.const_weight + moved.bound >= opt - 1e-6
        assert moved.bound <= alone.bound + 1e-9
        if moved.rounds:
            assert R.req.max() <= 1
        ran += int(moved.rounds > 0)
    assert ran >= 10


def test_share_rounds_lower_the_bound_of_a_dense_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 300 options x 3,000 points in 250 m x 250 m, budget 10, blocks of 30 options: the
    # blocks alone leave 1,522 (greedy finds 1,454); a few rounds of moving the shares lower
    # that by about 5 within seconds, and stay above the greedy answer.
    import placement.optimise._blocks_max as pbm

    monkeypatch.setattr(pbm, "_MERGE_FACTOR", 0)
    R = _reduced(_spatial(300, 3000, 0, side=250.0).toarray(), np.ones(3000), np.ones(300), 1)
    x = greedy_max(R, 10)
    floor = value(R, x)
    lag = lagrange_max(R, 10, floor, iterations=300, deadline=time.perf_counter() + 10)
    got = {}
    for rounds in (False, True):
        monkeypatch.setattr(pbm, "_ROUNDS", rounds)
        got[rounds] = block_bound(
            R, lag.mult, 10, x, deadline=time.perf_counter() + 6, leaf_options=30, threads=2
        )
    alone, moved = got[False], got[True]
    assert alone is not None and moved is not None
    assert alone.rounds == 0 and moved.rounds >= 1
    assert floor <= moved.bound < alone.bound - 0.5


def _group(blocks: list[int], chosen: list[int]) -> Any:
    from placement.optimise._blocks_max import _Group

    return _Group(np.array(blocks), 10.0, np.array(chosen, np.int64), False)


def test_a_block_stopped_by_its_node_limit_gives_its_choices_and_the_clock_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One block of everything (160 options, 1,600 points in 300 m x 300 m), which SCIP
    # solves in a few nodes without cuts (with them, at its root). Stopped after one node it
    # is not solved, but it stopped the same way every run: its choices count. Stopped by
    # its time limit, they do not.
    import placement.optimise._blocks_max as pbm

    monkeypatch.setattr(pbm, "_ROOT_ROUNDS", 0)
    A = _spatial(160, 1600, 3, side=300.0)
    R = _reduced(A.toarray(), np.ones(1600), np.ones(160), 1)
    budget = 10.0
    lag = lagrange_max(R, budget, 0.0, iterations=200, deadline=time.perf_counter() + 10)
    x = greedy_max(R, budget)

    def run(**kw: Any) -> Any:
        got = block_bound(
            R, lag.mult, budget, x, deadline=time.perf_counter() + 20, leaf_options=R.n, **kw
        )
        assert got is not None and got.blocks == 1
        return got

    exact = run(threads=1)
    assert exact.solved == 1 and exact.leaf_union is not None and not exact.clock_cut
    monkeypatch.setattr(pbm, "_BLOCK_NODES", 1)
    one_node = run(threads=1)
    assert one_node.solved == 0
    assert one_node.bound > exact.bound + 1e-3  # stopped before its optimum ...
    assert one_node.leaf_union is not None and not one_node.clock_cut  # ... and still counts
    assert int(one_node.leaf_union.sum()) >= 1
    clocked = run(threads=1, block_s=0.05)
    assert clocked.solved == 0 and clocked.bound >= exact.bound - 1e-6
    assert clocked.leaf_union is None and clocked.clock_cut


def test_root_limits_apply_where_one_camera_counts_and_not_at_k_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Blocks where every point needs one camera skip SCIP's restarts and cut at most
    # _ROOT_ROUNDS rounds at the root; blocks where points need two keep SCIP's defaults
    # (their cuts pay).
    from ortools.linear_solver.python import model_builder as mb

    import placement.optimise._blocks_max as pbm

    sent: list[str] = []
    orig = mb.Solver.set_solver_specific_parameters

    def spy(self: Any, params: str) -> Any:
        sent.append(params)
        return orig(self, params)

    monkeypatch.setattr(mb.Solver, "set_solver_specific_parameters", spy)
    A = _spatial(60, 400, 2, side=150.0)
    for k in (1, 2):
        sent.clear()
        R = _reduced(A.toarray(), np.ones(400), np.ones(60), k)
        lag = lagrange_max(R, 4.0, 0.0, iterations=100, deadline=time.perf_counter() + 10)
        got = block_bound(
            R,
            lag.mult,
            4.0,
            greedy_max(R, 4.0),
            deadline=time.perf_counter() + 20,
            leaf_options=20,
            threads=1,
        )
        assert got is not None and sent, k
        limited = [f"separating/maxroundsroot = {pbm._ROOT_ROUNDS}" in p for p in sent]
        restarts = ["presolving/maxrestarts = 0" in p for p in sent]
        assert limited == restarts
        assert all(limited) if k == 1 else not any(limited)


def test_a_lower_price_for_the_budget_stays_valid_and_lowers_the_bound_at_k_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where points need two cameras the blocks choose little at the critical ratio's price,
    # and safe_block_bound solves them again at lower prices (on the same blocks, built
    # once): never below the optimum (brute force), never above the first pass, lower in
    # some cases.
    import placement.optimise._blocks_max as pbm

    built = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return real_blocks(*args, **kwargs)

    real_blocks = pbm.option_blocks
    monkeypatch.setattr(pbm, "option_blocks", counted)
    lowered = 0
    for C, w, c, budget, R in _k2_line_cases():
        opt = _brute(C, w, c, 2, budget)
        lag = lagrange_max(R, budget, opt, iterations=300, deadline=time.perf_counter() + 10)
        x = greedy_max(R, budget)
        kw: dict[str, Any] = {"leaf_options": 3, "threads": 1}
        first = block_bound(R, lag.mult, budget, x, deadline=time.perf_counter() + 20, **kw)
        built.clear()
        got = safe_block_bound(R, lag.mult, budget, x, deadline=time.perf_counter() + 20, **kw)
        assert first is not None and got is not None
        assert len(built) == 1
        assert R.const_weight + got.bound >= opt - 1e-6
        assert got.bound <= first.bound + 1e-6
        assert got.solved == first.solved and got.leaf_union is not None
        if got.bound < first.bound - 1e-6:
            lowered += 1
            assert got.price_factor < 1.0 and first.usage < budget
        else:
            assert got.price_factor == 1.0
    assert lowered >= 10


def test_merge_round_pairs_groups_whose_solutions_disagree_on_a_shared_option() -> None:
    from placement.optimise._blocks_max import _merge_round

    # Option 0 is priced in blocks 0 and 1 (shares 1 and 2), option 3 in blocks 2 and 3.
    Sc = sp.csc_matrix(
        np.array([[1.0, 2.0, 0, 0], [3.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 0, 1.0, 1.0]])
    )
    cols = [np.array([0, 1]), np.array([0]), np.array([2, 3]), np.array([3])]
    # Groups 0 and 1 disagree on option 0; groups 2 and 3 agree on option 3.
    groups = {0: _group([0], [0]), 1: _group([1], []), 2: _group([2], [3]), 3: _group([3], [3])}
    assert _merge_round(4, Sc, groups, cols, tried=set(), cap=10) == [(0, 1)]
    # Already tried, or over the cap: no pair.
    assert _merge_round(4, Sc, groups, cols, tried={(0, 1)}, cap=10) == []
    assert _merge_round(4, Sc, groups, cols, tried=set(), cap=2) == []
    # Both choose option 0: nothing to gain.
    groups[1] = _group([1], [0])
    assert _merge_round(4, Sc, groups, cols, tried=set(), cap=10) == []


class _FakeLP:
    def __init__(self, got: LPBound | None) -> None:
        self.got = got

    def result(self, deadline: float) -> LPBound | None:
        return self.got


def _background(R: Any, got: LPBound | None, budget: float, x: Arr, known: float) -> Any:
    return BackgroundBlocks(
        R, _FakeLP(got), budget, x, deadline=time.perf_counter() + 20, seed=0, integral=True,
        known=known,
    )  # fmt: skip


def test_background_blocks_use_the_lp_multipliers_and_stop_when_proven() -> None:
    C, w, c, k, budget = _line_case(3)
    R = _reduced(C, w, c, k)
    opt = _brute(C, w, c, k, budget)
    lag = lagrange_max(R, budget, opt, iterations=300, deadline=time.perf_counter() + 10)
    x = greedy_max(R, budget)
    got = LPBound(lag.bound, 0, lag.iterations, lag.mult)
    bg = _background(R, got, budget, x, known=0.0)
    lp, blocks = bg.finish(opt - R.const_weight - 1, time.perf_counter() + 30)
    assert lp is got
    assert blocks is not None
    direct = block_bound(R, lag.mult, budget, x, deadline=time.perf_counter() + 20)
    assert direct is not None
    assert blocks.start == pytest.approx(direct.start)
    assert R.const_weight + blocks.bound >= opt - 1e-6
    # A known objective the LP bound already proves optimal: no block is solved.
    bg = _background(R, got, budget, x, known=lag.bound)
    lp, blocks = bg.finish(lag.bound, time.perf_counter() + 30)
    assert lp is got and blocks is None
    # No LP result: nothing.
    bg = _background(R, None, budget, x, known=0.0)
    assert bg.finish(0.0, time.perf_counter() + 30) == (None, None)


class _SlowLP(_FakeLP):
    def result(self, deadline: float) -> LPBound | None:
        time.sleep(0.5)  # a block solve that runs past the deadline
        return self.got


def test_background_blocks_close_waits_for_the_running_solve() -> None:
    # A thread left running outlives max_coverage, and a CLI process that exited while a
    # SCIP solve ran on it failed at shutdown (exit 120).
    C, w, c, k, budget = _line_case(3)
    R = _reduced(C, w, c, k)
    x = greedy_max(R, budget)
    bg = BackgroundBlocks(
        R, _SlowLP(None), budget, x, deadline=time.perf_counter(), seed=0, integral=True,
        known=0.0,
    )  # fmt: skip
    assert bg.finish(0.0, time.perf_counter()) == (None, None)  # the deadline has passed
    assert bg._thread.is_alive()
    bg.close(time.perf_counter() + 5.0)
    assert not bg._thread.is_alive()


def test_max_coverage_takes_the_block_bound_and_keeps_its_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Exact models off, as on instances too big for them: the Lagrangian leaves a gap there,
    # and the block bound must tighten it; the regional search already finds the best the
    # blocks' choices give here, so the options are the same.
    import placement.optimise._max as pmx

    monkeypatch.setattr(pmx, "_MAX_EXACT_OPTIONS", -1)
    # A short search (its work, not the clock, ends it) leaves the blocks their seconds
    # on a slow machine too: at half the limit it once ended too late for them.
    monkeypatch.setattr(pmx, "_LOCAL_WORK", 0.15)
    A = _spatial(400, 4000, 1, side=300.0)  # 300 m square: dense, the Lagrangian leaves 1.5 %
    with_blocks = max_coverage(A, budget=14, time_limit=6, seed=1)
    monkeypatch.setattr(pmx, "_BLOCKS_MIN_S", np.inf)
    without = max_coverage(A, budget=14, time_limit=6, seed=1)
    assert np.array_equal(with_blocks.chosen, without.chosen)
    assert "blocks of options solved exactly" in with_blocks.method
    assert "blocks" not in without.method
    assert with_blocks.objective <= with_blocks.bound < without.bound


@pytest.fixture
def no_regional(monkeypatch: pytest.MonkeyPatch) -> Any:
    """max_coverage with exact models and the regional search off (the search keeps its
    start): the module, to patch further."""
    import placement.optimise._max as pmx
    from placement.optimise._local import LocalResult

    def idle(R: Any, x: Arr, *args: Any, **kwargs: Any) -> LocalResult:
        return LocalResult(x.copy(), 0, 0, 0.0)

    monkeypatch.setattr(pmx, "_MAX_EXACT_OPTIONS", -1)
    monkeypatch.setattr(pmx, "regional_search", idle)
    return pmx


def test_max_coverage_repairs_the_blocks_choices_into_a_better_answer(
    monkeypatch: pytest.MonkeyPatch, no_regional: Any
) -> None:
    # With the regional search switched off, greedy and swaps leave room; every block's own
    # best choice, cut back to the budget, must do better, within the budget, and the same
    # in two runs.
    A = _spatial(800, 8000, 1, side=800.0)  # sparser: the blocks solve in a second
    runs = [max_coverage(A, budget=50, time_limit=6, seed=1) for _ in range(2)]
    monkeypatch.setattr(no_regional, "_BLOCKS_MIN_S", np.inf)
    without = max_coverage(A, budget=50, time_limit=6, seed=1)
    assert "blocks' choices repaired" in runs[0].method
    assert runs[0].objective > without.objective
    assert runs[0].chosen.size <= 50
    assert np.array_equal(runs[0].chosen, runs[1].chosen)
    seen = np.asarray(sp.csr_matrix(A)[runs[0].chosen].sum(axis=0)).ravel()
    assert runs[0].objective == float((seen > 0).sum())
    assert runs[0].objective <= runs[0].bound


@pytest.mark.usefixtures("no_regional")
def test_repaired_blocks_choices_respect_costs_site_caps_and_existing() -> None:
    A = _spatial(800, 8000, 2, side=800.0)
    site = np.arange(800) // 2  # two headings per pole, one of them at most
    costs = np.random.default_rng(0).integers(1, 4, 800).astype(float)
    existing = np.array([3, 100, 401])
    plan = max_coverage(
        A, None, costs, budget=90, existing=existing, site=site, max_per_site=1,
        time_limit=6, seed=1,
    )  # fmt: skip
    assert "blocks' choices repaired" in plan.method
    ch = plan.chosen
    assert set(existing.tolist()) <= set(ch.tolist())
    assert costs[np.setdiff1d(ch, existing)].sum() <= 90
    assert np.bincount(site[ch]).max() == 1
    seen = np.asarray(sp.csr_matrix(A)[ch].sum(axis=0)).ravel()
    assert plan.objective == float((seen > 0).sum()) <= plan.bound


@pytest.mark.parametrize("seed", range(12))
def test_repair_max_is_feasible_and_keeps_what_is_feasible(seed: int) -> None:
    from placement.optimise._heuristics import repair_max

    rng = np.random.default_rng(seed)
    C, w, c, k, budget = _line_case(seed)
    site = rng.integers(0, 4, C.shape[0])
    R = _reduced_site(C, w, c, site, k)
    x = rng.random(R.n) < 0.7
    y = repair_max(R, x, budget)
    assert not np.any(y & ~x)  # only drops
    assert float(R.cost[y].sum()) <= budget + 1e-9
    assert np.all(np.bincount(R.site[y], minlength=R.site_cap.size) <= R.site_cap)
    # Unit costs and no site caps: exactly the options over the budget go.
    if seed % 2:
        R1 = _reduced(C, w, c, k)
        x1 = rng.random(R1.n) < 0.7
        assert int(repair_max(R1, x1, budget).sum()) == min(int(x1.sum()), int(budget))
    # Already feasible: unchanged.
    assert np.array_equal(repair_max(R, y, budget), y)


def test_a_failing_block_bound_is_logged_and_no_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import placement.optimise._blocks_max as pbm

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("SCIP fell over")

    monkeypatch.setattr(pbm, "block_bound", boom)
    C, w, c, k, budget = _line_case(3)
    R = _reduced(C, w, c, k)
    with caplog.at_level("WARNING", logger="placement.optimise._blocks_max"):
        got = pbm.safe_block_bound(R, np.ones(R.m), budget, np.zeros(R.n, bool), deadline=0.0)
    assert got is None
    assert "block bound failed: RuntimeError('SCIP fell over')" in caplog.text


def test_a_failing_pass_at_a_lower_price_keeps_the_first_bound(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import placement.optimise._blocks_max as pbm

    real = pbm.block_bound

    def lower_fails(*args: Any, price_factor: float = 1.0, **kwargs: Any) -> Any:
        if price_factor != 1.0:
            raise RuntimeError("SCIP fell over")
        return real(*args, **kwargs)

    monkeypatch.setattr(pbm, "block_bound", lower_fails)
    for _, _, _, budget, R in _k2_line_cases():  # the first whose blocks leave budget unused
        x = greedy_max(R, budget)
        lam = lagrange_max(R, budget, 0.0, iterations=300, deadline=time.perf_counter() + 10).mult
        kw: dict[str, Any] = {"leaf_options": 3, "threads": 1}
        first = real(R, lam, budget, x, deadline=time.perf_counter() + 20, **kw)
        assert first is not None
        if first.usage < 0.9 * budget:
            break
    else:
        pytest.fail("no case leaves budget unused")
    with caplog.at_level("WARNING", logger="placement.optimise._blocks_max"):
        got = pbm.safe_block_bound(R, lam, budget, x, deadline=time.perf_counter() + 20, **kw)
    assert got is not None and got.price_factor == 1.0
    assert got.bound == pytest.approx(first.bound, abs=1e-6)
    assert "block bound at a lower price failed: RuntimeError('SCIP fell over')" in caplog.text


def test_an_interrupted_call_stops_its_background_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C in a notebook mid-search: the LP child and the block thread must stop too,
    # not run on both cores to the call's deadline.
    import threading

    import placement.optimise._max as pmx
    import placement.optimise._phases as pph

    monkeypatch.setattr(pph, "_LP_MIN_NNZ", 0)  # the LP child on a small instance
    monkeypatch.setattr(pmx, "_MAX_EXACT_OPTIONS", -1)  # to the search, beside the blocks
    started: list[float] = []

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        started.append(time.perf_counter())
        time.sleep(0.5)  # the LP child is at work by now
        raise KeyboardInterrupt

    monkeypatch.setattr(pmx, "regional_search", interrupted)
    A = _spatial(400, 4000, 1, side=300.0)
    with pytest.raises(KeyboardInterrupt):
        max_coverage(A, budget=14, time_limit=30, seed=1)
    assert started
    t = time.perf_counter()
    while time.perf_counter() - t < 3.0 and any(
        th.name in ("placement-lp", "placement-blocks") for th in threading.enumerate()
    ):
        time.sleep(0.05)
    alive = [th.name for th in threading.enumerate() if th.name.startswith("placement-")]
    assert alive == [], alive  # well before the 30 s deadline
