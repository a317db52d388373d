"""The contest's lifecycle: the clock's transitions and the organizer controls
(docs/CLOCK.md).

Every transition locks the contest row (FOR NO KEY UPDATE: registrations
and submission inserts, which only key-share the row, go on), checks on the locked row
that the state it starts from still holds, writes, and queues its broadcasts with
on_commit. Two ticks, a retried task, or a tick racing an organizer serialise on the
lock; the later one finds the state moved on and does nothing, so each step happens
once. The lock also waits for submissions in flight (they read the row FOR SHARE), so
the stats of a closing question count exactly the answers it accepted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from contests.errors import (
    ContestHasNoQuestions,
    ContestNotFound,
    ContestNotReady,
    InvalidTransition,
)
from contests.locks import contest_lock
from contests.models import Contest, Question
from contests.selectors import contest_problems, question_stats
from core import logs, metrics
from core.time import db_now
from core.types import ContestId
from leaderboard.selectors import leaderboard_top
from leaderboard.services import final_standings_write, leaderboard_discard
from realtime.outbound import emit

logger = logging.getLogger(__name__)

_LIVE_FIELDS = ["status", *Contest.LIVE_STATE_FIELDS]


def _grace() -> timedelta:
    return timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)


def _contest_lock_or_404(contest_id: ContestId) -> Contest:
    contest = contest_lock(contest_id)
    if contest is None:
        raise ContestNotFound()
    return contest


def _questions_of(contest: Contest) -> list[Question]:
    return list(contest.questions.order_by("order", "id").prefetch_related("choices"))


def _timer_update_on_commit(contest: Contest, now: datetime) -> None:
    question_id = contest.questions.order_by("order", "id").values_list("id", flat=True)[
        contest.current_question_index - 1
    ]
    emit.timer_update(contest, question_id=question_id, now=now)


def _start_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.UPCOMING
        and contest.start_time is not None
        and contest.start_time <= now
    )


def _open_question_closes_at(contest: Contest) -> datetime:
    """When the open question is due to close: its deadline, plus the grace for answers
    in flight."""
    # Opening a question sets its deadline, and nothing clears it while it is open.
    assert contest.question_deadline is not None
    return contest.question_deadline + _grace()


def _close_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.ACTIVE
        and contest.question_open
        and contest.paused_at is None
        and now > _open_question_closes_at(contest)
    )


def _open_next_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.ACTIVE
        and not contest.question_open
        and contest.paused_at is None
        and contest.next_question_at is not None
        and contest.next_question_at <= now
    )


def _question_open(contest: Contest, questions: list[Question], index: int, now: datetime) -> None:
    question = questions[index - 1]
    contest.current_question_index = index
    contest.question_open = True
    contest.question_started_at = now
    contest.question_deadline = now + timedelta(seconds=question.time_limit_seconds)
    contest.question_closed_at = None
    contest.next_question_at = None
    contest.save(update_fields=_LIVE_FIELDS)
    metrics.transition("question_open")
    emit.question_broadcast(contest, question, index=index, total_questions=len(questions), now=now)


def _contest_start(contest: Contest, questions: list[Question], now: datetime) -> None:
    contest.status = Contest.Status.ACTIVE
    contest.started_at = now
    contest.paused_at = None
    metrics.transition("start")
    emit.contest_start(contest, questions)
    _question_open(contest, questions, 1, now)


def _question_close(
    contest: Contest, questions: list[Question], now: datetime, *, last: bool
) -> None:
    """Close the open question; the contest completes after its last one (or if `last`)."""
    index = contest.current_question_index
    question = questions[index - 1]
    final = last or index == len(questions)
    contest.question_open = False
    contest.question_closed_at = now
    if final:
        contest.next_question_at = None
    else:
        closed_at = now
        if contest.paused_at is not None:
            # Skipped during a pause: the whole intermission waits for the resume.
            contest.paused_at = now
        else:
            # Counted from when the question was due to close, not from the tick that
            # closed it (up to one tick later), so intermissions keep their length; after
            # a tick late by more than the intermission, the next tick opens the question.
            closed_at = min(now, _open_question_closes_at(contest))
        contest.next_question_at = closed_at + timedelta(seconds=contest.intermission_seconds)
    contest.save(update_fields=_LIVE_FIELDS)
    metrics.transition("question_close")
    emit.question_change(
        contest,
        question,
        # After the lock: every submission to this question has committed or been refused.
        stats=question_stats(question_id=question.pk),
        next_question_id=None if final else questions[index].pk,
        next_starts_at=contest.next_question_at,
    )
    if final:
        _contest_complete(contest, now)


def _contest_complete(contest: Contest, now: datetime) -> None:
    contest.status = Contest.Status.COMPLETED
    contest.ended_at = now
    contest.question_open = False
    contest.next_question_at = None
    contest.paused_at = None
    contest.save(update_fields=_LIVE_FIELDS)
    metrics.transition("complete")
    final_standings_write(contest_id=contest.pk)
    emit.contest_end(
        contest, board=leaderboard_top(contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N)
    )


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
        emit.contest_end(
            contest, board={"top": [], "totalParticipants": contest.participants.count()}
        )
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
    return contest


def _contest_advance(*, contest_id: ContestId, now: datetime | None) -> None:
    """The tick's step for one contest: whichever transition is due on the locked row."""
    with transaction.atomic():
        contest = contest_lock(contest_id)
        if contest is None:
            return
        now = now or db_now()
        if _start_is_due(contest, now):
            problems = contest_problems(contest_id=contest.pk)
            if problems:
                # Players would get a question they cannot answer: wait for the fix
                # (the admin shows the same problems on the contest's page).
                logger.warning("Contest %s is due but not ready: %s", contest.pk, problems)
                return
            _contest_start(contest, _questions_of(contest), now)
        elif _close_is_due(contest, now):
            _question_close(contest, _questions_of(contest), now, last=False)
        elif _open_next_is_due(contest, now):
            questions = _questions_of(contest)
            _question_open(contest, questions, contest.current_question_index + 1, now)


