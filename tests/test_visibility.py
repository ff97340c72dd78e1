"""Occlusion-aware coverage on built scenes (exact) and on real PLATEAU tiles."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import trimesh

from placement.camera import PRESETS, Camera
from placement.errors import InputFileError, OptionError
from placement.model import Demand, Mesh, Options, SurfaceKind
from placement.visibility import (
    END_MARGIN_M,
    START_MARGIN_M,
    Coverage,
    compute_coverage,
    segments_clear,
)

# Plane-rectangular coordinates as large as Osaka's, so float32 precision matters.
OFF = np.array([-43000.0, -148000.0, 3.0])
LENS = np.array([0.0, 0.0, 6.0])


# --------------------------------------------------------------------------- helpers


def box(center: tuple[float, float, float], extents: tuple[float, float, float]) -> Mesh:
    b = trimesh.creation.box(extents=extents)
    b.apply_translation(np.asarray(center) + OFF)
    n = len(b.faces)
    return Mesh(
        np.asarray(b.vertices, float),
        np.asarray(b.faces, np.int32),
        np.zeros(n, np.int32),
        np.full(n, SurfaceKind.WALL, np.int8),
    )


def options(
    origins: npt.ArrayLike, headings: list[float], tilts: list[float] | float = 20.0
) -> Options:
    n = len(headings)
    o = np.broadcast_to(np.asarray(origins, float), (n, 3)) + OFF
    t = np.broadcast_to(np.asarray(tilts, float), (n,))
    return Options(
        np.arange(n, dtype=np.int32),
        np.asarray(headings, float),
        np.array(t),
        np.array(o),
        np.ones(n),
        np.zeros(n, bool),
    )


def demand(xyz: npt.ArrayLike) -> Demand:
    p = np.asarray(xyz, float).reshape(-1, 3) + OFF
    n = p.shape[0]
    return Demand(p, p[:, 2] - 1.5, np.ones(n), np.full(n, SurfaceKind.ROAD, np.int8), 2.0)


def seen(cov: Coverage) -> npt.NDArray[np.int8]:
    return np.asarray(cov.matrix.toarray(), dtype=np.int8)


def along(heading_deg: float, tilt_deg: float, d: float) -> npt.NDArray[np.float64]:
    """The point at slant distance d on the optical axis of a lens at LENS."""
    h, t = math.radians(heading_deg), math.radians(tilt_deg)
    f = np.array([math.sin(h) * math.cos(t), math.cos(h) * math.cos(t), -math.sin(t)])
    return np.asarray(LENS + d * f)


def segment_hits_numpy(
    tri: npt.NDArray[np.float64],
    starts: npt.NDArray[np.float64],
    ends: npt.NDArray[np.float64],
    pairs: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
) -> npt.NDArray[np.bool_]:
    """Möller–Trumbore for (segment, triangle) pairs: does the segment cross the triangle?

    tri (T, 3, 3); starts, ends (S, 3); pairs (segment index, triangle index) arrays.
    Returns one bool per pair.
    """
    si, ti = pairs
    o = starts[si]
    dvec = ends[si] - o
    a, b, c = tri[ti, 0], tri[ti, 1], tri[ti, 2]
    e1, e2 = b - a, c - a
    p = np.cross(dvec, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = o - a
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = np.einsum("ij,ij->i", dvec, q) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit: npt.NDArray[np.bool_] = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t >= 0) & (t <= 1)
    return hit


def clear_numpy(
    mesh: Mesh, starts: npt.NDArray[np.float64], ends: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Independent line-of-sight test: bounding-box candidates (shapely STRtree), then
    Möller–Trumbore in float64 numpy on every candidate pair, in blocks."""
    import shapely

    tri = mesh.vertices[mesh.faces]
    tree = shapely.STRtree(shapely.linestrings(np.concatenate([tri, tri[:, :1]], axis=1)))
    segs = shapely.linestrings(np.stack([starts, ends], axis=1))
    si, ti = tree.query(segs)  # envelope overlap in plan: a superset of the hits
    lo_z = np.minimum(starts[:, 2], ends[:, 2])[si]
    hi_z = np.maximum(starts[:, 2], ends[:, 2])[si]
    keep = (tri[ti, :, 2].max(axis=1) >= lo_z) & (tri[ti, :, 2].min(axis=1) <= hi_z)
    si, ti = si[keep], ti[keep]
    blocked = np.zeros(starts.shape[0], bool)
    step = 500_000
    for k in range(0, si.size, step):  # blocks of pairs bound the memory
        hit = segment_hits_numpy(tri, starts, ends, (si[k : k + step], ti[k : k + step]))
        blocked[si[k : k + step][hit]] = True
    return ~blocked


