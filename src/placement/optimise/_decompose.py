"""A lower bound for full min cover from exactly solved blocks of points (cost splitting).

Set covering's LP bound is often several percent below the optimum, and branch and cut on
the whole problem raises it slowly: on the 2,000 x 20,000 benchmark (1,950 options x 5,438
points after reduction) the LP gives 762.1 and a minute of SCIP about 794-796. Covering
problems from cameras are spatial, though: an option sees points near it, so the problem
is nearly a sum of local problems. This module uses that.

Split the points into blocks, and split each option's cost into shares, one per block it
sees points in (the shares sum to the cost). Any cover x then costs
``sum_blocks sum_j share_j,b x_j``, and x covers each block's points, so

    cost(x) >= sum over blocks of (the cheapest cover of the block's points at the shares),

a valid lower bound for ANY split and any partition. Each block problem is small enough for
SCIP to solve exactly, and its integer optimum is well above its LP: with shares made from
the LP's duals (each option's cost divided in proportion to the dual mass of its points in
each block) the sum starts at the LP bound and the blocks' integrality adds to it. Only
options cut by a block boundary lose: those are cheap in each block they straddle.

Blocks come from recursive spectral bisection of the point graph (points linked by the
options that see both): compact, balanced parts with few options cut, with nothing but the
matrix (no coordinates). Parts that fall apart into connected components are split into
those first, at no loss. The bisection tree is then solved bottom-up while time lasts: the
leaves first, then each parent (its two children merged, cost shares summed), whose bound
is the larger of its own and the sum of its children's, so the total only rises, and at
the root it is branch and cut on the whole problem.

Measured on this 2-core machine (one thread): 2,000 x 20,000, leaves of at most 600 points:
805.7 in 11 s; Osaka tile 51357353 (5,036 options x 6,698 points reduced): 699.4 in 31 s,
where a minute of SCIP on the whole gives 694.5-695.6.
"""

# Matrix names follow the maths (B options x points, Bt its transpose, W the point graph).
# ruff: noqa: N803, N806

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

from placement.optimise._problem import (
    GRAPH_MAX_WORK,
    FloatArray,
    IntArray,
    Reduced,
    graph_work,
)

log = logging.getLogger(__name__)

# Leaves have at most this many points (SCIP solves a block of 300 to 600 reduced points
# of the benchmark in well under a second).
_LEAF_POINTS = 400


@dataclass
class _Node:
    rows: IntArray  # reduced points of the block
    children: list[int] = field(default_factory=list)
    cut: bool = False  # children share options (a bisection), so solving this node may gain
    bound: float = -math.inf
    done: bool = False


@dataclass(frozen=True)
class DecompositionBound:
    bound: float
    leaves: int
    solved: int  # nodes whose block problem SCIP solved to optimality
    height: int  # how far up the tree the bound comes from (0 = leaves)


def fits(R: Reduced) -> bool:
    """Whether the point graph is small enough to build (multiply-adds under the cap; if
    not, the caller falls back to branch and cut on the whole problem)."""
    return graph_work(R.B) <= GRAPH_MAX_WORK


class _OutOfTimeError(Exception):
    """The deadline passed (or the bound was stopped) before the tree was built."""


def partition(
    R: Reduced,
    leaf_points: int = _LEAF_POINTS,
    *,
    deadline: float = math.inf,
    stopper: Stopper | None = None,
) -> list[_Node]:
    """Bisection tree of the reduced points; node 0 is the root, leaves have no children.

    Raises :class:`_OutOfTimeError` between bisections once ``deadline`` has passed or
    ``stopper`` is stopped (3 x 3 Osaka block, 21,416 points: 4 s for 167 nodes).
    """
    Bt = R.Bt
    W = sp.csr_matrix(Bt @ R.B)
    W.setdiag(0)
    W.eliminate_zeros()
    nodes = [_Node(np.arange(R.m, dtype=np.int64))]
    stack = [0]
    while stack:
        i = stack.pop()
        rows = nodes[i].rows
        if rows.size <= leaf_points:
            continue
        if time.perf_counter() > deadline or (stopper is not None and stopper.stopped):
            raise _OutOfTimeError
        sub = W[rows][:, rows]
        n_comp, label = connected_components(sub, directed=False)
        if n_comp > 1:
            parts = _bin_components(rows, label, n_comp, leaf_points)
        else:
            left = _bisect(sub)
            parts = [rows[left], rows[~left]]
            nodes[i].cut = True
        for p in parts:
            nodes[i].children.append(len(nodes))
            stack.append(len(nodes))
            nodes.append(_Node(p))
    return nodes


