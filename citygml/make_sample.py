"""Write ``citygml/sample_city.gml``: a small PLATEAU-style demo tile (deterministic).

A 300 m x 300 m block near Kakogawa Station (Hyogo; JGD2011 plane rectangular zone V,
EPSG:6673), in the PLATEAU flavour of CityGML 2.0: EPSG:6697 with ``lat lon h`` posLists,
srsName only on the envelope, uro 3.0 namespace. On a gently sloping ground:

- a street grid: two east-west streets (10 m) and three north-south streets (8 m) as LOD1
  road surfaces at real ground heights; one segment also carries LOD3-style traffic areas
  (a carriageway ``TrafficArea`` 1000 and two ``AuxiliaryTrafficArea`` sidewalks 2000);
- 48 buildings lining the streets, mixing LOD1 (inline solid) and LOD2 (``lod2Solid``
  of xlinks into ``boundedBy`` Wall/Roof/Ground surfaces, some with gable roofs), one with
  an interior courtyard (interior rings), one with a ``BuildingPart``, several without
  ``measuredHeight`` and one with -9999;
- two poles (frn function 4810 roadside, 4840 utility) at road edges and one tree
  (``SolitaryVegetationObject``).

Run ``python citygml/make_sample.py [OUT.gml]`` to regenerate (by default over
``citygml/sample_city.gml``); the output is byte-identical.
"""

# ruff: noqa: E501  (inline XML fragments read better on one line)

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

OUT = Path(__file__).resolve().parent / "sample_city.gml"
ORIGIN_LAT, ORIGIN_LON = 34.7570, 134.8400  # near JR Kakogawa Station
ZONE = "EPSG:6673"
SEED = 20240601

_TO_GEO = Transformer.from_crs(ZONE, "EPSG:6668", always_xy=True)
_FROM_GEO = Transformer.from_crs("EPSG:6668", ZONE, always_xy=True)
_OX, _OY = _FROM_GEO.transform(ORIGIN_LON, ORIGIN_LAT)

Pt = tuple[float, float, float]


def ground(x: float, y: float) -> float:
    """Ground height (TP metres) at local (x, y): a gentle slope rising to the north-east."""
    return round(4.0 + 0.012 * x + 0.008 * y, 3)


def poslist(points: list[Pt]) -> str:
    """Local metric points -> closed ``lat lon h`` posList text."""
    pts = [*points, points[0]]
    xs = np.array([p[0] for p in pts]) + _OX
    ys = np.array([p[1] for p in pts]) + _OY
    lon, lat = _TO_GEO.transform(xs, ys)
    return " ".join(
        f"{la:.10f} {lo:.10f} {p[2]:.3f}" for la, lo, p in zip(lat, lon, pts, strict=True)
    )


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n:05d}"


ID = Ids()


def polygon(rings: list[list[Pt]], pid: str | None = None) -> str:
    attr = f' gml:id="{pid}"' if pid else ""
    ext = f"<gml:exterior><gml:LinearRing><gml:posList>{poslist(rings[0])}</gml:posList></gml:LinearRing></gml:exterior>"
    ints = "".join(
        f"<gml:interior><gml:LinearRing><gml:posList>{poslist(r)}</gml:posList></gml:LinearRing></gml:interior>"
        for r in rings[1:]
    )
    return f"<gml:Polygon{attr}>{ext}{ints}</gml:Polygon>"


def multisurface(polys: list[list[list[Pt]]]) -> str:
    members = "".join(f"<gml:surfaceMember>{polygon(p)}</gml:surfaceMember>" for p in polys)
    return f"<gml:MultiSurface>{members}</gml:MultiSurface>"


def solid(polys: list[list[list[Pt]]]) -> str:
    members = "".join(f"<gml:surfaceMember>{polygon(p)}</gml:surfaceMember>" for p in polys)
    return (
        "<gml:Solid><gml:exterior><gml:CompositeSurface>"
        f"{members}</gml:CompositeSurface></gml:exterior></gml:Solid>"
    )


