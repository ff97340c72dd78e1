"""Argument checking and problem reduction for the optimiser.

The public functions accept the raw coverage matrix (options x demand points, DORI levels)
and many optional arguments. Everything here turns them into a :class:`Reduced` problem: a
0/1 matrix over the options and demand points that can still change the answer, with the
points that no choice can affect folded into constants.
"""

# Matrix names follow the maths (A, B, R for the reduced problem, L for the Lagrangian).
# ruff: noqa: N803, N806

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from placement.errors import InfeasibleError, OptionError
from placement.optimise._dominance import dominated_options, dominated_points

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

log = logging.getLogger(__name__)

#: The DORI levels 1..4 (IEC EN 62676-4) by name: ``min_level`` takes a name or a number.
LEVEL_NAMES: tuple[str, ...] = ("detection", "observation", "recognition", "identification")
#: The largest seed every solver takes (CP-SAT's is a 32-bit int).
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Inputs:
    """The checked arguments, in original indexing.

    Attributes
    ----------
    cover : (n, m) csr bool, option i covers point p at the requested level.
    weights : (m,) float64 demand weight, >= 0.
    costs : (n,) float64 option cost, >= 0 (1.0 each when the caller gave none).
    unit_cost : True when the caller gave no costs (budget counts cameras).
    k : redundancy: a point counts when k chosen options cover it.
    existing : (n,) bool, options that are always chosen.
    site : (n,) int64 site of each option (0..S-1), or None.
    max_per_site : cap on chosen options per site, or None.
    given_nnz : nonzeros of the matrix the caller gave, all levels (0: unknown).
    """

    cover: sp.csr_matrix
    weights: FloatArray
    costs: FloatArray
    unit_cost: bool
    k: int
    existing: BoolArray
    site: IntArray | None
    max_per_site: int | None
    given_nnz: int = 0

    @property
    def n_options(self) -> int:
        return int(self.cover.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.cover.shape[1])


@dataclass(frozen=True)
class Reduced:
    """The part of the problem a choice can change.

    Attributes
    ----------
    B : (r, q) csr float64 0/1, reduced options x merged points.
    Bt : (q, r) csr float64, its transpose (row access per point).
    w : (q,) float64, summed weight of the original points merged into each column.
    req : (q,) int64, chosen (non-existing) coverers each point still needs (>= 1).
    cost : (r,) float64 option cost.
    option : (r,) int64 original index of each reduced option.
    site : (r,) int64 compact site index of each option (one site per option when the caller
        gave no sites).
    site_cap : (S,) int64 how many more options each site may take (large when unlimited).
    has_site_cap : whether any site cap binds at all.
    const_weight : weight already counted whatever is chosen (covered by existing options).
    coverable_weight : weight of points some choice can cover k times (includes const_weight).
    given_nnz : nonzeros of the matrix the caller gave, all levels (what
        :func:`memory_needed` and the LP phase's size rule count).
    """

    B: sp.csr_matrix
    Bt: sp.csr_matrix
    w: FloatArray
    req: IntArray
    cost: FloatArray
    option: IntArray
    site: IntArray
    site_cap: IntArray
    has_site_cap: bool
    const_weight: float
    coverable_weight: float
    given_nnz: int = 0

    @property
    def n(self) -> int:
        return int(self.B.shape[0])

    @property
    def m(self) -> int:
        return int(self.B.shape[1])


# Graphs of options (B @ Bt) or of points (Bt @ B) are built up to this many multiply-adds.
GRAPH_MAX_WORK = 40_000_000


def graph_work(M: sp.csr_matrix) -> int:
    """Multiply-adds to build ``M.T @ M`` from a csr ``M``: its rows' entry counts squared,
    summed (``graph_work(R.Bt)`` for the option graph, ``graph_work(R.B)`` for points')."""
    deg = np.diff(M.indptr).astype(np.int64)
    return int((deg * deg).sum())


def _max_duplicates(A: Any) -> sp.csr_matrix:
    """A COO matrix as CSR, a pair listed twice at its best level: scipy's conversion sums
    duplicates, so level 1 twice became level 2 (and 3 twice the impossible 6)."""
    coo = A.tocoo()
    if coo.has_canonical_format or coo.nnz < 2:
        return sp.csr_matrix(coo)
    order = np.lexsort((coo.col, coo.row))
    r, c, d = coo.row[order], coo.col[order], coo.data[order]
    first = np.ones(r.size, np.bool_)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    starts = np.flatnonzero(first)
    return sp.csr_matrix((np.maximum.reduceat(d, starts), (r[starts], c[starts])), coo.shape)


