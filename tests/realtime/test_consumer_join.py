"""join_contest: registration rules, the contest_state reply, rooms."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from contests.models import Contest, Participant
from contests.services import participant_register, submission_create
from realtime.outbound import broadcast
from tests.factories import ContestFactory, contest_with_questions, open_question
from tests.realtime.conftest import connected, nothing_more, run

pytestmark = pytest.mark.django_db(transaction=True)


def choice(contest: Contest, index: int, text: str) -> str:
    return str(contest.ordered_questions()[index - 1].choices.get(text=text).id)


def test_join_registers_the_user_and_replies_with_the_contest_state(participant):
    contest = contest_with_questions(questions=3, title="Friday quiz")

    async def scenario():
        async with connected(participant) as client:
            return await client.request("join_contest", {"contestId": str(contest.pk)})

    reply = run(scenario)
    assert reply["event"] == "contest_state"
    assert reply["requestId"].startswith("join_contest")
    state = reply["data"]
    assert state["contestId"] == str(contest.pk)
    assert state["title"] == "Friday quiz"
    assert (state["status"], state["phase"]) == ("upcoming", "waiting")
    assert state["totalQuestions"] == 3
    assert state["estimatedDuration"] == 3 * 10 + 2 * 1
    assert state["questionIndex"] == 0
    assert state["currentQuestion"] is None
    assert state["yourSubmission"] is None
    assert state["you"] == {"rank": 1, "score": 0}
    assert state["leaderboard"]["totalParticipants"] == 1
    assert state["leaderboard"]["top"][0]["displayName"] == "Player One"
    assert (state["seq"], state["paused"]) == (0, False)
    assert isinstance(state["epoch"], str) and state["epoch"]
    assert state["serverTime"].endswith("Z")
    assert Participant.objects.filter(contest=contest, user=participant).exists()


def test_join_during_a_question_shows_it_without_its_answer(participant):
    contest = open_question(contest_with_questions(questions=2), index=2)

    async def scenario():
        async with connected(participant) as client:
            return await client.request("join_contest", {"contestId": str(contest.pk)})

    reply = run(scenario)
    state = reply["data"]
    assert (state["status"], state["phase"], state["questionIndex"]) == ("active", "question", 2)
    question = state["currentQuestion"]
    assert question["questionId"] == str(contest.ordered_questions()[1].pk)
    assert (question["index"], question["totalQuestions"]) == (2, 2)
    assert [c["text"] for c in question["choices"]] == ["A", "B"]
    assert set(question["choices"][0]) == {"id", "text"}
    assert question["deadline"] and question["startedAt"] and question["serverTime"]
    assert state["lastQuestionChange"] is None
    text = json.dumps(reply)
    assert "is_correct" not in text and "isCorrect" not in text and "correct" not in text


@pytest.mark.parametrize("reveal", ["on_close", "immediate"])
def test_a_late_join_shows_your_answer_to_the_open_question(participant, reveal):
    """Without its grade while the question is open, unless grades are revealed at once."""
    contest = open_question(contest_with_questions(questions=2, answer_reveal=reveal), index=1)
    participant_register(contest_id=contest.pk, user=participant)
    question = contest.ordered_questions()[0]
    submission_create(
        contest_id=contest.pk,
        question_id=question.pk,
        user=participant,
        answer=choice(contest, 1, "B"),
    )

    async def scenario():
        async with connected(participant) as client:
            return await client.join(contest.pk)

    state = run(scenario)
    assert state["yourSubmission"] == {
        "questionId": str(question.pk),
        "submissionId": state["yourSubmission"]["submissionId"],
        "answer": choice(contest, 1, "B"),
        "accepted": True,
        "isCorrect": None if reveal == "on_close" else False,
        "pointsAwarded": None if reveal == "on_close" else 0,
    }


def test_join_in_an_intermission_shows_the_closed_question_and_the_next_start(participant):
    contest = open_question(contest_with_questions(questions=2), index=1)
    participant_register(contest_id=contest.pk, user=participant)
    first, second = contest.ordered_questions()
    submission_create(
        contest_id=contest.pk,
        question_id=first.pk,
        user=participant,
        answer=choice(contest, 1, "A"),
    )
    next_at = timezone.now() + timedelta(seconds=5)
    Contest.objects.filter(pk=contest.pk).update(question_open=False, next_question_at=next_at)

    async def scenario():
        async with connected(participant) as client:
            return await client.join(contest.pk)

    state = run(scenario)
    assert (state["phase"], state["currentQuestion"]) == ("intermission", None)
    assert state["nextQuestionAt"] is not None
    change = state["lastQuestionChange"]
    assert change["closedQuestionId"] == str(first.pk)
    assert change["correctAnswer"] == choice(contest, 1, "A")
    assert change["stats"] == {"answered": 1, "correct": 1}
    assert change["nextQuestionId"] == str(second.pk)
    assert change["nextStartsAt"] == state["nextQuestionAt"]
    assert state["yourSubmission"]["isCorrect"] is True
    assert state["you"] == {"rank": 1, "score": state["yourSubmission"]["pointsAwarded"]}


def test_join_a_paused_contest_says_so(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    Contest.objects.filter(pk=contest.pk).update(paused_at=timezone.now())

    async def scenario():
        async with connected(participant) as client:
            return await client.join(contest.pk)

    assert run(scenario)["paused"] is True


def test_join_a_contest_that_requires_registration(participant, outsider):
    contest = contest_with_questions(questions=1, requires_registration=True)
    participant_register(contest_id=contest.pk, user=participant)

    async def scenario():
        async with connected(outsider) as stranger, connected(participant) as player:
            refused = await stranger.request("join_contest", {"contestId": str(contest.pk)})
            joined = await player.request("join_contest", {"contestId": str(contest.pk)})
            return refused, joined

    refused, joined = run(scenario)
    assert refused["event"] == "error"
    assert refused["data"]["code"] == "NOT_REGISTERED"
    assert refused["data"]["event"] == "join_contest"
    assert joined["event"] == "contest_state"
    assert not Participant.objects.filter(contest=contest, user=outsider).exists()


def test_join_a_full_contest(participant, outsider):
    contest = contest_with_questions(questions=1, max_participants=1)
    participant_register(contest_id=contest.pk, user=participant)

    async def scenario():
        async with connected(outsider) as stranger, connected(participant) as player:
            refused = await stranger.request("join_contest", {"contestId": str(contest.pk)})
            joined = await player.request("join_contest", {"contestId": str(contest.pk)})
            return refused, joined

    refused, joined = run(scenario)
    assert refused["data"]["code"] == "CONTEST_FULL"
    assert joined["event"] == "contest_state"


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"contestId": "7d0d9c5e-0d1a-4c46-9f5b-1b9a0a7f3e11"}, "CONTEST_NOT_FOUND", None),
        ({"contestId": "42"}, "INVALID_PAYLOAD", "data.contestId"),
        ({"contestId": 42}, "INVALID_PAYLOAD", "data.contestId"),
        ({}, "INVALID_PAYLOAD", "data.contestId"),
    ],
)
def test_join_with_a_bad_contest_id(participant, data, code, field):
    async def scenario():
        async with connected(participant) as client:
            return await client.request("join_contest", data)

    reply = run(scenario)
    assert reply["event"] == "error"
    assert (reply["data"]["code"], reply["data"]["field"]) == (code, field)


def test_a_finished_contest_admits_only_its_participants(participant, outsider):
    contest = contest_with_questions(questions=1)
    participant_register(contest_id=contest.pk, user=participant)
    Contest.objects.filter(pk=contest.pk).update(
        status=Contest.Status.COMPLETED, ended_at=timezone.now(), current_question_index=1
    )

    async def scenario():
        async with connected(outsider) as stranger, connected(participant) as player:
            refused = await stranger.request("join_contest", {"contestId": str(contest.pk)})
            state = await player.join(contest.pk)
            return refused, state

    refused, state = run(scenario)
    assert refused["data"]["code"] == "CONTEST_NOT_ACTIVE"
    assert (state["status"], state["phase"]) == ("completed", "finished")
    assert state["endedAt"] is not None


def test_joining_another_contest_leaves_the_first(participant):
    first, second = ContestFactory(), ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(first.pk)
            await client.join(second.pk)
            await broadcast.asend_to_contest(first.pk, "question_change", {"n": 1})
            await broadcast.asend_to_contest(second.pk, "question_change", {"n": 2})
            event = await client.receive()
            await nothing_more(second.pk, client)
            return event

    event = run(scenario)
    assert (event["data"], event["seq"]) == ({"n": 2}, 1)


def test_a_refused_join_of_another_contest_keeps_the_socket_in_its_contest(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    closed = ContestFactory(requires_registration=True)
    question = contest.ordered_questions()[0]
    answer = {
        "contestId": str(contest.pk),
        "questionId": str(question.pk),
        "answer": choice(contest, 1, "A"),
    }

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            refused = await client.request("join_contest", {"contestId": str(closed.pk)})
            # Its contest's events still arrive, the refused one's do not.
            await broadcast.asend_to_contest(closed.pk, "question_change", {"n": "refused"})
            await broadcast.asend_to_contest(contest.pk, "question_change", {"n": 1})
            event = await client.receive()
            await nothing_more(contest.pk, client)
            # And it may still answer in its contest.
            return refused, event, await client.request("submit_answer", answer)

    refused, event, result = run(scenario)
    assert refused["data"]["code"] == "NOT_REGISTERED"
    assert event["data"] == {"n": 1}
    assert result["event"] == "submission_result"


def test_after_the_state_every_later_room_event_arrives_once_in_order(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await broadcast.asend_to_contest(contest.pk, "contest_start", {"n": 0})
            state = await client.join(contest.pk)
            for n in range(1, 4):
                await broadcast.asend_to_contest(contest.pk, "question_change", {"n": n})
            events = [await client.receive() for _ in range(3)]
            again = await client.join(contest.pk)
            await nothing_more(contest.pk, client)
            return state, events, again

    state, events, again = run(scenario)
    assert state["seq"] == 1
    assert [(e["seq"], e["epoch"], e["data"]["n"]) for e in events] == [
        (2, state["epoch"], 1),
        (3, state["epoch"], 2),
        (4, state["epoch"], 3),
    ]
    assert again["seq"] == 4
