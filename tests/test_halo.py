"""The halo: neighbouring tiles' buildings occlude, and do nothing else."""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from pyproj import Transformer

from placement.camera import Camera
from placement.citygml import read_citygml
from placement.cli import main
from placement.demand import sample_demand
from placement.errors import OptionError
from placement.halo import find_halo_files, halo_margin_m, load_halo, resolve_halo
from placement.meshcode import MeshSquare, mesh_bounds, parse_mesh_code, split_tile_name
from placement.model import Mesh
from placement.pipeline import Result, RunOptions, run
from placement.sites import make_options, road_edge_sites
from placement.visibility import compute_coverage

# ----------------------------------------------------------------- synthetic tiles
# The main tile 51357362 and its east neighbour 51357363 meet at lon 135.4125. Local
# metres: x east from that boundary, y north from lat 34.6375 (mid-row), zone VI.
MAIN, EAST = "51357362", "51357363"
ZONE = "EPSG:6674"
_FWD = Transformer.from_crs("EPSG:6668", ZONE, always_xy=True)
_INV = Transformer.from_crs(ZONE, "EPSG:6668", always_xy=True)
XB, YB = _FWD.transform(mesh_bounds(EAST)[1], 34.6375)
Z = 3.0  # ground height everywhere
NS = (
    'xmlns:core="http://www.opengis.net/citygml/2.0" '
    'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
    'xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" '
    'xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0" '
    'xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:uro="https://www.geospatial.jp/iur/uro/3.0"'
)
# Two east-west streets of the main tile ending 1 m before the boundary; between them, in the
# east tile, a 25 m tall building that reaches 12 m west across the boundary (PLATEAU puts a
# building in one tile whole, so buildings near an edge stick out into the next tile).
SOUTH_STREET = (-100.0, 0.0, -1.0, 8.0)
NORTH_STREET = (-100.0, 24.0, -1.0, 32.0)
HALO_BOX = (-12.0, 11.0, 15.0, 21.0)
FAR_BOX = (150.0, 0.0, 170.0, 20.0)  # in the east tile, far beyond any camera's reach
MAIN_BOX = (-90.0, 40.0, -70.0, 60.0)


def _pos(points: Sequence[tuple[float, float, float]]) -> str:
    pts = [*points, points[0]]
    lon, lat = _INV.transform([XB + p[0] for p in pts], [YB + p[1] for p in pts])
    return " ".join(f"{a:.12f} {o:.12f} {p[2]}" for a, o, p in zip(lat, lon, pts, strict=True))


def _poly(points: Sequence[tuple[float, float, float]]) -> str:
    return f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{_pos(points)}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"


def _box(bid: str, box: tuple[float, float, float, float], height: float) -> str:
    x0, y0, x1, y1 = box
    z1 = Z + height
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    faces = [_poly([(x, y, Z) for x, y in reversed(ring)]), _poly([(x, y, z1) for x, y in ring])]
    for i in range(4):
        (xa, ya), (xb, yb) = ring[i], ring[(i + 1) % 4]
        faces.append(_poly([(xa, ya, Z), (xb, yb, Z), (xb, yb, z1), (xa, ya, z1)]))
    members = "".join(f"<gml:surfaceMember>{f}</gml:surfaceMember>" for f in faces)
    return (
        f'<core:cityObjectMember><bldg:Building gml:id="{bid}"><bldg:measuredHeight uom="m">{height}</bldg:measuredHeight>'
        f"<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>{members}</gml:CompositeSurface>"
        "</gml:exterior></gml:Solid></bldg:lod1Solid></bldg:Building></core:cityObjectMember>"
    )


