"""The contest's lifecycle: the clock's transitions (docs/CLOCK.md); the organizer
controls that call them are in contests.services.organizer.

Every transition locks the contest row (FOR NO KEY UPDATE: registrations
and submission inserts, which only key-share the row, go on), checks on the locked row
that the state it starts from still holds, writes, and queues its broadcasts with
on_commit. Two ticks, a retried task, or a tick racing an organizer serialise on the
lock; the later one finds the state moved on and does nothing, so each step happens
once. The lock also waits for submissions in flight (they read the row FOR SHARE), so
the stats of a closing question count exactly the answers it accepted.

On time: after the transaction that opens a question commits, a task is queued for its
closing instant (deadline + grace), and after a close, for the next opening instant
(core.periodic.run_task_at: a Celery ETA, or a timer in the embedded mode). The task
runs the same locked-row step as the tick (`contest_advance`), so a duplicate, or the
tick getting there first, does nothing. A question also closes as soon as everyone in
its room answered (`question_close_if_all_answered`), by the same close.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from contests.errors import ContestNotFound
from contests.locks import contest_lock
from contests.models import Contest, Participant, Question, Submission
from contests.selectors import contest_problems, question_stats, started_contest_questions
from core import logs, metrics
from core.periodic import run_task_at
from core.time import db_now
from core.types import ContestId, QuestionId
from leaderboard.ranking import Totals
from leaderboard.selectors import final_top, totals_from_database
from leaderboard.services import (
    final_standings_write,
    leaderboard_broadcast_now,
    leaderboard_record_many,
    leaderboard_touch,
)
from realtime.outbound import emit, presence

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


# The task that runs a transition at its instant (contests.tasks.contest_advance).
ADVANCE_TASK = "contests.tasks.contest_advance"
# A transition is due strictly after its instant (`now > deadline + grace`): the task is
# queued this much later, so it does not find it due a hair too early.
ADVANCE_MARGIN = timedelta(milliseconds=2)
# A task that ran early (a worker's clock ahead of the database's) tries again, at most
# this many times, if the transition is due within ADVANCE_RETRY_WITHIN.
ADVANCE_RETRIES = 3
ADVANCE_RETRY_WITHIN = timedelta(seconds=5)


def _next_instant(contest: Contest) -> datetime | None:
    """When the contest's next clock transition is due, if one is scheduled."""
    if contest.status != Contest.Status.ACTIVE or contest.paused_at is not None:
        return None
    if contest.question_open:
        return _open_question_closes_at(contest)
    return contest.next_question_at


def _advance_at(contest_id: ContestId, when: datetime, attempt: int = 0) -> None:
    try:
        run_task_at(
            ADVANCE_TASK, when + ADVANCE_MARGIN, contest_id=str(contest_id), attempt=attempt
        )
    except Exception:
        # The tick is the safety net: the transition happens at most a tick later.
        logger.exception("Could not schedule the next transition of contest %s", contest_id)


def _advance_schedule(contest: Contest) -> None:
    """After the caller's transaction commits: run the next transition at its instant."""
    when = _next_instant(contest)
    if when is not None:
        transaction.on_commit(lambda: _advance_at(contest.pk, when), robust=True)


