"""The contest clock inside the ASGI server: the embedded default (no REDIS_URL).

Without Redis there is no Celery broker, and the channel layer lives in the server's
memory, bound to its event loop. So the server drives the clock itself: an asyncio task
on the server's loop calls the same `contest_tick` (and `leaderboard_flush`) as the Celery
tasks, each in a worker thread through sync_to_async. From that thread, broadcast.py's
async_to_sync hands every send back to this loop, where the in-memory layer lives.

Started as soon as daphne serves (a Twisted `callLater` on its reactor, whose asyncio
loop is the server's), and, under any other ASGI server, by its first connection.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def _run_step(step: Callable[[], None]) -> None:
    # A worker thread outside any request: open and release database connections the
    # way Django does around a request.
    close_old_connections()
    try:
        step()
    except Exception:
        logger.exception("The embedded contest clock failed in %s", step.__qualname__)
    finally:
        close_old_connections()


def _tick() -> None:
    from contests.services import contest_tick

    contest_tick()


def _flush() -> None:
    from leaderboard.services import leaderboard_flush

    leaderboard_flush()


async def clock_run() -> None:
    """Tick every TIMER_INTERVAL_SECONDS and flush the leaderboard every
    LEADERBOARD_INTERVAL_SECONDS, forever. A step that fails is logged and the loop goes
    on; the state it works from is in the database, so the next tick picks it up."""
    loop = asyncio.get_running_loop()
    next_flush = loop.time() + settings.LEADERBOARD_INTERVAL_SECONDS
    while True:
        started = loop.time()
        await sync_to_async(_run_step, thread_sensitive=False)(_tick)
        if started >= next_flush:
            await sync_to_async(_run_step, thread_sensitive=False)(_flush)
            next_flush = started + settings.LEADERBOARD_INTERVAL_SECONDS
        elapsed = loop.time() - started
        await asyncio.sleep(max(0.0, settings.TIMER_INTERVAL_SECONDS - elapsed))


_task: asyncio.Task[None] | None = None


def clock_ensure_started() -> None:
    """Start the clock on the running loop, once per process."""
    global _task
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(clock_run(), name="contest-clock")
        logger.info("Embedded contest clock started (no REDIS_URL)")


def clock_install(application: ASGIApp) -> ASGIApp:
    """Run the contest clock in this server process when there is no REDIS_URL.

    With REDIS_URL, Celery beat and workers drive the clock: the application is returned
    as it is.
    """
    if settings.REDIS_URL:
        return application
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None:
        # daphne installed its asyncio reactor before importing the application; the
        # call runs on the server's loop once it serves.
        reactor.callLater(0, clock_ensure_started)

    async def application_with_clock(scope: dict[str, Any], receive: Any, send: Any) -> None:
        clock_ensure_started()
        await application(scope, receive, send)

    return application_with_clock
