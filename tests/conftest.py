"""Shared fixtures: where the real PLATEAU tiles are, and the project's own sample tile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "citygml" / "sample_city.gml"


def plateau_dir() -> Path | None:
    """The real PLATEAU data folder, or None when this machine does not have it."""
    env = os.environ.get("PLACEMENT_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data" / "plateau")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def plateau() -> Path:
    """The real tiles folder; skips the test with a reason when it is absent."""
    d = plateau_dir()
    if d is None:
        pytest.skip("real PLATEAU tiles not found (../shared/data/plateau or $PLACEMENT_DATA)")
    return d


@pytest.fixture(scope="session")
def sample_tile() -> Path:
    """The project's own sample tile in citygml/."""
    if not SAMPLE.exists():
        pytest.skip("citygml/sample_city.gml has not been generated yet")
    return SAMPLE


@pytest.fixture(scope="session")
def existing_csv(tmp_path_factory: pytest.TempPathFactory, sample_tile: Path) -> Path:
    """One installed camera on the sample tile: the first road-edge site, looking east."""
    import numpy as np

    from placement.crs import to_lonlat
    from placement.pipeline import RunOptions, run

    folder = tmp_path_factory.mktemp("existing")
    base = run(
        [sample_tile],
        RunOptions(
            budget=1, render=False, workers=1, time_limit_s=5, cache_dir=str(folder / "cache")
        ),
    )
    site = int(np.flatnonzero(np.array(base.sites.source) == "road-edge")[0])
    xyz = base.sites.xyz[site : site + 1]
    lon, lat = to_lonlat(xyz[:, 0], xyz[:, 1], base.city.crs)
    ex = folder / "existing.csv"
    ex.write_text(f"id,lon,lat,heading_deg\nold-1,{lon[0]:.9f},{lat[0]:.9f},90\n")
    return ex
