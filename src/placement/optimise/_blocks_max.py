"""An upper bound for max coverage from exactly solved blocks of options (cost splitting).

At a camera budget in the hundreds the LP bound of max coverage stays 1-2 % above the best
answer found, and that is mostly the LP's own slack: on Osaka tile 51357353 at budget 400
the LP gives 50,626.7 and five minutes of search 49,990; a branch and cut on the whole
(SCIP) does not finish its root LP in five minutes. As for min cover (:mod:`._decompose`),
the problem is nearly a sum of local ones, and that gives a tighter bound.

Relax the budget with a price mu >= 0 and split each option's price mu c_j into shares
s_jb >= 0, one per block b of points, summing to mu c_j. Any option set x within the
budget is then worth

    value(x) <= mu budget + sum over blocks b of max_x' [w(points of b covered by x')
                                                      - sum_j s_jb x'_j]

so the right side is a valid upper bound for ANY price, split and partition of the points.
Each block problem is a small integer program that SCIP solves (its best bound counts when
it stops early). A block not solved keeps its Lagrangian part (the relaxation of its
coverage rows at multipliers lam), and with shares in proportion to each option's lam-mass
in each block, those parts add up to the caps-free Lagrangian bound at lam: the total
starts at the bound already proven and every solved block lowers it.

Blocks come from recursive spectral bisection of the option graph (options linked by the
points both see), at most ``leaf_options`` options each; each point goes to the block
holding most of its options. The blocks whose part of the current gap is largest (their
Lagrangian part minus what the incumbent earns there) are solved first, on a few threads
(SCIP releases the GIL).

When every block is solved and time is left, groups of blocks are solved together in pairs,
round after round (a pair's optimum is at most the sum of its two, at the summed shares).
Two solutions that agree on every option both hold add up to a solution of the pair, so a
merge gains nothing there: pairs are matched by the price their solutions dodge (an option
one chooses and the other does not, at the other's share), largest first.

When the merges run out with time left (every pair's solutions agree, or the pairs are
too big) and one camera counts, the split itself moves: rounds of subgradient steps on the
shares (each option's price moves to the groups that choose it, from those that hold it
and do not; Polyak steps towards the incumbent's value, halved after a round that does not
lower the total) re-solve every group, and every round's total is a bound. 5,000 x 50,000
at 300 s: the merges end at 135 s at 24,755, four rounds then reach 24,730-24,742; Osaka
tile 51357353 at budget 200, 60 s: 33,574 to 33,565. Rounds on the 64 leaf blocks instead
gain more per second at long limits (eight rounds from 138 s: 24,734), but a round of them
takes 15 s on two threads where the merges gain 30 in 20 s, so at 60 s merges come first.

The blocks' own choices, taken together once every block with a gap is solved to
optimality or to a node limit (a stop the clock did not decide; ``BlockBound.leaf_union``),
are a start the caller repairs into an answer: on the Osaka tile at budget 100 they beat
the regional search by 0.6 %.

Measured on this 2-core machine, Osaka tile 51357353 at budget 400 (6,490 options x
38,782 points reduced, 55 blocks of at most 200 options, 5 s each): from the LP bound
50,627 to 50,449 in 33 s on two threads (one thread: 65 s); the best answer known is
49,997.
"""

# Matrix names follow the maths (B options x points, Bt its transpose, W the option graph).
# ruff: noqa: N803, N806

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from placement.optimise._decompose import _bin_components, _bisect
from placement.optimise._lp import LPBound, LPBoundProcess
from placement.optimise._problem import (
    GRAPH_MAX_WORK,
    BoolArray,
    FloatArray,
    IntArray,
    Reduced,
    graph_work,
)

log = logging.getLogger(__name__)

