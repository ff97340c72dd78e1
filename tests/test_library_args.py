"""The library's stages refuse wrong arguments as the command line does: one line, an
OptionError naming the function and the argument, not numpy's or shapely's error from
deep inside (or, worse, a silent wrong answer)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from placement.camera import PRESETS
from placement.demand import sample_demand
from placement.errors import CityGMLError, OptionError
from placement.render import scene_from
from placement.sites import combine_sites, make_options, pole_sites, road_edge_sites
from placement.visibility import compute_coverage
from scenes import cross_city

CAM = PRESETS["fullhd-103"]


def _parts() -> tuple[Any, Any, Any, Any]:
    city = cross_city()
    sites = road_edge_sites(city, mount_height_m=6.0, spacing_m=20.0)
    options = make_options(sites, CAM, headings=4)
    demand = sample_demand(city, spacing_m=4.0)
    return city, sites, options, demand


BAD: list[tuple[str, Callable[..., Any], str]] = [
    ("spacing nan", lambda c, s, o, d: road_edge_sites(c, mount_height_m=6, spacing_m=math.nan),
     "road_edge_sites: spacing_m must be a finite number > 0, got nan"),
    ("spacing inf", lambda c, s, o, d: road_edge_sites(c, mount_height_m=6, spacing_m=math.inf),
     "spacing_m must be a finite number > 0, got inf"),
    ("spacing str", lambda c, s, o, d: road_edge_sites(c, mount_height_m=6, spacing_m="20"),
     "spacing_m must be a finite number > 0, got '20'"),
    ("inset nan", lambda c, s, o, d: road_edge_sites(c, mount_height_m=6, inset_m=math.nan),
     "inset_m must be a finite number >= 0"),
    ("pole min height", lambda c, s, o, d: pole_sites(c, mount_height_m=6, min_height_m=math.nan),
     "pole_sites: min_height_m"),
    ("demand spacing", lambda c, s, o, d: sample_demand(c, spacing_m="2"),
     "sample_demand: spacing_m must be a finite number > 0, got '2'"),
    ("road weight nan", lambda c, s, o, d: sample_demand(c, road_weight=math.nan),
     "sample_demand: road_weight must be a finite number >= 0, got nan"),
    ("clip", lambda c, s, o, d: sample_demand(c, clip="box"),
     "clip must be a shapely polygon, got str"),
    ("tilts str", lambda c, s, o, d: make_options(s, CAM, tilts_deg="20"),
     "tilts_deg must be numbers, e.g. (20.0, 35.0), got '20'"),
    ("tilts nan", lambda c, s, o, d: make_options(s, CAM, tilts_deg=[math.nan]),
     "make_options: tilts_deg must be a finite number"),
    ("camera name", lambda c, s, o, d: make_options(s, "fullhd-103"),
     "camera must be a Camera (e.g. PRESETS['fullhd-103']), got str"),
    ("workers str", lambda c, s, o, d: compute_coverage(c, o, d, CAM, workers="2"),
     "compute_coverage: workers must be a whole number >= 1, got '2'"),
    ("workers 2.5", lambda c, s, o, d: compute_coverage(c, o, d, CAM, workers=2.5),
     "workers must be a whole number >= 1, got 2.5"),
    ("chunk 1.5", lambda c, s, o, d: compute_coverage(c, o, d, CAM, chunk_pairs=1.5),
     "chunk_pairs must be a whole number >= 1"),
    ("combine a list", lambda c, s, o, d: combine_sites([s]),
     "combine_sites: takes Sites one by one"),
    ("levels shape", lambda c, s, o, d: scene_from(c, d, np.zeros(3), o, [0], CAM, title="t"),
     "scene_from: "),
    ("chosen range", lambda c, s, o, d: scene_from(
        c, d, np.zeros(len(d)), o, [len(o)], CAM, title="t"),
     "chosen holds rows outside the"),
    ("ids length", lambda c, s, o, d: scene_from(
        c, d, np.zeros(len(d)), o, [0, 1], CAM, title="t", ids=["a"]),
     "scene_from: 1 ids for 2 chosen cameras"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "call", "says"), BAD, ids=[b[0] for b in BAD])
def test_stage_arguments_are_refused_in_one_line(
    case: str, call: Callable[..., Any], says: str
) -> None:
    parts = _parts()
    with pytest.raises(OptionError) as info:
        call(*parts)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_good_variants_still_work() -> None:
    city, sites, options, demand = _parts()
    # One tilt as a number, numpy scalars, a whole float for workers.
    assert len(make_options(sites, CAM, headings=4, tilts_deg=20)) == len(sites) * 4
    assert len(make_options(sites, CAM, headings=4, tilts_deg=[np.float32(20)])) == len(sites) * 4
    again = road_edge_sites(city, mount_height_m=6.0, spacing_m=np.float64(20.0))
    np.testing.assert_array_equal(again.xyz, sites.xyz)
    cov = compute_coverage(city, options, demand, CAM, workers=1.0)
    assert cov.matrix.shape == (len(options), len(demand)) and cov.matrix.nnz > 0


def test_read_citygml_refuses_a_list_in_a_list() -> None:
    from placement.citygml import read_citygml

    with pytest.raises(CityGMLError, match=r"a list inside the list"):
        read_citygml([["a.gml", "b.gml"]])  # type: ignore[list-item]
    with pytest.raises(CityGMLError, match="got NoneType"):
        read_citygml(None)  # type: ignore[arg-type]


def test_ctrl_c_in_compute_coverage_skips_the_chunks_not_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An interrupt stops the ray casting at once: the chunks still queued are cancelled,
    not traced first."""
    import placement.visibility._compute as vc

    city, _, options, demand = _parts()
    real = vc._run_chunk
    calls: list[int] = []

    def first_interrupted(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args)

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(vc, "_run_chunk", counted)
    compute_coverage(city, options, demand, CAM, workers=2, chunk_pairs=1, min_parallel_pairs=0)
    jobs = len(calls)
    calls.clear()
    monkeypatch.setattr(vc, "_run_chunk", first_interrupted)
    with pytest.raises(KeyboardInterrupt):
        compute_coverage(city, options, demand, CAM, workers=2, chunk_pairs=1, min_parallel_pairs=0)
    # The interrupted chunk and at most what the other thread had started.
    assert jobs >= 10 and len(calls) <= 3


def test_empty_path_and_an_inset_wider_than_the_roads(caplog: pytest.LogCaptureFixture) -> None:
    from placement.citygml import read_citygml

    with pytest.raises(CityGMLError, match="an input path is empty"):
        read_citygml("")  # would read the whole working folder
    city = cross_city()  # streets 10 m wide
    with caplog.at_level("WARNING", logger="placement.sites"):
        s = road_edge_sites(city, mount_height_m=6.0, inset_m=1000.0)
    assert len(s) == 0
    assert "an inset of 1000 m leaves no kerb line" in caplog.text
