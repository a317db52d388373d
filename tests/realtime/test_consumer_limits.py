"""Envelope errors, ping, the rate limit and the size limit."""

from __future__ import annotations

import asyncio

import pytest
from django.test import override_settings

from tests.realtime.conftest import connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_ping_gets_pong_with_the_server_time(participant):
    async def scenario():
        async with connected(participant) as client:
            without_data = await client.request("ping")
            with_data = await client.request("ping", {})
            return without_data, with_data

    for reply in run(scenario):
        assert reply["event"] == "pong"
        assert reply["data"]["serverTime"].endswith("Z")
        assert reply["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("{not json", "INVALID_PAYLOAD", None),
        ("[1, 2]", "INVALID_PAYLOAD", None),
        ('{"data": {}}', "INVALID_PAYLOAD", "event"),
        ('{"event": "ping", "data": []}', "INVALID_PAYLOAD", "data"),
        ('{"event": "ping", "requestId": 5}', "INVALID_PAYLOAD", "requestId"),
        ('{"event": "leave_contest", "data": {}}', "INVALID_EVENT", None),
    ],
)
def test_a_bad_envelope_gets_an_error_and_the_socket_goes_on(participant, text, code, field):
    async def scenario():
        async with connected(participant) as client:
            await client.send_raw(text)
            error = await client.receive_event("error")
            return error, await client.request("ping")

    error, pong = run(scenario)
    assert (error["data"]["code"], error["data"]["field"]) == (code, field)
    assert error["data"]["message"]
    assert pong["event"] == "pong"


def test_an_error_echoes_a_valid_request_id(participant):
    async def scenario():
        async with connected(participant) as client:
            await client.send_raw('{"event": "dance", "requestId": "r-9"}')
            return await client.receive_event("error")

    assert run(scenario)["requestId"] == "r-9"


def test_a_binary_frame_is_an_invalid_payload(participant):
    async def scenario():
        async with connected(participant) as client:
            await client.ws.send_to(bytes_data=b'{"event": "ping"}')
            return await client.receive_event("error"), await client.request("ping")

    error, pong = run(scenario)
    assert error["data"]["code"] == "INVALID_PAYLOAD"
    assert pong["event"] == "pong"


@override_settings(WS_MAX_MESSAGE_BYTES=1024)
@pytest.mark.parametrize("text", ["x" * 1025, "é" * 513], ids=["ascii", "two-byte characters"])
def test_a_message_over_the_size_limit_closes_with_1009(participant, text):
    async def scenario():
        async with connected(participant) as client:
            await client.send_raw(text)
            return await client.closed()

    closing = run(scenario)
    assert (closing["code"], closing["reason"]) == (1009, "message too big")


@override_settings(WS_MAX_MESSAGE_BYTES=1024)
def test_a_message_of_exactly_the_size_limit_is_read(participant):
    body = '{"event": "ping", "requestId": "edge"}'
    text = body + " " * (1024 - len(body))

    async def scenario():
        async with connected(participant) as client:
            await client.send_raw(text)
            return await client.receive()

    assert run(scenario)["requestId"] == "edge"


@override_settings(WS_RATE_LIMIT_BURST=3, WS_RATE_LIMIT_PER_SECOND=2, WS_RATE_LIMIT_CLOSE_AFTER=4)
def test_the_rate_limit_rejects_then_closes_with_1008(participant):
    async def scenario():
        async with connected(participant) as client:
            for n in range(10):
                await client.send("ping", requestId=f"r{n}")
            replies = [await client.receive() for _ in range(6)]
            closing = await client.closed()
            await client.send("ping")
            await client.ws.receive_nothing(timeout=0.3)
            return replies, closing

    replies, closing = run(scenario)
    assert [r["event"] for r in replies] == ["pong"] * 3 + ["error"] * 3
    for n, error in enumerate(replies[3:], start=3):
        assert error["requestId"] == f"r{n}"
        assert error["data"]["code"] == "RATE_LIMITED"
        assert error["data"]["event"] == "ping"
        assert error["data"]["retryAfterMs"] > 0
    # The fourth rejection in a row closes instead of answering.
    assert (closing["code"], closing["reason"]) == (1008, "rate limit exceeded")


@override_settings(WS_RATE_LIMIT_BURST=1, WS_RATE_LIMIT_PER_SECOND=5, WS_RATE_LIMIT_CLOSE_AFTER=2)
def test_a_client_that_waits_as_told_is_served_again(participant):
    async def scenario():
        async with connected(participant) as client:
            first = await client.request("ping")
            limited = await client.request("ping")
            await asyncio.sleep(limited["data"]["retryAfterMs"] / 1000)
            # An accepted message resets the count of rejections in a row.
            again = await client.request("ping")
            limited_again = await client.request("ping")
            await asyncio.sleep(limited_again["data"]["retryAfterMs"] / 1000)
            return first, limited, again, limited_again, await client.request("ping")

    events = [reply["event"] for reply in run(scenario)]
    assert events == ["pong", "error", "pong", "error", "pong"]
