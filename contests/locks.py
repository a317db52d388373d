"""Named row-lock reads of the contest row: every lock that coordinates writers of one
contest, in one place (docs/CLOCK.md).

- `contest_lock`: FOR NO KEY UPDATE, taken by every transition of the contest clock and
  by authoring. Registrations and submission inserts, which only key-share the row, go
  on; readers FOR SHARE wait.
- `contest_share_*`: FOR SHARE, held until the caller's transaction ends. Such readers
  do not block each other, but a transition waits for them, and they wait for it.

PostgreSQL only has FOR SHARE; the embedded SQLite mode has one process whose writes are
serialised by SQLite itself, so it reads the row plainly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from contests.models import Contest, Participant, Submission
from contests.selectors import started_contest_questions
from core.locks import advisory_xact_lock
from core.time import db_now
from core.types import ContestId, QuestionId, UserId


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def contest_lock(contest_id: ContestId) -> Contest | None:
    """The contest, locked FOR NO KEY UPDATE until the transaction ends."""
    return Contest.objects.select_for_update(no_key=True).filter(pk=contest_id).first()


@dataclass(frozen=True)
class RegistrationView:
    id: uuid.UUID
    status: str
    max_participants: int | None


def contest_share_for_registration(contest_id: ContestId) -> RegistrationView | None:
    """The contest's id, status and max_participants, FOR SHARE: completing the contest
    locks the row for update, so a registration either commits first (and gets its final
    standing) or sees the contest over."""
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, status, max_participants FROM contests_contest WHERE id = %s FOR SHARE",
                [str(contest_id)],
            )
            row = cursor.fetchone()
    else:
        row = (
            Contest.objects.filter(pk=contest_id)
            .values_list("id", "status", "max_participants")
            .first()
        )
    return RegistrationView(*row) if row else None


def registrations_serialize(contest_id: ContestId) -> None:
    """Serialise registrations of one contest until the transaction ends (the
    max_participants count): the row's FOR SHARE lock does not exclude each other."""
    advisory_xact_lock(f"register:{contest_id}")


@dataclass(frozen=True)
class LiveStateView:
    """What an answer is judged against: the contest's live state, the database's clock,
    the answering user's participant id (None if not registered), and their answer to the
    question played just before the answered one (its streak continues)."""

    status: str
    current_question_index: int
    question_open: bool
    question_started_at: datetime | None
    question_deadline: datetime | None
    question_closed_at: datetime | None
    paused_at: datetime | None
    ended_at: datetime | None
    scoring_mode: str
    answer_reveal: str
    leaderboard_freeze_last: int
    close_when_all_answered: bool
    streak_bonus: bool
    now: datetime
    participant_id: uuid.UUID | None
    participant_removed_at: datetime | None
    # (is_correct, streak) of that earlier answer; None if there is none.
    previous_is_correct: bool | None
    previous_streak: int | None

    @property
    def previous_answer(self) -> tuple[bool, int] | None:
        if self.previous_is_correct is None or self.previous_streak is None:
            return None
        return self.previous_is_correct, self.previous_streak


def contest_share_live_state(
    contest_id: ContestId, user_id: UserId, question_id: QuestionId
) -> LiveStateView | None:
    """The live state FOR SHARE, with the clock, the participant id and their answer to
    the question before `question_id` in play order (`order`, unique per contest), in one
    round trip: this is the hot path of a contest. Submissions do not block each other, but closing
    the question (which locks the row) waits for those in flight, so the question's stats
    count exactly the answers that were accepted."""
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.status, c.current_question_index, c.question_open,"
                " c.question_started_at, c.question_deadline, c.question_closed_at,"
                " c.paused_at, c.ended_at, c.scoring_mode,"
                " c.answer_reveal, c.leaderboard_freeze_last, c.close_when_all_answered,"
                " c.streak_bonus, clock_timestamp(), p.id, p.removed_at,"
                " previous.is_correct, previous.streak"
                " FROM contests_contest c LEFT JOIN contests_participant p"
                " ON p.contest_id = c.id AND p.user_id = %s"
                " LEFT JOIN LATERAL ("
                "  SELECT s.is_correct, s.streak FROM contests_question q"
                "  JOIN LATERAL (SELECT b.id FROM contests_question b"
                '   WHERE b.contest_id = q.contest_id AND b."order" < q."order"'
                '   ORDER BY b."order" DESC LIMIT 1) before ON true'
                "  JOIN contests_submission s"
                "  ON s.question_id = before.id AND s.participant_id = p.id"
                "  WHERE q.id = %s AND q.contest_id = c.id"
                " ) previous ON true"
                " WHERE c.id = %s FOR SHARE OF c",
                [str(user_id), str(question_id), str(contest_id)],
            )
            row = cursor.fetchone()
        return LiveStateView(*row) if row else None
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None:
        return None
    participant = (
        Participant.objects.filter(contest=contest, user_id=user_id)
        .values_list("pk", "removed_at")
        .first()
    )
    participant_id, removed_at = participant or (None, None)
    previous_is_correct, previous_streak = (
        _previous_answer(contest, participant_id, question_id)
        if participant_id is not None
        else (None, None)
    )
    return LiveStateView(
        contest.status,
        contest.current_question_index,
        contest.question_open,
        contest.question_started_at,
        contest.question_deadline,
        contest.question_closed_at,
        contest.paused_at,
        contest.ended_at,
        contest.scoring_mode,
        contest.answer_reveal,
        contest.leaderboard_freeze_last,
        contest.close_when_all_answered,
        contest.streak_bonus,
        db_now(),
        participant_id,
        removed_at,
        previous_is_correct,
        previous_streak,
    )


def _previous_answer(
    contest: Contest, participant_id: uuid.UUID, question_id: QuestionId
) -> tuple[bool | None, int | None]:
    """The embedded mode's reading of the lateral join above. Only an active contest takes
    answers, and its played questions (with their positions) are cached."""
    if contest.status != Contest.Status.ACTIVE:
        return None, None
    questions = started_contest_questions(contest_id=contest.pk)
    answered = questions.get(str(question_id))
    before = next(
        (p for p in questions.values() if answered and p.position == answered.position - 1),
        None,
    )
    if before is None:
        return None, None
    found = (
        Submission.objects.filter(participant_id=participant_id, question_id=before.question.pk)
        .values_list("is_correct", "streak")
        .first()
    )
    return found or (None, None)


def contest_share_if_active(contest_id: ContestId) -> bool:
    """True if the contest is running, holding its row FOR SHARE until the transaction
    ends: a completion waits for the caller (the leaderboard flush while it sends), and a
    caller that comes later finds it completed."""
    if _postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM contests_contest WHERE id = %s AND status = %s FOR SHARE",
                [str(contest_id), Contest.Status.ACTIVE],
            )
            return cursor.fetchone() is not None
    return Contest.objects.filter(pk=contest_id, status=Contest.Status.ACTIVE).exists()
