"""Phase settings and helpers shared by the drivers of max_coverage and min_cover.

The size limits of the exact CP-SAT phase and its share of ``time_limit``, the conversion
of a share of ``time_limit`` into a fixed number of subgradient steps at a nominal rate (so
step counts, and the answer, do not depend on the machine load), and the starter of the LP
bound phase in a child process. Settings used by one driver only live in it
(:mod:`._max`, :mod:`._min`), the size gate of the LP phase included.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803

from __future__ import annotations

import logging
from typing import Any

from placement.optimise._lp import LPBoundProcess
from placement.optimise._problem import Reduced

log = logging.getLogger(__name__)

# CP-SAT models with more (point, option) pairs than this are not built: building them in
# Python would eat the time the search needs.
_MAX_EXACT_NNZ = 600_000
_MAX_EXACT_OPTIONS = 1500
_LAGRANGE_ITERS = 3000
# Nominal work units per second of a subgradient step (two sparse products, a sort per step
# for partial min cover): measured 1e9 on 5,000 x 50,000 and 2e8 on the Osaka partial cover
# on the shared machine. Step counts are
# fixed from it and time_limit, so they do not depend on the load; the clock is only a cap.
_NNZ_PER_S = 3e8
# A step's Python overhead in those units, which dominates on small instances: without it
# 3,000 steps overran their share of a 0.3 s limit. Measured 30-50 us a step once, 160 us
# on a slower day of the same machine (2e4 units then planned 880 steps where 550 fitted
# the cap), so it is counted as 200 us.
_STEP_UNITS = 6e4
# CP-SAT on the whole restricted problem: its nominal share of time_limit.
_EXACT_WORK = 0.5
# CP-SAT's deterministic time a wall second, the low end of what it counted on this machine
# where its limit ended the solve (Osaka 51357353 at budget 50: 0.11; Osaka 52350301 at k = 2,
# budget 20: 0.37; solves that finished: 0.25-0.8). A limit in CP-SAT's own time units at
# the nominal rate repeats on a loaded machine; a limit equal to the seconds ended on the
# wall clock on every run there (a dtime of 1.6 or 5.6 in 15 s).
_CPSAT_DTIME_PER_S = 0.15


def _exact_limits(time_limit: float) -> dict[str, float]:
    """CP-SAT's deterministic-time limit on the whole restricted problem, and its wall cap:
    twice its nominal share (the deadline caps it too)."""
    return {
        "time_s": _EXACT_WORK * time_limit * _CPSAT_DTIME_PER_S,
        "wall_s": 2 * _EXACT_WORK * time_limit,
    }


# LP bound phase (PDLP duals as Lagrangian multipliers, in a child process on the second
# core): used from this many nonzeros of the reduced matrix and this time limit, seconds.
# (5,000 x 50,000, 730k nonzeros: PDLP at 1e-4 takes 9 s and its duals give 24,894 where
# 3,000 subgradient steps stop at 24,921.) PDLP gets half the time the child has left
# (:func:`._lp.lp_bound`), its warm-started subgradient steps the rest up to this share of
# time_limit.
_LP_MIN_NNZ = 300_000
_LP_MIN_TIME_S = 10.0
_LP_END_SHARE = 0.9
# PDLP's iterations are fixed from its nominal share of the phase (half of it) at this many
# constraint-matrix nonzeros per second, so its duals, and the blocks' choices made at them,
# repeat from run to run; its time limit stays as a cap. Measured on this machine: 1.2e8 on
# the 3 x 3 Osaka block (1,200 iterations in 19 s), which PDLP needs 2,560 iterations to
# settle, so the clock used to cut it (1,700-2,050 iterations from run to run). The LP
# phase's bound there is the same at 1,200 iterations as at 3,000 (62,091 and 62,090 at
# budget 300), and the blocks start sooner.
_PDLP_NNZ_ITS_PER_S = 1e8

# The pair greedy for k >= 2 (:func:`._heuristics.pair_greedy`) gives up past this share of
# time_limit at a nominal rate of this many work units (graph entries and options scored) a
# second: a fixed count, so the answer repeats. Measured 6e7 on this machine (3 x 3 Osaka
# block, k = 2, budget 200: 1.07e8 units in 1.65 s; Osaka tile at budget 400: 0.93 s).
_PAIR_SHARE = 0.1
_PAIR_WORK_PER_S = 6e7


# The LP phase is left out when PDLP would get fewer iterations than this in its nominal
# time: a copy of the problem in the child for duals that bound nothing. Measured on the
# 3 x 3 Osaka block with 16 headings, 3 tilts and poles every 10 m (33.7 million reduced
# nonzeros, 27 nominal iterations at 20 s): the bound came from the Lagrangian steps alone
# with or without it, while the child held 3.5 GB and took the second core from the
# regional search (budget 300: 63,175 against 63,195 without it). With 16 headings alone
# (5.5 million, 200 iterations) it still pays: 0.11 % against 1.5 %.
_PDLP_MIN_ITERS = 100
#: Memory per nonzero of the coverage matrix, bytes: the optimiser's own process (45
#: measured on the instance above), and the LP phase's process where it runs (95).
_MAIN_BYTES_PER_NNZ = 50
_LP_BYTES_PER_NNZ = 100


def memory_needed(pairs: int, time_limit: float) -> int:
    """Bytes :func:`max_coverage` / :func:`min_cover` need for a coverage matrix with this
    many nonzeros (visible option-point pairs) at this time limit, with a margin."""
    nnz = float(pairs)
    lp = (
        time_limit >= _LP_MIN_TIME_S
        and nnz >= _LP_MIN_NNZ
        and _nominal_its(nnz, 0, 0, time_limit) >= _PDLP_MIN_ITERS
    )
    return int(nnz * (_MAIN_BYTES_PER_NNZ + (_LP_BYTES_PER_NNZ if lp else 0)))


def _start_lp(R: Reduced, time_limit: float, t0: float, **kwargs: Any) -> LPBoundProcess | None:
    """Start the LP bound phase when the instance is large enough for it to pay, and not so
    large that PDLP gets too few iterations in its time to give a bound."""
    if R.B.nnz < _LP_MIN_NNZ or time_limit < _LP_MIN_TIME_S:
        return None
    # Decided on the matrix as given, as memory_needed does (the reduced one is smaller).
    if _nominal_its(max(R.B.nnz, R.given_nnz), 0, 0, time_limit) < _PDLP_MIN_ITERS:
        log.info("optimise: LP bound phase left out (%d nonzeros for %g s)", R.B.nnz, time_limit)
        return None
    try:
        return LPBoundProcess(
            R,
            deadline=t0 + _LP_END_SHARE * time_limit,
            steps=_LAGRANGE_ITERS,
            pdlp_iterations=_pdlp_iterations(R, time_limit),
            **kwargs,
        )
    except OSError as e:  # no fork (resource limits): keep the Lagrangian bound alone
        log.warning("optimise: LP bound phase not started: %r", e)
        return None


def _nominal_its(nnz: float, m: int, n: int, time_limit: float) -> float:
    """PDLP iterations in the LP phase's nominal time at ``_PDLP_NNZ_ITS_PER_S``."""
    total = float(nnz) + m + n  # coverage rows, their y terms, the budget/target row
    return 0.5 * _LP_END_SHARE * time_limit * _PDLP_NNZ_ITS_PER_S / total


