"""A client that does not read is closed (1013) once the server holds
WS_MAX_SEND_BUFFER_BYTES for it, without delaying anyone else in its room."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_sync

from contests.models import Contest
from realtime.outbound import broadcast
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_with_questions
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import SERVERS, WebServer, child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

EVENTS = 120
PADDING = "x" * 60_000  # 120 events of 60 KB: more than the kernel's buffers hold


@contextlib.contextmanager
def stuck_client(server: WebServer, contest: Contest) -> Iterator[tuple[socket.socket, Any]]:
    """A joined client that stops reading: a tiny receive window, and the client library
    stops reading after one message, so what the server writes for it piles up on the
    server's side. Yields a probe of its TCP socket (a second descriptor of it, which
    stays open when the client library closes its own on a reset) and its WebSocket."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    url = f"{server.ws_url}?token={access_token_for(UserFactory())}"
    with raw.dup() as probe, connect_sync(url, sock=raw, max_queue=1) as slow:
        slow.send(f'{{"event": "join_contest", "data": {{"contestId": "{contest.pk}"}}}}')
        assert '"contest_state"' in slow.recv(timeout=15)
        yield probe, slow


@pytest.mark.parametrize("kind", SERVERS)
def test_a_client_that_does_not_read_is_closed_and_the_room_goes_on(kind):
    contest = contest_with_questions(questions=1)
    reader = UserFactory()
    server = WebServer(child_env(WS_MAX_SEND_BUFFER_BYTES="65536"), kind=kind).start()
    try:
        with stuck_client(server, contest) as (_, slow):

            async def scenario():
                ws = await open_socket(server, access_token_for(reader))
                reply = await ws.request("join_contest", {"contestId": str(contest.pk)})
                assert reply["event"] == "contest_state"
                received = []
                for n in range(EVENTS):
                    data = {"n": n, "p": PADDING}
                    await broadcast.asend_ephemeral(contest.pk, "timer_update", data)
                    received.append((await ws.receive())["data"]["n"])
                return received

            # The reader gets every event, each before the next one is sent.
            assert run(scenario) == list(range(EVENTS))
            # The server closed the other with 1013. It never read the close frame behind
            # the data it did not read, so on its side the connection was dropped.
            with pytest.raises(ConnectionClosed):
                while True:
                    slow.recv(timeout=15)
        assert "Closing a client that does not read (1013 too slow)" in server.output()
    finally:
        server.stop()


# The first byte of Linux's struct tcp_info (TCP_INFO) is the connection's state.
TCP_CLOSE = 7


def tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def flood(contest: Contest) -> None:
    """More room events than the kernel's buffers hold, sent as fast as they go."""

    async def send_all() -> None:
        for n in range(EVENTS):
            await broadcast.asend_ephemeral(contest.pk, "timer_update", {"n": n, "p": PADDING})

    run(send_all)


def wait_until_reset(probe: socket.socket, timeout: float = 20) -> None:
    """Without reading from it: until the server dropped the connection."""
    deadline = time.monotonic() + timeout
    while tcp_state(probe) != TCP_CLOSE:
        assert time.monotonic() < deadline, "the server still holds the connection"
        time.sleep(0.1)


@pytest.mark.parametrize("kind", SERVERS)
def test_a_client_that_never_reads_again_is_dropped_not_held(kind):
    # Its 1013 close frame waits behind the data it does not read, so it never answers the
    # close: the server must drop the connection (RST) instead of holding its buffer.
    contest = contest_with_questions(questions=1)
    server = WebServer(child_env(WS_MAX_SEND_BUFFER_BYTES="65536"), kind=kind).start()
    try:
        with stuck_client(server, contest) as (probe, _):
            flood(contest)
            server.wait_for_output("Closing a client that does not read (1013 too slow)")
            # Never read again: within the servers' close timeouts (daphne's 1 s, uvicorn's
            # 10 s) the connection is reset. (Held, it would stay established: checked by
            # making the adapter close instead of reset.)
            wait_until_reset(probe)
    finally:
        server.stop()


# Pings every second, each to be answered within a second (the Procfile's: 30 s, 30 s).
QUICK_PINGS = {
    "uvicorn": ["--ws-ping-interval=1", "--ws-ping-timeout=1"],
    "daphne": ["--ping-interval", "1", "--ping-timeout", "1"],
}


@pytest.mark.parametrize("kind", SERVERS)
def test_a_client_that_stops_answering_pings_is_dropped_with_what_it_did_not_read(kind):
    # Under a send buffer limit it never reaches, what the client did not read waits in
    # the server's buffer: the ping timeout must end the connection all the same.
    contest = contest_with_questions(questions=1)
    env = child_env(WS_MAX_SEND_BUFFER_BYTES=str(64 * 2**20))
    server = WebServer(env, kind=kind, extra_args=QUICK_PINGS[kind]).start()
    try:
        with stuck_client(server, contest) as (probe, _):
            flood(contest)
            wait_until_reset(probe)
        assert "Closing a client that does not read" not in server.output()
    finally:
        server.stop()
