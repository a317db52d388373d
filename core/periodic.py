"""The periodic tasks inside the ASGI server: the embedded default (no REDIS_URL).

Without Redis there is no Celery broker, and the channel layer lives in the server's
memory, bound to its event loop. So the server runs the schedule table itself
(settings.PERIODIC_TASKS, the same table Celery beat runs with REDIS_URL): an asyncio
task on the server's loop calls each due task's function in a worker thread, one after
another, in the table's order. From that thread, the way out's bridge hands every send
back to this loop, where the in-memory layer lives.

Started as the server starts: by the ASGI lifespan protocol (uvicorn, as `make run` runs
it), under daphne by a Twisted `callLater` on its reactor (whose asyncio loop is the
server's), and under any other ASGI server by its first connection.

`run_task_at` runs one task once at a given instant (the contest clock's transitions, on
time): with REDIS_URL a Celery message with an ETA, in the embedded mode a timer on the
same loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from celery import current_app
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]]


# A task queued for an instant that has not run this long after it is stale: whatever it
# was to do, the periodic tick has done by then.
RUN_AT_EXPIRES_SECONDS = 30


def _run_task(name: str, dotted_path: str, kwargs: dict[str, Any] | None = None) -> None:
    # A worker thread outside any request: open and release database connections the
    # way Django does around a request.
    close_old_connections()
    try:
        # A Celery task called directly runs its body here, synchronously.
        import_string(dotted_path)(**(kwargs or {}))
    except Exception:
        logger.exception("The embedded periodic task %s failed", name)
    finally:
        close_old_connections()


async def periodic_run() -> None:
    """Run every task of settings.PERIODIC_TASKS at its interval, forever. A task that
    fails is logged and the loop goes on; the state tasks work from is in the database,
    so the next run picks it up."""
    loop = asyncio.get_running_loop()
    tasks = settings.PERIODIC_TASKS
    # The first run of each task after one interval, as Celery beat does.
    due = {name: loop.time() + entry["every"] for name, entry in tasks.items()}
    due[next(iter(tasks))] = loop.time()
    while True:
        started = loop.time()
        for name, entry in tasks.items():
            if started >= due[name]:
                await sync_to_async(_run_task, thread_sensitive=False)(name, entry["task"])
                due[name] = started + entry["every"]
        await asyncio.sleep(max(0.0, min(due.values()) - loop.time()))


_task: asyncio.Task[None] | None = None
# The server's loop, where the embedded tasks run (set when they start).
_loop: asyncio.AbstractEventLoop | None = None
# Timed runs scheduled and not finished (the loop keeps only weak references to tasks).
_timed: set[asyncio.Task[None]] = set()


def periodic_ensure_started() -> None:
    """Start the periodic tasks on the running loop, once per process."""
    global _task, _loop
    if _task is None or _task.done():
        _loop = asyncio.get_running_loop()
        _task = _loop.create_task(periodic_run(), name="periodic-tasks")
        logger.info("Embedded periodic tasks started (no REDIS_URL)")


def _start_timed(task: str, kwargs: dict[str, Any]) -> None:
    run = sync_to_async(_run_task, thread_sensitive=False)(task, task, kwargs)
    timed = asyncio.get_running_loop().create_task(run, name=f"at {task}")
    _timed.add(timed)
    timed.add_done_callback(_timed.discard)


def run_task_at(task: str, when: datetime, **kwargs: str | int) -> None:
    """Run the task `task` (its Celery name, which is its dotted path) once, with these
    keyword arguments, at the instant `when` (aware), from any thread.

    With REDIS_URL: a Celery message with that ETA, expiring RUN_AT_EXPIRES_SECONDS
    after it (on the Redis broker an ETA must stay under the visibility timeout, 1 h by
    default: docs/CLOCK.md). Embedded: a timer on the server's loop; nothing when no
    server runs here (a management command: the server's own tick is the safety net).
    """
    if settings.REDIS_URL:
        current_app.send_task(
            task,
            kwargs=kwargs,
            eta=when,
            expires=when + timedelta(seconds=RUN_AT_EXPIRES_SECONDS),
        )
        return
    loop = _loop
    if loop is None or loop.is_closed():
        return
    delay = max(0.0, (when - timezone.now()).total_seconds())
    loop.call_soon_threadsafe(loop.call_later, delay, _start_timed, task, dict(kwargs))


async def _lifespan(receive: Any, send: Any, *, embedded: bool) -> None:
    """The ASGI lifespan protocol (uvicorn --lifespan on): the embedded periodic tasks
    start as the server starts, not with its first connection."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if embedded:
                periodic_ensure_started()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def periodic_install(application: ASGIApp) -> ASGIApp:
    """Run the periodic tasks in this server process when there is no REDIS_URL.

    With REDIS_URL, Celery beat and workers run them. Either way the application answers
    the lifespan protocol (a server that speaks it starts the tasks at startup).
    """
    embedded = not settings.REDIS_URL
    reactor = sys.modules.get("twisted.internet.reactor")
    if embedded and reactor is not None:
        # daphne installed its asyncio reactor before importing the application; the
        # call runs on the server's loop once it serves.
        reactor.callLater(0, periodic_ensure_started)

    async def application_with_periodic_tasks(
        scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, embedded=embedded)
            return
        if embedded:
            periodic_ensure_started()
        await application(scope, receive, send)

    return application_with_periodic_tasks
