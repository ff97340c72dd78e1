"""Camera frames, the azimuth sectors each option can see and the field-of-view tables."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from placement.camera import Camera

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]

#: Azimuth bins of the per-site heading table (5.6 degrees each): a point is tested only
#: against the options whose horizontal sector reaches its bin.
_AZ_BINS = 64
#: The field-of-view table: relative azimuth x sin(elevation) cells (powers of two; the sector
#: bins are groups of these azimuth bins). Cells wholly inside or outside a view decide a
#: pair at once; only pairs in cells on a view's edge run the exact test.
_LUT_AZ = 512
_LUT_EL = 256
_LUT_MAX_TILTS = 16
#: Slack (radians) on each option's sector: covers float32 azimuth rounding.
_AZ_SLACK_RAD = 1e-4


def _camera_frames(heading_deg: FloatArray, tilt_deg: FloatArray) -> FloatArray:
    """(M, 9): right, up and forward unit vectors of each option (no roll)."""
    h = np.radians(heading_deg)
    t = np.radians(tilt_deg)
    sh, ch, st, ct = np.sin(h), np.cos(h), np.sin(t), np.cos(t)
    zero = np.zeros_like(h)
    right = np.stack([ch, -sh, zero], axis=1)
    up = np.stack([sh * st, ch * st, ct], axis=1)
    forward = np.stack([sh * ct, ch * ct, -st], axis=1)
    return np.concatenate([right, up, forward], axis=1)


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


def _view_tables(
    camera: Camera, heading_rad: FloatArray, tilt_rad: FloatArray
) -> tuple[npt.NDArray[np.int8] | None, IntpArray, IntpArray]:
    """Classify (relative azimuth, elevation) cells as inside, outside or on the edge of
    the view of each distinct tilt; see :data:`_LUT_AZ`.

    Cell (k, n) holds the directions whose azimuth bin minus the option's heading bin is
    k (so azimuth - heading lies within (k - 1, k + 1) bins) and whose sine of elevation
    is in bin n. Each condition of the pinhole test (z > 0, |x| <= z tan(h/2), |y| <= z tan(v/2), on
    unit vectors) is a combination ``g = a cos(p) cos(e) + b sin(p) cos(e) + c sin(e)``
    with |a| + |b| + |c| <= C; over a cell it stays within its bilinear interpolation from
    the corners (error <= C (dp^2 + de^2) / 8 for a cell dp x de radians), and float32
    rounding of the angles and of the exact test adds under C 3e-5. Four times their sum
    as a margin on the corner values makes "inside" and "outside" certain; the rest run
    the exact test.

    Returns
    -------
    table (T * _LUT_AZ * _LUT_EL,) int8 or None (panoramic, or too many tilts), each
    option's table offset (M,) and its heading bin times _LUT_EL (M,).
    """
    m = heading_rad.shape[0]
    da = 2.0 * math.pi / _LUT_AZ
    hbin = (np.floor(heading_rad / da).astype(np.intp) % _LUT_AZ) * _LUT_EL
    tilts, which = np.unique(tilt_rad, return_inverse=True)
    if camera.panoramic or tilts.size > _LUT_MAX_TILTS:
        return None, np.zeros(m, np.intp), hbin
    tan_h = math.tan(math.radians(camera.hfov_deg) / 2.0)
    tan_v = math.tan(math.radians(camera.vfov_deg) / 2.0)
    phi = np.arange(-1, _LUT_AZ + 2) * da
    # Elevation rows are uniform in sin(elevation) = dz / d, which the filters already have.
    el = np.arcsin(np.clip(-1.0 + np.arange(_LUT_EL + 1) * (2.0 / _LUT_EL), -1.0, 1.0))
    fwd = np.cos(phi)[:, None] * np.cos(el)[None, :]
    right = np.sin(phi)[:, None] * np.cos(el)[None, :]
    up = np.broadcast_to(np.sin(el)[None, :], fwd.shape)
    # Interpolation error per row (cells are 2 azimuth bins wide), float32 slack, then 4x.
    rows = ((2.0 * da) ** 2 + np.diff(el) ** 2) / 8.0 + 3e-5
    tables = []
    for t in tilts.tolist():
        ct, st = math.cos(t), math.sin(t)
        margin = 4.0 * rows[None, :] * ((1.0 + max(tan_h, tan_v)) * (abs(ct) + abs(st)) + 1.0)
        z = ct * fwd - st * up
        y = st * fwd + ct * up
        inside = np.ones((_LUT_AZ, _LUT_EL), bool)
        outside = np.zeros((_LUT_AZ, _LUT_EL), bool)
        for g in (z, tan_h * z - right, tan_h * z + right, tan_v * z - y, tan_v * z + y):
            # Corners of cell (k, n): azimuth grid k - 1 and k + 1, elevation n and n + 1.
            lo = np.minimum(g[:-3], g[2:-1])
            hi = np.maximum(g[:-3], g[2:-1])
            inside &= np.minimum(lo[:, :-1], lo[:, 1:]) > margin
            outside |= np.maximum(hi[:, :-1], hi[:, 1:]) < -margin
        tables.append(np.where(inside, 1, np.where(outside, 0, 2)).astype(np.int8).ravel())
    offset = which.reshape(-1).astype(np.intp) * (_LUT_AZ * _LUT_EL)
    return np.concatenate(tables), offset, hbin
