"""placement: where to put security cameras in a PLATEAU 3D city model.

The pipeline stages are importable one by one for notebooks; heavy dependencies
(pyvista, embree, ortools) are imported only by the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from placement import _logging

__version__ = "0.1.0"

if TYPE_CHECKING:  # the names below, typed for mypy and editors; imported lazily at run time
    from placement import optimise
    from placement.camera import Camera
    from placement.citygml import read_citygml
    from placement.demand import sample_demand
    from placement.errors import PlacementError
    from placement.model import City, Demand, Mesh, Options, Sites
    from placement.pipeline import RunOptions, run
    from placement.sites import (
        combine_sites,
        make_options,
        pole_sites,
        read_sites,
        road_edge_sites,
        shared_poles,
    )
    from placement.visibility import Coverage, compute_coverage

# Warnings print to stderr when the caller configured no logging (a notebook).
_logging.install()

_LAZY = {
    "read_citygml": ("placement.citygml", "read_citygml"),
    "Camera": ("placement.camera", "Camera"),
    "compute_coverage": ("placement.visibility", "compute_coverage"),
    "Coverage": ("placement.visibility", "Coverage"),
    "road_edge_sites": ("placement.sites", "road_edge_sites"),
    "pole_sites": ("placement.sites", "pole_sites"),
    "read_sites": ("placement.sites", "read_sites"),
    "combine_sites": ("placement.sites", "combine_sites"),
    "shared_poles": ("placement.sites", "shared_poles"),
    "make_options": ("placement.sites", "make_options"),
    "sample_demand": ("placement.demand", "sample_demand"),
    "run": ("placement.pipeline", "run"),
    "RunOptions": ("placement.pipeline", "RunOptions"),
    "City": ("placement.model", "City"),
    "Mesh": ("placement.model", "Mesh"),
    "Sites": ("placement.model", "Sites"),
    "Options": ("placement.model", "Options"),
    "Demand": ("placement.model", "Demand"),
    "PlacementError": ("placement.errors", "PlacementError"),
}

__all__ = [
    "Camera",
    "City",
    "Coverage",
    "Demand",
    "Mesh",
    "Options",
    "PlacementError",
    "RunOptions",
    "Sites",
    "__version__",
    "combine_sites",
    "compute_coverage",
    "make_options",
    "optimise",
    "pole_sites",
    "read_citygml",
    "read_sites",
    "road_edge_sites",
    "run",
    "sample_demand",
    "shared_poles",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name == "optimise":
        import importlib

        return importlib.import_module("placement.optimise")
    raise AttributeError(f"module 'placement' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, for tab completion in notebooks (they load lazily)."""
    return sorted({*globals(), *__all__})
