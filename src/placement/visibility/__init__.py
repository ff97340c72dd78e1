"""Occlusion-aware coverage: which camera option sees which demand point, and how well.

:func:`compute_coverage` returns a :class:`Coverage` whose sparse matrix holds, for every
(option, demand point) pair that is seen, the best DORI level (1..4) of the camera there.

How a pair is decided
---------------------
1. Reach: the slant distance ``d`` from the lens to the point is at most ``range_m`` and the
   pixel density ``Camera.px_per_m(d)`` reaches ``Camera.covered_px_per_m``. The demand
   points are kept in the row-major order of a square grid (cells of reach / 6), so the
   points near a lens position are a few slices (one per cell row the reach circle
   touches); the exact test runs on the distances. This, the slant distance and the DORI
   level are computed once per (lens position, point), not once per option.
2. Field of view. A rectilinear camera (hfov < 180) is a pinhole: the vector to the point
   is rotated into the camera frame (right, up, forward; forward = heading clockwise from
   +y, tilted ``tilt_deg`` below the horizon, no roll) and the point must lie in front and
   inside the image rectangle: ``|x| <= z tan(hfov/2)`` and ``|y| <= z tan(vfov/2)``. Both
   angles are thus measured in the camera frame, so a tilted camera's view widens towards
   its bottom edge as a real one does. A panoramic / PTZ camera (hfov >= 180) is
   cylindrical: the azimuth of the point from the heading is within hfov/2 (any azimuth
   at 360) and its angle below the horizon is within ``tilt +- vfov/2``. A point is only
   tested against the options of its site whose horizontal sector (the plan view of the
   frustum) reaches the point's 45-degree octant of azimuth, found from the signs and
   sizes of its offsets: about 3.6 of 8 headings for the default camera.
3. Occlusion: one Embree OCCLUDED query on the segment from the lens to the point. The
   segment starts ``START_MARGIN_M`` (0.3 m) out from the lens so that the pole the camera
   hangs on, or a wall it is fixed flush to, does not hide everything (a camera on a
   PLATEAU pole, whose mesh is in the occluders, is on a bracket outside it:
   :func:`placement.sites.make_options`); it stops
   ``END_MARGIN_M`` (0.05 m) short of the point so that a surface the point lies on does
   not hide it. The segment depends only on the lens position and the point, so options
   that share a site (other headings and tilts) share one test. The segments of a site go
   to Embree in packets of 16 (``rtcOccluded16``): rays from one lens to neighbouring
   points are coherent, which CPUs with 16-wide SIMD (AVX-512) trace together. Without it
   (this project's 2-core AVX2 machine) Embree traces the lanes one at a time, and packets
   cost what single rays do (Osaka 51357353, one thread: 52 against 53 ms).

All three steps run in one compiled pass (``_kernel``, numba, cached on disk after the
first use) that calls Embree through a ctypes binding of the ``libembree4`` embreex ships
(``_embree``), without the GIL. Work is split into chunks of distinct lens positions
holding at most ``chunk_pairs`` candidate (option, point) pairs each (a single site with
more gets a chunk of its own), so memory stays bounded however many pairs there are. With
``workers`` > 1 (and at least ``min_parallel_pairs`` candidate pairs) the chunks run on that
many threads sharing one Embree scene. Each site's visible points are sorted by demand
index (a radix sort) and dealt out option by option, so the chunks' outputs concatenate
into a CSR matrix with sorted indices. The result is identical for any number of workers
or chunk size.

The result can be cached on disk under a key hashed from every input that changes it.

Private modules: ``_coverage`` (the result, its cache file and key), ``_embree`` (the
ctypes binding), ``_kernel`` (the compiled pass), ``_occlusion`` (margins and
:func:`segments_clear`), ``_frames`` (sectors and the octant table), ``_prep`` (compiled
layout helpers: bounds, point grid, frames, site slices), ``_task`` (the work order),
``_chunks`` (one chunk through the kernel) and ``_compute`` (:func:`compute_coverage`).
"""

from __future__ import annotations

from placement.visibility._compute import MIN_PARALLEL_PAIRS, compute_coverage
from placement.visibility._coverage import FORMAT_VERSION, Coverage, coverage_key
from placement.visibility._occlusion import END_MARGIN_M, START_MARGIN_M, segments_clear

__all__ = [
    "END_MARGIN_M",
    "FORMAT_VERSION",
    "MIN_PARALLEL_PAIRS",
    "START_MARGIN_M",
    "Coverage",
    "compute_coverage",
    "coverage_key",
    "segments_clear",
]
