from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contests.models import Contest
from core.redis import get_redis
from leaderboard import live
from leaderboard.models import FinalStanding
from leaderboard.selectors import leaderboard_ranks, leaderboard_top, totals_from_database
from leaderboard.services import final_standings_write, leaderboard_record
from tests.leaderboard.conftest import (
    active_contest,
    answer,
    at,
    database_order,
    final_order,
    join,
    oracle_order,
    redis_order,
)

pytestmark = pytest.mark.django_db


def complete(contest: Contest) -> None:
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)


def test_it_stores_every_participant_with_rank_score_correct_count_and_time():
    contest = active_contest()
    q1, q2, _ = contest.ordered_questions()
    ann, bob, _ = (join(contest, n, registered_at=at(i)) for i, n in enumerate("ABC"))
    answer(ann, q1, points=800, ms=2000)
    answer(ann, q2, points=0, ms=7000, correct=False)
    answer(bob, q1, points=800, ms=1500)

    complete(contest)

    rows = list(
        FinalStanding.objects.filter(contest=contest).values_list(
            "rank", "participant__display_name", "score", "correct_count", "total_response_ms"
        )
    )
    assert rows == [(1, "B", 800, 1, 1500), (2, "A", 800, 1, 2000), (3, "C", 0, 0, 0)]


def test_final_standings_equal_the_redis_order():
    contest = active_contest()
    question = contest.ordered_questions()[0]
    for i, points in enumerate([300, 900, 300, 0]):
        answer(join(contest, f"P{i}", registered_at=at(-i)), question, points=points, ms=1000)
    live_order = redis_order(contest)

    complete(contest)

    assert final_order(contest) == live_order


def test_writing_twice_keeps_one_row_per_participant():
    contest = active_contest()
    join(contest, "Ann")

    complete(contest)
    final_standings_write(contest_id=contest.pk)

    assert FinalStanding.objects.filter(contest=contest).count() == 1


def test_the_completed_board_counts_every_standing_and_an_empty_contest_as_none():
    contest, empty = active_contest(), active_contest()
    for name in "ABC":
        join(contest, name)

    complete(contest)
    complete(empty)

    assert leaderboard_top(contest_id=contest.pk, limit=1)["totalParticipants"] == 3
    assert leaderboard_top(contest_id=empty.pk, limit=1) == {"top": [], "totalParticipants": 0}


def test_a_deleted_account_leaves_the_completed_board_counting_those_left():
    """Deleting a user deletes their standing and leaves a gap in the ranks."""
    contest = active_contest()
    question = contest.ordered_questions()[0]
    players = [join(contest, name) for name in "ABC"]
    for player, points in zip(players, (900, 500, 100), strict=True):
        answer(player, question, points=points)
    complete(contest)

    players[1].user.delete()

    board = leaderboard_top(contest_id=contest.pk, limit=5)
    assert [e["rank"] for e in board["top"]] == [1, 3]
    assert board["totalParticipants"] == 2


def test_a_read_that_took_the_status_before_the_completion_gets_the_final_board(
    django_capture_on_commit_callbacks,
):
    """A join's snapshot reads the contest, then the board: a completion that commits in
    between has dropped the live set for good, and the final standings answer."""
    contest = active_contest()
    question = contest.ordered_questions()[0]
    ann, bob = join(contest, "Ann"), join(contest, "Bob")
    answer(bob, question, points=900, ms=1000)
    redis_order(contest)  # the live set is built

    with django_capture_on_commit_callbacks(execute=True):
        complete(contest)

    board = leaderboard_top(contest_id=contest.pk, limit=5, status=Contest.Status.ACTIVE)
    ranks = leaderboard_ranks(
        contest_id=contest.pk, participant_ids=[ann.pk], status=Contest.Status.ACTIVE
    )
    assert [(e["rank"], e["displayName"]) for e in board["top"]] == [(1, "Bob"), (2, "Ann")]
    assert ranks == {str(ann.pk): {"rank": 2, "score": 0}}


def test_it_drops_the_live_set_once_the_completion_commits(django_capture_on_commit_callbacks):
    contest = active_contest()
    join(contest, "Ann")
    client = get_redis()

    with django_capture_on_commit_callbacks(execute=True):
        complete(contest)

    assert client.keys(live.key(contest.pk, "*")) == [live.key(contest.pk, "closed")]


def test_an_update_that_arrives_after_the_completion_brings_nothing_back(
    django_capture_on_commit_callbacks,
):
    contest = active_contest()
    ann = join(contest, "Ann")
    client = get_redis()
    with django_capture_on_commit_callbacks(execute=True):
        complete(contest)

    # A submission committed just before the completion runs its hook just after it.
    leaderboard_record(contest_id=contest.pk, participant_id=ann.pk)

    assert client.keys(live.key(contest.pk, "*")) == [live.key(contest.pk, "closed")]


@st.composite
def played_contests(draw):
    """Participants (registration instants drawn from a few microseconds, so they tie) and
    their answers (points and times from small sets, so scores and times tie too)."""
    questions = draw(st.integers(min_value=1, max_value=4))
    players = draw(st.integers(min_value=1, max_value=8))
    registrations = draw(
        st.lists(st.integers(min_value=0, max_value=2), min_size=players, max_size=players)
    )
    answers = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=players - 1),
                st.integers(min_value=0, max_value=questions - 1),
                st.booleans(),
                st.sampled_from([0, 250, 1000]),
                st.sampled_from([500, 2500]),
            ),
            unique_by=lambda a: (a[0], a[1]),
            max_size=players * questions,
        )
    )
    return questions, registrations, answers


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(played=played_contests(), data=st.data())
def test_redis_order_equals_database_order_equals_final_standings(played, data):
    questions, registrations, answers = played
    contest = active_contest(questions=questions)
    ordered_questions = contest.ordered_questions()
    players = [join(contest, f"P{i}", registered_at=at(r)) for i, r in enumerate(registrations)]
    snapshots = []
    for player_index, question_index, correct, points, ms in answers:
        player = players[player_index]
        answer(
            player,
            ordered_questions[question_index],
            points=points if correct else 0,
            ms=ms,
            correct=correct,
            record=False,
        )
        snapshots.append(totals_from_database(contest_id=contest.pk, participant_id=player.pk))
    # The updates of concurrent commits land in any order; older ones must not win.
    for snapshot in data.draw(st.permutations(snapshots)):
        live.write(get_redis(), str(contest.pk), snapshot)

    expected = oracle_order(totals_from_database(contest_id=contest.pk))
    live_order = redis_order(contest)
    assert [pid for _, pid, _ in live_order] == expected
    assert live_order == database_order(contest)
    ranks = leaderboard_ranks(contest_id=contest.pk, participant_ids=[p.pk for p in players])
    assert sorted((r["rank"], pid, r["score"]) for pid, r in ranks.items()) == live_order

    complete(contest)
    assert final_order(contest) == live_order
