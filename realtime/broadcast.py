"""The one way anything reaches a client: envelopes, room events, the event log.

Every push to clients goes through here. A room event (everything sent to a contest's
room except timer_update) is stamped with the contest's next `seq` and current `epoch`,
appended to the contest's bounded event log, and published to the contest's channel-layer
group, in that order and under a per-contest lock, so every process sees room events in
seq order. `timer_update` is ephemeral: no seq, no log.

Stores: with REDIS_URL the seq, epoch and log live in Redis (shared by every web process
and worker; a Lua script makes append atomic); without it they live in this process's
memory (the embedded default has one process).

The group message is received once per server process by realtime.hub, which writes it to
that process's sockets (and fills in each recipient's own rank for leaderboard events).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from contests.clock import iso
from contestsite.redis import get_async_redis, redis_key

logger = logging.getLogger(__name__)

ROOM_MESSAGE_TYPE = "room.event"
# A room event that could not be appended to the log (lock not obtained, Redis briefly
# unreachable) is tried this many times: unlike a lost publish, nothing could repair it.
SEND_ATTEMPTS = 3
LOCK_WAIT_SECONDS = 5.0
# The placeholder the hub replaces with each recipient's {"rank", "score"}.
YOU_PLACEHOLDER = '"you":null'
# Room events whose "you" the hub fills per recipient, also when they are replayed.
PERSONALIZED_EVENTS = frozenset({"leaderboard_update", "contest_end"})
# Room events kept per contest for replay; also at least EVENT_LOG_SIZE from settings.
LOG_TTL_SECONDS = 7 * 24 * 3600

T = TypeVar("T")


def group_name(contest_id: object) -> str:
    return f"contest.{contest_id}"


def envelope(
    event: str,
    data: dict[str, Any],
    *,
    request_id: str | None = None,
) -> str:
    """A direct reply or an ephemeral event, serialised."""
    body: dict[str, Any] = {"event": event, "data": data, "timestamp": iso(timezone.now())}
    if request_id is not None:
        body["requestId"] = request_id
    return json.dumps(body, separators=(",", ":"))


def _open_envelope(event: str, data: dict[str, Any]) -> str:
    """A room event's envelope without its closing brace: the log appends seq and epoch."""
    text = envelope(event, data)
    return text[:-1]


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    epoch: str
    text: str


_EVENT_PREFIX = '{"event":"'
_POSITION_TAIL = re.compile(r',"seq":(\d+),"epoch":"([^"]*)"}$')


def event_of(text: str) -> str:
    """The event name of an envelope built here (it always comes first)."""
    return text[len(_EVENT_PREFIX) : text.find('"', len(_EVENT_PREFIX))]


def log_position(text: str) -> tuple[int, str] | None:
    """(seq, epoch) of a logged room event's text; None for an ephemeral event."""
    start = text.rfind(',"seq":', max(0, len(text) - 100))
    if start < 0:
        return None
    match = _POSITION_TAIL.match(text, start)
    return (int(match[1]), match[2]) if match else None


def is_personalized(text: str) -> bool:
    """Whether each recipient gets its own `you` in this room event's text."""
    return event_of(text) in PERSONALIZED_EVENTS


def covers(floor: tuple[int, str] | None, position: tuple[int, str] | None) -> bool:
    """Whether a socket at `floor` (seq, epoch) already has the event at `position`."""
    return (
        floor is not None
        and position is not None
        and position[1] == floor[1]
        and position[0] <= floor[0]
    )


def you_json(you: dict[str, Any] | None) -> str:
    """The value that replaces YOU_PLACEHOLDER's null for one recipient."""
    if you is None:
        return "null"
    return f'{{"rank":{int(you["rank"])},"score":{int(you["score"])}}}'


# --- Event log: Redis ----------------------------------------------------------------