def _bin_components(rows: IntArray, label: IntArray, n_comp: int, cap: int) -> list[IntArray]:
    """Components as parts: big ones alone, small ones packed first-fit up to ``cap``."""
    sizes = np.bincount(label, minlength=n_comp)
    order = np.argsort(-sizes, kind="stable")
    by_label = np.argsort(label, kind="stable")
    start = np.concatenate([[0], np.cumsum(sizes)])
    parts: list[list[IntArray]] = []
    room: list[int] = []
    for c in order.tolist():
        members = rows[by_label[start[c] : start[c + 1]]]
        size = int(sizes[c])
        for b, r in enumerate(room):
            if size <= r:
                parts[b].append(members)
                room[b] -= size
                break
        else:
            parts.append([members])
            room.append(cap - size)
    return [np.sort(np.concatenate(p)) for p in parts]


def _bisect(W: sp.csr_matrix) -> npt.NDArray[np.bool_]:
    """Split a connected graph in two halves at the median of its Fiedler vector.

    Falls back to breadth-first levels from a far node if the eigen-solver fails.
    """
    n = W.shape[0]
    deg = np.asarray(W.sum(axis=1)).ravel()
    L = sp.csc_matrix(sp.diags(deg) - W)
    key: FloatArray | None = None
    try:
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(n).random(n)
        vals, vecs = eigsh(L, k=2, sigma=-1e-3 * float(deg.mean()), which="LM", v0=v0)
        key = vecs[:, int(np.argsort(vals)[1])]
    except Exception as exc:  # ARPACK or the factorisation can fail on odd graphs
        log.debug("optimise: spectral bisection failed (%s); breadth-first instead", exc)
    if key is None or not np.all(np.isfinite(key)):
        far = int(breadth_first_order(W, 0, directed=False, return_predecessors=False)[-1])
        order = breadth_first_order(W, far, directed=False, return_predecessors=False)
        key = np.empty(n)
        key[order] = np.arange(n, dtype=np.float64)
    rank = np.argsort(key, kind="stable")
    left = np.zeros(n, np.bool_)
    left[rank[: n // 2]] = True
    return left


def cost_shares(R: Reduced, leaves: list[IntArray], duals: FloatArray) -> sp.csr_matrix:
    """(options x leaves) split of each option's cost, in proportion to the dual mass of its
    points in each leaf (all of it in its first point's leaf when it has no dual mass)."""
    leaf_of = np.empty(R.m, np.int64)
    for b, rows in enumerate(leaves):
        leaf_of[rows] = b
    coo = R.B.tocoo()
    u = np.maximum(np.asarray(duals, np.float64), 0.0)
    mass = sp.csr_matrix((u[coo.col], (coo.row, leaf_of[coo.col])), shape=(R.n, len(leaves)))
    total = np.asarray(mass.sum(axis=1)).ravel()
    scale = np.divide(R.cost, total, out=np.zeros(R.n), where=total > 0)
    shares = sp.csr_matrix(sp.diags(scale) @ mass)
    empty = np.flatnonzero(total <= 0)
    if empty.size:
        first = R.B.indices[R.B.indptr[empty]]
        has = np.diff(R.B.indptr)[empty] > 0
        extra = sp.csr_matrix(
            (R.cost[empty[has]], (empty[has], leaf_of[first[has]])), shape=shares.shape
        )
        shares = sp.csr_matrix(shares + extra)
    return shares


class Stopper:
    """Holds the SCIP solve in progress so another thread can stop it."""

    def __init__(self) -> None:
        self.solver: Any = None
        self.stopped = False
        self.lock = threading.Lock()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.solver is not None:
                self.solver.stop_search()


def _block_bound(
    R: Reduced, rows: IntArray, share: FloatArray, *, time_s: float, seed: int, stopper: Stopper
) -> tuple[float, bool]:
    """SCIP's lower bound on the cheapest cover of ``rows`` at costs ``share`` (and whether
    it is the optimum)."""
    from ortools.linear_solver.python import model_builder as mb

    sub = R.Bt[rows]
    cols = np.unique(sub.indices)
    mat = sp.csr_matrix(sub[:, cols], dtype=np.float64)
    model = mb.Model()  # type: ignore[no-untyped-call]
    h: Any = model.helper
    h.fill_model_from_sparse_data(
        np.zeros(cols.size),
        np.ones(cols.size),
        np.ascontiguousarray(share[cols], dtype=np.float64),
        R.req[rows].astype(np.float64),
        np.full(rows.size, np.inf),
        mat,
    )
    for j in range(cols.size):
        h.set_var_integrality(j, True)
    solver = mb.Solver("scip")
    if not solver.solver_is_supported():
        return -math.inf, False
    solver.set_time_limit_in_seconds(max(0.05, time_s))
    solver.set_solver_specific_parameters(
        f"randomization/randomseedshift = {seed % 1000}\nnodeselection/bfs/stdpriority = 1000000\n"
    )
    with stopper.lock:
        if stopper.stopped:
            return -math.inf, False
        stopper.solver = solver
    status = solver.solve(model)
    with stopper.lock:
        stopper.solver = None
    name = str(status).rsplit(".", 1)[-1]
    if name == "INFEASIBLE":
        return math.inf, True
    if name not in ("OPTIMAL", "FEASIBLE"):
        return -math.inf, False
    b = float(solver.best_objective_bound)
    return (b if math.isfinite(b) else -math.inf), name == "OPTIMAL"


def lp_cover_duals(R: Reduced, *, time_s: float = math.inf) -> FloatArray | None:
    """Row duals of the full-cover LP min c x, Bt x >= req, 0 <= x <= 1 (HiGHS interior
    point); None when it is not solved within ``time_s`` seconds (3 x 3 Osaka block: 3.4 s)."""
    from scipy.optimize import linprog

    res = linprog(
        R.cost,
        A_ub=-R.Bt,
        b_ub=-R.req.astype(np.float64),
        bounds=(0, 1),
        method="highs-ipm",
        options={"time_limit": max(0.01, time_s)} if math.isfinite(time_s) else None,
    )
    if res.status != 0 or res.ineqlin is None:
        return None
    duals: FloatArray = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, np.float64))
    return duals


