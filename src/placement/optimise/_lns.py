"""Large neighbourhood search: re-solve small regions of the incumbent exactly with CP-SAT.

Odd sub-problems grow a neighbourhood from one chosen option (picked by the seeded generator)
over the "shares a demand point" graph, read off the matrix (no coordinates needed), and free
its chosen options; even ones free chosen options anywhere that cover little on their own.
With them go the unchosen options (in the region, or anywhere) that would cover most of what
the freed ones leave uncovered; every other option keeps its value, and CP-SAT solves the
sub-problem exactly or up to a deterministic-time limit, hinted with the incumbent (so it
never returns worse).

The work is counted in CP-SAT deterministic time plus a fixed charge per sub-problem, so the
sequence of neighbourhoods and answers is the same on a loaded or idle machine; the wall
clock ``deadline`` is only a safety cap.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from placement.optimise._exact import cpsat_min
from placement.optimise._heuristics import alone_weight, coverage_count, site_counts, value
from placement.optimise._problem import BoolArray, Reduced

log = logging.getLogger(__name__)

# Deterministic-time charge per sub-problem for building the model in Python.
_BUILD_CHARGE = 0.05
_MIN_FREE = 12
_MAX_FREE = 600


@dataclass(frozen=True)
class LnsResult:
    x: BoolArray
    iterations: int
    improvements: int
    clock_cut: bool = False  # the deadline ended it, or a solve, before its work


def _region(R: Reduced, centre: int, size: int) -> list[int]:
    """Options within a few "shares a point" hops of ``centre``, nearest layers first."""
    seen = np.zeros(R.n, np.bool_)
    seen[centre] = True
    order = [centre]
    frontier = np.array([centre], np.int64)
    while frontier.size and len(order) < size:
        pts = np.unique(R.B[frontier].indices)
        opts = np.unique(R.Bt[pts].indices)
        new = opts[~seen[opts]]
        if new.size == 0:
            break
        seen[new] = True
        order.extend(new.tolist())
        frontier = new
    return order[:size] if len(order) > size else order


def lns(
    R: Reduced,
    x: BoolArray,
    *,
    target: float,
    full: bool,
    work: float,
    deadline: float,
    seed: int,
    free_size: int = 200,
    sub_time: float = 0.5,
) -> LnsResult:
    """Cheapen the cover ``x`` of ``target`` reduced weight (every point when ``full``) by
    exact re-solves of neighbourhoods.

    Parameters
    ----------
    work : total deterministic time (CP-SAT units, about seconds) to spend.
    deadline : wall-clock safety cap (perf_counter seconds).
    free_size : options freed in the first sub-problem; then adapted (see below).
    sub_time : deterministic time limit per sub-problem.
    """
    rng = np.random.default_rng(seed + 104729)
    x = x.copy()
    cur = float(R.cost[x].sum())
    used, it, improved = 0.0, 0, 0
    cut = False
    while used < work:
        if time.perf_counter() >= deadline - 0.1:
            cut = True
            break
        chosen = np.flatnonzero(x)
        if chosen.size == 0:
            break
        it += 1
        count = coverage_count(R, x)
        n_rc = max(1, free_size // 3)
        if it % 2:
            # Spatial: a chosen option's region; its chosen options, nearest first.
            centre = int(chosen[rng.integers(chosen.size)])
            reg = np.asarray(_region(R, centre, 8 * free_size), np.int64)
            rc = reg[x[reg]][:n_rc]
            ru = reg[~x[reg]]
        else:
            # Global: chosen options that cover least on their own (random among the
            # cheapest-looking few), traded against the best unchosen anywhere.
            per = alone_weight(R, chosen, count) / np.maximum(R.cost[chosen], 1e-12)
            pool = chosen[np.lexsort((chosen, per))][: 3 * n_rc]
            rc = np.sort(rng.choice(pool, size=min(n_rc, pool.size), replace=False))
            ru = np.flatnonzero(~x)
        free = np.zeros(R.n, np.bool_)
        free[rc] = True
        count = count - R.Bt @ free.astype(np.float64)
        short = R.w * (count < R.req - 0.5)
        score = (R.B[ru] @ short) / np.maximum(R.cost[ru], 1e-12)
        ru = ru[np.lexsort((ru, -score))][: free_size - rc.size]
        free[ru] = True
        fixed1 = x & ~free
        fixed0 = ~x & ~free
        wall = max(0.05, min(deadline - time.perf_counter() - 0.05, 4 * sub_time))
        res = cpsat_min(
            R,
            target,
            full,
            fixed1=fixed1,
            fixed0=fixed0,
            hint=x,
            time_s=sub_time,
            seed=seed + it,
            wall_s=wall,
            deadline=deadline,
        )
        used += res.det_time + _BUILD_CHARGE
        cut = cut or res.clock_cut
        # Adapt the neighbourhood size to what CP-SAT solves within its limit: larger when it
        # proves optimality in half the time, smaller when it cannot (deterministic time only).
        if res.status == "OPTIMAL" and res.det_time < 0.5 * sub_time:
            free_size = min(_MAX_FREE, int(free_size * 1.15) + 1)
        elif res.status != "OPTIMAL":
            free_size = max(_MIN_FREE, int(free_size * 0.85))
        if res.x is None or not np.all(site_counts(R, res.x) <= R.site_cap):
            continue
        c = float(R.cost[res.x].sum())
        if c <= cur and value(R, res.x) >= target * (1 - 1e-12):
            improved += c < cur
            x, cur = res.x, c
    log.debug(
        "optimise: LNS %d sub-problems, %d improvements, objective %g, last size %d",
        it,
        improved,
        cur,
        free_size,
    )
    return LnsResult(x, it, improved, cut)
