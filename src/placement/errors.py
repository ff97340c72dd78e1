"""The project's error types.

Every error the library raises on bad input is a :class:`PlacementError`. Subclasses
also inherit the builtin they resemble, so ``except OSError`` or ``except ValueError``
in user code keeps working. Messages are built first and name the file, the feature
and what is wrong, so the CLI can print them as one line.
"""

from __future__ import annotations

from pathlib import Path


class PlacementError(Exception):
    """Base class of every error raised by placement on bad input or options."""


class CityGMLError(PlacementError, ValueError):
    """A file is not readable CityGML: not XML, truncated, wrong root, no CRS, ..."""

    def __init__(self, path: str | Path | None, problem: str, *, feature: str | None = None):
        self.path = None if path is None else str(path)
        self.feature = feature
        self.problem = problem
        where = self.path or "<input>"
        if feature:
            where = f"{where}: feature {feature}"
        super().__init__(f"{where}: {problem}")


class CRSError(PlacementError, ValueError):
    """An unknown, missing or unsupported coordinate reference system."""


class OptionError(PlacementError, ValueError):
    """An option has a value outside its allowed range, or options contradict each other."""


class InputFileError(PlacementError, OSError):
    """An input file (sites, priority polygons, camera TOML, ...) cannot be read or is malformed."""


class InfeasibleError(PlacementError, ValueError):
    """The optimisation problem has no solution (e.g. a cover target no camera set reaches)."""
