"""The horizontal sector of each option and the azimuth octants it can see."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from placement.camera import Camera

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]

#: Margin (radians) on each option's sector when listing the octants it reaches.
_OCTANT_SLACK_RAD = 1e-3


def _sectors(camera: Camera, heading_rad: FloatArray, tilt_rad: FloatArray) -> FloatArray:
    """(M,) half-width (radians) of the azimuths around each heading an option can see.

    A pinhole view is the cone spanned by its four corner rays; when every corner points
    forward (horizontally), the plan view of the cone is bounded by the two corners of
    the edge nearest the vertical, whose forward component is ``cos t - |sin t| tan(v/2)``.
    """
    if camera.panoramic:
        pano = math.pi if camera.hfov_deg >= 360.0 else math.radians(camera.hfov_deg) / 2.0
        return np.full(heading_rad.shape, pano)
    tan_h = math.tan(math.radians(camera.hfov_deg) / 2.0)
    tan_v = math.tan(math.radians(camera.vfov_deg) / 2.0)
    ahead = np.cos(tilt_rad) - np.abs(np.sin(tilt_rad)) * tan_v
    # A view that takes in the zenith or the nadir sees every azimuth.
    out: FloatArray = np.where(ahead > 1e-9, np.arctan2(tan_h, ahead), math.pi)
    return out


def _octant_table(
    site_opt_start: IntpArray, heading_rad: FloatArray, sector_rad: FloatArray
) -> tuple[IntpArray, IntpArray]:
    """Which options of each site can see into each 45-degree octant of azimuth.

    Octant k holds the azimuths (clockwise from +y) in [45 k, 45 (k + 1)) degrees; the
    kernel finds a point's octant from the signs and sizes of its offsets alone. Options
    are in site order (``heading_rad[i]`` is the i-th option in site order). An option is
    listed for an octant its sector reaches, with a margin (_OCTANT_SLACK_RAD) far above
    any rounding, so a point on an octant's edge is never missed.

    Returns
    -------
    ptr (U * 8 + 1,) and opt: the options (indices local to the site, 0 = its first) of
    site s whose sector reaches octant k are ``opt[ptr[8 s + k] : ptr[8 s + k + 1]]``.
    """
    n_sites = site_opt_start.shape[0] - 1
    ptr = np.zeros(n_sites * 8 + 1, np.intp)
    opt = np.empty(heading_rad.shape[0] * 8, np.intp)
    n = _fill_octants(site_opt_start, heading_rad, sector_rad, _OCTANT_SLACK_RAD, ptr, opt)
    return ptr, opt[:n].copy()


@numba.njit(cache=True)
def _fill_octants(  # noqa: PLR0917 - numba takes arguments positionally
    site_opt_start: Any, heading: Any, sector: Any, slack: float, ptr: Any, opt: Any
) -> int:
    """The loop of :func:`_octant_table`; returns how many entries of ``opt`` it wrote."""
    eighth = math.pi / 4.0
    m = heading.shape[0]
    first = np.empty(m, np.int64)  # first octant each option reaches
    span = np.empty(m, np.int64)  # how many (8 = all)
    for q in range(m):
        w = sector[q] + slack
        if w >= math.pi:
            first[q], span[q] = 0, 8
        else:
            k0 = math.floor((heading[q] - w) / eighth)
            k1 = math.floor((heading[q] + w) / eighth)
            first[q], span[q] = k0 % 8, min(8, k1 - k0 + 1)
    n = 0
    for s in range(site_opt_start.shape[0] - 1):
        o0, o1 = site_opt_start[s], site_opt_start[s + 1]
        for k in range(8):
            for q in range(o0, o1):
                if (k - first[q]) % 8 < span[q]:
                    opt[n] = q - o0
                    n += 1
            ptr[8 * s + k + 1] = n
    return n
