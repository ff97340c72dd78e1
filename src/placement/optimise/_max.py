"""The phase driver of :func:`max_coverage` (budgeted maximum coverage) and its helpers.

Steps 1 to 5 of the package docstring for max coverage: reduce, lazy greedy and swap
search, the Lagrangian bound and its option sets repaired and polished by swaps,
reduced-cost fixing, then CP-SAT on the options left free when they are few enough or
regional iterated local search (:mod:`._local`) when not, with the LP bound phase in a
child process alongside on large instances.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from placement.errors import OptionError
from placement.optimise._blocks_max import (
    BackgroundBlocks,
    BlockBound,
    fits,
    safe_block_bound,
)
from placement.optimise._bounds import fix_max, lagrange_max
from placement.optimise._exact import cpsat_max
from placement.optimise._heuristics import (
    SWAP_UNITS_PER_S,
    greedy_max,
    pair_greedy,
    repair_max,
    site_counts,
    swap_search,
    value,
    warm_up_greedy,
)
from placement.optimise._jobs import current_jobs, managed
from placement.optimise._local import REGION_UNITS_PER_S, regional_search
from placement.optimise._lp import LPBound
from placement.optimise._phases import (
    _MAX_EXACT_NNZ,
    _MAX_EXACT_OPTIONS,
    _exact_limits,
    _lagrange_steps,
    _margin,
    _pair_work,
    _start_lp,
)
from placement.optimise._plan import Plan, _plan
from placement.optimise._problem import (
    BoolArray,
    Reduced,
    check_inputs,
    finite_scalar,
    reduce_problem,
)

log = logging.getLogger(__name__)

# Regional local search (max coverage, instances too big to prove): its share of time_limit
# (work in nonzeros touched and regions at the nominal rate REGION_UNITS_PER_S), and its
# threshold-accepting tolerance at the start in mean point weights.
_LOCAL_WORK = 0.55
# Where the block bound cannot run (its option graph is over the size cap) nothing else
# needs the end of the time limit: 10,000 x 100,000 at 60 s ended at 33 s with 0.55.
_LOCAL_WORK_ALONE = 0.75
# Whole-problem swap moves: the share of time_limit each start gets at the nominal
# SWAP_UNITS_PER_S, and the share for polishing the blocks' repaired choices. A fixed work
# count, so where they stop, and the answer, repeat; the clock stays a safety cap. (Cut by
# the clock at 0.2 x time_limit instead, the 3 x 3 Osaka block at budget 400 and 30 s gave
# 80,543 and 80,516 with other cameras in two runs.)
_SWAP_WORK = 0.1
_POLISH_WORK = 0.01
_LOCAL_WORSE = 2.0
# Lagrangian candidate sets are polished by whole-problem swaps only up to this many
# (options x chosen) cells per move.
_CAND_MAX_CELLS = 500_000
# The block bound (:mod:`._blocks_max`) runs when at least this many seconds are left.
_BLOCKS_MIN_S = 2.0
# How long past the deadline the call waits for the background blocks' last solve, which
# SCIP may end late (whole Osaka folder, 15 s: 0.6 s late); nothing of a call outlives it.
_CLOSE_S = 3.0


@managed
def max_coverage(
    A: Any,
    weights: Any = None,
    costs: Any = None,
    *,
    budget: float,
    k: int = 1,
    min_level: int | Any = 1,
    existing: Any = None,
    site: Any = None,
    max_per_site: int | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
) -> Plan:
    """Choose options maximising the weight of points covered k times within a budget.

    Parameters
    ----------
    A : (n, m) scipy.sparse, DORI level (1..4) at which option i sees point p; 0 = unseen.
    weights : (m,) demand weight per point, >= 0 (default 1).
    costs : (n,) cost per option, >= 0. None: every option costs 1 and ``budget`` counts
        cameras.
    budget : total cost (or number of new cameras) allowed; existing options are free.
    k : a point counts once k different chosen options cover it.
    min_level : DORI level an entry must reach to count as covering: int, or (m,) per point.
    existing : (n,) bool mask or index array of options already installed (always chosen).
    site : (n,) int, the site (pole) of each option; with ``max_per_site`` caps the options
        chosen per site (existing ones included).
    time_limit : wall-time budget in seconds, approximately respected.
    seed : seed for the hashing and the solvers.

    Returns
    -------
    Plan with ``objective`` = covered weight and ``bound`` a proven upper bound.
    """
    jobs = current_jobs()
    warm_up_greedy()  # compiled before the clock starts, as in min_cover
    t0 = time.perf_counter()
    inp = check_inputs(
        A,
        weights,
        costs,
        k=k,
        min_level=min_level,
        existing=existing,
        site=site,
        max_per_site=max_per_site,
        time_limit=time_limit,
        seed=seed,
    )
    finite_scalar(budget, "max_coverage: budget must be a finite number")
    if budget < 0:
        raise OptionError(f"max_coverage: budget must be >= 0, got {budget}")
    budget = float(budget)
    deadline = t0 + time_limit
    R = reduce_problem(inp, seed=seed)
    if R.coverable_weight <= 0 < float(inp.weights.sum()):
        log.warning(
            "max_coverage: no demand point is seen by %d option(s) at the required level, "
            "so no choice covers anything",
            inp.k,
        )
    R, budget = _unit_costs(R, budget)
    integral_w = bool(np.all(R.w == np.round(R.w)))

    x_g = greedy_max(R, budget)
    g_val = value(R, x_g)
    lp = (
        jobs.add(_start_lp(R, time_limit, t0, budget=budget, target=None, full=False, known=g_val))
        if 0 < g_val < float(R.w.sum())
        else None
    )
    # Swaps from plain greedy and, where points need two covers or more, from the pair
    # greedy; the better end wins (Osaka tile 51357353 at budget 100: k = 2, 8,142 and
    # 8,370; k = 3, 4,533 and 4,007).
    starts = [("greedy", x_g)]
    x_p = pair_greedy(R, budget, max_work=_pair_work(time_limit))
    if x_p is not None:
        starts.append(("pair greedy", x_p))
    best = -math.inf
    # Phases the wall clock stopped before their fixed work: the answer may then differ
    # from run to run (see Plan.clock_cut).
    cuts: list[str] = []
    for name, x0 in starts:
        sw = swap_search(
            R,
            x0,
            budget,
            # Twice its nominal time: a safety cap that a loaded machine does not reach.
            deadline=time.perf_counter() + 2 * _SWAP_WORK * time_limit,
            max_work=_SWAP_WORK * time_limit * SWAP_UNITS_PER_S,
        )
        y = sw.x
        if sw.clock_cut:
            cuts.append("swap moves")
        v = value(R, y)
        if v > best:
            x, best = y, v
            methods = [name, "swap"] if v > value(R, x0) else [name]
    log.debug("max_coverage: greedy %g, swap %g at %.2f s", g_val, best, time.perf_counter() - t0)
    # With no option left to choose (every site full, nothing affordable) the answer is
    # what the installed cameras see: nothing more to bound.
    choosable = R.n > 0 and float(R.cost.min()) <= budget + 1e-9 * max(1.0, budget)
    ub = float(R.w.sum()) if choosable else 0.0
    bound_by = "total coverable weight" if choosable else "no option left to choose"
    lag = None
    bg: BackgroundBlocks | None = None
    if best < ub and R.n:
        lag = lagrange_max(
            R,
            budget,
            best,
            iterations=_lagrange_steps(R, 0.2 * time_limit),
            deadline=time.perf_counter() + 0.3 * time_limit,  # a safety cap, as above
        )
        if lag.clock_cut:
            cuts.append("Lagrangian steps")
        if lag.bound < ub:
            ub, bound_by = lag.bound, f"Lagrangian ({lag.iterations} subgradient steps)"
        log.debug("max_coverage: Lagrangian %g at %.2f s", lag.bound, time.perf_counter() - t0)
        # Whole-problem swap moves cost (options x chosen) each: on big instances they would
        # eat the time (10,000 x 100,000, budget 300: 48 s for nothing); the regional search
        # below does better there from the swap answer (5,000 x 50,000, seeds 1 and 2:
        # 24,416 and 24,454 without the candidates, 24,411 and 24,446 with them, 4 s later).
        if R.n * max(1, int(x.sum())) <= _CAND_MAX_CELLS:
            # The swap moves check the clock between moves: leave room for one and the rest.
            x, best, improved, cut = _try_candidates_max(
                R,
                budget,
                lag.candidates,
                x,
                best=best,
                deadline=deadline - _margin(0.3, time_limit),
                max_work=_SWAP_WORK * time_limit * SWAP_UNITS_PER_S,
                margin=_margin(0.5, time_limit),
            )
            if cut:
                cuts.append("Lagrangian heuristic")
            log.debug("max_coverage: candidates %g at %.2f s", best, time.perf_counter() - t0)
            if improved:
                methods.append("Lagrangian heuristic")
    if integral_w:
        ub = math.floor(ub + 1e-6)
    gap_open = lag is not None and best < ub - 1e-9 * max(1.0, ub)
    if gap_open and time.perf_counter() >= deadline - _margin(0.2, time_limit):
        cuts.append("search")
    elif gap_open:
        assert lag is not None
        thr = best + 1 - 1e-6 if integral_w else best - 1e-9 * max(1.0, best)
        one, zero = fix_max(R, lag.mult, budget, thr)
        free = ~one & ~zero
        proof = int(free.sum()) <= _MAX_EXACT_OPTIONS and int(R.B[free].nnz) <= _MAX_EXACT_NNZ
        if not proof:
            if lp is not None:
                # The LP result and then the block bound come in on a thread meanwhile.
                bg = jobs.add(
                    BackgroundBlocks(
                        R,
                        lp,
                        budget,
                        x.copy(),
                        deadline=deadline - _reserve(time_limit),
                        seed=seed,
                        integral=integral_w,
                        known=best,
                    )
                )
                lp = None
            # Too big to prove: regional perturb-and-repair local search (its regions are
            # local, so the Lagrangian / LP bound stands). It replaced CP-SAT neighbourhood
            # search here (5,000 x 50,000, budget 150: 24,383 after 40 s of LNS, 24,420
            # after 9 s of this; LNS found nothing more after it in 99 neighbourhoods).
            loc = regional_search(
                R,
                x,
                budget,
                work=(_LOCAL_WORK if fits(R) else _LOCAL_WORK_ALONE)
                * time_limit
                * REGION_UNITS_PER_S,
                # The end is kept for the blocks' choices, then a swap move's length.
                deadline=deadline - _reserve(time_limit),
                seed=seed,
                worse=_LOCAL_WORSE * float(R.w.mean()) if R.m else 0.0,
            )
            if loc.clock_cut:
                cuts.append("regional search")
            v = value(R, loc.x)
            log.debug("max_coverage: regional search %g at %.2f s", v, time.perf_counter() - t0)
            if v > best:
                x, best = loc.x, v
                methods.append(f"regional search ({loc.iterations} regions)")
        else:
            base = best
            res = cpsat_max(
                R,
                budget,
                one,
                zero,
                x,
                **_exact_limits(time_limit),
                seed=seed,
                deadline=deadline - 0.05,
            )
            log.debug(
                "max_coverage: CP-SAT %s bound %s at %.2f s (%d free)",
                res.status,
                res.bound,
                time.perf_counter() - t0,
                int(free.sum()),
            )
            if res.clock_cut:
                cuts.append("CP-SAT")
            if res.x is not None and _feasible_max(R, res.x, budget):
                v = value(R, res.x)
                if v > best:
                    x, best = res.x, v
                    methods.append("CP-SAT")
            if res.bound is not None:
                cand = max(base, res.bound)
                if integral_w:
                    cand = math.floor(cand + 1e-6)
                if cand < ub:
                    ub = cand
                    bound_by = (
                        f"CP-SAT {res.status} on {int(free.sum())} free options after "
                        f"fixing {int(one.sum())} in, {int(zero.sum())} out"
                    )
    mult = lag.mult if lag is not None else None
    mult_by = f"Lagrangian ({lag.iterations} subgradient steps)" if lag is not None else ""
    got: LPBound | None = None
    bb: BlockBound | None = None
    settled = True  # whether mult depends on the input alone (the LP phase's may not)
    if bg is not None:
        # Its solves end by its deadline; the join allows for the last one to return.
        got, bb = bg.finish(best, deadline - _reserve(time_limit) + 0.2)
    elif lp is not None:
        # Proven optimal already: do not wait for the LP bound.
        got = lp.result(deadline - 0.05 if best < ub else 0.0)
    if got is not None:
        lp_by = (
            f"LP duals ({got.pdlp_iterations} PDLP iterations) as Lagrangian "
            f"multipliers, {got.steps} subgradient steps"
        )
        if bb is not None:  # the background blocks used the LP phase's multipliers
            mult_by, settled = lp_by, got.settled
        cand = math.floor(got.bound + 1e-6) if integral_w else got.bound
        if cand < ub:
            ub, mult, bound_by, mult_by, settled = cand, got.mult, lp_by, lp_by, got.settled
    gap_before_blocks = best < ub - 1e-9 * max(1.0, ub)
    if (
        bb is None
        and mult is not None
        and gap_before_blocks
        and deadline - time.perf_counter() >= _BLOCKS_MIN_S
    ):
        # Time left and a gap open: solve blocks of options exactly at those multipliers.
        bb = safe_block_bound(
            R, mult, budget, x, deadline=deadline - _reserve(time_limit), seed=seed
        )
    leaf_used = False
    if bb is not None:
        if bb.leaf_union is not None and settled and best < ub:
            leaf_used = True
            # Every block's own best choice, cut back to the budget and polished by swaps
            # (only at multipliers the clock did not cut short: the answer must repeat).
            sw = swap_search(
                R,
                repair_max(R, bb.leaf_union, budget),
                budget,
                deadline=deadline - 0.1,
                max_work=_POLISH_WORK * time_limit * SWAP_UNITS_PER_S,
            )
            y = sw.x
            if sw.clock_cut:
                cuts.append("polishing the blocks' choices")
            v = value(R, y)
            if v > best and _feasible_max(R, y, budget):
                x, best = y, v
                methods.append("blocks' choices repaired")
            log.debug("max_coverage: blocks' choices %g at %.2f s", v, time.perf_counter() - t0)
        cand = math.floor(bb.bound + 1e-6) if integral_w else bb.bound
        log.debug("max_coverage: block bound %g at %.2f s", cand, time.perf_counter() - t0)
        if cand < ub:
            ub = cand
            after = f", then {bb.merged} pairs of groups of them together" if bb.merged else ""
            if bb.rounds:
                after += f", then {bb.rounds} rounds of moving the budget's price between them"
            priced = (
                f"; with the budget priced at {bb.price_factor:.2f} of its critical ratio"
                if bb.price_factor != 1.0
                else ""
            )
            bound_by = (
                f"{mult_by}, then blocks of options solved exactly at those multipliers "
                f"({bb.solved} of {bb.blocks} to optimality{after}{priced})"
            )
    if (
        gap_before_blocks
        and mult is not None
        and fits(R)
        and not leaf_used
        # A limit under the blocks' minimum never runs them, on any machine: no clock cut.
        and time_limit > _BLOCKS_MIN_S
        and (bb is None or bb.clock_cut or not settled)
    ):
        # The blocks' choices could have been tried: the clock left no time for the blocks,
        # or stopped them (or the LP phase) before every block was solved.
        cuts.append("blocks' choices")
    if bg is not None:
        bg.close(deadline + _CLOSE_S)
    ub = max(ub, best)
    obj_red = best
    chosen = np.sort(np.concatenate([np.flatnonzero(inp.existing), R.option[x]]))
    return _plan(
        inp,
        chosen,
        "max_coverage",
        objective=None,
        bound=R.const_weight + ub,
        red_objective=R.const_weight + obj_red,
        greedy=R.const_weight + g_val,
        method=" + ".join(methods) + f"; bound: {bound_by}",
        t0=t0,
        R=R,
        clock_cut=cuts,
    )


def _reserve(time_limit: float) -> float:
    """Seconds kept at the end for repairing and polishing the blocks' choices (3 x 3
    Osaka block, budget 400, 30 s: 0.02 x time_limit left the polish cut by the clock).
    Under 5 s it shrinks like the other margins (a fixed 0.5 s ended the regional search
    of a 1 s run at half its limit)."""
    return max(_margin(0.5, time_limit), 0.04 * time_limit)


def _unit_costs(R: Reduced, budget: float) -> tuple[Reduced, float]:
    """Options that all cost the same c > 0 count cameras: costs 1 and the budget in
    cameras (snapped to a whole number within rounding), so that 30 cameras at 1.1 fit a
    budget of 33 as 30 at 1 fit 30 and every phase sees the problem it knows best (Osaka
    52350301 at 30 x 1.1: 4,579 feasible before, 4,583 optimal now, as at 30 x 1)."""
    c = R.cost
    if R.n == 0 or not np.all(c == c[0]) or not c[0] > 0 or c[0] == 1.0:
        return R, budget
    b = budget / float(c[0])
    if abs(b - round(b)) <= 1e-9 * max(1.0, b):
        b = float(round(b))
    return replace(R, cost=np.ones_like(c)), b


def _feasible_max(R: Reduced, x: BoolArray, budget: float) -> bool:
    if float(R.cost[x].sum()) > budget + 1e-9 * max(1.0, budget):
        return False
    return bool(np.all(site_counts(R, x) <= R.site_cap))


def _try_candidates_max(
    R: Reduced,
    budget: float,
    cands: list[BoolArray],
    x: BoolArray,
    *,
    best: float,
    deadline: float,
    max_work: float,
    margin: float,
) -> tuple[BoolArray, float, bool, bool]:
    """Repair and polish option sets read off the Lagrangian relaxation; keep the best.

    Each polish stops after ``max_work`` (see :func:`._heuristics.swap_search`) and none
    starts within ``margin`` seconds of ``deadline``; the last result is whether the
    deadline cut one short or skipped one."""
    seen: set[bytes] = set()
    scored: list[tuple[float, int, BoolArray]] = []
    for c in cands:
        key = np.packbits(c).tobytes()
        if key in seen or not _feasible_max(R, c, budget):
            continue
        seen.add(key)
        scored.append((value(R, c), len(scored), c))
    scored.sort(key=lambda t: (-t[0], t[1]))
    improved = cut = False
    for _, _, c in scored[:3]:
        if time.perf_counter() > deadline - margin:
            return x, best, improved, True
        sw = swap_search(R, c, budget, deadline=deadline, max_work=max_work)
        cut = cut or sw.clock_cut
        v = value(R, sw.x)
        if v > best:
            x, best, improved = sw.x, v, True
    return x, best, improved, cut