def embreex_clear(
    mesh: Mesh, starts: npt.NDArray[np.float64], ends: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """embreex's own OCCLUDED query on the same float32 segments as segments_clear."""
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene=scene, vertices=mesh.vertices.astype(np.float32), indices=mesh.faces)
    v = ends - starts
    length = np.linalg.norm(v, axis=1)
    u = (v / length[:, None]).astype(np.float32)
    res = scene.run(starts.astype(np.float32), u, dists=length.astype(np.float32), query="OCCLUDED")
    return np.asarray(res) < 0


def test_embree_binding_agrees_with_embreex_and_numpy() -> None:
    """Our ctypes binding to Embree answers as embreex does on the same segments, and
    as an independent float64 segment-triangle test does."""
    rng = np.random.default_rng(21)
    mesh = Mesh.concatenate(
        [
            box(
                (rng.uniform(-40, 40), rng.uniform(-40, 40), 6.0),
                (rng.uniform(2, 10), rng.uniform(2, 10), 12.0),
            )
            for _ in range(30)
        ]
    )
    starts = rng.uniform(-50, 50, size=(20_000, 3))
    ends = rng.uniform(-50, 50, size=(20_000, 3))
    starts[:, 2], ends[:, 2] = rng.uniform(0, 15, 20_000), rng.uniform(0, 15, 20_000)
    starts += OFF
    ends += OFF
    ours = segments_clear(mesh, starts, ends)
    assert 0.2 < ours.mean() < 0.8  # a real mix of blocked and clear
    local = Mesh(mesh.vertices - OFF, mesh.faces, mesh.feature, mesh.kind)
    assert np.array_equal(ours, embreex_clear(local, starts - OFF, ends - OFF))
    assert (ours == clear_numpy(mesh, starts, ends)).mean() >= 0.999
    # A wall straight across: every segment through it is blocked, none beside it is.
    wall = box((0.0, 0.0, 5.0), (20.0, 0.4, 10.0))
    a = np.array([[x, -5.0, 2.0] for x in (-5.0, 0.0, 5.0, 15.0, 30.0)]) + OFF
    b = a + np.array([0.0, 10.0, 0.0])
    assert segments_clear(wall, a, b).tolist() == [False, False, False, True, True]
    assert segments_clear(Mesh.empty(), a, b).all()


# --------------------------------------------------------------------------- exact scenes


def test_wall_blocks_and_point_beside_it_is_seen() -> None:
    wall = box((0.0, 10.0, 5.0), (10.0, 0.5, 10.0))  # x -5..5 across the view, 10 m tall
    pts = [[0.0, 20.0, 1.5], [4.0, 20.0, 1.5], [12.0, 20.0, 1.5], [-12.0, 20.0, 1.5]]
    cov = compute_coverage(wall, options(LENS, [0.0]), demand(pts), Camera(), workers=1)
    lv = seen(cov)[0]
    assert lv.tolist() == [0, 0, 1, 1]  # behind the wall: no; beside it at 23 m: detection
    assert cov.stats["segments_tested"] == 4
    assert cov.stats["visible_pairs"] == 2
    # The same lines of sight through the public helper.
    starts = np.repeat((LENS + OFF)[None], 4, axis=0)
    assert segments_clear(wall, starts, demand(pts).xyz).tolist() == [False, False, True, True]


def test_a_road_crest_hides_the_street_beyond_it() -> None:
    """With no terrain loaded the road surface is the ground: a 4 m crest between the
    camera and a point on the far slope hides it (the lens 6 m up, the point 1.5 m)."""
    import dataclasses

    from scenes import cross_city

    # A 6 m wide road going north: flat, up to 4 m at y = 15, down again by y = 25.
    ys = np.array([-5.0, 5.0, 15.0, 25.0, 40.0])
    zs = np.array([0.0, 0.0, 4.0, 0.0, 0.0])
    v = np.array([[x, y, z] for y, z in zip(ys, zs, strict=True) for x in (-3.0, 3.0)]) + OFF
    f = np.array(
        [[2 * i, 2 * i + 1, 2 * i + 3] for i in range(4)]
        + [[2 * i, 2 * i + 3, 2 * i + 2] for i in range(4)],
        np.int32,
    )
    road = Mesh(v, f, np.zeros(len(f), np.int32), np.full(len(f), SurfaceKind.ROAD, np.int8))
    city = dataclasses.replace(cross_city(), roads=road, occluders=box((50, 50, 1), (1, 1, 1)))
    pts = [[0.0, 10.0, 3.5], [0.0, 28.0, 1.5]]  # on the near slope; beyond the crest
    opts = options(LENS, [0.0])
    alone = seen(compute_coverage(city.occluders, opts, demand(pts), Camera(), workers=1))[0]
    assert (alone > 0).tolist() == [True, True]  # buildings alone: both seen, through the hill
    ground = seen(compute_coverage(city.view_blockers(), opts, demand(pts), Camera(), workers=1))
    assert (ground[0] > 0).tolist() == [True, False]
    assert city.view_blockers().n_triangles == city.occluders.n_triangles + len(f)
    # A City given whole blocks with its roads too, as `placement run` does.
    whole = seen(compute_coverage(city, opts, demand(pts), Camera(), workers=1))
    np.testing.assert_array_equal(whole, ground)


