"""Choose camera options from a coverage matrix: budgeted maximum coverage and minimum cover.

The optimiser sees only matrices: ``A`` (options x demand points, scipy.sparse, entry = DORI
level seen, 0 = not seen), demand weights and option costs. Both problems follow the same
steps:

1. reduce: drop points no choice changes, merge points seen by the same option set, drop
   options that cover nothing or are dominated by a no-dearer option (k == 1, no site caps);
2. lazy greedy, then best-improvement swap local search (max) or redundancy removal and
   OR-Tools ``set_cover`` guided local search (full min cover);
3. a Lagrangian bound by subgradient (valid for any multipliers; for partial min cover the
   target row stays in the subproblem as a fractional knapsack, so it tends to the LP
   bound), rounded to integers when weights (max) or costs (min) are integers;
4. reduced-cost fixing against the incumbent; when at most ``_MAX_EXACT_OPTIONS`` options
   stay free, CP-SAT on what is left, hinted with the incumbent, whose bound on the
   restricted problem combines with the incumbent into a proven bound on the whole problem;
   otherwise, for max coverage, regional iterated local search (:mod:`._local`: a region of
   options around a chosen one is perturbed, refilled greedily and polished by swaps, the
   other options held; thousands of regions, threshold accepting), and for min cover large
   neighbourhood search: small regions of the incumbent (options that share demand points
   with a chosen one, picked by the seed) re-solved exactly by CP-SAT. Full min cover also
   runs SCIP branch and cut on the second core for its lower bound;
5. on large instances (max coverage, partial min cover) an LP bound phase runs from step 2 on
   in a forked child process at the lowest priority (the second core): PDLP solves the LP
   relaxation approximately and its duals, used as Lagrangian multipliers (so the bound is
   valid however loose the solve), seed a few more subgradient steps. It only ever replaces
   the bound (5,000 x 50,000: 24,921 -> 24,893; Osaka tile at 0.95: 462 -> 473), never the
   options. On 10,000 x 100,000 the LP optimum itself is about 88,600 against 75,489 found:
   that gap is the LP's, no multiplier can close it. On 5,000 x 50,000 (budget 150) the LP
   optimum is 24,892.6 (HiGHS interior point, offline), HiGHS's root cuts lowered it only to
   24,877 in 15 minutes, and the best solution known is 24,457 (3 minutes of regional
   search): the remaining 1.7 % would need branching, not a better multiplier.

Determinism: for a given input and seed the chosen options (and so ``objective``) are the
same on an idle or a loaded machine as long as no wall-clock cap cuts a phase short: the
phases stop on iteration counts, move counts, CP-SAT's deterministic time (LNS) and
nonzeros touched (regional search). What may vary with machine load is the proven
``bound`` (and so ``gap`` and ``status``) where it comes from SCIP or the LP phase, which
stop on the wall clock, and ``time_s``. On a heavily loaded machine the wall-clock safety
caps (which keep the total within ``time_limit`` plus about 2 %) can also end a phase early,
and then the answer may differ too. The answer is never worse than the greedy one.

Infeasible requests raise :class:`~placement.errors.InfeasibleError` (target above 1, no
point coverable k times, existing cameras over a site cap, a target the site caps forbid);
invalid arguments (negative budget, wrong shapes, ...) raise
:class:`~placement.errors.OptionError`. A returned plan always has status "optimal" or
"feasible".
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.errors import InfeasibleError, OptionError
from placement.optimise._bounds import fix_max, fix_min, lagrange_max, lagrange_min
from placement.optimise._exact import (
    ExactResult,
    cpsat_max,
    cpsat_min,
    scip_bound_min,
    set_cover_full,
)
from placement.optimise._heuristics import (
    drop_redundant,
    greedy_max,
    greedy_min,
    site_counts,
    swap_search,
    value,
)
from placement.optimise._lns import lns
from placement.optimise._local import regional_search
from placement.optimise._lp import LPBoundProcess
from placement.optimise._problem import (
    BoolArray,
    FloatArray,
    Inputs,
    IntArray,
    Reduced,
    check_inputs,
    reduce_problem,
)

__all__ = ["Plan", "max_coverage", "min_cover"]

log = logging.getLogger(__name__)

# CP-SAT models with more (point, option) pairs than this are not built: building them in
# Python would eat the time the search needs.
_MAX_EXACT_NNZ = 600_000
_MAX_EXACT_OPTIONS = 1500
_LAGRANGE_ITERS = 3000
# Option sets read off the last Lagrangian steps that min cover repairs into covers.
_LAG_HEUR_SETS = 8
# Nominal work units per second of a subgradient step (two sparse products, a sort per step
# for partial min cover): measured 1e9 on 5,000 x 50,000 and 2e8 on the Osaka partial cover
# on the shared machine. Step counts are
# fixed from it and time_limit, so they do not depend on the load; the clock is only a cap.
_NNZ_PER_S = 3e8
# Long guided local search for full min cover: rounds x moves (about 10 s at 2,000 x 20,000).
_GLS_ROUNDS = 60
_GLS_ROUND_MOVES = 200_000
# Large neighbourhood search: options freed per sub-problem, CP-SAT deterministic time per
# sub-problem, and its share of time_limit in deterministic-time units (about seconds; fixed
# from time_limit, not from the time left, so the answer does not depend on the load)
# (Osaka tile, 0.95 cover: 120 / 0.3 s reach 516 from 551 where 400 / 1 s stay at 551).
_LNS_FREE = 120
_LNS_SUB_S = 0.3
# Shares are set so the work ends before the wall-clock cap on the shared 2-core machine
# (Osaka 0.95 at 60 s with 0.7: the cap cut it at 139 or 169 sub-problems, 499 or 496).
# Regional local search (max coverage, instances too big to prove): its work in nonzeros
# touched is fixed from time_limit at a nominal rate (measured 1.1e8 per second on 5,000 x
# 50,000 and 1.6e8 on 10,000 x 100,000 on an idle core), and its threshold-accepting
# tolerance at the start in mean point weights.
_LOCAL_WORK = 0.5
# Lagrangian candidate sets are polished by whole-problem swaps only up to this many
# (options x chosen) cells per move.
_CAND_MAX_CELLS = 500_000
_LOCAL_NNZ_PER_S = 8e7
_LOCAL_WORSE = 2.0
_LNS_WORK_MIN = 0.5  # partial min cover: nothing else runs after it
_LNS_WORK_FULL = 0.35  # full min cover: the guided local search had half the time
# CP-SAT's deterministic-time limit for the whole restricted problem, share of time_limit
# (the deadline caps its wall time too).
_EXACT_WORK = 0.5
# LP bound phase (PDLP duals as Lagrangian multipliers, in a child process on the second
# core): used from this many nonzeros of the reduced matrix and this time limit, seconds.
# (5,000 x 50,000, 730k nonzeros: PDLP at 1e-4 takes 9 s and its duals give 24,894 where
# 3,000 subgradient steps stop at 24,921.)
_LP_MIN_NNZ = 300_000
_LP_MIN_TIME_S = 10.0
_LP_PDLP_SHARE = 0.6  # PDLP's share of time_limit
_LP_STEPS_SHARE = 0.15  # nominal time of its warm-started subgradient steps
_LP_END_SHARE = 0.9  # the child's warm-started subgradient stops here (share of time_limit)


def _start_lp(R: Reduced, time_limit: float, t0: float, **kwargs: Any) -> LPBoundProcess | None:
    """Start the LP bound phase when the instance is large enough for it to pay."""
    if R.B.nnz < _LP_MIN_NNZ or time_limit < _LP_MIN_TIME_S:
        return None
    try:
        return LPBoundProcess(
            R,
            pdlp_s=_LP_PDLP_SHARE * time_limit,
            deadline=t0 + _LP_END_SHARE * time_limit,
            steps=_lagrange_steps(R, _LP_STEPS_SHARE * time_limit),
            **kwargs,
        )
    except OSError as e:  # no fork (resource limits): keep the Lagrangian bound alone
        log.warning("optimise: LP bound phase not started: %r", e)
        return None


@dataclass(frozen=True)
class Plan:
    """A chosen set of camera options and what is known about its quality.

    Attributes
    ----------
    chosen : (c,) int64, sorted option indices (rows of A), existing options included.
    objective : covered weight (max_coverage) or total cost of the new options (min_cover).
    bound : proven bound on the best objective: upper for max_coverage, lower for min_cover.
    gap : relative gap between objective and bound, >= 0; 0 when proven optimal.
    status : "optimal" or "feasible".
    message : one line on how the answer was reached.
    time_s : wall time spent, seconds.
    coverage_count : (m,) int32, chosen options covering each point at its min_level.
    covered_weight : weight of points covered by >= k chosen options.
    covered_fraction : covered_weight / total weight (0 when the total is 0).
    covered_fraction_coverable : covered_weight / weight of points some k options can see.
    cost : total cost of the chosen options that are not existing.
    greedy_objective : objective of the plain greedy answer on the same problem.
    method : what produced the answer and the bound.
    problem : "max_coverage" or "min_cover".
    """

    chosen: IntArray
    objective: float
    bound: float
    gap: float
    status: str
    message: str
    time_s: float
    coverage_count: npt.NDArray[np.int32]
    covered_weight: float
    covered_fraction: float
    covered_fraction_coverable: float
    cost: float
    greedy_objective: float
    method: str
    problem: str

    def to_dict(self) -> dict[str, Any]:
        """Summary for summary.json (the per-point counts are left out)."""
        return {
            "problem": self.problem,
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "n_chosen": int(self.chosen.size),
            "chosen": [int(i) for i in self.chosen],
            "cost": self.cost,
            "covered_weight": self.covered_weight,
            "covered_fraction": self.covered_fraction,
            "covered_fraction_coverable": self.covered_fraction_coverable,
            "points_covered": int(np.count_nonzero(self.coverage_count)),
            "greedy_objective": self.greedy_objective,
            "method": self.method,
            "message": self.message,
            "time_s": self.time_s,
        }


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
    )
    if not (isinstance(budget, int | float | np.integer | np.floating) and math.isfinite(budget)):
        raise OptionError(f"max_coverage: budget must be a finite number, got {budget!r}")
    if budget < 0:
        raise OptionError(f"max_coverage: budget must be >= 0, got {budget}")
    budget = float(budget)
    deadline = t0 + time_limit
    R = reduce_problem(inp, seed=seed)
    integral_w = bool(np.all(R.w == np.round(R.w)))

    x_g = greedy_max(R, budget)
    g_val = value(R, x_g)
    lp = (
        _start_lp(R, time_limit, t0, budget=budget, target=None, full=False, known=g_val)
        if 0 < g_val < float(R.w.sum())
        else None
    )
    x = swap_search(R, x_g, budget, deadline=t0 + 0.2 * time_limit)
    best = value(R, x)
    methods = ["greedy", "swap"] if best > g_val else ["greedy"]
    log.debug("max_coverage: greedy %g, swap %g at %.2f s", g_val, best, time.perf_counter() - t0)
    ub = float(R.w.sum())
    bound_by = "total coverable weight"
    lag = None
    if best < ub and R.n:
        lag = lagrange_max(
            R,
            budget,
            best,
            iterations=_lagrange_steps(R, 0.2 * time_limit),
            deadline=t0 + 0.35 * time_limit,
        )
        if lag.bound < ub:
            ub, bound_by = lag.bound, f"Lagrangian ({lag.iterations} subgradient steps)"
        log.debug("max_coverage: Lagrangian %g at %.2f s", lag.bound, time.perf_counter() - t0)
        # Whole-problem swap moves cost (options x chosen) each: on big instances they would
        # eat the time (10,000 x 100,000, budget 300: 48 s for nothing); the regional search
        # below does better there from the swap answer (5,000 x 50,000, seeds 1 and 2:
        # 24,416 and 24,454 without the candidates, 24,411 and 24,446 with them, 4 s later).
        if R.n * max(1, int(x.sum())) <= _CAND_MAX_CELLS:
            # The swap moves check the clock between moves: leave room for one and the rest.
            x, best, improved = _try_candidates_max(
                R, budget, lag.candidates, x, best=best, deadline=deadline - 0.3
            )
            log.debug("max_coverage: candidates %g at %.2f s", best, time.perf_counter() - t0)
            if improved:
                methods.append("Lagrangian heuristic")
    if integral_w:
        ub = math.floor(ub + 1e-6)
    if lag is not None and best < ub - 1e-9 * max(1.0, ub) and time.perf_counter() < deadline - 0.2:
        thr = best + 1 - 1e-6 if integral_w else best - 1e-9 * max(1.0, best)
        one, zero = fix_max(R, lag.mult, budget, thr)
        free = ~one & ~zero
        proof = int(free.sum()) <= _MAX_EXACT_OPTIONS and int(R.B[free].nnz) <= _MAX_EXACT_NNZ
        if not proof:
            # Too big to prove: regional perturb-and-repair local search (its regions are
            # local, so the Lagrangian / LP bound stands). It replaced CP-SAT neighbourhood
            # search here (5,000 x 50,000, budget 150: 24,383 after 40 s of LNS, 24,420
            # after 9 s of this; LNS found nothing more after it in 99 neighbourhoods).
            loc = regional_search(
                R,
                x,
                budget,
                work=_LOCAL_WORK * time_limit * _LOCAL_NNZ_PER_S,
                deadline=deadline - 0.3,
                seed=seed,
                worse=_LOCAL_WORSE * float(R.w.mean()) if R.m else 0.0,
            )
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
                time_s=_EXACT_WORK * time_limit,
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
    if lp is not None:
        # Proven optimal already: do not wait for the LP bound.
        got = lp.result(deadline - 0.05 if best < ub else 0.0)
        if got is not None:
            cand = math.floor(got.bound + 1e-6) if integral_w else got.bound
            if cand < ub:
                ub = cand
                bound_by = (
                    f"LP duals ({got.pdlp_iterations} PDLP iterations) as Lagrangian "
                    f"multipliers, {got.steps} subgradient steps"
                )
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
    )


def _lagrange_steps(R: Reduced, seconds: float, *, sort: bool = False) -> int:
    """Subgradient steps that take about ``seconds`` on a loaded machine (at least 50)."""
    per_step = 2.0 * float(R.B.nnz) + 10.0 * (R.n + R.m) + (40.0 * R.m if sort else 0.0) + 1.0
    return int(min(_LAGRANGE_ITERS, max(50, seconds * _NNZ_PER_S / per_step)))


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
) -> tuple[BoolArray, float, bool]:
    """Repair and polish option sets read off the Lagrangian relaxation; keep the best."""
    seen: set[bytes] = set()
    scored: list[tuple[float, int, BoolArray]] = []
    for c in cands:
        key = np.packbits(c).tobytes()
        if key in seen or not _feasible_max(R, c, budget):
            continue
        seen.add(key)
        scored.append((value(R, c), len(scored), c))
    scored.sort(key=lambda t: (-t[0], t[1]))
    improved = False
    for _, _, c in scored[:3]:
        if time.perf_counter() > deadline - 0.5:
            break
        y = swap_search(R, c, budget, deadline=deadline)
        v = value(R, y)
        if v > best:
            x, best, improved = y, v, True
    return x, best, improved


def min_cover(
    A: Any,
    weights: Any = None,
    costs: Any = None,
    *,
    target: float = 1.0,
    k: int = 1,
    min_level: int | Any = 1,
    existing: Any = None,
    site: Any = None,
    max_per_site: int | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
) -> Plan:
    """The cheapest option set covering ``target`` of the coverable demand weight k times.

    Parameters are those of :func:`max_coverage`, with ``target`` in [0, 1]: the fraction
    of the weight of points that some k options can see (1.0 = all of them). Existing
    options are kept and cost nothing.

    Returns
    -------
    Plan with ``objective`` = total cost of the new options (their count when costs is None)
    and ``bound`` a proven lower bound.

    Raises
    ------
    InfeasibleError
        target above 1, no point coverable k times while the demand has weight, or site caps
        that forbid reaching the target.
    """
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
    )
    if not (isinstance(target, int | float | np.integer | np.floating) and math.isfinite(target)):
        raise OptionError(f"min_cover: target must be a finite fraction, got {target!r}")
    if target < 0:
        raise OptionError(f"min_cover: target must be >= 0, got {target}")
    if target > 1:
        raise InfeasibleError(
            f"min_cover: target {target} asks for more than all coverable demand (at most 1.0)"
        )
    deadline = t0 + time_limit
    R = reduce_problem(inp, seed=seed)
    if target > 0 and inp.n_points and not np.any(inp.cover.getnnz(axis=0) >= inp.k):
        raise InfeasibleError(
            f"min_cover: no demand point is seen by {inp.k} option(s) at the required level, "
            "so no target above 0 can be met"
        )
    t_res = target * R.coverable_weight - R.const_weight
    full = target >= 1.0
    if full:
        t_res = float(R.w.sum())
    integral_c = bool(np.all(R.cost == np.round(R.cost)))
    methods: list[str] = []
    if t_res <= 1e-12 * max(1.0, R.coverable_weight):
        x = np.zeros(R.n, np.bool_)
        return _plan_min(
            inp, R, x, lb=0.0, greedy=0.0, method="existing options meet the target", t0=t0
        )

    x_g = greedy_min(R, t_res)
    ub = math.inf
    if x_g is not None:
        ub = float(R.cost[x_g].sum())
        methods.append("greedy")
        x = x_g
    g_cost = ub
    # Full cover runs SCIP on the second core instead.
    lp = (
        _start_lp(R, time_limit, t0, budget=None, target=t_res, full=False, known=ub)
        if not full and math.isfinite(ub)
        else None
    )
    # set_cover needs positive costs; free options are taken by greedy first anyway.
    if full and inp.k == 1 and not R.has_site_cap and R.n and float(R.cost.min()) > 0:
        x_sc = set_cover_full(R, iterations=max(100, 20 * R.n))
        if x_sc is not None:
            x_sc = drop_redundant(R, x_sc, t_res)
            c_sc = float(R.cost[x_sc].sum())
            if c_sc < ub - 1e-9 * max(1.0, ub):
                x, ub = x_sc, c_sc
                methods.append("set_cover guided local search")
    lb, bound_by = 0.0, "zero"
    one = np.zeros(R.n, np.bool_)
    zero = np.zeros(R.n, np.bool_)
    if math.isfinite(ub):
        lag = lagrange_min(
            R,
            t_res,
            full,
            ub,
            iterations=_lagrange_steps(R, 0.15 * time_limit, sort=not full),
            deadline=t0 + 0.25 * time_limit,
        )
        if lag.bound > lb:
            lb, bound_by = lag.bound, f"Lagrangian ({lag.iterations} subgradient steps)"
        if integral_c:
            lb = math.ceil(lb - 1e-6)
        x_l = _lagrange_heuristic_min(R, lag.candidates, lag.mult, t_res)
        if x_l is not None:
            c_l = float(R.cost[x_l].sum())
            if c_l < ub - 1e-9 * max(1.0, ub):
                x, ub = x_l, c_l
                methods.append("Lagrangian heuristic")
        thr = ub - 1 + 1e-6 if integral_c else ub * (1 + 1e-12)
        one, zero = fix_min(R, lag.mult, lag.bound, thr)
    if (
        not math.isfinite(ub) or lb < ub - 1e-9 * max(1.0, ub)
    ) and time.perf_counter() < deadline - 0.2:
        free = ~one & ~zero
        if int(R.B[free].nnz) <= _MAX_EXACT_NNZ:
            base = ub
            left_s = max(0.05, deadline - time.perf_counter() - 0.1)
            scip: list[float | None] = [None]
            scip_solver: list[Any] = []
            worker = None
            big = int(free.sum()) > _MAX_EXACT_OPTIONS
            # On big partial covers SCIP does not finish its root LP in a minute (Osaka tile,
            # 0.95: bound 0 after 25 s) while it takes a core from the search.
            if math.isfinite(ub) and left_s > 1.0 and (full or not big):
                hint_x = x

                def _bound() -> None:
                    scip[0] = scip_bound_min(
                        R,
                        t_res,
                        full,
                        fixed1=one,
                        fixed0=zero,
                        hint=hint_x,
                        deadline=deadline - 0.3,
                        seed=seed,
                        started=scip_solver.append,
                    )

                # SCIP (bound) runs on the second core while CP-SAT searches for solutions.
                worker = threading.Thread(target=_bound, name="placement-scip", daemon=True)
                worker.start()
                # Let SCIP build its model before the GIL-holding set-cover search starts.
                while not scip_solver and worker.is_alive() and time.perf_counter() < deadline:
                    time.sleep(0.01)
            if full and inp.k == 1 and not R.has_site_cap and float(R.cost.min()) > 0:
                x_sc = set_cover_full(
                    R,
                    iterations=min(_GLS_ROUND_MOVES, 100 * R.n),
                    rounds=_GLS_ROUNDS,
                    deadline=t0 + 0.5 * time_limit,
                )
                if x_sc is not None:
                    x_sc = drop_redundant(R, x_sc, t_res)
                    c_sc = float(R.cost[x_sc].sum())
                    if c_sc < ub - 1e-9 * max(1.0, ub):
                        x, ub = x_sc, c_sc
                        methods.append(f"{_GLS_ROUNDS} rounds of guided local search")
            if big and math.isfinite(ub):
                # Too many free options for one CP-SAT search to improve: re-solve small
                # neighbourhoods exactly instead (its bound is local, so not used).
                ln = lns(
                    R,
                    x,
                    budget=None,
                    target=t_res,
                    full=full,
                    work=(_LNS_WORK_FULL if full else _LNS_WORK_MIN) * time_limit,
                    deadline=deadline - 0.3,
                    seed=seed,
                    free_size=_LNS_FREE,
                    sub_time=_LNS_SUB_S,
                )
                c_ln = float(R.cost[ln.x].sum())
                if c_ln < ub - 1e-9 * max(1.0, ub):
                    x, ub = ln.x, c_ln
                    methods.append(f"LNS ({ln.iterations} CP-SAT neighbourhoods)")
                res = ExactResult(None, None, False, "skipped")
            else:
                res = cpsat_min(
                    R,
                    t_res,
                    full,
                    fixed1=one,
                    fixed0=zero,
                    hint=x if math.isfinite(ub) else None,
                    time_s=_EXACT_WORK * time_limit,
                    seed=seed,
                    deadline=deadline - 0.1,
                )
            if worker is not None:
                worker.join(timeout=max(0.0, deadline - time.perf_counter()))
                if worker.is_alive() and scip_solver:
                    # SCIP checks its clock rarely during long LP solves: stop it here.
                    scip_solver[0].stop_search()
                worker.join(timeout=5.0)
                sb = scip[0]
                if sb is not None:
                    sb = min(base, sb)
                    if integral_c and math.isfinite(sb):
                        sb = math.ceil(sb - 1e-6)
                    if sb > lb:
                        lb = sb
                        bound_by = (
                            f"SCIP branch and cut after fixing {int(one.sum())} in, "
                            f"{int(zero.sum())} out"
                        )
            if res.x is not None and _feasible_min(R, res.x, t_res):
                c = float(R.cost[res.x].sum())
                if not math.isfinite(ub) or c < ub - 1e-9 * max(1.0, ub):
                    x, ub = res.x, c
                    methods.append("CP-SAT")
            if res.bound is not None:
                cand = min(base, res.bound)
                if integral_c and math.isfinite(cand):
                    cand = math.ceil(cand - 1e-6)
                if cand > lb:
                    lb = cand
                    bound_by = (
                        f"CP-SAT {res.status} after fixing {int(one.sum())} in, "
                        f"{int(zero.sum())} out"
                    )
    if lp is not None:
        got = lp.result(deadline - 0.05 if lb < ub else 0.0)
        if got is not None:
            cand = math.ceil(got.bound - 1e-6) if integral_c else got.bound
            if cand > lb:
                lb = cand
                bound_by = (
                    f"LP duals ({got.pdlp_iterations} PDLP iterations) as Lagrangian "
                    f"multipliers, {got.steps} subgradient steps"
                )
    if not math.isfinite(ub):
        raise InfeasibleError(
            f"min_cover: no option set within the site caps (max_per_site={inp.max_per_site}) "
            f"covers {target:.4g} of the coverable demand"
            + (" (proven)" if lb == math.inf else f" (none found in {time_limit} s)")
        )
    lb = min(lb, ub)
    method = " + ".join(methods) + f"; bound: {bound_by}"
    return _plan_min(inp, R, x, lb=lb, greedy=g_cost, method=method, t0=t0)


def _lagrange_heuristic_min(
    R: Reduced, cands: list[BoolArray], mult: FloatArray, t_res: float
) -> BoolArray | None:
    """Complete (greedily) and trim option sets read off the Lagrangian; the cheapest or None.

    On the Osaka tile at 0.95 this gives 537 against plain greedy's 551.
    """
    sets = [*cands[-_LAG_HEUR_SETS:], (R.cost - R.B @ mult) < 0]
    best: BoolArray | None = None
    best_c = math.inf
    for c in sets:
        if np.any(site_counts(R, c) > R.site_cap):
            continue
        y = greedy_min(R, t_res, start=c) if value(R, c) < t_res else c
        if y is None:
            continue
        y = drop_redundant(R, y, t_res)
        cost = float(R.cost[y].sum())
        if cost < best_c and _feasible_min(R, y, t_res):
            best, best_c = y, cost
    return best


def _feasible_min(R: Reduced, x: BoolArray, t_res: float) -> bool:
    if not np.all(site_counts(R, x) <= R.site_cap):
        return False
    return value(R, x) >= t_res * (1 - 1e-12)


def _plan_min(
    inp: Inputs, R: Reduced, x: BoolArray, *, lb: float, greedy: float, method: str, t0: float
) -> Plan:
    chosen = np.sort(np.concatenate([np.flatnonzero(inp.existing), R.option[x]]))
    cost = float(R.cost[x].sum())
    return _plan(
        inp,
        chosen,
        "min_cover",
        objective=cost,
        bound=lb,
        red_objective=cost,
        greedy=greedy if math.isfinite(greedy) else cost,
        method=method,
        t0=t0,
        R=R,
    )


def _plan(
    inp: Inputs,
    chosen: IntArray,
    problem: str,
    *,
    objective: float | None,
    bound: float,
    red_objective: float,
    greedy: float,
    method: str,
    t0: float,
    R: Reduced,
) -> Plan:
    mask = np.zeros(inp.n_options, np.bool_)
    mask[chosen] = True
    count = np.asarray(inp.cover[mask].sum(axis=0)).ravel().astype(np.int32)
    covered = count >= inp.k
    covered_w = float(inp.weights[covered].sum())
    total = float(inp.weights.sum())
    cost = float(inp.costs[mask & ~inp.existing].sum())
    obj = covered_w if objective is None else objective
    if objective is None and abs(obj - red_objective) > 1e-6 * max(1.0, obj):
        log.warning("optimise: reduced objective %s differs from recomputed %s", red_objective, obj)
    if problem == "max_coverage":
        bound = max(bound, obj)
        gap = (bound - obj) / bound if bound > 0 else 0.0
    else:
        bound = min(bound, obj)
        gap = (obj - bound) / obj if obj > 0 else 0.0
    gap = max(0.0, gap)
    status = "optimal" if gap <= 1e-9 else "feasible"
    elapsed = time.perf_counter() - t0
    msg = (
        f"{problem}: {chosen.size} options, objective {obj:.6g}, bound {bound:.6g}, "
        f"gap {100 * gap:.3g}% ({status}) in {elapsed:.2f} s; reduced to {R.n} options x "
        f"{R.m} points"
    )
    return Plan(
        chosen=chosen.astype(np.int64),
        objective=obj,
        bound=float(bound),
        gap=float(gap),
        status=status,
        message=msg,
        time_s=elapsed,
        coverage_count=count,
        covered_weight=covered_w,
        covered_fraction=covered_w / total if total > 0 else 0.0,
        covered_fraction_coverable=covered_w / R.coverable_weight
        if R.coverable_weight > 0
        else 0.0,
        cost=cost,
        greedy_objective=float(greedy),
        method=method,
        problem=problem,
    )
