"""The periodic tasks inside the ASGI server: the embedded default (no REDIS_URL).

Without Redis there is no Celery broker, and the channel layer lives in the server's
memory, bound to its event loop. So the server runs the schedule table itself
(settings.PERIODIC_TASKS, the same table Celery beat runs with REDIS_URL): an asyncio
task on the server's loop calls each due task's function in a worker thread, one after
another, in the table's order. From that thread, the way out's bridge hands every send
back to this loop, where the in-memory layer lives.

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
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Callable[..., Any], Callable[..., Any]], Awaitable[None]]


def _run_task(name: str, dotted_path: str) -> None:
    # A worker thread outside any request: open and release database connections the
    # way Django does around a request.
    close_old_connections()
    try:
        # A Celery task called directly runs its body here, synchronously.
        import_string(dotted_path)()
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


def periodic_ensure_started() -> None:
    """Start the periodic tasks on the running loop, once per process."""
    global _task
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(periodic_run(), name="periodic-tasks")
        logger.info("Embedded periodic tasks started (no REDIS_URL)")


def periodic_install(application: ASGIApp) -> ASGIApp:
    """Run the periodic tasks in this server process when there is no REDIS_URL.

    With REDIS_URL, Celery beat and workers run them: the application is returned as is.
    """
    if settings.REDIS_URL:
        return application
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is not None:
        # daphne installed its asyncio reactor before importing the application; the
        # call runs on the server's loop once it serves.
        reactor.callLater(0, periodic_ensure_started)

    async def application_with_periodic_tasks(
        scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        periodic_ensure_started()
        await application(scope, receive, send)

    return application_with_periodic_tasks