# Blocks have at most this many options (SCIP solves most such blocks of the Osaka tile in
# well under a second; 300-500 made the bound worse in the same time: blocks timed out).
_LEAF_OPTIONS = 100
# Wall-time limit of one block solve, seconds (a safety cap: the limits below end a solve
# the same way on every run).
_BLOCK_S = 5.0
# SCIP stops a block within this relative gap. Blocks of the Osaka tile at budget 600 sat
# for their whole 5 s at 0.02-0.03 %, so the blocks' choices were never used there; at
# 5e-4 they end in 2.6-3.6 s and the bound rises by 8 (55,864 to 55,872).
_BLOCK_GAP = 5e-4
# ... and after this many branch-and-bound nodes. Blocks of real tiles and of the synthetic
# instances take 1-16 nodes (137 at most), where they do not stall at the root. One block of
# Osaka tile 52350301 at k = 2 (budget 20) took 290 nodes in 5 s, 20 ms each, and so always
# stopped on the clock; at 100 nodes it stops in 2.8 s, bound 76.9 against 76.3.
_BLOCK_NODES = 100
# SCIP's rounds of cuts at a block's root (and no restarts after presolve). The slowest
# blocks of 5,000 x 50,000 spent 4-5 s in hundreds of root rounds that moved the bound by
# 1 % and in two restarts. Solved one after another (one thread, critical price) the blocks
# took 56.6 s by default, 37.9 s without restarts, 28.8 s with 20 rounds and 20.3 s with 10,
# for the same bound (24,794.5); Osaka tile 51357353 at budget 400: 28.2 / 23.4 / 21.2 /
# 18.0 s, bound 50,464.5 / 50,462.9 / 50,463.4 / 50,465.6. In max_coverage at 60 s the time
# saved goes to merges: 5,000 x 50,000 went from 24,786-24,792 (2-4 merges) to 24,764 (26),
# the tile at budget 400 from 50,415 to 50,406, with the same cameras. Only where one camera
# counts: blocks where points need two branch long, and the cuts pay there (Osaka 52350301
# at k = 2, budget 20: 1,627 with these limits, 1,613 without).
_ROOT_ROUNDS = 10
# Rounds of share steps (block_bound's share_rounds): the first step's length is this
# fraction of the Polyak step to the incumbent's value (halved after a round that does not
# lower the total; seven halvings end the rounds); a round starts with at least
# min_s seconds (and 1.2 x the last round's time) left, a solve with margin_s.
_ROUNDS = True
_ROUND_THETA = 0.1
_ROUND_MIN_S = 1.0
_ROUND_MARGIN_S = 0.25
# Groups of blocks are merged while the pair holds at most this many times leaf_options.
_MERGE_FACTOR = 6
# The price scan (safe_block_bound): when the blocks' choices use less than (1 - slack) of
# the budget, the blocks are solved again at step x the price, while at least min_s seconds
# are left and the price is at least floor x the critical ratio.
_SCAN_SLACK = 0.05
_SCAN_STEP = 0.96
_SCAN_MIN_S = 2.0
_SCAN_FLOOR = 0.5
# ... each block solve stopping after this many seconds (SCIP's bound when it stops counts).
_SCAN_BLOCK_S = 1.0


@dataclass(frozen=True)
class BlockBound:
    bound: float  # upper bound on the reduced objective
    start: float  # the caps-free Lagrangian bound at the multipliers (blocks unsolved)
    blocks: int
    solved: int  # blocks SCIP solved to optimality (within _BLOCK_GAP)
    merged: int = 0  # pairs of groups of blocks solved together after that
    rounds: int = 0  # rounds of moving the price shares between the groups after that
    # Every option some block's solution chooses, once every block with a gap was solved to
    # optimality or to its node limit (before any merge): a deterministic start for a
    # primal repair. None else.
    leaf_union: BoolArray | None = None
    # The clock (the deadline, or a block's time limit) kept the leaf union from forming: a
    # run with more time to spare may have one, and the caller's answer may then differ.
    clock_cut: bool = False
    # The budget the blocks' own choices take at their shares (cost units), and the price
    # factor the bound came from (see safe_block_bound; 1 = the critical ratio's price).
    usage: float = math.nan
    price_factor: float = 1.0
    # The option blocks, for another pass over the same blocks (see safe_block_bound).
    option_sets: list[IntArray] | None = field(default=None, repr=False)


