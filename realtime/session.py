"""One socket's place in a contest: which room it is in, as which participant, and from
which room event on it is served (docs/PROTOCOL.md, "Staying in sync").

`join_contest` and `resync` both come here. The reply (a `contest_state`, or the replay
of missed room events and `resync_complete`) is built while room events that arrive
meanwhile are held back; they are sent after it, minus those the reply already covers,
so the client never sees an event it cannot place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from accounts.models import User
from contests.services import participant_join, question_close_if_all_answered
from core import metrics
from realtime.db import run_in_db_thread
from realtime.messages import Resync
from realtime.outbound import broadcast, presence, replies
from realtime.outbound.envelope import Position, covers, log_position
from realtime.outbound.hub import Hub
from realtime.outbound.personalize import Filler
from realtime.outbound.snapshot import contest_state

logger = logging.getLogger(__name__)


class Session:
    """Implements realtime.outbound.hub.Member for one socket."""

    def __init__(
        self,
        *,
        user: User,
        hub: Hub,
        base_send: Callable[[dict[str, Any]], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self.user = user
        self.hub = hub
        self.base_send = base_send
        self._close = close
        self.contest_id: str | None = None
        # None for a viewer (staff on the host screen): in the room, not on the board.
        self.participant_id: str | None = None
        # While not None, room events are kept here instead of being sent (the hub does it).
        self.held: list[str] | None = None
        # The position its last contest_state or resync_complete covers.
        self.floor: Position | None = None

    async def send(self, text: str) -> None:
        await self.base_send({"type": "websocket.send", "text": text})
        metrics.ws_sent(metrics.event_of(text))

    async def close(self, code: int, reason: str) -> None:
        """The hub closes the socket (a removed participant's, on every process)."""
        await self._close(code, reason)

    async def enter(self, contest_id: str, request_id: str | None, resync: Resync | None) -> None:
        """Join the room (if needed), reply, then release the room events held meanwhile."""
        if contest_id != self.contest_id:
            # (A resync of the joined contest was admitted when it joined.)
            participant = await run_in_db_thread(participant_join)(
                contest_id=contest_id, user=self.user
            )
            await self.leave()
            self.participant_id = str(participant.pk) if participant is not None else None
        self.held = []
        joining = self.contest_id is None
        try:
            if joining:
                await self.hub.join(contest_id, self)
                self.contest_id = contest_id
            covered = await self._reply(contest_id, request_id, resync)
        except BaseException:
            if joining:
                # No state reached the client: out of the room (a failed hub.join left it
                # already), it may simply retry.
                try:
                    await self.leave()
                finally:
                    self.held = None
            else:
                # Still in its contest as before this message: it gets the events held
                # meanwhile (before the error reply), as it would have without the message.
                await self._release_held()
            raise
        self.floor = covered
        await self._release_held()

    async def leave(self) -> None:
        if self.contest_id is not None:
            contest_id = self.contest_id
            await self.hub.leave(contest_id, self)
            self.contest_id = None
            self.floor = None
            # The one who had not answered may be the one leaving (docs/CLOCK.md).
            try:
                await early_close(contest_id)
            except Exception:
                # Out of the room all the same; the question closes at its deadline.
                logger.exception("Early close check of contest %s failed", contest_id)

    async def _reply(
        self, contest_id: str, request_id: str | None, resync: Resync | None
    ) -> Position:
        """Send the replay or the state; returns the room-event position it covers."""
        if resync is not None and resync.epoch is not None and resync.last_seq is not None:
            texts = await broadcast.aevent_log_since(contest_id, resync.epoch, resync.last_seq)
            if texts is not None:
                return await self._replay(
                    contest_id, request_id, texts, (resync.last_seq, resync.epoch)
                )
        # Read before the snapshot: the snapshot then includes every event up to seq.
        seq, epoch = await broadcast.aevent_log_position(contest_id)
        state = await run_in_db_thread(contest_state)(
            contest_id=contest_id, participant_id=self.participant_id, seq=seq, epoch=epoch
        )
        await self.send(replies.contest_state(state, request_id))
        return seq, epoch

    async def _replay(
        self, contest_id: str, request_id: str | None, texts: list[str], position: Position
    ) -> Position:
        filler = Filler(contest_id, self.participant_id)
        for text in texts:
            await self.send(await filler.fill(text))
            position = log_position(text) or position
        await self.send(
            replies.resync_complete(
                contest_id,
                replayed=len(texts),
                seq=position[0],
                epoch=position[1],
                request_id=request_id,
            )
        )
        return position

    async def _release_held(self) -> None:
        # Events appended while sending are sent in turn; the loop ends with no await
        # between the last check and going live. Live even if a send fails: a socket left
        # holding would never get a room event again.
        try:
            while self.held:
                text = self.held.pop(0)
                if not covers(self.floor, log_position(text)):
                    await self.send(text)
        finally:
            self.held = None


async def early_close(contest_id: str, question_id: str | None = None) -> None:
    """Close the open question if everyone still in the room answered it: a quick check
    of the room registry (no database) when a socket left; then, or at once after an
    answer that was the last one missing (`question_id`), the clock's own close on the
    locked contest row, which checks again."""
    if question_id is None and not await presence.aall_joined_answered(contest_id):
        return
    await run_in_db_thread(question_close_if_all_answered)(
        contest_id=contest_id, question_id=question_id
    )