def _pdlp_iterations(R: Reduced, time_limit: float) -> int:
    """PDLP iterations for the LP phase: its nominal time at ``_PDLP_NNZ_ITS_PER_S``."""
    return max(_PDLP_MIN_ITERS, int(_nominal_its(R.B.nnz, R.m, R.n, time_limit)))


def _lagrange_steps(R: Reduced, seconds: float, *, sort: bool = False) -> int:
    """Subgradient steps that take about ``seconds`` on a loaded machine (at least 50)."""
    per_step = (
        2.0 * float(R.B.nnz) + 10.0 * (R.n + R.m) + (40.0 * R.m if sort else 0.0) + _STEP_UNITS
    )
    return int(min(_LAGRANGE_ITERS, max(50, seconds * _NNZ_PER_S / per_step)))


def _margin(seconds: float, time_limit: float) -> float:
    """A phase's safety margin before the deadline, shrunk to a tenth of short limits: a
    fixed margin longer than the limit itself would skip the phase on every run (and
    report it as stopped by the clock) where the limit is under a second."""
    return min(seconds, 0.1 * time_limit)


def _pair_work(time_limit: float) -> float:
    """The work the pair greedy may do before it gives up (a fixed count, see above)."""
    return _PAIR_WORK_PER_S * _PAIR_SHARE * time_limit
