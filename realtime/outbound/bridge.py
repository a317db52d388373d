"""Running the async way out from sync code (Celery tasks, admin actions, on_commit hooks).

With Redis, sync callers run the async API on one long-lived loop thread per process, so
the channel layer and Redis clients are reused instead of being rebuilt per call. Without
Redis the in-memory channel layer is bound to the server's own loop, which async_to_sync
reaches from its worker threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import async_to_sync
from django.conf import settings

T = TypeVar("T")


class _Bridge:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coro_factory: Callable[[], Awaitable[T]]) -> T:
        loop = self._ensure_loop()

        async def call() -> T:
            return await coro_factory()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=30)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or not self._loop.is_running():
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                threading.Thread(target=serve, name="broadcast-bridge", daemon=True).start()
                started.wait()
                self._loop = loop
            return self._loop


_bridge = _Bridge()


def run_sync(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine that `coro_factory` makes and return its result, from sync code."""
    if settings.REDIS_URL:
        return _bridge.run(coro_factory)

    async def call() -> T:
        return await coro_factory()

    return async_to_sync(call)()
