"""Tests of the pair greedy for redundancy (k >= 2) in placement.optimise."""

# Matrix names follow the maths (A, B, R for the reduced problem).
# ruff: noqa: N803

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from placement.optimise import max_coverage, min_cover
from placement.optimise._heuristics import (
    coverage_count,
    greedy_max,
    pair_greedy,
    site_counts,
    value,
)
from placement.optimise._problem import Reduced
from test_optimise import _count, _reduced, _spatial, brute_max

Arr = np.ndarray[Any, Any]


def _trap() -> Arr:
    """k = 2 and a budget of 2: options 0 and 1 both see points 0-4; 2 sees 5-12, 4 sees
    5-11, 3 sees 12-19 and 5 sees 13-19. The best pair is (2, 4) or (3, 5): 7 points."""
    A = np.zeros((6, 20), np.int8)
    A[0, 0:5] = A[1, 0:5] = 1
    A[2, 5:13] = 1
    A[4, 5:12] = 1
    A[3, 12:20] = 1
    A[5, 13:20] = 1
    return A


def _original(R: Reduced, x: Arr) -> set[int]:
    return set(R.option[x].tolist())


def test_pair_greedy_takes_the_pair_plain_greedy_misses() -> None:
    R = _reduced(_trap(), None, None, 2)
    # Plain greedy credits half a point per missing cover: it takes option 2 (4), then 3
    # (4 again, over 3.5 for option 4) and covers only point 12 twice.
    g = greedy_max(R, 2)
    assert _original(R, g) == {2, 3}
    assert value(R, g) == 1.0
    x = pair_greedy(R, 2)
    assert x is not None
    assert _original(R, x) == {2, 4}
    assert value(R, x) == 7.0
    # Through max_coverage: the optimum, with plain greedy's value as the baseline.
    p = max_coverage(sp.csr_matrix(_trap()), budget=2, k=2, time_limit=2.0)
    assert p.objective == 7.0 and p.status == "optimal"
    assert p.greedy_objective == 1.0


def test_pair_greedy_respects_costs_and_site_caps() -> None:
    A = _trap()
    # Options 4 and 5 cost 3: over a budget of 4 the pairs (2, 4) and (3, 5) cannot be
    # taken, (0, 1) at 2 can.
    R = _reduced(A, None, np.array([1.0, 1.0, 1.0, 1.0, 3.0, 3.0]), 2)
    x = pair_greedy(R, 2)
    assert x is not None
    assert _original(R, x) == {0, 1}
    assert value(R, x) == 5.0
    # Options 2 and 4, and 3 and 5, on one pole each with room for one camera.
    R = _reduced(A, None, None, 2, site=np.array([0, 1, 2, 3, 2, 3]), cap=1)
    x = pair_greedy(R, 2)
    assert x is not None
    assert np.all(site_counts(R, x) <= R.site_cap)
    assert _original(R, x) == {0, 1}


def test_pair_greedy_k3_starts_with_partial_credit_then_completes() -> None:
    # Three options see the same 4 points; k = 3. No pair completes a point from nothing,
    # so the first step is a plain greedy one; then the pair of the other two completes all.
    A = np.zeros((5, 7), np.int8)
    A[0:3, 0:4] = 1
    A[3, 4:7] = 1
    A[4, 4:6] = 1
    R = _reduced(A, None, None, 3)
    x = pair_greedy(R, 3)
    assert x is not None
    assert _original(R, x) == {0, 1, 2}
    assert value(R, x) == 4.0


def test_pair_greedy_reaches_a_target_or_says_it_cannot() -> None:
    R = _reduced(_trap(), None, None, 2)
    x = pair_greedy(R, target=14.0)
    assert x is not None and _original(R, x) == {2, 3, 4, 5}
    # Options 0 and 1 are taken once the pairs with more per camera are gone.
    x = pair_greedy(R, target=19.0)
    assert x is not None and _original(R, x) == {0, 1, 2, 3, 4, 5}
    # Site caps: with 0 and 1 on a one-camera pole, points 0-4 cannot be covered twice.
    R = _reduced(_trap(), None, None, 2, site=np.array([0, 0, 1, 2, 3, 4]), cap=1)
    assert pair_greedy(R, target=19.0) is None
    # k = 1 everywhere: nothing for the pair greedy to do.
    assert pair_greedy(_reduced(_trap(), None, None, 1), 2) is None