def test_a_street_point_at_the_lens_itself_is_not_divided_by() -> None:
    # An installed camera mounted at the target height stands on a grid point: distance 0.
    pts = [LENS.tolist(), along(0.0, 20.0, 10.0).tolist()]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(pts), Camera(), workers=1)
    assert (seen(cov)[0] > 0).tolist() == [False, True]


_GUARDED_PACKET = """
import ctypes, mmap, sys
import numpy as np
from placement.visibility._embree import OCCLUDED16, Scene
from placement.visibility._kernel import PACKET, PACKET_FLOATS

libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page = mmap.PAGESIZE
buf = mmap.mmap(-1, 4 * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
guard = base + 3 * page
assert libc.mprotect(guard, page, 0) == 0  # the page after the buffer: no access at all
n = PACKET_FLOATS * PACKET
addr = guard - 4 * n  # the kernel's packet buffer, flush against the guard page
ray = np.frombuffer((ctypes.c_float * n).from_address(addr), np.float32)
ray_u = ray.view(np.uint32)
valid = np.zeros(2 * PACKET, np.int32)
off = (-valid.ctypes.data % 64) // 4
valid = valid[off : off + PACKET]
scene = Scene(np.array([[-1, -1, 5], [1, -1, 5], [0, 1, 5]], np.float32), np.array([[0, 1, 2]]))
for lane in range(PACKET):
    for row, value in enumerate((0, 0, 0, 0, 0, 0, 1, 0, 10.0)):
        ray[row * PACKET + lane] = value
    ray_u[9 * PACKET + lane] = 0xFFFFFFFF
    ray_u[10 * PACKET + lane] = 0
    ray_u[11 * PACKET + lane] = 0
    valid[lane] = -1
OCCLUDED16(valid.ctypes.data, scene.handle, addr, None)
print("tfar", ray[8 * PACKET])
"""


def test_the_packet_buffer_holds_what_embree_touches(tmp_path: Path) -> None:
    """On a CPU without native 16-wide packets Embree reads and writes each lane back as an
    RTCRayHit16, 576 bytes past an RTCRay16: with the kernel's buffer flush against a page
    that may not be touched, one packet query must neither fault nor miss the triangle."""
    import subprocess
    import sys

    script = tmp_path / "guarded.py"
    script.write_text(_GUARDED_PACKET)
    r = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip() == "tfar -inf"  # every ray hits the triangle 5 m up


def test_behind_the_camera_and_outside_vertical_fov_are_not_seen() -> None:
    # Tilt 20, vfov 58: the view spans 9 degrees above to 49 degrees below the horizon.
    pts = [
        [0.0, 10.0, 1.5],  # ahead, 24 degrees below: seen
        [0.0, -10.0, 1.5],  # behind
        [0.0, 2.0, 1.5],  # ahead but 66 degrees below
        [0.0, 10.0, 6.0 + 10.0 * math.tan(math.radians(12.0))],  # 12 degrees above
        [0.0, 10.0, 6.0 + 10.0 * math.tan(math.radians(8.0))],  # 8 degrees above: seen
    ]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(pts), Camera(), workers=1)
    assert (seen(cov)[0] > 0).tolist() == [True, False, False, False, True]


def test_horizontal_fov_edge_in_camera_frame() -> None:
    cam = Camera(tilt_deg=0.0)
    half = math.radians(cam.hfov_deg / 2)
    pts = [
        [10 * math.sin(half - 0.01), 10 * math.cos(half - 0.01), 6.0],
        [10 * math.sin(half + 0.01), 10 * math.cos(half + 0.01), 6.0],
        [-10 * math.sin(half - 0.01), 10 * math.cos(half - 0.01), 6.0],
    ]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0], 0.0), demand(pts), cam, workers=1)
    assert (seen(cov)[0] > 0).tolist() == [True, False, True]


def test_heading_convention_clockwise_from_north() -> None:
    pts = [[15.0, 0.0, 1.5], [-15.0, 0.0, 1.5], [0.0, 15.0, 1.5], [0.0, -15.0, 1.5]]
    opts = options(LENS, [90.0, 270.0, 0.0, 180.0])
    cov = compute_coverage(Mesh.empty(), opts, demand(pts), Camera(), workers=1)
    assert (seen(cov) > 0).astype(int).tolist() == [
        [1, 0, 0, 0],  # heading 90 looks east
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
    ]


