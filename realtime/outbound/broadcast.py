"""The transport of room events: stamp, log and publish, in that order.

A room event (everything sent to a contest's room except timer_update) is stamped with
the contest's next `seq` and current `epoch`, appended to its event log
(realtime.outbound.log) and published to the contest's channel-layer group, under a
per-contest lock, so every process sees room events in seq order. `timer_update` is
ephemeral: no seq, no log.

The group message is received once per server process by realtime.outbound.hub, which
writes it to that process's sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from core import metrics
from core.redis import get_async_redis
from core.types import ContestId
from realtime.outbound import log
from realtime.outbound.bridge import run_sync
from realtime.outbound.envelope import Position, envelope, open_envelope
from realtime.outbound.log import LoggedEvent

logger = logging.getLogger(__name__)

ROOM_MESSAGE_TYPE = "room.event"
# A command to every process's hub about a contest's sockets, not an event for clients.
ROOM_CONTROL_TYPE = "room.control"
CONTROL_REMOVE = "remove"  # close the sockets of `participant_id` (removed from contest)
# A room event that could not be appended to the log (lock not obtained, Redis briefly
# unreachable) is tried this many times: unlike a lost publish, nothing could repair it.
SEND_ATTEMPTS = 3
LOCK_WAIT_SECONDS = 5.0


def group_name(contest_id: ContestId) -> str:
    return f"contest.{contest_id}"


async def _publish(contest_id: str, text: str) -> None:
    await get_channel_layer().group_send(
        group_name(contest_id),
        {
            "type": ROOM_MESSAGE_TYPE,
            "contest_id": contest_id,
            "text": text,
            "published_at": metrics.publish_stamp(),
        },
    )


async def asend_to_contest(
    contest_id: ContestId, event: str, data: dict[str, Any], *, outbox_id: int = 0
) -> LoggedEvent | None:
    """Stamp, log and publish one room event; returns its seq and epoch. An outbox event
    (realtime.outbound.relay) is appended once: None if it was appended already."""
    contest_id = str(contest_id)
    open_text = open_envelope(event, data)
    client = get_async_redis()
    if client is None:
        # No await between append and publish: on one event loop nothing can interleave.
        logged = log.memory_log.append(contest_id, open_text, outbox_id=outbox_id)
        if logged is not None:
            await _publish(contest_id, logged.text)
        return logged
    attempt = 0
    while True:
        attempt += 1
        appended: LoggedEvent | None = None
        try:
            # The lock keeps publish order equal to seq order across processes.
            async with client.lock(
                log.lock_key(contest_id), timeout=5, blocking_timeout=LOCK_WAIT_SECONDS
            ):
                appended = await log.redis_append(
                    client, contest_id, open_text, outbox_id=outbox_id
                )
                if appended is None:
                    return None
                await _publish(contest_id, appended.text)
            return appended
        except RedisError:
            metrics.channel_layer_failed()
            if appended is not None:
                # In the log already: every hub's catch-up delivers it from there.
                logger.warning(
                    "room event %s of contest %s was logged, not published", event, contest_id
                )
                return appended
            # Not logged: try again before giving up. The relay keeps retrying an outbox
            # event itself until Redis takes it, without holding up its committer.
            if attempt == SEND_ATTEMPTS or outbox_id:
                raise
            logger.warning("room event %s of contest %s not sent, retrying", event, contest_id)
            await asyncio.sleep(0.1 * attempt)


async def asend_ephemeral(contest_id: ContestId, event: str, data: dict[str, Any]) -> None:
    """A room event without seq or log (timer_update)."""
    await _publish(str(contest_id), envelope(event, data))


async def asend_control(contest_id: ContestId, action: str, **fields: str) -> None:
    """A command to the hub of every process that has sockets in the contest's room."""
    await get_channel_layer().group_send(
        group_name(str(contest_id)),
        {"type": ROOM_CONTROL_TYPE, "contest_id": str(contest_id), "action": action, **fields},
    )


async def aevent_log_position(contest_id: ContestId) -> Position:
    """The contest's last seq and current epoch (creating the epoch if Redis lost it)."""
    client = get_async_redis()
    if client is None:
        return log.memory_log.position(str(contest_id))
    return await log.redis_position(client, str(contest_id))


async def aevent_log_since(contest_id: ContestId, epoch: str, last_seq: int) -> list[str] | None:
    """Every room event after last_seq in order, or None if any of them is gone."""
    client = get_async_redis()
    if client is None:
        return log.memory_log.since(str(contest_id), epoch, last_seq)
    return await log.redis_since(client, str(contest_id), epoch, last_seq)


# --- From sync code ------------------------------------------------------------------------


def send_to_contest(
    contest_id: ContestId, event: str, data: dict[str, Any], *, outbox_id: int = 0
) -> LoggedEvent | None:
    return run_sync(lambda: asend_to_contest(contest_id, event, data, outbox_id=outbox_id))


def send_ephemeral(contest_id: ContestId, event: str, data: dict[str, Any]) -> None:
    run_sync(lambda: asend_ephemeral(contest_id, event, data))


def send_control(contest_id: ContestId, action: str, **fields: str) -> None:
    run_sync(lambda: asend_control(contest_id, action, **fields))


def event_log_position(contest_id: ContestId) -> Position:
    return run_sync(lambda: aevent_log_position(contest_id))


def event_log_since(contest_id: ContestId, epoch: str, last_seq: int) -> list[str] | None:
    return run_sync(lambda: aevent_log_since(contest_id, epoch, last_seq))
