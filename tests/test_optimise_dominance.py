"""Option and point dominance (placement.optimise._dominance) against brute force."""

# Matrix names follow the maths (B options x points, Bt its transpose).
# ruff: noqa: N803

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from placement.optimise._dominance import dominated_options, dominated_points
from placement.optimise._problem import Reduced, check_inputs, reduce_full_cover, reduce_problem

Arr = np.ndarray[Any, Any]


def _reduced(C: Any, cost: Arr | None = None, k: int = 1) -> Reduced:
    inp = check_inputs(
        sp.csr_matrix(C),
        None,
        cost,
        k=k,
        min_level=1,
        existing=None,
        site=None,
        max_per_site=None,
        time_limit=1.0,
    )
    return reduce_problem(inp, seed=0)


def _full_reduced(C: Any, cost: Arr | None = None, k: int = 1) -> Reduced:
    return reduce_full_cover(_reduced(C, cost, k))


def _sets(M: Arr) -> list[frozenset[int]]:
    return [frozenset(np.flatnonzero(row).tolist()) for row in M]


def _brute_options(B: Arr, cost: Arr) -> Arr:
    """The rule itself: i goes when some j covers a superset at no higher cost (equal sets at
    equal cost: the lower index stays)."""
    S = _sets(B)
    drop = np.zeros(len(S), np.bool_)
    for i, j in itertools.permutations(range(len(S)), 2):
        if not S[i] or not S[i] <= S[j]:
            continue
        if S[i] == S[j]:
            drop[i] |= cost[j] < cost[i] or (cost[j] == cost[i] and j < i)
        else:
            drop[i] |= bool(cost[j] <= cost[i])
    return drop


def _brute_points(Bt: Arr, req: Arr) -> Arr:
    S = _sets(Bt)
    drop = np.zeros(len(S), np.bool_)
    for q, p in itertools.permutations(range(len(S)), 2):
        if not S[p] or not S[p] <= S[q]:
            continue
        if S[p] == S[q]:
            drop[q] |= req[p] > req[q] or (req[p] == req[q] and p < q)
        else:
            drop[q] |= bool(req[p] >= req[q])
    return drop


@pytest.mark.parametrize("seed", range(30))
def test_dominance_matches_the_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 12)), int(rng.integers(1, 14))
    B = (rng.random((n, m)) < rng.uniform(0.15, 0.6)).astype(np.int64)
    # Few distinct costs and needs, so ties and equal sets are common.
    cost = rng.integers(1, 3, n).astype(np.float64)
    req = rng.integers(1, 3, m).astype(np.int64)
    got_o = dominated_options(sp.csr_matrix(B), cost)
    np.testing.assert_array_equal(got_o, _brute_options(B, cost))
    got_p = dominated_points(sp.csr_matrix(B.T), req)
    np.testing.assert_array_equal(got_p, _brute_points(B.T, req))


