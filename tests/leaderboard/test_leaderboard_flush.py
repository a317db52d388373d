from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from accounts.models import User
from contests.models import Contest, Participant
from contests.services import submission_create
from leaderboard.selectors import leaderboard_ranks, leaderboard_top, standings_from_database
from leaderboard.services import final_standings_write, leaderboard_flush, leaderboard_record
from realtime.outbound import broadcast, personalize
from tests.factories import contest_with_questions, open_question
from tests.leaderboard.conftest import (
    RoomLog,
    active_contest,
    answer,
    at,
    final_order,
    join,
)

pytestmark = pytest.mark.django_db


def test_500_submissions_within_one_interval_make_one_update_per_flush(committed, flush):
    # Revealed at once: every answer reaches the board as it commits.
    contest = open_question(
        contest_with_questions(questions=1, answer_reveal=Contest.AnswerReveal.IMMEDIATE)
    )
    users = User.objects.bulk_create(
        User(username=f"batch{i}", display_name=f"Batch {i}") for i in range(500)
    )
    participants = Participant.objects.bulk_create(
        Participant(contest=contest, user=u, display_name=u.display_name, registered_at=at(i))
        for i, u in enumerate(users)
    )
    for p in participants:
        leaderboard_record(contest_id=contest.pk, participant_id=p.pk)
    room = RoomLog(contest)
    flush()
    assert len(room.new_updates()) == 1
    question = contest.ordered_questions()[0]
    choices = {c.text: str(c.pk) for c in question.choices.all()}

    for i, user in enumerate(users):
        committed(
            submission_create,
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=choices["A" if i % 3 else "B"],
        )
    flush()

    (update,) = room.new_updates()
    standings = standings_from_database(contest_id=contest.pk)
    assert update["totalParticipants"] == 500
    assert update["you"] is None
    assert update["top"] == [
        {
            "rank": s.rank,
            "userId": s.totals.user_id,
            "displayName": s.totals.display_name,
            "score": s.totals.score,
        }
        for s in standings[: settings.LEADERBOARD_TOP_N]
    ]
    assert update["top"][0]["score"] > 0

    flush()
    assert room.new_events() == []


def test_a_flush_sends_nothing_for_a_contest_without_changes(flush):
    changed, unchanged = active_contest(), active_contest()
    player = join(changed, "Ann")
    join(unchanged, "Bob")
    flush()
    changed_room, unchanged_room = RoomLog(changed), RoomLog(unchanged)

    answer(player, changed.ordered_questions()[0], points=100)
    flush()

    assert [u["top"][0]["score"] for u in changed_room.new_updates()] == [100]
    assert unchanged_room.new_events() == []


def test_a_flush_sends_nothing_for_a_contest_that_is_not_running(flush):
    upcoming = contest_with_questions(questions=1)
    room = RoomLog(upcoming)
    join(upcoming, "Ann")

    flush()

    assert room.new_events() == []


def test_the_update_carries_the_top_n_and_a_you_placeholder_for_the_hub(settings, flush):
    settings.LEADERBOARD_TOP_N = 2
    contest = active_contest()
    question = contest.ordered_questions()[0]
    for i, points in enumerate([100, 300, 200]):
        answer(join(contest, f"P{i}", registered_at=at(i)), question, points=points)
    room = RoomLog(contest)

    flush()

    (event,) = room.new_events()
    assert event["event"] == "leaderboard_update"
    assert event["data"] == {
        "contestId": str(contest.pk),
        "top": [
            {
                "rank": 1,
                "userId": event["data"]["top"][0]["userId"],
                "displayName": "P1",
                "score": 300,
            },
            {
                "rank": 2,
                "userId": event["data"]["top"][1]["userId"],
                "displayName": "P2",
                "score": 200,
            },
        ],
        "totalParticipants": 3,
        "frozen": False,
        "you": None,
    }
    (text,) = broadcast.event_log_since(contest.pk, room.epoch, 0)
    assert personalize.YOU_PLACEHOLDER in text


# --- Losing Redis in the middle of a contest -----------------------------------------------