def prism(rings: list[list[tuple[float, float]]], z0: float, z1: float) -> dict[str, list]:
    """Faces of a vertical prism over a plan polygon (exterior CCW, holes CW), outward."""
    bottom = [[(x, y, z0) for x, y in reversed(r)] for r in rings]
    top = [[(x, y, z1) for x, y in r] for r in rings]
    walls = []
    for r in rings:
        for i in range(len(r)):
            (xa, ya), (xb, yb) = r[i], r[(i + 1) % len(r)]
            walls.append([[(xa, ya, z0), (xb, yb, z0), (xb, yb, z1), (xa, ya, z1)]])
    return {"ground": [bottom], "roof": [top], "wall": walls}


def gable(  # noqa: PLR0917
    x0: float, y0: float, w: float, d: float, z0: float, eave: float, ridge: float
) -> dict[str, list]:
    """Faces of a gable-roofed house on rectangle [x0, x0+w] x [y0, y0+d], ridge along x."""
    x1, y1, ym = x0 + w, y0 + d, y0 + d / 2
    ze, zr = z0 + eave, z0 + ridge
    return {
        "ground": [[[(x0, y0, z0), (x0, y1, z0), (x1, y1, z0), (x1, y0, z0)]]],
        "wall": [
            [[(x0, y0, z0), (x1, y0, z0), (x1, y0, ze), (x0, y0, ze)]],  # south
            [[(x1, y1, z0), (x0, y1, z0), (x0, y1, ze), (x1, y1, ze)]],  # north
            [[(x1, y0, z0), (x1, y1, z0), (x1, y1, ze), (x1, ym, zr), (x1, y0, ze)]],  # east gable
            [[(x0, y1, z0), (x0, y0, z0), (x0, y0, ze), (x0, ym, zr), (x0, y1, ze)]],  # west gable
        ],
        "roof": [
            [[(x0, y0, ze), (x1, y0, ze), (x1, ym, zr), (x0, ym, zr)]],
            [[(x1, y1, ze), (x0, y1, ze), (x0, ym, zr), (x1, ym, zr)]],
        ],
    }


def lod2_xml(faces: dict[str, list]) -> str:
    """lod2Solid of xlinks plus the boundedBy surfaces that hold the polygons."""
    names = {"wall": "WallSurface", "roof": "RoofSurface", "ground": "GroundSurface"}
    refs, bounded = [], []
    for key in ("ground", "roof", "wall"):
        for rings in faces[key]:
            pid = ID("poly")
            refs.append(f'<gml:surfaceMember xlink:href="#{pid}"/>')
            bounded.append(
                f'<bldg:boundedBy><bldg:{names[key]} gml:id="{ID(key)}"><bldg:lod2MultiSurface>'
                f"<gml:MultiSurface><gml:surfaceMember>{polygon(rings, pid)}</gml:surfaceMember>"
                f"</gml:MultiSurface></bldg:lod2MultiSurface></bldg:{names[key]}></bldg:boundedBy>"
            )
    solid_xml = (
        "<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface>"
        + "".join(refs)
        + "</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>"
    )
    return solid_xml + "".join(bounded)


def all_faces(faces: dict[str, list]) -> list:
    return [*faces["ground"], *faces["roof"], *faces["wall"]]


def building_xml(
    bid: str,
    body: str,
    *,
    height: float | None,
    usage: str,
    footprint: list[list[Pt]] | None,
    extra: str = "",
) -> str:
    mh = (
        "" if height is None else f'<bldg:measuredHeight uom="m">{height:.1f}</bldg:measuredHeight>'
    )
    fp = (
        f"<bldg:lod0FootPrint>{multisurface([footprint])}</bldg:lod0FootPrint>" if footprint else ""
    )
    return (
        f'<core:cityObjectMember><bldg:Building gml:id="{bid}">'
        "<core:creationDate>2024-03-29</core:creationDate>"
        f'<bldg:usage codeSpace="../../codelists/Building_usage.xml">{usage}</bldg:usage>'
        f"{mh}{fp}{body}{extra}"
        "<uro:buildingIDAttribute><uro:BuildingIDAttribute>"
        f"<uro:buildingID>28210-bldg-{bid[-5:]}</uro:buildingID>"
        '<uro:prefecture codeSpace="../../codelists/Common_localPublicAuthorities.xml">28</uro:prefecture>'
        '<uro:city codeSpace="../../codelists/Common_localPublicAuthorities.xml">28210</uro:city>'
        "</uro:BuildingIDAttribute></uro:buildingIDAttribute>"
        "</bldg:Building></core:cityObjectMember>"
    )


