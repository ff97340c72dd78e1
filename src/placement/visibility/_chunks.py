"""The per-chunk worker: reach, field of view and occlusion for a run of sites."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.visibility._frames import _AZ_BINS, _AZ_SLACK_RAD, _LUT_AZ, _LUT_EL
from placement.visibility._occlusion import _embree_scene, _occluded_free
from placement.visibility._task import _expand, _site_ranges, _Task

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
IntpArray = npt.NDArray[np.intp]

#: Site-point candidates handled together inside a chunk: small enough that the numpy
#: temporaries stay in cache, big enough that per-call overhead stays small.
_BLOCK_PAIRS = 16_384

_STATE: tuple[_Task, Any] | None = None  # (task, Embree scene) of this process

# (chunk id, the options with visible pairs, how many each, point columns, DORI levels,
# counts and seconds) of a chunk; an option's entries are consecutive, points ascending.
_ChunkResult = tuple[
    int, IntpArray, IntpArray, npt.NDArray[np.int32], npt.NDArray[np.int8], dict[str, float]
]


def _init_worker(task: _Task) -> None:
    """Pool initializer (and the in-process path): build the Embree scene once."""
    global _STATE  # noqa: PLW0603 - per-process state is how a pool initializer hands over
    _STATE = (task, _embree_scene(task.vertices, task.faces))


def _worker_ready() -> bool:
    """Whether this process has run :func:`_init_worker`."""
    return _STATE is not None


def _clear_worker() -> None:
    """Drop this process's task and scene (the calling process, once its chunks are done)."""
    global _STATE  # noqa: PLW0603 - the in-process path uses the same per-process state
    _STATE = None


def _sector_table(task: _Task, lo: int, hi: int) -> tuple[IntpArray, IntpArray]:
    """Which options of the sites ``lo:hi`` can see each azimuth bin.

    Returns
    -------
    ptr ((hi - lo) * _AZ_BINS + 1,) and opt: the options of site ``lo + i`` whose sector
    reaches bin ``b`` are ``opt[ptr[i * _AZ_BINS + b] : ptr[i * _AZ_BINS + b + 1]]``.
    """
    opts = task.site_opt_order[task.site_opt_start[lo] : task.site_opt_start[hi]]
    site = np.repeat(np.arange(hi - lo, dtype=np.intp), np.diff(task.site_opt_start[lo : hi + 1]))
    width = 2.0 * math.pi / _AZ_BINS
    h, w = task.heading_rad[opts], task.sector_rad[opts] + _AZ_SLACK_RAD
    b0 = np.floor((h - w) / width).astype(np.intp)
    n = np.minimum(np.floor((h + w) / width).astype(np.intp) - b0 + 1, _AZ_BINS)
    n[w >= math.pi] = _AZ_BINS
    which = np.repeat(np.arange(opts.size, dtype=np.intp), n)
    bins = np.mod(_expand(b0, n), _AZ_BINS)
    key = site[which] * _AZ_BINS + bins
    # Keys come nearly sorted (site by site), which a stable sort (timsort) is quickest on.
    order = np.argsort(key, kind="stable")
    ptr = np.zeros((hi - lo) * _AZ_BINS + 1, np.intp)
    np.cumsum(np.bincount(key, minlength=(hi - lo) * _AZ_BINS), out=ptr[1:])
    return ptr, opts[which[order]]


def _in_view(
    task: _Task,
    opt: IntpArray,
    v: tuple[FloatArray, FloatArray, FloatArray],
    v32: tuple[Float32Array, Float32Array, Float32Array],
) -> BoolArray:
    """Whether each offset ``v`` (x, y, z components, metres from the lens) is inside
    option ``opt``'s view; the pinhole test runs on the float32 copy ``v32`` (it compares
    angles, not distances), the panoramic one in float64."""
    cam = task.camera
    vx, vy, vz = v
    if cam.panoramic:
        az = np.arctan2(vx, vy)
        below = np.arctan2(-vz, np.hypot(vx, vy))
        inside: BoolArray = np.abs(below - task.tilt_rad[opt]) <= math.radians(cam.vfov_deg) / 2
        if cam.hfov_deg < 360.0:
            dh = np.remainder(az - task.heading_rad[opt] + np.pi, 2 * np.pi)
            inside &= np.abs(dh - np.pi) <= math.radians(cam.hfov_deg) / 2
        return inside
    f = task.frames32
    x32, y32, z32 = v32
    # The products summed in this order reproduce the matrix product used before; the
    # right vector is horizontal, its z term is +-0 and changes no comparison.
    x = f[0].take(opt) * x32 + f[1].take(opt) * y32
    y = f[3].take(opt) * x32 + f[4].take(opt) * y32 + f[5].take(opt) * z32
    z = f[6].take(opt) * x32 + f[7].take(opt) * y32 + f[8].take(opt) * z32
    tan_h = np.float32(math.tan(math.radians(cam.hfov_deg) / 2.0))
    tan_v = np.float32(math.tan(math.radians(cam.vfov_deg) / 2.0))
    inside = z > 0
    inside &= np.abs(x) <= z * tan_h
    inside &= np.abs(y) <= z * tan_v
    return inside


