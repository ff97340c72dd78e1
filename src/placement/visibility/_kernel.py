"""The compiled visibility kernel: reach, field of view, DORI level and occlusion in one pass.

One call decides every (option, point) pair of a run of lens positions ("sites"). For each
site it walks the slices of grid-ordered demand points near it (see ``_task``) and, per
point: slant distance and the reach test (range, pixel density); the field-of-view test of
each option of the site; and, when at least one option has the point in view, one Embree
OCCLUDED query on the lens-to-point segment, shared by all those options. The visible
points of a site are then sorted by demand index and written out option by option, so
each option's entries are one run with its points ascending (CSR order).

Numba compiles it (cached on disk after the first use) with the GIL released: threads run
it side by side, and it calls ``rtcOccluded1`` through :data:`_embree.OCCLUDED1`, passed in
as a first-class function. The arithmetic repeats, operation for operation, the documented
tests (pinhole test in float32, distances and the panoramic test in float64), so the
answers do not depend on how the work is split.
"""

# Compiled functions take their arrays positionally (numba has no keyword-only arguments).
# ruff: noqa: PLR0917

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

# Layout of the float parameters passed as one array.
P_RANGE, P_PX_M, P_COVERED, P_TAN_H, P_TAN_V, P_START, P_END = range(7)
P_PANORAMIC, P_VFOV_HALF, P_HFOV_HALF, P_FULL_CIRCLE = range(7, 11)
N_PARAMS = 11
# Counters returned in ``stats``.
S_REACH, S_VIEW, S_SEGMENTS = range(3)


#: Rays per Embree packet query (``rtcOccluded16``).
PACKET = 16
#: Floats per lane of the packet buffer. An RTCRay16 holds 12, but on a CPU without native
#: 16-wide packets (no AVX-512) Embree traces the lanes one by one and reads and writes
#: each back as an RTCRayHit16 (21 floats a lane: the ray and the 9 fields of its hit
#: record), past the end of an RTCRay16. With two threads those stray writes put back
#: another thread's stale bytes (an audit: 2-5 % of repeated calls failed, and a matrix
#: came back silently different). The buffer holds a whole RTCRayHit16, and to spare.
PACKET_FLOATS = 32


@numba.njit(inline="always")
def _octant(vx: float, vy: float) -> int:
    """The 45-degree octant of the azimuth (clockwise from +y) of the offset (vx, vy)."""
    ax, ay = abs(vx), abs(vy)
    if vx >= 0.0:
        if vy >= 0.0:
            return 0 if ax < ay else 1
        return 2 if ax >= ay else 3
    if vy < 0.0:
        return 4 if ax < ay else 5
    return 6 if ax >= ay else 7


@numba.njit(inline="always")
def _aligned(n: int, dtype: Any) -> Any:
    """An n-element array whose data starts on a 64-byte boundary (Embree packets)."""
    raw = np.zeros(n + 16, dtype)
    skip = ((64 - raw.ctypes.data % 64) % 64) // raw.itemsize
    return raw[skip : skip + n]


@numba.njit(inline="always")
def _radix_order(keys: Any, n: int, order: Any, spare: Any, count: Any) -> Any:
    """Indices 0..n-1 ordered by ``keys[:n]`` (non-negative, distinct or not: stable).

    Least-significant-digit radix sort, one byte a pass, as many passes as the spread of
    the keys needs: a few hundred keys per site sort several times faster than with a
    comparison sort, and with no data-dependent branches. ``order`` and ``spare`` hold n
    or more, ``count`` 257. Returns whichever of the two holds the result.
    """
    lo = keys[0]
    hi = keys[0]
    for i in range(n):
        lo = min(lo, keys[i])
        hi = max(hi, keys[i])
        order[i] = i
    span = hi - lo
    shift = 0
    while True:
        count[:] = 0
        for i in range(n):
            count[((keys[order[i]] - lo) >> shift) & 255] += 1
        total = 0
        for b in range(256):
            c = count[b]
            count[b] = total
            total += c
        for i in range(n):
            o = order[i]
            b = ((keys[o] - lo) >> shift) & 255
            spare[count[b]] = o
            count[b] += 1
        order, spare = spare, order
        shift += 8
        if (span >> shift) == 0:
            return order


