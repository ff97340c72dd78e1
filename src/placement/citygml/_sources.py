"""Input expansion: files, folders (searched recursively) and PLATEAU zips, read in place."""

from __future__ import annotations

import logging
import re
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from placement.errors import CityGMLError
from placement.meshcode import split_tile_name

log = logging.getLogger("placement.citygml")

#: A PLATEAU dataset folder or zip: "<municipality code>_<name>_..._citygml_..."
#: (e.g. ``22130_hamamatsu-shi_city_2023_citygml_1_op.zip``). Tile names start with 4, 6
#: or 8+ digits, never 5.
_DATASET_NAME = re.compile(r"^(\d{5})_[a-z]", re.IGNORECASE)

#: PLATEAU dataset kinds (the word after the mesh code in a file name) that hold nothing
#: this tool reads: land use, urban planning, flood / tsunami / storm-surge / inland-flood
#: / reservoir-flood areas, landslide zones, water bodies, areas, generic objects,
#: underground buildings and facilities, tunnels, railways, waterways. A folder or zip
#: (a whole dataset, say) skips them by name: the flood layers alone can be gigabytes.
#: A file named on its own is always read.
NOT_READ_KINDS = frozenset(
    {
        "luse", "urf", "fld", "tnm", "htd", "ifld", "rfld", "lsld", "wtr", "area",
        "gen", "ubld", "unf", "tun", "rwy", "wwy",
    }
)  # fmt: skip


#: Zip general-purpose flag bit of an encrypted member.
_ENCRYPTED = 0x1


@dataclass(frozen=True)
class Source:
    """One CityGML document: a file on disk or a member of a zip.

    Attributes
    ----------
    path : the file, or the zip holding the member.
    member : the member name inside the zip, None for a plain file.
    size : uncompressed size in bytes.
    """

    path: Path
    member: str | None
    size: int

    @property
    def label(self) -> str:
        """How messages and ``City.sources`` name this document (``a.zip!udx/bldg/x.gml``)."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @property
    def city_code(self) -> str:
        """The municipality code in the name of the PLATEAU dataset (folder or zip) the
        document is in, "" when there is none."""
        parts = [*self.path.parts, *(Path(self.member).parts if self.member else ())]
        for part in reversed(parts):
            m = _DATASET_NAME.match(part)
            if m:
                return m.group(1)
        return ""

    @property
    def name(self) -> str:
        return Path(self.member).name if self.member else self.path.name

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """A binary stream over the document (a zip member is decompressed on the fly)."""
        if self.member is None:
            with self.path.open("rb") as f:
                yield f
        else:
            with zipfile.ZipFile(self.path) as z:
                info = z.getinfo(self.member)
                if info.flag_bits & _ENCRYPTED:
                    # zipfile would raise RuntimeError ("password required").
                    raise CityGMLError(self.label, "encrypted, cannot read")
                with z.open(info) as f:
                    yield f


def _zip_sources(path: Path) -> list[Source]:
    try:
        with zipfile.ZipFile(path) as z:
            infos = [
                i
                for i in z.infolist()
                if not i.is_dir()
                and i.filename.lower().endswith(".gml")
                and not Path(i.filename).name.startswith(".")
                and "__MACOSX" not in i.filename
            ]
    except zipfile.BadZipFile as exc:
        raise CityGMLError(path, f"not a readable zip file ({exc})") from None
    return [Source(path, i.filename, i.file_size) for i in sorted(infos, key=lambda i: i.filename)]


def input_paths(paths: object) -> list[str | Path]:
    """``paths`` (one path, or a list of them) as a list, refused in one line when it is
    neither (None, a list inside the list, a number)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    try:
        items: list[object] = list(paths)  # type: ignore[call-overload]
    except TypeError:
        raise CityGMLError(
            None, f"inputs must be a path or a list of paths, got {type(paths).__name__}"
        ) from None
    bad = next((p for p in items if not isinstance(p, str | Path)), None)
    if bad is not None:
        nested = " (a list inside the list?)" if isinstance(bad, list | tuple) else ""
        raise CityGMLError(
            None,
            f"inputs must be paths (str or Path), got {type(bad).__name__} {bad!r:.60}{nested}",
        )
    if any(isinstance(p, str) and not p.strip() for p in items):
        raise CityGMLError(None, "an input path is empty")
    return cast(list[str | Path], items)


def expand_inputs(paths: str | Path | Sequence[str | Path]) -> list[Source]:
    """Every CityGML document named by ``paths``, in a stable order, each once. Folders
    and zips leave out the PLATEAU files of :data:`NOT_READ_KINDS` (by file name).

    Raises
    ------
    CityGMLError : a path does not exist, or a folder / zip holds no ``.gml`` file, or
        only files of kinds this tool does not read.
    """
    items = input_paths(paths)
    if not items:
        raise CityGMLError(None, "no input given")
    out: list[Source] = []
    seen: set[tuple[Path, str | None]] = set()
    not_read: Counter[str] = Counter()
    for item in items:
        p = Path(item)
        if not p.exists():
            raise CityGMLError(p, "no such file or folder")
        if p.is_dir():
            found: list[Source] = []
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() == ".gml":
                    found.append(Source(f, None, f.stat().st_size))
                elif f.is_file() and f.suffix.lower() == ".zip":
                    found.extend(_zip_sources(f))
            if not found:
                packed = sum(1 for f in p.rglob("*.gml.gz") if f.is_file())
                hint = f" ({packed} .gml.gz: gunzip them first)" if packed else ""
                raise CityGMLError(p, f"folder holds no .gml file{hint}")
            found = _drop_not_read(p, found, not_read)
        elif p.suffix.lower() == ".zip":
            found = _zip_sources(p)
            if not found:
                raise CityGMLError(p, "zip holds no .gml file")
            found = _drop_not_read(p, found, not_read)
        else:
            found = [Source(p, None, p.stat().st_size)]
        for s in found:
            key = (s.path.resolve(), s.member)
            if key not in seen:
                seen.add(key)
                out.append(s)
    if not_read:
        log.info(
            "not reading %d files of kinds that hold nothing this tool uses (%s)",
            sum(not_read.values()),
            ", ".join(f"{k}: {n}" for k, n in sorted(not_read.items())),
        )
    return out


def _kind(source: Source) -> str | None:
    split = split_tile_name(source.name)
    return split[1] if split is not None else None


def _drop_not_read(where: Path, found: list[Source], tally: Counter[str]) -> list[Source]:
    """``found`` without the documents of the :data:`NOT_READ_KINDS` (counted in
    ``tally``); an error when nothing is left."""
    kept = [s for s in found if _kind(s) not in NOT_READ_KINDS]
    dropped = Counter(k for s in found if (k := _kind(s)) in NOT_READ_KINDS)
    if not kept:
        kinds = ", ".join(sorted(dropped))
        raise CityGMLError(where, f"holds only PLATEAU data this tool does not read ({kinds})")
    tally.update(dropped)
    return kept
