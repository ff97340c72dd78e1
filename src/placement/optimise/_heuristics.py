"""Primal heuristics on a reduced problem: lazy greedy, swap local search, redundancy removal.

A solution is a (r,) bool mask over the reduced options. ``count`` is the (q,) number of
chosen options covering each merged point; a point counts once ``count >= req``.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from placement.optimise._problem import (
    GRAPH_MAX_WORK,
    BoolArray,
    FloatArray,
    IntArray,
    Reduced,
    graph_work,
)

# Dense swap-gain matrices larger than this (options x chosen) are not built.
_MAX_SWAP_CELLS = 30_000_000
_EPS = 1e-9
# The pair greedy gives up past this much work by default.
_PAIR_MAX_WORK = 1e9
#: Nominal rate of :func:`swap_search`, work units (options x chosen cells of the move
#: matrix plus the matrix's nonzeros) a second, that callers turn a share of time_limit
#: into a fixed ``max_work`` with. Measured on this machine: 6.5e7 on the Osaka tile at
#: budget 600 (0.068 s a move), 7.3e7 on the 3 x 3 Osaka block at 400 (0.15 s), 8.4e7 on
#: 10,000 x 100,000 at 300.
SWAP_UNITS_PER_S = 5e7


def coverage_count(R: Reduced, x: BoolArray) -> FloatArray:
    """(q,) number of chosen options covering each merged point."""
    out: FloatArray = R.Bt @ x.astype(np.float64)
    return out


def value(R: Reduced, x: BoolArray) -> float:
    """Weight of the merged points covered ``req`` times by the chosen options."""
    return float(R.w[coverage_count(R, x) >= R.req - 0.5].sum())


def alone_weight(R: Reduced, options: IntArray, count: FloatArray) -> FloatArray:
    """Weight each of ``options`` (chosen, with ``count`` from :func:`coverage_count`)
    would lose on its own: the points it counts for that are exactly at their ``req``."""
    return np.asarray(R.B[options] @ (R.w * (np.abs(count - R.req) < 0.5)), np.float64)


def site_counts(R: Reduced, x: BoolArray) -> IntArray:
    return np.bincount(R.site[x], minlength=R.site_cap.size).astype(np.int64)


def _lazy_greedy(
    R: Reduced,
    gains: FloatArray,
    count: FloatArray,
    sc: IntArray,
    x: BoolArray,
    *,
    left: float,
    target: float,
    covered: float = 0.0,
) -> float:
    """Lazy greedy by gain per cost from ``gains`` (each option's ``w / req`` per missing
    cover), taking options into ``x`` (``count`` and site counts ``sc`` kept up to date)
    while they fit in ``left`` and the covered weight is under ``target``; the covered
    weight at the end. Compiled: in Python its heap loop took 0.63 s of a 1 s limit on
    10,000 x 100,000 (min cover)."""
    cost = R.cost.astype(np.float64)
    cand = np.flatnonzero(gains > 0)
    g = gains[cand]
    paid = cost[cand] > 0
    # Free options first (by gain), then by gain per cost; ties by index.
    keys = -np.where(paid, g / np.where(paid, cost[cand], 1.0), g * 1e30)
    return float(
        _lazy_greedy_loop(
            R.B.indptr.astype(np.int64),
            R.B.indices.astype(np.int64),
            (R.w / R.req).astype(np.float64),
            R.w.astype(np.float64),
            R.req.astype(np.float64),
            cost,
            R.site.astype(np.int64),
            R.site_cap.astype(np.int64),
            count,
            sc,
            x,
            keys,
            cand.astype(np.int64),
            float(left),
            float(target) * (1 - 1e-12),
            float(covered),
        )
    )


@numba.njit(cache=True, nogil=True)
def _lazy_greedy_loop(  # type: ignore[no-untyped-def]  # noqa: PLR0917 (numba: positional)
    indptr, indices, unit_w, w, req, cost, site, site_cap, count, sc, x, keys, cand, left,
    target, covered,
):  # fmt: skip
    heap = [(keys[i], cand[i]) for i in range(cand.size)]
    heapq.heapify(heap)
    while len(heap) > 0 and covered < target:
        _, j = heapq.heappop(heap)
        s = site[j]
        if cost[j] > left + _EPS or sc[s] >= site_cap[s]:
            continue  # the budget and site room only shrink: j never fits again
        g = 0.0
        for a in range(indptr[j], indptr[j + 1]):
            p = indices[a]
            if count[p] < req[p]:
                g += unit_w[p]
        if g <= _EPS:
            continue
        kj = g / cost[j] if cost[j] > 0 else g * 1e30
        if len(heap) > 0 and kj < -heap[0][0] - _EPS:
            heapq.heappush(heap, (-kj, j))
            continue
        x[j] = True
        for a in range(indptr[j], indptr[j + 1]):
            p = indices[a]
            count[p] += 1.0
            if count[p] >= req[p] and count[p] < req[p] + 0.5:
                covered += w[p]
        left -= cost[j]
        sc[s] += 1
    return covered


def warm_up_greedy() -> None:
    """Compile (first use after install: about 1.5 s) or load from numba's cache the lazy
    greedy's kernel, so that callers do it before their clock starts."""
    one_i, one_f = np.zeros(1, np.int64), np.ones(1)
    _lazy_greedy_loop(np.array([0, 1]), one_i, one_f, one_f, one_f, one_f, one_i, one_i + 1,
                      np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.bool_), -one_f,
                      one_i, 1.0, 1.0, 0.0)  # fmt: skip