def fits(R: Reduced) -> bool:
    """Whether the option graph is small enough to build (multiply-adds under the cap)."""
    return graph_work(R.Bt) <= GRAPH_MAX_WORK


def option_blocks(
    R: Reduced, leaf_options: int = _LEAF_OPTIONS, *, deadline: float = math.inf
) -> list[IntArray] | None:
    """Recursive bisection of the option graph into parts of at most ``leaf_options``
    options; None once ``deadline`` (perf_counter seconds) passes."""
    W = sp.csr_matrix(R.B @ R.Bt)
    W.setdiag(0)
    W.eliminate_zeros()
    blocks: list[IntArray] = []
    stack = [np.arange(R.n, dtype=np.int64)]
    while stack:
        rows = stack.pop()
        if rows.size <= leaf_options:
            blocks.append(rows)
            continue
        if time.perf_counter() > deadline:
            return None
        sub = W[rows][:, rows]
        n_comp, label = connected_components(sub, directed=False)
        if n_comp > 1:
            stack.extend(_bin_components(rows, label, n_comp, leaf_options))
        else:
            left = _bisect(sub)
            stack += [rows[left], rows[~left]]
    return blocks


def point_blocks(R: Reduced, blocks: list[IntArray]) -> IntArray:
    """Block of each point: the one holding most of its options (the lowest on a tie)."""
    of = np.empty(R.n, np.int64)
    for b, rows in enumerate(blocks):
        of[rows] = b
    coo = R.Bt.tocoo()
    count = sp.csr_matrix(
        (np.ones(coo.nnz), (coo.row, of[coo.col])), shape=(R.m, max(1, len(blocks)))
    )
    return np.asarray(count.argmax(axis=1), np.int64).ravel()


def price(R: Reduced, v: FloatArray, budget: float) -> tuple[float, float]:
    """The budget's price mu (the critical ratio of the fractional knapsack over options
    worth ``v``, site caps dropped) and the budget it prices (whole cameras when costs are
    uniform: floor(budget / c) c, valid for 0/1 choices)."""
    c = R.cost
    if R.n and bool(np.all(c == c[0])) and c[0] > 0:
        budget = math.floor(budget / c[0] + 1e-9) * float(c[0])
    cand = np.flatnonzero((v > 0) & (c > 0))
    ratio = v[cand] / c[cand]
    order = np.lexsort((cand, -ratio))
    cum = np.cumsum(c[cand[order]])
    full = int(np.searchsorted(cum, budget + 1e-9, side="right"))
    mu = float(ratio[order[full]]) if full < order.size else 0.0
    return mu, budget


