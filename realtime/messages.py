"""Parsing and validation of client messages (docs/PROTOCOL.md, "Envelope" and "Client
events"). Pure functions: anything a client can send becomes a ClientMessage or a
ProtocolError carrying the error code, never another exception."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from core.parsers import unencodable_at

MAX_REQUEST_ID_LENGTH = 64

JOIN_CONTEST = "join_contest"
SUBMIT_ANSWER = "submit_answer"
RESYNC = "resync"
PING = "ping"
CLIENT_EVENTS = frozenset({JOIN_CONTEST, SUBMIT_ANSWER, RESYNC, PING})


class ProtocolError(Exception):
    """A client message the server cannot act on; becomes an `error` event."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        event: str | None = None,
        field: str | None = None,
        request_id: str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event = event
        self.field = field
        self.request_id = request_id
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True)
class ClientMessage:
    event: str
    data: dict[str, Any]
    request_id: str | None


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity by default; JSON itself does not.
    raise ValueError(f"{name} is not valid JSON")


def parse(text: str | None) -> ClientMessage:
    """Decode one text frame (None: a binary frame) into an envelope with a known event and
    an object `data`."""
    if text is None:
        raise ProtocolError("INVALID_PAYLOAD", "Send JSON in text frames.")
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers too long to convert;
        # RecursionError, arrays nested thousands deep.
        raise ProtocolError("INVALID_PAYLOAD", "The message is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ProtocolError("INVALID_PAYLOAD", "The message must be a JSON object.")
    request_id = body.get("requestId")
    if request_id is not None and (
        not isinstance(request_id, str) or not 1 <= len(request_id) <= MAX_REQUEST_ID_LENGTH
    ):
        raise ProtocolError(
            "INVALID_PAYLOAD",
            f"requestId must be a string of 1 to {MAX_REQUEST_ID_LENGTH} characters.",
            field="requestId",
        )
    if request_id is not None and unencodable_at(request_id) is not None:
        raise _not_unicode("requestId", event=None, request_id=None)

    event = body.get("event")
    if not isinstance(event, str):
        raise ProtocolError(
            "INVALID_PAYLOAD",
            "event must be a string.",
            field="event",
            request_id=request_id,
        )
    if event not in CLIENT_EVENTS:
        raise ProtocolError(
            "INVALID_EVENT",
            f"Unknown event {event[:64]!r}.",
            event=None,
            request_id=request_id,
        )

    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError(
            "INVALID_PAYLOAD",
            "data must be a JSON object.",
            event=event,
            field="data",
            request_id=request_id,
        )
    # Valid JSON, but text that PostgreSQL and Redis cannot store (a lone surrogate).
    unencodable = unencodable_at(data, "data")
    if unencodable is not None:
        raise _not_unicode(unencodable, event=event, request_id=request_id)
    return ClientMessage(event=event, data=data, request_id=request_id)


def _not_unicode(field: str, *, event: str | None, request_id: str | None) -> ProtocolError:
    return ProtocolError(
        "INVALID_PAYLOAD",
        f"{field} must be valid Unicode text (it has a lone surrogate).",
        event=event,
        field=field,
        request_id=request_id,
    )


def rate_limited(text: str | None, *, retry_after_ms: int) -> ProtocolError:
    """The refusal of a message over the rate limit. It echoes the message's requestId as
    far as it can be read, so that a client waiting for the reply is not stuck."""
    request_id = event = None
    if text is not None:
        try:
            request = parse(text)
            request_id, event = request.request_id, request.event
        except ProtocolError as error:
            request_id = error.request_id
    return ProtocolError(
        "RATE_LIMITED",
        "Too many messages; slow down.",
        event=event,
        request_id=request_id,
        retry_after_ms=retry_after_ms,
    )


def not_joined(request: ClientMessage) -> ProtocolError:
    return ProtocolError(
        "NOT_JOINED",
        "Join the contest before answering.",
        event=request.event,
        request_id=request.request_id,
    )


# --- Fields of `data` --------------------------------------------------------------------


def _invalid(message: ClientMessage, field: str, text: str) -> ProtocolError:
    return ProtocolError(
        "INVALID_PAYLOAD",
        text,
        event=message.event,
        field=f"data.{field}",
        request_id=message.request_id,
    )


def uuid_field(message: ClientMessage, field: str) -> str:
    """A required UUID string field, in canonical form."""
    value = message.data.get(field)
    if not isinstance(value, str):
        raise _invalid(message, field, f"data.{field} is required and must be a UUID string.")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _invalid(message, field, f"data.{field} must be a UUID string.") from None


@dataclass(frozen=True)
class SubmitAnswer:
    contest_id: str
    question_id: str
    answer: Any


def submit_answer(message: ClientMessage) -> SubmitAnswer:
    contest_id = uuid_field(message, "contestId")
    question_id = uuid_field(message, "questionId")
    if "answer" not in message.data:
        raise _invalid(message, "answer", "data.answer is required.")
    # The answer's shape depends on the question: grading checks it (INVALID_ANSWER).
    return SubmitAnswer(contest_id, question_id, message.data["answer"])


@dataclass(frozen=True)
class Resync:
    contest_id: str
    epoch: str | None
    last_seq: int | None


def resync(message: ClientMessage) -> Resync:
    contest_id = uuid_field(message, "contestId")
    epoch = message.data.get("epoch")
    last_seq = message.data.get("lastSeq")
    if epoch is not None and not (isinstance(epoch, str) and 0 < len(epoch) <= 64):
        raise _invalid(message, "epoch", "data.epoch must be a string of 1 to 64 characters.")
    # bool is an int in Python, never in JSON terms.
    if last_seq is not None and (
        isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0
    ):
        raise _invalid(message, "lastSeq", "data.lastSeq must be an integer >= 0.")
    if (epoch is None) != (last_seq is None):
        missing = "epoch" if epoch is None else "lastSeq"
        raise _invalid(message, missing, "data.epoch and data.lastSeq go together.")
    return Resync(contest_id, epoch, last_seq)
