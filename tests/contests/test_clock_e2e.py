"""The whole clock for real: Celery beat and a worker (subprocesses) against PostgreSQL
and Redis play a scheduled contest to players on real WebSockets served by uvicorn, and a
worker killed mid-contest is replaced without a step lost or doubled."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from websockets.asyncio.client import connect

from contests.models import Contest
from leaderboard.models import FinalStanding
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_with_questions
from tests.servers import ServiceProcess, celery_beat, celery_worker, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECEIVE_TIMEOUT = 40
# The shortest time limit the model allows (5..600 s).
QUESTION_SECONDS = 5
PLAY_ORDER = [
    "contest_start",
    *["question_broadcast", "question_change"] * 3,
    "contest_end",
]


class Player:
    """A participant on a real WebSocket: joins, answers every question with the choice
    whose text is `pick`, and keeps every message the server sends until contest_end.
    With `after_tick`, it answers a question only once a `timer_update` for it arrived, so
    a question that closes when everyone answered still shows the clock ticking."""

    def __init__(self, ws_url: str, token: str, pick: str, *, after_tick: bool = False) -> None:
        self.url = f"{ws_url}?token={token}"
        self.pick = pick
        self.after_tick = after_tick
        self.state: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.joined = asyncio.Event()

    async def play(self, contest_id: object) -> None:
        async with connect(self.url) as ws:
            await ws.send(self._envelope("join_contest", {"contestId": str(contest_id)}, "join"))
            reply = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
            assert (reply["event"], reply.get("requestId")) == ("contest_state", "join"), reply
            self.state = reply["data"]
            self.joined.set()
            unanswered: dict[str, Any] | None = None
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
                self.messages.append(message)
                if message["event"] == "question_broadcast":
                    unanswered = message["data"]
                ticked = (
                    message["event"] == "timer_update"
                    and unanswered is not None
                    and message["data"]["questionId"] == unanswered["questionId"]
                )
                if unanswered is not None and (ticked or not self.after_tick):
                    await ws.send(self._answer(unanswered))
                    unanswered = None
                if message["event"] == "contest_end":
                    return

    def _answer(self, question: dict[str, Any]) -> str:
        choice = next(c["id"] for c in question["choices"] if c["text"] == self.pick)
        data = {
            "contestId": question["contestId"],
            "questionId": question["questionId"],
            "answer": choice,
        }
        return self._envelope("submit_answer", data, f"answer-{question['index']}")

    @staticmethod
    def _envelope(event: str, data: dict[str, Any], request_id: str) -> str:
        return json.dumps({"event": event, "data": data, "requestId": request_id})

    def events(self, *, without: tuple[str, ...] = ()) -> list[str]:
        return [m["event"] for m in self.messages if m["event"] not in without]

    def room_events(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "seq" in m]


async def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}")
        await asyncio.sleep(0.05)


def worker_started() -> ServiceProcess:
    worker = celery_worker(child_env()).start()
    worker.wait_for_output(" ready.", timeout=60)
    return worker


def start_in(seconds: float, contest_id: object) -> None:
    try:
        Contest.objects.filter(pk=contest_id).update(
            start_time=timezone.now() + timedelta(seconds=seconds)
        )
    finally:
        connection.close()


def assert_played_in_order(player: Player, questions: list[str]) -> None:
    """contest_start; per question: its question_broadcast, timer_update(s) for it, its
    question_change; contest_end; room events numbered on from the joined state."""
    assert player.events(without=("timer_update", "submission_result", "leaderboard_update")) == (
        PLAY_ORDER
    )
    seqs = [m["seq"] for m in player.room_events()]
    assert seqs == list(range(player.state["seq"] + 1, player.state["seq"] + 1 + len(seqs)))
    for question_id in questions:
        shown = next(
            i
            for i, m in enumerate(player.messages)
            if m["event"] == "question_broadcast" and m["data"]["questionId"] == question_id
        )
        closed = next(
            i
            for i, m in enumerate(player.messages)
            if m["event"] == "question_change" and m["data"]["closedQuestionId"] == question_id
        )
        timers = [
            m
            for m in player.messages[shown:closed]
            if m["event"] == "timer_update" and m["data"]["questionId"] == question_id
        ]
        assert shown < closed and timers, (question_id, player.events())
        assert all(0 <= t["data"]["remainingSeconds"] <= QUESTION_SECONDS for t in timers)
        assert not any(
            m["event"] == "timer_update" and m["data"]["questionId"] == question_id
            for m in player.messages[:shown]
        )
    results = [m for m in player.messages if m["event"] == "submission_result"]
    assert [r["data"]["accepted"] for r in results] == [True, True, True]


def test_a_scheduled_contest_plays_itself_through_a_worker_crash(web_server):
    contest = contest_with_questions(
        questions=3,
        intermission_seconds=1,
        start_time=timezone.now() + timedelta(hours=1),
    )
    contest.questions.update(time_limit_seconds=QUESTION_SECONDS)
    questions = [str(q.pk) for q in contest.ordered_questions()]
    users = [UserFactory(display_name=name) for name in ("Right", "Wrong", "Also right")]
    players = [
        Player(web_server.ws_url, access_token_for(user), pick)
        for user, pick in zip(users, ["A", "B", "A"], strict=True)
    ]
    beat = celery_beat(child_env()).start()
    workers = [worker_started()]

    async def scenario() -> None:
        games = [asyncio.create_task(p.play(contest.pk)) for p in players]
        for player in players:
            await asyncio.wait_for(player.joined.wait(), RECEIVE_TIMEOUT)
        await asyncio.to_thread(start_in, 1, contest.pk)
        # Kill the worker once question 2 is running, then start a new one.
        await until(
            lambda: any(
                m["event"] == "timer_update" and m["data"]["questionId"] == questions[1]
                for m in players[0].messages
            ),
            timeout=60,
            what="question 2's first timer_update",
        )
        workers[0].kill()
        workers.append(await asyncio.to_thread(worker_started))
        await asyncio.wait_for(asyncio.gather(*games), timeout=120)

    try:
        asyncio.run(scenario())
    finally:
        beat.stop()
        for worker in workers:
            worker.stop()

    assert [p.state["status"] for p in players] == ["upcoming"] * 3
    for player in players:
        assert_played_in_order(player, questions)

    # Everyone saw the same room events, word for word (but for their own `you` and
    # `yourResult`).
    def shared(data: dict) -> dict:
        return {k: None if k in ("you", "yourResult") else v for k, v in data.items()}

    first = [(m["seq"], m["event"], shared(m["data"])) for m in players[0].room_events()]
    for player in players[1:]:
        assert [(m["seq"], m["event"], shared(m["data"])) for m in player.room_events()] == first
    end = players[0].messages[-1]["data"]
    assert end["status"] == "completed"
    assert [row["displayName"] for row in end["finalLeaderboard"]][2] == "Wrong"
    assert end["totalParticipants"] == 3
    assert players[1].messages[-1]["data"]["you"] == {"rank": 3, "score": 0}
    contest.refresh_from_db()
    assert contest.status == Contest.Status.COMPLETED
    standings = FinalStanding.objects.filter(contest=contest).order_by("rank")
    assert [s.rank for s in standings] == [1, 2, 3]
    assert standings[2].participant.user == users[1]
    assert standings[2].score == 0 and standings[0].score > 0
