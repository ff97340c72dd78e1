"""Local searches: regional iterated search (max coverage), point weighting (full min cover).

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

Full min cover (k == 1, no site caps) has :func:`weighted_cover_search`, a row-weighting
local search in the manner of the weighting heuristics for unicost set cover, compiled with
numba (a few seconds on first use, cached after): 2,000 x 20,000, from set_cover's 856:
836 in 2 M steps (12 s), where a round of 200,000 guided local search moves ends on 844
(later rounds on sets that miss points); Osaka tile, full cover: 717 in 1 M steps (10 s).
It runs a fixed number of steps for a seed; the clock is checked between chunks of 100,000
steps.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806, PLR0917

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

from placement.optimise._heuristics import (
    alone_weight,
    coverage_count,
    drop_redundant,
    site_counts,
    swap_search,
    value,
)
from placement.optimise._problem import BoolArray, FloatArray, IntArray, Reduced

log = logging.getLogger(__name__)

_EPS = 1e-9

#: Nominal rate of the regional search, nonzeros of sub-problems touched per second, that
#: work budgets are fixed from time_limit with (measured on an idle core: 1.1e8 on 5,000 x
#: 50,000, 1.6e8 on 10,000 x 100,000, 5e7 on the Osaka tile's partial cover).
NNZ_PER_S = 8e7
#: Work a region of :func:`regional_search` counts for on top of its nonzeros: its Python
#: overhead, 1.7 ms at 1.6e8 nonzeros a second (fitted on an idle core over the Osaka tile,
#: the 3 x 3 block and 2,000 to 10,000 options: 2.3 to 18 ms a region, 9e4 to 2.6e6
#: nonzeros). With it a second of search counts about the same on every instance.
REGION_WORK = 2.7e5
#: Nominal rate of max coverage's regional search in those units (nonzeros plus
#: REGION_WORK a region), that its share of time_limit becomes a fixed work budget at:
#: 1.6e8 measured on an idle core, 1.3e8 with the block bound's solves on the other core
#: (3 x 3 Osaka block, budget 400), and room below that for a slower machine, so the
#: search ends by its work and not by the clock (the answer repeats).
REGION_UNITS_PER_S = 1.1e8
#: Least work a region of the regional search counts for in :func:`cover_descent`: the
#: Python overhead of one region, about 2.5 ms (2,000 x 20,000 partial cover: 270 regions
#: of 2.2e7 nonzeros in all took 0.8 s).
_STEP_WORK = 2e5


@dataclass(frozen=True)
class LocalResult:
    x: BoolArray
    iterations: int
    improvements: int
    work: float  # nonzeros touched
    clock_cut: bool = False  # the deadline ended it before its work (the answer may vary)


def _region(R: Reduced, centre: int, size: int) -> tuple[IntArray, int]:
    """Options within two "shares a point" hops of ``centre`` (at most ``size``, nearest
    first) and the nonzeros read to find them.

    The second layer is ranked by how many points it shares with the first, so a cap keeps
    the options closest to the centre.
    """
    pts = R.B.indices[R.B.indptr[centre] : R.B.indptr[centre + 1]]
    near = R.Bt[pts]
    ring1, shared = np.unique(near.indices, return_counts=True)
    if ring1.size >= size:
        # The first layer alone fills the region: those sharing most points with the
        # centre, the centre itself always.
        shared[ring1 == centre] = pts.size + 1
        keep = ring1[np.lexsort((ring1, -shared))][:size]
        return np.sort(keep), int(near.nnz)
    if not np.any(ring1 == centre):  # an option with no points left still leads its region
        ring1 = np.sort(np.append(ring1, centre))
    rows = R.B[ring1]
    far = R.Bt[rows.indices]
    cnt = np.bincount(far.indices, minlength=R.n)
    cnt[ring1] = 0
    ring2 = np.flatnonzero(cnt)
    ring2 = ring2[np.lexsort((ring2, -cnt[ring2]))][: max(0, size - ring1.size)]
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
    stop_at: float = math.inf,
    max_steps: int | None = None,
    region_work: float = REGION_WORK,
) -> LocalResult:
    """Improve ``x`` (max coverage within ``budget``) by regional perturb-and-repair steps.

    Parameters
    ----------
    work : nonzeros of sub-problem matrices to touch in total, plus ``region_work`` a
        region (deterministic effort).
    deadline : wall-clock safety cap (perf_counter seconds).
    region_size : options per region at most.
    max_drop : chosen options dropped per step cycle through 1..max_drop.
    worse : a region that covers up to this much weight less is still taken at the start;
        the tolerance shrinks linearly with the work done (threshold accepting). The best
        solution seen is returned.
    stop_at : stop as soon as the objective reaches this (a cover target).
    max_steps : regions tried at most (None: no limit but the work).
    """
    rng = np.random.default_rng(seed + 15485863)
    x = x.copy()
    count = coverage_count(R, x)
    used, it, improved = 0.0, 0, 0
    cur = best_v = value(R, x)
    best_x = x.copy()
    steps_left = math.inf if max_steps is None else max_steps
    cut = False
    while used < work and best_v < stop_at and it < steps_left:
        if time.perf_counter() >= deadline:
            cut = True
            break
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
        z1 = swap_search(S, z, left, deadline=deadline).x
        used += (
            float(S.B.nnz) * (4 + d + int(np.count_nonzero(z1 != z)))
            + rows.nnz
            + found
            + region_work
        )
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
    return LocalResult(x, it, improved, used, cut)


def _drop_cheapest_losses(R: Reduced, x: BoolArray, count: FloatArray) -> BoolArray:
    """``x`` without the chosen option that loses the least weight per cost (points it
    alone still counts for); ``count`` is updated in place."""
    chosen = np.flatnonzero(x)
    loss = alone_weight(R, chosen, count) / np.maximum(R.cost[chosen], _EPS)
    j = int(chosen[np.argmin(loss)])
    y = x.copy()
    y[j] = False
    count[R.B.indices[R.B.indptr[j] : R.B.indptr[j + 1]]] -= 1
    return y


def cover_descent(
    R: Reduced,
    x: BoolArray,
    target: float,
    *,
    work: float,
    deadline: float,
    seed: int,
    chunks: int = 64,
    patience: float = 3.0,
) -> LocalResult:
    """Make a partial cover ``x`` (covered weight >= ``target``) cheaper by max coverage at
    falling budgets.

    Drop the option that loses least per cost, and give the set that cost as a budget to
    :func:`regional_search`, in chunks of ``work / chunks``, until it covers ``target``
    again plus what the next drop would lose (so that drop is free); then drop again. A
    chunk that ends short does not go back: the next one goes on from where it stopped.
    It stops early once ``patience`` regions per chosen option in a row have covered no
    more. Each region counts at least :data:`_STEP_WORK` (small regions cost their Python
    overhead more than their nonzeros). The cheapest set that met the target is returned.

    The regional search regains in a few steps what one option lost, where rebuilding a
    neighbourhood exactly (CP-SAT LNS) cannot move the many cameras a cheaper cover needs
    (Osaka tile, cover 0.95, 60 s: 500 by the LNS, 490 by this)."""
    tol = _EPS * max(1.0, target)
    best = drop_redundant(R, x, target)
    count = coverage_count(R, best)
    y = _drop_cheapest_losses(R, best, count)
    used, it, improved, stalled = 0.0, 0, 0, 0
    step = work / max(1, chunks)
    # covered: y's weight now; last: the most y covered since the last drop.
    covered = last = value(R, y)
    cut = False
    while used < work and y.any():
        if time.perf_counter() >= deadline:
            cut = True
            break
        if covered >= target - tol:
            stalled = 0
            best = drop_redundant(R, y, target)
            improved += 1
            count = coverage_count(R, best)
            if not best.any():
                break
            y = _drop_cheapest_losses(R, best, count)
            covered = last = value(R, y)
        else:
            if stalled >= patience * np.count_nonzero(y):
                break
            count = coverage_count(R, y)
        it += 1
        chosen = np.flatnonzero(y)
        next_loss = float(alone_weight(R, chosen, count).min()) if chosen.size else 0.0
        chunk = min(step, work - used)
        patience_left = int(patience * chosen.size) - stalled
        loc = regional_search(
            R,
            y,
            float(R.cost[y].sum()),
            work=chunk,
            deadline=deadline,
            seed=seed + it,
            stop_at=target + next_loss - tol,
            max_steps=max(1, min(int(chunk // _STEP_WORK), patience_left)),
            region_work=0.0,  # counted below, as _STEP_WORK at least
        )
        used += max(loc.work, loc.iterations * _STEP_WORK, 1.0)
        y = loc.x
        cut = cut or loc.clock_cut
        covered = value(R, y)
        stalled = 0 if covered > last + tol else stalled + max(1, loc.iterations)
        last = max(last, covered)
    if covered >= target - tol and float(R.cost[y].sum()) < float(R.cost[best].sum()):
        best = drop_redundant(R, y, target)
        improved += 1
    log.debug(
        "optimise: cover descent %d chunks, %d cheaper covers, cost %g",
        it,
        improved,
        float(R.cost[best].sum()),
    )
    return LocalResult(best, it, improved, used, cut)


# --- Weighting local search for full set cover (min cover, k == 1, no site caps) ---
#
# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# The state lives in arrays the caller owns, so the search runs in chunks and the wall clock
# is checked between them; numba's generator is seeded once per search and continues its
# stream across chunks (one thread), so the moves do not depend on the chunk size.
#
# ints: [n_uncovered, n_selected, last added (-1 none)]; floats: [cost, best cost].


@numba.njit(nogil=True, cache=True)
def _wls_add(j, st):  # type: ignore[no-untyped-def]
    b_ptr, b_idx, t_ptr, t_idx, x, cnt, wt, score, unc, unc_pos, sel, sel_pos, conf, ints = st
    for a in range(b_ptr[j], b_ptr[j + 1]):
        e = b_idx[a]
        if cnt[e] == 0:
            for b in range(t_ptr[e], t_ptr[e + 1]):
                s = t_idx[b]
                if s != j:
                    score[s] -= wt[e]
            p = unc_pos[e]
            last = unc[ints[0] - 1]
            unc[p] = last
            unc_pos[last] = p
            unc_pos[e] = -1
            ints[0] -= 1
        elif cnt[e] == 1:
            for b in range(t_ptr[e], t_ptr[e + 1]):
                s = t_idx[b]
                if x[s]:
                    score[s] += wt[e]
                    break
        cnt[e] += 1
        for b in range(t_ptr[e], t_ptr[e + 1]):
            conf[t_idx[b]] = 1
    x[j] = True
    sc = 0.0
    for a in range(b_ptr[j], b_ptr[j + 1]):
        e = b_idx[a]
        if cnt[e] == 1:
            sc -= wt[e]
    score[j] = sc
    sel_pos[j] = ints[1]
    sel[ints[1]] = j
    ints[1] += 1


@numba.njit(nogil=True, cache=True)
def _wls_remove(j, st):  # type: ignore[no-untyped-def]
    b_ptr, b_idx, t_ptr, t_idx, x, cnt, wt, score, unc, unc_pos, sel, sel_pos, conf, ints = st
    x[j] = False
    for a in range(b_ptr[j], b_ptr[j + 1]):
        e = b_idx[a]
        cnt[e] -= 1
        if cnt[e] == 0:
            for b in range(t_ptr[e], t_ptr[e + 1]):
                s = t_idx[b]
                if s != j:
                    score[s] += wt[e]
            unc_pos[e] = ints[0]
            unc[ints[0]] = e
            ints[0] += 1
        elif cnt[e] == 1:
            for b in range(t_ptr[e], t_ptr[e + 1]):
                s = t_idx[b]
                if x[s]:
                    score[s] -= wt[e]
                    break
        for b in range(t_ptr[e], t_ptr[e + 1]):
            conf[t_idx[b]] = 1
    conf[j] = 0
    sc = 0.0
    for a in range(b_ptr[j], b_ptr[j + 1]):
        e = b_idx[a]
        if cnt[e] == 0:
            sc += wt[e]
    score[j] = sc
    p = sel_pos[j]
    last = sel[ints[1] - 1]
    sel[p] = last
    sel_pos[last] = p
    sel_pos[j] = -1
    ints[1] -= 1


@numba.njit(nogil=True, cache=True)
def _wls_seed(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)  # noqa: NPY002 - numba supports only the legacy generator


@numba.njit(nogil=True, cache=True)
def _wls_best_removal(sel, n_sel, score, cost, age, skip):  # type: ignore[no-untyped-def]
    """The selected option losing least weight per cost (oldest on ties), not ``skip``."""
    bj = -1
    bv = -np.inf
    for t in range(n_sel):
        s = sel[t]
        if s == skip:
            continue
        v = score[s] / cost[s]
        if v > bv or (v == bv and age[s] < age[bj]):
            bv = v
            bj = s
    return bj


@numba.njit(nogil=True, cache=True)
def _wls_run(st, cost, age, best, floats, it0, it1):  # type: ignore[no-untyped-def]
    _, _, t_ptr, t_idx, x, _, wt, score, unc, _, sel, _, conf, ints = st
    for it in range(it0, it1):
        # Drop options until the set is cheaper than the best cover and misses something
        # (recording every cover on the way).
        while ints[1] > 0 and (ints[0] == 0 or floats[0] >= floats[1] - 1e-9):
            if ints[0] == 0 and floats[0] < floats[1] - 1e-9:
                floats[1] = floats[0]
                best[:] = x
            bj = _wls_best_removal(sel, ints[1], score, cost, age, -1)
            _wls_remove(bj, st)
            floats[0] -= cost[bj]
            age[bj] = it
        if ints[0] == 0:
            break  # nothing selected and nothing to cover
        # Swap: drop one (not the option just added), add the best option (that may be
        # added) covering a random uncovered point.
        bj = _wls_best_removal(sel, ints[1], score, cost, age, ints[2])
        if bj >= 0:
            _wls_remove(bj, st)
            floats[0] -= cost[bj]
            age[bj] = it
        e = unc[np.random.randint(ints[0])]  # noqa: NPY002
        bj = -1
        bv = -np.inf
        for rnd in range(2):
            for b in range(t_ptr[e], t_ptr[e + 1]):
                s = t_idx[b]
                if rnd == 0 and conf[s] == 0:
                    continue
                v = score[s] / cost[s]
                if v > bv or (v == bv and age[s] < age[bj]):
                    bv = v
                    bj = s
            if bj >= 0:
                break
        _wls_add(bj, st)
        floats[0] += cost[bj]
        age[bj] = it
        ints[2] = bj
        # Points left uncovered weigh more: options covering them gain.
        for t in range(ints[0]):
            u = unc[t]
            wt[u] += 1.0
            for b in range(t_ptr[u], t_ptr[u + 1]):
                score[t_idx[b]] += 1.0
    if ints[0] == 0 and floats[0] < floats[1] - 1e-9:
        floats[1] = floats[0]
        best[:] = x


def weighted_cover_search(
    R: Reduced, x: BoolArray, *, iterations: int, deadline: float, seed: int
) -> LocalResult:
    """Improve the full cover ``x`` (every merged point once, no site caps) by point weighting.

    A row-weighting local search for set cover: the current set is kept just cheaper than
    the best cover found, with some points uncovered; each step drops the chosen option
    that leaves least weight uncovered per cost and adds the option that covers most
    uncovered weight per cost among those covering a random uncovered point (an option
    dropped may come back only once a neighbour has changed: configuration checking), then
    every uncovered point gains weight 1, so points that stay uncovered pull options in.
    ``iterations`` steps (deterministic for a seed); ``deadline`` is a wall-clock cap.
    """
    B, Bt = R.B, R.Bt
    b_ptr = B.indptr.astype(np.int64)
    b_idx = B.indices.astype(np.int64)
    t_ptr = Bt.indptr.astype(np.int64)
    t_idx = Bt.indices.astype(np.int64)
    cost = R.cost.astype(np.float64)
    n, m = R.n, R.m
    cur = np.zeros(n, np.bool_)
    cnt = np.zeros(m, np.int64)
    wt = np.ones(m, np.float64)
    score = np.diff(b_ptr).astype(np.float64)
    unc = np.arange(m, dtype=np.int64)
    unc_pos = np.arange(m, dtype=np.int64)
    sel = np.zeros(n, np.int64)
    sel_pos = np.full(n, -1, np.int64)
    conf = np.ones(n, np.int8)
    age = np.zeros(n, np.int64)
    ints = np.array([m, 0, -1], np.int64)
    # The search state the kernels share (see the ints / floats comment above them).
    st = (b_ptr, b_idx, t_ptr, t_idx, cur, cnt, wt, score, unc, unc_pos, sel, sel_pos, conf, ints)
    for j in np.flatnonzero(x).tolist():
        _wls_add(j, st)
    start = float(cost[x].sum())
    floats = np.array([start, start if ints[0] == 0 else np.inf], np.float64)
    best = cur.copy()
    _wls_seed(seed % (2**32))
    # Zero steps: compiles (first use) or loads the cached kernel before the clock counts.
    _wls_run(st, cost, age, best, floats, 0, 0)
    done, chunk = 0, 100_000
    while done < iterations and time.perf_counter() < deadline:
        step = min(chunk, iterations - done)
        _wls_run(st, cost, age, best, floats, done, done + step)
        done += step
    if floats[1] < start - _EPS * max(1.0, start) and bool(
        np.all(coverage_count(R, best) >= R.req - 0.5)
    ):
        out, improved = best, 1
    else:
        out, improved = x.copy(), 0
    log.debug("optimise: weighting search %d steps, cost %g -> %g", done, start, floats[1])
    return LocalResult(out, done, improved, float(done), done < iterations)


def warm_up_weighted_cover() -> None:
    """Compile (first use after install: about 4 s) or load from numba's cache the kernels
    of :func:`weighted_cover_search`, so that a caller can do it before its clock starts
    and the search's share of the time limit never pays for compiling."""
    one = sp.csr_matrix(np.ones((1, 1)))
    tiny: Any = SimpleNamespace(B=one, Bt=one, cost=np.ones(1), n=1, m=1)
    weighted_cover_search(tiny, np.ones(1, np.bool_), iterations=0, deadline=math.inf, seed=0)