def test_range_limit_is_exact() -> None:
    cam = Camera(range_m=20.0, dori_px_per_m=(1.0, 2.0, 3.0, 4.0), min_px_per_m=1.0)
    pts = [along(0.0, 20.0, 20.0 - 1e-6), along(0.0, 20.0, 20.0 + 1e-6)]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(pts), cam, workers=1)
    assert seen(cov)[0].tolist() == [4, 0]


def test_pixel_density_limit_is_exact_and_levels_follow_distance() -> None:
    cam = Camera()
    edge = cam.px_m / 25.0  # 30.5 m, inside the 60 m range
    dists = [2.5, 5.0, 10.0, 20.0, edge * (1 - 1e-7), edge * (1 + 1e-7), 45.0]
    pts = [along(0.0, 20.0, d) for d in dists]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(pts), cam, workers=1)
    assert seen(cov)[0].tolist() == [4, 3, 2, 1, 1, 0, 0]
    assert seen(cov)[0].tolist() == [int(x) for x in cam.level(dists)]


def test_camera_on_its_own_pole_does_not_block_itself() -> None:
    pole = box((0.0, 0.0, 4.0), (0.3, 0.3, 8.0))  # the lens at 6 m is inside the pole
    wall = box((-0.45, 0.0, 4.0), (0.2, 6.0, 8.0))  # and 0.3 m from a wall to its west
    mesh = Mesh.concatenate([pole, wall])
    pts = [[15.0, 0.0, 1.5], [0.0, 15.0, 1.5], [10.0, 10.0, 1.5], [-15.0, 0.0, 1.5]]
    opts = options(LENS, [90.0, 0.0, 45.0, 270.0])
    cov = compute_coverage(mesh, opts, demand(pts), Camera(), workers=1)
    assert np.diag(seen(cov)).tolist() == [1, 1, 1, 0]  # west is behind the wall
    # Without the start margin the pole hides everything.
    starts = np.repeat((LENS + OFF)[None], 4, axis=0)
    assert not segments_clear(mesh, starts, demand(pts).xyz).any()
    assert segments_clear(
        mesh, starts, demand(pts).xyz, start_margin_m=START_MARGIN_M, end_margin_m=END_MARGIN_M
    ).tolist() == [True, True, True, False]


def test_target_on_a_surface_is_not_hidden_by_it() -> None:
    # A point lying exactly on a facade facing the camera is still seen.
    facade = box((0.0, 20.25, 5.0), (10.0, 0.5, 10.0))
    cov = compute_coverage(
        facade, options(LENS, [0.0]), demand([[0.0, 20.0, 2.0]]), Camera(), workers=1
    )
    assert seen(cov)[0].tolist() == [1]


def test_panoramic_cameras() -> None:
    pts = [[15.0, 0.0, 1.5], [-15.0, 0.0, 1.5], [0.0, 15.0, 1.5], [0.0, -15.0, 1.5]]
    ptz = PRESETS["ptz-360"]
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0], 45.0), demand(pts), ptz, workers=1)
    assert (seen(cov)[0] > 0).all()
    wide = Camera(hfov_deg=200.0, vfov_deg=60.0)  # heading north: east and west at 90 deg
    cov = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(pts), wide, workers=1)
    assert (seen(cov)[0] > 0).tolist() == [True, True, True, False]


