"""What the domain calls to tell clients about a change: one call per room event.

Each function builds the event's data from what the caller holds (payloads) and sends it
**after the caller's transaction commits** (transaction.on_commit; at once when there is
none), so no client hears of a change that did not commit. A send that fails after the
commit is logged and does not stop the hooks queued after it (`robust`).

Two are sent at once: `timer_update_now`, the clock's periodic countdown correction
(it reports no change), and `leaderboard_update`, which the flush sends inside its
transaction: that transaction holds the contest row FOR SHARE, so a completion waits for
it and no leaderboard_update can follow contest_end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from contests.models import Contest, Question
from contests.selectors import QuestionStats
from core.types import ContestId, ParticipantId, QuestionId
from realtime.outbound import broadcast, payloads
from realtime.outbound.personalize import Board


def _on_commit(contest_id: ContestId, event: str, data: dict[str, Any]) -> None:
    # Looked up at call time (not bound here), so a test may record what is sent.
    transaction.on_commit(lambda: broadcast.send_to_contest(contest_id, event, data), robust=True)


def contest_start(contest: Contest, questions: list[Question]) -> None:
    _on_commit(contest.pk, "contest_start", payloads.contest_start_payload(contest, questions))


def question_broadcast(
    contest: Contest, question: Question, *, index: int, total_questions: int, now: datetime
) -> None:
    data = payloads.question_broadcast_payload(
        contest, question, index=index, total_questions=total_questions, now=now
    )
    _on_commit(contest.pk, "question_broadcast", data)


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
    _on_commit(contest.pk, "question_change", data)


def contest_end(contest: Contest, *, board: Board) -> None:
    data = payloads.contest_end_payload(
        contest, final_leaderboard=board["top"], total_participants=board["totalParticipants"]
    )
    _on_commit(contest.pk, "contest_end", data)


def timer_update(contest: Contest, *, question_id: QuestionId, now: datetime) -> None:
    """After a pause or resume. Ephemeral: no seq, not logged, never replayed."""
    data = payloads.timer_update_payload(contest, question_id=question_id, now=now)
    transaction.on_commit(
        lambda: broadcast.send_ephemeral(contest.pk, "timer_update", data), robust=True
    )


def timer_update_now(contest: Contest, *, question_id: QuestionId, now: datetime) -> None:
    """The clock's periodic correction of the countdown: sent at once, as it reads no
    change of its own."""
    data = payloads.timer_update_payload(contest, question_id=question_id, now=now)
    broadcast.send_ephemeral(contest.pk, "timer_update", data)


def leaderboard_update(contest_id: ContestId, *, board: Board, frozen: bool) -> None:
    """Sent at once, inside the caller's transaction (see the module's docstring)."""
    data = payloads.leaderboard_update_payload(
        contest_id,
        top=board["top"],
        total_participants=board["totalParticipants"],
        frozen=frozen,
    )
    broadcast.send_to_contest(contest_id, "leaderboard_update", data)


def participant_removed(contest_id: ContestId, *, participant_id: ParticipantId) -> None:
    """After the removal commits: every web process closes its sockets of that
    participant (4003 "removed from contest"). Not a room event: nothing is logged."""
    transaction.on_commit(
        lambda: broadcast.send_control(
            contest_id, broadcast.CONTROL_REMOVE, participant_id=str(participant_id)
        ),
        robust=True,
    )