def flat_ring(rect: tuple[float, float, float, float]) -> list[Pt]:
    """A CCW road rectangle (x0, y0, x1, y1) lying on the ground."""
    x0, y0, x1, y1 = rect
    return [(x, y, ground(x, y)) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]


def road_xml(rid: str, rects: list[tuple[float, float, float, float]], areas: str = "") -> str:
    return (
        f'<core:cityObjectMember><tran:Road gml:id="{rid}">'
        '<tran:function codeSpace="../../codelists/Road_function.xml">1</tran:function>'
        f"{areas}<tran:lod1MultiSurface>{multisurface([[flat_ring(r)] for r in rects])}"
        "</tran:lod1MultiSurface></tran:Road></core:cityObjectMember>"
    )


def traffic_area(
    tag: str, function: str, rect: tuple[float, float, float, float], lift: float
) -> str:
    x0, y0, x1, y1 = rect
    ring = [
        (x, y, round(ground(x, y) + lift, 3)) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    ]
    prop = "trafficArea" if tag == "TrafficArea" else "auxiliaryTrafficArea"
    return (
        f'<tran:{prop}><tran:{tag} gml:id="{ID("tfa")}">'
        f'<tran:function codeSpace="../../codelists/{tag}_function.xml">{function}</tran:function>'
        f"<tran:lod3MultiSurface>{multisurface([[ring]])}</tran:lod3MultiSurface>"
        f"</tran:{tag}></tran:{prop}>"
    )


def pole_xml(fid: str, function: str, x: float, y: float, height: float) -> str:
    z0 = ground(x, y)
    r = 0.15
    sq = [(x - r, y - r), (x + r, y - r), (x + r, y + r), (x - r, y + r)]
    faces = all_faces(prism([sq], z0, z0 + height))
    return (
        f'<core:cityObjectMember><frn:CityFurniture gml:id="{fid}">'
        f'<frn:function codeSpace="../../codelists/CityFurniture_function.xml">{function}</frn:function>'
        f"<frn:lod2Geometry>{multisurface(faces)}</frn:lod2Geometry>"
        "</frn:CityFurniture></core:cityObjectMember>"
    )


def tree_xml(fid: str, x: float, y: float) -> str:
    z0 = ground(x, y)
    t, c = 0.2, 2.5
    trunk = prism([[(x - t, y - t), (x + t, y - t), (x + t, y + t), (x - t, y + t)]], z0, z0 + 2.5)
    crown = prism(
        [[(x - c, y - c), (x + c, y - c), (x + c, y + c), (x - c, y + c)]], z0 + 2.5, z0 + 7.0
    )
    return (
        f'<core:cityObjectMember><veg:SolitaryVegetationObject gml:id="{fid}">'
        '<veg:function codeSpace="../../codelists/SolitaryVegetationObject_function.xml">1000</veg:function>'
        '<veg:height uom="m">7.0</veg:height>'
        f"<veg:lod2Geometry>{multisurface(all_faces(trunk) + all_faces(crown))}</veg:lod2Geometry>"
        "</veg:SolitaryVegetationObject></core:cityObjectMember>"
    )


# Streets: EW at y = -80 and 40 (10 m wide), NS at x = -90, 0, 90 (8 m wide), -150..150.
EW = (-80.0, 40.0)
NS = (-90.0, 0.0, 90.0)
HALF = 150.0
EW_W, NS_W = 10.0, 8.0


