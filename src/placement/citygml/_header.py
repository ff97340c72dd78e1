"""The first look at a CityGML document: is it XML, is it CityGML 2.0, which CRS and how
many coordinates per point (``srsName`` / ``srsDimension`` on the envelope or on the
first geometry), and the one-line messages for what cannot be read."""

from __future__ import annotations

import re
import zipfile
import zlib
from typing import Any

from lxml import etree

from placement.citygml._rings import dimension
from placement.citygml._sources import Source
from placement.citygml._tags import CORE, OTHER_CORES
from placement.crs import parse_srs_name
from placement.errors import CityGMLError, CRSError

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_header(source: Source) -> int | None:
    """Check the root element and find the CRS in the first elements of a document.

    Returns
    -------
    The EPSG code of the first ``srsName`` before the first feature, or None.

    Raises
    ------
    CityGMLError : empty, not XML, not a CityGML 2.0 CityModel, a DTD (entity
        declarations are refused: CityGML never needs them and they are the vehicle of
        entity-expansion and external-entity attacks), or an unsupported srsName.
    """
    if source.size == 0:
        raise CityGMLError(source.label, "empty file")
    try:
        return _read_header(source)
    except READ_ERRORS as exc:
        raise unreadable(source, exc) from None


#: What reading a file or a zip member raises besides XML errors: I/O errors, a corrupt
#: or truncated zip member.
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


def unreadable(source: Source, exc: BaseException) -> CityGMLError:
    """The error for a document that reading failed on (one of :data:`READ_ERRORS`)."""
    return CityGMLError(source.label, f"cannot be read ({one_line(exc)})")


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


#: Packed files given as a .gml: what they are and what to do.
_PACKED = (
    (b"\x1f\x8b", "gzip-compressed, not XML: gunzip it first"),
    (b"PK\x03\x04", "a zip archive, not XML: give it with a .zip name"),
)


def _read_header(source: Source) -> int | None:
    with source.open() as f:
        head = f.read(4096)
        for magic, what in _PACKED:
            if head.startswith(magic):
                raise CityGMLError(source.label, what)
        if _DTD.search(head):
            raise CityGMLError(
                source.label, "has a DOCTYPE/ENTITY declaration, which CityGML never needs: refused"
            )
    root_seen = False
    with source.open() as f:
        try:
            events = etree.iterparse(
                f,
                events=("start",),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=True,
            )
            for n, (_, el) in enumerate(events):
                tag = el.tag if isinstance(el.tag, str) else ""
                if not root_seen:
                    root_seen = True
                    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
                    if ns in OTHER_CORES:
                        raise CityGMLError(
                            source.label,
                            f"{OTHER_CORES[ns]} is not supported "
                            "(only CityGML 2.0, as PLATEAU uses)",
                        )
                    if local != "CityModel" or ns != CORE:
                        raise CityGMLError(
                            source.label,
                            f"not CityGML 2.0: root element is {local or tag!r}"
                            + (f" in namespace {ns}" if ns else " without a namespace")
                            + ", expected core:CityModel",
                        )
                    continue
                srs = el.get("srsName")
                if srs:
                    try:
                        return parse_srs_name(srs)
                    except CRSError as exc:
                        raise CityGMLError(source.label, str(exc)) from None
                if tag.endswith("cityObjectMember") or n > 200:
                    return None
        except etree.XMLSyntaxError as exc:
            # Binary data, JSON, text ...: no element, and no "<" to start with.
            xml_like = root_seen or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
            problem = xml_problem(exc) if xml_like else f"not XML ({one_line(exc)})"
            raise CityGMLError(source.label, problem) from None
    if not root_seen:
        raise CityGMLError(source.label, "no XML element found")
    return None


def xml_problem(exc: etree.XMLSyntaxError) -> str:
    msg = one_line(exc)
    if "Document is empty" in msg or "Start tag expected" in msg:
        return f"not XML ({msg})"
    return f"malformed or truncated XML ({msg})"


def local_name(tag: Any) -> str:
    """The tag without its namespace ("" for a comment or processing instruction)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def envelope_dim(el: Any) -> int:
    """Coordinates per point an envelope declares, or has in its lower corner."""
    attr = el.get("srsDimension")
    if attr is not None:
        return dimension(attr)
    for corner in el:
        if local_name(corner.tag) in ("lowerCorner", "pos"):
            n = len((corner.text or "").split())
            return n if n in (2, 3) else 3
    return 3


def srs_of_feature(el: Any, source: Source, *, need_crs: bool) -> tuple[int, int | None]:
    """The CRS of the first geometry of a feature with a ``srsName`` (-1 when it is not
    needed and unusable), and the ``srsDimension`` it declares (None: not given)."""
    for g in el.iter():
        srs = g.get("srsName") if isinstance(g.tag, str) else None
        if srs:
            dim = g.get("srsDimension")
            try:
                code = parse_srs_name(srs)
            except CRSError as exc:
                if need_crs:
                    raise CityGMLError(source.label, str(exc)) from None
                code = -1
            return code, None if dim is None else dimension(dim)
    if need_crs:
        raise CityGMLError(
            source.label, "no CRS: no srsName on the envelope or the first feature's geometry"
        )
    return -1, None
