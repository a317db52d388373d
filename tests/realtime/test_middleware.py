"""The WebSocket handshake: every way in and every refusal, through the real ASGI app."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from realtime.middleware import origin_allowed
from tests.conftest import access_token_for
from tests.realtime.conftest import TIMEOUT, Client, communicator, connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(**kwargs) -> tuple[int, str]:
    """Connect and return the (code, reason) the server closes with."""

    async def scenario():
        ws = communicator(**kwargs)
        accepted, _ = await ws.connect(timeout=TIMEOUT)
        assert accepted, "the server accepts, then closes with a code and a reason"
        closing = await ws.receive_output(TIMEOUT)
        # What daphne does once the client answered the close frame.
        await ws.disconnect(code=closing["code"], timeout=TIMEOUT)
        return closing

    closing = run(scenario)
    assert closing["type"] == "websocket.close"
    return closing["code"], closing["reason"]


def expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=5))
    return str(token)


def test_it_accepts_a_valid_access_token(participant):
    async def scenario():
        async with connected(participant) as client:
            assert (await client.request("ping"))["event"] == "pong"

    run(scenario)


def test_it_closes_with_4001_without_a_token():
    assert refusal() == (4001, "missing token")
    assert refusal(token="") == (4001, "missing token")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "é" * 10])
def test_it_closes_with_4001_for_a_malformed_token(token):
    assert refusal(token=token) == (4001, "invalid token")


def test_it_closes_with_4001_for_a_bad_signature(participant):
    claims = AccessToken.for_user(participant).payload
    forged = jwt.encode(claims, "another-secret-key-of-32-bytes-or-more!", algorithm="HS256")
    assert refusal(token=forged) == (4001, "invalid token")


def test_it_closes_with_4001_for_a_refresh_token(participant):
    assert refusal(token=str(RefreshToken.for_user(participant))) == (4001, "invalid token")


def test_it_closes_with_4001_when_the_user_no_longer_exists(participant):
    token = access_token_for(participant)
    participant.delete()
    assert refusal(token=token) == (4001, "unknown user")


def test_it_closes_with_4002_for_an_expired_token(participant):
    assert refusal(token=expired_token(participant)) == (4002, "token expired")


def test_an_expired_token_with_a_bad_signature_is_invalid_not_expired(participant):
    token = AccessToken.for_user(participant)
    token.set_exp(lifetime=-timedelta(seconds=5))
    forged = jwt.encode(token.payload, "another-secret-key-of-32-bytes-or-more!", "HS256")
    assert refusal(token=forged) == (4001, "invalid token")


def test_it_closes_with_4003_for_an_inactive_user(participant):
    participant.is_active = False
    participant.save()
    assert refusal(token=access_token_for(participant)) == (4003, "user inactive")


def test_it_closes_with_4003_for_an_origin_outside_allowed_hosts(participant):
    token = access_token_for(participant)
    assert refusal(token=token, origin="http://evil.example") == (4003, "origin not allowed")


def test_it_checks_the_origin_before_the_token():
    assert refusal(token="junk", origin="http://evil.example") == (4003, "origin not allowed")


def test_it_accepts_an_origin_among_allowed_hosts_and_a_client_without_origin(participant):
    async def scenario():
        for origin in ("http://localhost:3000", "https://127.0.0.1", None):
            async with connected(participant, origin=origin) as client:
                assert (await client.request("ping"))["event"] == "pong"

    run(scenario)


@override_settings(WS_ALLOWED_ORIGINS=["https://quiz.example.com"])
def test_ws_allowed_origins_replaces_allowed_hosts():
    assert origin_allowed("https://quiz.example.com")
    assert not origin_allowed("http://quiz.example.com")
    assert not origin_allowed("http://localhost")
    assert origin_allowed(None)


@override_settings(WS_MAX_CONNECTIONS_PER_USER=2)
def test_it_closes_with_4003_past_the_connections_per_user_and_frees_the_slot_on_close(
    participant, outsider
):
    async def scenario():
        token = access_token_for(participant)
        first, second, third = (communicator(token=token) for _ in range(3))
        for ws in (first, second):
            assert (await ws.connect(TIMEOUT))[0]
            # Answered only once the handshake, slot included, is complete.
            assert (await Client(ws).request("ping"))["event"] == "pong"
        assert (await third.connect(TIMEOUT))[0]
        closing = await Client(third).closed()
        assert (closing["code"], closing["reason"]) == (4003, "too many connections")
        await third.disconnect(timeout=TIMEOUT)

        # Other users have their own slots.
        async with connected(outsider) as other:
            assert (await other.request("ping"))["event"] == "pong"

        await first.disconnect(timeout=TIMEOUT)
        again = communicator(token=token)
        assert (await again.connect(TIMEOUT))[0]
        assert (await Client(again).request("ping"))["event"] == "pong"
        for ws in (second, again):
            await ws.disconnect(timeout=TIMEOUT)

    run(scenario)


@override_settings(WS_MAX_CONNECTIONS_PER_USER=1)
def test_the_slot_of_a_socket_that_never_closed_expires(participant):
    """A crashed server process cannot free its slots: they expire in Redis instead."""
    from core.redis import get_redis, redis_key

    client = get_redis()
    key = redis_key("ws", "slots", participant.pk)
    seconds, micros = client.time()
    # What a crashed process leaves behind: a slot that expires in a second, unrefreshed.
    client.zadd(key, {"crashed-connection": seconds * 1000 + micros // 1000 + 1000})
    token = access_token_for(participant)
    assert refusal(token=token) == (4003, "too many connections")

    async def scenario():
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            ws = communicator(token=token)
            await ws.connect(TIMEOUT)
            await ws.send_json_to({"event": "ping"})
            reply = await ws.receive_output(TIMEOUT)  # a close, or the pong
            await ws.disconnect(timeout=TIMEOUT)
            if reply["type"] == "websocket.send":
                return True
            await asyncio.sleep(0.2)
        return False

    assert run(scenario)


def test_a_refused_socket_takes_no_slot(participant):
    from core.redis import get_redis, redis_key

    participant.is_active = False
    participant.save()
    refusal(token=access_token_for(participant))
    assert get_redis().zcard(redis_key("ws", "slots", participant.pk)) == 0


def test_it_refuses_other_paths_during_the_handshake(participant):
    async def scenario():
        ws = communicator(token=access_token_for(participant), path="/ws/other")
        return await ws.connect(TIMEOUT)

    assert run(scenario) == (False, 1000)


def test_a_failure_to_count_connections_closes_with_1011(participant, monkeypatch):
    """Fault injection: Redis fails while the slot is taken."""
    from realtime.limits import ConnectionSlots

    async def broken(self, user_id):
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(ConnectionSlots, "acquire", broken)
    assert refusal(token=access_token_for(participant)) == (1011, "server error")
