"""The whole job, from CityGML files to a plan and its output files.

:func:`run` is what ``placement run`` calls and what a notebook calls to do the same. Every
option lives in :class:`RunOptions`, which maps one to one onto a TOML config file and onto
the ``options`` of summary.json, so any result can be reproduced from its summary.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import math
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy import sparse

from placement import __version__
from placement._checks import read_json
from placement._hashing import file_sha256
from placement._logging import COLLECTS_ONLY
from placement.camera import PRESETS, Camera, load_camera
from placement.citygml import read_citygml, summarize
from placement.citygml._sources import input_paths
from placement.demand import (
    WEIGH_BY,
    check_roads,
    priority_coverage,
    read_priority,
    sample_demand,
    street_length,
    summarize_demand,
)
from placement.errors import InputFileError, OptionError
from placement.halo import Halo, halo_margin_m, load_halo, resolve_halo
from placement.model import City, Demand, IntArray, Mesh, Options, Sites
from placement.optimise import LEVEL_NAMES, MAX_SEED, memory_needed
from placement.report import write_report
from placement.sites import (
    combine_sites,
    make_options,
    pole_sites,
    read_sites,
    road_edge_sites,
    shared_poles,
)
from placement.streets import street_coverage, street_summary
from placement.visibility import Coverage, compute_coverage

if TYPE_CHECKING:
    from placement.optimise import Plan

log = logging.getLogger(__name__)


#: progress(stage, done, total): a stage reports how far it got; total 0 means unknown.
Progress = Callable[[str, int, int], None]


def default_cache_dir() -> Path:
    """Where coverage matrices are cached: $PLACEMENT_CACHE, else the user cache folder."""
    env = os.environ.get("PLACEMENT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "placement"


#: The camera preset of a run that names none (and gives no --camera-file).
DEFAULT_CAMERA = "fullhd-103"
#: The budget of a max-coverage run that gives neither --budget nor --cover.
DEFAULT_BUDGET = 10.0
#: Candidate poles closer than this along a road edge are meaningless (and the matrix explodes).
MIN_SPACING_M = 1.0
#: A street grid finer than this samples nothing a camera could tell apart.
MIN_DEMAND_SPACING_M = 0.1
#: Options naming a side file read by the run (recorded with a digest in summary.json).
SIDE_FILE_OPTIONS = ("camera_file", "sites_file", "existing_file", "priority_file")
_PATH_OPTIONS = (*SIDE_FILE_OPTIONS, "cache_dir")
_HALO_WORDS = ("auto", "off")
_OPTIONAL = frozenset(
    {"budget", "cover", "camera", "mount_height_m", "tilts_deg", "crs", "max_per_site"}
) | frozenset(_PATH_OPTIONS)
_BOOLS = frozenset({"road_edge_sites", "plateau_poles", "use_cache", "render", "html"})
_INTS = frozenset({"headings", "k", "max_per_site", "seed", "workers"})
#: More processes than this is a typo (each loader worker costs about 100 MB).
_MAX_WORKERS = 256
#: Command-line spellings that are not ``--`` + the field name with dashes.
_FLAGS = {
    "time_limit_s": "--time-limit",
    "sites_file": "--sites",
    "existing_file": "--existing",
    "priority_file": "--priority",
    "use_cache": "--cache",
}


def _flag(name: str) -> str:
    """How a range error names option ``name``: its command-line flag, and the TOML key too
    when the two are spelt differently beyond dashes."""
    flag = _FLAGS.get(name)
    return f"{flag} / {name}" if flag else "--" + name.replace("_", "-")


def _as_int(name: str, value: object) -> int:
    """An integer option: ints (not bools) and integral floats."""
    if not isinstance(value, bool | np.bool_):
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return int(value)
    raise OptionError(f"{_flag(name)} must be an integer, got {value!r}")


def _as_float(name: str, value: object) -> float:
    """A finite number option: ints and floats, not bools or strings."""
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise OptionError(f"{_flag(name)} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise OptionError(f"{_flag(name)} must be a finite number, got {value!r}")
    return x


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise OptionError(f"{_flag(name)} must be true or false, got {value!r}")


def _as_str(name: str, value: object) -> str:
    if isinstance(value, str) and value:
        return value
    raise OptionError(f"{_flag(name)} must be a non-empty string, got {value!r}")


def _as_path(name: str, value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value:
        return value
    raise OptionError(f"{_flag(name)} must be a file or folder path (a string), got {value!r}")


def _as_tilts(value: object) -> tuple[float, ...]:
    items: list[object]
    if isinstance(value, str):  # the command line's form, "10,20"
        items = [t.strip() for t in value.split(",") if t.strip()]
    elif isinstance(value, list | tuple | np.ndarray):
        items = list(value)
    else:
        items = [value]
    tilts: list[float] = []
    for item in items:
        try:
            tilts.append(_as_float("tilts_deg", float(item) if isinstance(item, str) else item))
        except (OptionError, ValueError):
            raise OptionError(
                f"--tilts-deg must be numbers (a list, or a comma-separated string), got {value!r}"
            ) from None
    if not tilts:
        raise OptionError(f"--tilts-deg must hold at least one tilt, got {value!r}")
    if any(not -90 <= t <= 90 for t in tilts):
        raise OptionError(
            "--tilts-deg must be between -90 and 90 degrees below the horizon, got "
            + ",".join(f"{t:g}" for t in tilts)
        )
    return tuple(tilts)


def _as_halo(value: object) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(h, str) and h for h in items):
        raise OptionError(f"--halo must be 'auto', 'off' or paths (strings), got {value!r}")
    if "off" in items and len(items) > 1:
        raise OptionError("--halo off cannot be combined with other halo values")
    return tuple(items)


def _check_field(name: str, value: Any) -> Any:
    """``value`` checked for option ``name`` (type, then range) and normalised (ints as int,
    numbers as float, sequences as tuples); :class:`OptionError` naming the option if bad."""
    if value is None and name in _OPTIONAL:
        return None
    if name in _BOOLS:
        return _as_bool(name, value)
    if name in _PATH_OPTIONS:
        return _as_path(name, value)
    if name == "tilts_deg":
        return _as_tilts(value)
    if name == "halo":
        return _as_halo(value)
    if name in ("camera", "crs", "min_level", "weigh_by"):
        s = _as_str(name, value)
        if name == "weigh_by" and s not in WEIGH_BY:
            raise OptionError(f"--weigh-by must be one of {', '.join(WEIGH_BY)}, got {s!r}")
        if name == "camera" and s not in PRESETS:
            raise OptionError(f"unknown camera preset {s!r} (known: {', '.join(sorted(PRESETS))})")
        if name == "min_level" and s not in LEVEL_NAMES:
            raise OptionError(f"--min-level must be one of {', '.join(LEVEL_NAMES)}, got {s!r}")
        return s
    if name in _INTS:
        n = _as_int(name, value)
        low = 0 if name == "seed" else 1
        if n < low:
            raise OptionError(f"{_flag(name)} must be >= {low}, got {n}")
        if name == "seed" and n > MAX_SEED:
            raise OptionError(f"--seed must be at most {MAX_SEED}, got {n}")
        if name == "workers" and n > _MAX_WORKERS:
            raise OptionError(f"--workers must be at most {_MAX_WORKERS}, got {n}")
        return n
    x = _as_float(name, value)
    if name == "budget" and x < 0:
        # 0 is allowed: it scores the existing cameras alone.
        raise OptionError(f"--budget must be positive or 0, got {value}")
    if name == "cover" and not 0 < x <= 1:
        raise OptionError(f"--cover is a fraction in (0, 1], got {value}")
    if name in ("mount_height_m", "time_limit_s") and not x > 0:
        raise OptionError(f"{_flag(name)} must be positive, got {value}")
    if name == "spacing_m" and x < MIN_SPACING_M:
        raise OptionError(
            f"--spacing-m must be at least {MIN_SPACING_M:g} m (poles closer than that are "
            f"meaningless and the problem would not fit in memory), got {value}"
        )
    if name == "demand_spacing_m" and x < MIN_DEMAND_SPACING_M:
        raise OptionError(
            f"--demand-spacing-m must be at least {MIN_DEMAND_SPACING_M:g} m (a finer street "
            f"grid adds nothing and would not fit in memory), got {value}"
        )
    if x < 0:  # inset, costs, weights, target height
        raise OptionError(f"{_flag(name)} must be >= 0, got {value}")
    return x


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run. Units are in the names; see ``placement run --help``.

    Every value is checked on construction (type, then range): a bad one raises
    :class:`OptionError` naming the option. ``camera`` None means the default preset
    (:data:`DEFAULT_CAMERA`) unless ``camera_file`` gives the camera; ``budget`` and
    ``cover`` both None means a budget of :data:`DEFAULT_BUDGET` cameras.
    """

    budget: float | None = None
    cover: float | None = None
    camera: str | None = None
    camera_file: str | None = None
    mount_height_m: float | None = None
    headings: int = 8
    tilts_deg: tuple[float, ...] | None = None
    crs: str | None = None
    spacing_m: float = 20.0
    inset_m: float = 0.5
    road_edge_sites: bool = True
    plateau_poles: bool = True
    new_pole_cost: float = 1.0
    pole_cost: float = 1.0
    sites_file: str | None = None
    existing_file: str | None = None
    priority_file: str | None = None
    demand_spacing_m: float = 2.0
    target_height_m: float = 1.5
    road_weight: float = 1.0
    sidewalk_weight: float = 1.0
    weigh_by: str = "area"
    k: int = 1
    min_level: str = "detection"
    max_per_site: int | None = None
    time_limit_s: float = 30.0
    seed: int = 0
    workers: int = 2
    cache_dir: str | None = None
    use_cache: bool = True
    render: bool = True
    html: bool = True
    halo: tuple[str, ...] = ("auto",)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            checked = _check_field(f.name, value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        if self.budget is not None and self.cover is not None:
            raise OptionError("give either --budget or --cover, not both")
        if self.camera is not None and self.camera_file is not None:
            raise OptionError("give --camera or --camera-file, not both")
        if self.budget == 0 and self.existing_file is None:
            raise OptionError(
                "--budget 0 chooses nothing: it scores the cameras of --existing FILE alone"
            )

    @property
    def problem(self) -> str:
        return "min_cover" if self.cover is not None else "max_coverage"

    @property
    def camera_name(self) -> str | None:
        """The preset the run uses: ``camera`` or the default; None when ``camera_file``
        gives the camera."""
        if self.camera_file is not None:
            return None
        return self.camera or DEFAULT_CAMERA

    @property
    def level(self) -> int:
        """``min_level`` as its DORI number, 1..4."""
        return LEVEL_NAMES.index(self.min_level) + 1

    @property
    def effective_budget(self) -> float | None:
        """The budget of a max-coverage run (the default when none is given); None for
        min cover."""
        if self.cover is not None:
            return None
        return DEFAULT_BUDGET if self.budget is None else self.budget

    def to_dict(self, *, absolute_paths: bool = False) -> dict[str, Any]:
        """The options as plain values, with the effective camera preset and budget filled
        in, so ``RunOptions(**to_dict())`` runs the same; ``absolute_paths`` makes the side
        files' and halo files' paths absolute (summary.json: the same from any folder)."""
        d = dataclasses.asdict(self)
        if d["tilts_deg"] is not None:
            d["tilts_deg"] = list(d["tilts_deg"])
        d["halo"] = list(d["halo"])
        d["camera"] = self.camera_name
        d["budget"] = self.effective_budget
        if absolute_paths:
            for key in _PATH_OPTIONS:
                if d[key] is not None:
                    d[key] = str(Path(d[key]).resolve())
            d["halo"] = [h if h in _HALO_WORDS else str(Path(h).resolve()) for h in d["halo"]]
        return d

    @classmethod
    def from_toml(
        cls, path: str | Path, *, ignore: Mapping[str, str] | None = None, **overrides: Any
    ) -> RunOptions:
        """Options from a TOML file (keys = field names, at top level or under ``[run]``),
        then ``overrides`` (e.g. the command line's explicit options) on top. The keys of
        ``ignore`` are left out of the file (a sweep's goal: it sets the budgets itself),
        with a warning giving the key's reason where the file has them.

        Relative paths in the file (side files, cache_dir, halo paths) are relative to the
        file's folder; paths in ``overrides`` stay as given. A bad value in the file raises
        :class:`OptionError` naming the file and the key."""
        p = Path(path)
        doc = _summary_options(p) if p.suffix.lower() == ".json" else _toml_doc(p)
        table = doc.get("run", doc)
        if not isinstance(table, dict):
            raise OptionError(f"{p}: 'run' must be a table of options, got {table!r}")
        outside = sorted(k for k in doc if k != "run") if "run" in doc else []
        if outside:
            raise OptionError(
                f"{p}: {', '.join(repr(k) for k in outside)} outside the [run] table would "
                "be ignored: put every option under [run] (or leave [run] out)"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in names:
                raise OptionError(f"{p}: unknown option {key!r}")
            if ignore and key in ignore:
                log.warning("%s: %s = %r left out: %s", p, key, raw, ignore[key])
                continue
            try:
                values[key] = _check_field(key, raw)
            except OptionError as e:
                raise OptionError(f"{p}: {e}") from None
        folder = p.parent
        for key in _PATH_OPTIONS:
            if values.get(key) is not None:
                values[key] = _beside(folder, values[key])
        if "halo" in values:
            values["halo"] = tuple(
                h if h in _HALO_WORDS else _beside(folder, h) for h in values["halo"]
            )
        # The command line wins, also over the other goal: --budget replaces the file's
        # cover, --cover its budget.
        if overrides.get("budget") is not None:
            values.pop("cover", None)
        if overrides.get("cover") is not None:
            values.pop("budget", None)
        # ... and over the other way of naming the camera.
        if overrides.get("camera") is not None:
            values.pop("camera_file", None)
        if overrides.get("camera_file") is not None:
            values.pop("camera", None)
        values.update(overrides)
        try:
            return cls(**values)
        except TypeError as e:
            raise OptionError(f"{p}: {e}") from e
        except OptionError as e:
            if overrides:
                raise
            raise OptionError(f"{p}: {e}") from None


def _toml_doc(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputFileError(f"{p}: cannot read: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"{p}: not valid TOML: {e}") from e


def _summary_options(p: Path) -> dict[str, Any]:
    """The ``options`` of a run's summary.json, as a config: a run repeats from its summary
    (``placement run INPUTS --config old/summary.json --out new``). Nulls are defaults."""
    doc = read_json(p, "JSON")
    options = doc.get("options") if isinstance(doc, dict) else None
    if not isinstance(options, dict):
        raise InputFileError(
            f"{p}: no 'options' object: a JSON config must be a placement run's summary.json"
        )
    return {k: v for k, v in options.items() if v is not None}


def _beside(folder: Path, path: str) -> str:
    """``path`` (from a config file in ``folder``) as an absolute path: relative ones are
    relative to ``folder``, ``~`` is the home folder."""
    return str((folder / Path(path).expanduser()).resolve())


@dataclass(frozen=True)
class Result:
    """What a run produced. ``levels`` is the DORI level at which ``k`` chosen cameras see
    each demand point (0 = fewer see it; with k = 1 the best level any chosen camera
    gives); ``camera_weight`` the weight each chosen camera sees; ``halo`` the neighbouring
    tiles' occluders and roads (they block views and trim sites and streets at the tile's
    edge; see :func:`run`)."""

    city: City
    camera: Camera
    sites: Sites
    options: Options
    demand: Demand
    coverage: Coverage
    plan: Plan
    levels: npt.NDArray[np.int8]
    camera_weight: npt.NDArray[np.float64]
    summary: dict[str, Any]
    #: (K,) the weight that stops counting without each chosen camera, and (N,) how many
    #: chosen cameras see each point at the minimum level (:func:`camera_figures`).
    camera_loss: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    seen_count: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    out_dir: Path | None = None
    files: tuple[str, ...] = field(default_factory=tuple)
    halo: Halo | None = None
    streets: list[dict[str, Any]] = field(default_factory=list)


def load_camera_for(opts: RunOptions) -> Camera:
    """The camera of a run: the TOML file if given, else the preset, mount height overridden."""
    cam = load_camera(opts.camera_file) if opts.camera_file else PRESETS[opts.camera_name or ""]
    if opts.mount_height_m is not None:
        cam = dataclasses.replace(cam, height_m=opts.mount_height_m)
    return cam


def build_sites(city: City, camera: Camera, opts: RunOptions, halo: Halo | None = None) -> Sites:
    """Existing cameras first (never dropped), then user sites, PLATEAU poles, road edges.

    ``halo`` (the neighbouring tiles' roads and footprints) keeps kerb poles off the
    inputs' cut street ends and out of the neighbours' buildings."""
    parts: list[Sites] = []
    # A site farther than the camera's reach from the model sees none of it.
    reach = camera.max_distance_for_level(1)
    if opts.existing_file:
        parts.append(
            read_sites(
                opts.existing_file,
                city,
                mount_height_m=camera.height_m,
                existing=True,
                reach_m=reach,
                camera=camera,
            )
        )
    if opts.sites_file:
        parts.append(
            read_sites(
                opts.sites_file,
                city,
                mount_height_m=camera.height_m,
                cost=opts.new_pole_cost,
                reach_m=reach,
                camera=camera,
            )
        )
    if opts.plateau_poles:
        parts.append(
            pole_sites(city, mount_height_m=camera.height_m, cost=opts.pole_cost, reach_m=reach)
        )
    if opts.road_edge_sites:
        parts.append(
            road_edge_sites(
                city,
                mount_height_m=camera.height_m,
                spacing_m=opts.spacing_m,
                inset_m=opts.inset_m,
                cost=opts.new_pole_cost,
                beyond_roads=halo.road_polygons if halo is not None else (),
                beyond_footprints=halo.footprints if halo is not None else (),
            )
        )
    sites = combine_sites(*parts)
    # A new site where an installed camera stands keeps its other headings; its pole
    # stands already, so a camera there costs no more than one on a PLATEAU pole.
    pole = shared_poles(sites)
    at_camera = np.isin(pole, pole[sites.existing]) & ~sites.existing
    if at_camera.any():
        cost = np.where(at_camera, np.minimum(sites.cost, opts.pole_cost), sites.cost)
        sites = dataclasses.replace(sites, cost=cost)
    return sites


def _check_full_poles(sites: Sites, pole: IntArray, max_per_site: int | None) -> None:
    """Refuse a ``max_per_site`` that the installed cameras on one pole exceed already."""
    if max_per_site is None or not sites.existing.any():
        return
    on = pole[sites.existing]
    count = np.bincount(on, minlength=len(sites))
    if count.max() > max_per_site:
        p = int(np.argmax(count))
        ids = [sites.ids[i] for i in np.flatnonzero(sites.existing) if pole[i] == p]
        raise OptionError(
            f"--max-per-site {max_per_site}: pole {sites.ids[p]} already has "
            f"{len(ids)} installed cameras ({', '.join(ids[:5])})"
        )


def solve(
    coverage: Coverage,
    options: Options,
    demand: Demand,
    opts: RunOptions,
    pole: IntArray | None = None,
) -> Plan:
    """Run the optimiser the options ask for on a coverage matrix.

    ``pole`` : (n_sites,) the pole of each site (:func:`placement.sites.shared_poles`):
    ``max_per_site`` counts the options of sites on one pole together.
    """
    from placement import optimise

    min_level = opts.level
    common: dict[str, Any] = {
        "k": opts.k,
        "min_level": min_level,
        "existing": options.existing,
        "site": options.site if pole is None else pole[options.site],
        "max_per_site": opts.max_per_site,
        "time_limit": opts.time_limit_s,
        "seed": opts.seed,
    }
    if opts.cover is not None:
        plan = optimise.min_cover(
            coverage.matrix, demand.weight, options.cost, target=opts.cover, **common
        )
    else:
        # Budget 0 keeps the existing cameras alone: it scores what they already see.
        budget = opts.effective_budget
        assert budget is not None  # not a cover run
        plan = optimise.max_coverage(
            coverage.matrix, demand.weight, options.cost, budget=budget, **common
        )
        if budget > 0 and not (~options.existing[np.asarray(plan.chosen)]).any():
            why = _why_nothing(coverage, options, demand, opts, budget, min_level)
            if why:
                log.warning("optimise: no new camera chosen: %s", why)
    return plan


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux MemAvailable), None if unknown."""
    try:
        with Path("/proc/meminfo").open() as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(pairs: int, time_limit: float, available: int | None = None) -> None:
    """Refuse, before it starts, an optimisation that would not fit in memory
    (:func:`placement.optimise.memory_needed`); warn when it takes more than half.

    Raises
    ------
    OptionError : ``pairs`` visible pairs need more than the memory available (the system
        would otherwise kill the run part way, with no message).
    """
    free = available_memory() if available is None else available
    need = memory_needed(pairs, time_limit)
    if free is None or need <= free // 2:
        return
    if need <= free:
        log.warning(
            "the optimiser will use about %.1f GB of the %.1f GB free (%.1f million visible pairs)",
            need / 1e9,
            free / 1e9,
            pairs / 1e6,
        )
        return
    raise OptionError(
        f"the optimiser would need about {need / 1e9:.1f} GB for {pairs / 1e6:.1f} million "
        f"visible (camera option, street point) pairs, more than the {free / 1e9:.1f} GB free: "
        "offer fewer options (--headings, --tilts-deg, a larger --spacing-m) or fewer points "
        "(a larger --demand-spacing-m)"
    )


def _why_nothing(  # noqa: PLR0917 (solve's own values, passed on)
    coverage: Coverage,
    options: Options,
    demand: Demand,
    opts: RunOptions,
    budget: float,
    min_level: int,
) -> str:
    """Why a max-coverage run with a budget chose no new camera, where the options say."""
    new = ~options.existing
    if not new.any():
        return ""
    cheapest = float(options.cost[new].min())
    if cheapest > budget:
        return f"the budget {budget:g} is below the cheapest camera ({cheapest:g})"
    if not float(demand.weight.sum()) > 0:
        return "every street point weighs 0 (--road-weight, --sidewalk-weight, --priority)"
    seen_by = np.asarray((coverage.matrix >= min_level).sum(axis=0)).ravel()
    if not (seen_by >= opts.k).any():
        return (
            f"no street point is seen by {opts.k} candidate cameras at {opts.min_level} or "
            f"better (at most {int(seen_by.max()) if seen_by.size else 0}); lower --k or "
            "--min-level, or add sites"
        )
    return ""


def chosen_levels(
    matrix: Any, chosen: npt.ArrayLike, n_points: int, k: int = 1
) -> npt.NDArray[np.int8]:
    """(N,) DORI level at which ``k`` of the chosen options see each demand point (0 = fewer
    than ``k`` see it): the k-th best level over the chosen options, so the best for k = 1.
    A point is covered at level L when this is >= L, as the optimiser counts it."""
    return kth_levels(matrix[np.asarray(chosen, dtype=np.int64)], n_points, k)


def kth_levels(matrix: Any, n_points: int, k: int = 1) -> npt.NDArray[np.int8]:
    """(N,) k-th best level over the rows of ``matrix`` (options x points) for each point."""
    if matrix.shape[0] < k:
        return np.zeros(n_points, np.int8)
    if k == 1:
        return np.asarray(matrix.max(axis=0).toarray()).ravel().astype(np.int8)
    csc = sparse.csc_matrix(matrix)
    csc.eliminate_zeros()
    counts = np.diff(csc.indptr)
    col = np.repeat(np.arange(n_points), counts)
    order = np.lexsort((-csc.data.astype(np.int16), col))
    out = np.zeros(n_points, np.int8)
    has = counts >= k
    out[has] = csc.data[order][csc.indptr[:-1][has] + k - 1]
    return out


def check_before_work(opts: RunOptions, out_dir: str | Path | None) -> None:
    """What can fail before any work, checked first: ``out_dir`` writable, side files there.

    Raises
    ------
    OptionError, InputFileError : one line naming the path and the problem.
    """
    if out_dir is not None:
        from placement import io

        io.check_writable(Path(out_dir))
    for key in SIDE_FILE_OPTIONS:
        side = getattr(opts, key)
        if side is not None and not Path(side).is_file():
            what = "no such file" if not Path(side).exists() else "not a file"
            raise InputFileError(f"{side}: {what} ({_flag(key)})")


def run(
    paths: str | Path | Sequence[str | Path],
    opts: RunOptions | None = None,
    *,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Result:
    """Load, find the halo, propose sites, sample demand, compute visibility, optimise,
    write outputs.

    The halo (``opts.halo``, see :mod:`placement.halo`) is the neighbouring tiles' occluders
    near the inputs: they join the occluder mesh of the visibility stage, and their roads and
    buildings decide where this tile's streets really end (no kerb poles across a road cut by
    the tile's edge, no street points inside a neighbour's building); they are never sites,
    streets to watch or drawn.

    Parameters
    ----------
    paths : CityGML files, folders or PLATEAU zips (or one of them).
    opts : every option (defaults: budget 10 cameras, Full HD 103-degree pole camera).
    out_dir : where to write the outputs; None writes nothing (notebooks).
    progress : called as ``progress(stage, done, total)``.

    Raises
    ------
    PlacementError on bad input or options; ``out_dir`` is then left as it was.
    """
    if opts is not None and not isinstance(opts, RunOptions):
        raise OptionError(
            f"opts must be a RunOptions, got {type(opts).__name__} "
            "(RunOptions(**values) makes one from a dict)"
        )
    opts = opts or RunOptions()
    check_before_work(opts, out_dir)
    # The run's warnings (sites left out, a clock-cut search, ...) go into summary.json and
    # report.md as well as to the terminal.
    with _Notes() as notes:
        prep = prepare(input_paths(paths), opts, progress)
        return finish(prep, opts, out_dir=out_dir, progress=progress, notes=notes.messages)


class _Notes(logging.Handler):
    """Collects the messages of the warnings logged under ``placement`` during a run.

    Runs in several threads at once each keep the warnings of their own thread (a record
    does not say which run made it); a run alone also keeps those of its helper threads."""

    _active: ClassVar[list[_Notes]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        setattr(self, COLLECTS_ONLY, True)
        self.messages: list[str] = []
        self.thread = threading.get_ident()

    def __enter__(self) -> _Notes:
        with _Notes._lock:
            _Notes._active.append(self)
        logging.getLogger("placement").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("placement").removeHandler(self)
        with _Notes._lock:
            _Notes._active.remove(self)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "load_summary", False):  # the load's own list has those
            return
        if record.thread == self.thread or len(_Notes._active) == 1:
            self.messages.append(record.getMessage())


@dataclass
class Prepared:
    """What a run makes before its goal matters: the loaded city, the halo, the sites and
    options, the demand and the coverage matrix. :func:`placement.sweep.sweep` makes it once
    (:func:`prepare`) and finishes one run per budget from it (:func:`finish`)."""

    paths: list[str | Path]
    camera: Camera
    city: City
    halo: Halo
    sites: Sites
    pole: IntArray
    options: Options
    priority: Any
    demand: Demand
    coverage: Coverage
    timings: dict[str, float]


def _stager(report: Progress, timings: dict[str, float]) -> Callable[[str], Any]:
    @contextmanager
    def stage(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        report(name, 0, 0)
        yield
        timings[name] = time.perf_counter() - t0
        report(name, 1, 1)

    return stage


def prepare(paths: list[str | Path], opts: RunOptions, progress: Progress | None) -> Prepared:
    """Load, find the halo, propose sites, sample demand and compute visibility: every stage
    of :func:`run` that the goal (budget, cover, k, level, seed, time limit) does not change.
    """
    report = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    stage = _stager(report, timings)
    camera = load_camera_for(opts)
    with stage("load"):
        # Several files parse in parallel (results identical to one process).
        city = read_citygml(
            paths, crs=opts.crs, workers=opts.workers, progress=lambda d, t: report("load", d, t)
        )
    if city.warnings:
        # One line on the terminal; every message goes to the report and summary.json.
        n = len(city.warnings)
        if n == 1:
            log.warning("%s", city.warnings[0], extra={"load_summary": True})
        else:
            log.warning(
                "%d features skipped, %d warnings while loading (report.md lists them); first: %s",
                city.skipped,
                n,
                city.warnings[0],
                extra={"load_summary": True},
            )
    with stage("halo"):
        # Neighbouring tiles' buildings occlude too, but they make no sites, demand or
        # picture: they join the occluder mesh of the visibility stage only.
        halo = load_halo(
            resolve_halo(opts.halo, paths),
            city,
            margin_m=halo_margin_m(camera),
            workers=opts.workers,
            mode=opts.halo,
            progress=lambda d, t: report("halo", d, t),
        )
    with stage("sites"):
        sites = build_sites(city, camera, opts, halo)
        pole = shared_poles(sites)
        _check_full_poles(sites, pole, opts.max_per_site)
        options = make_options(sites, camera, headings=opts.headings, tilts_deg=opts.tilts_deg)
    if not len(options):
        check_roads(city)  # no streets: their file is what is missing, not sites
        raise OptionError(
            "no candidate camera sites: the tile has no roads or poles; give --sites FILE"
        )
    with stage("demand"):
        priority = read_priority(opts.priority_file, city.crs) if opts.priority_file else None
        demand = sample_demand(
            city,
            spacing_m=opts.demand_spacing_m,
            target_height_m=opts.target_height_m,
            road_weight=opts.road_weight,
            sidewalk_weight=opts.sidewalk_weight,
            priority=priority,
            weigh_by=opts.weigh_by,
            exclude=halo.footprints,
        )
    if not len(demand):
        raise OptionError("no demand points: the tile has no road surfaces to watch")
    with stage("visibility"):
        cache = None
        if opts.use_cache:
            cache = Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()
        occluders = city.view_blockers()
        if halo.mesh.n_triangles:
            occluders = Mesh.concatenate([occluders, halo.mesh])
        coverage = compute_coverage(
            occluders,
            options,
            demand,
            camera,
            workers=opts.workers,
            cache_dir=cache,
            progress=lambda d, t: report("visibility", d, t),
        )
    return Prepared(
        paths, camera, city, halo, sites, pole, options, priority, demand, coverage, timings
    )


def finish(
    prep: Prepared,
    opts: RunOptions,
    *,
    out_dir: str | Path | None,
    progress: Progress | None,
    notes: list[str],
    extra: Mapping[str, Any] | None = None,
) -> Result:
    """Optimise ``prep`` for the goal of ``opts`` and write the outputs to ``out_dir``.

    ``extra`` joins summary.json (a sweep says there which stages its runs shared)."""
    report = progress or (lambda stage, done, total: None)
    timings = dict(prep.timings)
    stage = _stager(report, timings)
    city, camera, sites, options = prep.city, prep.camera, prep.sites, prep.options
    demand, coverage, halo, priority = prep.demand, prep.coverage, prep.halo, prep.priority
    check_memory(coverage.matrix.nnz, opts.time_limit_s)
    with stage("optimise"):
        plan = solve(coverage, options, demand, opts, pole=prep.pole)
    chosen = np.asarray(plan.chosen, dtype=np.int32)
    levels = chosen_levels(coverage.matrix, chosen, len(demand), opts.k)
    min_level = opts.level
    cam_weight, cam_loss, seen_count = camera_figures(
        coverage.matrix, chosen, demand.weight, min_level, opts.k
    )
    streets = street_coverage(city, demand, levels >= min_level)
    areas = priority_coverage(priority, demand, levels >= min_level) if priority else None
    summary = make_summary(
        prep.paths,
        opts,
        city=city,
        camera=camera,
        sites=sites,
        options=options,
        demand=demand,
        coverage=coverage,
        plan=plan,
        levels=levels,
        timings=timings,
        halo=halo,
        streets=streets,
    )
    if areas is not None:
        summary["priority_areas"] = areas
    if extra:
        summary.update(extra)
    summary["run_warnings"] = notes  # filled on: the write stage may add to it
    result = Result(
        city,
        camera,
        sites,
        options,
        demand,
        coverage,
        plan,
        levels,
        cam_weight,
        summary,
        halo=halo,
        streets=streets,
        camera_loss=cam_loss,
        seen_count=seen_count,
    )
    if out_dir is not None:
        with stage("write"):
            result = write_result(result, Path(out_dir), opts)
        result.summary["timings_s"] = dict(timings)
    return result


def camera_figures(
    matrix: Any,
    chosen: npt.NDArray[np.int32],
    weight: npt.NDArray[np.float64],
    min_level: int,
    k: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """What the chosen cameras see at ``min_level``, in one pass over their rows.

    Returns
    -------
    covered : (K,) the demand weight each camera sees (shared points for each).
    loss : (K,) the weight that stops counting when that camera is taken away: the points
        it sees that exactly ``k`` chosen cameras see (k = 1: no other camera sees them).
    count : (N,) how many chosen cameras see each point.
    """
    if len(chosen) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(matrix.shape[1], np.int64)
    seen = sparse.csr_matrix(matrix[chosen] >= min_level, dtype=np.float64)
    count = np.asarray(seen.sum(axis=0)).ravel().astype(np.int64)
    covered = np.asarray(seen @ weight).ravel()
    loss = np.asarray(seen @ np.where(count == k, weight, 0.0)).ravel()
    return covered, loss, count


def _file_digest(path: Path) -> dict[str, Any]:
    """Path, size and SHA-256 of an input; of a folder, over the files the reader takes
    from it (``.gml`` and ``.zip``, as :func:`placement.citygml.expand_inputs`)."""
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".gml", ".zip")
        )
        h = hashlib.sha256()
        size = 0
        for f in files:
            h.update(str(f.relative_to(path)).encode())
            h.update(file_sha256(f).encode())
            size += f.stat().st_size
        return {
            "path": str(path.resolve()),
            "files": len(files),
            "bytes": size,
            "sha256": h.hexdigest(),
        }
    return {"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def make_summary(
    paths: Sequence[str | Path],
    opts: RunOptions,
    *,
    city: City,
    camera: Camera,
    sites: Sites,
    options: Options,
    demand: Demand,
    coverage: Coverage,
    plan: Plan,
    levels: npt.NDArray[np.int8],
    timings: dict[str, float],
    halo: Halo | None = None,
    streets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything needed to understand and reproduce a run, as plain JSON-able values
    (``streets``: the rows of :func:`placement.streets.street_coverage`, summarised)."""
    w = demand.weight
    lengths = street_length(city, demand)
    total_w = float(w.sum())
    n = len(demand)
    min_level = opts.level
    covered = levels >= min_level
    coverable_levels = kth_levels(coverage.matrix, n, opts.k)
    coverable = coverable_levels >= min_level
    by_level = {}
    for i, name in enumerate(LEVEL_NAMES, start=1):
        m = levels >= i
        by_level[name] = {
            "points": int(m.sum()),
            "weight": float(w[m].sum()),
            "fraction": float(m.sum() / n) if n else 0.0,
            "fraction_weighted": float(w[m].sum() / total_w) if total_w else 0.0,
            # Of the demand whose best level is this one: the picture's legend shares.
            "best_fraction_weighted": float(w[levels == i].sum() / total_w) if total_w else 0.0,
        }
    chosen = np.asarray(plan.chosen, dtype=np.int32)
    src_counts: dict[str, int] = {}
    for s in sites.source:
        src_counts[s] = src_counts.get(s, 0) + 1
    plan_d = plan.to_dict() if hasattr(plan, "to_dict") else {}
    plan_d.pop("coverage_count", None)
    plan_d.update(
        {
            "chosen": len(chosen),
            "existing": int(options.existing[chosen].sum()) if len(chosen) else 0,
            "new": int((~options.existing[chosen]).sum()) if len(chosen) else 0,
            "cost": float(options.cost[chosen][~options.existing[chosen]].sum())
            if len(chosen)
            else 0.0,
        }
    )
    return {
        "version": __version__,
        "software": software(),
        "inputs": [_file_digest(Path(p)) for p in paths],
        # What was read from them: each file, folder entry or zip member ("zip!member")
        # with the features it gave (a member or copy skipped as a repeat is not here).
        "files_read": _files_read(city),
        "side_inputs": [
            {"option": key, **_file_digest(Path(getattr(opts, key)))}
            for key in SIDE_FILE_OPTIONS
            if getattr(opts, key) is not None
        ],
        "options": opts.to_dict(absolute_paths=True),
        "camera": camera.to_dict(),
        "crs": city.crs,
        "source_crs": city.source_crs,
        "ground_source": city.ground_source,
        "counts": summarize(city)["counts"],
        "city": {
            "triangles": city.occluders.n_triangles + city.roads.n_triangles,
            "bounds_m": list(city.bounds()),
            "skipped": city.skipped,
        },
        "warnings": len(city.warnings),
        "warning_messages": list(city.warnings[:50]),
        "halo": (halo or Halo(Mesh.empty())).to_dict(),
        "sites": {"total": len(sites), "by_source": src_counts},
        "camera_options": len(options),
        "demand": summarize_demand(demand),
        "visibility": {
            "visible_pairs": int(coverage.matrix.nnz),
            **{k: v for k, v in coverage.stats.items() if isinstance(v, int | float | bool | str)},
        },
        "problem": opts.problem,
        "plan": plan_d,
        "coverage": {
            "points": n,
            "total_weight": total_w,
            "covered_points": int(covered.sum()),
            "covered_weight": float(w[covered].sum()),
            "covered_fraction": float(covered.sum() / n) if n else 0.0,
            "covered_fraction_weighted": float(w[covered].sum() / total_w) if total_w else 0.0,
            "coverable_points": int(coverable.sum()),
            "coverable_fraction": float(coverable.sum() / n) if n else 0.0,
            "min_level": opts.min_level,
            "k": opts.k,
            "weigh_by": opts.weigh_by,
            # Of a point before its road, sidewalk and priority multipliers.
            "weight_unit": "street metres" if opts.weigh_by == "length" else "grid cells",
            "street_m": float(lengths.sum()),
            "covered_street_m": float(lengths[covered].sum()),
            "by_level": by_level,
        },
        "streets": street_summary(streets or []),
        "timings_s": dict(timings),
    }


#: Every file a run may write. Those a run does not write (``--no-render``, ``--no-html``)
#: are removed from its folder, so no earlier run's picture stays beside its results.
OUTPUT_FILES = (
    "cameras.csv",
    "cameras.geojson",
    "coverage.geojson",
    "coverage_areas.geojson",
    "views.geojson",
    "streets.csv",
    "scene.npz",
    "scene.png",
    "scene.html",
    "summary.json",
    "report.md",
)
#: What a sweep (:mod:`placement.sweep`) writes: these files, and a run's folder per budget.
SWEEP_FILES = ("sweep.csv", "sweep.svg", "sweep.md")


def result_entries(out_dir: str | Path) -> tuple[str, ...]:
    """Every entry of ``out_dir`` a run or a sweep left there, which the next run or sweep
    removes (a run into a sweep's folder, a sweep into a run's or into an earlier sweep's
    with other budgets), so a folder holds one set of results: the files of
    :data:`OUTPUT_FILES` and :data:`SWEEP_FILES`, and the run folders the earlier sweep's
    ``sweep.csv`` lists, where they hold nothing but a run's files. Anything else stays."""
    out = Path(out_dir)
    names = [*OUTPUT_FILES, *SWEEP_FILES]
    try:
        with (out / "sweep.csv").open(newline="", encoding="utf-8") as f:
            listed = [str(row.get("folder") or "") for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return tuple(names)
    for name in listed:
        folder = out / name
        if not re.fullmatch(r"budget-[0-9.e+-]+", name) or folder.is_symlink():
            continue
        if not folder.is_dir():
            continue
        inside = {p.name for p in folder.iterdir()}
        if "summary.json" in inside and inside <= set(OUTPUT_FILES):
            names.append(name)
        else:
            log.warning(
                "%s: left in place: it holds files a run does not write (%s)",
                folder,
                ", ".join(sorted(inside - set(OUTPUT_FILES))[:3]) or "no summary.json",
            )
    return tuple(names)


#: The packages whose versions can change an answer (OR-Tools' deterministic time and
#: PDLP, the ray caster, the parsers), recorded beside the code's own version.
_SOFTWARE = (
    "numpy",
    "scipy",
    "ortools",
    "highspy",
    "embreex",
    "trimesh",
    "shapely",
    "pyproj",
    "lxml",
)


def software() -> dict[str, str | None]:
    """What ran: Python, the key packages' versions, and the git commit of the code when
    it runs from a git checkout (with "+dirty" when it has uncommitted changes), else None."""
    import importlib.metadata
    import platform
    import subprocess

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _SOFTWARE:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            got = subprocess.run(
                ["git", "-C", str(here), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return got.stdout.strip() or None if got.returncode == 0 else None

    # Only this project's own checkout: installed into a venv inside another git project,
    # the code would otherwise record that project's commit.
    top = git("rev-parse", "--show-toplevel")
    ours = top is not None and here == Path(top).resolve() / "src" / "placement"
    out["git"] = git("describe", "--always", "--dirty=+dirty", "--abbrev=12") if ours else None
    return out


def _files_read(city: City) -> dict[str, int]:
    """Features read per document, named by absolute path (``a.zip!member`` inside a zip),
    so the record is the same from whichever folder the run was started."""
    files = city.extra.get("files")
    if not isinstance(files, dict):
        return {}
    return {_absolute(str(k)): int(v) for k, v in files.items()}


def _absolute(label: str) -> str:
    """A source's label (``path`` or ``path!member``) with its path made absolute."""
    cuts = [i for i, c in enumerate(label) if c == "!"]
    for end in [len(label), *cuts]:
        path = Path(label[:end])
        if path.is_file():
            return str(path.resolve()) + label[end:]
    return label


def write_result(result: Result, out_dir: Path, opts: RunOptions) -> Result:
    """Write every output into ``out_dir`` atomically (all files or none); the files of
    :data:`OUTPUT_FILES` this run does not write are removed from it."""
    from placement import io

    chosen = np.asarray(result.plan.chosen, dtype=np.int32)
    options = result.options
    own = [result.sites.ids[s] for s in options.site[chosen]]
    # An installed camera keeps the id its --existing file gave it (a run's cameras file
    # read back keeps its cam-NNN); new cameras are numbered around those.
    existing = result.sites.existing[options.site[chosen]]
    ids = io.camera_ids(len(chosen), [i if e else None for i, e in zip(own, existing, strict=True)])
    # Its site is the candidate it stands at, else the pole its file named (a run's cameras
    # file read back where this run offers no site there), else itself.
    pole = shared_poles(result.sites)
    names = result.sites.pole_names()
    site_ids = [names[s] for s in pole[options.site[chosen]]]
    min_level = opts.level
    written: list[str] = []
    began = time.perf_counter()
    with io.staged_output(out_dir, retire=result_entries(out_dir)) as stage_dir:
        cams: dict[str, Any] = {
            "crs": result.city.crs,
            "options": options,
            "chosen": chosen,
            "site_ids": site_ids,
            "camera": result.camera,
            "covered_weight": result.camera_weight,
            "ids": ids,
            "ground_z": result.sites.ground_z[options.site[chosen]],
            "loss_weight": result.camera_loss if len(result.camera_loss) == len(chosen) else None,
        }
        io.write_cameras_geojson(stage_dir / "cameras.geojson", **cams)
        io.write_cameras_csv(stage_dir / "cameras.csv", **cams)
        io.write_coverage_geojson(
            stage_dir / "coverage.geojson",
            crs=result.city.crs,
            demand=result.demand,
            seen_by=result.coverage.matrix[chosen],
            level=result.levels,
            ids=ids,
            min_level=min_level,
            road_ids=_road_ids(result.city, result.demand),
        )
        io.write_streets_csv(stage_dir / "streets.csv", result.streets)
        _write_areas(
            result, stage_dir, chosen, ids=ids, site_ids=site_ids, min_level=min_level, k=opts.k
        )
        picture: str | None = None
        if opts.render:
            from placement import render

            scene = render.scene_from(
                result.city,
                result.demand,
                result.levels,
                options,
                chosen,
                result.camera,
                title=_title(result),
                ids=ids,
                k=opts.k,
                min_level=min_level,
                partial=_partial(result, opts.k),
            )
            scene.save(stage_dir / "scene.npz")
            render.render_png(scene, stage_dir / "scene.png")
            picture = "scene.png"
            if opts.html:
                render.export_html(scene, stage_dir / "scene.html")
        # The write stage as far as these two small files: the rest of it is done.
        result.summary["timings_s"]["write"] = time.perf_counter() - began
        io.write_summary_json(stage_dir / "summary.json", result.summary)
        write_report(
            stage_dir / "report.md",
            result.summary,
            picture=picture,
            cameras=io.camera_rows(**cams),
        )
        written = sorted(p.name for p in stage_dir.iterdir())
    return dataclasses.replace(result, out_dir=out_dir, files=tuple(written))


def _write_areas(
    result: Result,
    stage_dir: Path,
    chosen: npt.NDArray[np.int32],
    *,
    ids: Sequence[str],
    site_ids: Sequence[str],
    min_level: int,
    k: int,
) -> None:
    """``coverage_areas.geojson`` (the street area at each level the run counts by; with
    k > 1 the points some chosen camera sees but fewer than k do apart from the unseen ones)
    and ``views.geojson`` (each chosen camera's street area, per level from ``min_level``)."""
    from placement import areas, io

    names = ("unseen", *LEVEL_NAMES)
    # Index -1: the "partial" band, below the levels.
    names_of = {-1: f"seen by fewer than {k}", **dict(enumerate(names))}
    demand = result.demand
    surface = areas.street_surface(
        result.city, result.halo.footprints if result.halo is not None else ()
    )
    total_area = float(surface.area)
    total_weight = float(demand.weight.sum())
    classes = np.asarray(result.levels, np.int64).copy()
    partial = _partial(result, k)
    if partial is not None:
        classes[partial & (classes == 0)] = -1
    bands = areas.level_areas(demand, classes, surface)
    io.write_areas_geojson(
        stage_dir / "coverage_areas.geojson",
        crs=result.city.crs,
        features=[
            (
                a.geometry,
                {
                    "level": level if level > 0 else None,
                    "level_name": names_of[level],
                    "covered": level >= min_level,
                    "points": a.points,
                    "weight": round(a.weight, 6),
                    "area_m2": round(a.area_m2, 2),
                    "area_share": round(a.area_m2 / total_area, 6) if total_area else None,
                    "weight_share": round(a.weight / total_weight, 6) if total_weight else None,
                },
            )
            for level, a in sorted(bands.items())
        ],
    )
    views = areas.camera_areas(demand, result.coverage.matrix[chosen], min_level, surface)
    existing = result.options.existing[chosen]
    io.write_areas_geojson(
        stage_dir / "views.geojson",
        crs=result.city.crs,
        features=[
            (
                a.geometry,
                {
                    "id": ids[c],
                    "site_id": site_ids[c],
                    "existing": bool(existing[c]),
                    "level": level,
                    "level_name": names[level],
                    "points": a.points,
                    "weight": round(a.weight, 6),
                    "area_m2": round(a.area_m2, 2),
                },
            )
            for c, mine in enumerate(views)
            for level, a in sorted(mine.items())
        ],
    )


def _partial(result: Result, k: int) -> npt.NDArray[np.bool_] | None:
    """With k > 1, the points some chosen camera sees (at any level) that fewer than k do:
    "seen by fewer than k", not unseen; None with k = 1."""
    if k <= 1:
        return None
    best = chosen_levels(result.coverage.matrix, result.plan.chosen, len(result.demand), 1)
    return np.asarray((best > 0) & (result.levels == 0), bool)


def _road_ids(city: City, demand: Demand) -> list[str | None] | None:
    """The gml:id of the road surface under each demand point (None where unknown)."""
    if demand.road is None:
        return None
    ids = city.features.ids
    return [ids[r] if r >= 0 else None for r in demand.road.tolist()]


def _title(result: Result) -> str:
    cov = result.summary["coverage"]
    plan = result.summary["plan"]
    by = f" by {cov['k']} cameras" if cov.get("k", 1) > 1 else ""
    return (
        f"{plan['chosen']} cameras - {100 * cov['covered_fraction_weighted']:.1f}% of street "
        f"demand seen{by} at {cov['min_level']} or better"
    )