def check_inputs(
    A: object,
    weights: object,
    costs: object,
    *,
    k: int,
    min_level: object,
    existing: object,
    site: object,
    max_per_site: int | None,
    time_limit: float,
    seed: object = 0,
) -> Inputs:
    """Validate the arguments shared by both problems; raise :class:`OptionError` on bad ones."""
    if sp.issparse(A) or (isinstance(A, np.ndarray) and A.ndim == 2):
        # In its own dtype (int8 from compute_coverage): a float64 copy of a matrix of 100
        # million pairs would cost 1.2 GB before any work.
        try:
            mat = _max_duplicates(A) if getattr(A, "format", None) == "coo" else sp.csr_matrix(A)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"optimise: A must hold numbers ({exc})") from None
        if mat.dtype.kind not in "biuf":
            raise OptionError(f"optimise: A must hold numbers, got dtype {mat.dtype}")
    else:
        raise OptionError(f"optimise: A must be a scipy.sparse matrix, got {type(A).__name__}")
    n, m = (int(s) for s in mat.shape)
    d = mat.data
    if mat.dtype.kind == "b":
        pass  # seen or not: level 1 where True
    elif d.size and not (np.isfinite(d).all() and d.min() >= 0 and d.max() <= 4):
        raise OptionError(
            "optimise: A must hold DORI levels 0..4 (or booleans: seen or not), got "
            f"entries from {np.nanmin(d):g} to {np.nanmax(d):g}"
            + (" and NaN" if np.isnan(d).any() else "")
        )
    if mat.dtype.kind == "f" and d.size and not np.all(d == np.round(d)):
        raise OptionError("optimise: A must hold whole DORI levels 0..4, got fractions")
    finite_scalar(time_limit, "optimise: time_limit must be a positive number of seconds")
    if not time_limit > 0:
        raise OptionError(
            f"optimise: time_limit must be a positive number of seconds, got {time_limit}"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise OptionError(f"optimise: k must be an integer >= 1, got {k!r}")
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= int(seed) <= MAX_SEED
    ):
        raise OptionError(f"optimise: seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")

    w = _vector(weights, m, "weights", default=1.0)
    c = _vector(costs, n, "costs", default=1.0)

    if isinstance(min_level, str):
        if min_level not in LEVEL_NAMES:
            raise OptionError(
                f"optimise: min_level must be 1..4 or one of {', '.join(LEVEL_NAMES)}, "
                f"got {min_level!r}"
            )
        min_level = LEVEL_NAMES.index(min_level) + 1
    level = np.asarray(min_level)
    if level.ndim == 0:
        if isinstance(min_level, bool) or not (
            np.issubdtype(level.dtype, np.integer)
            or (np.issubdtype(level.dtype, np.floating) and float(level) == round(float(level)))
        ):
            raise OptionError(
                f"optimise: min_level must be a whole DORI level 1..4, got {min_level!r}"
            )
        level = np.full(m, int(level), np.int64)
    elif level.shape != (m,):
        raise OptionError(
            f"optimise: min_level must be an int or have one value per demand point ({m}), "
            f"got shape {level.shape}"
        )
    if level.size and not np.issubdtype(level.dtype, np.integer):
        raise OptionError(f"optimise: min_level must hold integers, got dtype {level.dtype}")
    level = level.astype(np.int64)
    if level.size and (level.min() < 1 or level.max() > 4):
        raise OptionError("optimise: min_level must be a DORI level between 1 and 4")

    cover = _cover_at(mat, level)

    ex = np.zeros(n, np.bool_)
    if existing is not None:
        e = np.asarray(existing)
        if e.dtype == np.bool_:
            if e.shape != (n,):
                raise OptionError(
                    f"optimise: existing mask must have one entry per option ({n}), got {e.shape}"
                )
            ex = e.copy()
        else:
            if e.size and not np.issubdtype(e.dtype, np.integer):
                raise OptionError("optimise: existing must be a bool mask or an index array")
            if n >= 3 and e.shape == (n,) and np.isin(e, (0, 1)).all():
                # As indices it would name options 0 and 1 over and over: a 0/1 mask.
                raise OptionError(
                    "optimise: existing looks like a 0/1 mask given as integers; pass a bool "
                    "mask (existing.astype(bool)) or the indices of the installed options"
                )
            e = e.astype(np.int64).ravel()
            if e.size and (e.min() < 0 or e.max() >= n):
                raise OptionError(f"optimise: existing holds an index outside 0..{n - 1}")
            ex[e] = True

    site_arr: IntArray | None = None
    if site is not None:
        s = np.asarray(site)
        if s.shape != (n,) or (s.size and not np.issubdtype(s.dtype, np.integer)):
            raise OptionError(
                f"optimise: site must be an int array with one entry per option ({n})"
            )
        site_arr = s.astype(np.int64)
    if max_per_site is not None:
        if site_arr is None:
            raise OptionError("optimise: max_per_site needs site (the site of each option)")
        if isinstance(max_per_site, bool) or int(max_per_site) != max_per_site or max_per_site < 1:
            raise OptionError(f"optimise: max_per_site must be an integer >= 1, got {max_per_site}")
        max_per_site = int(max_per_site)
        _, inv, cnt = np.unique(site_arr[ex], return_inverse=True, return_counts=True)
        if cnt.size and cnt.max() > max_per_site:
            bad = int(site_arr[ex][np.argmax(inv == np.argmax(cnt))])
            raise InfeasibleError(
                f"optimise: site {bad} already has {int(cnt.max())} existing cameras, more than "
                f"max_per_site={max_per_site}"
            )
    return Inputs(cover, w, c, costs is None, int(k), ex, site_arr, max_per_site, int(mat.nnz))


