"""Subset dominance between options and between demand points, compiled with numba.

Two reductions of a covering problem rest on one question: which sets of a family lie inside
another? Here a family is the rows of a CSR 0/1 matrix (options as sets of points, or points
as sets of the options that see them).

- Option dominance (k == 1, no site caps): an option whose points all lie inside those of an
  option no dearer can be dropped; swapping it for the other never loses.
- Point dominance (full cover only): when the options seeing point p all see point q too and p
  needs at least as many, any cover of p covers q, so q can leave the model. On the
  2,000 x 20,000 benchmark this drops 13,857 of 19,293 merged points (then 52 options
  dominated), and SCIP's 60 s bound rises from 791.3 to 793.7.

For each set r the kernel marks r's elements, then tests only the sets whose rarest element
is one of them (a subset of r must contain its own rarest element, which r then holds), each
against the marks. Which of a pair is dropped is decided by a key (lower is better) and, for
equal sets with equal keys, the index, so "is dropped for" is a strict order and every
dropped set has a kept set that does its job. The work is capped; stopping early only finds
fewer pairs, and each drop found stays valid.
"""

# Matrix names follow the maths (B options x points, Bt its transpose); numba kernels take
# flat arguments.
# ruff: noqa: N803, PLR0917

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Element tests before the search stops (about a second at the slowest).
_WORK = 300_000_000


@numba.njit(cache=True, nogil=True)
def _dominated(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    n_elems: int,
    key: FloatArray,
    drop_superset: bool,
    budget: int,
) -> tuple[BoolArray, int]:  # pragma: no cover - compiled
    m = indptr.size - 1
    deg = np.zeros(n_elems, np.int64)
    for t in range(indices.size):
        deg[indices[t]] += 1
    # Each set's rarest element (lowest index among ties), and the sets bucketed by it.
    rare = np.full(m, -1, np.int64)
    for r in range(m):
        best = -1
        for t in range(indptr[r], indptr[r + 1]):
            e = indices[t]
            if best < 0 or deg[e] < deg[best] or (deg[e] == deg[best] and e < best):
                best = e
        rare[r] = best
    start = np.zeros(n_elems + 1, np.int64)
    for r in range(m):
        if rare[r] >= 0:
            start[rare[r] + 1] += 1
    for e in range(n_elems):
        start[e + 1] += start[e]
    fill = start[:-1].copy()
    bucket = np.empty(start[n_elems], np.int64)
    for r in range(m):
        if rare[r] >= 0:
            bucket[fill[rare[r]]] = r
            fill[rare[r]] += 1

    stamp = np.full(n_elems, -1, np.int64)
    drop = np.zeros(m, np.bool_)
    work = 0
    for r in range(m):
        if work > budget:
            break
        size_r = indptr[r + 1] - indptr[r]
        if size_r == 0:
            continue
        for t in range(indptr[r], indptr[r + 1]):
            stamp[indices[t]] = r
        work += size_r
        for t in range(indptr[r], indptr[r + 1]):
            e = indices[t]
            for b in range(start[e], start[e + 1]):
                s = bucket[b]
                if s == r:
                    continue
                size_s = indptr[s + 1] - indptr[s]
                if size_s > size_r:
                    continue
                inside = True
                for u in range(indptr[s], indptr[s + 1]):
                    if stamp[indices[u]] != r:
                        inside = False
                        break
                work += size_s
                if not inside:
                    continue
                # s lies inside r.
                if size_s == size_r:
                    # Equal sets: the worse key goes, or on equal keys the higher index.
                    if key[s] < key[r] or (key[s] == key[r] and s < r):
                        drop[r] = True
                    else:
                        drop[s] = True
                elif drop_superset:
                    if key[s] <= key[r]:
                        drop[r] = True
                elif key[r] <= key[s]:
                    drop[s] = True
    return drop, work


def dominated_options(B: sp.csr_matrix, cost: FloatArray, *, budget: int = _WORK) -> BoolArray:
    """Options whose points lie inside those of another option no dearer (to drop).

    Of options with equal point sets and equal cost the lowest index stays.
    """
    drop, _ = _dominated(
        B.indptr.astype(np.int64),
        B.indices.astype(np.int64),
        int(B.shape[1]),
        np.asarray(cost, np.float64),
        False,
        int(budget),
    )
    out: BoolArray = drop
    return out


def dominated_points(
    Bt: sp.csr_matrix, req: npt.NDArray[np.int64], *, budget: int = _WORK
) -> BoolArray:
    """Points that any cover of another point also covers (to drop, full cover only).

    Point q goes when some point p is seen only by options that see q too and needs at least
    as many of them (``req``); of points with equal sets and needs the lowest index stays.
    """
    drop, _ = _dominated(
        Bt.indptr.astype(np.int64),
        Bt.indices.astype(np.int64),
        int(Bt.shape[1]),
        -np.asarray(req, np.float64),
        True,
        int(budget),
    )
    out: BoolArray = drop
    return out
