"""The clock's own steps: a question closes at its deadline, the next one opens after
the intermission, the contest completes after its last question."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from contests.clock import db_now, iso
from contests.errors import InvalidTransition
from contests.models import Contest
from contests.services import (
    contest_complete,
    contest_start,
    contest_tick,
    participant_register,
    question_close,
    question_open_next,
    question_skip,
    submission_create,
)
from leaderboard.models import FinalStanding
from tests.factories import SubmissionFactory, UserFactory, contest_with_questions

pytestmark = pytest.mark.django_db

GRACE = timedelta(milliseconds=500)


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.SUBMISSION_GRACE_MS = 500


@pytest.fixture
def running() -> Contest:
    """A 2-question contest whose first question opened just now (database clock)."""
    contest = contest_with_questions(questions=2, intermission_seconds=3)
    return contest_start(contest_id=contest.pk)


def answer(contest: Contest, user, text: str) -> None:
    question = contest.ordered_questions()[contest.current_question_index - 1]
    participant_register(contest_id=contest.pk, user=user)
    submission_create(
        contest_id=contest.pk,
        question_id=question.pk,
        user=user,
        answer=str(question.choices.get(text=text).pk),
    )


def past_deadline(contest: Contest) -> object:
    return contest.question_deadline + GRACE + timedelta(milliseconds=1)


def test_a_question_stays_open_through_the_grace_period(running, broadcasts):
    with pytest.raises(InvalidTransition):
        question_close(contest_id=running.pk, now=running.question_deadline + GRACE)

    running.refresh_from_db()
    assert running.question_open is True
    assert broadcasts == []


def test_a_question_closes_after_its_deadline_and_the_grace_period(running):
    now = past_deadline(running)

    question_close(contest_id=running.pk, now=now)

    running.refresh_from_db()
    assert running.status == Contest.Status.ACTIVE
    assert running.current_question_index == 1
    assert running.question_open is False


def test_the_intermission_counts_from_when_the_question_was_due_to_close(running):
    due = running.question_deadline + GRACE

    question_close(contest_id=running.pk, now=due + timedelta(milliseconds=900))

    assert Contest.objects.get(pk=running.pk).next_question_at == due + timedelta(seconds=3)


def test_after_a_long_outage_the_next_question_opens_at_the_next_tick(running):
    late = running.question_deadline + timedelta(minutes=5)
    question_close(contest_id=running.pk, now=late)

    contest_tick(now=late + timedelta(seconds=1))

    assert Contest.objects.get(pk=running.pk).current_question_index == 2


def test_closing_reveals_the_answer_with_exact_stats(running, committed, broadcasts):
    first, second = running.ordered_questions()
    answer(running, UserFactory(), "A")
    answer(running, UserFactory(), "A")
    answer(running, UserFactory(), "B")
    now = past_deadline(running)

    committed(question_close, contest_id=running.pk, now=now)

    assert broadcasts.events(running.pk) == ["question_change"]
    change = broadcasts.data("question_change")[0]
    assert change["closedQuestionId"] == str(first.pk)
    assert change["correctAnswer"] == str(first.choices.get(text="A").pk)
    assert change["stats"] == {"answered": 3, "correct": 2}
    assert change["nextQuestionId"] == str(second.pk)
    assert change["nextStartsAt"] == iso(running.question_deadline + GRACE + timedelta(seconds=3))


@pytest.mark.django_db(transaction=True)
def test_closing_waits_for_a_submission_in_flight_and_counts_it(broadcasts):
    contest = contest_start(contest_id=contest_with_questions(questions=2).pk)
    question = contest.ordered_questions()[0]
    participant = participant_register(contest_id=contest.pk, user=UserFactory())[0]
    errors: list[BaseException] = []

    def skip() -> None:
        try:
            question_skip(contest_id=contest.pk)
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)
        finally:
            connection.close()

    closer = threading.Thread(target=skip)
    with transaction.atomic():
        # What submission_create holds while it grades an answer.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM contests_contest WHERE id = %s FOR SHARE", [str(contest.pk)]
            )
        closer.start()
        wait_until_a_lock_is_awaited()
        SubmissionFactory(
            participant=participant,
            question=question,
            answer=str(question.choices.get(text="A").pk),
            is_correct=True,
        )
    closer.join(timeout=30)

    assert errors == []
    assert broadcasts.data("question_change")[0]["stats"] == {"answered": 1, "correct": 1}


def wait_until_a_lock_is_awaited(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError("Nothing waited for the contest row.")


def test_a_closed_question_cannot_close_again(running, broadcasts, committed):
    now = past_deadline(running)
    committed(question_close, contest_id=running.pk, now=now)

    with pytest.raises(InvalidTransition):
        question_close(contest_id=running.pk, now=now + timedelta(seconds=1))

    assert broadcasts.events() == ["question_change"]


def test_a_paused_question_does_not_close_at_its_deadline(running):
    Contest.objects.filter(pk=running.pk).update(paused_at=running.question_started_at)

    with pytest.raises(InvalidTransition):
        question_close(contest_id=running.pk, now=past_deadline(running))


def test_the_next_question_opens_when_the_intermission_ends(running, committed, broadcasts):
    closed_at = past_deadline(running)
    question_close(contest_id=running.pk, now=closed_at)
    running.refresh_from_db()
    second = running.ordered_questions()[1]
    opens_at = running.next_question_at

    with pytest.raises(InvalidTransition):
        question_open_next(contest_id=running.pk, now=opens_at - timedelta(milliseconds=1))
    committed(question_open_next, contest_id=running.pk, now=opens_at)

    running.refresh_from_db()
    assert running.current_question_index == 2
    assert running.question_open is True
    assert running.question_started_at == opens_at
    assert running.question_deadline == opens_at + timedelta(seconds=second.time_limit_seconds)
    assert running.next_question_at is None
    assert broadcasts.events() == ["question_broadcast"]
    shown = broadcasts.data("question_broadcast")[0]
    assert (shown["questionId"], shown["index"], shown["totalQuestions"]) == (str(second.pk), 2, 2)


def test_a_late_tick_gives_the_next_question_its_whole_time_limit(running):
    question_close(contest_id=running.pk, now=past_deadline(running))
    running.refresh_from_db()
    late = running.next_question_at + timedelta(seconds=7)

    question_open_next(contest_id=running.pk, now=late)

    running.refresh_from_db()
    assert running.question_started_at == late
    assert running.question_deadline - running.question_started_at == timedelta(seconds=10)


def test_no_question_opens_while_one_is_open(running):
    with pytest.raises(InvalidTransition):
        question_open_next(contest_id=running.pk, now=running.question_deadline)


def test_the_contest_completes_when_its_last_question_closes(running, committed, broadcasts):
    winner, loser = UserFactory(display_name="Winner"), UserFactory(display_name="Loser")
    answer(running, winner, "A")
    answer(running, loser, "B")
    question_close(contest_id=running.pk, now=past_deadline(running))
    running.refresh_from_db()
    question_open_next(contest_id=running.pk, now=running.next_question_at)
    running.refresh_from_db()
    last = running.ordered_questions()[1]
    ended_at = past_deadline(running)

    committed(question_close, contest_id=running.pk, now=ended_at)

    running.refresh_from_db()
    assert running.status == Contest.Status.COMPLETED
    assert running.ended_at == ended_at
    assert running.question_open is False
    assert running.next_question_at is None
    assert broadcasts.events() == ["question_change", "contest_end"]
    change, end = broadcasts.data("question_change")[0], broadcasts.data("contest_end")[0]
    assert change["closedQuestionId"] == str(last.pk)
    assert (change["nextQuestionId"], change["nextStartsAt"]) == (None, None)
    assert end["status"] == "completed"
    assert end["endedAt"] == iso(ended_at)
    assert end["totalParticipants"] == 2
    assert [row["displayName"] for row in end["finalLeaderboard"]] == ["Winner", "Loser"]
    assert end["you"] is None
    standings = FinalStanding.objects.filter(contest=running).order_by("rank")
    assert [(s.participant.display_name, s.rank) for s in standings] == [
        ("Winner", 1),
        ("Loser", 2),
    ]


def test_contest_complete_refuses_while_a_question_is_open(running):
    with pytest.raises(InvalidTransition):
        contest_complete(contest_id=running.pk)

    running.refresh_from_db()
    assert running.status == Contest.Status.ACTIVE


def test_contest_complete_ends_a_contest_between_questions(running, committed, broadcasts):
    question_close(contest_id=running.pk, now=past_deadline(running))
    now = db_now()

    committed(contest_complete, contest_id=running.pk, now=now)

    running.refresh_from_db()
    assert (running.status, running.ended_at) == (Contest.Status.COMPLETED, now)
    assert broadcasts.events() == ["contest_end"]


def test_contest_complete_refuses_a_contest_that_is_not_running():
    contest = contest_with_questions(questions=1)

    with pytest.raises(InvalidTransition):
        contest_complete(contest_id=contest.pk)
