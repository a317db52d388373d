"""Server event payloads: nothing reveals an answer before its question closes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from contests.selectors import QuestionStats
from realtime.outbound import envelope, payloads, personalize
from tests.factories import contest_of_every_type, open_question

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_a_question_broadcast_carries_no_answer_for_any_type(index):
    contest = open_question(contest_of_every_type(), index=index)
    question = contest.ordered_questions()[index - 1]
    data = payloads.question_broadcast_payload(
        contest, question, index=index, total_questions=4, now=timezone.now()
    )
    # Without the instants: "…:33.143Z" contains "3.14" one run in a thousand.
    untimed = {k: v for k, v in data.items() if k not in ("startedAt", "deadline", "serverTime")}
    text = json.dumps(untimed)
    assert "is_correct" not in text and "correct" not in text.lower()
    assert "3.14" not in text and "Paris" not in text
    assert all(set(choice) == {"id", "text"} for choice in data["choices"])
    assert set(data) == {
        "contestId",
        "questionId",
        "index",
        "totalQuestions",
        "type",
        "text",
        "choices",
        "points",
        "timeLimitSeconds",
        "startedAt",
        "deadline",
        "serverTime",
    }


def test_a_timer_update_freezes_while_paused_and_names_the_next_start_in_an_intermission():
    started = timezone.now() - timedelta(seconds=3)
    contest = open_question(contest_of_every_type(), index=1, started_at=started)
    now = timezone.now()
    running = payloads.timer_update_payload(contest, question_id="q", now=now)
    assert (running["paused"], running["nextQuestionAt"]) == (False, None)
    assert running["remainingSeconds"] == 7

    contest.paused_at = now - timedelta(seconds=2)
    paused = payloads.timer_update_payload(contest, question_id="q", now=now)
    assert (paused["paused"], paused["remainingSeconds"]) == (True, 9)

    contest.paused_at = None
    contest.question_open = False
    contest.next_question_at = now + timedelta(seconds=4)
    intermission = payloads.timer_update_payload(contest, question_id="q", now=now)
    assert intermission["nextQuestionAt"] is not None


def test_personalised_payloads_end_with_the_placeholder_the_hub_fills():
    contest = contest_of_every_type()
    for event, data in (
        (
            "leaderboard_update",
            payloads.leaderboard_update_payload(
                contest.pk, top=[], total_participants=0, frozen=False
            ),
        ),
        (
            "contest_end",
            payloads.contest_end_payload(contest, final_leaderboard=[], total_participants=0),
        ),
    ):
        text = envelope.envelope(event, data)
        assert text.split(',"timestamp"')[0].endswith(personalize.YOU_PLACEHOLDER + "}")
        assert personalize.is_personalized(text)
    question = contest.ordered_questions()[0]
    change = payloads.question_change_payload(
        contest, question, stats=QuestionStats(0, 0), next_question_id=None, next_starts_at=None
    )
    text = envelope.envelope("question_change", change)
    assert text.split(',"timestamp"')[0].endswith(personalize.YOUR_RESULT_PLACEHOLDER + "}")
    assert personalize.is_personalized(text)
    assert not personalize.is_personalized(envelope.envelope("question_broadcast", {}))
