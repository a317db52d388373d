"""The contest WebSocket (docs/PROTOCOL.md): authenticate, parse, authorize, delegate.

Room events do not pass through this consumer's handlers: realtime.outbound.hub writes
them to the socket directly. This consumer handles the client's messages one at a time,
in order; joining and catching up belong to the socket's realtime.session.Session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.models import User
from contests.services import submission_create
from core import logs, metrics
from core.errors import refusal_of
from realtime import messages, shutdown
from realtime.db import run_in_db_thread
from realtime.limits import CLOSES, Admission, MessageGate, connection_slots
from realtime.messages import ClientMessage, ProtocolError
from realtime.middleware import TOO_MANY_CONNECTIONS, Refusal
from realtime.outbound import replies
from realtime.outbound.hub import get_hub
from realtime.session import Session, early_close

logger = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011


INTERNAL_ERROR = ("INTERNAL_ERROR", "The server could not handle this message.")


class ContestConsumer(AsyncWebsocketConsumer):
    user: User | None = None
    session: Session | None = None
    slot: str | None = None
    received = 0.0  # time.monotonic() when the message being handled arrived
    busy = False  # handling a message
    close_pending: tuple[int, str] | None = None
    closing: asyncio.Task[None] | None = None
    closed = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Instead of AsyncConsumer's loop: no channel-layer channel per socket (the hub
        # receives room events once per process) and no aclose_old_connections() thread
        # hop before every message (database work runs in realtime.db's threads, which
        # clean their connections up themselves).
        self.scope = scope
        self.channel_layer = None
        self.raw_send = send
        self.base_send = metrics.counting_send(send)
        metrics.ws_opened()
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # Also when a handler raised, or when daphne cancels a consumer still running
            # application_close_timeout after the client left (and again every second
            # after that, hence the shield): the slot and the room must be given back.
            metrics.ws_gone()
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
            logs.bind(user_id=user.pk)
            try:
                self.slot = await connection_slots().acquire(user.pk)
            except Exception:
                logger.exception("Could not count the connections of user %s", user.pk)
                await self._close(CLOSE_INTERNAL_ERROR, "server error")
                return
            if self.slot is None:
                refusal = TOO_MANY_CONNECTIONS
            elif shutdown.draining():
                refusal = Refusal(shutdown.CLOSE_SERVICE_RESTART, shutdown.RESTART_REASON)
            else:
                self.session = Session(
                    user=user, hub=get_hub(), base_send=self.raw_send, close=self._close
                )
        if refusal is not None:
            await self._close(refusal.code, refusal.reason)
            return
        self.gate = MessageGate.from_settings()
        shutdown.opened(self)

    def close_when_idle(self, code: int, reason: str) -> None:
        """Close once the message being handled (if any) is answered: an answer in hand is
        committed or refused, never cut off (realtime.shutdown)."""
        if self.busy:
            self.close_pending = (code, reason)
        elif not self.closed:
            self.closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        metrics.ws_closed(message.get("code"))
        await self._disconnected()
        raise StopConsumer()

    async def _disconnected(self) -> None:
        """Leave the room and free the connection slot; does nothing the second time."""
        shutdown.closed(self)
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
        # An answer is judged by when it arrived, not by when a database thread was free.
        received = time.monotonic()
        if self.closed:
            return
        admission = self.gate.admit(message)
        if admission is not Admission.ADMITTED:
            metrics.ws_received(metrics.DROPPED)
        if admission in CLOSES:
            await self._close(*CLOSES[admission])
        elif admission is Admission.RATE_LIMITED:
            wait_ms = self.gate.bucket.retry_after_ms()
            await self._error(messages.rate_limited(message.get("text"), retry_after_ms=wait_ms))
        else:
            try:
                request = messages.parse(message.get("text"))
            except ProtocolError as error:
                metrics.ws_received(metrics.INVALID)
                await self._error(error)
                return
            self.busy = True
            try:
                await self._handle(request, received)
            finally:
                self.busy = False
            if self.close_pending is not None:
                await self._close(*self.close_pending)

    async def _handle(self, request: ClientMessage, received: float) -> None:
        metrics.ws_received(request.event)
        logs.bind(request_id=request.request_id, contest_id=self._session().contest_id)
        self.received = received
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
        except Exception as failure:
            refusal = refusal_of(failure)
            code, text = INTERNAL_ERROR
            if refusal is None:
                user_id = self.user.pk if self.user else None
                logger.exception("Failed to handle %s for user %s", request.event, user_id)
            else:
                code, text = refusal.code, refusal.message
            await self._error(
                ProtocolError(code, text, event=request.event, request_id=request.request_id)
            )

    # --- Client events ------------------------------------------------------------------

    async def join_contest(self, request: ClientMessage) -> None:
        contest_id = messages.uuid_field(request, "contestId")
        await self._session().enter(contest_id, request.request_id, None)

    async def resync(self, request: ClientMessage) -> None:
        command = messages.resync(request)
        await self._session().enter(command.contest_id, request.request_id, command)

    @metrics.timed_submission
    async def submit_answer(self, request: ClientMessage) -> None:
        command = messages.submit_answer(request)
        session = self._session()
        if command.contest_id != session.contest_id:
            raise messages.not_joined(request)
        outcome = await run_in_db_thread(submission_create)(
            contest_id=command.contest_id,
            question_id=command.question_id,
            user=session.user,
            answer=command.answer,
            received=self.received,
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

    async def _error(self, error: ProtocolError) -> None:
        metrics.ws_error(error.code)
        await self._reply(
            replies.error(
                code=error.code,
                message=error.message,
                event=error.event,
                field=error.field,
                request_id=error.request_id,
                retry_after_ms=error.retry_after_ms,
            )
        )