@dataclass
class _Block:
    """The outcome of the cheap filters on one block of sites (before occlusion).

    Pairs are the (site, point) pairs in reach. Slot j holds each pair's j-th candidate
    option: ``(pairs, opt, inside)`` with pairs None when every pair has one. A segment
    is tested for every pair in ``seg``.
    """

    starts: Float32Array  # (S, 3) local metres, start margin applied
    dirs: Float32Array  # (S, 3) unit
    lengths: Float32Array  # (S,) metres, both margins applied
    seg: IntpArray  # (S,) the pair of each segment
    level: npt.NDArray[np.int8]  # (P,) DORI level of each pair (0 where not in view)
    pid: IntpArray  # (P,) demand index of each pair
    slots: list[tuple[IntpArray | None, IntpArray, BoolArray]]
    pairs_in_reach: int


def _filter_block(
    task: _Task,
    ranges: tuple[IntpArray, IntpArray, IntpArray],
    sectors: tuple[int, IntpArray, IntpArray],
) -> _Block:
    """Reach, density and field of view for the point ranges of a block of sites.

    ``ranges`` are from :func:`_site_ranges`, ``sectors`` is (first site, ptr, opt) from
    :func:`_sector_table` for the chunk holding the block.
    """
    cam = task.camera
    site, start, stop = ranges
    count = stop - start
    q = _expand(start, count)
    px, py, pz = task.points
    sx, sy, sz = task.sites.T
    vx = px.take(q) - np.repeat(sx[site], count)
    vy = py.take(q) - np.repeat(sy[site], count)
    vz = pz.take(q) - np.repeat(sz[site], count)
    # The same summation order (x, z, y) as the row-wise einsum used before: same bits.
    d = np.sqrt((vx * vx + vz * vz) + vy * vy)
    with np.errstate(divide="ignore"):
        reach = (d > 0) & (d <= cam.range_m) & (cam.px_m / d >= cam.covered_px_per_m)
    keep = np.flatnonzero(reach)
    q, d = q.take(keep), d.take(keep)
    vx, vy, vz = vx.take(keep), vy.take(keep), vz.take(keep)
    s = np.repeat(site, count).take(keep)
    n_reach = int(np.diff(task.site_opt_start)[s].sum())
    # Each pair is tested only against the options whose sector reaches its azimuth bin
    # (about 3 of 8 headings), one slot at a time so nothing is (options x points).
    lo, ptr, table = sectors
    x32, y32, z32 = vx.astype(np.float32), vy.astype(np.float32), vz.astype(np.float32)
    az = np.arctan2(x32, y32)
    ab = np.floor(az * np.float32(_LUT_AZ / (2.0 * math.pi))).astype(np.intp)
    ab &= _LUT_AZ - 1  # wraps negative bins
    key = (s - lo) * _AZ_BINS + ab // (_LUT_AZ // _AZ_BINS)
    first = ptr[key]
    n_cand = ptr[key + 1] - first
    lut = task.view_lut
    if lut is not None:
        eb = np.floor((vz / d + 1.0) * (_LUT_EL / 2.0))
        cell = ab * _LUT_EL + np.clip(eb, 0, _LUT_EL - 1).astype(np.intp)
        one_tilt = not task.opt_lut.any()
    # Per slot: the pairs that have one (None = all), their option, and whether it sees.
    slots: list[tuple[IntpArray | None, IntpArray, BoolArray]] = []
    edges: list[tuple[int, IntpArray, IntpArray]] = []  # (slot, where, pair) to test
    for j in range(int(n_cand.max()) if n_cand.size else 0):
        live = np.flatnonzero(n_cand > j)
        everyone = live.size == q.size
        o = table[(first if everyone else first.take(live)) + j]
        if lut is not None:
            # Cell of (azimuth - heading, elevation); wraps round the circle.
            c = (cell if everyone else cell.take(live)) - task.opt_hbin.take(o)
            c &= _LUT_AZ * _LUT_EL - 1
            if not one_tilt:
                c += task.opt_lut.take(o)
            state = lut.take(c)
            inside = state == 1
            edge = np.flatnonzero(state == 2)
            if edge.size:
                edges.append((j, edge, edge if everyone else live.take(edge)))
        elif everyone:
            inside = _in_view(task, o, (vx, vy, vz), (x32, y32, z32))
        elif task.camera.panoramic:
            v = (vx.take(live), vy.take(live), vz.take(live))
            inside = _in_view(task, o, v, (x32, y32, z32))
        else:
            v32 = (x32.take(live), y32.take(live), z32.take(live))
            inside = _in_view(task, o, (vx, vy, vz), v32)
        slots.append((None if everyone else live, o, inside))
    if edges:
        # The pairs on a view's edge, all slots at once: one exact test.
        pe = np.concatenate([e[2] for e in edges])
        oe = np.concatenate([slots[j][1].take(w) for j, w, _ in edges])
        res = _in_view(task, oe, (vx, vy, vz), (x32.take(pe), y32.take(pe), z32.take(pe)))
        at = 0
        for j, w, _ in edges:
            slots[j][2][w] = res[at : at + w.size]
            at += w.size
    seen = np.zeros(q.size, dtype=bool)
    for live_j, _, inside in slots:
        if live_j is None:
            seen |= inside
        else:
            seen[live_j[inside]] = True
    seg = np.flatnonzero(seen)
    ds = d.take(seg)
    px_m = cam.px_m / ds
    lvl = np.zeros(seg.size, np.int8)
    for t in cam.dori_px_per_m:  # the comparisons of Camera.level
        lvl += px_m >= t
    lvl[px_m < cam.covered_px_per_m] = 0
    level = np.zeros(q.size, np.int8)
    level[seg] = lvl
    ss = s.take(seg)
    n_seg = seg.size
    starts = np.empty((n_seg, 3), np.float32)
    dirs = np.empty((n_seg, 3), np.float32)
    for k, (vk, sk) in enumerate(((vx, sx), (vy, sy), (vz, sz))):
        u = vk.take(seg) / ds
        dirs[:, k] = u
        starts[:, k] = sk[ss] + u * task.start_margin_m
    return _Block(
        starts=starts,
        dirs=dirs,
        lengths=(ds - task.start_margin_m - task.end_margin_m).astype(np.float32),
        seg=seg,
        level=level,
        pid=task.point_ids.take(q),
        slots=slots,
        pairs_in_reach=n_reach,
    )