def test_random_scene_matches_brute_force_and_workers_agree() -> None:
    rng = np.random.default_rng(7)
    boxes = [
        box(
            (rng.uniform(-60, 60), rng.uniform(-60, 60), 5.0),
            (rng.uniform(2, 12), rng.uniform(2, 12), 10.0),
        )
        for _ in range(25)
    ]
    mesh = Mesh.concatenate(boxes)
    sites = rng.uniform(-60, 60, size=(12, 3))
    sites[:, 2] = 6.0
    origins = np.repeat(sites, 8, axis=0)
    heads = np.tile(np.arange(8) * 45.0, 12).tolist()
    opts = options(origins, heads, 25.0)
    pts = rng.uniform(-70, 70, size=(1500, 3))
    pts[:, 2] = 1.5
    dem = demand(pts)
    cam = Camera()
    one = compute_coverage(mesh, opts, dem, cam, workers=1)
    two = compute_coverage(mesh, opts, dem, cam, workers=2, chunk_pairs=2_000, min_parallel_pairs=0)
    assert two.stats["workers"] == 2 and two.stats["chunks"] > 2
    assert (one.matrix != two.matrix).nnz == 0
    assert np.array_equal(one.matrix.indices, two.matrix.indices)
    assert one.stats["visible_pairs"] > 100

    # Brute force: every pair, angles from trigonometry, occlusion by Möller–Trumbore.
    o = opts.origin[:, None, :]
    v = dem.xyz[None, :, :] - o
    d = np.linalg.norm(v, axis=2)
    az = np.degrees(np.arctan2(v[..., 0], v[..., 1]))
    rel = (az - opts.heading_deg[:, None] + 180.0) % 360.0 - 180.0
    h = np.radians(opts.heading_deg)[:, None]
    t = np.radians(opts.tilt_deg)[:, None]
    right = np.stack([np.cos(h), -np.sin(h), 0 * h], axis=-1)
    up = np.stack([np.sin(h) * np.sin(t), np.cos(h) * np.sin(t), np.cos(t) + 0 * h], axis=-1)
    fwd = np.stack([np.sin(h) * np.cos(t), np.cos(h) * np.cos(t), -np.sin(t) + 0 * h], axis=-1)
    x, y, z = ((v * right).sum(-1), (v * up).sum(-1), (v * fwd).sum(-1))
    ang_h = np.degrees(np.arctan2(np.abs(x), z))
    ang_v = np.degrees(np.arctan2(np.abs(y), z))
    ok = (ang_h <= cam.hfov_deg / 2) & (ang_v <= cam.vfov_deg / 2) & (d <= cam.range_m)
    ok &= cam.level(d) > 0
    assert np.abs(rel[ok]).max() < 90.0  # nothing behind the camera
    oi, pi = np.nonzero(ok)
    u = v[oi, pi] / d[oi, pi, None]
    starts = opts.origin[oi] + u * START_MARGIN_M
    ends = dem.xyz[pi] - u * END_MARGIN_M
    vis = clear_numpy(mesh, starts, ends)
    expect = np.zeros_like(d, dtype=np.int8)
    expect[oi[vis], pi[vis]] = cam.level(d[oi[vis], pi[vis]])
    assert 0 < vis.sum() < vis.size  # some pairs blocked, some not
    assert np.array_equal(seen(one), expect)


def brute_force_fov(opts: Options, dem: Demand, cam: Camera) -> npt.NDArray[np.int8]:
    """DORI level of every (option, point) pair with no occluders, from trigonometry."""
    v = dem.xyz[None, :, :] - opts.origin[:, None, :]
    d = np.linalg.norm(v, axis=2)
    h = np.radians(opts.heading_deg)[:, None]
    t = np.radians(opts.tilt_deg)[:, None]
    right = np.stack([np.cos(h), -np.sin(h), 0 * h], axis=-1)
    up = np.stack([np.sin(h) * np.sin(t), np.cos(h) * np.sin(t), np.cos(t) + 0 * h], axis=-1)
    fwd = np.stack([np.sin(h) * np.cos(t), np.cos(h) * np.cos(t), -np.sin(t) + 0 * h], axis=-1)
    x, y, z = ((v * right).sum(-1), (v * up).sum(-1), (v * fwd).sum(-1))
    ok = (z > 0) & (np.degrees(np.arctan2(np.abs(x), z)) <= cam.hfov_deg / 2)
    ok &= np.degrees(np.arctan2(np.abs(y), z)) <= cam.vfov_deg / 2
    ok &= d <= cam.range_m
    return np.where(ok, cam.level(d), 0).astype(np.int8)


def test_mixed_tilts_fixed_headings_and_any_option_order_match_brute_force() -> None:
    # Steep tilts whose view takes in the nadir (every azimuth is a candidate), a camera
    # looking up, odd fixed headings, several tilts per site, options in shuffled order.
    rng = np.random.default_rng(11)
    sites = rng.uniform(-25, 25, size=(6, 3))
    sites[:, 2] = rng.uniform(3.0, 9.0, size=6)
    rows = [
        (*site, head % 360.0, tilt)
        for k, site in enumerate(sites)
        for tilt in ((5.0, 35.0, 75.0) if k % 2 else (-10.0, 20.0))
        for head in np.arange(8) * 45.0 + 7.0 * k
    ]
    rows.append((*sites[0], 123.4, 62.0))  # a fixed camera sharing a lens position
    arr = np.asarray(rows)[rng.permutation(len(rows))]
    opts = options(arr[:, :3], arr[:, 3].tolist(), arr[:, 4].tolist())
    pts = rng.uniform(-45, 45, size=(2500, 3))
    pts[:, 2] = rng.uniform(0.0, 14.0, size=2500)
    dem = demand(pts)
    cam = Camera(vfov_deg=70.0)
    expect = brute_force_fov(opts, dem, cam)
    one = compute_coverage(Mesh.empty(), opts, dem, cam, workers=1, chunk_pairs=5_000)
    assert one.stats["chunks"] > 3
    assert np.array_equal(seen(one), expect)
    assert one.stats["visible_pairs"] == int((expect > 0).sum()) > 2000
    assert one.matrix.has_sorted_indices
    two = compute_coverage(
        Mesh.empty(), opts, dem, cam, workers=2, chunk_pairs=5_000, min_parallel_pairs=0
    )
    assert np.array_equal(two.matrix.indptr, one.matrix.indptr)
    assert np.array_equal(two.matrix.indices, one.matrix.indices)
    assert np.array_equal(two.matrix.data, one.matrix.data)
    # More distinct tilts than the field-of-view tables are built for: the exact test only.
    many = options(arr[:, :3], arr[:, 3].tolist(), rng.uniform(-30, 80, len(rows)).tolist())
    cov = compute_coverage(Mesh.empty(), many, dem, cam, workers=1)
    assert np.array_equal(seen(cov), brute_force_fov(many, dem, cam))


