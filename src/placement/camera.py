"""The camera model: fields of view, range and pixel density (DORI levels).

A :class:`Camera` is a frozen dataclass that a TOML file maps onto key for key
(:func:`load_camera`). It knows nothing of the city: :mod:`placement.visibility` places
it at each option's lens position, heading and tilt.

Pixel density
-------------
For a rectilinear lens (``hfov_deg < 180``) a plane facing the camera at slant distance
``d`` metres is ``2 d tan(hfov / 2)`` metres wide in the image, so the density is
``h_pixels / (2 d tan(hfov / 2))`` pixels per metre (IEC EN 62676-4 convention).

A lens of 180 degrees or more cannot be rectilinear, so such a camera (a panoramic or a
PTZ camera, ``hfov_deg = 360``) is modelled as equiangular: its ``h_pixels`` are spread
evenly over ``hfov`` radians, giving ``h_pixels / (d * hfov_rad)`` pixels per metre. For a
narrow lens the two definitions agree (tan x ~ x); they differ for wide ones.

DORI levels
-----------
Level 1..4 = detection, observation, recognition, identification: the density reaches
``dori_px_per_m[L - 1]`` (default 25, 62.5, 125, 250 px/m). A density below
``min_px_per_m`` or below the detection threshold is level 0 (not covered).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from placement.errors import InputFileError, OptionError

__all__ = ["PRESETS", "Camera", "load_camera"]

FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]

# The field of view at and above which the camera is panoramic (equiangular) rather
# than rectilinear: tan(hfov / 2) is infinite at 180 degrees.
PANORAMIC_HFOV_DEG = 180.0


@dataclass(frozen=True, kw_only=True)
class Camera:
    """A camera type: lens, sensor, range and the pixel densities that count.

    Attributes
    ----------
    name : a label for reports ("fullhd-103").
    height_m : mount height of the lens above the ground: the command line's default for
        new sites (``--mount-height-m``); library calls pass ``mount_height_m`` to the site
        functions themselves.
    tilt_deg : the optical axis's angle below the horizon, degrees (-90..90).
    hfov_deg : horizontal field of view, degrees, in (0, 360]; 180 and more is a
        panoramic / PTZ camera (see the module docstring).
    vfov_deg : vertical field of view, degrees, in (0, 180) (up to 180 for panoramic).
    range_m : the largest slant distance at which anything counts, metres.
    h_pixels, v_pixels : sensor resolution in pixels.
    min_px_per_m : the lowest pixel density that counts as covered.
    dori_px_per_m : densities of DORI levels 1..4 (detection, observation,
        recognition, identification), strictly increasing.
    """

    name: str = "fullhd-103"
    height_m: float = 6.0
    tilt_deg: float = 20.0
    hfov_deg: float = 103.0
    vfov_deg: float = 58.0
    range_m: float = 60.0
    h_pixels: int = 1920
    v_pixels: int = 1080
    min_px_per_m: float = 25.0
    dori_px_per_m: tuple[float, float, float, float] = (25.0, 62.5, 125.0, 250.0)

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> OptionError:
            value = getattr(self, key)
            return OptionError(f"camera {self.name!r}: {key} = {value!r} {why}")

        if not isinstance(self.name, str) or not self.name:
            raise OptionError(f"camera name must be a non-empty string, got {self.name!r}")
        for key in ("height_m", "tilt_deg", "hfov_deg", "vfov_deg", "range_m", "min_px_per_m"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(key, "is not a number")
            if not math.isfinite(value):
                raise bad(key, "is not finite")
            object.__setattr__(self, key, float(value))
        for key in ("h_pixels", "v_pixels"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise bad(key, "is not an integer")
            if value <= 0:
                raise bad(key, "must be positive")
            object.__setattr__(self, key, int(value))
        if not 0.0 <= self.height_m <= 500.0:
            raise bad("height_m", "must be within 0..500 m")
        if not -90.0 <= self.tilt_deg <= 90.0:
            raise bad("tilt_deg", "must be within -90..90 degrees below the horizon")
        if not 0.0 < self.hfov_deg <= 360.0:
            raise bad("hfov_deg", "must be within (0, 360] degrees")
        vmax = 180.0
        if not 0.0 < self.vfov_deg <= vmax or (not self.panoramic and self.vfov_deg >= vmax):
            raise bad("vfov_deg", "must be within (0, 180) degrees ((0, 180] for hfov >= 180)")
        if self.range_m <= 0.0:
            raise bad("range_m", "must be positive")
        if self.min_px_per_m < 0.0:
            raise bad("min_px_per_m", "must not be negative")
        dori = self.dori_px_per_m
        if isinstance(dori, str) or not hasattr(dori, "__len__") or len(dori) != 4:
            raise bad("dori_px_per_m", "must be 4 numbers (detection .. identification)")
        try:
            values = tuple(float(x) for x in dori)
        except (TypeError, ValueError):
            raise bad("dori_px_per_m", "must be 4 numbers") from None
        if not all(math.isfinite(x) and x > 0.0 for x in values):
            raise bad("dori_px_per_m", "must be positive and finite")
        if not all(a < b for a, b in itertools.pairwise(values)):
            raise bad("dori_px_per_m", "must be strictly increasing")
        object.__setattr__(self, "dori_px_per_m", values)

    @property
    def panoramic(self) -> bool:
        """True for hfov >= 180: an equiangular (cylindrical) panoramic or PTZ camera."""
        return self.hfov_deg >= PANORAMIC_HFOV_DEG

    @property
    def px_m(self) -> float:
        """Pixel density times distance (px): ``px_per_m(d) == px_m / d``."""
        half = math.radians(self.hfov_deg) / 2.0
        if self.panoramic:
            return self.h_pixels / (2.0 * half)
        return self.h_pixels / (2.0 * math.tan(half))

    @property
    def covered_px_per_m(self) -> float:
        """The lowest density that counts: max(min_px_per_m, detection threshold)."""
        return max(self.min_px_per_m, self.dori_px_per_m[0])

    def px_per_m(self, distance_m: npt.ArrayLike) -> FloatArray:
        """Horizontal pixel density at slant distance ``distance_m``.

        Parameters
        ----------
        distance_m : (...) metres; 0 gives +inf.

        Returns
        -------
        (...) float64 pixels per metre.
        """
        d = np.asarray(distance_m, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.asarray(self.px_m / d, dtype=np.float64)

    def level(self, distance_m: npt.ArrayLike) -> Int8Array:
        """DORI level 0..4 at slant distance ``distance_m`` (range not applied).

        Parameters
        ----------
        distance_m : (...) metres.

        Returns
        -------
        (...) int8: 0 when the density is below :attr:`covered_px_per_m`, else the number
        of DORI thresholds the density reaches.
        """
        px = self.px_per_m(distance_m)
        thresholds = np.asarray(self.dori_px_per_m)
        lvl = (px[..., None] >= thresholds).sum(axis=-1)
        out: Int8Array = np.where(px < self.covered_px_per_m, 0, lvl).astype(np.int8)
        return out

    def max_distance_for_level(self, level: int) -> float:
        """The largest slant distance (metres) at which a point reaches DORI ``level``.

        Capped at ``range_m``: beyond it nothing counts.

        Parameters
        ----------
        level : 1 (detection) .. 4 (identification).
        """
        if isinstance(level, bool) or level not in (1, 2, 3, 4):
            raise OptionError(f"camera {self.name!r}: DORI level must be 1..4, got {level!r}")
        threshold = max(self.dori_px_per_m[level - 1], self.min_px_per_m)
        return min(self.range_m, self.px_m / threshold)

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML/JSON-friendly values (the DORI tuple becomes a list)."""
        d = asdict(self)
        d["dori_px_per_m"] = list(self.dori_px_per_m)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> Camera:
        """Build a camera from field names; ``preset = "..."`` starts from a preset.

        Parameters
        ----------
        data : keys equal to the field names, plus an optional ``preset``.
        source : where ``data`` came from, named in error messages.
        """
        data = dict(data)
        base: dict[str, Any] = {}
        if "preset" in data:
            preset = data.pop("preset")
            if preset not in PRESETS:
                known = ", ".join(sorted(PRESETS))
                raise OptionError(f"{source}: unknown camera preset {preset!r} (known: {known})")
            base = PRESETS[preset].to_dict()
        names = {f.name for f in fields(cls)}
        for key in data:
            if key not in names:
                known = ", ".join(["preset", *sorted(names)])
                raise OptionError(f"{source}: unknown camera key {key!r} (known: {known})")
        base.update(data)
        if isinstance(base.get("dori_px_per_m"), list):
            base["dori_px_per_m"] = tuple(base["dori_px_per_m"])
        try:
            return cls(**base)
        except OptionError as exc:
            raise OptionError(f"{source}: {exc}") from None


