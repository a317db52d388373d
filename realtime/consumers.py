"""The contest WebSocket (docs/PROTOCOL.md): authenticate, parse, authorize, delegate.

Room events do not pass through this consumer's handlers: realtime.outbound.hub writes
them to the socket directly. This consumer handles the client's messages one at a time,
in order; joining and catching up belong to the socket's realtime.session.Session.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import User
from contests.services import submission_create
from core.errors import DomainError
from realtime import messages
from realtime.db import run_in_db_thread
from realtime.limits import TokenBucket, connection_slots
from realtime.messages import ClientMessage, ProtocolError
from realtime.middleware import TOO_MANY_CONNECTIONS, Refusal
from realtime.outbound import replies
from realtime.outbound.hub import get_hub
from realtime.session import Session, early_close

logger = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011


class ContestConsumer(AsyncWebsocketConsumer):
    user: User | None = None
    session: Session | None = None
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
            self.user = user = self.scope["user"]
            try:
                self.slot = await connection_slots().acquire(user.pk)
            except Exception:
                logger.exception("Could not count the connections of user %s", user.pk)
                await self._close(CLOSE_INTERNAL_ERROR, "server error")
                return
            if self.slot is None:
                refusal = TOO_MANY_CONNECTIONS
            else:
                self.session = Session(
                    user=user, hub=get_hub(), base_send=self.base_send, close=self._close
                )
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
        if self.session is not None:
            try:
                await self.session.leave()
            except Exception:
                logger.exception("Could not leave the room of contest %s", self.session.contest_id)
        slot, self.slot = self.slot, None
        if slot is not None and self.user is not None:
            try:
                await connection_slots().release(self.user.pk, slot)
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
        request_id, event = messages.identify(text)
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
        except DomainError as error:
            await self._error(
                ProtocolError(
                    error.code, error.message, event=request.event, request_id=request.request_id
                )
            )
        except Exception:
            logger.exception(
                "Failed to handle %s for user %s", request.event, self.scope["user"].pk
            )
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
        await self._session().enter(contest_id, request.request_id, None)

    async def resync(self, request: ClientMessage) -> None:
        command = messages.resync(request)
        await self._session().enter(command.contest_id, request.request_id, command)

    async def submit_answer(self, request: ClientMessage) -> None:
        command = messages.submit_answer(request)
        session = self._session()
        if command.contest_id != session.contest_id:
            raise ProtocolError(
                "NOT_JOINED",
                "Join the contest before answering.",
                event=request.event,
                request_id=request.request_id,
            )
        outcome = await run_in_db_thread(submission_create)(
            contest_id=command.contest_id,
            question_id=command.question_id,
            user=session.user,
            answer=command.answer,
        )
        await session.send(
            replies.submission_result(
                command.contest_id,
                outcome.submission,
                total_score=outcome.total_score,
                request_id=request.request_id,
            )
        )
        if outcome.all_answered:
            # After the reply: the question's close (and its question_change) follows it.
            try:
                await early_close(command.contest_id, str(outcome.submission.question_id))
            except Exception:
                # The answer is stored and acknowledged; the deadline closes the question.
                logger.exception("Early close of contest %s failed", command.contest_id)

    async def ping(self, request: ClientMessage) -> None:
        await self._reply(replies.pong(request.request_id))

    # --- Replies ------------------------------------------------------------------------

    def _session(self) -> Session:
        # Messages are read only from a socket whose connect was accepted with a session.
        assert self.session is not None
        return self.session

    async def _reply(self, text: str) -> None:
        await self.base_send({"type": "websocket.send", "text": text})

    async def _error(self, error: ProtocolError, *, retry_after_ms: int | None = None) -> None:
        await self._reply(
            replies.error(
                code=error.code,
                message=error.message,
                event=error.event,
                field=error.field,
                request_id=error.request_id,
                retry_after_ms=retry_after_ms,
            )
        )