def test_points_on_octant_edges_and_far_apart_clusters_match_brute_force() -> None:
    """Points exactly on the axes and diagonals (the octant boundaries the kernel uses to
    pick which headings to test), headings on and beside those boundaries, and a second
    cluster 80 km away (too sparse a grid to count into cells: the sorting fallback)."""
    ring = []
    for r in (3.0, 10.0, 24.0):
        for k in range(16):
            a = k * math.pi / 8.0
            ring.append([r * math.sin(a), r * math.cos(a), -4.0])
            ring.append([round(r * math.sin(a), 6), round(r * math.cos(a), 6), 1.0])
    pts = np.asarray(ring)
    far = pts + np.array([80_000.0, 80_000.0, 0.0])
    heads = [0.0, 22.5, 45.0, 67.5 - 1e-9, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0, 359.9]
    site_a = np.broadcast_to(LENS, (len(heads), 3))
    site_b = site_a + np.array([80_000.0, 80_000.0, 0.0])
    opts = options(np.concatenate([site_a, site_b]), heads + heads, 20.0)
    dem = demand(np.concatenate([pts, far]))
    cam = Camera()
    cov = compute_coverage(Mesh.empty(), opts, dem, cam, workers=1)
    expect = brute_force_fov(opts, dem, cam)
    assert np.array_equal(seen(cov), expect)
    from placement.visibility._task import _make_task

    assert _make_task(Mesh.empty(), opts, dem, cam).cell_start.size == 0  # sorted, not counted
    n = pts.shape[0]
    assert (expect[: len(heads), :n] > 0).sum() > 100  # the near cluster seen from A
    assert np.array_equal(expect[: len(heads), :n], expect[len(heads) :, n:])  # same from B
    assert not expect[: len(heads), n:].any()


def test_panoramic_sector_matches_brute_force() -> None:
    rng = np.random.default_rng(12)
    pts = rng.uniform(-30, 30, size=(1500, 3))
    pts[:, 2] = 1.5
    heads = [0.0, 100.0, 230.0]
    cam = Camera(hfov_deg=200.0, vfov_deg=60.0, h_pixels=3840)
    cov = compute_coverage(Mesh.empty(), options(LENS, heads, 30.0), demand(pts), cam, workers=1)
    v = demand(pts).xyz - (LENS + OFF)
    d = np.linalg.norm(v, axis=1)
    az = np.degrees(np.arctan2(v[:, 0], v[:, 1]))
    below = np.degrees(np.arctan2(-v[:, 2], np.hypot(v[:, 0], v[:, 1])))
    for row, head in enumerate(heads):
        rel = (az - head + 180.0) % 360.0 - 180.0
        ok = (np.abs(rel) <= 100.0) & (np.abs(below - 30.0) <= 30.0) & (d <= cam.range_m)
        assert np.array_equal(seen(cov)[row], np.where(ok, cam.level(d), 0)), head
    assert (seen(cov) > 0).sum() > 500