def load_camera(path: str | Path) -> Camera:
    """Read a camera from a TOML file.

    Keys equal the :class:`Camera` field names; an optional ``preset = "4k-90"`` starts
    from that preset and the other keys override it. The keys may also sit in a single
    ``[camera]`` table. Without a ``name`` the camera is named after the file ("mycam" for
    ``mycam.toml``), unless the file names a preset and nothing else.

    Raises
    ------
    InputFileError : the file cannot be read or is not TOML.
    OptionError : an unknown key or preset, or a value out of range.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read camera file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{path}: not valid TOML: {exc}") from None
    if set(data) == {"camera"} and isinstance(data["camera"], dict):
        data = data["camera"]
    if "name" not in data and set(data) != {"preset"}:
        # Outputs name the camera: a file's own camera is named after the file, not
        # after the preset it started from (or the default's).
        data = {**data, "name": path.stem}
    return Camera.from_dict(data, source=str(path))


def _load_presets() -> dict[str, Camera]:
    presets: dict[str, Camera] = {}
    folder = resources.files("placement") / "presets"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            camera = Camera.from_dict(data, source=f"placement/presets/{entry.name}")
            presets[camera.name] = camera
    return presets


PRESETS: dict[str, Camera] = {}
PRESETS.update(_load_presets())