def _blocks(task: _Task, lo: int, hi: int) -> list[tuple[IntpArray, IntpArray, IntpArray]]:
    """The point ranges of the sites ``lo:hi`` cut into blocks of about _BLOCK_PAIRS."""
    if task.ranges is None:
        site, start, stop = _site_ranges(task, lo, hi)
    else:
        a, b = np.searchsorted(task.ranges[0], [lo, hi])
        site, start, stop = (r[a:b] for r in task.ranges)
    if not site.size:
        return []
    # Cut between sites only, where the running count crosses a multiple of the block.
    per_site = np.bincount(site - lo, weights=stop - start, minlength=hi - lo)
    ends = np.cumsum(per_site)
    cuts = np.unique(
        np.searchsorted(
            ends, np.arange(1, int(ends[-1] // _BLOCK_PAIRS) + 1) * _BLOCK_PAIRS, side="left"
        )
        + 1
    )
    bounds = np.searchsorted(site, np.concatenate([[lo], lo + cuts[cuts < hi - lo], [hi]]))
    return [
        (site[a:b], start[a:b], stop[a:b])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        if b > a
    ]


def _run_chunk(args: tuple[int, int, int]) -> _ChunkResult:
    """Decide every pair of the sites ``lo:hi``; returns the visible (option, point, level)
    sorted by option, then point."""
    chunk_id, lo, hi = args
    if _STATE is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("visibility worker used before its initializer")
    task, scene = _STATE
    stats = dict.fromkeys(
        ("pairs_in_reach", "pairs_in_view", "segments_tested", "filter", "occlusion"), 0.0
    )
    keys: list[npt.NDArray[np.int64]] = []
    shift = 3 + max(1, task.n_points.bit_length())  # point and level bits of a key
    t0 = time.perf_counter()
    sectors = (lo, *_sector_table(task, lo, hi))
    stats["filter"] += time.perf_counter() - t0
    for ranges in _blocks(task, lo, hi):
        t0 = time.perf_counter()
        blk = _filter_block(task, ranges, sectors)
        t1 = time.perf_counter()
        clear = np.zeros(blk.level.size, dtype=bool)
        clear[blk.seg] = _occluded_free(scene, blk.starts, blk.dirs, blk.lengths)
        t2 = time.perf_counter()
        # One int64 per visible pair, (option, point, level) bit fields: a sort orders the
        # block by option, then point (an option's pairs all lie in one block).
        low = (blk.pid << 3) | blk.level
        parts = []
        for live, o, inside in blk.slots:
            stats["pairs_in_view"] += np.count_nonzero(inside)
            keep = np.flatnonzero(inside & (clear if live is None else clear.take(live)))
            pair = keep if live is None else live.take(keep)
            parts.append((o.take(keep) << shift) | low.take(pair))
        k = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        k.sort()
        keys.append(k)
        stats["pairs_in_reach"] += blk.pairs_in_reach
        stats["segments_tested"] += blk.seg.size
        stats["filter"] += t1 - t0 + time.perf_counter() - t2
        stats["occlusion"] += t2 - t1
    t0 = time.perf_counter()
    k = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    row = k >> shift
    first = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]])) if k.size else row
    out = (
        chunk_id,
        row[first].astype(np.intp),
        np.diff(np.append(first, k.size)).astype(np.intp),
        ((k >> 3) & ((1 << (shift - 3)) - 1)).astype(np.int32),
        (k & 7).astype(np.int8),
        stats,
    )
    stats["filter"] += time.perf_counter() - t0
    return out