def test_dominance_known_case_and_work_cap() -> None:
    # Options: 0 = {0, 1}, 1 = {0, 1, 2}, 2 = {0, 1, 2} (dearer), 3 = {3}.
    B = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]])
    cost = np.array([1.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(
        dominated_options(sp.csr_matrix(B), cost), [True, False, True, False]
    )
    # Points 0 and 1 are seen by {0, 1, 2}, point 2 by {1, 2}: any cover of 2 covers 0 and 1.
    req = np.ones(4, np.int64)
    np.testing.assert_array_equal(
        dominated_points(sp.csr_matrix(B.T), req), [True, True, False, False]
    )
    # A point needing two coverers is not implied by one needing a single coverer.
    req2 = np.array([2, 1, 1, 1])
    np.testing.assert_array_equal(
        dominated_points(sp.csr_matrix(B.T), req2), [False, True, False, False]
    )
    # No work allowed: nothing found, nothing dropped.
    assert not dominated_options(sp.csr_matrix(B), cost, budget=-1).any()


def _covers_all(C: Arr, x: Arr, k: int) -> bool:
    return bool(np.all(C[x].sum(axis=0) >= k))


@pytest.mark.parametrize(("seed", "k"), [(s, 1) for s in range(12)] + [(s, 2) for s in range(6)])
def test_full_cover_reduction_keeps_every_cover_and_the_optimum(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed + 900)
    n, m = int(rng.integers(3, 11)), int(rng.integers(4, 30))
    C = (rng.random((n, m)) < 0.4).astype(np.int64)
    cost = rng.integers(1, 4, n).astype(np.float64)
    R = _reduced(C, cost, k)
    F = reduce_full_cover(R)
    assert F.m <= R.m and F.n <= R.n
    assert set(F.option.tolist()) <= set(R.option.tolist())
    coverable = C.sum(axis=0) >= k
    Cc = C[:, coverable]
    best_full, best_red = np.inf, np.inf
    for r in range(n + 1):
        for S in itertools.combinations(range(n), r):
            x = np.zeros(n, np.bool_)
            x[list(S)] = True
            c = float(cost[x].sum())
            if _covers_all(Cc, x, k):
                best_full = min(best_full, c)
            xr = x[F.option]
            if set(S) <= set(F.option.tolist()) and np.all(F.Bt @ xr.astype(float) >= F.req):
                # A cover of the reduced points covers every coverable point.
                assert _covers_all(Cc, x, k)
                best_red = min(best_red, c)
    # Only dominated options left: the cheapest cover is still there.
    assert best_red == best_full


def test_full_cover_reduction_on_spatial_instance() -> None:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(3)
    opts, pts = rng.random((300, 2)) * 400.0, rng.random((3000, 2)) * 400.0
    d = cKDTree(opts).sparse_distance_matrix(cKDTree(pts), 40.0, output_type="coo_matrix")
    keep = rng.random(d.nnz) < 0.6
    A = sp.csr_matrix((np.ones(int(keep.sum())), (d.row[keep], d.col[keep])), shape=(300, 3000))
    R = _reduced(A)
    F = reduce_full_cover(R)
    # Most points are implied by others (about 70 % on the 2,000 x 20,000 benchmark).
    assert F.m < 0.5 * R.m
    # A greedy cover of the reduced points covers all coverable points of A.
    x = np.zeros(F.n, np.bool_)
    cnt = np.zeros(F.m)
    while np.any(cnt < 1):
        gain = F.B @ (cnt < 1).astype(float)
        j = int(np.argmax(gain))
        x[j] = True
        cnt = F.Bt @ x.astype(float)
    chosen = F.option[x]
    seen = np.asarray(A[chosen].sum(axis=0)).ravel()
    assert np.all(seen[np.asarray(A.sum(axis=0)).ravel() > 0] >= 1)


# --- the block decomposition bound (placement.optimise._decompose) ---------------------------


def _brute_full(C: Arr, cost: Arr, k: int) -> float:
    coverable = C.sum(axis=0) >= k
    best = np.inf
    n = C.shape[0]
    for r in range(n + 1):
        for S in itertools.combinations(range(n), r):
            if np.all(C[list(S)][:, coverable].sum(axis=0) >= k):
                best = min(best, float(cost[list(S)].sum()))
    return best


def _ring_instance(seed: int, n: int = 12, m: int = 40) -> tuple[Arr, Arr]:
    """Options on a ring each seeing random points of a window: a spatial-like cover."""
    rng = np.random.default_rng(seed)
    C = np.zeros((n, m), np.int64)
    for j in range(n):
        centre = j * m // n
        for p in range(centre - 5, centre + 6):
            if rng.random() < 0.6:
                C[j, p % m] = 1
    cost = rng.integers(1, 4, n).astype(np.float64)
    return C, cost


@pytest.mark.parametrize("seed", range(10))
def test_decomposition_bound_never_above_the_optimum(seed: int) -> None:
    import time

    from placement.optimise._decompose import decomposition_bound, partition

    C, cost = _ring_instance(seed)
    k = 1 + seed % 2
    R = _full_reduced(C, cost, k)
    opt = _brute_full(C, cost, k)
    nodes = partition(R, leaf_points=3)
    leaves = [nd.rows for nd in nodes if not nd.children]
    # The leaves partition the points.
    assert sorted(np.concatenate(leaves).tolist()) == list(range(R.m))
    assert len(leaves) >= 2
    d = decomposition_bound(R, deadline=time.perf_counter() + 20, seed=0, leaf_points=3)
    assert d is not None
    assert d.bound <= opt + 1e-6
    # With time to spare the tree is solved up to its root: the bound is the optimum.
    assert d.bound == pytest.approx(opt, abs=1e-6)


def test_decomposition_bound_gives_up_at_its_deadline() -> None:
    # Its LP and its bisection tree used to run to the end whatever the deadline (3 x 3 Osaka
    # block: 3.4 s + 4 s), so a 3 s full cover took 8 s.
    import time

    from placement.optimise._decompose import (
        Stopper,
        _OutOfTimeError,
        decomposition_bound,
        lp_cover_duals,
        partition,
    )

    C, cost = _ring_instance(3)
    R = _full_reduced(C, cost)
    past = time.perf_counter() - 1.0
    with pytest.raises(_OutOfTimeError):
        partition(R, leaf_points=3, deadline=past)
    stopped = Stopper()
    stopped.stop()
    with pytest.raises(_OutOfTimeError):
        partition(R, leaf_points=3, stopper=stopped)
    assert decomposition_bound(R, deadline=past, seed=0, leaf_points=3) is None
    # With time the same calls work (the LP's limit is only a cap).
    assert len(partition(R, leaf_points=3, deadline=time.perf_counter() + 60)) >= 3
    duals = lp_cover_duals(R, time_s=60.0)
    assert duals is not None and duals.shape == (R.m,)


@pytest.mark.parametrize("seed", range(6))
def test_cost_shares_give_valid_bounds_for_any_duals(seed: int) -> None:
    from placement.optimise._decompose import Stopper, _block_bound, cost_shares, partition

    C, cost = _ring_instance(seed + 40)
    R = _full_reduced(C, cost)
    opt = _brute_full(C, cost, 1)
    rng = np.random.default_rng(seed)
    leaves = [nd.rows for nd in partition(R, leaf_points=4) if not nd.children]
    duals = rng.random(R.m) * (rng.random(R.m) < 0.7)  # arbitrary, some zero
    shares = cost_shares(R, leaves, duals).toarray()
    # Each option's shares sum to its cost.
    np.testing.assert_allclose(shares.sum(axis=1), R.cost)
    total = 0.0
    for b, rows in enumerate(leaves):
        bb, optimal = _block_bound(R, rows, shares[:, b], time_s=10, seed=0, stopper=Stopper())
        assert optimal
        total += bb
    assert total <= opt + 1e-6


def test_decomposition_bound_on_spatial_instance_beats_the_lp() -> None:
    import time

    from scipy.spatial import cKDTree

    from placement.optimise._decompose import decomposition_bound, lp_cover_duals
    from placement.optimise._heuristics import greedy_min

    rng = np.random.default_rng(5)
    opts, pts = rng.random((400, 2)) * 500.0, rng.random((4000, 2)) * 500.0
    d = cKDTree(opts).sparse_distance_matrix(cKDTree(pts), 40.0, output_type="coo_matrix")
    keep = rng.random(d.nnz) < 0.6
    A = sp.csr_matrix((np.ones(int(keep.sum())), (d.row[keep], d.col[keep])), shape=(400, 4000))
    R = _full_reduced(A.toarray(), np.ones(400))
    duals = lp_cover_duals(R)
    assert duals is not None
    lp = float(duals.sum())
    dec = decomposition_bound(R, deadline=time.perf_counter() + 20, seed=0, leaf_points=150)
    assert dec is not None and dec.leaves >= 4
    x = greedy_min(R, float(R.w.sum()))
    assert x is not None
    # Above the LP (the blocks' integrality), below any cover.
    assert lp + 1.0 < dec.bound <= float(x.sum())
