"""Graceful shutdown of a web process (docs/RELIABILITY.md): every socket gets a close
frame, 1012 "service restart", once the message it is handling is answered, so clients
reconnect to another process at once and resync; the process exits within
SHUTDOWN_TIMEOUT_SECONDS.

The server decides when to drain (realtime.uvicorn_compat and realtime.daphne_compat hook
their server's SIGTERM); this module knows the open sockets and closes them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
RESTART_REASON = "service restart"


class Closable(Protocol):
    def close_when_idle(self, code: int, reason: str) -> None: ...


_open: weakref.WeakSet[Closable] = weakref.WeakSet()
_draining = False
_all_closed: asyncio.Event | None = None


def draining() -> bool:
    return _draining


def opened(socket: Closable) -> None:
    _open.add(socket)


def closed(socket: Closable) -> None:
    _open.discard(socket)
    if _draining and not _open and _all_closed is not None:
        _all_closed.set()


async def drain(*, timeout: float) -> int:
    """Close every open socket (each after its message in hand is answered) and wait for
    them to be gone, at most `timeout` seconds; returns how many were still open."""
    global _draining, _all_closed
    _draining = True
    _all_closed = asyncio.Event()
    sockets = list(_open)
    logger.info("Shutting down: closing %d sockets with %d", len(sockets), CLOSE_SERVICE_RESTART)
    for socket in sockets:
        socket.close_when_idle(CLOSE_SERVICE_RESTART, RESTART_REASON)
    if _open:
        try:
            await asyncio.wait_for(_all_closed.wait(), timeout)
        except TimeoutError:
            logger.warning("Shutting down with %d sockets still open", len(_open))
    return len(_open)
