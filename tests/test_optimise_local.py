"""Tests of the regional local search of placement.optimise (never worse, always feasible)."""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import cKDTree

from placement.optimise._heuristics import greedy_max, site_counts, value
from placement.optimise._local import _region, _subproblem, regional_search
from placement.optimise._problem import Reduced, check_inputs, reduce_problem


def _spatial(n: int, m: int, seed: int, side: float = 300.0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    opts = rng.random((n, 2)) * side
    pts = rng.random((m, 2)) * side
    d = cKDTree(opts).sparse_distance_matrix(cKDTree(pts), 40.0, output_type="coo_matrix")
    keep = rng.random(d.nnz) < 0.6
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), np.int8), (d.row[keep], d.col[keep])), shape=(n, m)
    )


def _reduced(A: Any, *, costs: Any = None, k: int = 1, cap: int | None = None) -> Reduced:
    n = A.shape[0]
    inp = check_inputs(
        A,
        np.random.default_rng(1).integers(1, 4, A.shape[1]).astype(float),
        costs,
        k=k,
        min_level=1,
        existing=None,
        site=None if cap is None else np.arange(n) // 3,
        max_per_site=cap,
        time_limit=1.0,
    )
    return reduce_problem(inp, seed=0)


@pytest.mark.parametrize(
    ("costs", "k", "cap", "budget"),
    [(None, 1, None, 8), ("money", 1, None, 20.0), (None, 2, None, 12), (None, 1, 1, 10)],
)
def test_regional_search_never_worse_and_feasible(
    costs: str | None, k: int, cap: int | None, budget: float
) -> None:
    A = _spatial(160, 1500, seed=2)
    c = None if costs is None else np.random.default_rng(5).integers(1, 5, 160).astype(float)
    R = _reduced(A, costs=c, k=k, cap=cap)
    x0 = greedy_max(R, budget)
    v0 = value(R, x0)
    res = regional_search(R, x0, budget, work=3e6, deadline=1e300, seed=3, worse=2.0)
    assert res.iterations > 10
    assert value(R, res.x) >= v0
    assert float(R.cost[res.x].sum()) <= budget + 1e-9
    assert np.all(site_counts(R, res.x) <= R.site_cap)
    # Deterministic for a seed: the same work gives the same set.
    again = regional_search(R, x0, budget, work=3e6, deadline=1e300, seed=3, worse=2.0)
    assert np.array_equal(again.x, res.x)


def test_regional_search_improves_a_poor_start() -> None:
    A = _spatial(160, 1500, seed=7)
    R = _reduced(A)
    # A deliberately poor start: the 8 options that cover least.
    x0 = np.zeros(R.n, np.bool_)
    x0[np.argsort(R.B.getnnz(axis=1), kind="stable")[:8]] = True
    res = regional_search(R, x0, 8, work=5e6, deadline=1e300, seed=0)
    assert value(R, res.x) > value(R, x0)
    assert value(R, res.x) >= 0.97 * value(R, greedy_max(R, 8))
    assert int(res.x.sum()) <= 8


@pytest.mark.parametrize("seed", range(6))
def test_subproblem_value_matches_the_whole(seed: int) -> None:
    # Every choice in the region changes the sub-problem's value exactly as the whole one's.
    A = _spatial(40, 400, seed=seed + 20, side=150.0)
    R = _reduced(A, k=1 + seed % 2)
    rng = np.random.default_rng(seed)
    x = np.zeros(R.n, np.bool_)
    x[rng.choice(R.n, size=min(6, R.n), replace=False)] = True
    count = R.Bt @ x.astype(np.float64)
    reg, _ = _region(R, int(np.flatnonzero(x)[0]), 8)
    S, _, _, left = _subproblem(R, x, count, reg, budget=10.0)
    assert left == pytest.approx(10.0 - float(x.sum() - x[reg].sum()))
    base_whole, base_sub = value(R, x), value(S, x[reg])
    for bits in itertools.islice(itertools.product([False, True], repeat=reg.size), 64):
        z = np.array(bits, np.bool_)
        y = x.copy()
        y[reg] = z
        assert value(R, y) - base_whole == pytest.approx(value(S, z) - base_sub)
