from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from leaderboard import live
from leaderboard.selectors import leaderboard_ranks, leaderboard_top, totals_from_database
from leaderboard.services import leaderboard_rebuild
from tests.leaderboard.conftest import (
    active_contest,
    answer,
    at,
    database_order,
    join,
    redis_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def played():
    """A running contest with five participants who answered some questions."""
    contest = active_contest()
    q1, q2, _ = contest.ordered_questions()
    players = [join(contest, f"P{i}", registered_at=at(i)) for i in range(5)]
    answer(players[0], q1, points=800, ms=2500)
    answer(players[1], q1, points=800, ms=2000)
    answer(players[2], q1, points=0, ms=1000, correct=False)
    answer(players[3], q2, points=900, ms=9000)
    return contest


def test_it_rebuilds_the_same_order_from_the_database_after_redis_lost_it(played, redis_client):
    before = redis_order(played)
    redis_client.flushdb()

    leaderboard_rebuild(contest_id=played.pk)

    assert redis_order(played) == before == database_order(played)


def test_a_read_rebuilds_a_lost_set_before_answering(played, redis_client):
    before = leaderboard_top(contest_id=played.pk, limit=10)
    redis_client.flushdb()

    assert leaderboard_top(contest_id=played.pk, limit=10) == before
    assert live.is_built(redis_client, [str(played.pk)]) == {str(played.pk): True}


def test_a_read_rebuilds_a_partial_set_left_by_an_update_after_a_flush(played, redis_client):
    before = leaderboard_top(contest_id=played.pk, limit=10)
    redis_client.flushdb()
    latecomer = join(played, "Late", registered_at=at(99))

    board = leaderboard_top(contest_id=played.pk, limit=10)

    assert board["totalParticipants"] == before["totalParticipants"] + 1
    assert board["top"][:5] == before["top"]
    assert leaderboard_ranks(contest_id=played.pk, participant_ids=[latecomer.pk]) == {
        str(latecomer.pk): {"rank": 6, "score": 0}
    }


def test_an_update_during_a_rebuild_is_not_overwritten_by_the_older_snapshot(played, redis_client):
    newcomer_question = played.ordered_questions()[2]
    target = played.participants.get(display_name="P4")

    def snapshot_then_concurrent_update():
        snapshot = totals_from_database(contest_id=played.pk)
        # Commits and records after the rebuild read the database, before it writes.
        answer(target, newcomer_question, points=5000, ms=100)
        return snapshot

    live.rebuild(redis_client, str(played.pk), snapshot_then_concurrent_update, if_missing=False)

    assert redis_order(played)[0] == (1, str(target.pk), 5000)
    assert redis_order(played) == database_order(played)


def test_a_rebuild_restarts_if_redis_loses_data_while_it_runs(played, redis_client):
    snapshots = []
    target = played.participants.get(display_name="P4")

    def snapshot_then_flush():
        snapshot = totals_from_database(contest_id=played.pk)
        if not snapshots:
            # Redis restarts with this update in it only; the rebuild's lock is gone.
            answer(target, played.ordered_questions()[2], points=5000, ms=100)
            redis_client.flushdb()
        snapshots.append(snapshot)
        return snapshot

    live.rebuild(redis_client, str(played.pk), snapshot_then_flush, if_missing=False)

    assert len(snapshots) == 2
    assert redis_order(played) == database_order(played)
    assert redis_order(played)[0] == (1, str(target.pk), 5000)


def test_if_missing_leaves_a_built_set_alone(played, redis_client):
    reads = []

    def load():
        reads.append(1)
        return totals_from_database(contest_id=played.pk)

    live.rebuild(redis_client, str(played.pk), load, if_missing=True)

    assert reads == []


def test_the_command_rebuilds_a_contest(played, redis_client):
    before = redis_order(played)
    redis_client.flushdb()
    out = StringIO()

    call_command("rebuild_leaderboard", str(played.pk), stdout=out)

    assert redis_order(played) == before
    assert "5 participants" in out.getvalue()


def test_the_command_rejects_an_unknown_contest():
    with pytest.raises(CommandError, match="No contest"):
        call_command("rebuild_leaderboard", str(uuid.uuid4()))


def test_the_command_rejects_a_malformed_id():
    with pytest.raises(CommandError, match="not a contest id"):
        call_command("rebuild_leaderboard", "nope")


def test_the_command_explains_that_without_redis_there_is_nothing_to_rebuild(played, settings):
    settings.REDIS_URL = ""
    out = StringIO()

    call_command("rebuild_leaderboard", str(played.pk), stdout=out)

    assert "REDIS_URL is not set" in out.getvalue()