@numba.njit(nogil=True, cache=True)
def run_sites(
    occluded16: Any,
    scene: int,
    px: Any,
    py: Any,
    pz: Any,
    pid: Any,
    sites: Any,
    r_site: Any,
    r_start: Any,
    r_stop: Any,
    opt_order: Any,
    opt_start: Any,
    oct_ptr: Any,
    oct_opt: Any,
    frames: Any,
    heading: Any,
    tilt: Any,
    params: Any,
    dori: Any,
    out_row: Any,
    out_len: Any,
    out_col: Any,
    out_lvl: Any,
    segments: Any,
    stats: Any,
) -> tuple[int, int]:
    """Decide the pairs of the sites named in ``r_site`` (ascending, with their point
    slices ``r_start:r_stop``).

    Options are in site order: site s owns positions ``opt_start[s]:opt_start[s + 1]`` of
    ``frames`` (9, M), ``heading`` and ``tilt``, which are options ``opt_order[...]``.
    ``oct_ptr`` / ``oct_opt`` list the options of each site that can see into each octant
    (``_frames._octant_table``).

    Writes the runs (``out_row`` option, ``out_len`` entries) and entries (``out_col``
    demand index, ``out_lvl`` DORI level); ``segments`` (K, 7) float32, when K > 0, gets
    each tested segment (start xyz, unit direction xyz, length) in test order. ``stats``
    (3,) int64 adds pairs in reach, pairs in view and segments tested.

    Returns (runs written, entries written).
    """
    range_m = params[P_RANGE]
    px_m = params[P_PX_M]
    covered = params[P_COVERED]
    tan_h = np.float32(params[P_TAN_H])
    tan_v = np.float32(params[P_TAN_V])
    start_m = params[P_START]
    end_m = params[P_END]
    panoramic = params[P_PANORAMIC] != 0.0
    vfov_half = params[P_VFOV_HALF]
    hfov_half = params[P_HFOV_HALF]
    full_circle = params[P_FULL_CIRCLE] != 0.0
    record = segments.shape[0] > 0
    # Squared distance past which no test can pass (a hair wide: the exact tests follow).
    reach = min(range_m, px_m / covered) if covered > 0 else range_m
    far2 = (reach * (1.0 + 1e-6) + 1e-6) ** 2
    n_dori = dori.shape[0]

    # Buffers for one site, sized for the largest site of the call.
    n_ranges = r_site.shape[0]
    most_points = 0
    most_opts = 1
    k = 0
    while k < n_ranges:
        s = r_site[k]
        total = 0
        while k < n_ranges and r_site[k] == s:
            total += r_stop[k] - r_start[k]
            k += 1
        most_points = max(most_points, total)
        most_opts = max(most_opts, opt_start[s + 1] - opt_start[s])
    cand_g = np.empty(most_points, np.int64)  # grid index of each point in view
    cand_d = np.empty(most_points, np.float64)  # its slant distance
    cand_in = np.zeros((most_opts, most_points), np.bool_)  # which options see it (octant's)
    cand_oc = np.empty(most_points, np.int64)  # its octant row in oct_ptr
    vis = np.empty(most_points, np.int64)  # candidates with a clear line of sight
    vis_pid = np.empty(most_points, np.int64)
    vis_lvl = np.empty(most_points, np.int8)
    sort_a = np.empty(most_points, np.int64)
    sort_b = np.empty(most_points, np.int64)
    sort_count = np.zeros(257, np.int64)
    slot = np.empty((most_opts, most_points + 1), np.int64)  # per option: into vis
    n_slot = np.zeros(most_opts, np.int64)
    # RTCRay16 (structure of arrays) in front, room for Embree's hit record behind it.
    ray = _aligned(PACKET_FLOATS * PACKET, np.float32)
    ray_u = ray.view(np.uint32)
    valid = _aligned(PACKET, np.int32)
    ray_ptr = ray.ctypes.data
    valid_ptr = valid.ctypes.data

    n_runs = 0
    n_out = 0
    n_seg = 0
    n_reach = 0
    n_view = 0
    k = 0
    while k < n_ranges:
        s = r_site[k]
        sx, sy, sz = sites[s, 0], sites[s, 1], sites[s, 2]
        o0 = opt_start[s]
        n_opt = opt_start[s + 1] - o0
        # 1. Reach and field of view of every candidate point of the site.
        n_c = 0
        while k < n_ranges and r_site[k] == s:
            for g in range(r_start[k], r_stop[k]):
                vx = px[g] - sx
                vy = py[g] - sy
                vz = pz[g] - sz
                d2 = (vx * vx + vz * vz) + vy * vy
                if d2 > far2:  # clearly out of reach: no square root, no division
                    continue
                d = math.sqrt(d2)
                # Short-circuit: a point at the lens itself (d = 0) is not divided by.
                if not (d > 0.0 and d <= range_m and px_m / d >= covered):
                    continue
                n_reach += n_opt
                # Only the options of the point's octant are tested (and read later).
                oc = 8 * s + _octant(vx, vy)
                n_in = 0
                if panoramic:
                    below = math.atan2(-vz, math.hypot(vx, vy))
                    az = math.atan2(vx, vy)
                    for t in range(oct_ptr[oc], oct_ptr[oc + 1]):
                        j = oct_opt[t]
                        inside = abs(below - tilt[o0 + j]) <= vfov_half
                        if inside and not full_circle:
                            dh = (az - heading[o0 + j] + math.pi) % (2.0 * math.pi)
                            inside = abs(dh - math.pi) <= hfov_half
                        cand_in[j, n_c] = inside
                        n_in += inside
                else:
                    x32, y32, z32 = np.float32(vx), np.float32(vy), np.float32(vz)
                    for t in range(oct_ptr[oc], oct_ptr[oc + 1]):
                        j = oct_opt[t]
                        q = o0 + j
                        fx = frames[0, q] * x32 + frames[1, q] * y32
                        fy = frames[3, q] * x32 + frames[4, q] * y32 + frames[5, q] * z32
                        fz = frames[6, q] * x32 + frames[7, q] * y32 + frames[8, q] * z32
                        # Bitwise, not short-circuit: no branches to mispredict.
                        inside = (fz > 0) & (abs(fx) <= fz * tan_h) & (abs(fy) <= fz * tan_v)
                        cand_in[j, n_c] = inside
                        n_in += inside
                if n_in == 0:
                    continue
                n_view += n_in
                cand_g[n_c] = g
                cand_d[n_c] = d
                cand_oc[n_c] = oc
                n_c += 1
            k += 1
        if n_c == 0:
            continue
        # 2. One segment per candidate, shared by the options that see it, tested in
        # packets of 16 (rays from one lens to neighbouring points: coherent).
        n_vis = 0
        for i0 in range(0, n_c, PACKET):
            m = min(PACKET, n_c - i0)
            live = 0
            for lane in range(PACKET):
                valid[lane] = 0
                if lane >= m:
                    continue
                g = cand_g[i0 + lane]
                d = cand_d[i0 + lane]
                ux = (px[g] - sx) / d
                uy = (py[g] - sy) / d
                uz = (pz[g] - sz) / d
                length = np.float32(d - start_m - end_m)
                ox = np.float32(sx + ux * start_m)
                oy = np.float32(sy + uy * start_m)
                oz = np.float32(sz + uz * start_m)
                if record:
                    segments[n_seg, 0] = ox
                    segments[n_seg, 1] = oy
                    segments[n_seg, 2] = oz
                    segments[n_seg, 3] = np.float32(ux)
                    segments[n_seg, 4] = np.float32(uy)
                    segments[n_seg, 5] = np.float32(uz)
                    segments[n_seg, 6] = length
                n_seg += 1
                if length > 0 and scene != 0:
                    ray[lane] = ox
                    ray[PACKET + lane] = oy
                    ray[2 * PACKET + lane] = oz
                    ray[3 * PACKET + lane] = 0.0
                    ray[4 * PACKET + lane] = ux
                    ray[5 * PACKET + lane] = uy
                    ray[6 * PACKET + lane] = uz
                    ray[7 * PACKET + lane] = 0.0
                    ray[8 * PACKET + lane] = length
                    ray_u[9 * PACKET + lane] = 0xFFFFFFFF
                    ray_u[10 * PACKET + lane] = 0
                    ray_u[11 * PACKET + lane] = 0
                    valid[lane] = -1
                    live += 1
            if live:
                occluded16(valid_ptr, scene, ray_ptr, 0)
            for lane in range(m):
                # Embree sets tfar to -inf on a hit; lanes not sent count as clear.
                if valid[lane] == 0 or ray[8 * PACKET + lane] >= 0.0:
                    i = i0 + lane
                    vis[n_vis] = i
                    vis_pid[n_vis] = pid[cand_g[i]]
                    density = px_m / cand_d[i]
                    lvl = 0
                    for t in range(n_dori):
                        lvl += density >= dori[t]
                    vis_lvl[n_vis] = 0 if density < covered else lvl
                    n_vis += 1
        if n_vis == 0:
            continue
        # 3. Option by option, the visible points in demand order (CSR runs). Each
        # point is dealt to the options of its octant without branches (the slot is
        # written anyway, the count only moves when the option sees it), then each
        # option's slots are copied out.
        order = _radix_order(vis_pid, n_vis, sort_a, sort_b, sort_count)[:n_vis]
        for j in range(n_opt):
            n_slot[j] = 0
        for i in order:
            c = vis[i]
            oc = cand_oc[c]
            for t in range(oct_ptr[oc], oct_ptr[oc + 1]):
                j = oct_opt[t]
                slot[j, n_slot[j]] = i
                n_slot[j] += cand_in[j, c]
        for j in range(n_opt):
            count = n_slot[j]
            if count == 0:
                continue
            for r in range(count):
                i = slot[j, r]
                out_col[n_out + r] = vis_pid[i]
                out_lvl[n_out + r] = vis_lvl[i]
            out_row[n_runs] = opt_order[o0 + j]
            out_len[n_runs] = count
            n_runs += 1
            n_out += count
    stats[S_REACH] += n_reach
    stats[S_VIEW] += n_view
    stats[S_SEGMENTS] += n_seg
    return n_runs, n_out


@numba.njit(nogil=True, cache=True)
def clear_segments(
    occluded: Any, scene: int, starts: Any, dirs: Any, lengths: Any, out: Any
) -> None:
    """``out[i]`` = the segment ``starts[i] + t dirs[i]``, 0 <= t <= ``lengths[i]``, hits
    nothing (segments of length <= 0 count as clear)."""
    ray = np.zeros(12, np.float32)
    ray_u = ray.view(np.uint32)
    ray_ptr = ray.ctypes.data
    for i in range(lengths.shape[0]):
        out[i] = True
        if lengths[i] > 0 and scene != 0:
            ray[0], ray[1], ray[2], ray[3] = starts[i, 0], starts[i, 1], starts[i, 2], 0.0
            ray[4], ray[5], ray[6], ray[7] = dirs[i, 0], dirs[i, 1], dirs[i, 2], 0.0
            ray[8] = lengths[i]
            ray_u[9] = 0xFFFFFFFF
            ray_u[10] = 0
            ray_u[11] = 0
            occluded(scene, ray_ptr, 0)
            out[i] = ray[8] >= 0.0