def play(*, lose_redis_at: str | None, redis_client, flush) -> dict:
    """Three rounds of answers with a flush after each; Redis is flushed at the named
    moment (FLUSHDB: to our keys the same as FLUSHALL or a restart, without emptying the
    other test runs' databases on the shared server). Returns what participants saw, by
    display name, and the final standings."""
    contest = active_contest()
    q1, q2, q3 = contest.ordered_questions()
    players = {name: join(contest, name, registered_at=at(i)) for i, name in enumerate("ABCDEF")}
    room = RoomLog(contest)
    rounds = [
        [("A", q1, 900, 1200), ("B", q1, 900, 1100), ("C", q1, 0, 3000), ("D", q1, 500, 800)],
        [("C", q2, 1000, 700), ("A", q2, 100, 9000), ("E", q2, 0, 100)],
        [("F", q3, 2000, 5000), ("B", q3, 100, 9000), ("D", q3, 500, 800)],
    ]
    seen = []
    for round_number, submissions in enumerate(rounds, start=1):
        for name, question, points, ms in submissions:
            answer(players[name], question, points=points, ms=ms)
        if lose_redis_at == f"before flush {round_number}":
            redis_client.flushdb()
        flush()
        updates = room.new_updates()
        seen.append(
            [
                (
                    [(e["rank"], e["displayName"], e["score"]) for e in u["top"]],
                    u["totalParticipants"],
                )
                for u in updates
            ]
        )
        ranks = leaderboard_ranks(
            contest_id=contest.pk, participant_ids=[p.pk for p in players.values()]
        )
        seen.append({name: ranks[str(p.pk)] for name, p in players.items()})
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)
    name_of = {str(p.pk): name for name, p in players.items()}
    final = [(rank, name_of[pid], score) for rank, pid, score in final_order(contest)]
    return {"seen": seen, "final": final}


@pytest.mark.parametrize("moment", ["before flush 2", "before flush 3"])
def test_losing_redis_mid_contest_changes_nothing_participants_see(redis_client, moment, flush):
    without = play(lose_redis_at=None, redis_client=redis_client, flush=flush)
    with_loss = play(lose_redis_at=moment, redis_client=redis_client, flush=flush)

    assert with_loss == without
    updates_per_round = without["seen"][::2]
    assert [len(updates) for updates in updates_per_round] == [1, 1, 1]
    assert without["final"][0] == (1, "F", 2000)


def test_after_losing_redis_the_next_flush_resends_the_board_even_without_new_answers(
    redis_client, flush
):
    contest = active_contest()
    answer(join(contest, "Ann"), contest.ordered_questions()[0], points=100)
    room = RoomLog(contest)
    flush()
    (before,) = room.new_updates()

    redis_client.flushdb()
    flush()

    assert room.new_updates() == [before]
    assert leaderboard_top(contest_id=contest.pk, limit=10)["top"] == before["top"]


def test_the_beat_schedules_the_flush_task_that_sends_the_updates(
    settings, django_capture_on_commit_callbacks
):
    from contestsite.celery import app
    from leaderboard import tasks

    schedule = settings.CELERY_BEAT_SCHEDULE["leaderboard-flush"]
    assert schedule["task"] == tasks.leaderboard_flush.name
    assert schedule["task"] in app.tasks
    assert schedule["schedule"] == settings.LEADERBOARD_INTERVAL_SECONDS
    contest = active_contest()
    join(contest, "Ann")
    room = RoomLog(contest)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.leaderboard_flush.apply().get()

    assert [u["totalParticipants"] for u in room.new_updates()] == [1]


@pytest.mark.django_db(transaction=True)
def test_a_flush_racing_the_contest_completion_sends_nothing_after_it():
    """The completion locks the contest row while the flush has already read it as active
    and taken it off the dirty set: the flush must wait, find it completed, and send no
    leaderboard_update after contest_end."""
    contest = active_contest()
    answer(join(contest, "Ann"), contest.ordered_questions()[0], points=100)
    room = RoomLog(contest)
    locked, release = threading.Event(), threading.Event()

    def complete() -> None:
        try:
            with transaction.atomic():
                Contest.objects.select_for_update(no_key=True).get(pk=contest.pk)
                locked.set()
                release.wait(10)
                Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
        finally:
            connection.close()

    flush_pid: list[int] = []

    def flush() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                flush_pid.append(cursor.fetchone()[0])
            leaderboard_flush()
        finally:
            connection.close()

    completing = threading.Thread(target=complete)
    completing.start()
    assert locked.wait(10)
    flushing = threading.Thread(target=flush)
    flushing.start()
    # The flush saw the contest active, popped it, and now waits for the row lock.
    wait_until_waiting_for_a_lock(flush_pid)
    release.set()
    completing.join(timeout=10)
    flushing.join(timeout=10)

    assert not flushing.is_alive()
    assert room.new_events() == []


def wait_until_waiting_for_a_lock(pid: list[int], timeout: float = 10) -> None:
    """Until the backend whose pid the other thread put in `pid` waits for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", pid)
                if cursor.fetchone()[0]:
                    return
        time.sleep(0.01)
    raise AssertionError("The flush never waited for the contest row.")
