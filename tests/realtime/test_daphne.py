"""The contest WebSocket on a real web server (uvicorn as the Procfile runs it; daphne for
what its adapter does), with a real client (`websockets`)."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from datetime import timedelta

import jwt
import pytest
from rest_framework_simplejwt.tokens import AccessToken
from websockets.exceptions import ConnectionClosed

from contests.models import Submission
from contests.services import participant_register, submission_create
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from realtime.outbound import broadcast, payloads
from tests.conftest import access_token_for
from tests.factories import ContestFactory, UserFactory, contest_with_questions, open_question
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import SERVERS, WebServer, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def close_of(server, token, *, origin=None) -> tuple[int, str]:
    async def scenario():
        socket = await open_socket(server, token, origin=origin)
        return await socket.close_frame()

    return run(scenario)


def test_the_handshake_accepts_a_valid_token_and_refuses_the_rest(each_web_server, participant):
    web_server = each_web_server
    token = access_token_for(participant)

    expired = AccessToken.for_user(participant)
    expired.set_exp(lifetime=-timedelta(seconds=5))
    forged = jwt.encode(
        AccessToken.for_user(participant).payload, "another-secret-key-of-32-bytes-!", "HS256"
    )
    assert close_of(web_server, None) == (4001, "missing token")
    assert close_of(web_server, "garbage") == (4001, "invalid token")
    assert close_of(web_server, forged) == (4001, "invalid token")
    assert close_of(web_server, str(expired)) == (4002, "token expired")
    assert close_of(web_server, token, origin="http://evil.example") == (
        4003,
        "origin not allowed",
    )
    inactive = UserFactory(is_active=False)
    assert close_of(web_server, access_token_for(inactive)) == (4003, "user inactive")

    async def scenario():
        socket = await open_socket(web_server, token, origin=web_server.http_url)
        pong = await socket.request("ping", {})
        await socket.close()
        return pong

    assert run(scenario)["event"] == "pong"


def test_a_sixth_socket_of_one_user_is_refused(web_server, participant):
    token = access_token_for(participant)

    async def scenario():
        sockets = [await open_socket(web_server, token) for _ in range(5)]
        for socket in sockets:
            assert (await socket.request("ping"))["event"] == "pong"
        refused = await (await open_socket(web_server, token)).close_frame()
        await sockets[0].close()
        # The slot is free again once the server has seen the close.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            socket = await open_socket(web_server, token)
            try:
                reconnected = (await socket.request("ping"))["event"] == "pong"
                break
            except ConnectionClosed:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        for open_one in (socket, *sockets[1:]):
            await open_one.close()
        return refused, reconnected

    assert run(scenario) == ((4003, "too many connections"), True)


def test_a_participant_joins_answers_and_catches_up_after_a_reconnect(web_server, participant):
    contest = open_question(contest_with_questions(questions=2, answer_reveal="immediate"), index=1)
    question = contest.ordered_questions()[0]
    right = str(question.choices.get(text="A").id)
    token = access_token_for(participant)

    async def scenario():
        socket = await open_socket(web_server, token)
        state = (await socket.request("join_contest", {"contestId": str(contest.pk)}))["data"]
        result = await socket.request(
            "submit_answer",
            {"contestId": str(contest.pk), "questionId": str(question.pk), "answer": right},
        )
        await broadcast.asend_to_contest(contest.pk, "question_change", {"n": 1})
        first = await socket.receive_event("question_change")
        await socket.close()

        await broadcast.asend_to_contest(contest.pk, "question_change", {"n": 2})
        await broadcast.asend_to_contest(contest.pk, "question_change", {"n": 3})
        socket = await open_socket(web_server, token)
        cursor = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": first["seq"]}
        await socket.send("resync", cursor)
        replayed = [await socket.receive_event("question_change") for _ in range(2)]
        complete = await socket.receive_event("resync_complete")
        snapshot = await socket.request("resync", {"contestId": str(contest.pk)})
        await socket.close()
        return state, result, replayed, complete, snapshot

    state, result, replayed, complete, snapshot = run(scenario)
    assert state["phase"] == "question"
    assert result["event"] == "submission_result"
    assert result["data"]["isCorrect"] is True
    assert Submission.objects.filter(pk=result["data"]["submissionId"]).exists()
    assert [(e["seq"], e["data"]["n"]) for e in replayed] == [(2, 2), (3, 3)]
    assert (complete["data"]["replayed"], complete["data"]["seq"]) == (2, 3)
    assert snapshot["event"] == "contest_state"
    assert snapshot["data"]["seq"] == 3
    assert snapshot["data"]["yourSubmission"]["submissionId"] == result["data"]["submissionId"]


def test_a_leaderboard_update_reaches_every_socket_with_its_own_rank(web_server):
    contest = open_question(contest_with_questions(questions=1, answer_reveal="immediate"), index=1)
    question = contest.ordered_questions()[0]
    users = [UserFactory() for _ in range(4)]
    for user in users:
        participant_register(contest_id=contest.pk, user=user)
    for user, text in zip(users, ("A", "B", "A"), strict=False):
        answer = str(question.choices.get(text=text).id)
        submission_create(contest_id=contest.pk, question_id=question.pk, user=user, answer=answer)
    board = leaderboard_top(contest_id=contest.pk, limit=10)
    data = payloads.leaderboard_update_payload(
        contest.pk, top=board["top"], total_participants=board["totalParticipants"], frozen=False
    )

    async def scenario():
        sockets = [await open_socket(web_server, access_token_for(u)) for u in users]
        for socket in sockets:
            await socket.request("join_contest", {"contestId": str(contest.pk)})
        # From another process, as the leaderboard flush would.
        await broadcast.asend_to_contest(contest.pk, "leaderboard_update", data)
        events = [await socket.receive_event("leaderboard_update") for socket in sockets]
        for socket in sockets:
            await socket.close()
        return events

    events = run(scenario)
    participants = {p.user_id: str(p.pk) for p in contest.participants.all()}
    ranks = leaderboard_ranks(contest_id=contest.pk, participant_ids=participants.values())
    assert [e["data"]["you"] for e in events] == [ranks[participants[u.pk]] for u in users]
    assert len({e["seq"] for e in events}) == 1


def test_a_message_over_the_size_limit_closes_with_1009(each_web_server, participant):
    web_server = each_web_server

    async def scenario():
        socket = await open_socket(web_server, access_token_for(participant))
        await socket.ws.send("x" * (16 * 1024 + 1))
        return await socket.close_frame()

    assert run(scenario) == (1009, "message too big")


# The line each server logs for a handshake at DEBUG (with the request's URI), and the
# last line logged for the HTTP requests below: daphne's access log (full URIs); uvicorn's
# is off, so core.middleware's line (the path only).
HANDSHAKE_LINE = {"uvicorn": '"WebSocket /ws/contest?token=[redacted]"', "daphne": "WSCONNECT"}
LAST_REQUEST_LINE = {"uvicorn": "/api/health/", "daphne": "?token=[redacted]&x=1"}


@pytest.mark.parametrize("kind", SERVERS)
def test_the_token_never_reaches_the_server_log(transactional_db, participant, kind):
    # At DEBUG, the server's access log and handshake lines (full request URIs) are on too.
    web_server = WebServer(child_env(LOG_LEVEL="DEBUG"), kind=kind).start()
    try:
        token_never_logged(web_server, participant)
    finally:
        web_server.stop()


def token_never_logged(web_server, participant) -> None:
    token = access_token_for(participant)
    contest = ContestFactory()

    async def scenario():
        socket = await open_socket(web_server, token)
        await socket.request("join_contest", {"contestId": str(contest.pk)})
        await socket.close()
        refused = await open_socket(web_server, token, origin="http://evil.example")
        await refused.close_frame()

    run(scenario)
    # A plain HTTP request to the socket's URL (a browser tab, a proxy's health check) and
    # to an API URL: the access log writes full request URIs.
    for path in (f"/ws/contest?token={token}", f"/api/health/?token={token}&x=1"):
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(web_server.http_url + path, timeout=10).close()
    web_server.wait_for_output(LAST_REQUEST_LINE[web_server.kind])
    output = web_server.output()
    assert HANDSHAKE_LINE[web_server.kind] in output
    assert token not in output
    assert token.split(".")[2] not in output
