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
