"""Exact search with CP-SAT on a reduced, fixed problem, and OR-Tools' set-cover heuristics.

CP-SAT needs integer constraint coefficients. Integer costs and weights (cameras, yen,
counted points) go in exactly and the solver's bound is a proven bound. Fractional ones are
scaled and rounded in the safe direction for feasibility (costs up, budget and weights down
where they constrain), so every solution is feasible; the bound is then not used.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from placement.optimise._problem import BoolArray, FloatArray, Reduced

log = logging.getLogger(__name__)

_SCALE = 1_000_000


@dataclass(frozen=True)
class ExactResult:
    x: BoolArray | None  # best option set found (fixed-in options included)
    bound: float | None  # proven bound on the restricted problem, in original units
    optimal: bool
    status: str
    det_time: float = 0.0  # CP-SAT deterministic time spent (machine-independent work)
    # The wall-clock cap, not the deterministic time or a proof, ended the solve: another
    # run may end elsewhere.
    clock_cut: bool = False


def _integral(a: FloatArray) -> bool:
    return bool(np.all(a == np.round(a))) and (a.size == 0 or float(np.abs(a).max()) < 2**40)


#: Factors tried to make decimal costs and weights whole (1.1, 1.5, 0.25, 2.255 ...).
_DENOMINATORS = (2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 100, 200, 250, 500, 1000, 10_000, 100_000)


def _scaled(a: FloatArray, *, up: bool) -> tuple[list[int], float, bool]:
    """Integer image of a non-negative vector, the factor it was multiplied by, and
    whether the image is exact (the vector times the factor is whole) or rounded (``up``
    or down)."""
    if _integral(a):
        return [int(t) for t in np.round(a)], 1.0, True
    if a.size and float(a.min()) >= 0.0:
        for m in _DENOMINATORS:
            am = a * m
            r = np.round(am)
            if float(am.max()) > 1e9 or float(am.sum()) > 2.0**50:
                break
            if np.all(np.abs(am - r) <= 1e-9 * np.maximum(1.0, am)):
                return [int(t) for t in r], float(m), True
    s = _SCALE / max(float(a.max()), 1e-300)
    r = np.ceil(a * s) if up else np.floor(a * s)
    return [int(t) for t in r], s, False


def cost_unit(cost: FloatArray) -> float | None:
    """The largest u > 0 of which every cost is a whole multiple (1 for whole costs with no
    common factor, 1.5 for costs that are all 1.5, 0.5 for 1.5 and 2.5), found among the
    decimal factors :func:`_scaled` tries; None when the costs have none or are all 0.
    Every cover then costs a whole number of units, so a bound on the cheapest may be
    rounded up to one."""
    a = np.asarray(cost, dtype=np.float64)
    whole, m, exact = _scaled(a, up=True)
    ints = np.asarray(whole, dtype=np.int64)
    if not exact or not np.any(ints > 0):
        return None
    return float(np.gcd.reduce(ints[ints > 0])) / m


def _solve(
    model: Any,
    *,
    hint_ok: bool,
    time_s: float,
    seed: int,
    wall_s: float | None = None,
    deadline: float | None = None,
) -> tuple[Any, int]:
    import time

    from ortools.sat.python import cp_model

    if deadline is not None:
        # Building the model took wall time the caller could not foresee: cap the solve at
        # the caller's deadline so the whole call ends on time.
        wall_s = min(time_s if wall_s is None else wall_s, deadline - time.perf_counter())

    solver = cp_model.CpSolver()
    p = solver.parameters
    p.random_seed = seed
    # One worker: CP-SAT's parallel portfolio is not reproducible under a time limit.
    p.num_workers = 1
    # Ctrl-C is the caller's: by default CP-SAT takes SIGINT as "stop this solve" (the run
    # then went on and wrote its results), and after a solve the signal kills the process.
    p.catch_sigint_signal = False
    # Deterministic time gives the same answer for a seed on a loaded or idle machine; the
    # wall-clock cap (same number) only bites when the machine is slower than CP-SAT assumes.
    p.max_deterministic_time = max(0.05, time_s)
    p.max_time_in_seconds = max(0.05, time_s if wall_s is None else wall_s)
    p.linearization_level = 2
    # No repair_hint: with one worker, a wall-clock limit that hits during the hint repair
    # aborts the process ("Check failed: heuristics.fixed_search != nullptr", OR-Tools 9.x);
    # the hints passed here are the incumbent, feasible unless fixing excluded it.
    del hint_ok
    status = solver.solve(model)
    return solver, int(status)


def cpsat_max(
    R: Reduced,
    budget: float,
    fixed1: BoolArray,
    fixed0: BoolArray,
    hint: BoolArray,
    *,
    time_s: float,
    seed: int,
    wall_s: float | None = None,
    deadline: float | None = None,
) -> ExactResult:
    """Max (k-)coverage over the options not fixed, CP-SAT, hinted with ``hint``.

    ``time_s`` is CP-SAT's deterministic time limit; ``wall_s`` (default ``time_s``) a
    wall-clock safety cap, shortened to end by ``deadline`` (perf_counter seconds).
    """
    from ortools.sat.python import cp_model

    free = ~fixed1 & ~fixed0
    need = _still_needed(R, fixed1)
    avail = _times_covered(R, free)
    const = float(R.w[need <= 0].sum())
    pts = np.flatnonzero((need > 0) & (avail >= need))
    wv, ws, exact_w = _scaled(R.w[pts], up=False)
    left = budget - float(R.cost[fixed1].sum())
    cint, cs, exact_c = _scaled(R.cost, up=True)
    cap_int = (
        int(np.floor(left * cs + 1e-9 * max(1.0, left * cs)))
        if exact_c
        else int(np.floor(left * cs))
    )
    if cap_int < 0:
        return ExactResult(None, None, False, "fixed options exceed budget")
    m = cp_model.CpModel()
    fidx = np.flatnonzero(free)
    xv = {int(j): m.new_bool_var(f"x{j}") for j in fidx}
    hx = _fit_hint(hint & free, R.cost, left)
    # A complete hint (options and the points they cover) lets CP-SAT start from the
    # incumbent without hint repair (see _solve).
    hcount = np.rint(R.Bt @ hx.astype(np.float64)).astype(np.int64)
    sub = R.Bt[pts]
    terms = []
    for t, p in enumerate(pts.tolist()):
        cols = sub.indices[sub.indptr[t] : sub.indptr[t + 1]]
        lits = [xv[int(j)] for j in cols if int(j) in xv]
        y = m.new_bool_var(f"y{p}")
        if need[p] == 1:
            m.add_bool_or([*lits, y.Not()])
        else:
            m.add(sum(lits) >= int(need[p]) * y)
        m.add_hint(y, bool(hcount[p] >= need[p]))
        terms.append((wv[t], y))
    m.add(sum(cint[j] * xv[int(j)] for j in fidx) <= cap_int)
    if R.has_site_cap:
        used = np.bincount(R.site[fixed1], minlength=R.site_cap.size)
        by_site: dict[int, list[Any]] = {}
        for j in fidx.tolist():
            by_site.setdefault(int(R.site[j]), []).append(xv[j])
        for s, lits in by_site.items():
            room = int(R.site_cap[s] - used[s])
            if room < len(lits):
                m.add(sum(lits) <= room)
    m.maximize(sum(c * y for c, y in terms))
    for j, var in xv.items():
        m.add_hint(var, bool(hx[j]))
    solver, status = _solve(
        m, hint_ok=True, time_s=time_s, seed=seed, wall_s=wall_s, deadline=deadline
    )
    name = _status_name(status)
    x = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        x = fixed1.copy()
        for j, var in xv.items():
            x[j] = bool(solver.value(var))
    bound = None
    if exact_c and status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
        b = float(solver.best_objective_bound)
        if exact_w:
            bound = const + b / ws
        else:
            # Weights were rounded down: add back the most that rounding removed.
            err = float((R.w[pts] - np.asarray(wv) / ws).sum())
            bound = const + b / ws + err
    return ExactResult(
        x,
        bound,
        status == cp_model.OPTIMAL and exact_c and exact_w,
        name,
        float(solver.deterministic_time),
        _clock_cut(status, solver, time_s),
    )


def cpsat_min(
    R: Reduced,
    target: float,
    full: bool,
    *,
    fixed1: BoolArray,
    fixed0: BoolArray,
    hint: BoolArray | None,
    time_s: float,
    seed: int,
    wall_s: float | None = None,
    deadline: float | None = None,
) -> ExactResult:
    """Cheapest option set covering ``target`` merged weight (all points when ``full``).

    ``time_s`` is CP-SAT's deterministic time limit; ``wall_s`` (default ``time_s``) a
    wall-clock safety cap, shortened to end by ``deadline`` (perf_counter seconds).
    """
    from ortools.sat.python import cp_model

    free = ~fixed1 & ~fixed0
    need = _still_needed(R, fixed1)
    avail = _times_covered(R, free)
    done_w = float(R.w[need <= 0].sum())
    pts = np.flatnonzero((need > 0) & (avail >= need))
    if full and np.any((need > 0) & (avail < need)):
        return ExactResult(None, None, False, "fixing left a point uncoverable")
    m = cp_model.CpModel()
    fidx = np.flatnonzero(free)
    xv = {int(j): m.new_bool_var(f"x{j}") for j in fidx}
    sub = R.Bt[pts]
    hcount = None if hint is None else _times_covered(R, hint & free)
    wv, ws, exact_w = _scaled(R.w[pts], up=False)
    exact_w = exact_w or full
    ys = []
    for t, p in enumerate(pts.tolist()):
        cols = sub.indices[sub.indptr[t] : sub.indptr[t + 1]]
        lits = [xv[int(j)] for j in cols if int(j) in xv]
        if full:
            if need[p] == 1:
                m.add_bool_or(lits)
            else:
                m.add(sum(lits) >= int(need[p]))
            continue
        y = m.new_bool_var(f"y{p}")
        if need[p] == 1:
            m.add_bool_or([*lits, y.Not()])
        else:
            m.add(sum(lits) >= int(need[p]) * y)
        if hcount is not None:
            m.add_hint(y, bool(hcount[p] >= need[p]))
        ys.append((wv[t], y))
    if not full:
        t_res = (target - done_w) * ws
        m.add(sum(c * y for c, y in ys) >= int(np.ceil(t_res - 1e-9 * max(1.0, t_res))))
    if R.has_site_cap:
        used = np.bincount(R.site[fixed1], minlength=R.site_cap.size)
        by_site: dict[int, list[Any]] = {}
        for j in fidx.tolist():
            by_site.setdefault(int(R.site[j]), []).append(xv[j])
        for s, lits in by_site.items():
            room = int(R.site_cap[s] - used[s])
            if room < len(lits):
                m.add(sum(lits) <= room)
    cv, cs, exact_c = _scaled(R.cost, up=False)
    m.minimize(sum(cv[j] * xv[int(j)] for j in fidx))
    if hint is not None:
        for j, var in xv.items():
            m.add_hint(var, bool(hint[j]))
    solver, status = _solve(
        m, hint_ok=hint is not None, time_s=time_s, seed=seed, wall_s=wall_s, deadline=deadline
    )
    x = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        x = fixed1.copy()
        for j, var in xv.items():
            x[j] = bool(solver.value(var))
    bound = None
    base = float(R.cost[fixed1].sum())
    if exact_w and status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
        b = float(solver.best_objective_bound)
        # Costs rounded down to integers only lower the bound: still valid.
        bound = base + b / cs
    if status == cp_model.INFEASIBLE and exact_w:
        bound = np.inf
    return ExactResult(
        x,
        bound,
        status == cp_model.OPTIMAL and exact_w and exact_c,
        _status_name(status),
        float(solver.deterministic_time),
        _clock_cut(status, solver, time_s),
    )


def _fit_hint(h: BoolArray, cost: FloatArray, left: float) -> BoolArray:
    """``h`` with its highest-index options dropped until its cost fits in ``left``."""
    h = h.copy()
    on = np.flatnonzero(h)
    csum = np.cumsum(cost[on])
    h[on[csum > left + 1e-9 * max(1.0, left)]] = False
    return h


def _clock_cut(status: int, solver: Any, time_s: float) -> bool:
    """Whether the wall cap stopped a solve before its deterministic time or a proof."""
    from ortools.sat.python import cp_model

    ended = status in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    return not ended and float(solver.deterministic_time) < 0.99 * max(0.05, time_s)


def _status_name(status: int) -> str:
    from ortools.sat.python import cp_model

    names = {
        int(cp_model.OPTIMAL): "OPTIMAL",
        int(cp_model.FEASIBLE): "FEASIBLE",
        int(cp_model.INFEASIBLE): "INFEASIBLE",
        int(cp_model.MODEL_INVALID): "MODEL_INVALID",
    }
    return names.get(int(status), "UNKNOWN")


def set_cover_full(
    R: Reduced, *, iterations: int, rounds: int = 1, deadline: float = math.inf
) -> BoolArray | None:
    """OR-Tools ``set_cover``: element-degree construction then guided local search (k == 1).

    The search runs in ``rounds`` calls of ``iterations`` moves each and keeps the cheapest
    cover seen; restarting the search this way finds cheaper covers than one long call of the
    same length. Only sets that cover every point are kept (the search can end a round on
    one that does not); None when no round ends on a cover. Rounds stop early only at the
    wall-clock ``deadline``.
    """
    import time

    from ortools.set_cover.python import set_cover as sc

    model = sc.SetCoverModel()
    indptr, indices = R.B.indptr, R.B.indices
    for j in range(R.n):
        model.add_empty_subset(float(R.cost[j]))
        for p in indices[indptr[j] : indptr[j + 1]].tolist():
            model.add_element_to_last_subset(p)
    if R.m and not model.compute_feasibility():
        return None
    inv = sc.SetCoverInvariant(model)
    if not sc.ElementDegreeSolutionGenerator(inv).next_solution():
        return None
    best = np.asarray(inv.is_selected(), np.bool_)
    best_cost = float(R.cost[best].sum())
    if not np.all(_times_covered(R, best) >= 1):
        best, best_cost = np.zeros(R.n, np.bool_), math.inf
    gls = sc.GuidedLocalSearch(inv)
    gls.initialize()
    gls.set_max_iterations(iterations)
    for _ in range(rounds):
        gls.next_solution()
        sel = np.asarray(inv.is_selected(), np.bool_)
        cost = float(R.cost[sel].sum())
        # The search may stop on a set that misses points (2,000 x 20,000: after 5 rounds
        # of 200,000 moves, 13 of 19,293 points): only covers count.
        if cost < best_cost and bool(np.all(_times_covered(R, sel) >= 1)):
            best, best_cost = sel, cost
        if time.perf_counter() > deadline:
            break
    return best if math.isfinite(best_cost) else None


def scip_bound_min(
    R: Reduced,
    target: float,
    full: bool,
    *,
    fixed1: BoolArray,
    fixed0: BoolArray,
    hint: BoolArray | None,
    deadline: float,
    seed: int,
    started: Callable[[Any], None] | None = None,
) -> float | None:
    """Proven lower bound on the cheapest cover from SCIP's branch and cut (min cover).

    SCIP's cuts and branching lift the bound well above the LP / Lagrangian one, which for
    set covering is often several percent below the optimum. Only the bound is used: SCIP
    stops on the wall clock, so its solutions would make the answer depend on machine load.
    The solve releases the GIL, so it runs beside CP-SAT on the second core; ``started``
    receives the solver before the solve so another thread can call its ``stop_search()``.
    """
    from ortools.linear_solver.python import model_builder as mb

    free = ~fixed1 & ~fixed0
    fidx = np.flatnonzero(free)
    need = _still_needed(R, fixed1)
    done_w = float(R.w[need <= 0].sum())
    pts = np.flatnonzero(need > 0)
    sub = sp.csr_matrix(R.Bt[pts][:, fidx], dtype=np.float64)
    nx, q = fidx.size, pts.size
    if full:
        if np.any(np.asarray(sub.sum(axis=1)).ravel() < need[pts]):
            return math.inf
        mat = sub
        lo = need[pts].astype(np.float64)
        hi = np.full(q, np.inf)
        lb, ub = np.zeros(nx), np.ones(nx)
        obj = R.cost[fidx]
        n_int = nx
    else:
        # Columns x (free options) then y (points); rows sum x - need y >= 0, then w y >= T.
        rows = sp.hstack([sub, sp.diags(-need[pts].astype(np.float64))])
        last = sp.csr_matrix(np.concatenate([np.zeros(nx), R.w[pts]])[None, :])
        mat = sp.csr_matrix(sp.vstack([rows, last]))
        lo = np.concatenate([np.zeros(q), [target - done_w]])
        hi = np.full(q + 1, np.inf)
        lb, ub = np.zeros(nx + q), np.ones(nx + q)
        obj = np.concatenate([R.cost[fidx], np.zeros(q)])
        n_int = nx + q
    model = mb.Model()  # type: ignore[no-untyped-call]
    h: Any = model.helper  # its stubs misname the numpy array types
    h.fill_model_from_sparse_data(lb, ub, obj.astype(np.float64), lo, hi, mat)
    # With need 1, y_p <= sum x is integral at any integral x, so y_p may stay continuous.
    integral = np.ones(n_int, np.bool_)
    if not full:
        integral[nx:] = need[pts] > 1
    for j in np.flatnonzero(integral).tolist():
        h.set_var_integrality(j, True)
    if hint is not None:
        # The incumbent's cost as a cutoff lets SCIP fix more by reduced cost at the root.
        for t, j in enumerate(fidx.tolist()):
            h.add_hint(t, float(hint[j]))
    solver = mb.Solver("scip")
    if not solver.solver_is_supported():
        return None
    import time

    # The model is built under the GIL, maybe slowly while the caller's thread holds it.
    solver.set_time_limit_in_seconds(max(0.1, deadline - time.perf_counter()))
    log.debug("optimise: SCIP starts with %.1f s", deadline - time.perf_counter())
    solver.set_solver_specific_parameters(
        f"randomization/randomseedshift = {seed % 1000}\n"
        # Only the bound is used: best-first node selection raises it fastest.
        "nodeselection/bfs/stdpriority = 1000000\n"
    )
    if started is not None:
        started(solver)
    status = solver.solve(model)
    name = str(status).rsplit(".", 1)[-1]
    log.debug(
        "optimise: SCIP %s, bound %s, %.1f s", name, solver.best_objective_bound, solver.wall_time
    )
    base = float(R.cost[fixed1].sum())
    if name == "INFEASIBLE":
        return math.inf
    if name not in ("OPTIMAL", "FEASIBLE"):
        log.debug("optimise: SCIP ended with %s", name)
        return None
    b = float(solver.best_objective_bound)
    if not math.isfinite(b):
        return None
    return base + b


def _times_covered(R: Reduced, options: BoolArray) -> npt.NDArray[np.int64]:
    """(m,) how many of ``options`` cover each merged point."""
    return np.asarray(np.rint(R.Bt @ options.astype(np.float64)), dtype=np.int64)


def _still_needed(R: Reduced, fixed1: BoolArray) -> npt.NDArray[np.int64]:
    """(m,) coverers each point still needs once the options fixed in are counted."""
    return R.req - _times_covered(R, fixed1)
