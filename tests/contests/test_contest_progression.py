"""The clock's own steps, as the tick performs them: a question closes at its deadline,
the next one opens after the intermission, the contest completes after its last question."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction

from contests.models import Contest
from contests.services import (
    contest_start,
    contest_tick,
    participant_register,
    question_skip,
    submission_create,
)
from core.time import iso
from leaderboard.models import FinalStanding
from tests.conftest import DatabaseThread
from tests.factories import SubmissionFactory, UserFactory, contest_with_questions

pytestmark = pytest.mark.django_db

GRACE = timedelta(milliseconds=500)


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.SUBMISSION_GRACE_MS = 500


@pytest.fixture
def running(committed) -> Contest:
    """A 2-question contest whose first question opened just now (database clock)."""
    contest = contest_with_questions(questions=2, intermission_seconds=3)
    # Its start's room events go out now, as they would at its commit.
    return committed(contest_start, contest_id=contest.pk)


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


def reload(contest: Contest) -> Contest:
    contest.refresh_from_db()
    return contest


def test_a_question_stays_open_through_the_grace_period(running, committed, broadcasts):
    committed(contest_tick, now=running.question_deadline + GRACE)

    assert reload(running).question_open is True
    assert "question_change" not in broadcasts.events()


def test_a_question_closes_after_its_deadline_and_the_grace_period(running):
    contest_tick(now=past_deadline(running))

    contest = reload(running)
    assert contest.status == Contest.Status.ACTIVE
    assert contest.current_question_index == 1
    assert contest.question_open is False


def test_the_intermission_counts_from_when_the_question_was_due_to_close(running):
    due = running.question_deadline + GRACE

    contest_tick(now=due + timedelta(milliseconds=900))

    assert reload(running).next_question_at == due + timedelta(seconds=3)


def test_after_a_long_outage_the_next_question_opens_at_the_next_tick(running):
    late = running.question_deadline + timedelta(minutes=5)
    contest_tick(now=late)

    contest_tick(now=late + timedelta(seconds=1))

    assert reload(running).current_question_index == 2


def test_closing_reveals_the_answer_with_exact_stats(running, committed, broadcasts):
    first, second = running.ordered_questions()
    answer(running, UserFactory(), "A")
    answer(running, UserFactory(), "A")
    answer(running, UserFactory(), "B")
    now = past_deadline(running)

    committed(contest_tick, now=now)

    # Revealed on close (the default): the board the close moved follows at once.
    assert broadcasts.events(running.pk) == ["question_change", "leaderboard_update"]
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
    closer = DatabaseThread(lambda: question_skip(contest_id=contest.pk))

    with transaction.atomic():
        # What submission_create holds while it grades an answer.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM contests_contest WHERE id = %s FOR SHARE", [str(contest.pk)]
            )
        closer.start_until_blocked(table="contests_contest")
        SubmissionFactory(
            participant=participant,
            question=question,
            answer=str(question.choices.get(text="A").pk),
            is_correct=True,
        )
    closer.outcome()

    assert broadcasts.data("question_change")[0]["stats"] == {"answered": 1, "correct": 1}


def test_a_closed_question_cannot_close_again(running, broadcasts, committed):
    now = past_deadline(running)
    committed(contest_tick, now=now)

    committed(contest_tick, now=now + timedelta(seconds=1))

    assert broadcasts.events() == ["question_change"]


def test_a_paused_question_does_not_close_at_its_deadline(running, committed, broadcasts):
    Contest.objects.filter(pk=running.pk).update(paused_at=running.question_started_at)

    committed(contest_tick, now=past_deadline(running))

    assert reload(running).question_open is True
    assert "question_change" not in broadcasts.events()


def test_the_next_question_opens_when_the_intermission_ends(running, committed, broadcasts):
    contest_tick(now=past_deadline(running))
    opens_at = reload(running).next_question_at
    second = running.ordered_questions()[1]

    committed(contest_tick, now=opens_at - timedelta(milliseconds=1))
    assert reload(running).question_open is False
    committed(contest_tick, now=opens_at)

    contest = reload(running)
    assert contest.current_question_index == 2
    assert contest.question_open is True
    assert contest.question_started_at == opens_at
    assert contest.question_deadline == opens_at + timedelta(seconds=second.time_limit_seconds)
    assert contest.next_question_at is None
    assert len(broadcasts.data("question_broadcast")) == 1
    shown = broadcasts.data("question_broadcast")[0]
    assert (shown["questionId"], shown["index"], shown["totalQuestions"]) == (str(second.pk), 2, 2)


def test_a_late_tick_gives_the_next_question_its_whole_time_limit(running):
    contest_tick(now=past_deadline(running))
    late = reload(running).next_question_at + timedelta(seconds=7)

    contest_tick(now=late)

    contest = reload(running)
    assert contest.question_started_at == late
    assert contest.question_deadline - contest.question_started_at == timedelta(seconds=10)


def test_no_question_opens_while_one_is_open(running):
    opened_at = running.question_started_at

    contest_tick(now=running.question_deadline)

    contest = reload(running)
    assert (contest.current_question_index, contest.question_open) == (1, True)
    assert contest.question_started_at == opened_at


def test_the_contest_completes_when_its_last_question_closes(running, committed, broadcasts):
    winner, loser = UserFactory(display_name="Winner"), UserFactory(display_name="Loser")
    answer(running, winner, "A")
    answer(running, loser, "B")
    committed(contest_tick, now=past_deadline(running))
    committed(contest_tick, now=reload(running).next_question_at)
    last = running.ordered_questions()[1]
    ended_at = past_deadline(reload(running))
    broadcasts.clear()

    committed(contest_tick, now=ended_at)

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
