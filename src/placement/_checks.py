"""One-line checks of the library's numeric arguments: the stages refuse what the command
line refuses, as :class:`~placement.errors.OptionError` naming the function and the
argument, not as numpy's or shapely's errors from deep inside."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any

from placement.errors import InputFileError, OptionError


def number(
    who: str,
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    above: float | None = None,
    whole: bool = False,
) -> float:
    """``value`` as a float, refused unless it is a finite real number (numpy scalars
    included, bools not) that is ``>= minimum``, ``> above`` and, with ``whole``, an
    integer."""
    kind = "a whole number" if whole else "a finite number"
    if minimum is not None:
        kind += f" >= {minimum:g}"
    if above is not None:
        kind += f" > {above:g}"
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
        and (minimum is None or float(value) >= minimum)
        and (above is None or float(value) > above)
        and (not whole or float(value).is_integer())
    )
    if not ok:
        raise OptionError(f"{who}: {name} must be {kind}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def read_json(p: Path, what: str) -> Any:
    """The JSON document in ``p`` (a UTF-8 byte-order mark is allowed); one-line
    :class:`InputFileError` naming the file when it cannot be read or is not ``what``."""
    try:
        return json.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as e:
        raise InputFileError(f"{p}: cannot read: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"{p}: not valid {what} ({e})") from e
