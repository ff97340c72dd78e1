"""Triangulation and polygon measures (placement.geometry)."""

from __future__ import annotations

import numpy as np
import pytest

from placement.geometry import (
    newell_normals,
    polygon_area,
    triangle_areas,
    triangle_normals,
    triangulate_polygon,
    triangulate_polygons,
)


def _area(verts: np.ndarray, faces: np.ndarray) -> float:
    return float(triangle_areas(verts, faces).sum())


def test_square_with_hole_area_is_outer_minus_hole() -> None:
    outer = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]], float)
    hole = np.array([[3, 3, 0], [3, 7, 0], [7, 7, 0], [7, 3, 0]], float)
    faces = triangulate_polygon([outer, hole])
    verts = np.concatenate([outer, hole])
    assert _area(verts, faces) == pytest.approx(84.0)
    assert polygon_area([outer, hole]) == pytest.approx(84.0)
    # Every triangle faces +z like the counter-clockwise exterior.
    assert np.allclose(triangle_normals(verts, faces)[:, 2], 1.0)
    assert faces.shape == (8, 3)


def test_closed_rings_and_vertical_polygon() -> None:
    # A wall in the x-z plane given with its closing vertex repeated.
    wall = np.array([[0, 0, 0], [4, 0, 0], [4, 0, 3], [0, 0, 3], [0, 0, 0]], float)
    faces = triangulate_polygon([wall])
    assert faces.max() < 4  # the repeated closing vertex is never used
    assert _area(wall, faces) == pytest.approx(12.0)
    n = triangle_normals(wall, faces)
    assert np.allclose(n, [0.0, -1.0, 0.0])  # right-hand rule over (x, then z)


def test_concave_l_shape_with_earcut() -> None:
    ring = np.array([[0, 0, 5], [6, 0, 5], [6, 2, 5], [2, 2, 5], [2, 6, 5], [0, 6, 5]], float)
    faces = triangulate_polygon([ring])
    assert faces.shape == (4, 3)
    assert _area(ring, faces) == pytest.approx(20.0)


def test_concave_quad_uses_the_inner_diagonal() -> None:
    # Arrow-head quad: the diagonal 0-2 lies outside, 1-3 must be used.
    ring = np.array([[0, 0, 0], [2, 1, 0], [4, 0, 0], [2, 3, 0]], float)
    faces = triangulate_polygon([ring])
    assert _area(ring, faces) == pytest.approx(polygon_area([ring]))
    assert polygon_area([ring]) == pytest.approx(4.0)


def test_degenerate_polygons_give_no_triangles() -> None:
    collinear = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]], float)
    two_points = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0]], float)
    repeated = np.array([[1, 1, 1]] * 4, float)
    for ring in (collinear, two_points, repeated):
        assert triangulate_polygon([ring]).shape == (0, 3)
    assert triangulate_polygon([]).shape == (0, 3)


def test_non_planar_polygon_is_projected_on_its_best_fit_plane() -> None:
    ring = np.array([[0, 0, 0], [10, 0, 0.1], [10, 10, 0], [0, 10, 0.1], [-2, 5, 0]], float)
    faces = triangulate_polygon([ring])
    assert faces.shape == (3, 3)
    assert np.all(triangle_normals(ring, faces)[:, 2] > 0.99)


def test_batch_matches_single_and_far_coordinates_keep_precision() -> None:
    # Plane-rectangular coordinates are ~1e5 m: the unit square must stay exactly 1 m^2.
    base = np.array([-55905.2216, -147707.8979, 7.0])
    sq = base + np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    tri = base + np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1]], float)
    pent = base + np.array([[0, 0, 2], [2, 0, 2], [3, 1, 2], [1, 2, 2], [-1, 1, 2]], float)
    verts = np.concatenate([sq, tri, pent])
    faces, poly = triangulate_polygons(verts, np.array([0, 4, 7, 12]), np.array([0, 1, 2, 3]))
    assert np.bincount(poly).tolist() == [2, 1, 3]
    assert _area(verts, faces[poly == 0]) == pytest.approx(1.0, abs=1e-9)
    assert _area(verts, faces[poly == 1]) == pytest.approx(0.5, abs=1e-9)
    assert _area(verts, faces[poly == 2]) == pytest.approx(polygon_area([pent]), abs=1e-9)
    normals = newell_normals(verts, np.array([0, 4, 7, 12]))
    assert normals[0] == pytest.approx([0, 0, 2.0])
