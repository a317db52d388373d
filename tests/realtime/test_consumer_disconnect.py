"""However a consumer ends, it gives back its connection slot and its place in the room."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from django.test import override_settings

from core.redis import get_redis, redis_key
from realtime import session
from realtime.limits import connection_slots
from realtime.outbound import hub
from tests.conftest import access_token_for
from tests.factories import ContestFactory
from tests.realtime.conftest import TIMEOUT, Client, communicator, connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def slots_in_redis(user) -> int:
    return get_redis().zcard(redis_key("ws", "slots", user.pk))


@override_settings(WS_MAX_CONNECTIONS_PER_USER=1)
def test_a_consumer_cancelled_in_a_handler_gives_back_its_slot_and_room(participant, monkeypatch):
    """daphne cancels an application still running 10 s after its client left."""
    contest, other = ContestFactory(), ContestFactory()
    entered, gate = threading.Event(), threading.Event()
    join = session.participant_join

    def stuck_join(**kwargs):
        entered.set()
        gate.wait(TIMEOUT)
        return join(**kwargs)

    async def scenario():
        running = hub.get_hub()
        ws = communicator(token=access_token_for(participant))
        assert (await ws.connect(TIMEOUT))[0]
        await Client(ws).join(contest.pk)
        monkeypatch.setattr(session, "participant_join", stuck_join)
        await Client(ws).send("join_contest", {"contestId": str(other.pk)})
        try:
            assert await asyncio.to_thread(entered.wait, TIMEOUT)
            ws.future.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ws.future
        finally:
            gate.set()
        left = (dict(connection_slots().local), dict(running.rooms), slots_in_redis(participant))
        # The user's one slot is free again.
        async with connected(participant) as again:
            pong = await again.request("ping")
        return left, pong

    (local, rooms, in_redis), pong = run(scenario)
    assert (local, rooms, in_redis) == ({}, {}, 0)
    assert pong["event"] == "pong"


@override_settings(WS_MAX_CONNECTIONS_PER_USER=1)
def test_a_consumer_that_raises_gives_back_its_slot_and_room(participant):
    contest = ContestFactory()

    async def scenario():
        running = hub.get_hub()
        ws = communicator(token=access_token_for(participant))
        assert (await ws.connect(TIMEOUT))[0]
        await Client(ws).join(contest.pk)
        # A message the consumer has no handler for: its __call__ raises.
        await ws.send_input({"type": "websocket.unexpected"})
        with contextlib.suppress(ValueError):
            await ws.future
        failure = ws.future.exception()
        left = (dict(connection_slots().local), dict(running.rooms), slots_in_redis(participant))
        async with connected(participant) as again:
            pong = await again.request("ping")
        return failure, left, pong

    failure, (local, rooms, in_redis), pong = run(scenario)
    assert isinstance(failure, ValueError)
    assert (local, rooms, in_redis) == ({}, {}, 0)
    assert pong["event"] == "pong"


def test_a_closed_socket_gives_back_its_slot_and_room(participant):
    contest = ContestFactory()

    async def scenario():
        running = hub.get_hub()
        async with connected(participant) as client:
            await client.join(contest.pk)
            inside = (
                len(connection_slots().local),
                len(running.rooms),
                slots_in_redis(participant),
            )
        return inside, (
            dict(connection_slots().local),
            dict(running.rooms),
            slots_in_redis(participant),
        )

    inside, left = run(scenario)
    assert inside == (1, 1, 1)
    assert left == ({}, {}, 0)
