"""Each contest's room-event log: the next `seq`, the current `epoch`, the last
EVENT_LOG_SIZE events (docs/PROTOCOL.md, "Staying in sync").

With REDIS_URL it lives in Redis, shared by every web process and worker (Lua scripts
make each step atomic); without it, in this process's memory (the embedded default has
one process). An epoch changes only when the log itself was lost.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass

from django.conf import settings
from redis.asyncio import Redis

from core.redis import redis_key
from realtime.outbound.envelope import Position

# Room events kept per contest for replay; also at least EVENT_LOG_SIZE from settings.
LOG_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    epoch: str
    text: str


def new_epoch() -> str:
    return secrets.token_hex(4)


# --- Redis ---------------------------------------------------------------------------------

# ARGV[5]: the event's outbox id, or 0. An outbox event is appended once: one already
# appended (by another relay of the same outbox, racing this one) returns seq 0.
_APPEND_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
end
local outbox = tonumber(ARGV[5])
if outbox > 0 then
  if outbox <= tonumber(redis.call('GET', KEYS[4]) or '0') then return {0, epoch, ''} end
  redis.call('SET', KEYS[4], outbox)
end
local seq = redis.call('INCR', KEYS[2])
local text = ARGV[2] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}'
redis.call('RPUSH', KEYS[3], text)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4])) end
return {seq, epoch, text}
"""

_POSITION_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch, 'EX', tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
end
return {tonumber(redis.call('GET', KEYS[2]) or '0'), epoch}
"""

# Returns false (None) unless the whole gap after last_seq is still in the log.
_SINCE_LUA = """
local epoch = redis.call('GET', KEYS[1])
if (not epoch) or epoch ~= ARGV[1] then return false end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local last = tonumber(ARGV[2])
if last > seq then return false end
if last == seq then return {} end
local first = seq - redis.call('LLEN', KEYS[3]) + 1
if last + 1 < first then return false end
return redis.call('LRANGE', KEYS[3], last + 1 - first, -1)
"""


def _keys(contest_id: str) -> list[str]:
    return [
        redis_key("log", contest_id, "epoch"),
        redis_key("log", contest_id, "seq"),
        redis_key("log", contest_id, "events"),
        # The outbox id of the last event appended (realtime.outbound.relay).
        redis_key("log", contest_id, "outbox"),
    ]


def lock_key(contest_id: str) -> str:
    """The lock under which a contest's events are appended and published."""
    return redis_key("log", contest_id, "lock")


async def redis_append(
    client: Redis, contest_id: str, open_text: str, *, outbox_id: int = 0
) -> LoggedEvent | None:
    """The event appended; None if it is an outbox event that was appended already."""
    seq, epoch, text = await client.eval(
        _APPEND_LUA,
        4,
        *_keys(contest_id),
        new_epoch(),
        open_text,
        settings.EVENT_LOG_SIZE,
        LOG_TTL_SECONDS,
        outbox_id,
    )
    return LoggedEvent(int(seq), epoch, text) if int(seq) else None


async def redis_position(client: Redis, contest_id: str) -> Position:
    seq, epoch = await client.eval(
        _POSITION_LUA, 4, *_keys(contest_id), new_epoch(), LOG_TTL_SECONDS
    )
    return int(seq), epoch


async def redis_since(
    client: Redis, contest_id: str, epoch: str, last_seq: int
) -> list[str] | None:
    result = await client.eval(_SINCE_LUA, 3, *_keys(contest_id)[:3], epoch, last_seq)
    return None if result is None else list(result)


# --- Process memory (embedded default) -----------------------------------------------------


class MemoryLog:
    def __init__(self) -> None:
        self.epoch = new_epoch()
        self.seq: dict[str, int] = {}
        self.events: dict[str, deque[str]] = {}
        self.outbox: dict[str, int] = {}
        self.lock = threading.Lock()

    def append(self, contest_id: str, open_text: str, *, outbox_id: int = 0) -> LoggedEvent | None:
        with self.lock:
            if outbox_id:
                if outbox_id <= self.outbox.get(contest_id, 0):
                    return None
                self.outbox[contest_id] = outbox_id
            seq = self.seq.get(contest_id, 0) + 1
            self.seq[contest_id] = seq
            text = f'{open_text},"seq":{seq},"epoch":"{self.epoch}"}}'
            log = self.events.setdefault(contest_id, deque(maxlen=settings.EVENT_LOG_SIZE))
            log.append(text)
            return LoggedEvent(seq, self.epoch, text)

    def position(self, contest_id: str) -> Position:
        with self.lock:
            return self.seq.get(contest_id, 0), self.epoch

    def since(self, contest_id: str, epoch: str, last_seq: int) -> list[str] | None:
        with self.lock:
            if epoch != self.epoch:
                return None
            seq = self.seq.get(contest_id, 0)
            if last_seq > seq:
                return None
            log = self.events.get(contest_id, deque())
            first = seq - len(log) + 1
            if last_seq + 1 < first:
                return None
            return list(log)[last_seq + 1 - first :]


memory_log = MemoryLog()
