"""Polygon triangulation and small polygon measures.

CityGML polygons are planar-ish 3D rings (an exterior and any number of interior rings,
"holes"). They are triangulated with mapbox_earcut after projecting each polygon onto its
own best-fit plane, whose normal is the Newell normal of the exterior ring. Triangles are
wound so that their normals agree with that Newell normal (CityGML exteriors are
counter-clockwise seen from outside, so triangle normals point outwards).

Rings are passed *open*: without repeating the first vertex at the end (see
:func:`open_ring`). Batch functions take the vertices of many polygons stacked in one
array with offset arrays, so the per-polygon Python work is one earcut call and nothing
per vertex; triangles and quadrilaterals without holes (most PLATEAU polygons) never reach
earcut at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import mapbox_earcut
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

#: Polygons whose exterior ring encloses less than this (square metres) are degenerate.
MIN_AREA_M2 = 1e-8


def open_ring(ring: FloatArray) -> FloatArray:
    """Drop the closing vertex of a ring when it repeats the first one.

    Parameters
    ----------
    ring : (n, 3) float64 vertices.

    Returns
    -------
    (m, 3) float64, m = n - 1 when the ring was closed, else n.
    """
    if ring.shape[0] >= 2 and np.array_equal(ring[0], ring[-1]):
        return ring[:-1]
    return ring


def newell_normals(vertices: FloatArray, ring_start: IndexArray) -> FloatArray:
    """Newell normal of every ring: its direction is the ring's plane normal (right-hand
    rule over the vertex order) and its length is twice the enclosed area.

    Parameters
    ----------
    vertices : (V, 3) float64, open rings stacked one after the other.
    ring_start : (R + 1,) int64 offsets: ring r is ``vertices[ring_start[r]:ring_start[r+1]]``.

    Returns
    -------
    (R, 3) float64 vectors (square metres when the vertices are metres).
    """
    n_rings = ring_start.shape[0] - 1
    if n_rings == 0:
        return np.zeros((0, 3))
    counts = np.diff(ring_start)
    ring_of = np.repeat(np.arange(n_rings), counts)
    # Work relative to each ring's first vertex: plane-rectangular coordinates are ~1e5 m
    # and the cross products would otherwise lose digits to cancellation.
    local = vertices - vertices[ring_start[:-1]][ring_of]
    idx = np.arange(vertices.shape[0])
    nxt = idx + 1
    last = ring_start[1:] - 1
    nxt[last[counts > 0]] = ring_start[:-1][counts > 0]
    a, b = local, local[nxt]
    terms = np.cross(a, b)
    out = np.zeros((n_rings, 3))
    nonempty = counts > 0
    if vertices.shape[0]:
        sums = np.add.reduceat(terms, ring_start[:-1][nonempty], axis=0)
        out[nonempty] = sums
    return out


def _plane_basis(normals: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit vectors (u, v) per normal such that (u, v, n) is right-handed."""
    n = normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    # Cross with the world axis least aligned with n: never parallel, well conditioned.
    axis = np.zeros_like(n)
    axis[np.arange(n.shape[0]), np.argmin(np.abs(n), axis=1)] = 1.0
    u = np.cross(axis, n)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-300)
    v = np.cross(n, u)
    return u, v


def _signed_area_2d(p0: FloatArray, p1: FloatArray, p2: FloatArray) -> FloatArray:
    return 0.5 * (
        (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1])
        - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    )


