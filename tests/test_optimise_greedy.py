"""The compiled lazy greedy takes the same options, in the same order of ties, as a plain
Python lazy greedy over a heap (the code it replaced)."""

# Matrix names follow the maths (A, B, R for the reduced problem).
# ruff: noqa: N803

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import pytest

from placement.optimise._heuristics import greedy_max, greedy_min
from test_optimise import _reduced

Arr = np.ndarray


def _python_greedy(R: Any, x: Arr, *, left: float, target: float) -> float:
    """Lazy greedy by gain (w / req per missing cover) per cost, ties to the lower index."""
    count = np.asarray(R.Bt @ x.astype(float)).ravel()
    unit = R.w / R.req
    gains = R.B @ (unit * (count < R.req - 0.5))
    gains[x] = 0.0
    sc = np.bincount(R.site[x], minlength=R.site_cap.size)
    covered = float(R.w[count >= R.req - 0.5].sum())

    def key(g: float, j: int) -> float:
        return g / R.cost[j] if R.cost[j] > 0 else g * 1e30

    heap = [(-key(float(gains[j]), j), j) for j in np.flatnonzero(gains > 0).tolist()]
    heapq.heapify(heap)
    while heap and covered < target * (1 - 1e-12):
        _, j = heapq.heappop(heap)
        if R.cost[j] > left + 1e-9 or sc[R.site[j]] >= R.site_cap[R.site[j]]:
            continue
        idx = R.B.indices[R.B.indptr[j] : R.B.indptr[j + 1]]
        g = float((unit[idx] * (count[idx] < R.req[idx])).sum())
        if g <= 1e-9:
            continue
        if heap and key(g, j) < -heap[0][0] - 1e-9:
            heapq.heappush(heap, (-key(g, j), j))
            continue
        x[j] = True
        before = count[idx] >= R.req[idx]
        count[idx] += 1
        covered += float(R.w[idx][(count[idx] >= R.req[idx]) & ~before].sum())
        left -= R.cost[j]
        sc[R.site[j]] += 1
    return covered


@pytest.mark.parametrize("seed", range(60))
def test_compiled_greedy_matches_the_python_lazy_greedy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 30)), int(rng.integers(2, 80))
    C = (rng.random((n, m)) < rng.uniform(0.05, 0.5)).astype(np.int64)
    w = rng.random(m) if seed % 3 == 0 else rng.integers(0, 4, m).astype(float)
    c = rng.integers(0, 4, n).astype(float) if seed % 2 else None  # zero costs too
    site = np.arange(n) // 2 if seed % 4 == 1 else None
    R = _reduced(C, w, c, int(rng.integers(1, 3)), site=site, cap=1 if site is not None else None)
    budget = float(rng.integers(1, 8))
    if R.n == 0:  # the reduction left nothing to choose
        assert greedy_max(R, budget).size == 0
        return
    want = np.zeros(R.n, np.bool_)
    _python_greedy(R, want, left=budget, target=np.inf)
    got = greedy_max(R, budget)
    if np.all(R.cost == R.cost[0]):  # else the best single option may replace it
        assert np.array_equal(got, want)
    # Min cover from a start (one option, where caps allow), to a fraction of the weight.
    start = np.zeros(R.n, np.bool_)
    start[int(rng.integers(R.n))] = True
    target = float(R.w.sum()) * float(rng.uniform(0.3, 1.0))
    want = start.copy()
    reached = _python_greedy(R, want, left=np.inf, target=target) >= target * (1 - 1e-12)
    got_min = greedy_min(R, target, start=start)
    assert (got_min is not None) == reached
    if got_min is not None:
        assert np.all(got_min <= want)  # greedy's picks, then redundant ones dropped
        cover = np.asarray(R.Bt @ got_min.astype(float)).ravel() >= R.req - 0.5
        assert float(R.w[cover].sum()) >= target * (1 - 1e-12)
