"""Choose camera options from a coverage matrix: budgeted maximum coverage and minimum cover.

The optimiser sees only matrices: ``A`` (options x demand points, scipy.sparse, entry = DORI
level seen, 0 = not seen), demand weights and option costs. Both problems follow the same
steps:

1. reduce: drop points no choice changes, merge points seen by the same option set, drop
   options that cover nothing or are dominated by a no-dearer option (k == 1, no site caps);
   for full min cover also drop points that any cover of another point covers, alternating
   with option dominance (:mod:`._dominance`; 2,000 x 20,000: 19,293 points to 5,438);
2. lazy greedy, then best-improvement swap local search (max) or redundancy removal and
   OR-Tools ``set_cover`` guided local search (full min cover; only covers are kept: its
   rounds can end on sets that miss points). Where points need two covers or more (k >= 2,
   or fewer with existing cameras), a pair greedy runs beside plain greedy
   (:func:`._heuristics.pair_greedy`: moves of one or two options scored by the weight they
   complete, over the option graph), and the better start wins: plain greedy's partial
   credit spreads lone cameras (Osaka tile 51357353, k = 2, budget 10: 88 against 879);
3. a Lagrangian bound by subgradient (valid for any multipliers; for partial min cover the
   target row stays in the subproblem as a fractional knapsack, so it tends to the LP
   bound), rounded to integers when weights (max) or costs (min) are integers;
4. reduced-cost fixing against the incumbent; when at most ``_MAX_EXACT_OPTIONS`` options
   stay free, CP-SAT on what is left, hinted with the incumbent, whose bound on the
   restricted problem combines with the incumbent into a proven bound on the whole problem;
   otherwise (and at any size, where no exact model is built), for max coverage, regional
   iterated local search (:mod:`._local`: a region of options around a chosen one is
   perturbed, refilled greedily and polished by swaps, the other options held; thousands
   of regions, threshold accepting); for partial min cover, that search at falling budgets
   (:func:`._local.cover_descent`); for full min cover, a compiled point-weighting local
   search (:func:`._local.weighted_cover_search`, a fixed number of steps), then large
   neighbourhood search: small regions of the incumbent (options that share demand points
   with a chosen one, picked by the seed) re-solved exactly by CP-SAT. Full min cover
   computes its lower bound on the second core from the first second on: blocks of points
   found by spectral bisection, each option's cost split among the blocks it sees by LP
   dual mass, each block solved exactly by SCIP, merged up the bisection tree while time
   lasts (:mod:`._decompose`; valid for any split, 2,000 x 20,000: 809 where a minute of
   SCIP on the whole gives 793-797);
5. on large instances (max coverage, partial min cover, full min cover too big for the
   block bound and SCIP) an LP bound phase runs from step 2 on
   in a child interpreter at the lowest priority (the second core): PDLP solves the LP
   relaxation approximately and its duals, used as Lagrangian multipliers (so the bound is
   valid however loose the solve), seed subgradient steps for the other half of its time
   (workers run BLAS on one thread, and the subgradient's dots avoid BLAS, so neither
   process's thread pool starves the other). It tightens the bound (5,000 x 50,000: 24,921
   -> 24,893; Osaka tile at 0.95: 462 -> 473); it reaches the options only through the
   blocks' choices of step 6. On 10,000 x 100,000 the LP optimum itself is about 88,600
   against 75,489 found: that gap is the LP's, no multiplier can close it. On 5,000 x
   50,000 (budget 150) the LP optimum is 24,892.6 (HiGHS interior point, offline), HiGHS's
   root cuts lowered it only to 24,877 in 15 minutes, and the best solution known is 24,457
   (3 minutes of regional search): the remaining 1.7 % would need branching, not a better
   multiplier;
6. max coverage with a gap still open then tightens the bound by cost splitting
   (:mod:`._blocks_max`): the budget priced by the multipliers' critical ratio and each
   option's price split among blocks of options (spectral bisection, at most 100 each) by
   multiplier mass, each block solved exactly by SCIP, the blocks with the largest part of
   the gap first. It starts on a thread once the LP child is back (the search still runs on
   the other core) and takes both cores when the search ends; with every block solved and
   time left, pairs of groups whose solutions disagree are solved together (Osaka tile at
   budget 400: 50,627 -> 50,406; 5,000 x 50,000: 24,893 -> 24,764); when the merges run
   out with time left, rounds of subgradient steps move each option's price share between
   the groups (5,000 x 50,000 at 300 s: 24,755 -> 24,730-24,742). Once every block with
   a gap is solved to optimality (within 0.05 %, or to SCIP's node limit; before any
   merge), the options the blocks chose are cut back to the budget (least weight lost per
   cost first) and polished by swaps, and that answer is kept when it beats the search's
   (Osaka tile at budget 100: 19,502 -> 19,617, bound 19,656; the regional search from the
   same start is no better).

Determinism: for a given input and seed the chosen options (and so ``objective``) are the
same on an idle or a loaded machine as long as no wall-clock cap cuts a phase short: the
phases stop on iteration counts, move counts, CP-SAT's deterministic time and
nonzeros touched (regional search). What may vary with machine load is the proven ``bound``
(and so ``gap`` and ``status``) where it comes from SCIP, the LP phase or the block bound,
which stop on the wall clock, and ``time_s``. The blocks' choices (step 6) count only once
every block with a gap is solved to optimality or to its node limit, and only at
multipliers the clock did not shape (PDLP stopped at its tolerance or at an iteration
budget fixed from the instance's size and ``time_limit``, the subgradient steps done
before the deadline: ``LPBound.settled``); SCIP solves a block the same way each time, so
they repeat too.
Where the clock cuts PDLP first (a machine much slower than this one) they are not used.
On a heavily loaded machine the wall-clock safety caps (which keep the total within
``time_limit`` plus about 2 %) can also end a phase early, and then the answer may differ
too. The answer is never worse than the greedy one.

Infeasible requests raise :class:`~placement.errors.InfeasibleError` (target above 1, no
point coverable k times, existing cameras over a site cap, a target the site caps forbid);
invalid arguments (negative budget, wrong shapes, ...) raise
:class:`~placement.errors.OptionError`. A returned plan always has status "optimal" or
"feasible".
"""

from __future__ import annotations

from placement.optimise._max import max_coverage
from placement.optimise._min import min_cover
from placement.optimise._phases import memory_needed
from placement.optimise._plan import Plan
from placement.optimise._problem import LEVEL_NAMES, MAX_SEED

__all__ = ["LEVEL_NAMES", "MAX_SEED", "Plan", "max_coverage", "memory_needed", "min_cover"]

# The drivers live in ._max and ._min, the result in ._plan, the settings they share in
# ._phases.
