"""The contest_state snapshot: its cost does not grow with the contest."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contests.services import participant_register
from realtime.outbound.snapshot import contest_state
from tests.factories import UserFactory, contest_with_questions, open_question

pytestmark = pytest.mark.django_db


def queries_for_state(*, questions: int, participants: int) -> tuple[int, dict]:
    contest = open_question(contest_with_questions(questions=questions), index=1)
    players = [
        participant_register(contest_id=contest.pk, user=UserFactory())[0]
        for _ in range(participants)
    ]
    # The first read may rebuild the live leaderboard; the snapshot is measured after it.
    contest_state(contest_id=contest.pk, participant_id=players[0].pk, seq=0, epoch="e")
    with CaptureQueriesContext(connection) as captured:
        state = contest_state(contest_id=contest.pk, participant_id=players[0].pk, seq=0, epoch="e")
    return len(captured), state


def test_the_snapshot_costs_the_same_for_a_small_and_a_large_contest():
    small, _ = queries_for_state(questions=2, participants=1)
    large, state = queries_for_state(questions=30, participants=40)
    assert small == large
    # The contest, the removal check, the clock and the participant's answer: the
    # questions come from the cache of a started contest's, the board from Redis.
    assert large <= 4
    assert state["leaderboard"]["totalParticipants"] == 40


def test_the_snapshot_of_an_open_question_reveals_no_answer():
    _, state = queries_for_state(questions=3, participants=2)
    text = json.dumps(state)
    assert "is_correct" not in text and "correct" not in text.lower()
    assert state["lastQuestionChange"] is None
