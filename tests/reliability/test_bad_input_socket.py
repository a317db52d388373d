"""Bad input to the WebSocket (issue 13): every one gets its documented error or close code
(docs/PROTOCOL.md), the socket goes on where the protocol says so, and the server logs no
traceback. The first tests drive the ASGI application in-process; those marked e2e run a
real daphne with the flags of production (tests/servers.py DAPHNE_FLAGS)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
import urllib.error
import urllib.request

import pytest
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from contests.models import Submission
from core.redis import get_redis
from realtime.limits import _slot_key
from tests.conftest import access_token_for
from tests.factories import (
    UserFactory,
    contest_of_every_type,
    contest_with_questions,
    open_question,
)
from tests.realtime.conftest import connected, run
from tests.realtime.daphne_client import TIMEOUT, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

TEXT_QUESTION = 4  # contest_of_every_type: single, multiple, numeric, text


@pytest.fixture
def text_question_open():
    contest = open_question(contest_of_every_type(), index=TEXT_QUESTION)
    return contest, contest.ordered_questions()[TEXT_QUESTION - 1]


def surrogate_messages(contest, question) -> dict[str, tuple[str, dict]]:
    """By the field they name: a message with a lone surrogate there (json.dumps writes it
    as the JSON escape `\\udfff`, as a client would)."""
    contest_id, question_id = str(contest.pk), str(question.pk)
    return {
        "data.answer": (
            "submit_answer",
            {"contestId": contest_id, "questionId": question_id, "answer": "Par\udfffis"},
        ),
        "data.epoch": ("resync", {"contestId": contest_id, "epoch": "\udfff", "lastSeq": 0}),
        "data.contestId": ("join_contest", {"contestId": "\ud800"}),
    }


@pytest.mark.parametrize("field", ["data.answer", "data.epoch", "data.contestId"])
def test_a_lone_surrogate_is_an_invalid_payload_naming_its_field(
    field, participant, text_question_open, errors_logged
):
    contest, question = text_question_open
    event, data = surrogate_messages(contest, question)[field]

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            text = json.dumps({"event": event, "data": data})
            assert "\\ud" in text and text.isascii()
            await client.send_raw(text)
            error = await client.receive_event("error")
            # The socket goes on: the same answer in valid text is taken.
            result = await client.request(
                "submit_answer",
                {"contestId": str(contest.pk), "questionId": str(question.pk), "answer": "Paris"},
            )
            return error, result

    error, result = run(scenario)
    assert error["data"]["code"] == "INVALID_PAYLOAD"
    assert error["data"]["field"] == field
    assert error["data"]["message"]
    assert result["event"] == "submission_result"
    assert Submission.objects.get().answer == "Paris"
    assert errors_logged() == []


@pytest.mark.parametrize("field", ["data.answer", "data.epoch"])
def test_the_error_for_a_lone_surrogate_echoes_the_request_id_and_event(
    field, participant, text_question_open
):
    # docs/PROTOCOL.md, "error": "requestId is echoed when the failing message had a valid
    # one"; `event` is null only "if the message could not be read that far".
    contest, question = text_question_open
    event, data = surrogate_messages(contest, question)[field]

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await client.send(event, data, requestId="r-surrogate")
            return await client.receive_event("error")

    error = run(scenario)
    assert error["data"]["code"] == "INVALID_PAYLOAD"
    assert error.get("requestId") == "r-surrogate"
    assert error["data"]["event"] == event


def test_a_lone_surrogate_in_the_request_id_is_an_invalid_payload(participant):
    async def scenario():
        async with connected(participant) as client:
            await client.send("ping", {}, requestId="r-\udfff")
            return await client.receive_event("error"), await client.request("ping")

    error, pong = run(scenario)
    assert (error["data"]["code"], error["data"]["field"]) == ("INVALID_PAYLOAD", "requestId")
    assert "requestId" not in error
    assert pong["event"] == "pong"


def test_an_escaped_surrogate_pair_in_a_text_answer_is_ordinary_text(
    participant, text_question_open
):
    contest, question = text_question_open

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            data = {"contestId": str(contest.pk), "questionId": str(question.pk)}
            return await client.request("submit_answer", {**data, "answer": "Paris \U0001f5fc"})

    result = run(scenario)
    assert result["event"] == "submission_result"
    assert Submission.objects.get().answer == "Paris \U0001f5fc"


# --- Against a real web server --------------------------------------------------------------


def close_after_sending(server, token: str, message: str | list[str]) -> tuple[int, str]:
    """Send one message (a list: its fragments, each one frame) and return the close
    frame the server sends (code, reason); fails if the connection ends without one."""

    async def scenario():
        socket = await open_socket(server, token)
        # The server may close while the message is still being written.
        with contextlib.suppress(ConnectionClosed):
            await socket.ws.send(message if isinstance(message, str) else iter(message))
        return await socket.close_frame()

    return run(scenario)


def no_error_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if "Traceback" in line or " ERROR " in line]


@pytest.mark.e2e
def test_a_message_over_the_servers_64_kib_limit_gets_a_1009_close_frame(
    each_web_server, participant
):
    web_server = each_web_server
    token = access_token_for(participant)
    over = 64 * 1024 + 1

    one_frame = close_after_sending(web_server, token, "x" * over)
    fragmented = close_after_sending(web_server, token, ["x" * 16 * 1024] * 5)

    assert one_frame[0] == 1009, one_frame
    assert fragmented[0] == 1009, fragmented
    assert no_error_in(web_server.output()) == []


BETWEEN_THE_LIMITS = {
    "16 KiB + 1 byte": "x" * (16 * 1024 + 1),
    "6,000 characters of 3 bytes": "\u20ac" * 6000,
    "40 KB of JSON": json.dumps({"event": "ping", "data": {"pad": "x" * 40_000}}),
    "64 KiB": "x" * (64 * 1024),
}


@pytest.mark.e2e
def test_a_message_between_16_and_64_kib_is_closed_1009_message_too_big(web_server, participant):
    token = access_token_for(participant)
    for message in BETWEEN_THE_LIMITS.values():
        assert 16 * 1024 < len(message.encode()) <= 64 * 1024

    closes = {
        name: close_after_sending(web_server, token, message)
        for name, message in BETWEEN_THE_LIMITS.items()
    }

    assert closes == dict.fromkeys(BETWEEN_THE_LIMITS, (1009, "message too big"))
    assert no_error_in(web_server.output()) == []


def token_with_user_id(user_id: object) -> str:
    """An access token signed with SECRET_KEY, as simplejwt makes them (token_type, exp,
    iat, jti), carrying `user_id`."""
    token = AccessToken()
    token[jwt_settings.USER_ID_CLAIM] = user_id
    return str(token)


NOT_UUIDS = ["not-a-uuid", "", "0b7c6f0e-3c9a-4f7e-9d0b-6f1a2b3c4d5", "\udfff", "\x00", 1.5, -1]
NOT_UUIDS += [2**200, ["x"], {"id": 1}]


@pytest.mark.e2e
def test_a_token_whose_user_id_is_not_a_uuid_closes_4001_invalid_token(web_server, participant):
    async def scenario():
        socket = await open_socket(web_server, token_with_user_id(str(participant.pk)))
        pong = await socket.request("ping")
        await socket.close()
        closes = []
        for user_id in NOT_UUIDS:
            refused = await open_socket(web_server, token_with_user_id(user_id))
            closes.append(await refused.close_frame())
        return pong, closes

    pong, closes = run(scenario)
    assert pong["event"] == "pong"
    assert closes == [(4001, "invalid token")] * len(NOT_UUIDS)

    request = urllib.request.Request(
        f"{web_server.http_url}/api/contests/",
        headers={"Authorization": f"Bearer {token_with_user_id('not-a-uuid')}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["code"] == "TOKEN_NOT_VALID"
    assert no_error_in(web_server.output()) == []


def post(server, path: str, body, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST `body` as JSON; the status and the decoded answer."""
    request = urllib.request.Request(
        server.http_url + path,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def register_body(display_name: bytes) -> bytes:
    return b'{"username": "sam", "password": "a-long-passphrase-7", "display_name": "%s"}' % (
        display_name
    )


TOO_BIG = register_body(b"x" * 2_700_000)


@pytest.mark.e2e
def test_through_the_server_bad_bodies_get_413_or_400_never_500(web_server):
    sized = post(web_server, "/api/auth/register/", TOO_BIG)
    deep = post(web_server, "/api/auth/register/", b"[" * 50_000 + b"]" * 50_000)
    surrogate = post(web_server, "/api/auth/register/", register_body(b"\\udfff"))

    assert (sized[0], sized[1]["code"]) == (413, "REQUEST_TOO_LARGE")
    assert (deep[0], deep[1]["code"]) == (400, "PARSE_ERROR")
    assert (surrogate[0], surrogate[1]["code"]) == (400, "PARSE_ERROR")
    assert no_error_in(web_server.output()) == []


def chunked(body: bytes) -> dict:
    """A body sent with `Transfer-Encoding: chunked` and no Content-Length, as clients that
    stream their body do (urllib sends an iterable so)."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    return {"body": iter(chunks), "headers": {"Transfer-Encoding": "chunked"}}


@pytest.mark.e2e
def test_through_the_server_a_chunked_body_is_read_like_a_sized_one(web_server):
    small = post(web_server, "/api/auth/register/", **chunked(register_body(b"Sam")))
    too_big = post(web_server, "/api/auth/register/", **chunked(TOO_BIG))

    assert small == (201, {**small[1], "username": "sam", "display_name": "Sam"})
    assert (too_big[0], too_big[1]["code"]) == (413, "REQUEST_TOO_LARGE")
    assert no_error_in(web_server.output()) == []


# --- Clients that hang up while their reply is pending ------------------------------------


class RawClient:
    """A WebSocket client on a plain TCP socket (websockets' sans-I/O protocol), so that a
    test decides which frames go out together in one write."""

    def __init__(self, server, token: str) -> None:
        self.protocol = ClientProtocol(parse_uri(f"{server.ws_url}?token={token}"))
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        while self.protocol.state is State.CONNECTING:
            self._read()
        assert self.protocol.state is State.OPEN, self.protocol.handshake_exc

    def flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        assert data, "the server closed the connection"

    def request(self, event: str, data: dict) -> dict:
        """Send one message and wait for its reply (the message echoing its requestId)."""
        request_id = f"raw-{id(self)}-{time.monotonic()}"
        self.protocol.send_text(
            json.dumps({"event": event, "data": data, "requestId": request_id}).encode()
        )
        self.flush()
        while True:
            for received in self.protocol.events_received():
                if isinstance(received, Frame) and received.opcode is Opcode.TEXT:
                    message = json.loads(received.data)
                    if message.get("requestId") == request_id:
                        return message
            self._read()

    def send_then_hang_up(self, messages: list[tuple[str, dict]], *, close_frame: bool) -> None:
        """The messages and the close frame (or a TCP reset) in one write: the server reads
        the hang-up before it can answer any of them."""
        for event, data in messages:
            self.protocol.send_text(json.dumps({"event": event, "data": data}).encode())
        if close_frame:
            self.protocol.send_close(1000)
        else:
            # Closing with a zero linger time resets the connection.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.flush()
        self.sock.close()


def metric(server, name: str, labels: str = "") -> float:
    """The sum of the samples of metric `name` (those whose labels include `labels`) that
    the server's /metrics shows."""
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if (sample == name or sample.startswith(name + "{")) and labels in sample:
            total += float(value)
    return total


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


ITERATIONS = 64


@pytest.mark.e2e
def test_clients_hanging_up_while_their_reply_is_pending_leave_no_error_in_the_log(
    each_web_server,
):
    web_server = each_web_server
    contest = open_question(contest_with_questions(questions=1))
    question = contest.ordered_questions()[0]
    right = str(question.choices.get(text="A").pk)
    # Sockets are closed one after the other: four users keep under five sockets each.
    users = [UserFactory() for _ in range(4)]
    tokens = [access_token_for(user) for user in users]
    contest_id = str(contest.pk)
    answer = {"contestId": contest_id, "questionId": str(question.pk), "answer": right}
    # Ping's reply is written at once: it meets the closing handshake. The others' replies
    # wait for the database.
    hang_ups = [
        [("ping", {})],
        [("join_contest", {"contestId": contest_id})],
        [("resync", {"contestId": contest_id, "epoch": "e", "lastSeq": 3})],
        [("join_contest", {"contestId": contest_id}), ("submit_answer", answer)],
    ]

    for i in range(ITERATIONS):
        client = RawClient(web_server, tokens[i % len(tokens)])
        # The consumer is idle, waiting for the next message.
        assert client.request("ping", {})["event"] == "pong"
        client.send_then_hang_up(hang_ups[i % len(hang_ups)], close_frame=i % 8 < 4)

    # Every socket's handling is over once the server counts no open connection (each
    # consumer has ended) and no user holds a connection slot (each one has cleaned up).
    wait_until(lambda: metric(web_server, "contest_ws_connections") == 0)
    redis = get_redis()
    wait_until(lambda: sum(redis.zcard(_slot_key(user.pk)) for user in users) == 0)

    pings = metric(web_server, "contest_ws_events_received_total", 'event="ping"')
    assert pings >= ITERATIONS, "the messages reached the server"
    assert Submission.objects.filter(question=question).exists()
    output = web_server.output()
    assert no_error_in(output) == [], output[-4000:]