def _road(rid: str, box: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = box
    ring = [(x0, y0, Z), (x1, y0, Z), (x1, y1, Z), (x0, y1, Z)]
    return (
        f'<core:cityObjectMember><tran:Road gml:id="{rid}"><tran:lod1MultiSurface><gml:MultiSurface>'
        f"<gml:surfaceMember>{_poly(ring)}</gml:surfaceMember></gml:MultiSurface></tran:lod1MultiSurface>"
        "</tran:Road></core:cityObjectMember>"
    )


def _doc(members: str) -> str:
    env = (
        '<gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">'
        "<gml:lowerCorner>0 0 0</gml:lowerCorner><gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope></gml:boundedBy>"
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<core:CityModel {NS}>{env}{members}</core:CityModel>\n'


def write_tiles(folder: Path) -> dict[str, Path]:
    """The main tile (bldg + tran), its east neighbour's bldg and tran, a broken west
    neighbour, and files that must never be halo."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "main_bldg": _doc(_box("main-1", MAIN_BOX, 10.0)),
        "main_tran": _doc(_road("street-s", SOUTH_STREET) + _road("street-n", NORTH_STREET)),
        "east_bldg": _doc(_box("east-1", HALO_BOX, 25.0) + _box("east-far", FAR_BOX, 25.0)),
        "east_tran": _doc(_road("east-street", (0.0, -20.0, 30.0, -10.0))),
    }
    names = {
        "main_bldg": f"{MAIN}_bldg_6697_op.gml",
        "main_tran": f"{MAIN}_tran_6697_op.gml",
        "east_bldg": f"{EAST}_bldg_6697_op.gml",
        "east_tran": f"{EAST}_tran_6697_op.gml",
    }
    out = {}
    for key, text in files.items():
        out[key] = folder / names[key]
        out[key].write_text(text, encoding="utf-8")
    # West neighbour: not XML at all. Two tiles away: not a neighbour. No mesh code: ignored.
    out["west_bldg"] = folder / "51357361_bldg_6697_op.gml"
    out["west_bldg"].write_text("this is not CityGML", encoding="utf-8")
    (folder / "51357365_bldg_6697_op.gml").write_text(files["east_bldg"], encoding="utf-8")
    (folder / "notes_bldg.gml").write_text(files["east_bldg"], encoding="utf-8")
    return out


@pytest.fixture
def tiles(tmp_path: Path) -> dict[str, Path]:
    return write_tiles(tmp_path / "tiles")


def test_find_halo_files_picks_the_neighbours_bldg_and_tran(tiles: dict[str, Path]) -> None:
    main = [tiles["main_bldg"], tiles["main_tran"]]
    found = find_halo_files(main)
    assert found == sorted(
        [tiles["east_bldg"].resolve(), tiles["east_tran"].resolve(), tiles["west_bldg"].resolve()]
    )
    # Roads only with roads: a buildings input alone takes the neighbours' buildings.
    assert find_halo_files([tiles["main_bldg"]]) == sorted(
        [tiles["east_bldg"].resolve(), tiles["west_bldg"].resolve()]
    )
    # An input is never halo, whichever way the option names it.
    both = [*main, tiles["east_bldg"]]
    assert tiles["east_bldg"].resolve() not in find_halo_files(both)
    assert resolve_halo(["auto", str(tiles["east_bldg"])], both) == sorted(
        [tiles["east_tran"].resolve(), tiles["west_bldg"].resolve()]
    )
    assert resolve_halo(["off"], main) == []
    assert resolve_halo([str(tiles["east_bldg"])], main) == [tiles["east_bldg"].resolve()]
    with pytest.raises(OptionError, match="off"):
        resolve_halo(["off", "auto"], main)
    with pytest.raises(OptionError, match="off"):
        RunOptions(halo=("auto", "off"))
    assert RunOptions(halo="off").halo == ("off",)  # type: ignore[arg-type]


def test_udx_layout_and_vegetation(tmp_path: Path) -> None:
    """In a udx/<kind>/ tree the neighbours' bldg (and, with a veg, brid or cons input,
    those) are found."""
    udx = tmp_path / "city" / "udx"
    for kind in ("bldg", "tran", "veg", "brid", "cons"):
        (udx / kind).mkdir(parents=True)
    text = _doc(_box("b", HALO_BOX, 5.0))
    for code in (MAIN, EAST, "51357352", "51357364"):
        for kind in ("bldg", "tran", "veg", "brid", "cons"):
            (udx / kind / f"{code}_{kind}_6697_op.gml").write_text(text, encoding="utf-8")
    tran = udx / "tran" / f"{MAIN}_tran_6697_op.gml"
    found = {p.name for p in find_halo_files([tran])}
    # The main tile's own bldg is not a neighbour: with only roads loaded, it stays out.
    # The neighbours' roads come with roads (they tell a street that runs on).
    near = (EAST, "51357352")
    assert found == {f"{c}_{k}_6697_op.gml" for c in near for k in ("bldg", "tran")}
    for kind in ("veg", "brid", "cons"):
        other = udx / kind / f"{MAIN}_{kind}_6697_op.gml"
        found = {p.name for p in find_halo_files([tran, other])}
        assert found == {f"{c}_{k}_6697_op.gml" for c in near for k in ("bldg", "tran", kind)}
    # A half-mesh bldg file of the east neighbour touches the main tile; its far half does not.
    (udx / "bldg" / f"{EAST}3_bldg_6697_op.gml").write_text(text, encoding="utf-8")
    (udx / "bldg" / f"{EAST}4_bldg_6697_op.gml").write_text(text, encoding="utf-8")
    found = {p.name for p in find_halo_files([tran])}
    assert f"{EAST}3_bldg_6697_op.gml" in found and f"{EAST}4_bldg_6697_op.gml" not in found


def test_find_halo_files_follows_the_rule_on_random_layouts(tmp_path: Path) -> None:
    """Halo = a bldg file (or a tran file, with a tran input), not an input, whose square
    touches an input's square and overlaps no input square of its own kind; checked against
    that rule written out directly."""
    centre = parse_mesh_code(MAIN)
    block = [
        MeshSquare(3, centre.row + dr, centre.col + dc)
        for dr in range(-2, 3)
        for dc in range(-2, 3)
    ]
    files = {}
    for sq in block:
        for kind in ("bldg", "tran"):
            files[sq, kind] = tmp_path / f"{sq.code}_{kind}_6697_op.gml"
            files[sq, kind].write_text("", encoding="utf-8")
    rng = np.random.default_rng(11)
    keys = list(files)
    for _ in range(30):
        chosen = [
            keys[i] for i in rng.choice(len(keys), size=int(rng.integers(1, 6)), replace=False)
        ]
        kinds = {"bldg"} | {k for _, k in chosen if k == "tran"}
        expected = {
            files[sq, k].resolve()
            for (sq, k) in keys
            if k in kinds
            and (sq, k) not in chosen
            and any(sq.touches(t) for t, _ in chosen)
            and not any(t == sq and tk == k for t, tk in chosen)
        }
        assert set(find_halo_files([files[c] for c in chosen])) == expected


def _touch(folder: Path, codes: Sequence[str], kinds: Sequence[str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for code in codes:
        for kind in kinds:
            out[f"{code}_{kind}"] = folder / f"{code}_{kind}_6697_op.gml"
            out[f"{code}_{kind}"].write_text("", encoding="utf-8")
    return out


def test_a_coarse_input_square_adds_no_border_of_its_own(tmp_path: Path) -> None:
    """A DEM named by its 2nd-level (10 km) square beside 3rd-level tiles: the halo is the
    tiles' neighbours, not every tile along the 10 km square's border. Only when no finer
    input lies in a coarse square does its border count."""
    tile = parse_mesh_code("51357353")
    ring = [n.code for n in tile.neighbours()]
    # On the border of the 2nd-level square 513573, far from 51357353: inside it (row 9,
    # col 0) and outside it (north, east).
    border = ["51357390", "51357300", "52350301", "51357450", "51357409"]
    files = _touch(tmp_path, ["51357353", *ring, *border], ("bldg", "tran"))
    dem = tmp_path / "513573_dem_6697_op.gml"
    dem.write_text("", encoding="utf-8")
    inputs = [files["51357353_bldg"], files["51357353_tran"]]
    wanted = {files[f"{c}_{k}"].resolve() for c in ring for k in ("bldg", "tran")}
    assert set(find_halo_files(inputs)) == wanted
    assert set(find_halo_files([*inputs, dem])) == wanted
    assert set(resolve_halo(["auto"], [dem, *inputs])) == wanted
    # All inputs coarse: the coarse square is the centre, and its border tiles are halo.
    got = {p.name for p in find_halo_files([dem])}
    assert got == {f"{c}_bldg_6697_op.gml" for c in ("52350301", "51357450")}


def test_mixed_levels_take_the_finest_input_squares(tmp_path: Path) -> None:
    """A 1/2-subdivision (level 4) road tile inside a 3rd-level building tile: neighbours
    along the half square's border only; a 3rd-level tile elsewhere keeps its own."""
    files = _touch(
        tmp_path,
        ["51357353", "51357354", "51357343", "51357344", "51357352", "51357363", "51357362"],
        ("bldg", "tran"),
    )
    files |= _touch(tmp_path, ["513573531", "513573532", "513573534"], ("tran",))
    half = files["513573532_tran"]  # the south-east half of 51357353
    got = {"_".join(p.name.split("_")[:2]) for p in find_halo_files([files["51357353_bldg"], half])}
    # East, south and south-east touch the south-east half; west and north do not. The
    # other halves of 51357353 beside it bring their roads; the main tile's own 3rd-level
    # tran overlaps the input tran square, so it is not halo.
    assert got == {
        "51357354_bldg", "51357354_tran", "51357343_bldg", "51357343_tran",
        "51357344_bldg", "51357344_tran", "513573531_tran", "513573534_tran",
    }  # fmt: skip
    # With a 3rd-level tile elsewhere too (51357363, north of 51357353), that tile keeps its
    # own border: 51357362 is its west neighbour, 51357352 its south-west one.
    got = {
        "_".join(p.name.split("_")[:2])
        for p in find_halo_files([files["51357353_bldg"], half, files["51357363_bldg"]])
    }
    assert {"51357362_bldg", "51357352_bldg", "51357354_bldg"} <= got


def test_linked_inputs_find_their_neighbours_beside_the_links(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git-annex / DVC: the inputs are links into a store of hashed names; the neighbours
    are the links beside them, in the folder the user named."""
    store = tmp_path / "annex" / "objects"
    udx = tmp_path / "annex" / "udx"
    tile = parse_mesh_code("51357353")
    codes = ["51357353", *(n.code for n in tile.neighbours())]
    links = {}
    for code in codes:
        for kind in ("bldg", "tran"):
            target = store / f"h{code}{kind}" / f"SHA256E-{code}{kind}.gml"
            target.parent.mkdir(parents=True)
            target.write_text("", encoding="utf-8")
            (udx / kind).mkdir(parents=True, exist_ok=True)
            links[code, kind] = udx / kind / f"{code}_{kind}_6697_op.gml"
            links[code, kind].symlink_to(os.path.relpath(target, udx / kind))
    inputs = [links["51357353", "bldg"], links["51357353", "tran"]]
    with caplog.at_level(logging.WARNING, logger="placement.halo"):
        found = find_halo_files(inputs)
    wanted = {links[c, k].resolve() for c in codes[1:] for k in ("bldg", "tran")}
    assert set(found) == wanted and len(found) == len(wanted)
    assert not any("neighbouring road" in r.getMessage() for r in caplog.records)
    # Named by a relative path as well: the same files, once each.
    monkeypatch.chdir(udx)
    assert find_halo_files([Path("bldg") / inputs[0].name, inputs[1]]) == found


def test_missing_road_neighbours_warning_names_only_the_tiles_at_the_edge(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 3 x 3 block of road tiles with nothing around it: the warning names the eight tiles
    at its edge, not the centre, whose eight neighbours are all inputs."""
    centre = parse_mesh_code(MAIN)
    block = [
        MeshSquare(3, centre.row + dr, centre.col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
    ]
    files = []
    for sq in block:
        files.append(tmp_path / f"{sq.code}_tran_6697_op.gml")
        files[-1].write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="placement.halo"):
        assert find_halo_files(files) == []
    said = [r.getMessage() for r in caplog.records if "neighbouring road" in r.getMessage()]
    assert len(said) == 1
    named = said[0].split(" beside ")[1].split(":")[0].split(", ")
    assert sorted(named) == sorted(sq.code for sq in block if sq != centre)
    # With one neighbour's road file beside the block, it says nothing.
    caplog.clear()
    (tmp_path / f"{MeshSquare(3, centre.row + 2, centre.col).code}_tran_6697_op.gml").write_text(
        "", encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="placement.halo"):
        assert len(find_halo_files(files)) == 1
    assert not any("neighbouring road" in r.getMessage() for r in caplog.records)


def test_load_halo_keeps_near_triangles_and_skips_broken_files(
    tiles: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    city = read_citygml([tiles["main_bldg"], tiles["main_tran"]])
    margin = halo_margin_m(Camera())
    assert margin == pytest.approx(Camera().max_distance_for_level(1) + 5.0)
    with caplog.at_level(logging.WARNING, logger="placement.halo"):
        halo = load_halo([tiles["east_bldg"], tiles["west_bldg"]], city, margin_m=margin)
    assert any("51357361_bldg" in r.getMessage() for r in caplog.records)
    assert len(halo.skipped) == 1 and "51357361_bldg" in halo.skipped[0]
    # Each box is 6 quads = 12 triangles: the near one is kept, the far one dropped.
    (east,) = halo.files
    assert east.path == str(tiles["east_bldg"].resolve())
    assert (east.triangles, east.kept) == (24, 12)
    assert east.sha256 == hashlib.sha256(tiles["east_bldg"].read_bytes()).hexdigest()
    assert halo.mesh.n_triangles == 12
    assert np.all(halo.mesh.feature == -1)
    xy = halo.mesh.vertices[:, :2] - [XB, YB]
    assert xy[:, 0].min() == pytest.approx(HALO_BOX[0], abs=0.05)
    assert xy[:, 0].max() == pytest.approx(HALO_BOX[2], abs=0.05)
    # With a margin of 0 only triangles reaching into the main data's bounding box stay:
    # the near box's east wall (x = 15 m, the main data ends at x = -1 m) goes too.
    assert load_halo([tiles["east_bldg"]], city, margin_m=0.0).mesh.n_triangles == 10
    assert load_halo([], city, margin_m=margin).mesh.n_triangles == 0


def _crosses_box(
    a: np.ndarray, b: np.ndarray, box: tuple[float, float, float, float]
) -> np.ndarray:
    """(N,) True where the plan segment a->b passes through the (slightly shrunk) box."""
    x0, y0, x1, y1 = box[0] + 0.2, box[1] + 0.2, box[2] - 0.2, box[3] - 0.2
    t = np.linspace(0.0, 1.0, 200)[None, :, None]
    p = a[:, None, :2] + t * (b - a)[:, None, :2]
    inside = (p[..., 0] > x0) & (p[..., 0] < x1) & (p[..., 1] > y0) & (p[..., 1] < y1)
    return np.asarray(inside.any(axis=1))


def _pairs(result: Result) -> tuple[np.ndarray, np.ndarray]:
    m = result.coverage.matrix.tocoo()
    return m.row, m.col


def test_halo_blocks_views_and_adds_no_sites_or_demand(tiles: dict[str, Path]) -> None:
    paths = [tiles["main_bldg"], tiles["main_tran"]]
    common = {"use_cache": False, "render": False, "workers": 1, "time_limit_s": 2.0}
    off = run(paths, RunOptions(halo=("off",), **common))  # type: ignore[arg-type]
    on = run(paths, RunOptions(**common))  # type: ignore[arg-type]
    assert off.halo is not None and off.halo.mesh.n_triangles == 0
    assert on.halo is not None and on.halo.mesh.n_triangles == 12
    # Same city, sites, options and demand: the halo only occludes.
    assert on.city.occluders.n_triangles == off.city.occluders.n_triangles
    assert on.sites.ids == off.sites.ids
    np.testing.assert_array_equal(on.options.origin, off.options.origin)
    np.testing.assert_array_equal(on.demand.xyz, off.demand.xyz)
    # Views across the neighbour's building: some without the halo, none with it.
    origin = [XB, YB, 0.0]
    for res, expect in ((off, True), (on, False)):
        rows, cols = _pairs(res)
        a = res.options.origin[rows] - origin
        b = res.demand.xyz[cols] - origin
        assert bool(_crosses_box(a, b, HALO_BOX).any()) is expect
    # With the halo: a subset of the pairs, each at the same level, some removed.
    a_off = off.coverage.matrix.astype(np.int16)
    a_on = on.coverage.matrix.astype(np.int16)
    assert ((a_on != 0) > (a_off != 0)).nnz == 0
    assert a_on.multiply(a_on != 0).sum() == a_off.multiply(a_on != 0).sum()
    assert a_off.nnz - a_on.nnz > 0
    # summary.json records the halo with digests, and the broken west neighbour as skipped.
    h = on.summary["halo"]
    assert h["mode"] == ["auto"] and h["triangles"] == 12
    assert [f["path"] for f in h["files"]] == [
        str(tiles["east_bldg"].resolve()),
        str(tiles["east_tran"].resolve()),
    ]
    # The east street meets none of the main tile's: it is kept, and changes no kerb pole.
    assert h["road_surfaces"] == 1 and h["footprints"] == 1
    assert h["files"][0]["sha256"] == hashlib.sha256(tiles["east_bldg"].read_bytes()).hexdigest()
    assert len(h["skipped"]) == 1
    assert off.summary["halo"]["files"] == []


def test_cli_halo_option(tiles: dict[str, Path], tmp_path: Path) -> None:
    base = ["-q", "run", str(tiles["main_bldg"]), str(tiles["main_tran"]), "--no-render"]
    base += ["--no-cache", "--workers", "1", "--time-limit", "2"]
    runner = CliRunner()
    r = runner.invoke(main, [*base, "--out", str(tmp_path / "off"), "--halo", "off"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "off" / "summary.json").read_text())
    assert s["options"]["halo"] == ["off"] and s["halo"]["files"] == []
    given = ["--halo", str(tiles["east_bldg"])]
    r = runner.invoke(main, [*base, "--out", str(tmp_path / "given"), *given])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "given" / "summary.json").read_text())
    assert [f["path"] for f in s["halo"]["files"]] == [str(tiles["east_bldg"].resolve())]
    assert s["halo"]["skipped"] == []  # the broken west tile was not asked for
    r = runner.invoke(
        main, [*base, "--out", str(tmp_path / "bad"), "--halo", "off", "--halo", "auto"]
    )
    assert r.exit_code == 2 and "off" in r.output


# ----------------------------------------------------------------- real tiles
# 51357362 is the centre of the 3 x 3 Osaka block 513573{5,6,7}{1,2,3}.
CENTRE = "51357362"


def test_osaka_centre_tile_halo(plateau: Path) -> None:
    osaka = plateau / "osaka"
    paths = [osaka / f"{CENTRE}_{k}_6697_op.gml" for k in ("bldg", "tran")]
    if not all(p.exists() for p in paths):
        pytest.skip(f"osaka/{CENTRE} bldg + tran not found")
    found = find_halo_files(paths)
    codes: dict[str, set[str]] = {"bldg": set(), "tran": set()}
    for p in found:
        parsed = split_tile_name(p.name)
        assert parsed is not None and parsed[1] in codes
        codes[parsed[1]].add(parsed[0].code)
    around = {sq.code for sq in parse_mesh_code(CENTRE).neighbours()}
    assert codes == {"bldg": around, "tran": around}
    city = read_citygml(paths)
    camera = Camera()
    margin = halo_margin_m(camera)
    halo = load_halo(found, city, margin_m=margin, workers=2)
    assert len(halo.files) == 16 and not halo.skipped
    assert len(halo.road_polygons) > 0 and len(halo.footprints) > 0
    total = sum(f.triangles for f in halo.files)
    assert 0 < halo.mesh.n_triangles == sum(f.kept for f in halo.files) < total / 3
    # Every kept triangle comes within the margin of the tile's data.
    minx, miny, _, maxx, maxy, _ = city.bounds()
    tri = halo.mesh.vertices[halo.mesh.faces][:, :, :2]
    assert np.all(tri[:, :, 0].min(axis=1) <= maxx + margin)
    assert np.all(tri[:, :, 0].max(axis=1) >= minx - margin)
    assert np.all(tri[:, :, 1].min(axis=1) <= maxy + margin)
    assert np.all(tri[:, :, 1].max(axis=1) >= miny - margin)

    # Same options and points, with and without the halo.
    sites = road_edge_sites(city, mount_height_m=camera.height_m, spacing_m=20.0)
    options = make_options(sites, camera, headings=8)
    demand = sample_demand(city, spacing_m=3.0)
    without = compute_coverage(city.occluders, options, demand, camera, workers=2).matrix
    occluders = Mesh.concatenate([city.occluders, halo.mesh])
    with_halo = compute_coverage(occluders, options, demand, camera, workers=2).matrix
    assert with_halo.shape == without.shape
    assert ((with_halo != 0) > (without != 0)).nnz == 0
    removed = sp.coo_matrix((without != 0).astype(np.int8) - (with_halo != 0).astype(np.int8))
    assert removed.nnz > 0 and removed.min() >= 0
    # Brute force: each removed pair's sight line does hit a halo triangle (sample of 300).
    import trimesh

    rng = np.random.default_rng(0)
    pick = rng.choice(removed.nnz, size=min(300, removed.nnz), replace=False)
    a = options.origin[removed.row[pick]]
    b = demand.xyz[removed.col[pick]]
    d = b - a
    length = np.linalg.norm(d, axis=1)
    mesh = trimesh.Trimesh(halo.mesh.vertices, halo.mesh.faces, process=False)
    loc, idx, _ = mesh.ray.intersects_location(a, d / length[:, None], multiple_hits=True)
    hit_dist = np.linalg.norm(loc - a[idx], axis=1)
    blocked = np.zeros(len(pick), bool)
    np.logical_or.at(blocked, idx, (hit_dist > 0.3) & (hit_dist < length[idx] - 0.05))
    assert blocked.all()
