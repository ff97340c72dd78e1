"""Triangulation and polygon measures (placement.geometry)."""

from __future__ import annotations

import numpy as np
import pytest

from placement.geometry import (
    bisect_triangles,
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


def _min_angle_deg(v: np.ndarray, f: np.ndarray) -> float:
    t = v[f]
    a, b = np.roll(t, -1, axis=1) - t, np.roll(t, 1, axis=1) - t
    cos = (a * b).sum(axis=2) / np.linalg.norm(a, axis=2) / np.linalg.norm(b, axis=2)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))).min())


def _edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each undirected edge once, and how many triangles use it."""
    pairs = np.sort(np.stack([faces, np.roll(faces, -1, axis=1)], axis=2).reshape(-1, 2), axis=1)
    edges, count = np.unique(pairs, axis=0, return_counts=True)
    return edges, count


def test_bisecting_a_long_strip_keeps_it_whole_and_conforming() -> None:
    # A 200 m x 8 m road in 2 triangles, as PLATEAU LOD1 stores one between junctions.
    v = np.array([[0, 0, 0], [200, 0, 0], [200, 8, 0], [0, 8, 0]], float)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    parent = np.arange(2)
    for _ in range(20):
        tri = v[f]
        longest = np.linalg.norm(np.roll(tri, -1, axis=1) - tri, axis=2).max(axis=1)
        if longest.max() <= 10.0:
            break
        v, f, p = bisect_triangles(v, f, longest > 10.0)
        parent = parent[p]
    assert longest.max() <= 10.0
    # The pieces tile the strip: same area, same winding, each piece inside its parent.
    assert _area(v, f) == pytest.approx(1600.0)
    assert np.all(triangle_normals(v, f)[:, 2] > 0.99)
    assert np.bincount(parent).tolist() == [len(f) // 2, len(f) // 2]
    # No hanging vertex: an edge used once lies on the strip's outline, all others twice.
    edges, count = _edges(f)
    mid = v[edges[count == 1]].mean(axis=1)
    outline = np.isclose(mid[:, 0], 0) | np.isclose(mid[:, 0], 200)
    outline |= np.isclose(mid[:, 1], 0) | np.isclose(mid[:, 1], 8)
    assert outline.all() and count.max() == 2
    # Longest-edge bisection keeps the smallest angle at least half the input's (1.1
    # degrees here): no needles, and not many more pieces than the area needs.
    assert _min_angle_deg(v, f) >= 0.5 * _min_angle_deg(v[:4], np.array([[0, 1, 2], [0, 2, 3]]))
    assert len(f) < 500


def test_a_split_reaches_across_the_shared_edge_only() -> None:
    # Two triangles sharing the long diagonal, a third elsewhere: splitting the first
    # splits the second across the diagonal too; the third is left alone.
    v = np.array(
        [[0, 0, 0], [10, 0, 2], [10, 10, 4], [0, 10, 2], [50, 0, 0], [51, 0, 0], [50, 1, 0]], float
    )
    f = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    v2, f2, parent = bisect_triangles(v, f, np.array([True, False, False]))
    assert parent.tolist() == [0, 0, 1, 1, 2]
    assert v2.shape[0] == 8 and v2[7].tolist() == [5.0, 5.0, 2.0]  # the diagonal's midpoint
    assert f2[4].tolist() == [4, 5, 6]
    assert _area(v2, f2[:4]) == pytest.approx(_area(v, f[:2]))
    same = bisect_triangles(v, f, np.zeros(3, bool))
    assert np.array_equal(same[1], f) and same[0].shape == v.shape
