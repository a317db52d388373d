"""The live leaderboard end to end: a real web server, real WebSocket clients, the flush run
from this process, and each socket's own `you` filled in by the server's hub."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from accounts.models import User
from contests.models import Contest
from contests.services import contest_end_now, participant_register, submission_create
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from leaderboard.services import leaderboard_flush
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_with_questions, open_question

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

TIMEOUT = 10
CROWD = 100


def open_socket(server, user) -> ClientConnection:
    return connect(f"{server.ws_url}?token={access_token_for(user)}", open_timeout=TIMEOUT)


def join(ws: ClientConnection, contest: Contest) -> dict[str, Any]:
    ws.send(
        json.dumps(
            {"event": "join_contest", "data": {"contestId": str(contest.pk)}, "requestId": "j"}
        )
    )
    while True:
        message = json.loads(ws.recv(timeout=TIMEOUT))
        if message.get("requestId") == "j":
            assert message["event"] == "contest_state", message
            return message["data"]


def events_until(ws: ClientConnection, last: str) -> list[dict[str, Any]]:
    """Every room event up to and including the first `last` (timer_update left out)."""
    deadline = time.monotonic() + TIMEOUT
    events = []
    while True:
        message = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["event"] == "timer_update":
            continue
        events.append(message)
        if message["event"] == last:
            return events


def test_a_batch_of_answers_reaches_every_socket_once_with_its_own_rank(web_server):
    # Revealed at once: the answers reach the board before the question closes.
    contest = open_question(contest_with_questions(questions=2, answer_reveal="immediate"))
    question = contest.ordered_questions()[0]
    right = str(question.choices.get(text="A").pk)
    wrong = str(question.choices.get(text="B").pk)
    watchers = [UserFactory(display_name=f"Watcher {i}") for i in range(3)]
    crowd = User.objects.bulk_create(User(username=f"crowd{i}") for i in range(CROWD))
    participants = [participant_register(contest_id=contest.pk, user=u)[0] for u in watchers]
    for user in crowd:
        participant_register(contest_id=contest.pk, user=user)
    # Watcher 0 (on two sockets) never answers: first of those with 0 points, having
    # registered first.
    with ExitStack() as stack:
        sockets = [stack.enter_context(open_socket(web_server, watchers[i])) for i in (0, 0, 1, 2)]
        for ws in sockets:
            join(ws, contest)
        answering = [*watchers[1:], *crowd]
        for i, user in enumerate(answering):
            submission_create(
                contest_id=contest.pk,
                question_id=question.pk,
                user=user,
                answer=right if i % 4 else wrong,
            )

        leaderboard_flush()
        leaderboard_flush()  # nothing changed since the first: sends nothing
        contest_end_now(contest_id=contest.pk)

        ranks = leaderboard_ranks(
            contest_id=contest.pk, participant_ids=[p.pk for p in participants]
        )
        final = leaderboard_top(contest_id=contest.pk, limit=10)
        expected_you = [ranks[str(participants[i].pk)] for i in (0, 0, 1, 2)]
        scorers = sum(1 for i in range(len(answering)) if i % 4)
        assert expected_you[0] == {"rank": scorers + 1, "score": 0}
        for ws, you in zip(sockets, expected_you, strict=True):
            events = events_until(ws, "contest_end")
            assert [e["event"] for e in events] == [
                "leaderboard_update",
                "question_change",
                "contest_end",
            ]
            update, _, end = events
            assert update["data"]["you"] == you
            assert update["data"]["top"] == final["top"]
            assert update["data"]["totalParticipants"] == CROWD + 3
            assert end["data"]["you"] == you
            assert end["data"]["finalLeaderboard"] == final["top"]
