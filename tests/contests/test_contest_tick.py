"""The tick: what it does when something is due, what it does not do otherwise, and that
concurrent ticks perform every transition exactly once."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contests import tasks
from contests.models import Contest
from contests.services import contest_start, contest_tick, participant_register
from leaderboard.models import FinalStanding
from realtime.outbound.broadcast import event_log_position, event_log_since
from tests.factories import UserFactory, contest_with_questions

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)|FOR (NO KEY )?UPDATE|FOR SHARE", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.SUBMISSION_GRACE_MS = 500


def schedule(contest: Contest) -> list[datetime]:
    """The instants at which a tick has something to do, for a contest started at T0
    and played without delay: each close (deadline + grace + 1 ms) and each opening."""
    times, now = [T0], T0
    for i, question in enumerate(contest.ordered_questions()):
        now = now + timedelta(seconds=question.time_limit_seconds, milliseconds=501)
        times.append(now)
        if i < contest.questions.count() - 1:
            now = now + timedelta(seconds=contest.intermission_seconds)
            times.append(now)
    return times


def room_events(contest: Contest) -> list[dict]:
    _, epoch = event_log_position(contest.pk)
    return [json.loads(text) for text in event_log_since(contest.pk, epoch, 0)]


EXPECTED_3 = [
    "contest_start",
    "question_broadcast",
    "question_change",
    "question_broadcast",
    "question_change",
    "question_broadcast",
    "question_change",
    "contest_end",
]


@pytest.mark.django_db
def test_a_tick_with_nothing_due_writes_nothing(broadcasts):
    upcoming = contest_with_questions(questions=1, start_time=T0 + timedelta(hours=1))
    open_ = contest_with_questions(questions=2)
    contest_start(contest_id=open_.pk, now=T0)
    between = contest_with_questions(questions=2, intermission_seconds=30)
    contest_start(contest_id=between.pk, now=T0 - timedelta(seconds=11))
    contest_tick(now=T0)  # closes `between`'s first question
    assert Contest.objects.get(pk=between.pk).question_open is False

    with CaptureQueriesContext(connection) as queries:
        contest_tick(now=T0 + timedelta(seconds=5))

    writes = [q["sql"] for q in queries.captured_queries if WRITE.search(q["sql"])]
    assert writes == []
    assert len(queries.captured_queries) <= 3
    assert Contest.objects.get(pk=upcoming.pk).status == Contest.Status.UPCOMING
    # Still one timer_update for the open question.
    assert broadcasts.events(open_.pk)[-1] == "timer_update"


@pytest.mark.django_db
def test_a_quiet_tick_costs_the_same_queries_for_one_or_many_contests():
    def queries_per_tick() -> int:
        with CaptureQueriesContext(connection) as queries:
            contest_tick(now=T0 + timedelta(seconds=1))
        return len(queries.captured_queries)

    contest_start(contest_id=contest_with_questions(questions=2).pk, now=T0)
    one = queries_per_tick()
    for _ in range(5):
        contest_start(contest_id=contest_with_questions(questions=2).pk, now=T0)

    assert queries_per_tick() == one


@pytest.mark.django_db
def test_a_tick_sends_one_timer_update_per_open_question(broadcasts):
    first = contest_with_questions(questions=2)
    second = contest_with_questions(questions=3)
    contest_start(contest_id=first.pk, now=T0)
    contest_start(contest_id=second.pk, now=T0 + timedelta(seconds=4))
    idle = contest_with_questions(questions=1)

    contest_tick(now=T0 + timedelta(seconds=6, milliseconds=200))

    timers = {d["contestId"]: d for d in broadcasts.data("timer_update")}
    assert set(timers) == {str(first.pk), str(second.pk)}
    assert timers[str(first.pk)]["remainingSeconds"] == 4
    assert timers[str(second.pk)]["remainingSeconds"] == 8
    assert timers[str(first.pk)]["questionId"] == str(first.ordered_questions()[0].pk)
    assert timers[str(first.pk)]["paused"] is False
    assert str(idle.pk) not in broadcasts.events()


@pytest.mark.django_db
def test_a_tick_names_the_question_that_is_open_now(broadcasts):
    contest = contest_with_questions(questions=3)
    # Orders need not be 1..n: position is what counts.
    for question, order in zip(contest.ordered_questions(), [10, 20, 30], strict=True):
        question.order = order
        question.save()
    contest_start(contest_id=contest.pk, now=T0)
    for now in schedule(contest)[1:3]:
        contest_tick(now=now)

    contest_tick(now=schedule(contest)[2] + timedelta(seconds=1))

    second = contest.ordered_questions()[1]
    assert broadcasts.data("timer_update")[-1]["questionId"] == str(second.pk)


@pytest.mark.django_db(transaction=True)
def test_ticks_play_a_contest_from_its_start_time_to_final_standings():
    contest = contest_with_questions(questions=3, start_time=T0)
    for user in UserFactory.create_batch(2):
        participant_register(contest_id=contest.pk, user=user)

    for now in schedule(contest):
        contest_tick(now=now)

    contest.refresh_from_db()
    assert contest.status == Contest.Status.COMPLETED
    # The boards that closes moved come between the transitions (revealed on close).
    events = [e["event"] for e in room_events(contest)]
    assert [e for e in events if e != "leaderboard_update"] == EXPECTED_3
    assert FinalStanding.objects.filter(contest=contest).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_perform_each_transition_exactly_once(broadcasts):
    contest = contest_with_questions(questions=3, start_time=T0)
    participant_register(contest_id=contest.pk, user=UserFactory())
    threads_per_step = 4

    def tick(now: datetime, barrier: threading.Barrier, errors: list[BaseException]) -> None:
        try:
            barrier.wait(timeout=10)
            contest_tick(now=now)
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)
        finally:
            connection.close()

    for now in schedule(contest):
        barrier, errors = threading.Barrier(threads_per_step), []
        threads = [
            threading.Thread(target=tick, args=(now, barrier, errors))
            for _ in range(threads_per_step)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []

    events = room_events(contest)
    # The boards that closes moved come between the transitions (revealed on close).
    transitions = [e for e in events if e["event"] != "leaderboard_update"]
    assert [e["event"] for e in transitions] == EXPECTED_3
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    sent = [e for e in broadcasts.events() if e not in ("timer_update", "leaderboard_update")]
    assert sent == EXPECTED_3
    shown = [e["data"]["index"] for e in events if e["event"] == "question_broadcast"]
    closed = [e["data"]["closedQuestionId"] for e in events if e["event"] == "question_change"]
    assert shown == [1, 2, 3]
    assert closed == [str(q.pk) for q in contest.ordered_questions()]
    assert FinalStanding.objects.filter(contest=contest).count() == 1


@pytest.mark.django_db
def test_the_celery_task_runs_a_tick(broadcasts):
    contest = contest_with_questions(questions=1, start_time=timezone.now() - timedelta(seconds=1))

    tasks.contest_tick.apply().get()

    contest.refresh_from_db()
    assert contest.status == Contest.Status.ACTIVE
    assert broadcasts.events(contest.pk)[-1] == "timer_update"
