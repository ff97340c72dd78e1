"""Surface heights under plan points: exact on a tilted plane, fallbacks off the mesh."""

from __future__ import annotations

import numpy as np

from placement.heights import height_at, height_sampler
from placement.model import Mesh, SurfaceKind
from scenes import X0, Y0, box_mesh


def _slope() -> Mesh:
    """A 100 x 100 m plane rising 1 m per 10 m eastwards, far from the origin (float32 test)."""
    v = np.array(
        [[X0, Y0, 20.0], [X0 + 100, Y0, 30.0], [X0 + 100, Y0 + 100, 30.0], [X0, Y0 + 100, 20.0]]
    )
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    return Mesh(v, f, np.zeros(2, np.int32), np.full(2, SurfaceKind.ROAD, np.int8))


def test_heights_on_a_slope_are_exact_to_the_millimetre() -> None:
    xs = np.array([0.0, 12.5, 50.0, 99.0])
    xy = np.column_stack([X0 + xs, Y0 + 40.0 + xs / 3])
    np.testing.assert_allclose(height_at(_slope(), xy), 20.0 + xs / 10.0, atol=1e-3)


def test_highest_surface_wins_and_fallbacks() -> None:
    roof = box_mesh(X0 + 10, Y0 + 10, X0 + 20, Y0 + 20, 25.0, 35.0, 1)
    both = Mesh.concatenate([_slope(), roof])
    z = height_at(both, [[X0 + 15, Y0 + 15], [X0 + 5, Y0 + 5]])
    np.testing.assert_allclose(z, [35.0, 20.5], atol=1e-3)
    off = [[X0 - 50, Y0 + 110]]
    assert np.isnan(height_at(both, off, fallback="nan")[0])
    # Nearest vertex in plan: the plane's north-west corner at z = 20.
    np.testing.assert_allclose(height_at(both, off), [20.0])
    assert height_at(Mesh.empty(), [[0.0, 0.0]]).shape == (1,)


def test_a_sampler_answers_as_height_at() -> None:
    xy = [[X0 + 12.5, Y0 + 3], [X0 + 99, Y0 + 50], [X0 - 30, Y0 + 50]]
    sample = height_sampler(_slope(), fallback="nan")
    for _ in range(2):  # one scene, asked twice
        z = sample(xy)
        np.testing.assert_allclose(z[:2], height_at(_slope(), xy[:2]), atol=1e-6)
        assert np.isnan(z[2])
    assert np.isnan(height_sampler(Mesh.empty())(xy)).all()