def triangulate_polygons(
    vertices: FloatArray,
    ring_start: IndexArray,
    poly_ring_start: IndexArray,
    *,
    min_area_m2: float = MIN_AREA_M2,
) -> tuple[IndexArray, IndexArray]:
    """Triangulate many polygons with holes at once.

    Parameters
    ----------
    vertices : (V, 3) float64, all open rings stacked.
    ring_start : (R + 1,) int64 vertex offsets of the rings.
    poly_ring_start : (P + 1,) int64 ring offsets of the polygons: polygon p owns rings
        ``poly_ring_start[p]:poly_ring_start[p+1]``, the first being its exterior.
    min_area_m2 : polygons whose exterior encloses less are degenerate (no triangles).

    Returns
    -------
    faces : (F, 3) int64 indices into ``vertices``, wound like the exterior ring.
    polygon : (F,) int64 polygon each triangle belongs to.
    """
    ring_start = np.asarray(ring_start, np.int64)
    poly_ring_start = np.asarray(poly_ring_start, np.int64)
    n_polys = poly_ring_start.shape[0] - 1
    empty = (np.zeros((0, 3), np.int64), np.zeros(0, np.int64))
    if n_polys <= 0 or vertices.shape[0] == 0:
        return empty
    ring_counts = np.diff(ring_start)
    ext = poly_ring_start[:-1]
    n_rings_of = np.diff(poly_ring_start)
    valid = n_rings_of > 0
    ext_safe = np.where(valid, ext, 0)
    ext_count = np.where(valid, ring_counts[ext_safe], 0)
    normals = newell_normals(vertices, ring_start)[ext_safe]
    area2 = np.linalg.norm(normals, axis=1)
    valid &= (ext_count >= 3) & (area2 > 2.0 * min_area_m2)
    if not valid.any():
        return empty

    # Project every vertex onto its polygon's plane in one go.
    n_rings = ring_start.shape[0] - 1
    poly_of_ring = np.full(n_rings, -1, np.int64)
    has = n_rings_of > 0
    poly_of_ring[poly_ring_start[:-1][has]] = np.flatnonzero(has)
    poly_of_ring = np.maximum.accumulate(poly_of_ring)
    poly_of_vertex = np.repeat(poly_of_ring, ring_counts)
    u, v = _plane_basis(np.where(valid[:, None], normals, [[0.0, 0.0, 1.0]]))
    origin = vertices[ring_start[ext_safe]]
    rel = vertices - origin[poly_of_vertex]
    uv = np.stack(
        [
            np.einsum("ij,ij->i", rel, u[poly_of_vertex]),
            np.einsum("ij,ij->i", rel, v[poly_of_vertex]),
        ],
        axis=1,
    )

    faces_parts: list[IndexArray] = []
    poly_parts: list[IndexArray] = []
    simple = valid & (n_rings_of == 1)
    # Triangles: the ring itself.
    tri = np.flatnonzero(simple & (ext_count == 3))
    if tri.size:
        s = ring_start[ext[tri]]
        faces_parts.append(np.stack([s, s + 1, s + 2], axis=1))
        poly_parts.append(tri)
    # Quadrilaterals: split along whichever diagonal keeps both halves counter-clockwise
    # (one of the two always does for a simple quad).
    quad = np.flatnonzero(simple & (ext_count == 4))
    if quad.size:
        s = ring_start[ext[quad]]
        a, b, c, d = s, s + 1, s + 2, s + 3
        ok = (_signed_area_2d(uv[a], uv[b], uv[c]) > 0) & (_signed_area_2d(uv[a], uv[c], uv[d]) > 0)
        f1 = np.where(ok[:, None], np.stack([a, b, c], 1), np.stack([b, c, d], 1))
        f2 = np.where(ok[:, None], np.stack([a, c, d], 1), np.stack([b, d, a], 1))
        faces_parts += [f1, f2]
        poly_parts += [quad, quad]
    # Everything else through earcut, one call per polygon.
    rest = np.flatnonzero(valid & ~(simple & ((ext_count == 3) | (ext_count == 4))))
    if rest.size:
        rf: list[IndexArray] = []
        rp: list[IndexArray] = []
        # Hole-free polygons (most of them) with as little Python per call as possible:
        # earcut sees a view of the polygon's own vertices.
        lone = rest[n_rings_of[rest] == 1]
        if lone.size:
            v0s = ring_start[ext[lone]]
            ncs = ext_count[lone]
            ends_all = ncs.astype(np.uint32)
            sizes = np.empty(lone.size, np.int64)
            earcut = mapbox_earcut.triangulate_float64
            for i, (v0, v1) in enumerate(zip(v0s.tolist(), (v0s + ncs).tolist(), strict=True)):
                tris = earcut(uv[v0:v1], ends_all[i : i + 1])
                sizes[i] = tris.size // 3
                if tris.size:
                    rf.append(tris.astype(np.int64).reshape(-1, 3) + v0)
            rp.append(np.repeat(lone, sizes))
            rest = rest[n_rings_of[rest] > 1]
        for p in rest.tolist():
            r0, r1 = int(poly_ring_start[p]), int(poly_ring_start[p + 1])
            counts = ring_counts[r0:r1]
            # Holes with fewer than three vertices enclose nothing: drop them.
            keep = np.ones(counts.shape[0], bool)
            keep[1:] = counts[1:] >= 3
            starts = ring_start[r0:r1][keep]
            counts = counts[keep]
            if keep.all():
                v0 = int(starts[0])
                idx: IndexArray = np.arange(v0, v0 + int(counts.sum()))
            else:
                idx = np.concatenate(
                    [
                        np.arange(s0, s0 + c)
                        for s0, c in zip(starts.tolist(), counts.tolist(), strict=True)
                    ]
                )
            ends = np.cumsum(counts).astype(np.uint32)
            tris = mapbox_earcut.triangulate_float64(uv[idx], ends)
            if tris.size:
                rf.append(idx[tris.reshape(-1, 3)])
                rp.append(np.full(tris.size // 3, p, np.int64))
        if rf:
            f = np.concatenate(rf)
            sa = _signed_area_2d(uv[f[:, 0]], uv[f[:, 1]], uv[f[:, 2]])
            f[sa < 0] = f[sa < 0][:, ::-1]
            faces_parts.append(f)
            poly_parts.append(np.concatenate(rp))
    if not faces_parts:
        return empty
    faces = np.concatenate(faces_parts).astype(np.int64)
    polys = np.concatenate(poly_parts).astype(np.int64)
    order = np.argsort(polys, kind="stable")
    return faces[order], polys[order]


def _stack_rings(rings: Sequence[FloatArray]) -> tuple[FloatArray, IndexArray]:
    """Stack open rings; returns (vertices, ring_start)."""
    counts = [int(r.shape[0]) for r in rings]
    verts = np.concatenate([np.asarray(r, np.float64).reshape(-1, 3) for r in rings])
    return verts, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def triangulate_polygon(
    rings: Sequence[FloatArray], *, min_area_m2: float = MIN_AREA_M2
) -> IndexArray:
    """Triangulate one polygon with holes on its own best-fit plane.

    Parameters
    ----------
    rings : the exterior ring then any interior rings, each (n_i, 3) float64. A ring may
        repeat its first vertex at the end; that duplicate is never used.
    min_area_m2 : polygons enclosing less than this are degenerate.

    Returns
    -------
    (F, 3) int64 indices into ``np.concatenate(rings)`` (the rings as given), wound so
    that the triangle normals agree with the exterior ring's Newell normal. Empty for a
    degenerate polygon (fewer than three distinct points, collinear, zero area).
    """
    if not rings:
        return np.zeros((0, 3), np.int64)
    given = [np.asarray(r, np.float64).reshape(-1, 3) for r in rings]
    kept: list[IndexArray] = []
    opened: list[FloatArray] = []
    offset = 0
    for r in given:
        o = open_ring(r)
        opened.append(o)
        kept.append(np.arange(offset, offset + o.shape[0]))
        offset += r.shape[0]
    verts, ring_start = _stack_rings(opened)
    faces, _ = triangulate_polygons(
        verts, ring_start, np.array([0, len(opened)], np.int64), min_area_m2=min_area_m2
    )
    return np.concatenate(kept)[faces] if faces.size else np.zeros((0, 3), np.int64)


def ring_area(ring: FloatArray) -> float:
    """Area enclosed by one 3D ring (open or closed), square metres."""
    r = open_ring(np.asarray(ring, np.float64).reshape(-1, 3))
    if r.shape[0] < 3:
        return 0.0
    n = newell_normals(r, np.array([0, r.shape[0]], np.int64))
    return float(0.5 * np.linalg.norm(n[0]))


def polygon_area(rings: Sequence[FloatArray]) -> float:
    """Area of a 3D polygon with holes: exterior minus interiors, square metres."""
    if not rings:
        return 0.0
    return max(ring_area(rings[0]) - sum(ring_area(r) for r in rings[1:]), 0.0)


def triangle_areas(vertices: FloatArray, faces: npt.NDArray[np.integer]) -> FloatArray:
    """(F,) area of each triangle, square metres."""
    t = vertices[faces]
    area: FloatArray = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    return area


def triangle_normals(vertices: FloatArray, faces: npt.NDArray[np.integer]) -> FloatArray:
    """(F, 3) unit normals (zero for degenerate triangles)."""
    t = vertices[faces]
    c = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n = np.linalg.norm(c, axis=1, keepdims=True)
    unit: FloatArray = np.divide(c, n, out=np.zeros_like(c), where=n > 0)
    return unit


def bisect_triangles(
    vertices: FloatArray, faces: npt.NDArray[np.integer], split: npt.NDArray[np.bool_]
) -> tuple[FloatArray, IndexArray, IndexArray]:
    """Split some triangles in two across their longest edge (in plan), keeping the mesh
    conforming.

    A neighbour across a split edge is split too, along its own longest edge first, then
    across the shared edge (so splits always start from the longest edge: angles stay
    bounded, and repeated rounds turn a 200 m by 8 m sliver into a strip of pieces rather
    than a fan of needles). Edges are shared by vertex id, so no vertex is left hanging on
    an edge where the input had none.

    Parameters
    ----------
    vertices : (V, 3) metres.
    faces : (F, 3) vertex ids.
    split : (F,) bool, the triangles to split.

    Returns
    -------
    vertices : (V + K, 3) the input vertices, then the K midpoints of the edges split
        (their z halfway between the ends').
    faces : (F', 3) int64: the pieces (2 to 4) of each triangle split or split beside, the
        others as they were; in input order, wound as the input.
    parent : (F',) int64, the input triangle each face comes from.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    rows = np.arange(f.shape[0])
    if not np.any(split):
        return v.copy(), f.copy(), rows
    a, b = f, np.roll(f, -1, axis=1)  # edge i runs from corner i to corner i + 1
    length = np.hypot(*(v[b, :2] - v[a, :2]).transpose(2, 0, 1))
    longest = np.argmax(length, axis=1)
    n_v = v.shape[0]
    edges, edge_of = np.unique(np.minimum(a, b) * n_v + np.maximum(a, b), return_inverse=True)
    edge_of = edge_of.reshape(-1, 3)
    cut = np.zeros(edges.size, bool)
    cut[edge_of[split, longest[split]]] = True
    while True:  # a triangle with any edge cut has its longest edge cut too
        touched = cut[edge_of].any(axis=1)
        need = edge_of[touched, longest[touched]]
        if cut[need].all():
            break
        cut[need] = True
    mid_id = np.full(edges.size, -1, np.int64)
    mid_id[cut] = n_v + np.arange(int(cut.sum()))
    ends = np.column_stack([edges[cut] // n_v, edges[cut] % n_v])
    out_v = np.concatenate([v, 0.5 * (v[ends[:, 0]] + v[ends[:, 1]])])
    # Turn each touched triangle so that its longest edge runs from corner 0 to corner 1.
    t = np.flatnonzero(touched)
    turn = (longest[t, None] + np.arange(3)) % 3
    v0, v1, v2 = f[t[:, None], turn].T
    m0, m1, m2 = mid_id[edge_of[t[:, None], turn]].T  # mi: midpoint of edge i, or -1
    # Halve across the longest edge; each half then splits its outer edge if that is cut.
    pieces = [
        (np.column_stack([v0, m0, v2]), m2 < 0),
        (np.column_stack([v0, m0, m2]), m2 >= 0),
        (np.column_stack([m0, v2, m2]), m2 >= 0),
        (np.column_stack([m0, v1, v2]), m1 < 0),
        (np.column_stack([m0, v1, m1]), m1 >= 0),
        (np.column_stack([m0, m1, v2]), m1 >= 0),
    ]
    out_f = np.concatenate([f[~touched], *(p[s] for p, s in pieces)])
    parent = np.concatenate([rows[~touched], *(t[s] for _, s in pieces)])
    order = np.argsort(parent, kind="stable")
    return out_v, out_f[order], parent[order]