def streets() -> tuple[list[str], list[shapely.Polygon]]:
    feats: list[str] = []
    plan: list[shapely.Polygon] = []
    for j, y in enumerate(EW):
        y0, y1 = y - EW_W / 2, y + EW_W / 2
        if j == 1:
            # Street y=40 between the x=0 and x=90 streets: LOD3 traffic areas too.
            xa, xb = NS_W / 2, 90 - NS_W / 2
            rest = [(-HALF, y0, xa, y1), (xb, y0, HALF, y1)]
            feats.append(road_xml(ID("tran"), rest))
            areas = (
                traffic_area("TrafficArea", "1000", (xa, y0 + 2, xb, y1 - 2), 0.0)
                + traffic_area("AuxiliaryTrafficArea", "2000", (xa, y0, xb, y0 + 2), 0.15)
                + traffic_area("AuxiliaryTrafficArea", "2000", (xa, y1 - 2, xb, y1), 0.15)
            )
            feats.append(road_xml(ID("tran"), [(xa, y0, xb, y1)], areas))
        else:
            feats.append(road_xml(ID("tran"), [(-HALF, y0, HALF, y1)]))
        plan.append(shapely.box(-HALF, y0, HALF, y1))
    for x in NS:
        x0, x1 = x - NS_W / 2, x + NS_W / 2
        cuts = [-HALF] + [v for y in EW for v in (y - EW_W / 2, y + EW_W / 2)] + [HALF]
        rects = [(x0, cuts[i], x1, cuts[i + 1]) for i in range(0, len(cuts), 2)]
        feats.append(road_xml(ID("tran"), rects))
        plan.append(shapely.box(x0, -HALF, x1, HALF))
    return feats, plan


def buildings(rng: np.random.Generator, roads: list[shapely.Polygon]) -> list[str]:
    """Buildings along both sides of every street, set back 1.5-3 m."""
    taken = shapely.union_all(roads).buffer(1.5)
    out: list[str] = []
    n = 0
    specials = {3: "courtyard", 9: "part"}
    missing_h = {2, 7, 13, 21}
    for y in EW:
        for side in (-1, 1):
            x = -HALF + 8 + rng.uniform(0, 6)
            while x < HALF - 20:
                w, d = rng.uniform(12, 22), rng.uniform(10, 16)
                setback = rng.uniform(1.5, 3.0)
                yb = y + side * (EW_W / 2 + setback) + (0 if side > 0 else -d)
                box = shapely.box(x, yb, x + w, yb + d)
                if not box.intersects(taken):
                    n += 1
                    out.append(one_building(n, rng, x, yb, w, d, specials.get(n), n in missing_h))
                    taken = taken.union(box.buffer(1.0))
                x += w + rng.uniform(8, 18)
    for xs in NS[1:2]:
        for side in (-1, 1):
            y = -HALF + 8
            while y < HALF - 14:
                w, d = rng.uniform(10, 14), rng.uniform(10, 16)
                setback = rng.uniform(1.5, 3.0)
                xb = xs + side * (NS_W / 2 + setback) + (0 if side > 0 else -w)
                box = shapely.box(xb, y, xb + w, y + d)
                if not box.intersects(taken):
                    n += 1
                    out.append(one_building(n, rng, xb, y, w, d, specials.get(n), n in missing_h))
                    taken = taken.union(box.buffer(1.0))
                y += d + rng.uniform(6, 14)
    return out


