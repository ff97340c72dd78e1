"""Background work one optimiser call started, stopped when the call raises.

``max_coverage`` and ``min_cover`` start an LP child process and bound threads beside their
search. A normal return joins them (nothing outlives the call), but an exception, or a
Ctrl-C in a notebook, would leave them running to their deadlines on both cores; each
registers here and :meth:`Jobs.abandon` stops them.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol, TypeVar, overload

log = logging.getLogger(__name__)


class Abandonable(Protocol):
    def abandon(self) -> None:
        """Stop as soon as possible; the result is no longer wanted."""


J = TypeVar("J", bound=Abandonable)


class Jobs:
    """The background work of one call."""

    def __init__(self) -> None:
        self._items: list[Abandonable] = []

    @overload
    def add(self, item: None) -> None: ...
    @overload
    def add(self, item: J) -> J: ...
    def add(self, item: J | None) -> J | None:
        """Register ``item`` (None: nothing started) and return it."""
        if item is not None:
            self._items.append(item)
        return item

    def abandon(self) -> None:
        for item in self._items:
            with contextlib.suppress(Exception):  # stopping must not mask the call's error
                item.abandon()
