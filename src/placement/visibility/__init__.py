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
   frustum, widened by one 5.6-degree azimuth bin) can hold it: about 3 of 8 headings for
   the default camera. For a pinhole camera a table per tilt, indexed by (azimuth minus
   heading, sine of elevation) cells, then decides most of these at once: cells proven
   wholly inside or outside the view (with a margin above every rounding error) answer
   directly, and only pairs in cells on the view's edge run the float32 test above, so
   the answers are those of the test itself.
3. Occlusion: one Embree OCCLUDED query on the segment from the lens to the point. The
   segment starts ``START_MARGIN_M`` (0.3 m) out from the lens so that the pole the camera
   hangs on, or a wall it is fixed flush to, does not hide everything; it stops
   ``END_MARGIN_M`` (0.05 m) short of the point so that a surface the point lies on does
   not hide it. The segment depends only on the lens position and the point, so options
   that share a site (other headings and tilts) share one test.

Work is split into chunks of distinct lens positions holding at most ``chunk_pairs``
candidate (option, point) pairs each (a single site with more gets a chunk of its own),
so memory stays bounded however many pairs there are; inside a chunk the filters run on
blocks of about 16 k (site, point) pairs so that the temporaries stay in cache. With
``workers`` > 1 (and enough work) chunks also run in ``workers - 1`` pool processes
(Embree holds the GIL, so threads would not help) started from a forkserver that has
this package preloaded; each builds the Embree scene once in its initializer, and the
calling process works through chunks meanwhile. The result is identical for any number
of workers or chunk size.

The result can be cached on disk under a key hashed from every input that changes it.

Private modules: ``_coverage`` (the result, its cache file and key), ``_occlusion`` (Embree
scenes and segment queries), ``_frames`` (camera frames, sectors, field-of-view tables),
``_task`` (the work order and the point grid), ``_chunks`` (the per-chunk worker), ``_pool``
(the forkserver pool) and ``_compute`` (:func:`compute_coverage` itself).
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
