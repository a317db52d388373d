"""SIGTERM of a web process: every socket gets a close frame (1012), the answer in hand
is committed or refused, and the process exits within SHUTDOWN_TIMEOUT_SECONDS."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from contests.models import Submission
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import SERVERS, WebServer, child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.mark.parametrize("kind", SERVERS)
def test_sigterm_closes_every_socket_with_1012_and_exits_in_time(kind):
    contest = open_question(contest_with_questions(questions=2))
    users = [UserFactory() for _ in range(5)]
    server = WebServer(child_env(SHUTDOWN_TIMEOUT_SECONDS="5"), kind=kind).start()
    try:

        async def scenario():
            sockets = [await open_socket(server, access_token_for(u)) for u in users]
            for ws in sockets:
                reply = await ws.request("join_contest", {"contestId": str(contest.pk)})
                assert reply["event"] == "contest_state", reply
            sent_at = time.monotonic()
            os.killpg(server.proc.pid, signal.SIGTERM)
            closes = await asyncio.gather(*(ws.close_frame() for ws in sockets))
            return closes, time.monotonic() - sent_at

        closes, waited = run(scenario)
        assert closes == [(1012, "service restart")] * len(users)
        assert waited < 5
        server.proc.wait(timeout=5)
        assert server.proc.returncode is not None
        assert "Traceback" not in server.output()
    finally:
        server.stop()


@pytest.mark.parametrize("kind", SERVERS)
def test_an_answer_in_hand_at_sigterm_is_answered_before_its_socket_closes(kind):
    contest = open_question(contest_with_questions(questions=1))
    question = contest.ordered_questions()[0]
    right = str(question.choices.get(text="A").pk)
    user = UserFactory()
    server = WebServer(child_env(SHUTDOWN_TIMEOUT_SECONDS="5"), kind=kind).start()
    try:

        async def scenario():
            ws = await open_socket(server, access_token_for(user))
            await ws.request("join_contest", {"contestId": str(contest.pk)})
            data = {"contestId": str(contest.pk), "questionId": str(question.pk), "answer": right}
            await ws.send("submit_answer", data, requestId="answer")
            os.killpg(server.proc.pid, signal.SIGTERM)
            received = []
            code_reason = await ws.close_frame_after(received)
            return received, code_reason

        received, code_reason = run(scenario)
        replies = [m for m in received if m.get("requestId") == "answer"]
        assert len(replies) == 1
        stored = Submission.objects.filter(participant__user=user).count()
        # Committed and acknowledged, or refused and not stored: never one without the other.
        assert (replies[0]["event"], stored) in {("submission_result", 1), ("error", 0)}
        assert code_reason == (1012, "service restart")
    finally:
        server.stop()
