"""The organizer controls (contests.controls names them for the API and the admin):
start now, end now, cancel, skip, pause, resume. Each is one transition of the contest
clock (contests.services.lifecycle): it locks the contest row, checks on it that the
contest's state allows it (else InvalidTransition, HTTP 409), writes, and tells players
after the commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from contests.errors import ContestHasNoQuestions, ContestNotReady, InvalidTransition
from contests.models import Contest
from contests.selectors import contest_problems
from contests.services.lifecycle import (
    _LIVE_FIELDS,
    _advance_schedule,
    _contest_complete,
    _contest_lock_or_404,
    _contest_start,
    _question_close,
    _questions_of,
    _timer_update_on_commit,
    question_close_if_all_answered,
)
from core import metrics
from core.time import db_now
from core.types import ContestId
from leaderboard.services import leaderboard_discard
from realtime.outbound import emit


def contest_start(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """upcoming → active, question 1 open ("Start now"; the tick does it at start_time).

    Raises InvalidTransition unless the contest is upcoming, ContestHasNoQuestions if it
    has nothing to play, ContestNotReady if a question is incomplete (both are
    InvalidTransitions).
    """
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.UPCOMING:
            raise InvalidTransition("Only an upcoming contest can start.")
        questions = _questions_of(contest)
        if not questions:
            raise ContestHasNoQuestions()
        problems = contest_problems(contest_id=contest.pk)
        if problems:
            raise ContestNotReady(" ".join(problems))
        _contest_start(contest, questions, now or db_now())
    return contest


def contest_end_now(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """Organizer: end a running contest now. An open question closes first (its answer
    and stats are shown), then the contest completes with final standings."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE:
            raise InvalidTransition("Only a running contest can be ended.")
        now = now or db_now()
        if contest.question_open:
            _question_close(contest, _questions_of(contest), now, last=True)
        else:
            _contest_complete(contest, now)
    return contest


def contest_cancel(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """Organizer: call off an upcoming or running contest. No standings are written;
    players get contest_end with status "cancelled" and an empty finalLeaderboard."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status not in (Contest.Status.UPCOMING, Contest.Status.ACTIVE):
            raise InvalidTransition("Only an upcoming or running contest can be cancelled.")
        contest.status = Contest.Status.CANCELLED
        contest.ended_at = now or db_now()
        contest.question_open = False
        contest.next_question_at = None
        contest.paused_at = None
        contest.save(update_fields=_LIVE_FIELDS)
        metrics.transition("cancel")
        players = contest.participants.filter(removed_at=None).count()
        emit.contest_end(contest, board={"top": [], "totalParticipants": players})
        transaction.on_commit(lambda: leaderboard_discard(contest_id=contest.pk), robust=True)
    return contest


def question_skip(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """Organizer: close the open question now, whatever its deadline (also while paused)."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or not contest.question_open:
            raise InvalidTransition("No question is open.")
        _question_close(contest, _questions_of(contest), now or db_now(), last=False)
    return contest


def contest_pause(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """Organizer: stop the clock of the open question or of the intermission."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or contest.paused_at is not None:
            raise InvalidTransition("Only a running contest that is not paused can pause.")
        now = now or db_now()
        contest.paused_at = now
        contest.save(update_fields=_LIVE_FIELDS)
        metrics.transition("pause")
        _timer_update_on_commit(contest, now)
    return contest


def contest_resume(*, contest_id: ContestId, now: datetime | None = None) -> Contest:
    """Organizer: restart the clock; the open question keeps the time it had left, so its
    start, deadline and the end of the intermission move by the paused duration."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or contest.paused_at is None:
            raise InvalidTransition("Only a paused contest can resume.")
        now = now or db_now()
        paused_for = max(now - contest.paused_at, timedelta(0))
        if contest.question_open:
            # Opening a question sets both, and nothing clears them while it is open.
            assert contest.question_started_at is not None
            assert contest.question_deadline is not None
            contest.question_started_at += paused_for
            contest.question_deadline += paused_for
        if contest.next_question_at is not None:
            contest.next_question_at += paused_for
        contest.paused_at = None
        contest.save(update_fields=_LIVE_FIELDS)
        metrics.transition("resume")
        _timer_update_on_commit(contest, now)
        # The transition that is due next, on time; and a question everyone answered
        # during the pause closes now.
        _advance_schedule(contest)
        if contest.question_open and contest.close_when_all_answered:
            transaction.on_commit(
                lambda: question_close_if_all_answered(contest_id=contest.pk), robust=True
            )
    return contest
