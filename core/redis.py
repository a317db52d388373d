"""Redis clients, one per process (sync) and one per event loop (async).

None when REDIS_URL is unset: callers fall back to their embedded-mode store.
"""

from __future__ import annotations

import asyncio
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

_sync_client: redis.Redis | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def redis_key(*parts: object) -> str:
    return ":".join([settings.REDIS_KEY_PREFIX, *(str(p) for p in parts)])


def get_redis() -> redis.Redis | None:
    global _sync_client
    if not settings.REDIS_URL:
        return None
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, health_check_interval=30
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
            health_check_interval=30,
            max_connections=50,
            timeout=10,
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client