def block_bound(
    R: Reduced,
    lam: FloatArray,
    budget: float,
    incumbent: BoolArray,
    *,
    deadline: float,
    seed: int = 0,
    leaf_options: int = _LEAF_OPTIONS,
    block_s: float = _BLOCK_S,
    threads: int | None = None,
    later: threading.Event | None = None,
    enough: Callable[[float], bool] | None = None,
    price_factor: float = 1.0,
    option_sets: list[IntArray] | None = None,
) -> BlockBound | None:
    """Upper bound on max coverage of ``R`` within ``budget`` (see the module docstring).

    ``lam`` are point multipliers (clipped into [0, w/req], any values keep the bound
    valid), ``incumbent`` the best option set known (it only orders the blocks). Works
    until ``deadline`` (perf_counter seconds) on ``threads`` threads (default: the cores,
    at most 2); with ``later``, all but the first wait for that event (the caller's search
    holds the other core until then). Stops early once ``enough(total)`` is true. The budget
    is priced at ``price_factor`` times the critical ratio (any price gives a valid bound).
    ``option_sets`` are the blocks of an earlier call on ``R`` (default: built here). None
    when SCIP is missing, the option graph is too big, or the blocks are not built in time.
    """
    from ortools.linear_solver.python import model_builder as mb

    if R.n == 0 or R.m == 0 or not fits(R) or not mb.Solver("scip").solver_is_supported():
        return None
    lam = np.clip(np.asarray(lam, np.float64), 0.0, R.w / R.req)
    blocks = (
        option_sets
        if option_sets is not None
        else option_blocks(R, leaf_options, deadline=deadline)
    )
    if blocks is None:
        return None
    nb = len(blocks)
    pb = point_blocks(R, blocks)
    v = R.B @ lam
    mu, budget = price(R, v, budget)
    mu *= price_factor
    coo = R.B.tocoo()
    # v_jb: option j's lam-mass in block b; its price share mu c_j v_jb / v_j.
    V = sp.csr_matrix((lam[coo.col], (coo.row, pb[coo.col])), shape=(R.n, nb))
    scale = np.divide(mu * R.cost, v, out=np.zeros(R.n), where=v > 0)
    S = sp.csr_matrix(sp.diags(scale) @ V)
    # Options with no lam-mass pay their whole price in the block of their first point.
    idle = np.flatnonzero((v <= 0) & (np.diff(R.B.indptr) > 0) & (R.cost > 0))
    if idle.size and mu > 0:
        first = R.B.indices[R.B.indptr[idle]]
        S = sp.csr_matrix(S + sp.csr_matrix((mu * R.cost[idle], (idle, pb[first])), shape=S.shape))
    # Each block's Lagrangian part, and what the incumbent earns in it.
    spare = np.maximum(0.0, R.w - R.req * lam)
    net = sp.csr_matrix(V - S)
    net.data = np.maximum(net.data, 0.0)
    part = np.bincount(pb, weights=spare, minlength=nb) + np.asarray(net.sum(axis=0)).ravel()
    xf = incumbent.astype(np.float64)
    covered = (R.Bt @ xf) >= R.req - 0.5
    earns = np.bincount(pb, weights=R.w * covered, minlength=nb) - np.asarray(S.T @ xf).ravel()
    start = mu * budget + float(part.sum())
    # Points of each block, and the options its problem holds.
    order_p = np.argsort(pb, kind="stable")
    cut = np.searchsorted(pb[order_p], np.arange(nb + 1))
    rows_of = [order_p[cut[b] : cut[b + 1]] for b in range(nb)]
    cols_of = [np.unique(R.Bt[r].indices) for r in rows_of]
    mine = np.flatnonzero(incumbent)
    groups = {
        b: _Group(np.array([b]), float(part[b]), np.intersect1d(mine, cols_of[b]), False)
        for b in range(nb)
    }
    todo = [int(b) for b in np.argsort(-(part - earns), kind="stable") if part[b] - earns[b] > 1e-9]
    tasks: deque[tuple[int, ...]] = deque((b,) for b in todo)
    Sc = sp.csc_matrix(S)
    cond = threading.Condition()
    tried: set[tuple[int, int]] = set()
    count = {"solved": 0, "settled": 0, "merged": 0, "running": 0, "enough": 0}
    merge_cap = _MERGE_FACTOR * leaf_options
    merge_rounds = 0
    leaf_union: BoolArray | None = None

    def total() -> float:
        return mu * budget + sum(g.bound for g in groups.values())

    def next_task() -> tuple[int, ...] | None:
        # Called with cond held: the next block or merge, or None when there is nothing
        # left worth doing (or no time).
        nonlocal merge_rounds, leaf_union
        while True:
            if enough is not None and enough(total()):
                count["enough"] = 1
                return None
            if deadline - time.perf_counter() <= 0.05:
                return None
            if tasks:
                count["running"] += 1
                return tasks.popleft()
            if count["running"]:
                cond.wait(max(0.01, deadline - time.perf_counter()))
                continue
            if merge_rounds == 0 and count["settled"] == len(todo):
                leaf_union = np.zeros(R.n, np.bool_)
                for g in groups.values():
                    leaf_union[g.chosen] = True
            merge_rounds += 1
            pairs = _merge_round(R.n, Sc, groups, cols_of, tried=tried, cap=merge_cap)
            if not pairs:
                return None
            tasks.extend(pairs)

    def work(i: int) -> None:
        if later is not None and hasattr(os, "setpriority"):
            with contextlib.suppress(OSError):  # this thread only (Linux thread ids)
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        if i and later is not None:
            later.wait(max(0.0, deadline - time.perf_counter()))
        while True:
            with cond:
                task = next_task()
                if task is None:
                    return
                blocks = np.concatenate([groups[g].blocks for g in task])
            got = None
            try:
                got = solve(blocks)
            finally:
                with cond:
                    count["running"] -= 1
                    if got is not None:
                        settle(task, *got)
                    cond.notify_all()

    def held(blocks: IntArray) -> IntArray:
        # The options the problem of these blocks holds (every coverer of their points).
        return np.unique(np.concatenate([cols_of[b] for b in blocks]))

    def solve(
        blocks: IntArray, share: FloatArray | None = None
    ) -> tuple[float, bool, bool, IntArray] | None:
        # The bound, whether SCIP proved it optimal (within _BLOCK_GAP), whether it stopped
        # on its own limits (not the clock: the same answer on every run) and the options
        # its best solution chooses; at ``share`` (per option; default: the blocks' shares).
        left = deadline - time.perf_counter()
        rows = np.concatenate([rows_of[b] for b in blocks])
        sub = R.Bt[rows]
        cols = held(blocks)
        q, k = rows.size, cols.size
        req = R.req[rows].astype(np.float64)
        mat = sp.hstack([-sp.csr_matrix(sub[:, cols]), sp.diags(req)]).tocsr()
        if share is None:
            share = np.asarray(Sc[:, blocks].sum(axis=1)).ravel()
        obj = np.concatenate([-share[cols], R.w[rows]])
        model = mb.Model()  # type: ignore[no-untyped-call]
        h: Any = model.helper
        h.fill_model_from_sparse_data(
            np.zeros(k + q), np.ones(k + q), obj, np.full(q, -np.inf), np.zeros(q), mat
        )
        h.set_maximize(True)
        for j in range(k):
            h.set_var_integrality(j, True)
        for i in np.flatnonzero(req > 1):  # y counts only at req coverers
            h.set_var_integrality(k + int(i), True)
        solver = mb.Solver("scip")
        limit = max(0.05, min(block_s, left))
        solver.set_time_limit_in_seconds(limit)
        root = (
            f"presolving/maxrestarts = 0\nseparating/maxroundsroot = {_ROOT_ROUNDS}\n"
            if bool(np.all(req <= 1))
            else ""
        )
        solver.set_solver_specific_parameters(
            f"randomization/randomseedshift = {seed % 1000}\n"
            f"limits/gap = {_BLOCK_GAP}\nlimits/totalnodes = {_BLOCK_NODES}\n" + root
        )
        began = time.perf_counter()
        status = str(solver.solve(model)).rsplit(".", 1)[-1]
        # model_builder reports a gap-limit stop as OPTIMAL and a node-limit stop as FEASIBLE,
        # like a time-limit stop; SCIP's clock starts inside solve(), so a stop well before
        # the time limit was not the clock's.
        settled = status == "OPTIMAL" or time.perf_counter() - began < 0.9 * limit
        if status not in ("OPTIMAL", "FEASIBLE"):
            return None
        # SCIP's bound is exact up to its tolerances: pad it by them.
        got = float(solver.best_objective_bound)
        if not math.isfinite(got):
            return None
        got += 1e-6 * max(1.0, abs(got))
        x = np.array([solver.value(model.var_from_index(j)) for j in range(k)], np.float64)
        return got, status == "OPTIMAL", settled, cols[x > 0.5]

    def settle(
        task: tuple[int, ...], got: float, optimal: bool, settled: bool, chosen: IntArray
    ) -> None:
        # Called with cond held: take a solve's result into the partition.
        if len(task) == 1:
            g = groups[task[0]]
            groups[task[0]] = _Group(g.blocks, min(g.bound, got), chosen, not optimal)
            count["solved"] += int(optimal)
            count["settled"] += int(settled)
            return
        a, b = task
        was = groups[a].bound + groups[b].bound
        if optimal or got < was - 1e-9 * max(1.0, abs(was)):
            blocks = np.concatenate([groups[a].blocks, groups[b].blocks])
            del groups[b]
            groups[a] = _Group(blocks, min(was, got), chosen, not optimal)
            count["merged"] += 1
        else:
            tried.add((a, b))

    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    n_threads = threads or max(1, min(2, cores))
    with ThreadPoolExecutor(n_threads, thread_name_prefix="placement-block") as ex:
        list(ex.map(work, range(n_threads)))
    log.debug(
        "optimise: block bound %.2f from %.2f (%d blocks, %d of %d gap blocks solved, %d merges)",
        total(),
        start,
        nb,
        count["solved"],
        len(todo),
        count["merged"],
    )
    # The budget the groups' choices take at their shares: below the budget, a lower price
    # lowers the total (its slope in mu is budget - usage).
    usage = math.nan
    if mu > 0:
        usage = (
            sum(float(Sc[g.chosen][:, g.blocks].sum()) for g in groups.values() if g.chosen.size)
            / mu
        )

    def share_rounds() -> tuple[float, int]:
        # Subgradient steps on the split of each option's price among the groups that hold
        # it (Polyak steps towards the incumbent's value, halved after a round that does not
        # lower the total); every round re-solves every group, and each round's total is a
        # valid bound (the shares still sum to mu c_j). Returns the lowest total and the
        # rounds completed.
        live = sorted(groups)
        gb = [groups[g].blocks for g in live]
        G = len(live)
        # Options x groups, sparse: which groups hold each option, and its shares there
        # (an option's share lies where it sees points: within the groups that hold it).
        mem = _indicator([held(bs) for bs in gb], R.n)
        seen = np.asarray(mem.sum(axis=1)).ravel()
        Sg = sp.csc_matrix(Sc @ _indicator(gb, nb))
        X = _indicator([groups[g].chosen for g in live], R.n)
        lower = float(R.w[covered].sum())
        best = cur = total()
        theta = _ROUND_THETA
        rounds = 0
        took = _ROUND_MIN_S

        def one(g: int, trial: sp.csc_matrix) -> tuple[float, bool, bool, IntArray] | None:
            if deadline - time.perf_counter() < _ROUND_MARGIN_S or (
                enough is not None and enough(best)
            ):
                return None
            return solve(gb[g], trial[:, [g]].toarray().ravel())

        with ThreadPoolExecutor(n_threads, thread_name_prefix="placement-round") as ex:
            while deadline - time.perf_counter() > max(_ROUND_MIN_S, 1.2 * took) and not (
                enough is not None and enough(best)
            ):
                xbar = np.divide(
                    np.asarray(X.sum(axis=1)).ravel(), seen, out=np.zeros(R.n), where=seen > 0
                )
                grad = sp.csr_matrix(X - sp.diags(xbar) @ mem)
                g2 = float(grad.multiply(grad).sum())
                if g2 <= 0.0 or cur <= lower or theta < _ROUND_THETA / 128:
                    break  # the groups agree, the incumbent is proven, or the steps are spent
                trial = sp.csc_matrix(Sg + (theta * (cur - lower) / g2) * grad)
                began = time.perf_counter()
                got = [r for r in ex.map(one, range(G), [trial] * G) if r is not None]
                took = time.perf_counter() - began
                if len(got) < G:
                    break  # cut short: the round is incomplete and does not count
                tot = mu * budget + sum(r[0] for r in got)
                rounds += 1
                if tot < best:
                    best = tot
                else:
                    theta *= 0.5
                Sg, cur = trial, tot
                X = _indicator([r[3] for r in got], R.n)
        log.debug("optimise: %d rounds of share steps, block bound %.2f", rounds, best)
        return best, rounds

    # Where one camera counts and time is left, rounds of moving the price shares between
    # the groups (where points need two, blocks choose little at the critical price and the
    # caller lowers the price instead: see safe_block_bound).
    bound = total()
    rounds = 0
    if (
        mu > 0
        and len(groups) > 1
        and bool(np.all(R.req <= 1))
        and not count["enough"]
        and _ROUNDS
        and deadline - time.perf_counter() > _ROUND_MIN_S
    ):
        bound, rounds = share_rounds()
    return BlockBound(
        bound,
        start,
        nb,
        count["solved"],
        count["merged"],
        rounds,
        leaf_union,
        leaf_union is None and not count["enough"],
        usage,
        price_factor,
        blocks,
    )


