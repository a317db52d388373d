"""Submissions: one answer per participant and question, graded, scored and stored
before it is acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
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
    QuestionClosed,
    QuestionNotFound,
)
from contests.locks import contest_share_live_state
from contests.models import Contest, Submission
from contests.selectors import started_contest_questions
from core.types import ContestId, QuestionId
from leaderboard.selectors import totals_from_database
from leaderboard.services import leaderboard_record


@dataclass(frozen=True)
class SubmissionOutcome:
    submission: Submission
    total_score: int


def submission_create(
    *, contest_id: ContestId, question_id: QuestionId, user: User, answer: Any
) -> SubmissionOutcome:
    """Grade, score and store one answer; committed before this returns.

    Lateness and response time come from the stored question start and deadline and the
    database's clock, never from the client. While a contest is paused its clock stands
    still: an answer sent during the pause is timed at the moment of the pause.
    Four statements: the live state, the insert, the participant's new totals (for the
    reply and the leaderboard) and the commit.
    """
    try:
        with transaction.atomic():
            state = contest_share_live_state(contest_id, user.pk)
            if state is None:
                raise ContestNotFound()
            if state.status != Contest.Status.ACTIVE:
                raise ContestNotActive()
            participant_id = state.participant_id
            if participant_id is None:
                raise NotRegistered()
            # The contest is active, so its questions are frozen and may come from cache.
            played = started_contest_questions(contest_id=contest_id).get(str(question_id))
            if played is None:
                raise QuestionNotFound()
            if not state.question_open or played.position != state.current_question_index:
                raise QuestionClosed()
            # Opening a question sets its start and deadline, and nothing clears them
            # while it is open.
            started_at, deadline = state.question_started_at, state.question_deadline
            assert started_at is not None and deadline is not None
            grace = timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)
            # A pause stops the clock, but not one that came after the deadline passed.
            if (state.paused_at or state.now) > deadline + grace:
                raise QuestionClosed("The deadline of this question has passed.")

            question, choices = played.question, played.choices
            normalized = grading.answer_normalize(question, choices, answer)
            is_correct = grading.answer_is_correct(question, choices, normalized)
            clock = state.paused_at or state.now
            response_ms = max(0, int((clock - started_at).total_seconds() * 1000))
            points = grading.points_for(
                question=question,
                scoring_mode=state.scoring_mode,
                is_correct=is_correct,
                response_time_ms=response_ms,
            )
            # The last write of the transaction: a duplicate fails it as a whole (no
            # savepoint needed), caught below.
            submission = Submission.objects.create(
                participant_id=participant_id,
                question=question,
                answer=normalized,
                is_correct=is_correct,
                points_awarded=points,
                response_time_ms=response_ms,
                received_at=state.now,
            )
            (totals,) = totals_from_database(contest_id=contest_id, participant_id=participant_id)
            # robust: the answer is committed whatever happens to the leaderboard's
            # cache (it is rebuilt from the database), so its reply must still go out.
            transaction.on_commit(
                lambda: leaderboard_record(
                    contest_id=contest_id, participant_id=participant_id, totals=totals
                ),
                robust=True,
            )
    except IntegrityError:
        raise DuplicateSubmission() from None
    return SubmissionOutcome(submission=submission, total_score=totals.score)
