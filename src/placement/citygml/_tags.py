"""CityGML 2.0 namespaces, the feature tags this tool reads and the PLATEAU code lists
it interprets (surface kinds, pole-like furniture, sidewalk and carriageway codes)."""

from __future__ import annotations

from placement.citygml._rings import GML
from placement.model import SurfaceKind

XLINK = "http://www.w3.org/1999/xlink"
CORE = "http://www.opengis.net/citygml/2.0"
BLDG = "http://www.opengis.net/citygml/building/2.0"
TRAN = "http://www.opengis.net/citygml/transportation/2.0"
FRN = "http://www.opengis.net/citygml/cityfurniture/2.0"
VEG = "http://www.opengis.net/citygml/vegetation/2.0"
DEM = "http://www.opengis.net/citygml/relief/2.0"
BRID = "http://www.opengis.net/citygml/bridge/2.0"
OTHER_CORES = {
    "http://www.opengis.net/citygml/1.0": "CityGML 1.0",
    "http://www.opengis.net/citygml/3.0": "CityGML 3.0",
}


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


GML_ID = _q(GML, "id")
GML_PREFIX = f"{{{GML}}}"
XLINK_HREF = _q(XLINK, "href")
LINEAR_RING = _q(GML, "LinearRing")
ENVELOPE = _q(GML, "Envelope")
POLYGON_TAGS = (
    _q(GML, "Polygon"),
    _q(GML, "Triangle"),
    _q(GML, "Rectangle"),
    _q(GML, "PolygonPatch"),
)

BUILDING = _q(BLDG, "Building")
BUILDING_PART = _q(BLDG, "BuildingPart")
ROAD = _q(TRAN, "Road")
TRACK = _q(TRAN, "Track")
SQUARE = _q(TRAN, "Square")
FURNITURE = _q(FRN, "CityFurniture")
TREE = _q(VEG, "SolitaryVegetationObject")
PLANT_COVER = _q(VEG, "PlantCover")
TIN = _q(DEM, "TINRelief")
BRIDGE = _q(BRID, "Bridge")
BRIDGE_PART = _q(BRID, "BridgePart")
#: i-UR's other constructions (walls, sound barriers, embankments), in whichever uro
#: release (its namespace changes with each): matched by local name, namespace checked.
OTHER_CONSTRUCTION = "{*}OtherConstruction"
FEATURE_TAGS = (
    BUILDING,
    ROAD,
    TRACK,
    SQUARE,
    FURNITURE,
    TREE,
    PLANT_COVER,
    TIN,
    BRIDGE,
    OTHER_CONSTRUCTION,
)


def is_uro(tag: str) -> bool:
    """Whether a qualified tag is in an i-UR ``uro`` namespace (any release)."""
    return "/iur/uro/" in tag.partition("}")[0]


#: Roles of a raw polygon.
OCCLUDER, ROADSURF, FOOTPRINT, EXTRUDE, POINTS = 0, 1, 2, 3, 4

_BOUNDARY_KIND = {
    "WallSurface": SurfaceKind.WALL,
    "RoofSurface": SurfaceKind.ROOF,
    "GroundSurface": SurfaceKind.GROUND,
}

#: CityFurniture function codes of pole-like furniture a camera can be mounted on
#: (PLATEAU codelist CityFurniture_function): 4200 lighting, 4800 pole, 4810 roadside
#: pole, 4820 cantilever pole, 4830 gantry, 4840 utility pole, 4900 traffic signal.
POLE_FUNCTIONS = frozenset({"4200", "4800", "4810", "4820", "4830", "4840", "4900"})

#: Traffic area function codes that are for pedestrians (TrafficArea_function 2000-2030;
#: AuxiliaryTrafficArea 2000 sidewalk step). Other TrafficArea codes are carriageway.
_TA_SIDEWALK = frozenset({"2000", "2010", "2020", "2030"})
#: AuxiliaryTrafficArea codes that are carriageway-like (1000 carriageway, 1060 emergency
#: parking, 1090 side strip, 1100 shoulder, 1110 stopping lane, 1120 bus bay); all other
#: auxiliary areas (sidewalk steps, islands, planting, ...) default to SIDEWALK.
_AUX_ROAD = frozenset({"1000", "1060", "1090", "1100", "1110", "1120"})

#: Surface kind of a transportation complex's own surfaces (its traffic areas are classed
#: by their function): tran:Track (footpaths, farm tracks) and tran:Square (plazas,
#: station forecourts) are for pedestrians.
_COMPLEX_KIND = {
    "Road": SurfaceKind.ROAD,
    "Track": SurfaceKind.SIDEWALK,
    "Square": SurfaceKind.SIDEWALK,
}

_MISSING = -9999.0