@dataclass(frozen=True)
class _Group:
    """Blocks solved together: their bound, the options their best solution chooses, and
    whether it is final (not solved to optimality: not merged further)."""

    blocks: IntArray
    bound: float
    chosen: IntArray
    final: bool


def _merge_round(
    n: int,
    Sc: sp.csc_matrix,
    groups: dict[int, _Group],
    cols_of: list[IntArray],
    *,
    tried: set[tuple[int, int]],
    cap: int,
) -> list[tuple[int, int]]:
    """Disjoint pairs of groups to solve together next, the most promising first.

    Two groups' solutions that agree on every option both hold add up to a solution of the
    pair: merging them gains nothing. So a pair scores by how much price its solutions
    dodge: each option one chooses and the other does not, at the other's share of its
    price. Greedy matching by score; pairs over ``cap`` options are skipped.
    """
    live = sorted(g for g, grp in groups.items() if not grp.final)
    G = len(live)
    if G < 2:
        return []
    Sg = sp.csr_matrix(Sc @ _indicator([groups[g].blocks for g in live], Sc.shape[1]))
    X = _indicator([groups[g].chosen for g in live], n)
    dodged = (X.T @ Sg - X.T @ sp.csr_matrix(X.multiply(Sg))).toarray()
    score = dodged + dodged.T
    np.fill_diagonal(score, 0.0)
    size = np.array([sum(cols_of[b].size for b in groups[g].blocks) for g in live])
    ii, jj = np.nonzero(np.triu(score > 1e-9, 1) & (size[:, None] + size[None, :] <= cap))
    order = np.lexsort((jj, ii, -score[ii, jj]))
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for o in order:
        a, b = live[int(ii[o])], live[int(jj[o])]
        if a in used or b in used or (a, b) in tried:
            continue
        used.update((a, b))
        pairs.append((a, b))
    return pairs


