"""The texts of the direct replies to one socket (docs/PROTOCOL.md, "Direct replies"):
they echo the request's `requestId` and carry no seq."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from contests.models import Submission
from core.types import ContestId
from realtime.outbound import payloads
from realtime.outbound.envelope import envelope


def contest_state(state: dict[str, Any], request_id: str | None) -> str:
    return envelope("contest_state", state, request_id=request_id)


def submission_result(
    contest_id: ContestId,
    submission: Submission,
    *,
    total_score: int | None,
    request_id: str | None,
) -> str:
    data = payloads.submission_result_payload(contest_id, submission, total_score=total_score)
    return envelope("submission_result", data, request_id=request_id)


def resync_complete(
    contest_id: str, *, replayed: int, seq: int, epoch: str, request_id: str | None
) -> str:
    data = payloads.resync_complete_payload(contest_id, replayed=replayed, seq=seq, epoch=epoch)
    return envelope("resync_complete", data, request_id=request_id)


def pong(request_id: str | None) -> str:
    return envelope("pong", payloads.pong_payload(timezone.now()), request_id=request_id)


def error(
    *,
    code: str,
    message: str,
    event: str | None,
    field: str | None,
    request_id: str | None,
    retry_after_ms: int | None = None,
) -> str:
    data = payloads.error_payload(
        code=code, message=message, event=event, field=field, retry_after_ms=retry_after_ms
    )
    return envelope("error", data, request_id=request_id)