_APPEND_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local seq = redis.call('INCR', KEYS[2])
local text = ARGV[2] .. ',"seq":' .. seq .. ',"epoch":"' .. epoch .. '"}'
redis.call('RPUSH', KEYS[3], text)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4])) end
return {seq, epoch, text}
"""

_POSITION_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch, 'EX', tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2], KEYS[3])
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


def _log_keys(contest_id: object) -> list[str]:
    return [
        redis_key("log", contest_id, "epoch"),
        redis_key("log", contest_id, "seq"),
        redis_key("log", contest_id, "events"),
    ]


def new_epoch() -> str:
    return secrets.token_hex(4)


# --- Event log: process memory (embedded default) --------------------------------------


class _MemoryLog:
    def __init__(self) -> None:
        self.epoch = new_epoch()
        self.seq: dict[str, int] = {}
        self.events: dict[str, deque[str]] = {}
        self.lock = threading.Lock()

    def append(self, contest_id: str, open_text: str) -> LoggedEvent:
        with self.lock:
            seq = self.seq.get(contest_id, 0) + 1
            self.seq[contest_id] = seq
            text = f'{open_text},"seq":{seq},"epoch":"{self.epoch}"}}'
            log = self.events.setdefault(contest_id, deque(maxlen=settings.EVENT_LOG_SIZE))
            log.append(text)
            return LoggedEvent(seq, self.epoch, text)

    def position(self, contest_id: str) -> tuple[int, str]:
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


_memory_log = _MemoryLog()


# --- Public API (async) ----------------------------------------------------------------


async def _publish(contest_id: str, text: str) -> None:
    await get_channel_layer().group_send(
        group_name(contest_id),
        {"type": ROOM_MESSAGE_TYPE, "contest_id": contest_id, "text": text},
    )


async def asend_to_contest(contest_id: object, event: str, data: dict[str, Any]) -> LoggedEvent:
    """Stamp, log and publish one room event; returns its seq and epoch."""
    contest_id = str(contest_id)
    open_text = _open_envelope(event, data)
    client = get_async_redis()
    if client is None:
        # No await between append and publish: on one event loop nothing can interleave.
        logged = _memory_log.append(contest_id, open_text)
        await _publish(contest_id, logged.text)
        return logged
    keys = _log_keys(contest_id)
    attempt = 0
    while True:
        attempt += 1
        logged: LoggedEvent | None = None
        try:
            # The lock keeps publish order equal to seq order across processes.
            async with client.lock(
                redis_key("log", contest_id, "lock"), timeout=5, blocking_timeout=LOCK_WAIT_SECONDS
            ):
                seq, epoch, text = await client.eval(
                    _APPEND_LUA,
                    3,
                    *keys,
                    new_epoch(),
                    open_text,
                    settings.EVENT_LOG_SIZE,
                    LOG_TTL_SECONDS,
                )
                logged = LoggedEvent(int(seq), epoch, text)
                await _publish(contest_id, text)
            return logged
        except RedisError:
            if logged is not None:
                # In the log already: every hub's catch-up delivers it from there.
                logger.warning(
                    "room event %s of contest %s was logged, not published", event, contest_id
                )
                return logged
            # Not logged: nobody could ever learn of it, so try again before giving up.
            if attempt == SEND_ATTEMPTS:
                raise
            logger.warning("room event %s of contest %s not sent, retrying", event, contest_id)
            await asyncio.sleep(0.1 * attempt)


async def asend_ephemeral(contest_id: object, event: str, data: dict[str, Any]) -> None:
    """A room event without seq or log (timer_update)."""
    await _publish(str(contest_id), envelope(event, data))


async def aevent_log_position(contest_id: object) -> tuple[int, str]:
    """The contest's last seq and current epoch (creating the epoch if Redis lost it)."""
    client = get_async_redis()
    if client is None:
        return _memory_log.position(str(contest_id))
    seq, epoch = await client.eval(
        _POSITION_LUA, 3, *_log_keys(contest_id), new_epoch(), LOG_TTL_SECONDS
    )
    return int(seq), epoch


async def aevent_log_since(contest_id: object, epoch: str, last_seq: int) -> list[str] | None:
    """Every room event after last_seq in order, or None if any of them is gone."""
    client = get_async_redis()
    if client is None:
        return _memory_log.since(str(contest_id), epoch, last_seq)
    result = await client.eval(_SINCE_LUA, 3, *_log_keys(contest_id), epoch, last_seq)
    return None if result is None else list(result)


# --- Public API (sync) -----------------------------------------------------------------
# With Redis, sync callers (Celery tasks, admin actions, on_commit hooks) run the async
# API on one long-lived loop thread per process, so the channel layer and Redis clients
# are reused instead of being rebuilt per call. Without Redis the in-memory layer is
# bound to the server's own loop, which async_to_sync reaches from its worker threads.


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


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    if settings.REDIS_URL:
        return _bridge.run(coro_factory)

    async def call() -> T:
        return await coro_factory()

    return async_to_sync(call)()


def send_to_contest(contest_id: object, event: str, data: dict[str, Any]) -> LoggedEvent:
    return _run(lambda: asend_to_contest(contest_id, event, data))


def send_ephemeral(contest_id: object, event: str, data: dict[str, Any]) -> None:
    _run(lambda: asend_ephemeral(contest_id, event, data))


def event_log_position(contest_id: object) -> tuple[int, str]:
    return _run(lambda: aevent_log_position(contest_id))


def event_log_since(contest_id: object, epoch: str, last_seq: int) -> list[str] | None:
    return _run(lambda: aevent_log_since(contest_id, epoch, last_seq))
