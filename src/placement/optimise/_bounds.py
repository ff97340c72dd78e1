"""Lagrangian bounds and reduced-cost fixing.

Max coverage: relax ``req_p y_p <= sum_{j covers p} x_j`` with multipliers 0 <= lam_p <= w_p/req_p:

    L(lam) = sum_p max(0, w_p - req_p lam_p) + max_{x in X} sum_j x_j (B lam)_j

where X is the budget (solved as a fractional knapsack, an upper bound of the 0/1 one) with
site caps when costs are uniform (then greedy per site is exact), dropped otherwise. Every
lam >= 0 gives a valid upper bound; subgradient steps only make it tighter.

Min cover: relax the same rows with u_p >= 0 and keep the target row w y >= T in the
subproblem over y in [0, 1] (a fractional knapsack):

    L(u) = sum_j min(0, c_j - (B u)_j) + min {sum_p req_p u_p y_p : w y >= T, 0 <= y <= 1}

(full cover: y_p = 1 fixed, so the last term becomes sum_p req_p u_p). Any u >= 0 gives a
valid lower bound; its best value is the LP bound. Site caps are dropped (a relaxation).
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.optimise._problem import BoolArray, FloatArray, Reduced


def dot(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """a . b without BLAS: numpy's ``@`` on long vectors wakes OpenBLAS's threads, which
    spin on both cores and starved the LP child of its core (its PDLP did not finish in 15 s
    beside a caller doing dots, where alone it takes 8 s); einsum's own loop, one thread,
    also sums in the same order on every machine."""
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True)
class Knapsack:
    """Solution of the Lagrangian subproblem over options."""

    value: float
    x: FloatArray  # (r,) in [0, 1]
    left: float  # marginal value per unit of budget just below the budget
    right: float  # ... and just above it
    exact_fixing: bool  # whether the slopes support reduced-cost fixing


def knapsack(R: Reduced, v: FloatArray, budget: float) -> Knapsack:
    """Fractional knapsack max sum v_j x_j, sum c_j x_j <= budget, x in [0,1]."""
    c = R.cost
    x = np.zeros(R.n, np.float64)
    uniform = R.n > 0 and bool(np.all(c == c[0])) and c[0] > 0
    pos = v > 0
    if uniform:
        budget = np.floor(budget / c[0] + 1e-9) * c[0]
        if R.has_site_cap:
            # Uniform costs with site caps form a matroid: the best per site, then the best overall.
            order = np.lexsort((np.arange(R.n), -v, R.site))
            s_sorted = R.site[order]
            start = np.searchsorted(s_sorted, s_sorted, side="left")
            rank = np.empty(R.n, np.int64)
            rank[order] = np.arange(R.n) - start
            pos &= rank < R.site_cap[R.site]
    free = pos & (c <= 0)
    x[free] = 1.0
    val = float(v[free].sum())
    cand = np.flatnonzero(pos & (c > 0))
    ratio = v[cand] / c[cand]
    order = cand[np.lexsort((cand, -ratio))]
    ratio = v[order] / c[order]
    cum = np.cumsum(c[order])
    full = int(np.searchsorted(cum, budget + 1e-9, side="right"))
    x[order[:full]] = 1.0
    val += float(v[order[:full]].sum())
    used = float(cum[full - 1]) if full else 0.0
    left = right = 0.0
    if full < order.size:
        j = int(order[full])
        frac = max(0.0, (budget - used) / c[j])
        x[j] = frac
        val += frac * float(v[j])
        right = float(ratio[full])
        left = right if frac > 1e-12 else (float(ratio[full - 1]) if full else right)
    elif full:
        left = float(ratio[full - 1])
    return Knapsack(val, x, left, right, not R.has_site_cap)


@dataclass(frozen=True)
class LagrangeResult:
    bound: float
    mult: FloatArray  # lam (max) or u (min), at the best bound
    mu: float  # min-cover target multiplier (0 for max)
    iterations: int
    candidates: list[BoolArray]  # 0/1 option sets read off the relaxed solutions
    clock_cut: bool = False  # the deadline ended the steps early (the answer may vary)


def lagrange_max(
    R: Reduced,
    budget: float,
    lower: float,
    *,
    iterations: int,
    deadline: float,
    init: FloatArray | None = None,
    theta: float = 1.0,
) -> LagrangeResult:
    """Subgradient descent on L(lam); ``lower`` is a known objective (Polyak target).

    ``init`` (any (m,) array; clipped to [0, w/req], which keeps every bound valid) is the
    first multiplier vector, ``theta`` the first Polyak step factor.
    """
    cap = R.w / R.req
    lam = 0.5 * cap if init is None else np.clip(init, 0.0, cap)
    best, best_lam = np.inf, lam.copy()
    stall, it, cut = 0, 0, False
    cands: list[BoolArray] = []
    for it in range(1, iterations + 1):
        v = R.B @ lam
        ks = knapsack(R, v, budget)
        yt = R.w - R.req * lam
        y = yt > 0
        L = float(yt[y].sum()) + ks.value
        if best - 1e-12 * max(1.0, abs(L)) > L:
            best, best_lam, stall = L, lam.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if it % 25 == 0:
            cands.append(ks.x >= 0.999)
        gap = L - lower
        s = R.Bt @ ks.x - R.req * y
        nrm = dot(s, s)
        if gap <= 1e-9 * max(1.0, abs(L)) or nrm == 0 or theta < 1e-5:
            break
        if time.perf_counter() > deadline:
            cut = it < iterations
            break
        lam = np.clip(lam - theta * gap / nrm * s, 0.0, cap)
    return LagrangeResult(best, best_lam, 0.0, it, cands, cut)


def fix_max(
    R: Reduced, lam: FloatArray, budget: float, threshold: float
) -> tuple[BoolArray, BoolArray]:
    """Options that every solution worth more than ``threshold`` must take / must leave."""
    one = np.zeros(R.n, np.bool_)
    zero = np.zeros(R.n, np.bool_)
    if R.n == 0:
        return one, zero
    v = R.B @ lam
    ks = knapsack(R, v, budget)
    if not ks.exact_fixing:
        return one, zero
    yt = R.w - R.req * lam
    L = float(yt[yt > 0].sum()) + ks.value
    taken = ks.x >= 1.0
    out = ks.x <= 0.0
    one[taken] = (L - v[taken] + R.cost[taken] * ks.right) < threshold
    zero[out] = (L + v[out] - R.cost[out] * ks.left) < threshold
    return one, zero


def lagrange_min(
    R: Reduced,
    target: float,
    full: bool,
    upper: float,
    *,
    iterations: int,
    deadline: float,
    init: FloatArray | None = None,
    theta: float = 1.0,
) -> LagrangeResult:
    """Subgradient ascent on L(u, mu); ``upper`` is a known cost (Polyak target).

    ``init`` (any (m,) array; negatives are set to 0, which keeps every bound valid) is the
    first multiplier vector, ``theta`` the first Polyak step factor.
    """
    c = R.cost
    deg = np.maximum(R.B.getnnz(axis=1), 1).astype(np.float64)
    ratio = c / deg
    big = float(ratio.max()) + 1.0 if ratio.size else 1.0
    u = (
        big - np.asarray(R.Bt.multiply(big - ratio[None, :]).max(axis=1).todense()).ravel()
    ) / R.req
    mu = 0.0
    if not full:
        # Start from prices that make the cheapest-per-weight options break even.
        u = u * 0.5
    if init is not None:
        u = np.maximum(np.asarray(init, np.float64), 0.0)
    best, best_u, best_mu = -np.inf, u.copy(), mu
    stall, it, cut = 0, 0, False
    cands: list[BoolArray] = []
    w_pos = np.maximum(R.w, 1e-300)
    for it in range(1, iterations + 1):
        U = R.B @ u
        red = c - U
        x = red < 0
        if full:
            L = dot(R.req, u) + float(red[x].sum())
            s = R.req - R.Bt @ x.astype(np.float64)
        else:
            # The target row stays in the subproblem: min sum req u y over y in [0, 1] with
            # w y >= T is a fractional knapsack (cheapest price per weight first).
            y = _cheapest_cover(R.req * u / w_pos, R.w, target)
            L = float(red[x].sum()) + dot(R.req * u, y)
            s = R.req * y - R.Bt @ x.astype(np.float64)
        if best + 1e-12 * max(1.0, abs(L)) < L:
            best, best_u, stall = L, u.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if it % 25 == 0:
            cands.append(x.copy())
        gap = upper - L
        nrm = dot(s, s)
        if gap <= 1e-9 * max(1.0, abs(upper)) or nrm == 0 or theta < 1e-5:
            break
        if time.perf_counter() > deadline:
            cut = it < iterations
            break
        u = np.maximum(u + theta * gap / nrm * s, 0.0)
    return LagrangeResult(best, best_u, best_mu, it, cands, cut)


def _cheapest_cover(price: FloatArray, w: FloatArray, target: float) -> FloatArray:
    """y in [0, 1]^q minimising sum price w y subject to w y >= target (fractional knapsack)."""
    order = np.lexsort((np.arange(price.size), price))
    cum = np.cumsum(w[order])
    y = np.zeros(price.size, np.float64)
    full_n = int(np.searchsorted(cum, target, side="left"))
    y[order[:full_n]] = 1.0
    if full_n < order.size:
        done = float(cum[full_n - 1]) if full_n else 0.0
        j = int(order[full_n])
        y[j] = min(1.0, max(0.0, (target - done) / w[j])) if w[j] > 0 else 0.0
    return y


def fix_min(
    R: Reduced, u: FloatArray, bound: float, threshold: float
) -> tuple[BoolArray, BoolArray]:
    """Options every solution cheaper than ``threshold`` must take / must leave."""
    red = R.cost - R.B @ u
    one = (red < 0) & (bound - red >= threshold)
    zero = (red > 0) & (bound + red >= threshold)
    return one, zero