def _indicator(members: list[IntArray], rows: int) -> sp.csr_matrix:
    """(rows, len(members)) 0/1 matrix: column g marks the rows listed in ``members[g]``."""
    sizes = [a.size for a in members]
    return sp.csr_matrix(
        (np.ones(sum(sizes)), (np.concatenate(members), np.repeat(np.arange(len(members)), sizes))),
        shape=(rows, len(members)),
    )


def safe_block_bound(
    R: Reduced, lam: FloatArray, budget: float, incumbent: BoolArray, **kwargs: Any
) -> BlockBound | None:
    """:func:`block_bound`, with a failure (of SCIP, say) logged and taken as no bound: the
    bound it would tighten is already proven.

    When the blocks' own choices leave part of the budget unused at their shares, the
    critical ratio overprices the budget (the bound's slope in the price is budget - usage)
    and the blocks are solved again at a lower price while time is left; the lowest total
    counts. Where points need two cameras the blocks often choose nothing at the critical
    ratio and the bound is the budget's price alone: Osaka tile 51357353 at k = 2, budget
    10, 1,060 at the critical ratio, 1,008 at 0.95 of it, 1,355 at 0.90; at budget 100,
    10,254 and 9,952 at 0.97 (9,953 at 0.94). At k = 1 the critical ratio is the best
    price: budget 400, 50,464 against 50,472 at 0.99 and at 1.01. In max_coverage at 60 s
    on that tile at k = 2: budget 10, 1,059 -> 1,017 (gap 17.0 -> 13.6 %); budget 100,
    10,247 -> 10,027 (16.6 -> 14.8 %). A first pass that moved its shares (where one camera
    counts) ends the scan: its rounds ran while time was left.
    """
    try:
        first = block_bound(R, lam, budget, incumbent, **kwargs)
    except Exception as e:
        log.warning("optimise: block bound failed: %r", e)
        return None
    if first is None:
        return None
    best = first
    deadline = kwargs["deadline"]
    enough = kwargs.get("enough")
    short = min(float(kwargs.get("block_s", _BLOCK_S)), _SCAN_BLOCK_S)
    while (
        best.rounds == 0
        and best.usage < (1.0 - _SCAN_SLACK) * budget
        and deadline - time.perf_counter() >= _SCAN_MIN_S
        and best.price_factor * _SCAN_STEP >= _SCAN_FLOOR
        and not (enough is not None and enough(best.bound))
    ):
        factor = best.price_factor * _SCAN_STEP  # every pass that does not lower ends the scan
        try:
            got = block_bound(
                R,
                lam,
                budget,
                incumbent,
                **(kwargs | {"block_s": short}),
                price_factor=factor,
                option_sets=first.option_sets,
            )
        except Exception as e:  # the first pass's bound stands
            log.warning("optimise: block bound at a lower price failed: %r", e)
            break
        log.debug(
            "optimise: block bound %.2f at %.3f of the price (usage %.1f of %g)",
            math.inf if got is None else got.bound,
            factor,
            math.nan if got is None else got.usage,
            budget,
        )
        if got is None or got.bound >= best.bound:
            break
        best = got
    if best is first:
        return first
    # The first pass's choices and counts stand (its leaf union is the one that repeats).
    return replace(first, bound=best.bound, price_factor=best.price_factor)