def decomposition_bound(
    R: Reduced,
    *,
    deadline: float,
    seed: int,
    stopper: Stopper | None = None,
    leaf_points: int = _LEAF_POINTS,
    on_bound: Any = None,
) -> DecompositionBound | None:
    """Lower bound on the cheapest full cover of ``R`` (see the module docstring).

    Works until ``deadline`` (perf_counter seconds) or until the root is solved; ``on_bound``
    is called with each better total. None when the LP or SCIP is not available.
    """
    stopper = stopper or Stopper()
    duals = lp_cover_duals(R, time_s=deadline - time.perf_counter())
    if duals is None:
        return None
    try:
        nodes = partition(R, leaf_points, deadline=deadline, stopper=stopper)
    except _OutOfTimeError:
        return None
    leaf_ids = [i for i, nd in enumerate(nodes) if not nd.children]
    shares = sp.csc_matrix(cost_shares(R, [nodes[i].rows for i in leaf_ids], duals))
    leaf_col = {i: c for c, i in enumerate(leaf_ids)}
    # Leaves under each node, and each node's height (leaves 0).
    height = [0] * len(nodes)
    under: list[list[int]] = [[] for _ in nodes]
    for i in range(len(nodes) - 1, -1, -1):  # children have higher indices than parents
        nd = nodes[i]
        if not nd.children:
            under[i] = [leaf_col[i]]
        else:
            under[i] = [c for ch in nd.children for c in under[ch]]
            height[i] = 1 + max(height[ch] for ch in nd.children)
    solved = 0
    best_total = 0.0
    top = -1
    for h in range(height[0] + 1):
        level = [i for i in range(len(nodes)) if height[i] == h and (nodes[i].cut or h == 0)]
        rows_left = float(sum(nodes[i].rows.size for i in level)) or 1.0
        for i in level:
            nd = nodes[i]
            left = deadline - time.perf_counter()
            if left <= 0.05 or stopper.stopped:
                break
            share = np.asarray(shares[:, under[i]].sum(axis=1)).ravel()
            limit = max(0.2, left * nd.rows.size / rows_left)
            rows_left -= nd.rows.size
            b, opt = _block_bound(
                R, nd.rows, share, time_s=min(left, limit), seed=seed, stopper=stopper
            )
            solved += int(opt)
            nd.bound = max(nd.bound, b)
            nd.done = True
        total = _value(nodes, 0)
        if total > best_total:
            best_total, top = total, h
            if on_bound is not None:
                on_bound(best_total)
        if time.perf_counter() >= deadline - 0.05 or stopper.stopped:
            break
    if top < 0:
        return None
    log.debug(
        "optimise: decomposition bound %.2f from %d leaves, %d blocks solved, height %d of %d",
        best_total,
        len(leaf_ids),
        solved,
        top,
        height[0],
    )
    return DecompositionBound(best_total, len(leaf_ids), solved, top)


def _value(nodes: list[_Node], i: int) -> float:
    """Bound of node i: its own block bound or the sum of its children's, the larger.

    Costs are >= 0, so a block not solved yet is worth 0.
    """
    nd = nodes[i]
    own = max(0.0, nd.bound) if nd.done else 0.0
    if not nd.children:
        return own
    return max(own, sum(_value(nodes, ch) for ch in nd.children))
