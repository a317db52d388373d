"""Per-process room fan-out.

One hub per server process (per event loop) owns one channel-layer channel. That channel
joins the group of a contest when the first local socket joins the contest and leaves it
when the last one leaves, so each room event crosses the channel layer once per process,
not once per socket. The hub writes each event's text straight to its sockets: no
per-socket channel, task wake-up or channel-layer decoding.

Order and completeness: the hub tracks, per contest, the last room event it delivered.
A `seq` that skips ahead means the layer lost events (pub/sub drops messages while Redis
reconnects): the hub first replays the missing ones from the event log, in order. Every
WS_CATCH_UP_INTERVAL_SECONDS it also compares with the log, which catches a loss that no
later event reveals. Events the log no longer has, or an epoch change (the log itself was
lost), are announced to the sockets with `resync_required` (docs/PROTOCOL.md).

Presence: the hub also keeps realtime.outbound.presence up to date with the participants
its sockets joined as, per contest (what closing a question early needs), and carries out
room commands (`room.control`): closing the sockets of a participant an organizer removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from core import metrics
from realtime.outbound import broadcast, personalize, presence
from realtime.outbound.envelope import Position, covers, envelope, log_position
from realtime.outbound.payloads import resync_required_payload

logger = logging.getLogger(__name__)

RESYNC_EPOCH_CHANGED = "epoch_changed"
RESYNC_EVENTS_LOST = "events_lost"
CLOSE_REMOVED = 4003
CLOSE_REMOVED_REASON = "removed from contest"


class Member(Protocol):
    """What the hub needs of a socket (realtime.session.Session)."""

    # Fixed while the member is in a room (the hub counts each participant's sockets).
    participant_id: str | None
    # While not None, room events are kept here instead of being sent: the socket is
    # building its reply to join_contest/resync and sends them after it.
    held: list[str] | None
    # The (seq, epoch) its last contest_state or resync_complete covers: the hub does not
    # send it room events at or below it (they reach a hub that is behind the log).
    floor: Position | None
    # The socket's ASGI send, uncounted: the hub counts a room event's writes at once.
    base_send: Callable[[dict[str, Any]], Awaitable[None]]

    async def close(self, code: int, reason: str) -> None:
        """Close the socket with this WebSocket close code and reason."""


@dataclass(frozen=True)
class _CatchUp:
    contest_id: str


@dataclass
class _ContestLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.rooms: dict[str, set[Member]] = {}
        # Per room, each participant's sockets here: whether a joiner is the participant's
        # first socket, or a leaver their last, is then one lookup, not a scan of a room
        # of 10,000 (docs/PERFORMANCE.md, "Joins").
        self._sockets: dict[str, Counter[str]] = {}
        # Last room event delivered (or known to be covered) per contest: (seq, epoch).
        self.positions: dict[str, Position] = {}
        self._channel: str | None = None
        # One per contest, so one contest's Redis round trips never delay another's joins.
        self._locks: dict[str, _ContestLock] = {}
        self._inbox: asyncio.Queue[dict[str, Any] | _CatchUp] = asyncio.Queue()
        # This hub's name in the presence registry (one per process and loop).
        self.presence_token = uuid.uuid4().hex
        # The event loop keeps only weak references to tasks.
        self._tasks: list[asyncio.Task[None]] = []
        # Joins of two contests at once must not both start the hub: its channel and
        # tasks are made once (new_channel awaits Redis).
        self._starting = asyncio.Lock()

    # --- Membership ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _locked(self, contest_id: str) -> AsyncIterator[None]:
        # Counted, so the entry goes only when no one holds or awaits it: deleting it
        # under a waiter would let the next caller create a second lock for the contest.
        entry = self._locks.get(contest_id)
        if entry is None:
            entry = self._locks[contest_id] = _ContestLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            metrics.ws_joined(contest_id, len(self.rooms.get(contest_id, ())))
            entry.users -= 1
            if not entry.users:
                del self._locks[contest_id]

    async def join(self, contest_id: str, member: Member) -> None:
        async with self._locked(contest_id):
            room = self.rooms.get(contest_id)
            if room is not None:
                if member in room:
                    return
                room.add(member)
                if self._seat(contest_id, member.participant_id, +1) == 1:
                    await self._present(contest_id, member.participant_id)
                return
            # The room exists before the awaits below, so an event that arrives while the
            # group is being joined still reaches the member (held, then filtered by seq).
            room = self.rooms[contest_id] = {member}
            self._sockets[contest_id] = Counter()
            self._seat(contest_id, member.participant_id, +1)
            group = broadcast.group_name(contest_id)
            subscribed = False
            try:
                await self._ensure_running()
                await self.layer.group_add(group, self._channel)
                subscribed = True
                position = await broadcast.aevent_log_position(contest_id)
            except BaseException:
                # No half-built room: the next joiner must build it whole (group and
                # position), not take it as it is.
                room.discard(member)
                self._seat(contest_id, member.participant_id, -1)
                if not room:
                    del self.rooms[contest_id]
                    del self._sockets[contest_id]
                    if subscribed:
                        # If this fails too, the hub only receives events it drops (the
                        # contest has no room) until the next join subscribes it again.
                        with contextlib.suppress(Exception):
                            await self.layer.group_discard(group, self._channel)
                raise
            known = self.positions.get(contest_id)
            if known is None or (known[1] == position[1] and known[0] < position[0]):
                self.positions[contest_id] = position
            await self._present(contest_id, member.participant_id)

    async def leave(self, contest_id: str, member: Member) -> None:
        async with self._locked(contest_id):
            room = self.rooms.get(contest_id)
            if room is None or member not in room:
                return
            room.discard(member)
            if self._seat(contest_id, member.participant_id, -1) == 0:
                await self._absent(contest_id, member.participant_id)
            if room:
                return
            del self.rooms[contest_id]
            del self._sockets[contest_id]
            self.positions.pop(contest_id, None)
            await self.layer.group_discard(broadcast.group_name(contest_id), self._channel)

    # --- Presence -----------------------------------------------------------------------

    def _seat(self, contest_id: str, participant_id: str | None, change: int) -> int | None:
        """Count a participant's socket in or out of the room; returns how many they
        have here now (None for a viewer, who is not counted)."""
        if participant_id is None:
            return None
        sockets = self._sockets[contest_id]
        sockets[participant_id] += change
        left = sockets[participant_id]
        if left <= 0:
            del sockets[participant_id]
        return left

    async def _present(self, contest_id: str, participant_id: str | None) -> None:
        if participant_id is None:
            return
        room = self.rooms.get(contest_id, set())
        try:
            # With the registry gone (Redis lost its data), the others this process holds
            # go back in with the joiner: alone in it, the joiner's answer would look like
            # the whole room's and close the question early.
            await presence.ajoin(
                contest_id,
                participant_id,
                self.presence_token,
                others=(m.participant_id for m in room if m.participant_id),
            )
        except Exception:
            # Joining still works; the refresh adds the participant again.
            logger.exception("Could not record a participant in contest %s's room", contest_id)

    async def _present_all(self, contest_id: str) -> None:
        participants = set(self._sockets.get(contest_id, ()))
        await presence.arefresh(contest_id, participants, self.presence_token)

    async def _absent(self, contest_id: str, participant_id: str | None) -> None:
        if participant_id is None:
            return
        try:
            await presence.aleave(contest_id, participant_id, self.presence_token)
        except Exception:
            # The entry expires by itself (presence.TTL_SECONDS).
            logger.exception("Could not take a participant out of contest %s's room", contest_id)

    async def _presence_forever(self) -> None:
        while True:
            await asyncio.sleep(presence.REFRESH_SECONDS)
            for contest_id in list(self.rooms):
                try:
                    await self._present_all(contest_id)
                except Exception:
                    logger.exception("Could not refresh the presence in contest %s", contest_id)

    # --- Commands -----------------------------------------------------------------------

    async def _control(self, message: dict[str, Any]) -> None:
        contest_id = message["contest_id"]
        if message.get("action") != broadcast.CONTROL_REMOVE:
            logger.warning("Unknown room command %r", message.get("action"))
            return
        removed = [
            m
            for m in self.rooms.get(contest_id, ())
            if m.participant_id == message["participant_id"]
        ]
        for member in removed:
            try:
                await member.close(CLOSE_REMOVED, CLOSE_REMOVED_REASON)
            except Exception:
                logger.exception("Could not close a removed participant's socket")
            # No room event reaches it in the moment before its disconnect arrives.
            await self.leave(contest_id, member)

    async def _ensure_running(self) -> None:
        async with self._starting:
            if self._channel is None:
                self._start(await self.layer.new_channel())

    def _start(self, channel: str) -> None:
        self._channel = channel
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._receive_forever()),
            loop.create_task(self._deliver_forever()),
            loop.create_task(self._check_forever()),
            loop.create_task(self._presence_forever()),
        ]

    # --- Tasks --------------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        # Only moves messages to the inbox, so catch-up checks queue behind every message
        # already received and are judged against what was really delivered.
        while True:
            try:
                message = await self.layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.channel_layer_failed()
                logger.exception("Hub could not receive from the channel layer")
                await asyncio.sleep(1)
                continue
            self._inbox.put_nowait(message)

    async def _deliver_forever(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if isinstance(item, _CatchUp):
                    await self._catch_up(item.contest_id)
                elif item.get("type") == broadcast.ROOM_CONTROL_TYPE:
                    await self._control(item)
                else:
                    await self._room_message(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Hub could not deliver a room event")

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.WS_CATCH_UP_INTERVAL_SECONDS)
            for contest_id in list(self.rooms):
                try:
                    # Re-joining renews the membership (the in-memory layer expires
                    # group members after a day) and is a no-op otherwise.
                    await self.layer.group_add(broadcast.group_name(contest_id), self._channel)
                except Exception:
                    metrics.channel_layer_failed()
                    logger.exception("Hub could not renew its group membership")
                self._inbox.put_nowait(_CatchUp(contest_id))

    # --- Delivery -----------------------------------------------------------------------

    async def _room_message(self, message: dict[str, Any]) -> None:
        contest_id = message["contest_id"]
        if contest_id not in self.rooms:
            return
        text = message["text"]
        position = log_position(text)
        if position is not None:
            known = self.positions.get(contest_id)
            if known is not None and position[1] == known[1]:
                if position[0] <= known[0]:
                    return  # already delivered by a catch-up
                if position[0] > known[0] + 1:
                    await self._catch_up(contest_id)
                    return  # the catch-up delivered this event too, from the log
            elif known is not None:
                await self._resync_required(contest_id, RESYNC_EPOCH_CHANGED)
            self.positions[contest_id] = position
        await self._write(contest_id, text, position)
        metrics.broadcast_delivered(message.get("published_at"))

    async def _catch_up(self, contest_id: str) -> None:
        known = self.positions.get(contest_id)
        if known is None or contest_id not in self.rooms:
            return
        texts = await broadcast.aevent_log_since(contest_id, known[1], known[0])
        if texts is None:
            seq, epoch = await broadcast.aevent_log_position(contest_id)
            reason = RESYNC_EPOCH_CHANGED if epoch != known[1] else RESYNC_EVENTS_LOST
            logger.warning("Contest %s: room events lost (%s)", contest_id, reason)
            await self._resync_required(contest_id, reason)
            self.positions[contest_id] = (seq, epoch)
            return
        if texts:
            logger.warning("Contest %s: replaying %d missed room events", contest_id, len(texts))
        for text in texts:
            position = log_position(text)
            if position is not None:
                self.positions[contest_id] = position
            await self._write(contest_id, text, position)

    async def _resync_required(self, contest_id: str, reason: str) -> None:
        if reason == RESYNC_EPOCH_CHANGED:
            # Redis lost the room's state, its presence registry with it: fill it again
            # before any of these sockets, told to resync, can answer (docs/CLOCK.md).
            try:
                await self._present_all(contest_id)
            except Exception:
                logger.exception("Could not refill contest %s's room registry", contest_id)
        text = envelope("resync_required", resync_required_payload(contest_id, reason=reason))
        await self._write(contest_id, text, None)

    async def _write(self, contest_id: str, text: str, position: Position | None) -> None:
        """Send to the room's sockets; `position` is the text's log_position, read once."""
        members = tuple(m for m in self.rooms.get(contest_id, ()) if not covers(m.floor, position))
        written = 0
        try:
            if personalize.is_personalized(text):
                texts = await personalize.texts_for(
                    contest_id, text, (m.participant_id for m in members)
                )
                for member in members:
                    personal = texts[member.participant_id]
                    written += await _send(member, {"type": "websocket.send", "text": personal})
            else:
                message = {"type": "websocket.send", "text": text}
                for member in members:
                    written += await _send(member, message)
        finally:
            # Also what was written before a cancellation (a shutdown) cut the loop short.
            metrics.ws_sent(metrics.event_of(text), written)


async def _send(member: Member, message: dict[str, Any]) -> bool:
    """Write to the socket, or hold the text while it builds a reply (the member sends
    and counts it then). True if written here."""
    if member.held is not None:
        member.held.append(message["text"])
        return False
    try:
        await member.base_send(message)
    except Exception:
        # One broken socket must not keep the event from the others.
        logger.exception("Hub could not write to a socket")
        return False
    return True


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This process's hub (one per event loop: daphne runs one)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
