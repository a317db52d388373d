"""The live board after a lost Redis write: repaired from PostgreSQL by the next flush,
and at most one leaderboard_update per interval, whatever the number of flushes."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import redis as redis_clients
from leaderboard import services
from leaderboard.models import LiveBoardRepair
from tests.factories import ContestFactory, ParticipantFactory
from tests.leaderboard.conftest import (
    RoomLog,
    active_contest,
    answer,
    database_order,
    join,
    redis_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_out_of_reach(monkeypatch):
    """This process's Redis client points at a port where nothing listens (a Redis that
    went away), for the writes made inside the `with`."""

    class OutOfReach:
        def __enter__(self) -> None:
            dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
            monkeypatch.setattr(redis_clients, "_sync_client", dead)

        def __exit__(self, *exc_info: object) -> None:
            monkeypatch.setattr(redis_clients, "_sync_client", None)

    return OutOfReach()


def test_a_lost_write_is_repaired_from_the_database_by_the_next_flush(redis_out_of_reach, flush):
    contest = active_contest()
    first, second = contest.ordered_questions()[:2]
    ann, bob = join(contest, "Ann"), join(contest, "Bob")
    answer(ann, first, points=100)
    with redis_out_of_reach:
        # Committed in PostgreSQL; its Redis write fails.
        answer(bob, first, points=900)
        answer(bob, second, points=50)

    assert LiveBoardRepair.objects.filter(contest=contest).exists()
    assert redis_order(contest) != database_order(contest)  # the board missed the writes
    room = RoomLog(contest)
    flush()

    assert redis_order(contest) == database_order(contest)
    assert not LiveBoardRepair.objects.exists()
    (update,) = room.new_updates()
    assert [(e["displayName"], e["score"]) for e in update["top"]] == [("Bob", 950), ("Ann", 100)]


def test_a_repair_waits_while_redis_is_still_away(redis_out_of_reach, flush):
    contest = active_contest()
    with redis_out_of_reach:
        answer(join(contest, "Ann"), contest.ordered_questions()[0], points=100)
    assert LiveBoardRepair.objects.filter(contest=contest).exists()

    with redis_out_of_reach, pytest.raises(redis.ConnectionError):
        services.leaderboard_flush()

    assert LiveBoardRepair.objects.filter(contest=contest).exists()


def test_flushes_within_one_interval_send_one_update(django_capture_on_commit_callbacks):
    contest = active_contest()
    question = contest.ordered_questions()[0]
    room = RoomLog(contest)

    for points in (100, 200, 300):
        answer(join(contest, f"P{points}"), question, points=points)
        with django_capture_on_commit_callbacks(execute=True):
            services.leaderboard_flush()  # as a second and a third beat would

    assert len(room.new_updates()) == 1


def test_a_registration_of_a_contest_that_is_not_running_is_not_repaired(redis_out_of_reach, flush):
    contest = ContestFactory()
    with redis_out_of_reach:
        ParticipantFactory(contest=contest)
        services.leaderboard_record(
            contest_id=contest.pk, participant_id=contest.participants.get().pk
        )

    flush()

    # Kept for when the contest runs: only active contests are flushed and repaired.
    assert LiveBoardRepair.objects.filter(contest=contest).exists()
