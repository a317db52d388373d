"""Redis clients, one per process (sync) and one per event loop (async), and the channel
layer's connection options.

None when REDIS_URL is unset: callers fall back to their embedded-mode store.

Every client retries a command that fails on a lost or refused connection, with
exponential backoff for a few seconds, on a fresh connection: a Redis restart costs the
callers a short wait, not an error (redis-py retries nothing by default for a client
built on a pool of its own). Pooled connections idle for a while are checked before use
(`health_check_interval`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# 0.1, 0.2, 0.4, 0.8 and 1 s between attempts: a command waits out a Redis restart of
# about 2.5 s, and fails after that (a real outage). Not more: redis-py nests retries in
# places (the health check of a reconnect retries inside the connect's own retry).
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0
RETRIES = 5
HEALTH_CHECK_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 2.0
# Long enough for the slowest script (a leaderboard rebuild of a big contest), short
# enough that a half-open connection (a cut network) is noticed and retried.
SOCKET_TIMEOUT_SECONDS = 10.0
# The errors worth a retry on a new connection; any other error is the command's own.
RETRY_ON = [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]

_sync_client: redis.Redis | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def redis_key(*parts: object) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS)


def connection_options(*, asynchronous: bool) -> dict[str, Any]:
    """What every connection to Redis is made with (the channel layer's too)."""
    retry = AsyncRetry(_backoff(), RETRIES) if asynchronous else Retry(_backoff(), RETRIES)
    return {
        "retry": retry,
        "retry_on_error": list(RETRY_ON),
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
    }


def channel_layer_hosts(url: str) -> list[dict[str, Any]]:
    """channels-redis' `hosts` for REDIS_URL, with the retrying connection options. No
    socket timeout: the layer's reader waits on its subscription."""
    return [{"address": url, **connection_options(asynchronous=True)}]


def get_redis() -> redis.Redis | None:
    global _sync_client
    if not settings.REDIS_URL:
        return None
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            **connection_options(asynchronous=False),
        )
    return _sync_client


def get_async_redis() -> aioredis.Redis | None:
    if not settings.REDIS_URL:
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # A server process serves thousands of sockets from this one client: under a burst
        # of handshakes, wait for a free connection instead of raising at the pool's limit.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            decode_responses=True,
            max_connections=50,
            timeout=10,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            **connection_options(asynchronous=True),
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client


def is_transient(exc: BaseException) -> bool:
    """A failure to reach Redis, as opposed to a fault of the command (redis-py raises
    its own ConnectionError and TimeoutError for the network's errors; Celery's kombu
    wraps them in its OperationalError when the broker is out of reach)."""
    return isinstance(exc, (*RETRY_ON, KombuOperationalError))


def caused_by_outage(exc: BaseException) -> bool:
    """Whether `exc`, or what it was raised from (Celery beat wraps the broker's error in
    its own), is a failure to reach Redis."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if is_transient(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


_CRITICAL_OUTAGE_LOGGERS = frozenset({"celery.worker.request"})


class TransientRedisErrors(logging.Filter):
    """Logs a lost Redis connection as one warning line instead of a traceback: it is an
    outage the callers ride out (retries, catch-up from the event log), not a bug.

    For loggers of libraries that log such errors with logger.exception (channels-redis'
    receive loop)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            # A critical record is a process giving up (a Celery worker or beat exiting,
            # whatever the error), except Celery's "Couldn't ack", which it logs at critical
            # for each task it cannot acknowledge during an outage.
            if record.levelno < logging.CRITICAL or record.name in _CRITICAL_OUTAGE_LOGGERS:
                outage = caused_by_outage(exc)
            else:
                outage = False
            if outage:
                # The first line only: Celery beat appends the formatted stack to it.
                first = record.getMessage().splitlines()[0]
                record.msg = f"{first} ({type(exc).__name__}: {exc})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