def _presence_question(contest: Contest, question: Question | None) -> None:
    """After the commit, tell the room registry which question is open (early close)."""
    question_id = question.pk if question is not None else None
    transaction.on_commit(
        lambda: presence.question_opened(contest_id=contest.pk, question_id=question_id),
        robust=True,
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
    _advance_schedule(contest)
    _presence_question(contest, question)
    freeze = contest.leaderboard_freeze_last
    if freeze and index == len(questions) - freeze + 1:
        # The freeze begins: the next flush sends the board as it stands, frozen.
        transaction.on_commit(lambda: leaderboard_touch(contest_id=contest.pk), robust=True)


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
    # The players' news first among what runs after the commit.
    emit.question_change(
        contest,
        question,
        # After the lock: every submission to this question has committed or been refused.
        stats=question_stats(question_id=question.pk),
        next_question_id=None if final else questions[index].pk,
        next_starts_at=contest.next_question_at,
    )
    _presence_question(contest, None)
    if final:
        _contest_complete(contest, now)
    else:
        _revealed_reach_board(contest, questions, question)
        _advance_schedule(contest)


def _revealed_reach_board(contest: Contest, questions: list[Question], closed: Question) -> None:
    """Answers revealed on close reach the live board now: after the commit, the totals
    (read under the lock: every answer to the question committed) of everyone who
    answered the question that closed, in one write. Nothing in the frozen zone."""
    if not contest.reveals_on_close:
        return
    through = contest.live_board_through(len(questions))
    if through is None or contest.current_question_index > through:
        return
    totals = totals_from_database(
        contest_id=contest.pk,
        question_ids=[str(q.pk) for q in questions[:through]],
        answered_question_id=closed.pk,
    )
    transaction.on_commit(lambda: _board_moves(contest.pk, totals), robust=True)


def _board_moves(contest_id: ContestId, totals: list[Totals]) -> None:
    # Players see the board the close moved at once, not up to a flush interval later.
    leaderboard_record_many(contest_id=contest_id, totals=totals)
    leaderboard_broadcast_now(contest_id=contest_id)


def _contest_complete(contest: Contest, now: datetime) -> None:
    contest.status = Contest.Status.COMPLETED
    contest.ended_at = now
    contest.question_open = False
    contest.next_question_at = None
    contest.paused_at = None
    contest.save(update_fields=_LIVE_FIELDS)
    metrics.transition("complete")
    written = final_standings_write(contest_id=contest.pk)
    board = final_top(contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N, total=written)
    emit.contest_end(contest, board=board)


def _contest_advance(*, contest_id: ContestId, now: datetime | None) -> bool:
    """The tick's step for one contest: whichever transition is due on the locked row;
    False if none was."""
    with transaction.atomic():
        contest = contest_lock(contest_id)
        if contest is None:
            return False
        now = now or db_now()
        if _start_is_due(contest, now):
            problems = contest_problems(contest_id=contest.pk)
            if problems:
                # Players would get a question they cannot answer: wait for the fix
                # (the admin shows the same problems on the contest's page).
                logger.warning("Contest %s is due but not ready: %s", contest.pk, problems)
                return False
            _contest_start(contest, _questions_of(contest), now)
        elif _close_is_due(contest, now):
            _question_close(contest, _questions_of(contest), now, last=False)
        elif _open_next_is_due(contest, now):
            questions = _questions_of(contest)
            _question_open(contest, questions, contest.current_question_index + 1, now)
        else:
            return False
    return True


def contest_advance(*, contest_id: ContestId, attempt: int = 0) -> None:
    """The transition due now on the contest's locked row (the tick's step), run at its
    instant by the task its previous transition queued. A duplicate, or a tick that got
    there first, finds nothing due and does nothing. Run early (a worker's clock ahead
    of the database's), it queues itself again for the instant, up to ADVANCE_RETRIES
    times; past that, the tick does it."""
    if _contest_advance(contest_id=contest_id, now=None) or attempt >= ADVANCE_RETRIES:
        return
    contest = Contest.objects.filter(pk=contest_id).first()
    when = _next_instant(contest) if contest is not None else None
    if when is not None and when - db_now() <= ADVANCE_RETRY_WITHIN:
        _advance_at(contest_id, when, attempt + 1)


def _everyone_answered(contest: Contest, question: Question) -> bool:
    """On the locked row: someone is in the room, and everyone there who still plays has
    answered the question (the database is the judge; presence only names the room)."""
    joined = presence.joined_participants(contest_id=contest.pk)
    playing = Participant.objects.filter(contest=contest, pk__in=joined, removed_at=None)
    answered = Submission.objects.filter(question=question).values("participant_id")
    return playing.exists() and not playing.exclude(pk__in=answered).exists()


def question_close_if_all_answered(
    *, contest_id: ContestId, question_id: QuestionId | None = None
) -> bool:
    """Close the open question now if every participant currently in the contest's room
    (on any web process) has answered it, at least one being there; True if it closed.

    Called after an answer commits and after a socket leaves the room. A quick check
    (the presence registry) first, then the clock's own close on the locked row, after
    re-checking there that the question is still the open one (`question_id`, if given),
    the contest not paused, and everyone still answered: whoever triggers it, and the
    clock, it closes once.
    """
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None or not _may_close_early(contest):
        return False
    index = contest.current_question_index
    # Active, so its questions are frozen and may come from the cache.
    played = started_contest_questions(contest_id=contest.pk).values()
    question = next(p.question for p in played if p.position == index)
    if question_id is not None and str(question.pk) != str(question_id):
        return False
    if not presence.all_joined_answered(contest_id=contest.pk, question_id=question.pk):
        return False
    with transaction.atomic():
        locked = contest_lock(contest_id)
        if (
            locked is None
            or not _may_close_early(locked)
            or locked.current_question_index != index
            or not _everyone_answered(locked, question)
        ):
            return False
        _question_close(locked, _questions_of(locked), db_now(), last=False)
    return True


def _may_close_early(contest: Contest) -> bool:
    return (
        contest.status == Contest.Status.ACTIVE
        and contest.question_open
        and contest.paused_at is None
        and contest.close_when_all_answered
    )


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