class BackgroundBlocks:
    """The LP phase's result, then :func:`block_bound` at its multipliers, on a thread of
    the caller while the caller's search runs.

    The LP child (:class:`._lp.LPBoundProcess`) frees the second core long before the
    search ends (Osaka tile 51357353, budget 400, 60 s: back at about 10 s, search done at
    38-50 s), so the first SCIP thread starts then; the second waits for :meth:`finish`.
    The blocks' own choices (:attr:`BlockBound.leaf_union`) come only once every block is
    solved; they repeat from run to run when the LP phase's multipliers did not depend on
    the clock (:attr:`._lp.LPBound.settled`), which the caller checks.
    """

    def __init__(
        self,
        R: Reduced,
        lp: LPBoundProcess,
        budget: float,
        incumbent: BoolArray,
        *,
        deadline: float,
        seed: int,
        integral: bool,
        known: float,
    ) -> None:
        self.got: LPBound | None = None
        self.blocks: BlockBound | None = None
        self._best = known
        self._integral = integral
        self._cancel = False
        self._lp = lp
        self._go = threading.Event()

        def run() -> None:
            self.got = lp.result(deadline)
            if self.got is not None and not self._enough(self.got.bound):
                self.blocks = safe_block_bound(
                    R,
                    self.got.mult,
                    budget,
                    incumbent,
                    deadline=deadline,
                    seed=seed,
                    later=self._go,
                    enough=self._enough,
                )

        self._thread = threading.Thread(target=run, name="placement-blocks", daemon=True)
        self._thread.start()

    def _enough(self, total: float) -> bool:
        """Whether the bound proves the best known objective optimal (or was cancelled)."""
        if self._cancel:
            return True
        bound = math.floor(total + 1e-6) if self._integral else total
        return bound <= self._best + 1e-9 * max(1.0, abs(self._best))

    def finish(self, best: float, until: float) -> tuple[LPBound | None, BlockBound | None]:
        """Post the search's ``best`` objective, give the blocks every thread, and wait
        until ``until`` (perf_counter seconds) for the LP result and the block bound."""
        self._best = best
        self._go.set()
        self._thread.join(timeout=max(0.0, until - time.perf_counter()))
        if self._thread.is_alive():
            self._cancel = True
        return self.got, self.blocks

    def abandon(self) -> None:
        """Start no more solves and stop the LP child (the call raised)."""
        self._cancel = True
        self._lp.abandon()

    def close(self, until: float) -> None:
        """Start no more solves and wait until ``until`` for the running one to return.

        SCIP checks its clock between steps, so its last solve can end a little past its
        limit (and ``stop_search`` does not stop it); a thread left running would outlive
        the call, and a process that exits while it runs fails at shutdown.
        """
        self._cancel = True
        self._thread.join(timeout=max(0.0, until - time.perf_counter()))
        if self._thread.is_alive():
            log.warning("optimise: a block solve ran past the time limit; it ends on its own")
