"""The socket figures of core.metrics under real sockets on real web processes, and
their sum over several processes (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from contests.services import contest_start
from tests.conftest import access_token_for
from tests.core.test_metrics import Samples, parse, value
from tests.factories import contest_with_questions
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import SERVERS, WebServer, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def scrape(server: WebServer) -> Samples:
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
        return parse(response.read().decode())


def wait_for(server: WebServer, check: Callable[[Samples], bool], timeout: float = 15) -> Samples:
    """The server's figures once `check` holds (sockets are counted when the server has
    handled them, a moment after the client's call returns)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"never held; last figures: {samples}")
        time.sleep(0.05)


async def await_figures(server: WebServer, check: Callable[[Samples], bool]) -> Samples:
    return await asyncio.to_thread(wait_for, server, check)


def start(contest_id: uuid.UUID) -> None:
    """Start the contest from a thread of the test's loop, with its own connection."""
    try:
        contest_start(contest_id=contest_id)
    finally:
        connection.close()


@pytest.fixture
def server(tmp_path: Path):
    server = WebServer(child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))).start()
    try:
        yield server
    finally:
        server.stop()


def test_connections_rooms_events_errors_and_closes_move_with_the_sockets(server, participant):
    contest = contest_with_questions(questions=1)
    contest_id = str(contest.pk)
    token = access_token_for(participant)

    async def scenario():
        first = await open_socket(server, token)
        second = await open_socket(server, token)
        for socket in (first, second):
            assert (await socket.request("join_contest", {"contestId": contest_id}))[
                "event"
            ] == "contest_state"
        await await_figures(
            server,
            lambda s: (
                value(s, "contest_ws_connections") == 2
                and value(s, "contest_ws_joined", contest=contest_id) == 2
            ),
        )

        await first.ws.send("not json")
        assert (await first.receive())["data"]["code"] == "INVALID_PAYLOAD"
        unknown = await first.request("join_contest", {"contestId": str(uuid.uuid4())})
        assert unknown["data"]["code"] == "CONTEST_NOT_FOUND"

        await asyncio.to_thread(start, contest.pk)
        await first.receive_event("contest_start")
        question = (await first.receive_event("question_broadcast"))["data"]
        await second.receive_event("contest_start")
        await second.receive_event("question_broadcast")
        result = await first.request(
            "submit_answer",
            {
                "contestId": contest_id,
                "questionId": question["questionId"],
                "answer": question["choices"][0]["id"],
            },
        )
        assert result["event"] == "submission_result"

        await second.close()
        return await await_figures(
            server,
            lambda s: (
                value(s, "contest_ws_connections") == 1
                and value(s, "contest_ws_closes_total", code="1000") == 1
            ),
        )

    samples = run(scenario)

    assert value(samples, "contest_ws_joined", contest=contest_id) == 1
    assert value(samples, "contest_ws_events_received_total", event="join_contest") == 3
    assert value(samples, "contest_ws_events_received_total", event="invalid") == 1
    assert value(samples, "contest_ws_events_received_total", event="submit_answer") == 1
    assert value(samples, "contest_ws_errors_total", code="INVALID_PAYLOAD") == 1
    assert value(samples, "contest_ws_errors_total", code="CONTEST_NOT_FOUND") == 1
    assert value(samples, "contest_ws_events_sent_total", event="contest_state") == 2
    assert value(samples, "contest_ws_events_sent_total", event="question_broadcast") == 2
    assert value(samples, "contest_ws_events_sent_total", event="submission_result") == 1
    assert value(samples, "contest_ws_events_sent_total", event="error") == 2
    assert value(samples, "contest_submission_seconds_count") == 1
    # contest_start and question_broadcast, each written to the room once here.
    assert value(samples, "contest_broadcast_seconds_count") == 2
    assert value(samples, "contest_channel_layer_failures_total") == 0


def test_a_refused_handshake_and_an_oversized_message_are_counted_by_close_code(
    server, participant
):
    async def scenario():
        refused = await open_socket(server, "garbage")
        assert (await refused.close_frame())[0] == 4001
        socket = await open_socket(server, access_token_for(participant))
        await socket.ws.send("x" * 20_000)
        assert (await socket.close_frame())[0] == 1009
        return await await_figures(
            server,
            lambda s: (
                value(s, "contest_ws_closes_total", code="4001") == 1
                and value(s, "contest_ws_closes_total", code="1009") == 1
            ),
        )

    samples = run(scenario)

    assert value(samples, "contest_ws_connections") == 0
    assert value(samples, "contest_ws_events_received_total", event="dropped") == 1


def test_two_web_processes_show_the_sum_of_their_figures(tmp_path: Path, participant, outsider):
    env = child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    first, second = WebServer(env).start(), WebServer(env).start()
    third = None
    try:

        async def scenario():
            sockets = [
                await open_socket(first, access_token_for(participant)),
                await open_socket(second, access_token_for(participant)),
                await open_socket(second, access_token_for(outsider)),
            ]
            for socket in sockets:
                assert (await socket.request("ping"))["event"] == "pong"
            both = await await_figures(first, lambda s: value(s, "contest_ws_connections") == 3)
            return both, await asyncio.to_thread(scrape, second)

        seen_by_first, seen_by_second = run(scenario)
        # A web process that is gone: its open sockets leave the sum when the next process
        # starts; what it counted stays in the totals.
        second.kill()
        third = WebServer(env).start()
        after = wait_for(third, lambda s: value(s, "contest_ws_connections") == 1)
    finally:
        for server in (first, second, third):
            if server is not None:
                server.stop()

    for samples in (seen_by_first, seen_by_second):
        assert value(samples, "contest_ws_events_received_total", event="ping") == 3
        assert value(samples, "contest_ws_events_sent_total", event="pong") == 3
    assert value(after, "contest_ws_events_received_total", event="ping") == 3


@pytest.mark.parametrize("kind", SERVERS)
def test_a_connection_lost_without_a_close_frame_is_counted_as_1006(
    tmp_path: Path, participant, kind
):
    server = WebServer(child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path)), kind=kind).start()
    try:

        async def scenario():
            socket = await open_socket(server, access_token_for(participant))
            assert (await socket.request("ping", {}))["event"] == "pong"
            socket.ws.transport.abort()  # a network loss: no close frame, a reset
            return await await_figures(
                server, lambda s: value(s, "contest_ws_closes_total", code="1006") == 1
            )

        samples = run(scenario)
        assert value(samples, "contest_ws_closes_total", code="1005") == 0
    finally:
        server.stop()
