"""JIS X 0410 mesh codes: bounds against hand-computed values, neighbours with carries,
round trips."""

from __future__ import annotations

import numpy as np
import pytest

from placement.meshcode import (
    MeshSquare,
    mesh_bounds,
    mesh_code_at,
    neighbours,
    parse_mesh_code,
    split_tile_name,
)

S3, W3 = 30 / 3600, 45 / 3600  # 3rd-level square: 30" x 45"


@pytest.mark.parametrize(
    ("code", "bounds"),
    [
        # 1st level: lat = 53 / 1.5, lon = 39 + 100, 40' x 1 degree.
        ("5339", (53 / 1.5, 139.0, 36.0, 140.0)),
        # 2nd level: + 4 x 5', + 5 x 7.5'.
        ("533945", (53 / 1.5 + 4 * 5 / 60, 139.625, 53 / 1.5 + 5 * 5 / 60, 139.75)),
        # 3rd level (Tokyo): + 0 x 30", + 9 x 45".
        ("53394509", (35 + 40 / 60, 139.7375, 35 + 40 / 60 + S3, 139.75)),
        # Osaka 51357353 (its SOURCES.md envelope is 34.62495..34.63354, 135.41203..135.42511).
        ("51357353", (34.625, 135.4125, 34.625 + S3, 135.425)),
        # 1/2 subdivision 4 = north-east quarter of it, 15" x 22.5".
        ("513573534", (34.625 + S3 / 2, 135.4125 + W3 / 2, 34.625 + S3, 135.425)),
        # 1/4 subdivision 1 = south-west of that, 7.5" x 11.25".
        (
            "5135735341",
            (34.625 + S3 / 2, 135.4125 + W3 / 2, 34.625 + 3 * S3 / 4, 135.41875 + W3 / 4),
        ),
    ],
)
def test_bounds_match_hand_computed_values(
    code: str, bounds: tuple[float, float, float, float]
) -> None:
    assert mesh_bounds(code) == pytest.approx(bounds, abs=1e-12)
    assert parse_mesh_code(code).code == code
    assert mesh_bounds(int(code)) == mesh_bounds(code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Order N, NE, E, SE, S, SW, W, NW.
        (
            "51357362",
            [
                "51357372",
                "51357373",
                "51357363",
                "51357353",
                "51357352",
                "51357351",
                "51357361",
                "51357371",
            ],
        ),
        # 3rd-level column 9 -> next 2nd-level column, column 0; row 0 -> previous 2nd-level row 9.
        (
            "53394509",
            [
                "53394519",
                "53394610",
                "53394600",
                "53393690",
                "53393599",
                "53393598",
                "53394508",
                "53394518",
            ],
        ),
        # Across a 1st-level corner: 3rd row 9 of 2nd row 7 -> 1st-level row 54.
        (
            "53397799",
            [
                "54390709",
                "54400000",
                "53407090",
                "53407080",
                "53397789",
                "53397788",
                "53397798",
                "54390708",
            ],
        ),
        (
            "533977",
            ["543907", "544000", "534070", "534060", "533967", "533966", "533976", "543906"],
        ),
        ("5339", ["5439", "5440", "5340", "5240", "5239", "5238", "5338", "5438"]),
        # 1/2 subdivision: north-east half of 51357353; north of it is the south-east half of
        # 51357363, east of it the north-west half of 51357354.
        (
            "513573534",
            [
                "513573632",
                "513573641",
                "513573543",
                "513573541",
                "513573532",
                "513573531",
                "513573533",
                "513573631",
            ],
        ),
    ],
)
def test_neighbours_with_carries(code: str, expected: list[str]) -> None:
    assert neighbours(code) == expected


def test_neighbours_at_the_edge_of_the_coded_area() -> None:
    assert neighbours("0000") == ["0100", "0101", "0001"]
    assert neighbours("99997799") == ["99997789", "99997788", "99997798"]


@pytest.mark.parametrize(
    "bad",
    ["", "533", "53391", "5339451", "53398512", "513573535", "5135735340", "5135735x", "５３３９"],
)
def test_bad_codes_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="mesh code"):
        parse_mesh_code(bad)


def test_round_trips_point_code_bounds() -> None:
    rng = np.random.default_rng(7)
    lats = rng.uniform(20.0, 46.0, 300)
    lons = rng.uniform(122.0, 154.0, 300)
    for lat, lon in zip(lats.tolist(), lons.tolist(), strict=True):
        for level in range(1, 6):
            code = mesh_code_at(lat, lon, level)
            assert len(code) == (4, 6, 8, 9, 10)[level - 1]
            s, w, n, e = mesh_bounds(code)
            assert s <= lat < n and w <= lon < e
            sq = parse_mesh_code(code)
            assert sq.level == level and sq.code == code
            assert MeshSquare(level, sq.row, sq.col) == sq
            # The coarser code is a prefix of the finer one.
            if level > 1:
                assert code.startswith(mesh_code_at(lat, lon, level - 1))


def test_neighbours_are_symmetric_adjacent_and_form_a_3x3_block() -> None:
    rng = np.random.default_rng(3)
    for level in range(1, 6):
        for lat, lon in zip(
            rng.uniform(24, 45, 40).tolist(), rng.uniform(123, 150, 40).tolist(), strict=True
        ):
            centre = parse_mesh_code(mesh_code_at(lat, lon, level))
            ring = centre.neighbours()
            assert len(set(ring)) == 8 and centre not in ring
            for n in ring:
                assert centre.touches(n) and not centre.overlaps(n)
                assert centre in n.neighbours()
            s, w, nn, e = centre.bounds()
            b = np.array([sq.bounds() for sq in ring])
            dlat, dlon = nn - s, e - w
            assert b[:, 0].min() == pytest.approx(s - dlat) and b[:, 2].max() == pytest.approx(
                nn + dlat
            )
            assert b[:, 1].min() == pytest.approx(w - dlon) and b[:, 3].max() == pytest.approx(
                e + dlon
            )
            # Total area of the 8 equals 8 squares (no overlaps, no gaps in the ring).
            assert ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum() == pytest.approx(
                8 * dlat * dlon
            )


def test_points_on_a_boundary_go_north_east() -> None:
    assert mesh_code_at(34.625, 135.4125) == "51357353"
    assert mesh_code_at(34.625 - 1e-9, 135.4125 - 1e-9) == "51357342"


def test_touches_and_overlaps_across_levels() -> None:
    tile = parse_mesh_code("51357353")
    assert tile.overlaps(parse_mesh_code("513573534"))  # a half of it
    assert tile.overlaps(parse_mesh_code("513573"))  # its 2nd-level square
    assert tile.touches(parse_mesh_code("513573543"))  # a half of the east neighbour
    assert tile.touches(parse_mesh_code("51357364"))  # corner
    assert not tile.touches(parse_mesh_code("51357355"))  # two columns away
    assert not tile.touches(parse_mesh_code("513573544"))  # the far half of the east neighbour


def test_split_tile_name() -> None:
    assert split_tile_name("51357353_bldg_6697_op.gml") == (parse_mesh_code("51357353"), "bldg")
    assert split_tile_name("533925_dem_6697_op.gml") == (parse_mesh_code("533925"), "dem")
    assert split_tile_name("53394525_BLDG_6697_2_op.gml") == (parse_mesh_code("53394525"), "bldg")
    assert split_tile_name("sample_city.gml") is None
    assert split_tile_name("51357353.gml") is None
    assert split_tile_name("5135735_bldg_6697_op.gml") is None  # 7 digits
    assert split_tile_name("53398512_bldg_6697_op.gml") is None  # 2nd-level digit 8
