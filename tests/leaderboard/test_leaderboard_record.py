from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contests.models import Contest
from contests.services import participant_register, submission_create
from core import redis as redis_module
from leaderboard import live, ranking
from leaderboard.selectors import leaderboard_ranks, leaderboard_top, totals_from_database
from leaderboard.services import leaderboard_record
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.leaderboard.conftest import (
    active_contest,
    answer,
    at,
    database_order,
    join,
    redis_order,
)

pytestmark = pytest.mark.django_db


def test_it_lists_a_participant_with_score_zero_as_soon_as_they_register(committed, participant):
    contest = active_contest()

    registered, _ = committed(participant_register, contest_id=contest.pk, user=participant)

    assert redis_order(contest) == [(1, str(registered.pk), 0)]
    board = leaderboard_top(contest_id=contest.pk, limit=10)
    assert board["totalParticipants"] == 1
    assert board["top"] == [
        {"rank": 1, "userId": str(participant.pk), "displayName": "Player One", "score": 0}
    ]


def test_new_participants_go_on_the_board_without_a_totals_query(
    django_capture_on_commit_callbacks, participant
):
    contest = active_contest()
    with django_capture_on_commit_callbacks() as after_commit:
        first, created = participant_register(contest_id=contest.pk, user=participant)
        second, _ = participant_register(contest_id=contest.pk, user=UserFactory())

    with CaptureQueriesContext(connection) as queries:
        for callback in after_commit:
            callback()

    assert created
    assert [q["sql"] for q in queries if "contests_submission" in q["sql"]] == []
    # Equal scores rank by the registration instant the database set, as computed there.
    assert redis_order(contest) == database_order(contest)
    assert [pid for _, pid, _ in redis_order(contest)] == sorted(
        [str(first.pk), str(second.pk)],
        key=lambda pid: (
            {str(first.pk): first.registered_at, str(second.pk): second.registered_at}[pid],
            pid,
        ),
    )


def test_it_records_a_submission_after_it_commits(committed, participant):
    contest = open_question(
        contest_with_questions(questions=1, answer_reveal=Contest.AnswerReveal.IMMEDIATE)
    )
    committed(participant_register, contest_id=contest.pk, user=participant)
    question = contest.ordered_questions()[0]
    correct = str(question.choices.get(text="A").pk)

    outcome = committed(
        submission_create,
        contest_id=contest.pk,
        question_id=question.pk,
        user=participant,
        answer=correct,
    )

    pid = str(outcome.submission.participant_id)
    assert leaderboard_ranks(contest_id=contest.pk, participant_ids=[pid]) == {
        pid: {"rank": 1, "score": outcome.total_score}
    }
    assert outcome.total_score > 0


def test_it_writes_absolute_totals_so_a_repeated_update_does_not_double_count():
    contest = active_contest()
    question = contest.ordered_questions()[0]
    player = join(contest, "Ann")
    answer(player, question, points=700)

    for _ in range(3):
        leaderboard_record(contest_id=contest.pk, participant_id=player.pk)

    assert redis_order(contest) == [(1, str(player.pk), 700)]


def test_it_keeps_the_newest_totals_when_an_older_computation_arrives_late(redis_client):
    contest = active_contest()
    questions = contest.ordered_questions()
    player = join(contest, "Ann")
    answer(player, questions[0], points=300)
    older = totals_from_database(contest_id=contest.pk, participant_id=player.pk)
    answer(player, questions[1], points=400)

    changed = live.write(redis_client, str(contest.pk), older)

    assert changed == 0
    assert redis_order(contest) == [(1, str(player.pk), 700)]


def test_it_ranks_equal_scores_by_time_then_registration_in_redis():
    contest = active_contest()
    question = contest.ordered_questions()[0]
    later = join(contest, "Later", registered_at=at(2))
    earlier = join(contest, "Earlier", registered_at=at(1))
    faster = join(contest, "Faster", registered_at=at(3))
    for player in (later, earlier):
        answer(player, question, points=500, ms=4000)
    answer(faster, question, points=500, ms=3999)

    assert [pid for _, pid, _ in redis_order(contest)] == [
        str(faster.pk),
        str(earlier.pk),
        str(later.pk),
    ]


def test_it_counts_only_correct_answers_toward_the_time_tie_break():
    contest = active_contest()
    q1, q2, _ = contest.ordered_questions()
    player = join(contest, "Ann")
    answer(player, q1, points=500, ms=2000)
    answer(player, q2, points=0, ms=9000, correct=False)

    (totals,) = totals_from_database(contest_id=contest.pk, participant_id=player.pk)

    assert (totals.score, totals.total_response_ms, totals.correct_count) == (500, 2000, 1)
    assert totals.submission_count == 2


def test_it_keeps_a_committed_submission_when_redis_is_unreachable(settings, committed):
    contest = open_question(contest_with_questions(questions=1))
    user = contest.created_by
    committed(participant_register, contest_id=contest.pk, user=user)
    question = contest.ordered_questions()[0]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_module._sync_client = None
    try:
        outcome = committed(
            submission_create,
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=str(question.choices.get(text="A").pk),
        )
    finally:
        redis_module._sync_client = None

    assert outcome.submission.pk is not None
    assert Contest.objects.get(pk=contest.pk).participants.get().submissions.count() == 1


def test_it_encodes_what_it_stores_with_the_ranking_module(redis_client):
    contest = active_contest()
    player = join(contest, "Ann", registered_at=at(42))
    answer(player, contest.ordered_questions()[0], points=900, ms=1234)

    member = ranking.member(registered_at=at(42), participant_id=str(player.pk))
    stored = redis_client.zscore(live.key(contest.pk, "ranking"), member)

    assert stored == ranking.sort_value(score=900, total_response_ms=1234)