def one_building(  # noqa: PLR0917
    n: int,
    rng: np.random.Generator,
    x: float,
    y: float,
    w: float,
    d: float,
    special: str | None,
    no_height: bool,
) -> str:
    bid = f"bldg_sample_{n:05d}"
    x, y, w, d = (round(v, 2) for v in (x, y, w, d))
    z0 = ground(x + w / 2, y + d / 2)
    h = round(float(rng.choice([6.5, 9.0, 12.0, 15.5, 21.0, 27.0])), 1)
    usage = str(rng.choice(["411", "401", "402", "413"]))
    rect = [(x, y), (x + w, y), (x + w, y + d), (x, y + d)]
    foot = [[(px, py, z0) for px, py in rect]]
    height: float | None = None if no_height else h
    if special == "courtyard":
        # A block with an inner courtyard: the footprint has an interior ring (clockwise).
        m = min(w, d) / 3
        hole = [(x + m, y + m), (x + m, y + d - m), (x + w - m, y + d - m), (x + w - m, y + m)]
        faces = prism([rect, hole], z0, z0 + h)
        foot = [[(px, py, z0) for px, py in rect], [(px, py, z0) for px, py in hole]]
        body = f"<bldg:lod1Solid>{solid(all_faces(faces))}</bldg:lod1Solid>"
        return building_xml(bid, body, height=height, usage=usage, footprint=foot)
    if special == "part":
        # Main block LOD1 plus a lower annex as a BuildingPart with its own solid.
        main = all_faces(prism([rect], z0, z0 + h))
        ax = [(x + w, y + 1), (x + w + 5, y + 1), (x + w + 5, y + d - 1), (x + w, y + d - 1)]
        annex = all_faces(prism([ax], z0, z0 + 4.0))
        part = (
            f'<bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="{bid}_part1">'
            '<bldg:measuredHeight uom="m">4.0</bldg:measuredHeight>'
            f"<bldg:lod1Solid>{solid(annex)}</bldg:lod1Solid>"
            "</bldg:BuildingPart></bldg:consistsOfBuildingPart>"
        )
        body = f"<bldg:lod1Solid>{solid(main)}</bldg:lod1Solid>"
        return building_xml(bid, body, height=height, usage=usage, footprint=foot, extra=part)
    lod1 = f"<bldg:lod1Solid>{solid(all_faces(prism([rect], z0, z0 + h)))}</bldg:lod1Solid>"
    if n % 2 == 0:
        faces = gable(x, y, w, d, z0, h - 2.5, h) if n % 4 == 0 else prism([rect], z0, z0 + h)
        body = lod1 + lod2_xml(faces)
    else:
        body = lod1
    if n == 21:
        # A "missing" height written the PLATEAU way.
        return building_xml(bid, body, height=-9999.0, usage=usage, footprint=foot)
    return building_xml(bid, body, height=height, usage=usage, footprint=foot)


HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0" xmlns:veg="http://www.opengis.net/citygml/vegetation/2.0" xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:uro="https://www.geospatial.jp/iur/uro/3.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<!-- placement sample tile: synthetic, PLATEAU-style (CityGML 2.0, EPSG:6697, lat lon h), near Kakogawa, Hyogo. Generated by citygml/make_sample.py. -->
"""


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        raise SystemExit("usage: make_sample.py [OUT.gml]")
    out = Path(args[0]) if args else OUT
    rng = np.random.default_rng(SEED)
    road_feats, plan = streets()
    bldgs = buildings(rng, plan)
    # Poles on the road edges (in the 0.5 m strip outside the carriageway), and a tree.
    furniture = [
        pole_xml("frn_sample_00001", "4810", -45.0, EW[0] + EW_W / 2 + 0.5, 7.0),
        pole_xml("frn_sample_00002", "4840", NS[1] + NS_W / 2 + 0.5, -20.0, 10.0),
        tree_xml("veg_sample_00001", 60.0, EW[1] - EW_W / 2 - 4.0),
    ]
    body = bldgs + road_feats + furniture
    lo_lon, lo_lat = _TO_GEO.transform(_OX - HALF, _OY - HALF)
    hi_lon, hi_lat = _TO_GEO.transform(_OX + HALF, _OY + HALF)
    env = (
        '<gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">'
        f"<gml:lowerCorner>{lo_lat:.10f} {lo_lon:.10f} 0</gml:lowerCorner>"
        f"<gml:upperCorner>{hi_lat:.10f} {hi_lon:.10f} 40</gml:upperCorner>"
        "</gml:Envelope></gml:boundedBy>\n"
    )
    text = HEADER + env + "\n".join(body) + "\n</core:CityModel>\n"
    out.write_text(text, encoding="utf-8")
    print(
        f"wrote {out} ({len(text) / 1e3:.0f} kB, {len(bldgs)} buildings, {len(road_feats)} roads)"
    )


if __name__ == "__main__":
    main()
