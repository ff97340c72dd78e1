"""Street areas as polygons (placement.areas): cells of the demand grid, cut to the street."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import shapely

from placement import areas
from placement.model import Demand, SurfaceKind


def _demand(xy: np.ndarray, spacing: float, weight: np.ndarray | None = None) -> Demand:
    n = len(xy)
    w = np.ones(n) if weight is None else weight
    xyz = np.column_stack([xy, np.full(n, 1.5)])
    return Demand(xyz, np.zeros(n), w, np.full(n, SurfaceKind.ROAD, np.int8), spacing)


def _grid(nx: int, ny: int, spacing: float, x0: int = 0, y0: int = 0) -> np.ndarray:
    i, j = np.meshgrid(np.arange(x0, x0 + nx), np.arange(y0, y0 + ny))
    return np.column_stack([i.ravel() * spacing, j.ravel() * spacing])


def test_cells_of_a_block_of_points_are_one_square_with_four_corners() -> None:
    g = areas.cells_area(_grid(3, 3, 2.0, 10, 20), 2.0)
    assert g.geom_type == "Polygon" and g.is_valid
    assert g.area == pytest.approx(36.0)
    assert g.bounds == pytest.approx((19.0, 39.0, 25.0, 45.0))
    assert len(g.exterior.coords) == 5  # the shared corners along the edges are gone


@pytest.mark.parametrize("spacing", [0.3, 1.7, 2.0])
def test_cells_meet_exactly_whatever_the_spacing(spacing: float) -> None:
    # 0.3 is not a binary fraction: edges computed as x +- s/2 would not meet, and the
    # coverage union would leave slivers or fail.
    rng = np.random.default_rng(3)
    xy = _grid(40, 30, spacing, 1000, -500)
    keep = rng.random(len(xy)) < 0.7
    g = areas.cells_area(xy[keep], spacing)
    assert g.is_valid
    assert g.area == pytest.approx(keep.sum() * spacing**2, rel=1e-9)


def test_cells_are_cut_to_the_street_surface() -> None:
    # A 10 m road strip: the points' cells stick out 1 m on each side; the cut ends at the
    # kerbs (x 0..10 of the cells' -1..11).
    xy = _grid(6, 5, 2.0)  # x 0..10, y 0..8
    strip = shapely.box(-0.0, -1.0, 10.0, 9.0)
    g = areas.cells_area(xy, 2.0, strip)
    assert g.area == pytest.approx(10.0 * 10.0)
    assert g.bounds == pytest.approx((0.0, -1.0, 10.0, 9.0))
    # Nothing of the surface: nothing left.
    assert areas.cells_area(xy, 2.0, shapely.box(100, 100, 110, 110)).is_empty


def test_level_areas_split_the_points_and_do_not_overlap() -> None:
    xy = _grid(20, 10, 2.0)
    lv = (np.arange(len(xy)) % 20 // 4).astype(np.int8)  # bands 8 m wide, levels 0..4
    w = np.linspace(0.5, 2.0, len(xy))
    got = areas.level_areas(_demand(xy, 2.0, w), lv)
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert sum(a.points for a in got.values()) == len(xy)
    for level, a in got.items():
        assert a.points == int((lv == level).sum())
        assert a.weight == pytest.approx(float(w[lv == level].sum()))
        assert a.area_m2 == pytest.approx(4.0 * a.points)
    assert got[0].geometry.intersection(got[1].geometry).area == pytest.approx(0.0)
    with pytest.raises(ValueError, match="levels"):
        areas.level_areas(_demand(xy, 2.0), lv[:-1])


def test_camera_areas_hold_each_cameras_points_by_level() -> None:
    xy = _grid(10, 1, 2.0)
    seen = sp.csr_matrix(
        np.array([[1, 1, 2, 2, 4, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 3, 3, 1, 0, 0]], np.int8)
    )
    got = areas.camera_areas(_demand(xy, 2.0), seen, min_level=2)
    assert [sorted(m) for m in got] == [[2, 4], [3]]
    assert got[0][2].points == 2 and got[0][2].geometry.bounds == pytest.approx((3, -1, 7, 1))
    assert got[0][4].points == 1 and got[1][3].area_m2 == pytest.approx(8.0)
    everything = areas.camera_areas(_demand(xy, 2.0), seen)
    assert sorted(everything[1]) == [1, 3] and everything[1][1].points == 1


def test_unseen_area_is_the_rest_of_the_street_surface() -> None:
    # A 20 x 10 m street with a 1 m strip (too narrow for a 2 m grid point) beside it.
    xy = _grid(10, 5, 2.0)
    lv = np.where(xy[:, 0] < 9.0, 2, 0).astype(np.int8)  # the west half seen
    street = shapely.union_all([shapely.box(-1, -1, 19, 9), shapely.box(-1, 9, 19, 10)])
    got = areas.level_areas(_demand(xy, 2.0), lv, street)
    assert got[2].area_m2 == pytest.approx(10.0 * 10.0)
    # The rest of the street, the strip's whole length included, is unseen.
    assert got[0].area_m2 == pytest.approx(street.area - 100.0)
    assert got[0].points == int((lv == 0).sum()) == 25
    assert got[0].geometry.intersection(got[2].geometry).area == pytest.approx(0.0)
    assert sum(a.area_m2 for a in got.values()) == pytest.approx(street.area)
