"""A client that does not read is closed (1013) once the server holds
WS_MAX_SEND_BUFFER_BYTES for it, without delaying anyone else in its room."""

from __future__ import annotations

import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_sync

from realtime.outbound import broadcast
from tests.conftest import access_token_for
from tests.factories import UserFactory, contest_with_questions
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import SERVERS, WebServer, child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

EVENTS = 120
PADDING = "x" * 60_000  # 120 events of 60 KB: more than the kernel's buffers hold


@pytest.mark.parametrize("kind", SERVERS)
def test_a_client_that_does_not_read_is_closed_and_the_room_goes_on(kind):
    contest = contest_with_questions(questions=1)
    reader, stuck = UserFactory(), UserFactory()
    server = WebServer(child_env(WS_MAX_SEND_BUFFER_BYTES="65536"), kind=kind).start()
    try:
        # A tiny receive window, and the client library stops reading after one message:
        # what the server writes for it piles up on the server's side.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        url = f"{server.ws_url}?token={access_token_for(stuck)}"
        with connect_sync(url, sock=raw, max_queue=1) as slow:
            slow.send(f'{{"event": "join_contest", "data": {{"contestId": "{contest.pk}"}}}}')
            assert '"contest_state"' in slow.recv(timeout=15)

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
TCP_ESTABLISHED, TCP_CLOSE = 1, 7


def tcp_state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


@pytest.mark.parametrize("kind", SERVERS)
def test_a_client_that_never_reads_again_is_dropped_not_held(kind):
    # Its 1013 close frame waits behind the data it does not read, so it never answers the
    # close: the server must drop the connection (RST) instead of holding its buffer.
    contest = contest_with_questions(questions=1)
    stuck = UserFactory()
    server = WebServer(child_env(WS_MAX_SEND_BUFFER_BYTES="65536"), kind=kind).start()
    try:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", server.port))
        url = f"{server.ws_url}?token={access_token_for(stuck)}"
        with connect_sync(url, sock=raw, max_queue=1) as slow:
            slow.send(f'{{"event": "join_contest", "data": {{"contestId": "{contest.pk}"}}}}')
            assert '"contest_state"' in slow.recv(timeout=15)

            async def flood():
                for n in range(EVENTS):
                    await broadcast.asend_ephemeral(
                        contest.pk, "timer_update", {"n": n, "p": PADDING}
                    )

            run(flood)
            server.wait_for_output("Closing a client that does not read (1013 too slow)")
            assert tcp_state(raw) == TCP_ESTABLISHED
            # Never read again: within the servers' close timeouts (10 s at most) the
            # connection is reset.
            deadline = time.monotonic() + 20
            while tcp_state(raw) != TCP_CLOSE:
                assert time.monotonic() < deadline, "the server still holds the connection"
                time.sleep(0.1)
    finally:
        server.stop()
