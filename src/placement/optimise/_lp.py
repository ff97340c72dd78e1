"""LP-relaxation bounds for large instances: PDLP duals used as Lagrangian multipliers.

The subgradient method of :mod:`._bounds` converges slowly on big instances (10,000 x
100,000: 15 % gap after a minute). Here the LP relaxation of the reduced problem is solved
approximately by PDLP (first-order, handles millions of nonzeros), and its row duals are
used as the multipliers of the Lagrangian functions of :mod:`._bounds`. Those functions are
valid bounds for ANY multipliers (>= 0, clipped into their box), so a loose or stopped PDLP
solve only gives a weaker bound, never a wrong one. A few warm-started subgradient steps then
tighten it further.

PDLP's Python binding holds the GIL, so the whole phase runs in a child process (the
primal search uses one core). It returns a bound and multipliers, never options; the
multipliers reach the options only through the block bound's choices (:mod:`._max`), and
only when the phase stopped on counts, not on the clock (``LPBound.settled``).
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from placement._workers import Worker, WorkerError
from placement.optimise._bounds import lagrange_max, lagrange_min
from placement.optimise._problem import FloatArray, Reduced

log = logging.getLogger(__name__)

# PDLP's default share of the time the child has left before its deadline.
_PDLP_OF_LEFT = 0.5


@dataclass(frozen=True)
class LPBound:
    """Outcome of the LP bound phase (in reduced-problem units, no constant weight)."""

    bound: float  # upper (max) or lower (min) bound, valid whatever PDLP reached
    pdlp_iterations: int
    steps: int  # warm-started subgradient steps
    mult: FloatArray  # the multipliers of the bound (one per reduced point)
    # PDLP stopped at its tolerance and the subgradient steps before the deadline: mult
    # depends on the input alone, not on the clock.
    settled: bool = False


def lp_duals(
    R: Reduced,
    *,
    budget: float | None,
    target: float | None,
    full: bool,
    time_s: float,
    iterations: int | None = None,
    tolerance: float = 1e-4,
) -> tuple[FloatArray, int, bool]:
    """Row duals of the LP relaxation (one per reduced point, >= 0), PDLP's iterations, and
    whether it stopped at its tolerance or after ``iterations`` (not on the clock). With
    one thread PDLP repeats itself exactly for the same iteration count.

    Max coverage (``budget``): max w y s.t. req_p y_p <= (B^T x)_p, c x <= budget,
    x, y in [0, 1]. Min cover (``target``): min c x s.t. (B^T x)_p >= req_p y_p,
    w y >= target, x, y in [0, 1] (y = 1 when ``full``). Site caps are left out (a
    relaxation). The duals are only approximate: use them as Lagrangian multipliers.
    """
    from ortools.pdlp import solve_log_pb2, solvers_pb2
    from ortools.pdlp.python import pdlp

    n, m = R.n, R.m
    qp = pdlp.QuadraticProgram()
    qp.resize_and_initialize(n + m, m + 1)
    Bt = R.Bt.astype(np.float64)
    req = sp.diags(R.req.astype(np.float64))
    if budget is not None:
        # PDLP minimises: -w y; coverage rows -B^T x + req y <= 0; budget row c x <= budget.
        qp.objective_vector = np.concatenate([np.zeros(n), -R.w])
        top = sp.hstack([-Bt, req])
        last = sp.hstack([sp.csr_matrix(R.cost[None, :]), sp.csr_matrix((1, m))])
        qp.constraint_lower_bounds = np.full(m + 1, -np.inf)
        qp.constraint_upper_bounds = np.concatenate([np.zeros(m), [budget]])
    else:
        assert target is not None
        qp.objective_vector = np.concatenate([R.cost, np.zeros(m)])
        top = sp.hstack([Bt, -req])
        last = sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(R.w[None, :])])
        qp.constraint_lower_bounds = np.concatenate([np.zeros(m), [0.0 if full else target]])
        qp.constraint_upper_bounds = np.full(m + 1, np.inf)
    qp.constraint_matrix = sp.vstack([top, last]).tocsc()
    qp.variable_lower_bounds = np.concatenate([np.zeros(n), np.full(m, 1.0 if full else 0.0)])
    qp.variable_upper_bounds = np.ones(n + m)
    p = solvers_pb2.PrimalDualHybridGradientParams()
    crit = p.termination_criteria.simple_optimality_criteria
    crit.eps_optimal_relative = tolerance
    crit.eps_optimal_absolute = tolerance
    p.termination_criteria.time_sec_limit = max(0.05, time_s)
    if iterations is not None:
        p.termination_criteria.iteration_limit = max(1, int(iterations))
    p.num_threads = 1
    res = pdlp.primal_dual_hybrid_gradient(qp, p)
    its = int(res.solve_log.iteration_count)
    d = np.asarray(res.dual_solution, np.float64)
    if d.size != m + 1 or not np.all(np.isfinite(d)):
        return np.zeros(m, np.float64), its, False
    # PDLP's sign convention: >= 0 for an active lower row bound, <= 0 for an upper one.
    u = -d[:m] if budget is not None else d[:m]
    settled = res.solve_log.termination_reason in (
        solve_log_pb2.TERMINATION_REASON_OPTIMAL,
        solve_log_pb2.TERMINATION_REASON_ITERATION_LIMIT,
    )
    return np.maximum(u, 0.0), its, bool(settled)


def lp_bound(
    R: Reduced,
    *,
    budget: float | None,
    target: float | None,
    full: bool,
    known: float,
    deadline: float,
    steps: int,
    pdlp_s: float | None = None,
    pdlp_iterations: int | None = None,
) -> LPBound:
    """LP duals as multipliers, then ``steps`` warm-started subgradient steps (both capped).

    ``known`` is the incumbent objective (the subgradient's Polyak target). Valid for any
    duals: the Lagrangian function is evaluated at them, not the LP objective. PDLP stops
    after ``pdlp_s`` seconds, or by default after half the time left before ``deadline``;
    the subgradient steps stop at ``deadline``. ``pdlp_iterations`` (optional) stops PDLP
    sooner, at a count fixed by the caller: then its duals do not depend on the clock.
    """
    t = time.perf_counter()
    if pdlp_s is None:
        # Not a fixed share of time_limit: the steps after PDLP make much of the bound, and
        # PDLP overruns its limit by its setup. 3 x 3 Osaka block (1.8M nonzeros), 20 s:
        # PDLP given 12 s took 14.5 s, which left 20-170 steps before the deadline and a
        # gap of 0.12-0.72 %; with half the child's 16 s, 700-1,000 steps follow and 0-0.02 %.
        # 10,000 x 100,000 at 60 s: 88,591 against 88,586 with PDLP's 36 s.
        pdlp_s = _PDLP_OF_LEFT * (deadline - t)
    u, its, settled = lp_duals(
        R, budget=budget, target=target, full=full, time_s=pdlp_s, iterations=pdlp_iterations
    )
    log.debug("LP bound: PDLP %d iterations in %.2f s", its, time.perf_counter() - t)
    if budget is not None:
        lam = np.minimum(u, R.w / R.req)
        res = lagrange_max(
            R, budget, known, iterations=steps, deadline=deadline, init=lam, theta=0.05
        )
    else:
        assert target is not None
        res = lagrange_min(
            R, target, full, known, iterations=steps, deadline=deadline, init=u, theta=0.05
        )
    log.debug(
        "LP bound: %g after %d subgradient steps at %.2f s",
        res.bound,
        res.iterations,
        time.perf_counter() - t,
    )
    # Steps cut by the deadline leave multipliers that depend on the clock.
    settled = settled and time.perf_counter() < deadline
    return LPBound(res.bound, its, res.iterations, res.mult, settled)


def _niced_lp_bound(kwargs: dict[str, Any]) -> LPBound | str:
    """:func:`lp_bound` in the child, at the lowest priority; an error comes back as text."""
    # On a busy machine the primal search (whose answer must not depend on the load) keeps
    # its core and only the bound suffers.
    with contextlib.suppress(OSError):
        os.nice(19)
    try:
        return lp_bound(**kwargs)
    except Exception as e:  # reported to the parent, which then keeps its own bound
        return repr(e)


class LPBoundProcess:
    """:func:`lp_bound` in a child interpreter of its own (:class:`placement._workers.Worker`,
    never a re-run of the caller's script), on the second core. The reduced instance
    travels by pickle, so the child holds a copy of it (measured: about 0.15 GB beside the
    3 x 3 Osaka block's 3 million visible pairs, 1.5-2 GB at 66-95 million); the child is
    killed at the deadline."""

    def __init__(self, R: Reduced, **kwargs: Any) -> None:
        self._worker = Worker()
        # Killed with this object at the latest (the caller raised before asking).
        weakref.finalize(self, self._worker.kill)
        self._out: list[LPBound | str] = []
        self._error = ""

        def talk() -> None:
            try:
                self._out.append(self._worker.call(__name__, "_niced_lp_bound", {"R": R, **kwargs}))
            except WorkerError as e:
                self._error = str(e)
            except MemoryError:
                self._error = "out of memory sending the problem to its process"
            except Exception as e:  # the run goes on with the bounds of this process
                self._error = repr(e)

        self._thread = threading.Thread(target=talk, name="placement-lp", daemon=True)
        self._thread.start()

    def abandon(self) -> None:
        """Kill the child now (the caller no longer wants the bound)."""
        self._worker.kill()

    def result(self, deadline: float) -> LPBound | None:
        """The bound if it arrives before ``deadline`` (perf_counter time), else None."""
        self._thread.join(timeout=max(0.0, deadline - time.perf_counter()))
        if self._thread.is_alive():
            self._worker.kill()
            self._thread.join(timeout=1.0)
            return None
        self._worker.close()
        if not self._out:
            log.warning("optimise: LP bound phase gave nothing: %s", self._error)
            return None
        got = self._out[0]
        if isinstance(got, LPBound):
            return got
        log.warning("optimise: LP bound phase failed: %s", got)
        return None
