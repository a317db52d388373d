from __future__ import annotations

import uuid

import pytest

from contests.errors import ContestNotFound
from contests.models import Contest
from leaderboard import live
from leaderboard.selectors import (
    MANY_IDS,
    leaderboard_ranks,
    leaderboard_top,
    standings_from_database,
)
from leaderboard.services import final_standings_write
from tests.leaderboard.conftest import RoomLog, active_contest, answer, at, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def contest():
    """Running: Cy 900, Ann 500 (faster than Bob), Bob 500, Dee 0."""
    contest = active_contest()
    question = contest.ordered_questions()[0]
    ann, bob, cy, _dee = (
        join(contest, name, registered_at=at(i))
        for i, name in enumerate(["Ann", "Bob", "Cy", "Dee"])
    )
    answer(ann, question, points=500, ms=1000)
    answer(bob, question, points=500, ms=2000)
    answer(cy, question, points=900, ms=9000)
    return contest


def names_and_scores(board: dict) -> list[tuple[int, str, int]]:
    return [(e["rank"], e["displayName"], e["score"]) for e in board["top"]]


def pid(contest: Contest, name: str) -> str:
    return str(contest.participants.get(display_name=name).pk)


def test_top_lists_the_first_places_and_counts_everyone(contest):
    board = leaderboard_top(contest_id=contest.pk, limit=2)

    assert names_and_scores(board) == [(1, "Cy", 900), (2, "Ann", 500)]
    assert board["totalParticipants"] == 4
    user_ids = {e["userId"] for e in board["top"]}
    assert user_ids == {
        str(contest.participants.get(display_name=n).user_id) for n in ("Cy", "Ann")
    }


def test_ranks_answers_any_number_of_participants_at_once(contest):
    ids = [pid(contest, name) for name in ("Dee", "Bob", "Ann")]

    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=ids) == {
        ids[0]: {"rank": 4, "score": 0},
        ids[1]: {"rank": 3, "score": 500},
        ids[2]: {"rank": 2, "score": 500},
    }


@pytest.mark.parametrize("asked", [1, 3, 5, 20], ids=lambda n: f"{n}-of-20")
def test_ranks_are_the_same_for_a_few_ids_or_for_most_of_the_board(asked):
    contest = active_contest()
    question = contest.ordered_questions()[0]
    players = [join(contest, f"P{i}", registered_at=at(i)) for i in range(20)]
    for i, player in enumerate(players):
        answer(player, question, points=(i * 7) % 5 * 100, ms=1000 + i % 3)
    expected = {
        s.totals.participant_id: {"rank": s.rank, "score": s.totals.score}
        for s in standings_from_database(contest_id=contest.pk)
    }
    ids = [str(p.pk) for p in players[:asked]] + [str(uuid.uuid4())]

    ranks = leaderboard_ranks(contest_id=contest.pk, participant_ids=ids)

    assert ranks == {pid: expected[pid] for pid in ids[:-1]}


def test_ranks_leave_out_ids_that_do_not_play(contest):
    stranger = str(uuid.uuid4())

    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=[stranger]) == {}
    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=[]) == {}


def test_unknown_contests_raise_not_found():
    with pytest.raises(ContestNotFound):
        leaderboard_top(contest_id=uuid.uuid4(), limit=10)
    with pytest.raises(ContestNotFound):
        leaderboard_ranks(contest_id=uuid.uuid4(), participant_ids=[uuid.uuid4()])


def test_a_completed_contest_is_read_from_its_final_standings(contest, redis_client):
    live_board = leaderboard_top(contest_id=contest.pk, limit=10)
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)
    redis_client.flushdb()

    assert leaderboard_top(contest_id=contest.pk, limit=10) == live_board
    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=[pid(contest, "Bob")]) == {
        pid(contest, "Bob"): {"rank": 3, "score": 500}
    }
    # Nothing was rebuilt: the final standings are the store now.
    assert redis_client.keys(live.key(contest.pk, "*")) == []


@pytest.mark.parametrize("strangers", [0, MANY_IDS])
def test_final_ranks_are_the_same_for_a_few_ids_or_many(contest, strangers):
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)
    ids = [pid(contest, "Dee"), pid(contest, "Cy")] + [str(uuid.uuid4()) for _ in range(strangers)]

    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=ids) == {
        ids[0]: {"rank": 4, "score": 0},
        ids[1]: {"rank": 1, "score": 900},
    }


# --- Embedded mode: no REDIS_URL ------------------------------------------------------------


@pytest.fixture
def embedded(settings):
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def test_without_redis_the_same_board_is_read_from_the_database(contest, embedded):
    assert names_and_scores(leaderboard_top(contest_id=contest.pk, limit=10)) == [
        (1, "Cy", 900),
        (2, "Ann", 500),
        (3, "Bob", 500),
        (4, "Dee", 0),
    ]
    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=[pid(contest, "Ann")]) == {
        pid(contest, "Ann"): {"rank": 2, "score": 500}
    }


def test_without_redis_a_flush_sends_one_update_per_changed_contest(embedded, flush):
    contest = active_contest()
    player = join(contest, "Ann")
    flush()
    room = RoomLog(contest)

    answer(player, contest.ordered_questions()[0], points=700)
    answer(join(contest, "Bob"), contest.ordered_questions()[0], points=100)
    flush()
    flush()

    (update,) = room.new_updates()
    assert names_and_scores(update) == [(1, "Ann", 700), (2, "Bob", 100)]
    assert update["totalParticipants"] == 2
