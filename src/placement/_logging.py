"""Where the library's warnings go when nobody said.

A notebook configures no logging, so warnings (sites left out, a clock-cut search,
skipped features) would go nowhere: :class:`Fallback`, on the ``placement`` logger, prints
them to stderr as the command line does, but only while no other handler would take
them (the command line's, ``logging.basicConfig``, pytest's). Handlers of the library's
own that only collect (a run's notes for summary.json) set :data:`COLLECTS_ONLY`.
"""

from __future__ import annotations

import logging
import sys

#: Attribute of a handler that collects records and shows nobody (it does not count as
#: somebody who prints them).
COLLECTS_ONLY = "placement_collects_only"


class Fallback(logging.Handler):
    """Prints WARNING and above to stderr ("placement: WARNING: ...") when there is no
    other handler up the logger chain (nobody configured logging)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("placement: %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if _someone_else_handles(record):
            return
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a closed stderr: as logging itself does
            self.handleError(record)


def _someone_else_handles(record: logging.LogRecord) -> bool:
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        for h in logger.handlers:
            if isinstance(h, Fallback | logging.NullHandler) or getattr(h, COLLECTS_ONLY, False):
                continue
            # Somebody configured logging: their levels decide (the command line's -q keeps
            # a handler for errors only, and means it).
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def install() -> None:
    """Put one :class:`Fallback` on the ``placement`` logger (idempotent)."""
    log = logging.getLogger("placement")
    if not any(isinstance(h, Fallback) for h in log.handlers):
        log.addHandler(Fallback())
