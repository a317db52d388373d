"""Answers arriving at the same instant, on a real daphne."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from contests.models import Submission
from realtime.db import run_in_db_thread
from tests.conftest import access_token_for
from tests.factories import ContestFactory, UserFactory, open_question, single_choice_question
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import WebServer, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def unthrottled_server(transactional_db) -> Iterator[WebServer]:
    """A web server whose rate limit lets one client answer 50 questions in a few seconds."""
    server = WebServer(
        child_env(WS_RATE_LIMIT_PER_SECOND="1000", WS_RATE_LIMIT_BURST="1000")
    ).start()
    try:
        yield server
    finally:
        server.stop()


def test_200_sockets_answering_one_question_at_once_are_all_stored(web_server):
    contest = ContestFactory(answer_reveal="immediate")
    question = single_choice_question(contest, order=1, time_limit_seconds=120)
    open_question(contest, index=1)
    right = str(question.choices.get(text="A").id)
    tokens = [access_token_for(UserFactory()) for _ in range(200)]
    answer = {"contestId": str(contest.pk), "questionId": str(question.pk), "answer": right}

    async def scenario():
        sockets = await asyncio.gather(*(open_socket(web_server, t) for t in tokens))
        joined = await asyncio.gather(
            *(s.request("join_contest", {"contestId": str(contest.pk)}) for s in sockets)
        )
        assert all(reply["event"] == "contest_state" for reply in joined)
        replies = await asyncio.gather(*(s.request("submit_answer", answer) for s in sockets))
        await asyncio.gather(*(s.close() for s in sockets))
        return replies

    replies = run(scenario)
    assert [r["event"] for r in replies] == ["submission_result"] * 200
    assert len({r["data"]["submissionId"] for r in replies}) == 200
    assert all(r["data"]["isCorrect"] for r in replies)
    assert Submission.objects.filter(question=question).count() == 200


def test_one_user_answering_from_two_sockets_at_once_is_stored_once_every_time(
    unthrottled_server, participant
):
    contest = ContestFactory()
    questions = [
        single_choice_question(contest, order=i, time_limit_seconds=60) for i in range(1, 51)
    ]
    answers = [
        [
            {"contestId": str(contest.pk), "questionId": str(q.pk), "answer": str(c.pk)}
            for c in q.choices.order_by("order")
        ]
        for q in questions
    ]
    token = access_token_for(participant)

    async def scenario():
        one = await open_socket(unthrottled_server, token)
        two = await open_socket(unthrottled_server, token)
        for socket in (one, two):
            await socket.request("join_contest", {"contestId": str(contest.pk)})
        rounds = []
        for index, (first, second) in enumerate(answers, start=1):
            await run_in_db_thread(open_question)(contest, index=index)
            rounds.append(
                await asyncio.gather(
                    one.request("submit_answer", first), two.request("submit_answer", second)
                )
            )
        await one.close()
        await two.close()
        return rounds

    for replies in run(scenario):
        outcome = sorted(
            r["data"]["code"] if r["event"] == "error" else r["event"] for r in replies
        )
        assert outcome == ["DUPLICATE_SUBMISSION", "submission_result"]
    assert Submission.objects.filter(participant__user=participant).count() == 50