def finite_scalar(value: object, message: str) -> float:
    """``value`` as a float; :class:`OptionError` ``"<message>, got <value>"`` unless it is
    a finite real number (not a bool)."""
    if isinstance(value, bool | np.bool_) or not (
        isinstance(value, int | float | np.integer | np.floating) and np.isfinite(value)
    ):
        raise OptionError(f"{message}, got {value!r}")
    return float(value)


def _vector(values: object, size: int, name: str, *, default: float) -> FloatArray:
    if values is None:
        return np.full(size, default, np.float64)
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise OptionError(f"optimise: {name} must be numbers") from None
    if v.shape != (size,):
        raise OptionError(f"optimise: {name} must have shape ({size},), got {v.shape}")
    if not np.all(np.isfinite(v)) or (v.size and v.min() < 0):
        raise OptionError(f"optimise: {name} must be finite and >= 0")
    return v


def _cover_at(mat: sp.csr_matrix, level: IntArray) -> sp.csr_matrix:
    """(n, m) csr bool: the entries of ``mat`` that reach ``level`` of their column."""
    n, m = mat.shape
    if not mat.has_canonical_format:  # duplicates each count alone, as entries
        coo = mat.tocoo()
        keep = coo.data >= level[coo.col]
        cover = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.bool_), (coo.row[keep], coo.col[keep])), shape=(n, m)
        )
        cover.sum_duplicates()
        return cover
    # Filter in place of the CSR arrays: no coordinate copies of a matrix this large.
    lo, hi = (int(level.min()), int(level.max())) if level.size else (1, 1)
    keep = mat.data >= (lo if lo == hi else level[mat.indices])
    count = np.int32 if mat.nnz < np.iinfo(np.int32).max else np.int64
    first = np.concatenate([np.zeros(1, count), np.cumsum(keep, dtype=count)])
    return sp.csr_matrix(
        (np.ones(int(first[-1]), np.bool_), mat.indices[keep], first[mat.indptr]), shape=(n, m)
    )


