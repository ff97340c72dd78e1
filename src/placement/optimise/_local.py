"""Regional iterated local search for max coverage: perturb a small region, repair, polish.

Each step picks a chosen option (by the seeded generator), takes the options within two
"shares a demand point" hops of it (read off the matrix, no coordinates needed) as a region,
and builds the sub-problem over those options with every other option held at its value:
points the held options already cover drop out, the others need only the covers still
missing, and the budget and site caps are what the held options leave. In that small problem
it drops the centre and a few other chosen options of the region, refills greedily without
them, and runs the add / 1-for-1 swap local search of :mod:`._heuristics`. The new region
replaces the old one when it covers at least as much (equal moves let the search walk along
plateaus), so the objective never goes down.

Sub-problems are a few hundred options by a few thousand points, so a step takes
milliseconds where a swap move on the whole problem takes tens of them, and thousands of
regions are tried in a few seconds (5,000 x 50,000, budget 150: 24,383 from the CP-SAT LNS
in 40 s, 24,440 from this in 35 s).

The work is counted in nonzeros touched (a deterministic measure), so the sequence of
regions and answers for a seed does not depend on the machine's load; the wall clock
``deadline`` is only a safety cap.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from placement.optimise._heuristics import coverage_count, site_counts, swap_search, value
from placement.optimise._problem import BoolArray, FloatArray, IntArray, Reduced

log = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass(frozen=True)
class LocalResult:
    x: BoolArray
    iterations: int
    improvements: int
    work: float  # nonzeros touched


def _region(R: Reduced, centre: int, size: int) -> tuple[IntArray, int]:
    """Options within two "shares a point" hops of ``centre`` (at most ``size``, nearest
    first) and the nonzeros read to find them.

    The second layer is ranked by how many points it shares with the first, so a cap keeps
    the options closest to the centre.
    """
    pts = R.B.indices[R.B.indptr[centre] : R.B.indptr[centre + 1]]
    near = R.Bt[pts]
    ring1 = np.unique(near.indices)
    if ring1.size >= size:
        return ring1[:size], int(near.nnz)
    rows = R.B[ring1]
    far = R.Bt[rows.indices]
    cnt = np.bincount(far.indices, minlength=R.n)
    cnt[ring1] = 0
    ring2 = np.flatnonzero(cnt)
    ring2 = ring2[np.lexsort((ring2, -cnt[ring2]))][: size - ring1.size]
    return np.sort(np.concatenate([ring1, ring2])), int(near.nnz + rows.nnz + far.nnz)


def _subproblem(
    R: Reduced, x: BoolArray, count: FloatArray, reg: IntArray, budget: float
) -> tuple[Reduced, sp.csr_matrix, IntArray, float]:
    """The problem over the options ``reg`` with every other option held at its value.

    Returns the sub-problem, the region's rows over all points it touches, those points, and
    the budget the held options leave.
    """
    rows = sp.csr_matrix(R.B[reg])
    pts = np.unique(rows.indices)
    rows = sp.csr_matrix(rows[:, pts])
    xr = x[reg]
    inside = rows.T @ xr.astype(np.float64)
    need = R.req[pts] - np.rint(count[pts] - inside).astype(np.int64)
    avail = rows.getnnz(axis=0)
    live = (need > 0) & (avail >= need)
    B = sp.csr_matrix(rows[:, live])
    held = x.copy()
    held[reg] = False
    cap = R.site_cap - site_counts(R, held)
    S = replace(
        R,
        B=B,
        Bt=sp.csr_matrix(B.T),
        w=R.w[pts][live],
        req=need[live],
        cost=R.cost[reg],
        option=reg,
        site=R.site[reg],
        site_cap=cap,
        const_weight=0.0,
        coverable_weight=0.0,
    )
    left = budget - float(R.cost[held].sum())
    return S, rows, pts, left


def _fill(S: Reduced, z: BoolArray, budget: float, ban: BoolArray) -> BoolArray:
    """Add options (not banned) by gain per cost while one with a positive gain fits."""
    z = z.copy()
    unit_w = S.w / S.req
    count = coverage_count(S, z)
    sc = site_counts(S, z)
    left = budget - float(S.cost[z].sum())
    while True:
        g = S.B @ (unit_w * (count < S.req - 0.5))
        ok = ~z & ~ban & (S.cost <= left + _EPS) & (sc[S.site] < S.site_cap[S.site]) & (g > _EPS)
        if not ok.any():
            return z
        key = np.where(ok, g / np.maximum(S.cost, 1e-12), -np.inf)
        j = int(np.argmax(key))
        z[j] = True
        count += S.B[j].toarray().ravel()
        left -= float(S.cost[j])
        sc[S.site[j]] += 1


def regional_search(
    R: Reduced,
    x: BoolArray,
    budget: float,
    *,
    work: float,
    deadline: float,
    seed: int,
    region_size: int = 300,
    max_drop: int = 4,
    worse: float = 0.0,
) -> LocalResult:
    """Improve ``x`` (max coverage within ``budget``) by regional perturb-and-repair steps.

    Parameters
    ----------
    work : nonzeros of sub-problem matrices to touch in total (deterministic effort).
    deadline : wall-clock safety cap (perf_counter seconds).
    region_size : options per region at most.
    max_drop : chosen options dropped per step cycle through 1..max_drop.
    worse : a region that covers up to this much weight less is still taken at the start;
        the tolerance shrinks linearly with the work done (threshold accepting). The best
        solution seen is returned.
    """
    rng = np.random.default_rng(seed + 15485863)
    x = x.copy()
    count = coverage_count(R, x)
    used, it, improved = 0.0, 0, 0
    cur = best_v = value(R, x)
    best_x = x.copy()
    while used < work and time.perf_counter() < deadline:
        chosen = np.flatnonzero(x)
        if chosen.size == 0:
            break
        it += 1
        centre = int(chosen[rng.integers(chosen.size)])
        reg, found = _region(R, centre, region_size)
        S, rows, pts, left = _subproblem(R, x, count, reg, budget)
        z0 = x[reg]
        mine = np.flatnonzero(z0)
        d = 1 + (it - 1) % max_drop
        c_loc = int(np.searchsorted(reg, centre))
        others = mine[mine != c_loc]
        drop = np.concatenate(
            [[c_loc], rng.choice(others, size=min(d - 1, others.size), replace=False)]
        ).astype(np.int64)
        ban = np.zeros(reg.size, np.bool_)
        ban[drop] = True
        z = z0.copy()
        z[drop] = False
        z = _fill(S, z, left, ban)
        z1 = swap_search(S, z, left, deadline=deadline)
        used += float(S.B.nnz) * (4 + d + int(np.count_nonzero(z1 != z))) + rows.nnz + found
        if np.array_equal(z1, z0):
            continue
        before, after = value(S, z0), value(S, z1)
        tol = worse * max(0.0, 1.0 - used / work) + _EPS * max(1.0, before)
        if after >= before - tol:
            count[pts] += rows.T @ (z1.astype(np.float64) - z0.astype(np.float64))
            x[reg] = z1
            cur += after - before
            if cur > best_v + _EPS * max(1.0, best_v):
                improved += 1
                best_v, best_x = cur, x.copy()
    x = best_x
    log.debug(
        "optimise: regional search %d steps, %d improvements, objective %g, work %.3g",
        it,
        improved,
        value(R, x),
        used,
    )
    return LocalResult(x, it, improved, used)