def test_cache_hit_and_key_change(tmp_path: Path) -> None:
    wall = box((0.0, 10.0, 5.0), (10.0, 0.5, 10.0))
    opts = options(LENS, [0.0, 90.0])
    dem = demand([[0.0, 20.0, 1.5], [12.0, 20.0, 1.5], [15.0, 1.0, 1.5]])
    calls: list[tuple[int, int]] = []
    first = compute_coverage(
        wall,
        opts,
        dem,
        Camera(),
        workers=1,
        cache_dir=tmp_path,
        progress=lambda a, b: calls.append((a, b)),
    )
    assert calls[-1] == (2, 2)
    assert first.stats["from_cache"] is False
    files = list(tmp_path.glob("coverage-*.npz"))
    assert [f.name for f in files] == [f"coverage-{first.key}.npz"]
    second = compute_coverage(wall, opts, dem, Camera(), workers=1, cache_dir=tmp_path)
    assert second.stats["from_cache"] is True
    assert second.key == first.key
    assert (second.matrix != first.matrix).nnz == 0 and second.matrix.dtype == np.int8
    assert second.stats["visible_pairs"] == first.stats["visible_pairs"] == 2
    # Any change of input changes the key.
    keys = {first.key}
    keys.add(compute_coverage(wall, opts, dem, Camera(range_m=50.0), workers=1).key)
    keys.add(compute_coverage(wall, options(LENS, [0.0, 91.0]), dem, Camera(), workers=1).key)
    keys.add(compute_coverage(wall, options(LENS, [0.0, 90.0], 21.0), dem, Camera(), workers=1).key)
    dem2 = demand([[0.0, 20.0, 1.5], [12.0, 20.0, 1.5], [15.0, 1.0, 1.6]])
    keys.add(compute_coverage(wall, opts, dem2, Camera(), workers=1).key)
    keys.add(
        compute_coverage(
            box((0.0, 10.0, 5.0), (10.0, 0.6, 10.0)), opts, dem, Camera(), workers=1
        ).key
    )
    assert len(keys) == 6


def test_a_cache_that_cannot_be_written_costs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wall = box((0.0, 10.0, 5.0), (10.0, 0.5, 10.0))
    opts = options(LENS, [0.0, 90.0])
    dem = demand([[0.0, 20.0, 1.5], [12.0, 20.0, 1.5], [15.0, 1.0, 1.5]])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with caplog.at_level("WARNING", logger="placement.visibility"):
        cov = compute_coverage(wall, opts, dem, Camera(), workers=1, cache_dir=blocker / "c")
    assert cov.stats["visible_pairs"] == 2  # the run went on
    assert "coverage cache not written" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_cache_is_pruned_least_recently_used_first(tmp_path: Path) -> None:
    from placement.visibility._coverage import prune_cache

    for k, (size, age) in enumerate([(400, 50), (300, 10), (200, 30), (100, 40)]):
        f = tmp_path / f"coverage-{k}.npz"
        f.write_bytes(b"x" * size)
        os.utime(f, (1e9 - age, 1e9 - age))
    (tmp_path / "other.npz").write_bytes(b"x" * 5000)  # not ours: never touched
    gone = prune_cache(tmp_path, max_bytes=600)
    # Newest first: 1 (300), 2 (200) fit in 600; 3 (100) would make 600 too -> kept; 0 goes.
    assert sorted(p.name for p in gone) == ["coverage-0.npz"]
    assert prune_cache(tmp_path, max_bytes=350) == [
        tmp_path / "coverage-2.npz",
        tmp_path / "coverage-3.npz",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coverage-1.npz", "other.npz"]
    assert prune_cache(tmp_path, max_bytes=1) == []  # the newest stays whatever its size

    # Through compute_coverage: a tiny cap keeps only the file just written.
    wall = box((0.0, 10.0, 5.0), (10.0, 0.6, 10.0))
    dem = demand([[0.0, 20.0, 1.5], [3.0, 5.0, 1.5]])
    cache = tmp_path / "cache"
    for head in (0.0, 10.0, 20.0):
        compute_coverage(
            wall,
            options(LENS, [head]),
            dem,
            Camera(),
            workers=1,
            cache_dir=cache,
            cache_max_bytes=1,
        )
    assert len(list(cache.glob("coverage-*.npz"))) == 1


def test_save_load_round_trip_and_bad_file(tmp_path: Path) -> None:
    pts = [[0.0, 10.0, 1.5], [0.0, 40.0, 1.5]]
    cov = compute_coverage(
        Mesh.empty(), options(LENS, [0.0, 180.0]), demand(pts), Camera(), workers=1
    )
    p = tmp_path / "cov.npz"
    cov.save(p)
    back = Coverage.load(p)
    assert back.key == cov.key and (back.n_options, back.n_points) == (2, 2)
    assert seen(back).tolist() == [[2, 0], [0, 0]]
    assert back.stats["visible_pairs"] == 1
    assert seen(cov).tolist() == [[2, 0], [0, 0]]
    assert (cov.seen(min_level=2).toarray() == [[True, False], [False, False]]).all()
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match=r"junk\.npz"):
        Coverage.load(tmp_path / "junk.npz")


def test_bad_inputs_raise() -> None:
    dem = demand([[0.0, 10.0, 1.5]])
    bad = options(LENS, [0.0])
    bad.origin[0, 0] = np.nan
    with pytest.raises(OptionError, match="origin"):
        compute_coverage(Mesh.empty(), bad, dem, Camera())
    with pytest.raises(OptionError, match="workers"):
        compute_coverage(Mesh.empty(), options(LENS, [0.0]), dem, Camera(), workers=0)
    empty = compute_coverage(Mesh.empty(), options(LENS, [0.0]), demand(np.zeros((0, 3))), Camera())
    assert empty.matrix.shape == (1, 0) and empty.stats["visible_pairs"] == 0


