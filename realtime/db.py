"""Database work from the event loop.

database_sync_to_async's default (thread_sensitive=True) runs the sync work of a whole
process on one thread, so 200 sockets answering at once would be stored one after
another. Each socket's services are independent transactions, so they run on a pool of
threads instead. Each thread borrows a connection per call and gives it back at the end
of the call, as channels' database_sync_to_async does (whose cleanup channels' test
communicator turns off, which would leave these threads' connections open in tests).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

P = ParamSpec("P")
T = TypeVar("T")

# More threads than this only fight over the GIL: the work is mostly Python (the ORM),
# and bench/ws_submissions.py served fewer answers per second with 20 than with 8.
MAX_THREADS = 8

_executor: ThreadPoolExecutor | None = None


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=min(MAX_THREADS, settings.DB_POOL_MAX_SIZE),
            thread_name_prefix="realtime-db",
        )
    return _executor


def run_in_db_thread(func: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(call, thread_sensitive=False, executor=_get_executor())
