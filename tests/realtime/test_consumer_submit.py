"""submit_answer: the result, every rejection, and the integrity rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from contests.models import Contest, Submission
from realtime.db import run_in_db_thread
from tests.factories import contest_of_every_type, contest_with_questions, open_question
from tests.realtime.conftest import connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def choice(contest: Contest, index: int, text: str) -> str:
    return str(contest.ordered_questions()[index - 1].choices.get(text=text).id)


def question_id(contest: Contest, index: int) -> str:
    return str(contest.ordered_questions()[index - 1].pk)


def answer(contest: Contest, value, *, index: int = 1, **data) -> dict:
    return {
        "contestId": str(contest.pk),
        "questionId": question_id(contest, index),
        "answer": value,
        **data,
    }


IMMEDIATE = Contest.AnswerReveal.IMMEDIATE


def test_it_stores_the_answer_before_replying_with_its_result(participant):
    contest = open_question(contest_with_questions(questions=2, answer_reveal=IMMEDIATE), index=1)
    correct = answer(contest, choice(contest, 1, "A"))

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            reply = await client.request("submit_answer", correct)
            # Read through another database connection: only committed rows are visible.
            stored = await run_in_db_thread(
                lambda: Submission.objects.filter(pk=reply["data"]["submissionId"]).exists()
            )()
            return reply, stored

    reply, stored = run(scenario)
    assert stored
    assert reply["event"] == "submission_result"
    data = reply["data"]
    assert data == {
        "contestId": str(contest.pk),
        "questionId": question_id(contest, 1),
        "submissionId": data["submissionId"],
        "accepted": True,
        "isCorrect": True,
        "pointsAwarded": data["pointsAwarded"],
        "totalScore": data["pointsAwarded"],
        "responseTimeMs": data["responseTimeMs"],
    }
    assert 500 <= data["pointsAwarded"] <= 1000


def test_the_server_measures_the_response_time_and_ignores_the_clients(participant):
    started = timezone.now() - timedelta(seconds=3)
    contest = open_question(
        contest_with_questions(questions=1, answer_reveal=IMMEDIATE), index=1, started_at=started
    )
    data = answer(contest, choice(contest, 1, "A"), responseTimeMs=1, timestamp="2000-01-01")

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            return await client.request("submit_answer", data, timestamp=timezone.now().isoformat())

    data = run(scenario)["data"]
    stored = Submission.objects.get(pk=data["submissionId"])
    assert 3000 <= data["responseTimeMs"] < 8000
    assert stored.response_time_ms == data["responseTimeMs"]
    # Speed scoring from the server's time: 1000 * (1 - 3/10 / 2) at best.
    assert data["pointsAwarded"] <= 850


@pytest.mark.parametrize(
    ("index", "value", "correct"),
    [
        (1, "A", True),
        (1, "B", False),
        (2, ["3", "2"], True),
        (2, ["2"], False),
        (3, 3.141, True),
        (3, 3, False),
        (4, "  paris ", True),
        (4, "Lyon", False),
    ],
)
def test_it_grades_every_question_type(participant, index, value, correct):
    contest = open_question(contest_of_every_type(answer_reveal=IMMEDIATE), index=index)
    if index in (1, 2):
        value = (
            [choice(contest, index, v) for v in value]
            if isinstance(value, list)
            else choice(contest, index, value)
        )
    data = answer(contest, value, index=index)

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            return await client.request("submit_answer", data)

    data = run(scenario)["data"]
    assert data["isCorrect"] is correct
    assert (data["pointsAwarded"] > 0) is correct


def rejection(user, contest: Contest, *, join: bool = True, data=None, before=None) -> dict:
    async def scenario():
        async with connected(user) as client:
            if join:
                await client.join(contest.pk)
            if before is not None:
                await client.request("submit_answer", before)
            reply = await client.request("submit_answer", data)
            # An error never closes the socket.
            assert (await client.request("ping"))["event"] == "pong"
            return reply

    reply = run(scenario)
    assert reply["event"] == "error", reply
    assert reply["data"]["event"] == "submit_answer"
    return reply["data"]


def test_it_refuses_an_answer_before_join(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    error = rejection(participant, contest, join=False, data=answer(contest, "x"))
    assert error["code"] == "NOT_JOINED"


def test_it_refuses_an_answer_for_another_contest_than_the_joined_one(participant):
    joined = open_question(contest_with_questions(questions=1), index=1)
    other = open_question(contest_with_questions(questions=1), index=1)
    data = answer(other, choice(other, 1, "A"))

    async def scenario():
        async with connected(participant) as client:
            await client.join(joined.pk)
            return await client.request("submit_answer", data)

    assert run(scenario)["data"]["code"] == "NOT_JOINED"
    assert not Submission.objects.exists()


def test_it_refuses_a_question_that_is_not_the_open_one(participant):
    contest = open_question(contest_with_questions(questions=2), index=1)
    error = rejection(participant, contest, data=answer(contest, choice(contest, 2, "A"), index=2))
    assert error["code"] == "QUESTION_CLOSED"


def test_it_refuses_an_answer_after_the_deadline_and_its_grace(participant):
    started = timezone.now() - timedelta(seconds=11)
    contest = open_question(contest_with_questions(questions=1), index=1, started_at=started)
    error = rejection(participant, contest, data=answer(contest, choice(contest, 1, "A")))
    assert error["code"] == "QUESTION_CLOSED"
    assert not Submission.objects.exists()


def test_it_refuses_an_unknown_question(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    data = {"contestId": str(contest.pk), "questionId": str(uuid.uuid4()), "answer": "x"}
    assert rejection(participant, contest, data=data)["code"] == "QUESTION_NOT_FOUND"


@pytest.mark.parametrize("value", [str(uuid.uuid4()), ["A"], 3, None, "not-a-uuid"])
def test_it_refuses_an_answer_that_does_not_fit_the_question(participant, value):
    contest = open_question(contest_with_questions(questions=1), index=1)
    assert rejection(participant, contest, data=answer(contest, value))["code"] == "INVALID_ANSWER"


def test_it_refuses_a_second_answer_to_the_same_question(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    first = answer(contest, choice(contest, 1, "B"))
    second = answer(contest, choice(contest, 1, "A"))
    error = rejection(participant, contest, data=second, before=first)
    assert error["code"] == "DUPLICATE_SUBMISSION"
    assert Submission.objects.get().is_correct is False


def test_it_refuses_answers_once_the_contest_is_over(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    data = answer(contest, choice(contest, 1, "A"))

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await run_in_db_thread(
                lambda: Contest.objects.filter(pk=contest.pk).update(
                    status=Contest.Status.COMPLETED, question_open=False
                )
            )()
            return await client.request("submit_answer", data)

    assert run(scenario)["data"]["code"] == "CONTEST_NOT_ACTIVE"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"questionId": str(uuid.uuid4()), "answer": "x"}, "data.contestId"),
        ({"answer": "x"}, "data.questionId"),
        ({"questionId": "nope", "answer": "x"}, "data.questionId"),
        ({"questionId": str(uuid.uuid4())}, "data.answer"),
    ],
)
def test_it_names_the_missing_or_malformed_field(participant, data, field):
    contest = open_question(contest_with_questions(questions=1), index=1)
    data = {"contestId": str(contest.pk), **data} if field != "data.contestId" else data
    error = rejection(participant, contest, data=data)
    assert (error["code"], error["field"]) == ("INVALID_PAYLOAD", field)


def test_two_sockets_of_one_user_answering_at_once_store_one_answer(participant):
    contest = open_question(contest_with_questions(questions=1), index=1)
    first, second = (answer(contest, choice(contest, 1, text)) for text in "AB")

    async def scenario():
        async with connected(participant) as one, connected(participant) as two:
            await one.join(contest.pk)
            await two.join(contest.pk)
            return await asyncio.gather(
                one.request("submit_answer", first), two.request("submit_answer", second)
            )

    replies = run(scenario)
    events = sorted(r["event"] for r in replies)
    assert events == ["error", "submission_result"]
    error = next(r for r in replies if r["event"] == "error")
    assert error["data"]["code"] == "DUPLICATE_SUBMISSION"
    assert Submission.objects.count() == 1


def test_an_unexpected_failure_is_an_internal_error_and_the_socket_goes_on(
    participant, monkeypatch
):
    """Fault injection: the service raises something it should never raise."""
    from realtime import consumers

    def broken(**kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(consumers, "submission_create", broken)
    contest = open_question(contest_with_questions(questions=1), index=1)
    error = rejection(participant, contest, data=answer(contest, choice(contest, 1, "A")))
    assert error["code"] == "INTERNAL_ERROR"
    assert "fire" not in error["message"]
