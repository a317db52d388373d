from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contests.errors import (
    ContestHasNoQuestions,
    ContestNotFound,
    ContestNotReady,
    InvalidTransition,
)
from contests.models import Contest
from contests.services import contest_start, contest_tick
from core.time import db_now, iso
from tests.factories import ContestFactory, QuestionFactory, contest_with_questions

pytestmark = pytest.mark.django_db

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def test_it_starts_an_upcoming_contest_with_its_first_question_open():
    contest = contest_with_questions(questions=2)
    first = contest.ordered_questions()[0]

    contest_start(contest_id=contest.pk, now=T0)

    contest.refresh_from_db()
    assert contest.status == Contest.Status.ACTIVE
    assert contest.started_at == T0
    assert contest.current_question_index == 1
    assert contest.question_open is True
    assert contest.question_started_at == T0
    assert contest.question_deadline == T0 + timedelta(seconds=first.time_limit_seconds)
    assert contest.next_question_at is None


def test_it_broadcasts_contest_start_then_the_first_question(committed, broadcasts):
    contest = contest_with_questions(questions=2)
    first = contest.ordered_questions()[0]

    committed(contest_start, contest_id=contest.pk, now=T0)

    assert broadcasts.events(contest.pk) == ["contest_start", "question_broadcast"]
    start, question = broadcasts.data("contest_start")[0], broadcasts.data("question_broadcast")[0]
    assert start["startTime"] == iso(T0)
    assert start["totalQuestions"] == 2
    assert question["questionId"] == str(first.pk)
    assert question["index"] == 1
    assert question["startedAt"] == iso(T0)
    assert question["deadline"] == iso(T0 + timedelta(seconds=first.time_limit_seconds))
    assert [c["text"] for c in question["choices"]] == ["A", "B"]
    assert all(set(c) == {"id", "text"} for c in question["choices"])


def test_its_broadcasts_reach_the_event_log_in_order(committed):
    from realtime.outbound.broadcast import event_log_position, event_log_since

    contest = contest_with_questions(questions=2)

    committed(contest_start, contest_id=contest.pk, now=T0)

    seq, epoch = event_log_position(contest.pk)
    logged = event_log_since(contest.pk, epoch, 0)
    assert seq == 2
    assert '"event":"contest_start"' in logged[0]
    assert '"event":"question_broadcast"' in logged[1]


def test_it_reads_the_database_clock_when_no_time_is_given():
    contest = contest_with_questions(questions=1)

    before = db_now()
    contest_start(contest_id=contest.pk)
    after = db_now()

    contest.refresh_from_db()
    assert before <= contest.started_at <= after


def test_a_contest_with_no_questions_cannot_start(broadcasts):
    contest = ContestFactory()

    with pytest.raises(ContestHasNoQuestions) as raised:
        contest_start(contest_id=contest.pk, now=T0)

    assert raised.value.code == "CONTEST_HAS_NO_QUESTIONS"
    assert raised.value.http_status == 409
    assert isinstance(raised.value, InvalidTransition)
    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING
    assert broadcasts == []


def incomplete_contest(**kwargs) -> Contest:
    """Question 2 is a single-choice question whose choices were never added (the admin
    saves a question before its choices)."""
    contest = contest_with_questions(questions=1, **kwargs)
    QuestionFactory(contest=contest, order=2, type="single_choice")
    return contest


def test_a_contest_with_an_incomplete_question_cannot_start(broadcasts):
    contest = incomplete_contest()

    with pytest.raises(ContestNotReady) as raised:
        contest_start(contest_id=contest.pk, now=T0)

    assert raised.value.code == "CONTEST_NOT_READY"
    assert "Question 2" in raised.value.message
    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING
    assert broadcasts == []


@pytest.mark.parametrize(
    "status", [Contest.Status.ACTIVE, Contest.Status.COMPLETED, Contest.Status.CANCELLED]
)
def test_only_an_upcoming_contest_can_start(status, broadcasts):
    contest = contest_with_questions(questions=1)
    Contest.objects.filter(pk=contest.pk).update(status=status)

    with pytest.raises(InvalidTransition):
        contest_start(contest_id=contest.pk, now=T0)

    contest.refresh_from_db()
    assert contest.status == status
    assert contest.started_at is None
    assert broadcasts == []


def test_starting_an_unknown_contest_is_not_found():
    with pytest.raises(ContestNotFound):
        contest_start(contest_id=uuid.uuid4(), now=T0)


def test_start_now_ignores_a_later_scheduled_start_time():
    contest = contest_with_questions(questions=1, start_time=T0 + timedelta(hours=1))

    contest_start(contest_id=contest.pk, now=T0)

    contest.refresh_from_db()
    assert contest.status == Contest.Status.ACTIVE
    assert contest.start_time == T0 + timedelta(hours=1)
    assert contest.started_at == T0


def test_the_tick_starts_a_scheduled_contest_at_its_start_time(committed, broadcasts):
    contest = contest_with_questions(questions=2, start_time=T0)

    committed(contest_tick, now=T0 - timedelta(milliseconds=1))
    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING

    committed(contest_tick, now=T0)
    contest.refresh_from_db()
    assert contest.status == Contest.Status.ACTIVE
    assert contest.started_at == T0
    room_events = [e for e in broadcasts.events(contest.pk) if e != "timer_update"]
    assert room_events == ["contest_start", "question_broadcast"]


def test_the_tick_leaves_a_contest_without_start_time_alone():
    contest = contest_with_questions(questions=1, start_time=None)

    contest_tick(now=T0 + timedelta(days=3650))

    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING


def test_the_tick_leaves_a_scheduled_contest_without_questions_upcoming():
    contest = ContestFactory(start_time=T0)

    contest_tick(now=T0 + timedelta(seconds=5))

    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING
    assert contest.started_at is None


def test_the_tick_does_not_start_a_scheduled_contest_with_an_incomplete_question(broadcasts):
    contest = incomplete_contest(start_time=T0)

    contest_tick(now=T0 + timedelta(seconds=5))

    contest.refresh_from_db()
    assert contest.status == Contest.Status.UPCOMING
    assert broadcasts == []
