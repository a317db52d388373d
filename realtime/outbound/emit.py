"""What the domain calls to tell clients about a change: one call per room event.

Each function builds the event's data from what the caller holds (payloads) and records
it in the outbox **in the caller's transaction** (realtime.outbound.relay): it goes out
after the commit, in the order of the changes, and reaches clients even if Redis is away
at that moment (later rather than never). A change that rolls back takes its event along.

`timer_update` is ephemeral (no seq, never replayed): after a pause or resume it is sent
after the commit, and the clock's periodic countdown correction (`timer_update_now`,
which reports no change) at once; one that is lost is corrected by the next.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from contests.models import Contest, Question
from contests.selectors import QuestionStats
from core.types import ContestId, ParticipantId, QuestionId
from realtime.outbound import broadcast, payloads, relay
from realtime.outbound.personalize import Board

logger = logging.getLogger(__name__)


def _record(contest_id: ContestId, event: str, data: dict[str, Any]) -> None:
    relay.record(contest_id, event, data)


def contest_start(contest: Contest, questions: list[Question]) -> None:
    _record(contest.pk, "contest_start", payloads.contest_start_payload(contest, questions))


def question_broadcast(
    contest: Contest, question: Question, *, index: int, total_questions: int, now: datetime
) -> None:
    data = payloads.question_broadcast_payload(
        contest, question, index=index, total_questions=total_questions, now=now
    )
    _record(contest.pk, "question_broadcast", data)


def question_change(
    contest: Contest,
    question: Question,
    *,
    stats: QuestionStats,
    next_question_id: QuestionId | None,
    next_starts_at: datetime | None,
) -> None:
    data = payloads.question_change_payload(
        contest,
        question,
        stats=stats,
        next_question_id=next_question_id,
        next_starts_at=next_starts_at,
    )
    _record(contest.pk, "question_change", data)


def contest_end(contest: Contest, *, board: Board) -> None:
    data = payloads.contest_end_payload(
        contest, final_leaderboard=board["top"], total_participants=board["totalParticipants"]
    )
    _record(contest.pk, "contest_end", data)


def _ephemeral(contest_id: ContestId, data: dict[str, Any]) -> None:
    try:
        broadcast.send_ephemeral(contest_id, "timer_update", data)
    except Exception as exc:
        # The next tick's timer_update corrects the countdown.
        logger.warning("timer_update of contest %s not sent (%s)", contest_id, type(exc).__name__)


def timer_update(contest: Contest, *, question_id: QuestionId, now: datetime) -> None:
    """After a pause or resume. Ephemeral: no seq, not logged, never replayed."""
    data = payloads.timer_update_payload(contest, question_id=question_id, now=now)
    transaction.on_commit(lambda: _ephemeral(contest.pk, data))


def timer_update_now(contest: Contest, *, question_id: QuestionId, now: datetime) -> None:
    """The clock's periodic correction of the countdown: sent at once, as it reports no
    change of its own."""
    _ephemeral(contest.pk, payloads.timer_update_payload(contest, question_id=question_id, now=now))


def leaderboard_update(contest_id: ContestId, *, board: Board, frozen: bool) -> None:
    """The flush calls it in a transaction that holds the contest row FOR SHARE, so a
    completion commits after it and no leaderboard_update follows contest_end."""
    data = payloads.leaderboard_update_payload(
        contest_id,
        top=board["top"],
        total_participants=board["totalParticipants"],
        frozen=frozen,
    )
    _record(contest_id, "leaderboard_update", data)


def participant_removed(contest_id: ContestId, *, participant_id: ParticipantId) -> None:
    """After the removal commits: every web process closes its sockets of that
    participant (4003 "removed from contest"). Not a room event: nothing is logged; a
    message lost while Redis reconnects leaves the socket open, but joining, answering
    and registering are refused all the same."""
    transaction.on_commit(
        lambda: broadcast.send_control(
            contest_id, broadcast.CONTROL_REMOVE, participant_id=str(participant_id)
        ),
        robust=True,
    )
