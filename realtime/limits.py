"""Per-socket rate limit, per-user connection slots, and the close code of a client that
does not read (its send buffer limit, WS_MAX_SEND_BUFFER_BYTES, is applied by the web
server's adapter: realtime.uvicorn_compat, realtime.daphne_compat).

Connection slots are counted across server processes in Redis: one sorted set per user
whose members are connection ids scored by an expiry instant. Each process refreshes the
expiry of its own sockets every SLOT_REFRESH_SECONDS, so the slots of a process that
crashed expire within SLOT_TTL_SECONDS instead of leaking. Without Redis (one process)
the count lives in this process's memory.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from core.redis import get_async_redis, redis_key
from core.types import UserId

logger = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 1013
TOO_SLOW = "too slow"

SLOT_TTL_SECONDS = 30
SLOT_REFRESH_SECONDS = 10
REFRESH_CHUNK_USERS = 500


@dataclass
class TokenBucket:
    """`burst` messages at once, refilled at `rate` per second."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def retry_after_ms(self) -> int:
        return max(1, int((1 - self.tokens) / self.rate * 1000) + 1)


class Admission(enum.Enum):
    ADMITTED = "admitted"
    TOO_BIG = "too big"  # close 1009
    RATE_LIMITED = "rate limited"  # refused with RATE_LIMITED
    FLOODING = "flooding"  # close 1008


# The admissions that close the socket: code and reason (docs/PROTOCOL.md, "Close codes").
CLOSES = {
    Admission.TOO_BIG: (1009, "message too big"),
    Admission.FLOODING: (1008, "rate limit exceeded"),
}


@dataclass
class MessageGate:
    """What every incoming message of a socket passes first: the size limit, the token
    bucket, and the count of refusals in a row (docs/PROTOCOL.md, "Limits")."""

    bucket: TokenBucket
    rejected_in_a_row: int = 0

    @classmethod
    def from_settings(cls) -> MessageGate:
        bucket = TokenBucket(
            rate=settings.WS_RATE_LIMIT_PER_SECOND, burst=settings.WS_RATE_LIMIT_BURST
        )
        return cls(bucket)

    def admit(self, message: dict[str, Any]) -> Admission:
        text: str | None = message.get("text")
        if text is None:
            size = len(message.get("bytes") or b"")
        else:
            # Counted in UTF-8 bytes, as the client sent them.
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > settings.WS_MAX_MESSAGE_BYTES:
            return Admission.TOO_BIG
        if not self.bucket.take():
            self.rejected_in_a_row += 1
            if self.rejected_in_a_row >= settings.WS_RATE_LIMIT_CLOSE_AFTER:
                return Admission.FLOODING
            return Admission.RATE_LIMITED
        self.rejected_in_a_row = 0
        return Admission.ADMITTED


# KEYS: the user's slot set. ARGV: max, ttl ms, connection id.
# Uses Redis' clock so that every process judges expiry by the same time.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS: slot sets. ARGV: ttl ms, then per key the number of its members, then members.
# XX: a refresh that read its members before a release's ZREM must not bring the released
# slot back. A slot gone from Redis (expired, or Redis lost it) then stays gone: the count
# may undercount for a while, never lock a user out.
_REFRESH_LUA = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local i = 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[i])
  for j = 1, n do redis.call('ZADD', KEYS[k], 'XX', expiry, ARGV[i + j]) end
  redis.call('PEXPIRE', KEYS[k], tonumber(ARGV[1]))
  i = i + n + 1
end
return 1
"""


def _slot_key(user_id: UserId) -> str:
    return redis_key("ws", "slots", user_id)


class ConnectionSlots:
    """The open sockets of each user; one instance per event loop (`connection_slots()`)."""

    def __init__(self) -> None:
        self.local: dict[str, set[str]] = defaultdict(set)
        self._refresher: asyncio.Task[None] | None = None

    async def acquire(self, user_id: UserId) -> str | None:
        """A new connection id, or None if the user has no free slot."""
        user = str(user_id)
        connection_id = uuid.uuid4().hex
        client = get_async_redis()
        if client is None:
            if len(self.local[user]) >= settings.WS_MAX_CONNECTIONS_PER_USER:
                return None
        else:
            granted = await client.eval(
                _ACQUIRE_LUA,
                1,
                _slot_key(user),
                settings.WS_MAX_CONNECTIONS_PER_USER,
                SLOT_TTL_SECONDS * 1000,
                connection_id,
            )
            if not granted:
                return None
            self._ensure_refresher()
        self.local[user].add(connection_id)
        return connection_id

    async def release(self, user_id: UserId, connection_id: str) -> None:
        user = str(user_id)
        self.local[user].discard(connection_id)
        if not self.local[user]:
            del self.local[user]
        client = get_async_redis()
        if client is not None:
            await client.zrem(_slot_key(user), connection_id)

    def _ensure_refresher(self) -> None:
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while self.local:
            await asyncio.sleep(SLOT_REFRESH_SECONDS)
            try:
                await self.refresh()
            except Exception:
                # A Redis outage must not end the refresher: the next round retries.
                logger.exception("Could not refresh WebSocket connection slots")

    async def refresh(self) -> None:
        """Push the expiry of every local socket's slot forward."""
        client = get_async_redis()
        if client is None:
            return
        users = list(self.local.items())
        # Chunks keep each script short: Redis runs nothing else while a script runs.
        for start in range(0, len(users), REFRESH_CHUNK_USERS):
            chunk = users[start : start + REFRESH_CHUNK_USERS]
            argv: list[str | int] = [SLOT_TTL_SECONDS * 1000]
            for _, connection_ids in chunk:
                argv.append(len(connection_ids))
                argv.extend(connection_ids)
            await client.eval(_REFRESH_LUA, len(chunk), *[_slot_key(u) for u, _ in chunk], *argv)


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ConnectionSlots] = (
    weakref.WeakKeyDictionary()
)


def connection_slots() -> ConnectionSlots:
    """This process's connection slots (one per event loop: the server runs one)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = ConnectionSlots()
    return slots