# --------------------------------------------------------------------------- real tiles


@pytest.fixture(scope="module", params=["52350301", "51357353"])
def osaka_scene(
    plateau: Path, request: pytest.FixtureRequest
) -> tuple[Mesh, Options, Demand, Camera]:
    """An Osaka tile (buildings + roads) with the pipeline's own sites and demand: LOD2
    52350301 (mostly open, elevated roads) and the dense LOD1 51357353."""
    try:
        from placement.citygml import read_citygml
        from placement.demand import sample_demand
        from placement.sites import combine_sites, make_options, pole_sites, road_edge_sites
    except ImportError as exc:  # a stage that has not landed yet
        pytest.skip(f"pipeline stage missing: {exc}")
    tile = request.param
    paths = [plateau / "osaka" / f"{tile}_{k}_6697_op.gml" for k in ("bldg", "tran")]
    if not all(p.exists() for p in paths):
        pytest.skip(f"osaka/{tile} bldg + tran tiles not found")
    city = read_citygml(paths)
    cam = Camera()
    sites = combine_sites(
        pole_sites(city, mount_height_m=cam.height_m),
        road_edge_sites(city, mount_height_m=cam.height_m),
    )
    return city.occluders, make_options(sites, cam, headings=8), sample_demand(city), cam


@pytest.mark.realdata
def test_real_tile_embree_agrees_with_numpy_segment_test(
    osaka_scene: tuple[Mesh, Options, Demand, Camera],
) -> None:
    mesh, opts, dem, _ = osaka_scene
    assert mesh.n_triangles > 1000
    rng = np.random.default_rng(3)
    # 20,000 segments from real lenses to real demand points within 60 m of them.
    from scipy.spatial import cKDTree

    lenses = rng.choice(len(opts), size=min(4_000, len(opts)), replace=False)
    near = cKDTree(dem.xyz).query_ball_point(opts.origin[lenses], r=60.0)
    all_o = np.repeat(lenses, [len(n) for n in near])
    all_p = np.concatenate([np.asarray(n, dtype=np.intp) for n in near])
    pick = rng.choice(all_o.size, size=20_000, replace=False)
    oi, pi = all_o[pick], all_p[pick]
    starts, ends = opts.origin[oi], dem.xyz[pi]
    embree = segments_clear(mesh, starts, ends, start_margin_m=0.3, end_margin_m=0.05)
    v = ends - starts
    u = v / np.linalg.norm(v, axis=1)[:, None]
    reference = clear_numpy(mesh, starts + 0.3 * u, ends - 0.05 * u)
    agree = float((embree == reference).mean())
    assert agree >= 0.999, agree
    # The same segments through embreex's own query loop (float32 rounding near a
    # triangle's edge may differ, as the two shift to local coordinates differently).
    c = np.floor(starts.mean(axis=0))
    local = Mesh(mesh.vertices - c, mesh.faces, mesh.feature, mesh.kind)
    s0, e0 = starts - c + 0.3 * u, ends - c - 0.05 * u
    assert (embree == embreex_clear(local, s0, e0)).mean() >= 0.9999
    assert reference.sum() > 1000
    if mesh.n_triangles > 5000:  # the dense tile: a real mix of blocked and clear segments
        assert 0.05 < reference.mean() < 0.95


@pytest.mark.realdata
def test_real_tile_visible_pairs_have_line_of_sight(
    osaka_scene: tuple[Mesh, Options, Demand, Camera],
) -> None:
    mesh, opts, dem, cam = osaka_scene
    cov = compute_coverage(mesh, opts, dem, cam, workers=1)
    st = cov.stats
    assert st["pairs_in_reach"] >= st["pairs_in_view"] >= st["visible_pairs"] > 1000
    assert st["segments_tested"] <= st["pairs_in_view"]
    coo = cov.matrix.tocoo()
    rng = np.random.default_rng(5)
    pick = rng.choice(coo.nnz, size=min(5_000, coo.nnz), replace=False)
    o, p = coo.row[pick], coo.col[pick]
    starts, ends = opts.origin[o], dem.xyz[p]
    d = np.linalg.norm(ends - starts, axis=1)
    u = (ends - starts) / d[:, None]
    clear = clear_numpy(mesh, starts + START_MARGIN_M * u, ends - END_MARGIN_M * u)
    assert clear.mean() >= 0.999, clear.mean()
    assert np.array_equal(coo.data[pick], cam.level(d))
    if mesh.n_triangles > 5000:  # the dense tile: buildings hide some pairs in view
        assert st["visible_pairs"] < st["pairs_in_view"]
