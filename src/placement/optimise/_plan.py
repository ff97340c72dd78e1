"""The result of an optimisation: the :class:`Plan` dataclass and how an answer becomes one.

Both drivers end with :func:`_plan`, which takes the chosen option indices (rows of the
original matrix, existing options included), recounts coverage, covered weight and cost on
the original inputs rather than the reduced problem, clamps the bound against the
objective, and derives the gap, the status and the one-line message.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from placement.optimise._problem import Inputs, IntArray, Reduced

log = logging.getLogger(__name__)


#: A relative gap at most this is reported as optimal (solver tolerances).
_OPTIMAL_GAP = 1e-6


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
    points_covered : points covered by >= k chosen options.
    covered_weight : weight of points covered by >= k chosen options.
    covered_fraction : covered_weight / total weight (0 when the total is 0).
    covered_fraction_coverable : covered_weight / weight of points some k options can see.
    cost : total cost of the chosen options that are not existing.
    greedy_objective : objective of the plain greedy answer on the same problem.
    method : what produced the answer and the bound.
    problem : "max_coverage" or "min_cover".
    clock_cut : phases of the search that the wall clock (``time_limit``, or a safety cap
        on a slow or loaded machine) stopped before their fixed amount of work. Empty: the
        answer depends on the inputs, options and seed alone, and a rerun chooses the same
        options. Otherwise a rerun may choose others (a longer ``time_limit`` helps). The
        bound may vary a little either way: bounding phases use the time they have.
    """

    chosen: IntArray
    objective: float
    bound: float
    gap: float
    status: Literal["optimal", "feasible"]
    message: str
    time_s: float
    coverage_count: npt.NDArray[np.int32]
    points_covered: int
    covered_weight: float
    covered_fraction: float
    covered_fraction_coverable: float
    cost: float
    greedy_objective: float
    method: str
    problem: Literal["max_coverage", "min_cover"]
    clock_cut: tuple[str, ...] = ()

    @property
    def repeatable(self) -> bool:
        """Whether the same inputs, options and seed give the same chosen options."""
        return not self.clock_cut

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
            "points_covered": self.points_covered,
            "greedy_objective": self.greedy_objective,
            "method": self.method,
            "repeatable": self.repeatable,
            "clock_cut": list(self.clock_cut),
            "message": self.message,
            "time_s": self.time_s,
        }


def _plan(
    inp: Inputs,
    chosen: IntArray,
    problem: Literal["max_coverage", "min_cover"],
    *,
    objective: float | None,
    bound: float,
    red_objective: float,
    greedy: float,
    method: str,
    t0: float,
    R: Reduced,
    clock_cut: Sequence[str] = (),
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
    if abs(bound - obj) <= 1e-12 * max(1.0, abs(bound), abs(obj)):
        gap = 0.0  # floating-point sums in another order (10.249999999999998 and 10.25)
    # Within the solvers' own tolerances (CP-SAT works on weights scaled to integers,
    # SCIP to 1e-6): a gap this small is a proof of optimality on fractional weights too.
    status: Literal["optimal", "feasible"] = "optimal" if gap <= _OPTIMAL_GAP else "feasible"
    elapsed = time.perf_counter() - t0
    msg = (
        f"{problem}: {chosen.size} options, objective {obj:.6g}, bound {bound:.6g}, "
        f"gap {100 * gap:.3g}% ({status}) in {elapsed:.2f} s; reduced to {R.n} options x "
        f"{R.m} points"
    )
    cut = tuple(dict.fromkeys(clock_cut))
    if cut:
        msg += (
            f"; the time limit stopped {', '.join(cut)} early, so a rerun "
            "may choose other options (raise the time limit for a repeatable answer)"
        )
        # A notebook caller sees this as the command line does (README: warnings print).
        log.warning(
            "%s: the time limit stopped %s early: a rerun may choose other options; "
            "raise the time limit for a repeatable answer",
            problem,
            ", ".join(cut),
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
        points_covered=int(np.count_nonzero(covered)),
        covered_weight=covered_w,
        covered_fraction=covered_w / total if total > 0 else 0.0,
        covered_fraction_coverable=covered_w / R.coverable_weight
        if R.coverable_weight > 0
        else 0.0,
        cost=cost,
        greedy_objective=float(greedy),
        method=method,
        problem=problem,
        clock_cut=cut,
    )
