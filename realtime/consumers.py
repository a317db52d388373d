"""The contest WebSocket (docs/PROTOCOL.md): authenticate, parse, authorize, delegate.

Room events do not pass through this consumer's handlers: realtime.hub writes them to
the socket directly. This consumer handles the client's messages one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from contests.clock import iso
from contests.errors import ContestError
from contests.services import submission_create
from leaderboard.selectors import leaderboard_ranks
from realtime import broadcast, messages
from realtime.db import run_in_db_thread
from realtime.hub import Hub, get_hub
from realtime.limits import TokenBucket
from realtime.messages import ClientMessage, ProtocolError
from realtime.middleware import TOO_MANY_CONNECTIONS, Refusal
from realtime.selectors import contest_state
from realtime.services import contest_join

logger = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011


class ContestConsumer(AsyncWebsocketConsumer):
    # Read by the hub (realtime.hub.Member).
    participant_id: str | None = None
    held: list[str] | None = None
    floor: tuple[int, str] | None = None

    contest_id: str | None = None
    user: User | None = None
    hub: Hub | None = None
    slot: str | None = None
    closed = False
    rejected_in_a_row = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Instead of AsyncConsumer's loop: no channel-layer channel per socket (the hub
        # receives room events once per process) and no aclose_old_connections() thread
        # hop before every message (database work runs in realtime.db's threads, which
        # clean their connections up themselves).
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # Also when a handler raised, or when daphne cancels a consumer still running
            # application_close_timeout after the client left (and again every second
            # after that, hence the shield): the slot and the room must be given back.
            await asyncio.shield(self._disconnected())

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Connection ---------------------------------------------------------------------

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        await self.accept()
        refusal: Refusal | None = self.scope["refusal"]
        if refusal is None:
            self.user = self.scope["user"]
            self.hub = get_hub()
            try:
                self.slot = await self.hub.slots.acquire(self.user.pk)
            except Exception:
                logger.exception("Could not count the connections of user %s", self.user.pk)
                await self._close(CLOSE_INTERNAL_ERROR, "server error")
                return
            if self.slot is None:
                refusal = TOO_MANY_CONNECTIONS
        if refusal is not None:
            await self._close(refusal.code, refusal.reason)
            return
        self.bucket = TokenBucket(
            rate=settings.WS_RATE_LIMIT_PER_SECOND, burst=settings.WS_RATE_LIMIT_BURST
        )

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        await self._disconnected()
        raise StopConsumer()

    async def _disconnected(self) -> None:
        """Leave the room and free the connection slot; does nothing the second time."""
        try:
            await self._leave_room()
        except Exception:
            logger.exception("Could not leave the room of contest %s", self.contest_id)
        slot, self.slot = self.slot, None
        if slot is not None:
            try:
                await self.hub.slots.release(self.user.pk, slot)
            except Exception:
                # The slot then expires by itself (realtime.limits.SLOT_TTL_SECONDS).
                logger.exception("Could not free a connection slot of user %s", self.user.pk)

    async def _close(self, code: int, reason: str) -> None:
        self.closed = True
        await self.close(code=code, reason=reason)

    # --- Incoming messages --------------------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        text: str | None = message.get("text")
        if text is None:
            size = len(message.get("bytes") or b"")
        else:
            size = len(text.encode("utf-8", "surrogatepass"))
        if size > settings.WS_MAX_MESSAGE_BYTES:
            await self._close(CLOSE_MESSAGE_TOO_BIG, "message too big")
            return
        if not self.bucket.take():
            await self._rate_limited(text)
            return
        self.rejected_in_a_row = 0
        if text is None:
            await self._error(ProtocolError("INVALID_PAYLOAD", "Send JSON in text frames."))
            return
        try:
            request = messages.parse(text)
        except ProtocolError as error:
            await self._error(error)
            return
        await self._handle(request)

    async def _rate_limited(self, text: str | None) -> None:
        self.rejected_in_a_row += 1
        if self.rejected_in_a_row >= settings.WS_RATE_LIMIT_CLOSE_AFTER:
            await self._close(CLOSE_POLICY_VIOLATION, "rate limit exceeded")
            return
        # The requestId is echoed so that a client waiting for this reply is not stuck.
        request_id = event = None
        if text is not None:
            try:
                request = messages.parse(text)
                request_id, event = request.request_id, request.event
            except ProtocolError as error:
                request_id = error.request_id
        await self._error(
            ProtocolError(
                "RATE_LIMITED", "Too many messages; slow down.", event=event, request_id=request_id
            ),
            retry_after_ms=self.bucket.retry_after_ms(),
        )

    async def _handle(self, request: ClientMessage) -> None:
        handler = {
            messages.JOIN_CONTEST: self.join_contest,
            messages.SUBMIT_ANSWER: self.submit_answer,
            messages.RESYNC: self.resync,
            messages.PING: self.ping,
        }[request.event]
        try:
            await handler(request)
        except ProtocolError as error:
            await self._error(error)
        except ContestError as error:
            await self._error(
                ProtocolError(
                    error.code, error.message, event=request.event, request_id=request.request_id
                )
            )
        except Exception:
            logger.exception("Failed to handle %s for user %s", request.event, self.user.pk)
            await self._error(
                ProtocolError(
                    "INTERNAL_ERROR",
                    "The server could not handle this message.",
                    event=request.event,
                    request_id=request.request_id,
                )
            )

    # --- Client events ------------------------------------------------------------------

    async def join_contest(self, request: ClientMessage) -> None:
        contest_id = messages.uuid_field(request, "contestId")
        await self._enter(contest_id, request.request_id, None)

    async def resync(self, request: ClientMessage) -> None:
        command = messages.resync(request)
        await self._enter(command.contest_id, request.request_id, command)

    async def submit_answer(self, request: ClientMessage) -> None:
        command = messages.submit_answer(request)
        if command.contest_id != self.contest_id:
            raise ProtocolError(
                "NOT_JOINED",
                "Join the contest before answering.",
                event=request.event,
                request_id=request.request_id,
            )
        outcome = await run_in_db_thread(submission_create)(
            contest_id=command.contest_id,
            question_id=command.question_id,
            user=self.user,
            answer=command.answer,
        )
        submission = outcome.submission
        data = {
            "contestId": command.contest_id,
            "questionId": command.question_id,
            "submissionId": str(submission.id),
            "accepted": True,
            "isCorrect": submission.is_correct,
            "pointsAwarded": submission.points_awarded,
            "totalScore": outcome.total_score,
            "responseTimeMs": submission.response_time_ms,
        }
        await self._send("submission_result", data, request.request_id)

    async def ping(self, request: ClientMessage) -> None:
        await self._send("pong", {"serverTime": iso(timezone.now())}, request.request_id)

    # --- Joining and catching up --------------------------------------------------------

    async def _enter(
        self, contest_id: str, request_id: str | None, resync: messages.Resync | None
    ) -> None:
        """Join the room (if needed), reply, then release the room events held meanwhile.

        Room events that arrive while the reply is built are held back and sent after
        it, minus those the reply already covers, so the client never sees an event it
        cannot place (docs/PROTOCOL.md, "Staying in sync").
        """
        if contest_id != self.contest_id:
            # (A resync of the joined contest was admitted when it joined.)
            participant = await run_in_db_thread(contest_join)(
                contest_id=contest_id, user=self.user
            )
            await self._leave_room()
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
                    await self._leave_room()
                finally:
                    self.held = None
            else:
                # Still in its contest as before this message: it gets the events held
                # meanwhile (before the error reply), as it would have without the message.
                await self._release_held()
            raise
        self.floor = covered
        await self._release_held()

    async def _leave_room(self) -> None:
        if self.contest_id is not None:
            await self.hub.leave(self.contest_id, self)
            self.contest_id = None
            self.floor = None

    async def _reply(
        self, contest_id: str, request_id: str | None, resync: messages.Resync | None
    ) -> tuple[int, str]:
        """Send the replay or the state; returns the room-event position it covers."""
        if resync is not None and resync.epoch is not None:
            texts = await broadcast.aevent_log_since(contest_id, resync.epoch, resync.last_seq)
            if texts is not None:
                return await self._replay(contest_id, request_id, texts, resync)
        # Read before the snapshot: the snapshot then includes every event up to seq.
        seq, epoch = await broadcast.aevent_log_position(contest_id)
        state = await run_in_db_thread(contest_state)(
            contest_id=contest_id, participant_id=self.participant_id, seq=seq, epoch=epoch
        )
        await self._send("contest_state", state, request_id)
        return seq, epoch

    async def _replay(
        self,
        contest_id: str,
        request_id: str | None,
        texts: list[str],
        resync: messages.Resync,
    ) -> tuple[int, str]:
        position = (resync.last_seq, resync.epoch)
        you: str | None = None
        for text in texts:
            if broadcast.is_personalized(text):
                if you is None:
                    you = await self._you_json(contest_id)
                head, placeholder, tail = text.rpartition(broadcast.YOU_PLACEHOLDER)
                if placeholder:
                    text = f'{head}"you":{you}{tail}'
            await self.base_send({"type": "websocket.send", "text": text})
            position = broadcast.log_position(text) or position
        data = {
            "contestId": contest_id,
            "replayed": len(texts),
            "seq": position[0],
            "epoch": position[1],
        }
        await self._send("resync_complete", data, request_id)
        return position

    async def _you_json(self, contest_id: str) -> str:
        if self.participant_id is None:  # a viewer
            return broadcast.you_json(None)
        ranks = await run_in_db_thread(leaderboard_ranks)(
            contest_id=contest_id, participant_ids=[self.participant_id]
        )
        return broadcast.you_json(ranks.get(self.participant_id))

    async def _release_held(self) -> None:
        # Events appended while sending are sent in turn; the loop ends with no await
        # between the last check and going live. Live even if a send fails: a socket left
        # holding would never get a room event again.
        try:
            while self.held:
                text = self.held.pop(0)
                if not broadcast.covers(self.floor, broadcast.log_position(text)):
                    await self.base_send({"type": "websocket.send", "text": text})
        finally:
            self.held = None

    # --- Replies ------------------------------------------------------------------------

    async def _send(self, event: str, data: dict[str, Any], request_id: str | None) -> None:
        text = broadcast.envelope(event, data, request_id=request_id)
        await self.base_send({"type": "websocket.send", "text": text})

    async def _error(self, error: ProtocolError, *, retry_after_ms: int | None = None) -> None:
        data: dict[str, Any] = {
            "code": error.code,
            "message": error.message,
            "event": error.event,
            "field": error.field,
        }
        if retry_after_ms is not None:
            data["retryAfterMs"] = retry_after_ms
        await self._send("error", data, error.request_id)
