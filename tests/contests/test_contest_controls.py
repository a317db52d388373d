"""Organizer controls: end now, cancel, skip, pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contests.errors import InvalidTransition
from contests.models import Contest
from contests.services import (
    contest_cancel,
    contest_end_now,
    contest_pause,
    contest_resume,
    contest_start,
    contest_tick,
    participant_register,
    question_skip,
)
from core.redis import get_redis
from core.time import iso
from leaderboard import live
from leaderboard.models import FinalStanding
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from tests.factories import UserFactory, contest_with_questions

pytestmark = pytest.mark.django_db

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
LIMIT = timedelta(seconds=10)
INTERMISSION = timedelta(seconds=4)


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.SUBMISSION_GRACE_MS = 500


@pytest.fixture
def running(committed) -> Contest:
    """A 3-question contest started at T0: question 1 open until T0 + 10 s."""
    contest = contest_with_questions(questions=3, intermission_seconds=4)
    # Its start's room events go out now, as they would at its commit.
    return committed(contest_start, contest_id=contest.pk, now=T0)


def reload(contest: Contest) -> Contest:
    contest.refresh_from_db()
    return contest


# --- End now ----------------------------------------------------------------------------


def test_end_now_closes_the_open_question_then_completes(running, committed, broadcasts):
    participant_register(contest_id=running.pk, user=UserFactory())
    first = running.ordered_questions()[0]
    now = T0 + timedelta(seconds=2)

    committed(contest_end_now, contest_id=running.pk, now=now)

    contest = reload(running)
    assert (contest.status, contest.ended_at) == (Contest.Status.COMPLETED, now)
    assert contest.question_open is False
    assert broadcasts.events() == ["question_change", "contest_end"]
    change = broadcasts.data("question_change")[0]
    assert change["closedQuestionId"] == str(first.pk)
    assert (change["nextQuestionId"], change["nextStartsAt"]) == (None, None)
    assert broadcasts.data("contest_end")[0]["totalParticipants"] == 1
    assert FinalStanding.objects.filter(contest=running).count() == 1


def test_end_now_during_an_intermission_only_ends_the_contest(running, committed, broadcasts):
    committed(contest_tick, now=T0 + timedelta(seconds=11))
    broadcasts.clear()

    committed(contest_end_now, contest_id=running.pk, now=T0 + timedelta(seconds=12))

    assert reload(running).status == Contest.Status.COMPLETED
    assert broadcasts.events() == ["contest_end"]


def test_end_now_ends_a_paused_contest(running):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=1))

    contest_end_now(contest_id=running.pk, now=T0 + timedelta(seconds=5))

    contest = reload(running)
    assert contest.status == Contest.Status.COMPLETED
    assert contest.paused_at is None


@pytest.mark.parametrize(
    "status", [Contest.Status.UPCOMING, Contest.Status.COMPLETED, Contest.Status.CANCELLED]
)
def test_end_now_refuses_a_contest_that_is_not_running(status, broadcasts):
    contest = contest_with_questions(questions=1)
    Contest.objects.filter(pk=contest.pk).update(status=status)

    with pytest.raises(InvalidTransition):
        contest_end_now(contest_id=contest.pk, now=T0)

    assert reload(contest).status == status
    assert broadcasts == []


# --- Cancel -----------------------------------------------------------------------------


def test_cancel_calls_off_an_upcoming_contest(committed, broadcasts):
    contest = contest_with_questions(questions=1, start_time=T0)
    participant_register(contest_id=contest.pk, user=UserFactory())

    committed(contest_cancel, contest_id=contest.pk, now=T0 - timedelta(minutes=1))

    contest = reload(contest)
    assert contest.status == Contest.Status.CANCELLED
    assert contest.ended_at == T0 - timedelta(minutes=1)
    assert broadcasts.events() == ["contest_end"]
    end = broadcasts.data("contest_end")[0]
    assert end["status"] == "cancelled"
    assert end["finalLeaderboard"] == []
    assert end["totalParticipants"] == 1
    # A cancelled scheduled contest never starts.
    contest_tick(now=T0 + timedelta(seconds=1))
    assert reload(contest).status == Contest.Status.CANCELLED


def test_cancel_stops_a_running_contest_without_revealing_the_answer(
    running, committed, broadcasts
):
    committed(contest_cancel, contest_id=running.pk, now=T0 + timedelta(seconds=3))

    contest = reload(running)
    assert contest.status == Contest.Status.CANCELLED
    assert contest.question_open is False
    assert broadcasts.events() == ["contest_end"]
    assert FinalStanding.objects.filter(contest=running).count() == 0
    # Nothing more happens to it.
    contest_tick(now=T0 + timedelta(minutes=5))
    assert reload(running).status == Contest.Status.CANCELLED


def test_a_cancelled_contest_has_no_ranking_and_its_live_board_is_dropped(running, committed):
    player, _ = committed(participant_register, contest_id=running.pk, user=UserFactory())
    client = get_redis()
    assert client.keys(live.key(running.pk, "ranking"))

    committed(contest_cancel, contest_id=running.pk, now=T0 + timedelta(seconds=3))

    assert leaderboard_ranks(contest_id=running.pk, participant_ids=[player.pk]) == {}
    assert leaderboard_top(contest_id=running.pk, limit=10) == {
        "top": [],
        "totalParticipants": 1,
    }
    assert client.keys(live.key(running.pk, "ranking")) == []


@pytest.mark.parametrize("status", [Contest.Status.COMPLETED, Contest.Status.CANCELLED])
def test_cancel_refuses_a_contest_that_is_over(status):
    contest = contest_with_questions(questions=1)
    Contest.objects.filter(pk=contest.pk).update(status=status)

    with pytest.raises(InvalidTransition):
        contest_cancel(contest_id=contest.pk, now=T0)


# --- Skip -------------------------------------------------------------------------------


def test_skip_closes_the_open_question_before_its_deadline(running, committed, broadcasts):
    now = T0 + timedelta(seconds=3)

    committed(question_skip, contest_id=running.pk, now=now)

    contest = reload(running)
    assert contest.question_open is False
    assert contest.next_question_at == now + INTERMISSION
    assert broadcasts.events() == ["question_change"]
    assert broadcasts.data("question_change")[0]["nextStartsAt"] == iso(now + INTERMISSION)


def test_skip_refuses_when_no_question_is_open(running):
    question_skip(contest_id=running.pk, now=T0 + timedelta(seconds=3))

    with pytest.raises(InvalidTransition):
        question_skip(contest_id=running.pk, now=T0 + timedelta(seconds=4))


def test_skipping_the_last_question_completes_the_contest(committed, broadcasts):
    contest = contest_with_questions(questions=1)
    committed(contest_start, contest_id=contest.pk, now=T0)
    broadcasts.clear()

    committed(question_skip, contest_id=contest.pk, now=T0 + timedelta(seconds=1))

    assert reload(contest).status == Contest.Status.COMPLETED
    assert broadcasts.events() == ["question_change", "contest_end"]


def test_skip_while_paused_keeps_the_pause_and_the_whole_intermission(running):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=2))
    question_skip(contest_id=running.pk, now=T0 + timedelta(seconds=5))
    contest_resume(contest_id=running.pk, now=T0 + timedelta(seconds=30))

    assert reload(running).next_question_at == T0 + timedelta(seconds=30) + INTERMISSION


# --- Pause and resume -------------------------------------------------------------------


def test_pause_stops_the_clock_and_tells_players(running, committed, broadcasts):
    now = T0 + timedelta(seconds=3)

    committed(contest_pause, contest_id=running.pk, now=now)

    assert reload(running).paused_at == now
    assert broadcasts.events() == ["timer_update"]
    timer = broadcasts.data("timer_update")[0]
    assert timer["paused"] is True
    assert timer["remainingSeconds"] == 7
    assert timer["questionId"] == str(running.ordered_questions()[0].pk)


def test_a_paused_question_keeps_its_remaining_time_on_timer_updates(running, broadcasts):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=3))

    contest_tick(now=T0 + timedelta(seconds=60))

    contest = reload(running)
    assert contest.question_open is True
    timer = broadcasts.data("timer_update")[-1]
    assert (timer["paused"], timer["remainingSeconds"]) == (True, 7)


def test_resume_moves_the_question_by_the_paused_duration(running, committed, broadcasts):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=3))
    resumed_at = T0 + timedelta(seconds=20)

    committed(contest_resume, contest_id=running.pk, now=resumed_at)

    contest = reload(running)
    assert contest.paused_at is None
    assert contest.question_started_at == T0 + timedelta(seconds=17)
    assert contest.question_deadline == T0 + timedelta(seconds=27)
    assert contest.question_deadline - contest.question_started_at == LIMIT
    timer = broadcasts.data("timer_update")[-1]
    assert (timer["paused"], timer["remainingSeconds"]) == (False, 7)
    assert timer["deadline"] == iso(T0 + timedelta(seconds=27))


def test_two_pauses_add_up(running):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=1))
    contest_resume(contest_id=running.pk, now=T0 + timedelta(seconds=4))
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=5))
    contest_resume(contest_id=running.pk, now=T0 + timedelta(seconds=10))

    assert reload(running).question_deadline == T0 + LIMIT + timedelta(seconds=8)


def test_pause_during_an_intermission_delays_the_next_question(running):
    contest_tick(now=T0 + timedelta(seconds=11))
    opens_at = reload(running).next_question_at
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=12))

    contest_tick(now=opens_at + timedelta(seconds=30))
    assert reload(running).question_open is False

    contest_resume(contest_id=running.pk, now=T0 + timedelta(seconds=52))
    contest = reload(running)
    assert contest.next_question_at == opens_at + timedelta(seconds=40)
    assert contest.current_question_index == 1
    # The closed question's times are history: a resume leaves them alone.
    assert contest.question_deadline == T0 + LIMIT


def test_pause_refuses_a_paused_contest(running):
    contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=1))

    with pytest.raises(InvalidTransition):
        contest_pause(contest_id=running.pk, now=T0 + timedelta(seconds=2))

    assert reload(running).paused_at == T0 + timedelta(seconds=1)


def test_resume_refuses_a_contest_that_is_not_paused(running, broadcasts):
    with pytest.raises(InvalidTransition):
        contest_resume(contest_id=running.pk, now=T0 + timedelta(seconds=1))

    assert broadcasts == []


@pytest.mark.parametrize(
    "status", [Contest.Status.UPCOMING, Contest.Status.COMPLETED, Contest.Status.CANCELLED]
)
def test_pause_refuses_a_contest_that_is_not_running(status):
    contest = contest_with_questions(questions=1)
    Contest.objects.filter(pk=contest.pk).update(status=status)

    with pytest.raises(InvalidTransition):
        contest_pause(contest_id=contest.pk, now=T0)