def test_pair_greedy_gives_up_past_its_work_budget() -> None:
    R = _reduced(_trap(), None, None, 2)
    # Work: the graph's multiply-adds (sum of options per point squared: 2 x 2 x 2 merged
    # points seen twice), then per step the options plus the graph entries scored.
    deg = np.diff(R.Bt.indptr)
    build = float((deg * deg).sum())
    G = sp.triu(R.B @ R.Bt, 1)
    step = R.n + G.nnz
    assert pair_greedy(R, 2, max_work=build - 1) is None
    # Two steps: the pair (2, 4), then one that finds nothing left within the budget.
    assert pair_greedy(R, 2, max_work=build + 2 * step - 1) is None
    x = pair_greedy(R, 2, max_work=build + 2 * step)
    assert x is not None and _original(R, x) == {2, 4}


@pytest.mark.parametrize("seed", range(40))
def test_pair_greedy_is_feasible_and_never_above_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 9)), int(rng.integers(2, 16))
    A = ((rng.random((n, m)) < 0.45) * rng.integers(1, 5, (n, m))).astype(np.int8)
    w = rng.integers(0, 5, m).astype(float)
    c = rng.integers(0, 4, n).astype(float)
    k = int(rng.integers(2, 4))
    site = rng.integers(0, max(1, n // 2), n)
    cap = 1 + seed % 2
    existing = np.flatnonzero(rng.random(n) < 0.15)
    existing = np.array([j for j in existing if np.sum(site[existing] == site[j]) <= cap], int)
    budget = float(rng.integers(0, 7))
    R = _reduced(A, w, c, k, site=site, cap=cap, existing=existing)
    x = pair_greedy(R, budget)
    if x is None:
        assert R.n == 0 or not np.any(R.req >= 2)
        return
    assert float(R.cost[x].sum()) <= budget + 1e-9
    assert np.all(site_counts(R, x) <= R.site_cap)
    C = (A >= 1).astype(np.int64)
    chosen = tuple(sorted(set(existing.tolist()) | _original(R, x)))
    got = float(w[_count(C, chosen) >= k].sum())
    assert got == pytest.approx(R.const_weight + value(R, x))
    assert got <= brute_max(C, w, c, budget, k, existing.tolist(), site, cap) + 1e-9
    # With a target: covered when it says so, None only when it could not get there.
    goal = 0.5 * float(R.w.sum())
    y = pair_greedy(R, target=goal)
    if y is not None:
        assert value(R, y) >= goal - 1e-9
        assert np.all(site_counts(R, y) <= R.site_cap)


def test_max_coverage_k2_starts_from_the_better_of_both_greedies() -> None:
    A = _spatial(400, 4000, seed=3, side=400.0)
    R = _reduced(A.toarray(), None, None, 2)
    g, x = greedy_max(R, 20), pair_greedy(R, 20)
    assert x is not None
    assert value(R, x) > 1.5 * value(R, g)  # spread lone cameras: plain greedy is poor here
    p = max_coverage(A, budget=20, k=2, time_limit=3.0, seed=0)
    q = max_coverage(A, budget=20, k=2, time_limit=3.0, seed=0)
    assert p.objective >= value(R, x) - 1e-9
    assert p.objective >= p.greedy_objective == value(R, g)
    np.testing.assert_array_equal(p.chosen, q.chosen)
    counts = coverage_count(R, np.isin(R.option, p.chosen))
    assert p.objective == pytest.approx(float(R.w[counts >= R.req].sum()) + R.const_weight)


def test_min_cover_k2_uses_the_pair_greedy_when_cheaper() -> None:
    A2 = _spatial(300, 3000, seed=5, side=300.0)
    R = _reduced(A2.toarray(), None, None, 2)
    goal = 0.5 * float(R.w.sum())
    x = pair_greedy(R, target=goal)
    assert x is not None
    p = min_cover(A2, target=0.5, k=2, time_limit=3.0, seed=0)
    assert p.objective <= float(R.cost[x].sum()) + 1e-9
    counts = p.coverage_count
    assert float(np.sum(counts >= 2)) >= 0.5 * float(np.sum(A2.getnnz(axis=0) >= 2)) - 1e-9
