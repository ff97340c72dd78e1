"""Background work one optimiser call started, stopped when the call raises.

``max_coverage`` and ``min_cover`` start an LP child process and bound threads beside their
search. A normal return joins them (nothing outlives the call), but an exception, or a
Ctrl-C in a notebook, would leave them running to their deadlines on both cores. Both
functions are :func:`managed`: each piece of background work registers with
``current_jobs().add(...)``, and :meth:`Jobs.abandon` stops them all if the call raises.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, Protocol, TypeVar, overload

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


_CURRENT: ContextVar[Jobs | None] = ContextVar("placement_optimise_jobs", default=None)
P = ParamSpec("P")
T = TypeVar("T")


def current_jobs() -> Jobs:
    """The background work register of the :func:`managed` call running (a fresh one that
    nothing stops outside such a call)."""
    jobs = _CURRENT.get()
    return jobs if jobs is not None else Jobs()


def managed(solve: Callable[P, T]) -> Callable[P, T]:
    """Run ``solve`` with a register of its background work, abandoned if it raises."""

    @functools.wraps(solve)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        jobs = Jobs()
        token = _CURRENT.set(jobs)
        try:
            return solve(*args, **kwargs)
        except BaseException:
            jobs.abandon()  # an error or Ctrl-C: stop the LP child and the bound threads
            raise
        finally:
            _CURRENT.reset(token)

    return call