def reduce_problem(inp: Inputs, *, seed: int) -> Reduced:
    """Drop what no choice changes, merge identical points and dominated options.

    Points that no k options cover, zero-weight points and points the existing options
    already cover k times leave the model (the last as ``const_weight``). Points covered by
    the same option set and needing the same count are merged with summed weight. Options
    that cover nothing left, or (k == 1, no site caps) whose point set lies inside that of
    an option no dearer, are dropped: swapping one for the other never loses.
    """
    cover, w, k, ex = inp.cover, inp.weights, inp.k, inp.existing
    n_all = cover.getnnz(axis=0).astype(np.int64)
    n_ex = np.asarray(cover[ex].sum(axis=0)).ravel().astype(np.int64) if ex.any() else 0
    coverable = n_all >= k
    coverable_weight = float(w[coverable].sum())
    req = k - n_ex * np.ones_like(n_all)
    done = coverable & (req <= 0)
    const_weight = float(w[done].sum())
    active_pts = np.flatnonzero(coverable & ~done & (w > 0))

    # Site caps left after the existing cameras took their places.
    if inp.site is not None:
        site_ids, site_of = np.unique(inp.site, return_inverse=True)
        cap_all = np.full(site_ids.size, inp.max_per_site or inp.n_options, np.int64)
        cap_all -= np.bincount(site_of[ex], minlength=site_ids.size)
        has_cap = inp.max_per_site is not None
    else:
        site_of = np.arange(inp.n_options, dtype=np.int64)
        cap_all = np.ones(inp.n_options, np.int64)
        has_cap = False
    cand = ~ex & (cap_all[site_of] > 0)
    sub = cover[:, active_pts]
    cand &= sub.getnnz(axis=1) > 0
    options = np.flatnonzero(cand)
    # Kept as bool until the points are merged: float64 copies of the whole matrix (and its
    # CSC) used to cost 24 bytes a pair here.
    Bs = sub[options]
    del sub
    req_s = req[active_pts]
    w_s = w[active_pts]

    # Merge points covered by the same option set (128-bit random hash of the set).
    if Bs.shape[1]:
        rng = np.random.default_rng(seed + 7919)
        csc = Bs.tocsc()
        csc.sort_indices()
        r1 = rng.integers(0, 2**63, size=Bs.shape[0], dtype=np.uint64)
        r2 = rng.integers(0, 2**63, size=Bs.shape[0], dtype=np.uint64)
        h1 = _col_sums(csc, r1)
        h2 = _col_sums(csc, r2)
        del csc
        keys = np.stack([req_s.astype(np.uint64), h1, h2], axis=1)
        _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        w_m: FloatArray = np.bincount(inv, weights=w_s, minlength=first.size).astype(np.float64)
        Bm = sp.csr_matrix(Bs[:, first], dtype=np.float64)
        req_m = req_s[first]
    else:
        Bm, w_m, req_m = sp.csr_matrix(Bs, dtype=np.float64), w_s, req_s
    del Bs
    cost = inp.costs[options]

    if k == 1 and not has_cap and Bm.shape[0] > 1:
        keep = ~dominated_options(Bm, cost)
        Bm, cost, options = sp.csr_matrix(Bm[keep]), cost[keep], options[keep]
    site_r = site_of[options]
    # The merged columns may now be uncovered by every kept option only if all their
    # coverers were dominated, which cannot happen: a dominator covers the same points.
    Bm.sort_indices()
    Bt = sp.csr_matrix(Bm.T)
    log.debug(
        "optimise: reduced %d x %d to %d x %d",
        inp.n_options,
        inp.n_points,
        Bm.shape[0],
        Bm.shape[1],
    )
    return Reduced(
        B=Bm,
        Bt=Bt,
        w=w_m.astype(np.float64),
        req=req_m.astype(np.int64),
        cost=cost,
        option=options.astype(np.int64),
        site=site_r.astype(np.int64),
        site_cap=cap_all,
        has_site_cap=has_cap,
        const_weight=const_weight,
        coverable_weight=coverable_weight,
        given_nnz=inp.given_nnz or int(cover.nnz),
    )


def _col_sums(csc: sp.csc_matrix, values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Wrapping uint64 sum of ``values[row]`` over each column's rows."""
    gathered = values[csc.indices]
    cums = np.concatenate([[np.uint64(0)], np.cumsum(gathered, dtype=np.uint64)])
    out: npt.NDArray[np.uint64] = cums[csc.indptr[1:]] - cums[csc.indptr[:-1]]
    return out


def reduce_full_cover(R: Reduced, *, rounds: int = 10) -> Reduced:
    """``R`` without the points that covering others covers too (full cover only).

    Point dominance (see :mod:`._dominance`) and, when every point needs one more option and
    no site cap binds, option dominance, alternated until neither drops anything (dropping
    points can leave options dominated, and the reverse). Options left covering nothing
    leave too. Any cover of the result covers every point of ``R``.
    """
    B, Bt, w, req, cost = R.B, R.Bt, R.w, R.req, R.cost
    option, site = R.option, R.site
    options_too = not R.has_site_cap and (req.size == 0 or int(req.max()) <= 1)
    for _ in range(rounds):
        drop_p = dominated_points(Bt, req)
        if drop_p.any():
            keep_p = ~drop_p
            Bt, w, req = sp.csr_matrix(Bt[keep_p]), w[keep_p], req[keep_p]
            B = sp.csr_matrix(Bt.T)
        keep_o = B.getnnz(axis=1) > 0
        if options_too and B.shape[0] > 1:
            keep_o &= ~dominated_options(B, cost)
        if keep_o.all():
            # Dropping points alone makes no new pair of points nested: done.
            break
        B, cost = sp.csr_matrix(B[keep_o]), cost[keep_o]
        option, site = option[keep_o], site[keep_o]
        Bt = sp.csr_matrix(B.T)
    B.sort_indices()
    Bt.sort_indices()
    log.debug("optimise: full cover reduced %d x %d to %d x %d", R.n, R.m, B.shape[0], B.shape[1])
    return replace(R, B=B, Bt=Bt, w=w, req=req, cost=cost, option=option, site=site)