def greedy_max(R: Reduced, budget: float) -> BoolArray:
    """Lazy greedy for budgeted (k-)coverage by gain per cost, best single option as fallback.

    Gains use the truncated count ``w / req`` per missing cover, which is submodular, so
    stale heap keys are upper bounds and the lazy evaluation is exact.
    """
    n = R.n
    x = np.zeros(n, np.bool_)
    if n == 0:
        return x
    gains = R.B @ (R.w / R.req)
    _lazy_greedy(R, gains, np.zeros(R.m, np.float64), np.zeros(R.site_cap.size, np.int64), x,
                 left=float(budget), target=math.inf)  # fmt: skip
    # With money budgets greedy by ratio alone can be arbitrarily bad; one option may be best.
    cost = R.cost
    if not np.all(cost == cost[0]):
        fits = cost <= budget + _EPS
        if fits.any():
            single = R.B @ (R.w * (R.req == 1))
            single[~fits] = -1.0
            j = int(np.argmax(single))
            if single[j] > value(R, x):
                x[:] = False
                x[j] = True
    return x


def pair_greedy(
    R: Reduced,
    budget: float = np.inf,
    *,
    target: float | None = None,
    max_work: float = _PAIR_MAX_WORK,
) -> BoolArray | None:
    """Greedy for redundancy (points needing two or more covers) by moves of one or two
    options, scored by the weight they bring to its count per cost.

    :func:`greedy_max` credits ``w / req`` for every missing cover, so for k = 2 it spreads
    lone cameras whose points never get their second (Osaka tile 51357353, k = 2, budget
    10: 88 covered where this finds 879). Here a move counts only the points it completes:
    one option completes the points one short that it sees, a pair also the points two
    short that both see. When no move completes anything (every point three or more short)
    one step of the partial credit is taken. A pair can only beat its better half when both
    see a point two short, so pairs are scored over the option graph weighted by those
    points, kept up to date as points' counts change.

    With ``target`` (min cover) it stops once that weight is covered, and gives None if it
    cannot get there. None too when no point needs two covers, or when its work (graph
    entries and options scored, multiply-adds to build the graph) would pass ``max_work``:
    a fixed count, so whether it gives up does not depend on the machine's load.
    """
    n = R.n
    if n == 0 or not np.any(R.req >= 2):
        return None
    work = float(graph_work(R.Bt))
    if work > min(max_work, GRAPH_MAX_WORK):
        return None
    G = sp.triu(R.B @ R.Bt, 1).tocoo()
    r, c = G.row.astype(np.int64), G.col.astype(np.int64)
    keys = r * n + c  # sorted: csr order
    if np.any(np.diff(keys) < 0):
        order = np.argsort(keys, kind="stable")
        r, c, keys = r[order], c[order], keys[order]
    pair_cost = R.cost[r] + R.cost[c]
    # Gains are divided by these: a free option or pair ranks before any that costs.
    per1 = np.where(R.cost > 0, R.cost, 1e-30)
    per2 = np.where(pair_cost > 0, pair_cost, 1e-30)
    same_site = R.site[r] == R.site[c]
    w = R.w
    short = R.req.astype(np.float64)

    def add_pair_weights(into: FloatArray, points: IntArray, weight: FloatArray) -> None:
        """Add to each graph entry the summed ``weight`` of ``points`` both its options see."""
        rows = R.Bt[points]
        D = sp.triu(rows.T @ sp.diags(weight) @ rows, 1).tocoo()
        if D.nnz:
            np.add.at(into, np.searchsorted(keys, D.row.astype(np.int64) * n + D.col), D.data)

    everyone = np.arange(R.m)
    w2 = np.zeros(keys.size)  # per graph entry, the weight two short both options see
    w1 = np.zeros(keys.size)  # and one short
    add_pair_weights(w2, everyone, w * (short == 2))
    add_pair_weights(w1, everyone, w * (short == 1))
    x = np.zeros(n, np.bool_)
    sc = np.zeros(R.site_cap.size, np.int64)
    left = float(budget)
    covered = 0.0
    s1 = R.B @ (w * (short == 1))  # per option, the weight one short it sees
    goal = math.inf if target is None else target * (1 - 1e-12)

    while covered < goal:
        work += n + keys.size
        if work > max_work:
            return None
        room = R.site_cap[R.site] - sc[R.site]
        ok1 = ~x & (room >= 1) & (R.cost <= left + _EPS)
        single = np.where(ok1 & (s1 > _EPS), s1 / per1, -np.inf)
        best_j = int(np.argmax(single))
        best = float(single[best_j])
        move: tuple[int, ...] = (best_j,)
        if keys.size:
            g = w2 + s1[r] + s1[c] - w1
            ok = (w2 > _EPS) & ~x[r] & ~x[c] & (pair_cost <= left + _EPS)
            ok &= np.where(same_site, room[r] >= 2, (room[r] >= 1) & (room[c] >= 1))
            pair = np.where(ok, g / per2, -np.inf)
            e = int(np.argmax(pair))
            if pair[e] > best:
                best, move = float(pair[e]), (int(r[e]), int(c[e]))
        if not best > -np.inf:
            # Nothing completes a point: one step of the partial credit, as plain greedy.
            part = R.B @ (w / R.req * (short > 0))
            cand = np.where(ok1 & (part > _EPS), part / per1, -np.inf)
            j = int(np.argmax(cand))
            if not cand[j] > -np.inf:
                break
            move = (j,)
        added = np.asarray(move, np.int64)
        x[added] = True
        left -= float(R.cost[added].sum())
        np.add.at(sc, R.site[added], 1)
        seen = R.B[added]
        touched = np.unique(seen.indices)
        before = short[touched].copy()
        short[touched] = np.maximum(0.0, before - np.asarray(seen.sum(axis=0)).ravel()[touched])
        after = short[touched]
        covered += float(w[touched][(after == 0) & (before > 0)].sum())
        d2 = w[touched] * ((after == 2).astype(np.float64) - (before == 2))
        d1 = w[touched] * ((after == 1).astype(np.float64) - (before == 1))
        moved = (d2 != 0) | (d1 != 0)
        if moved.any():
            pts = touched[moved]
            s1 += R.Bt[pts].T @ d1[moved]
            add_pair_weights(w2, pts, d2[moved])
            add_pair_weights(w1, pts, d1[moved])
    return x if target is None or covered >= goal else None


