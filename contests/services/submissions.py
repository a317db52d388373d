"""Submissions: one answer per participant and question, graded, scored and stored
before it is acknowledged. Whether the acknowledgement carries the grade, and whether the
answer moves the live leaderboard now, follow the contest's rules (docs/CONTEST_FORMAT.md)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User
from contests import grading
from contests.errors import (
    ContestNotActive,
    ContestNotFound,
    DuplicateSubmission,
    NotRegistered,
    ParticipantRemoved,
    QuestionClosed,
    QuestionNotFound,
)
from contests.locks import LiveStateView, contest_share_live_state
from contests.models import Contest, Submission, live_board_through
from contests.selectors import PlayedQuestion, started_contest_questions
from core.errors import ServiceUnavailable
from core.types import ContestId, QuestionId
from leaderboard.selectors import totals_from_database
from leaderboard.services import leaderboard_record
from realtime.outbound import presence

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmissionOutcome:
    submission: Submission
    # The participant's total after this answer; None when the contest reveals grades on
    # close (the reply then carries neither the grade nor the score).
    total_score: int | None
    # Everyone in the contest's room has now answered this question: the caller asks for
    # the early close (contests.services.question_close_if_all_answered).
    all_answered: bool = False


def _moves_live_board(state: LiveStateView, played: PlayedQuestion, total: int) -> bool:
    """Whether this answer reaches the live board now (else the close brings it, or the
    final standings: the frozen zone)."""
    through = live_board_through(
        answer_reveal=state.answer_reveal,
        current_question_index=state.current_question_index,
        question_open=state.question_open,
        leaderboard_freeze_last=state.leaderboard_freeze_last,
        total_questions=total,
    )
    return through is None or played.position <= through


def _arrival(now: datetime, received: float | None) -> datetime:
    """When the answer reached this process, on the database's clock: `now` minus the time
    it has waited since (a monotonic measure, so other machines' clocks do not matter)."""
    if received is None:
        return now
    return now - timedelta(seconds=max(0.0, time.monotonic() - received))


def submission_create(
    *,
    contest_id: ContestId,
    question_id: QuestionId,
    user: User,
    answer: Any,
    received: float | None = None,
) -> SubmissionOutcome:
    """Grade, score and store one answer; committed before this returns.

    `received` is `time.monotonic()` when the answer reached the server: lateness and
    response time are judged at that moment (on the database's clock, against the stored
    question start and deadline), not when a database connection came free, and never by
    the client's clock. While a contest is paused its clock stands still: an answer sent
    during the pause is timed at the moment of the pause. An answer that arrived while its
    question was open but could be judged only after it closed gets ServiceUnavailable
    (retry), never a false "deadline passed".
    Four statements: the live state (with the participant's answer to the previous
    question, for the streak), the insert, the participant's new totals (for the reply
    and the leaderboard; not when the contest reveals on close) and the commit.
    """
    try:
        with transaction.atomic():
            state = contest_share_live_state(contest_id, user.pk, question_id)
            if state is None:
                raise ContestNotFound()
            arrival = _arrival(state.now, received)
            if state.status != Contest.Status.ACTIVE:
                if state.ended_at is not None and arrival < state.ended_at:
                    raise ServiceUnavailable()
                raise ContestNotActive()
            participant_id = state.participant_id
            if participant_id is None:
                raise NotRegistered()
            if state.participant_removed_at is not None:
                raise ParticipantRemoved()
            # The contest is active, so its questions are frozen and may come from cache.
            questions = started_contest_questions(contest_id=contest_id)
            played = questions.get(str(question_id))
            if played is None:
                raise QuestionNotFound()
            clock = _judged_at(state, played.position, arrival)

            question, choices = played.question, played.choices
            normalized = grading.answer_normalize(question, choices, answer)
            is_correct = grading.answer_is_correct(question, choices, normalized)
            # Opening a question sets its start, and nothing clears it while it is open.
            assert state.question_started_at is not None
            response_ms = max(0, int((clock - state.question_started_at).total_seconds() * 1000))
            streak = grading.streak_after(is_correct=is_correct, previous=state.previous_answer)
            points = grading.points_for(
                question=question,
                scoring_mode=state.scoring_mode,
                is_correct=is_correct,
                response_time_ms=response_ms,
            )
            if state.streak_bonus and state.scoring_mode == Contest.ScoringMode.SPEED:
                points += grading.streak_bonus_for(streak)
            # The last write of the transaction: a duplicate fails it as a whole (no
            # savepoint needed), caught below.
            submission = Submission.objects.create(
                participant_id=participant_id,
                question=question,
                answer=normalized,
                is_correct=is_correct,
                points_awarded=points,
                response_time_ms=response_ms,
                received_at=arrival,
                streak=streak,
            )
            total_score = None
            if state.answer_reveal == Contest.AnswerReveal.IMMEDIATE:
                (totals,) = totals_from_database(
                    contest_id=contest_id, participant_id=participant_id
                )
                total_score = totals.score
                if _moves_live_board(state, played, len(questions)):
                    # robust: the answer is committed whatever happens to the
                    # leaderboard's cache (it is rebuilt from the database), so its reply
                    # must still go out.
                    transaction.on_commit(
                        lambda: leaderboard_record(
                            contest_id=contest_id, participant_id=participant_id, totals=totals
                        ),
                        robust=True,
                    )
    except IntegrityError:
        raise DuplicateSubmission() from None
    all_answered = False
    if state.close_when_all_answered:
        try:
            everyone = presence.all_joined_answered(
                contest_id=contest_id, question_id=question.pk, answered_by=participant_id
            )
            # Recorded also while paused: the resume asks for the early close then.
            all_answered = everyone and state.paused_at is None
        except Exception:
            # Committed all the same; the question closes at its deadline.
            logger.exception("Could not record an answer for contest %s's early close", contest_id)
    return SubmissionOutcome(
        submission=submission, total_score=total_score, all_answered=all_answered
    )


def _judged_at(state: LiveStateView, position: int, arrival: datetime) -> datetime:
    """The instant the answer to the question at `position` is timed at, or the refusal.

    A pause stops the clock (an answer arriving during it is timed at the pause), but not
    one that came after the deadline passed."""
    if position != state.current_question_index:
        # Another question is current: this one closed before it opened (or is not open
        # yet). Late for sure only if the answer came after the current one opened.
        started = state.question_started_at
        if position < state.current_question_index and started and arrival < started:
            raise ServiceUnavailable()
        raise QuestionClosed()
    deadline = state.question_deadline
    assert deadline is not None  # the current question has opened
    clock = min(arrival, state.paused_at) if state.paused_at else arrival
    if clock > deadline + timedelta(milliseconds=settings.SUBMISSION_GRACE_MS):
        raise QuestionClosed("The deadline of this question has passed.")
    if not state.question_open:
        # Closed early (skipped, or the contest ended), or it arrived in time and the close
        # came while it waited for the database.
        if state.question_closed_at is not None and arrival < state.question_closed_at:
            raise ServiceUnavailable()
        raise QuestionClosed()
    return clock