def _timer_updates_send(now: datetime | None) -> None:
    """One timer_update per open question (paused ones too, showing the pause)."""
    position = Window(
        RowNumber(), partition_by=F("contest_id"), order_by=[F("order").asc(), F("id").asc()]
    )
    current = list(
        Question.objects.filter(contest__status=Contest.Status.ACTIVE, contest__question_open=True)
        .annotate(position=position)
        .filter(position=F("contest__current_question_index"))
        .select_related("contest")
        .only("id", "contest")
    )
    if not current:
        return
    now = now or db_now()
    for question in current:
        emit.timer_update_now(question.contest, question_id=question.pk, now=now)


def contest_tick(*, now: datetime | None = None) -> None:
    """One beat of the contest clock (Celery beat, or the embedded loop).

    Starts due scheduled contests, performs the due transition of every active contest,
    then sends one timer_update per open question. It reads a constant number of rows
    per active contest and writes only where something is due. A contest whose start
    time passed while it has no questions stays upcoming until it has one.
    """
    due_at = now or db_now()
    has_questions = Exists(Question.objects.filter(contest=OuterRef("pk")))
    due = Contest.objects.filter(
        Q(status=Contest.Status.UPCOMING, start_time__lte=due_at) & Q(has_questions)
        | Q(
            status=Contest.Status.ACTIVE,
            paused_at=None,
            question_open=True,
            question_deadline__lt=due_at - _grace(),
        )
        | Q(
            status=Contest.Status.ACTIVE,
            paused_at=None,
            question_open=False,
            next_question_at__lte=due_at,
        )
    )
    for contest_id in due.values_list("pk", flat=True):
        # One broken contest must not stop the clock of the others.
        try:
            with logs.bound(contest_id=contest_id):
                _contest_advance(contest_id=contest_id, now=now)
        except Exception:
            logger.exception("The contest clock could not advance contest %s", contest_id)
    _timer_updates_send(now)