def repair_max(R: Reduced, x: BoolArray, budget: float) -> BoolArray:
    """``x`` made feasible: while a site holds more than its cap, drop its option that loses
    the least weight; while over the budget, drop the option that loses the least weight
    per cost (the lowest index on a tie)."""
    x = x.copy()
    count = coverage_count(R, x)  # kept up to date as options go
    sc = site_counts(R, x)
    spent = float(R.cost[x].sum())
    while True:
        chosen = np.flatnonzero(x)
        over = sc > R.site_cap
        if over.any():
            cand = chosen[over[R.site[chosen]]]
            per = np.ones(cand.size)
        elif spent > budget + _EPS * max(1.0, abs(budget)):
            cand = chosen[R.cost[chosen] > 0]
            per = R.cost[cand]
        else:
            return x
        j = int(cand[int(np.argmin(alone_weight(R, cand, count) / per))])
        x[j] = False
        count[R.B.indices[R.B.indptr[j] : R.B.indptr[j + 1]]] -= 1
        sc[R.site[j]] -= 1
        spent -= float(R.cost[j])


@dataclass(frozen=True)
class SwapResult:
    x: BoolArray
    clock_cut: bool  # the deadline, not a local optimum or the work, ended the search


def swap_search(
    R: Reduced,
    x: BoolArray,
    budget: float,
    *,
    deadline: float,
    max_moves: int = 100_000,
    max_work: float = math.inf,
) -> SwapResult:
    """Best-improvement local search over add and 1-for-1 swap moves (max coverage).

    Every move is evaluated for all (option in, option out) pairs at once: with a = weight
    of points one cover short and D_i = weight of points of i at exactly ``req`` minus those
    one short, the value after swapping j in for i is ``B a + B D^T - loss``.

    It stops at a local optimum, after ``max_moves`` moves, or once the moves evaluated
    count ``max_work`` units (options x chosen cells plus the matrix's nonzeros each: a
    fixed count, so where it stops does not depend on the machine's load); ``deadline``
    (perf_counter seconds) is a wall-clock safety cap.
    """
    x = x.copy()
    n = R.n
    used = 0.0
    for _ in range(max_moves):
        if used >= max_work:
            break
        if time.perf_counter() > deadline:
            return SwapResult(x, True)
        count = coverage_count(R, x)
        a = R.w * (np.abs(count - (R.req - 1)) < 0.5)
        at = R.w * (np.abs(count - R.req) < 0.5)
        g = R.B @ a
        chosen = np.flatnonzero(x)
        slack = budget - float(R.cost[chosen].sum())
        sc = site_counts(R, x)
        free = ~x
        site_room = sc[R.site] < R.site_cap[R.site]
        best, move = _EPS * max(1.0, float(R.w.sum())), None
        can_add = free & site_room & (R.cost <= slack + _EPS)
        if can_add.any():
            ga = np.where(can_add, g, -np.inf)
            j = int(np.argmax(ga))
            if ga[j] > best:
                best, move = float(ga[j]), (j, -1)
        s = chosen.size
        dense = n * s <= _MAX_SWAP_CELLS
        used += float(R.B.nnz) + (n * s if dense else 0)
        if s and dense:
            Bc = R.B[chosen]
            loss = Bc @ at
            D = sp.csr_matrix(Bc.multiply((at - a)[None, :]))
            M = (R.B @ D.T).toarray()
            G = g[:, None] + M - loss[None, :]
            ok = free[:, None] & (R.cost[:, None] <= slack + R.cost[chosen][None, :] + _EPS)
            ok &= site_room[:, None] | (R.site[:, None] == R.site[chosen][None, :])
            G[~ok] = -np.inf
            flat = int(np.argmax(G))
            jj, ii = divmod(flat, s)
            if G[jj, ii] > best:
                best, move = float(G[jj, ii]), (jj, int(chosen[ii]))
        if move is None:
            break
        x[move[0]] = True
        if move[1] >= 0:
            x[move[1]] = False
    return SwapResult(x, False)


def greedy_min(R: Reduced, target: float, start: BoolArray | None = None) -> BoolArray | None:
    """Greedy by covered weight per cost until ``target`` weight is covered; None if it can't.

    ``start`` (optional) is a set of options taken first (site caps must hold for it).
    """
    n = R.n
    x = np.zeros(n, np.bool_) if start is None else start.copy()
    if target <= _EPS:
        return x
    count = coverage_count(R, x)
    gains = R.B @ (R.w / R.req * (count < R.req - 0.5))
    gains[x] = 0.0
    covered = _lazy_greedy(
        R, gains, count, site_counts(R, x), x, left=math.inf, target=float(target),
        covered=float(R.w[count >= R.req - 0.5].sum()),
    )  # fmt: skip
    if covered < target * (1 - 1e-12):
        return None
    return drop_redundant(R, x, target)


def forced_full(R: Reduced) -> tuple[BoolArray, IntArray]:
    """Options every full cover must take, and the weighted points none can cover.

    Within the site caps a point can get at most the sum, over sites, of min(its options at
    that site, the site's cap). Where that sum is below its requirement no cover exists (the
    second result lists those points); where it equals it, every site whose options seeing
    the point all fit in its cap must give all of them (the first result).
    """
    forced = np.zeros(R.n, np.bool_)
    need = np.flatnonzero(R.w > 0)
    if R.n == 0 or need.size == 0:
        return forced, need[:0]
    Bt = sp.csr_matrix(R.Bt[need])
    rows = np.repeat(np.arange(need.size), np.diff(Bt.indptr))
    cols = Bt.indices.astype(np.int64)
    sites = R.site[cols].astype(np.int64)
    n_sites = int(R.site.max()) + 1
    keys, inv, per = np.unique(rows * n_sites + sites, return_inverse=True, return_counts=True)
    cap = R.site_cap[keys % n_sites]
    avail = np.bincount(keys // n_sites, weights=np.minimum(per, cap), minlength=need.size)
    req = R.req[need]
    short = need[avail < req - 0.5]
    tight = np.abs(avail - req) < 0.5
    whole = per <= cap  # the site can give all its options
    take = tight[rows] & whole[inv.ravel()]
    forced[cols[take]] = True
    return forced, short


def drop_redundant(R: Reduced, x: BoolArray, target: float) -> BoolArray:
    """Remove chosen options, dearest first, while the covered weight stays >= target."""
    x = x.copy()
    count = coverage_count(R, x)
    covered = float(R.w[count >= R.req - 0.5].sum())
    chosen = np.flatnonzero(x)
    order = chosen[np.lexsort((chosen, -R.cost[chosen]))]
    indptr, indices = R.B.indptr, R.B.indices
    for j in order.tolist():
        idx = indices[indptr[j] : indptr[j + 1]]
        loss = float(R.w[idx][np.abs(count[idx] - R.req[idx]) < 0.5].sum())
        if covered - loss >= target * (1 - 1e-12):
            x[j] = False
            count[idx] -= 1
            covered -= loss
    return x
